/* Option parsing helpers and the flags common to all server subcommands. */
#include "cli/options.h"

#include "obs/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *s, char **end, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, end, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

int opt_duration_ms(const char *s, unsigned *ms)
{
    char *end;
    uint64_t v;
    if (parse_uint(s, &end, &v) < 0)
        return -1;
    uint64_t mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return -1;
    if (v > UINT32_MAX / mult)
        return -1;
    *ms = (unsigned)(v * mult);
    return 0;
}

int opt_size(const char *s, uint64_t *bytes)
{
    char *end;
    uint64_t v;
    if (parse_uint(s, &end, &v) < 0)
        return -1;
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024;
    else if (*end == 'm' || *end == 'M')
        mult = 1024 * 1024;
    else if (*end == 'g' || *end == 'G')
        mult = 1024 * 1024 * 1024;
    else if (*end)
        return -1;
    if (*end && end[1])
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *bytes = v * mult;
    return 0;
}

int opt_next(struct opt_iter *it, const char **name, const char **value,
             bool takes_value(const char *))
{
    static char namebuf[64];
    if (it->i >= it->argc)
        return 0;
    const char *a = it->argv[it->i++];
    if (strncmp(a, "--", 2) != 0 || !a[2]) {
        fprintf(stderr, "wssgate: unexpected argument \"%s\"\n", a);
        return -1;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof(namebuf)) {
        fprintf(stderr, "wssgate: unknown option --%s\n", a);
        return -1;
    }
    memcpy(namebuf, a, n);
    namebuf[n] = '\0';
    *name = namebuf;
    *value = NULL;
    if (eq) {
        *value = eq + 1;
    } else if (takes_value(namebuf)) {
        if (it->i >= it->argc) {
            fprintf(stderr, "wssgate: option --%s needs a value\n", namebuf);
            return -1;
        }
        *value = it->argv[it->i++];
    }
    return 1;
}

void cli_settings_defaults(struct cli_settings *cs)
{
    *cs = (struct cli_settings){ 0 };
    cs->ps = (struct proxy_settings){
        .handshake_ms = 10000,
        .header_ms = 60000,
        .keepalive_ms = 75000,
        .connect_ms = 10000,
        .read_ms = 60000,
        .send_ms = 60000,
        .tunnel_idle_ms = 3600000,
        .drain_ms = 10000,
        .max_body = 1024 * 1024,
        .limits = h1_default_limits,
    };
}

static const char *const common_with_value[] = {
    "workers", "connect-timeout", "read-timeout", "idle-timeout", "drain-timeout",
    "handshake-timeout", "keepalive-timeout", "header-timeout", "max-body", "access-log",
    "error-log", "log-level", NULL,
};

bool opt_common_takes_value(const char *name)
{
    for (int i = 0; common_with_value[i]; i++)
        if (strcmp(name, common_with_value[i]) == 0)
            return true;
    return false;
}

static int bad(const char *name, const char *value, const char *want)
{
    fprintf(stderr, "wssgate: --%s %s: %s\n", name, value, want);
    return -1;
}

static const struct {
    const char *name;
    size_t off;
} durations[] = {
        { "connect-timeout", offsetof(struct proxy_settings, connect_ms) },
        { "read-timeout", offsetof(struct proxy_settings, read_ms) },
        { "idle-timeout", offsetof(struct proxy_settings, tunnel_idle_ms) },
        { "drain-timeout", offsetof(struct proxy_settings, drain_ms) },
        { "handshake-timeout", offsetof(struct proxy_settings, handshake_ms) },
        { "keepalive-timeout", offsetof(struct proxy_settings, keepalive_ms) },
        { "header-timeout", offsetof(struct proxy_settings, header_ms) },
};

int opt_common(struct cli_settings *cs, const char *name, const char *value)
{
    struct proxy_settings *ps = &cs->ps;
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        if (strcmp(name, durations[i].name) == 0) {
            unsigned *slot = (unsigned *)(void *)((char *)ps + durations[i].off);
            if (opt_duration_ms(value, slot) < 0 || *slot == 0)
                return bad(name, value, "expected a duration such as 30s, 500ms, 5m or 1h");
            cs->set |= 1u << i;
            return 1;
        }
    }
    if (strcmp(name, "workers") == 0) {
        uint64_t n;
        if (opt_size(value, &n) < 0 || n < 1 || n > 256)
            return bad(name, value, "expected a number of threads from 1 to 256");
        cs->workers = (int)n;
        return 1;
    }
    if (strcmp(name, "max-body") == 0) {
        if (opt_size(value, &ps->max_body) < 0)
            return bad(name, value, "expected a size such as 1m, 512k or 0 (no limit)");
        return 1;
    }
    if (strcmp(name, "access-log") == 0) {
        if (log_open_access(value) < 0)
            return bad(name, value, strerror(errno));
        return 1;
    }
    if (strcmp(name, "error-log") == 0) {
        if (log_switch_error(value) < 0)
            return bad(name, value, strerror(errno));
        cs->error_log_set = true;
        return 1;
    }
    if (strcmp(name, "log-level") == 0) {
        enum log_level level;
        if (log_level_parse(value, &level) < 0)
            return bad(name, value, "expected debug, info, notice, warn or error");
        log_min_level = level;
        cs->log_level_set = true;
        return 1;
    }
    return 0;
}

void opt_common_help(void)
{
    fputs("  --workers N             worker threads (default: one per CPU)\n"
          "  --connect-timeout D     backend connect timeout (default 10s)\n"
          "  --read-timeout D        backend response timeout, then 504 (default 60s)\n"
          "  --idle-timeout D        WebSocket tunnel idle timeout (default 1h)\n"
          "  --drain-timeout D       on SIGTERM, how long tunnels may run on (default 10s)\n"
          "  --handshake-timeout D   TLS handshake timeout (default 10s)\n"
          "  --keepalive-timeout D   idle keep-alive connection timeout (default 75s)\n"
          "  --header-timeout D      request head timeout, then 408 (default 60s)\n"
          "  --max-body SIZE         request body limit, then 413 (default 1m; 0 = none)\n"
          "  --access-log FILE|-|off access log (default: standard output)\n"
          "  --error-log FILE|-      error log (default: standard error)\n"
          "  --log-level LEVEL       debug, info, notice, warn, error (default notice)\n",
          stderr);
}

void cli_settings_apply(struct gen *g, const struct cli_settings *cs)
{
    /* Only the settings without a directive; the others are in the configuration text. */
    static const char *const no_directive[] = { "idle-timeout", "drain-timeout",
                                                "handshake-timeout", NULL };
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        bool take = false;
        for (size_t k = 0; no_directive[k]; k++)
            take |= strcmp(durations[i].name, no_directive[k]) == 0;
        if (!take && !(cs->set & (1u << i)))
            continue;
        unsigned *dst = (unsigned *)(void *)((char *)&g->ps + durations[i].off);
        const unsigned *src = (const unsigned *)(const void *)((const char *)&cs->ps +
                                                               durations[i].off);
        *dst = *src;
    }
}

void cli_settings_apply_fn(struct gen *g, void *cs)
{
    cli_settings_apply(g, cs);
}
