/* The directive table: every directive wssgate reads, its contexts and arity, the handler that
 * stores it, and the text docs/config.md is generated from. */
#include "conf/load_int.h"

#include "conf/vars.h"
#include "proxy/balancer.h"
#include "obs/log.h"
#include "route/location.h"
#include "site/mime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- argument helpers ---- */

static const char *arg(const struct conf_node *n, size_t i)
{
    return n->args[i].s;
}

/* nginx time: "30", "30s", "500ms", "5m", "1h", "1d" (combinations like "1m30s" too). */
static int parse_time_ms(const char *s, unsigned *ms)
{
    uint64_t total = 0;
    if (!*s)
        return -1;
    while (*s) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (uint64_t)(*s++ - '0');
            if (v > 100000000)
                return -1;
        }
        uint64_t mult = 1000;
        if (s[0] == 'm' && s[1] == 's') {
            mult = 1;
            s += 2;
        } else if (*s == 's') {
            s++;
        } else if (*s == 'm') {
            mult = 60000;
            s++;
        } else if (*s == 'h') {
            mult = 3600000;
            s++;
        } else if (*s == 'd') {
            mult = 86400000;
            s++;
        } else if (*s) {
            return -1;
        }
        total += v * mult;
    }
    if (total > UINT32_MAX)
        return -1;
    *ms = (unsigned)total;
    return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_flag(struct load *ld, const struct conf_node *n, bool *out)
{
    if (strcmp(arg(n, 0), "on") == 0)
        *out = true;
    else if (strcmp(arg(n, 0), "off") == 0)
        *out = false;
    else
        return load_error(ld, n, "\"%s\" takes \"on\" or \"off\", not \"%s\"", n->name, arg(n, 0));
    return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    if (!*s)
        return -1;
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static struct loc_conf *cur_lc(struct load *ld)
{
    if (ld->loc)
        return ld->loc->lc;
    if (ld->srv)
        return ld->srv->lc;
    return ld->http_lc;
}

static void mark(struct loc_conf *lc, int bit)
{
    lc->set |= 1ull << bit;
}

static struct var_template *compile(struct load *ld, const struct conf_node *n, const char *text)
{
    char err[256];
    struct var_template *t = var_compile(text, load_var_lookup, ld, err, sizeof(err));
    if (!t)
        load_error(ld, n, "%s", err);
    gen_on_free(ld->g, (void (*)(void *))var_free, t);
    return t;
}

/* ---- main and events ---- */

static int d_worker_processes(struct load *ld, const struct conf_node *n)
{
    unsigned v;
    if (strcmp(arg(n, 0), "auto") == 0) {
        ld->g->workers = 0;
        return 0;
    }
    if (parse_uint(arg(n, 0), 256, &v) < 0 || v == 0)
        return load_error(ld, n, "invalid worker_processes \"%s\"; use a number from 1 to 256 or "
                                 "\"auto\"", arg(n, 0));
    ld->g->workers = (int)v;
    return 0;
}

static int d_worker_connections(struct load *ld, const struct conf_node *n)
{
    unsigned v;
    if (parse_uint(arg(n, 0), 10000000, &v) < 0 || v == 0)
        return load_error(ld, n, "invalid worker_connections \"%s\"; use a positive number",
                          arg(n, 0));
    ld->g->worker_connections = v;
    return 0;
}

static int d_pid(struct load *ld, const struct conf_node *n)
{
    ld->g->pid_path = strcmp(arg(n, 0), "off") == 0 ? NULL : arena_strdup(ld->a, arg(n, 0));
    return 0;
}

static int d_daemon(struct load *ld, const struct conf_node *n)
{
    bool on = false;
    if (parse_flag(ld, n, &on) < 0)
        return -1;
    if (on)
        load_warn(ld, n, "wssgate always runs in the foreground (like \"daemon off\"); run it "
                         "under systemd or with \"&\"");
    return 0;
}

static int d_error_log(struct load *ld, const struct conf_node *n)
{
    if (n->nargs == 2) {
        enum log_level lv;
        if (log_level_parse(arg(n, 1), &lv) < 0 && strcmp(arg(n, 1), "crit") != 0 &&
            strcmp(arg(n, 1), "alert") != 0 && strcmp(arg(n, 1), "emerg") != 0)
            return load_error(ld, n, "unknown error_log level \"%s\"; use debug, info, notice, "
                                     "warn or error", arg(n, 1));
    }
    const char *path = arg(n, 0);
    if (strncmp(path, "syslog:", 7) == 0 || strncmp(path, "memory:", 7) == 0) {
        load_warn(ld, n, "error_log to %.6s is not built; wssgate logs to stderr instead (under "
                         "systemd, journald keeps it)", path);
        path = "stderr";
    }
    /* Only the main-level log is written (the others are accepted, see --directives): it is
     * opened here, as nginx -t does, so that a path that cannot be written fails the test and
     * a reload, not the running server's logging. */
    if (ld->ctx == CTX_MAIN && strcmp(path, "stderr") != 0) {
        FILE *f = fopen(path, "ae");
        if (!f)
            return load_error(ld, n, "cannot open error log \"%s\": %s; create its directory or "
                                     "fix the path", path, strerror(errno));
        fclose(f);
        ld->res->error_log = arena_strdup(ld->a, path);
    } else if (ld->ctx == CTX_MAIN) {
        ld->res->error_log = NULL; /* stderr */
    }
    if (ld->ctx == CTX_MAIN && n->nargs == 2)
        ld->res->error_level = arena_strdup(ld->a, arg(n, 1));
    return 0;
}

static int d_user(struct load *ld, const struct conf_node *n)
{
    load_warn(ld, n, "\"user\" is ignored: wssgate does not change its user; run it as the user "
                     "you want (ports below 1024 need CAP_NET_BIND_SERVICE)");
    return 0;
}

static int d_block_events(struct load *ld, const struct conf_node *n)
{
    return load_block(ld, n, CTX_EVENTS);
}

static int d_block_http(struct load *ld, const struct conf_node *n)
{
    return load_block(ld, n, CTX_HTTP);
}

/* ---- logs, timeouts, limits ---- */

static int d_access_log(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    mark(lc, SET_ACCESS_LOG);
    if (strcmp(arg(n, 0), "off") == 0) {
        lc->access_log_off = true;
        return 0;
    }
    lc->access_log_off = false;
    int h = log_access_register(arg(n, 0));
    if (h < 0)
        return load_error(ld, n, "cannot open access log \"%s\": %s; create its directory or fix "
                                 "the path", arg(n, 0), strerror(errno));
    lc->access_log = h;
    return 0;
}

static int d_log_format(struct load *ld, const struct conf_node *n)
{
    (void)ld;
    (void)n; /* accepted; lines use wssgate's format (docs/config.md) */
    return 0;
}

static int set_ps_time(struct load *ld, const struct conf_node *n, unsigned *slot)
{
    if (parse_time_ms(arg(n, 0), slot) < 0)
        return load_error(ld, n, "invalid time \"%s\" in \"%s\"; write it like 60s, 5m or 500ms",
                          arg(n, 0), n->name);
    return 0;
}

static int d_keepalive_timeout(struct load *ld, const struct conf_node *n)
{
    return set_ps_time(ld, n, &ld->g->ps.keepalive_ms);
}

static int d_client_header_timeout(struct load *ld, const struct conf_node *n)
{
    return set_ps_time(ld, n, &ld->g->ps.header_ms);
}

static int d_client_body_timeout(struct load *ld, const struct conf_node *n)
{
    unsigned ms;
    return set_ps_time(ld, n, &ms); /* bodies are bounded by send/read timeouts (docs) */
}

static int d_send_timeout(struct load *ld, const struct conf_node *n)
{
    return set_ps_time(ld, n, &ld->g->ps.send_ms);
}

static int d_client_max_body_size(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    if (parse_size(arg(n, 0), &lc->client_max_body_size) < 0)
        return load_error(ld, n, "invalid size \"%s\"; write it like 1m, 512k or 0 (no limit)",
                          arg(n, 0));
    mark(lc, SET_MAX_BODY);
    return 0;
}

/* ---- server ---- */

static int d_block_server(struct load *ld, const struct conf_node *n)
{
    struct srv_build *sb = arena_alloc(ld->a, sizeof(*sb));
    if (!sb)
        return load_error(ld, n, "out of memory");
    sb->sc = arena_alloc(ld->a, sizeof(*sb->sc));
    sb->lc = arena_alloc(ld->a, sizeof(*sb->lc));
    sb->file = n->file;
    sb->line = n->line;
    sb->lc->access_log = -1;
    char where[300];
    snprintf(where, sizeof(where), "%s:%u server", n->file, n->line);
    sb->sc->where = arena_strdup(ld->a, where);
    sb->lc->where = sb->sc->where;
    ld->servers = arena_grow(ld->a, ld->servers, ld->nservers, sizeof(*ld->servers));
    ld->servers[ld->nservers++] = sb;
    ld->srv = sb;
    int r = load_block(ld, n, CTX_SERVER);
    ld->srv = NULL;
    return r;
}

static int d_listen(struct load *ld, const struct conf_node *n)
{
    struct srv_build *sb = ld->srv;
    struct listen_build lb = { .backlog = 511, .file = n->file, .line = n->line };
    const char *a0 = arg(n, 0);
    char host[256];
    int port;
    const char *why = "";
    /* "80", "[::]:80", "127.0.0.1:8443", "*:80", "localhost:80" */
    if (strspn(a0, "0123456789") == strlen(a0)) {
        snprintf(host, sizeof(host), "0.0.0.0");
        unsigned p;
        if (parse_uint(a0, 65535, &p) < 0 || p == 0)
            return load_error(ld, n, "invalid port in \"listen %s\"; use 1-65535", a0);
        port = (int)p;
    } else if (addr_split(a0[0] == '*' && a0[1] == ':' ? a0 + 2 : a0, host, sizeof(host), &port,
                          80, &why) < 0) {
        return load_error(ld, n, "invalid \"listen %s\": %s", a0, why);
    }
    if (a0[0] == '*' && a0[1] == ':')
        snprintf(host, sizeof(host), "0.0.0.0");
    char err[300];
    if (addr_resolve(host, port, &lb.addr, err, sizeof(err)) < 0)
        return load_error(ld, n, "%s", err);
    addr_format(&lb.addr, lb.text, sizeof(lb.text));
    for (size_t i = 1; i < n->nargs; i++) {
        const char *o = arg(n, i);
        unsigned v;
        if (strcmp(o, "ssl") == 0)
            lb.ssl = true;
        else if (strcmp(o, "default_server") == 0 || strcmp(o, "default") == 0)
            lb.default_server = true;
        else if (strcmp(o, "reuseport") == 0)
            lb.reuseport = true;
        else if (strncmp(o, "backlog=", 8) == 0 && parse_uint(o + 8, 65535, &v) == 0)
            lb.backlog = (int)v;
        else if (strcmp(o, "http2") == 0 || strcmp(o, "quic") == 0)
            return load_error(ld, n, "\"listen ... %s\" is not supported: wssgate speaks HTTP/1.1; "
                                     "remove \"%s\"", o, o);
        else if (strncmp(o, "ipv6only=", 9) == 0 || strncmp(o, "so_keepalive=", 13) == 0 ||
                 strcmp(o, "deferred") == 0 || strcmp(o, "bind") == 0 ||
                 strncmp(o, "rcvbuf=", 7) == 0 || strncmp(o, "sndbuf=", 7) == 0)
            continue; /* harmless socket tuning */
        else
            return load_error(ld, n, "unknown listen parameter \"%s\"; wssgate knows ssl, "
                                     "default_server, reuseport and backlog=N", o);
    }
    for (size_t i = 0; i < sb->nlistens; i++)
        if (strcmp(sb->listens[i].text, lb.text) == 0)
            return load_error(ld, n, "duplicate listen %s in this server (line %u); remove one",
                              lb.text, sb->listens[i].line);
    sb->listens = arena_grow(ld->a, sb->listens, sb->nlistens, sizeof(*sb->listens));
    sb->listens[sb->nlistens++] = lb;
    return 0;
}

static int d_server_name(struct load *ld, const struct conf_node *n)
{
    struct srv_build *sb = ld->srv;
    for (size_t i = 0; i < n->nargs; i++) {
        sb->names = arena_grow(ld->a, sb->names, sb->nnames, sizeof(*sb->names));
        sb->names_file = arena_grow(ld->a, sb->names_file, sb->nnames, sizeof(*sb->names_file));
        sb->names_line = arena_grow(ld->a, sb->names_line, sb->nnames, sizeof(*sb->names_line));
        sb->names_file[sb->nnames] = arena_strdup(ld->a, n->file);
        sb->names_line[sb->nnames] = n->line;
        sb->names[sb->nnames++] = arena_strdup(ld->a, arg(n, i));
    }
    if (!sb->sc->first_name)
        sb->sc->first_name = sb->names[0];
    return 0;
}

/* The ssl_* directives are valid in http and server: at the http level they set what every
 * server inherits unless it sets its own (merge_tls in load.c), as in nginx. */
static struct srv_build *tls_level(struct load *ld)
{
    return ld->srv ? ld->srv : &ld->http_tls;
}

/* Keeps a directive's one argument with where it was written. */
static int keep_value(struct load *ld, const struct conf_node *n, struct conf_value *v)
{
    *v = (struct conf_value){ .text = arena_strdup(ld->a, arg(n, 0)),
                              .file = arena_strdup(ld->a, n->file), .line = n->line };
    return 0;
}

static int d_ssl_certificate(struct load *ld, const struct conf_node *n)
{
    return keep_value(ld, n, &tls_level(ld)->cert);
}

static int d_ssl_certificate_key(struct load *ld, const struct conf_node *n)
{
    return keep_value(ld, n, &tls_level(ld)->key);
}

static int d_ssl(struct load *ld, const struct conf_node *n)
{
    bool on = false;
    if (parse_flag(ld, n, &on) < 0)
        return -1;
    tls_level(ld)->ssl_on = on;
    tls_level(ld)->ssl_on_set = true;
    if (on)
        load_warn(ld, n, "\"ssl on\" is deprecated (nginx removed it in 1.25); write "
                         "\"listen 443 ssl;\" instead. wssgate treats every listen of %s as "
                         "ssl", ld->srv ? "this server" : "every server without its own \"ssl\"");
    return 0;
}

static int d_ssl_protocols(struct load *ld, const struct conf_node *n)
{
    static const char *const known[] = { "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2",
                                         "TLSv1.3" };
    char dropped[128] = "";
    bool modern = false;
    for (size_t i = 0; i < n->nargs; i++) {
        size_t k = 0;
        while (k < 6 && strcmp(arg(n, i), known[k]) != 0)
            k++;
        if (k == 6)
            return load_error(ld, n, "unknown protocol \"%s\"; use TLSv1.2 and TLSv1.3",
                              arg(n, i));
        if (k >= 4) {
            modern = true;
        } else {
            size_t len = strlen(dropped);
            snprintf(dropped + len, sizeof(dropped) - len, "%s%s", len ? ", " : "", known[k]);
        }
    }
    if (dropped[0])
        load_warn(ld, n, "%s refused: these protocols are broken (POODLE, BEAST, weak MACs) and "
                         "browsers no longer accept them; wssgate serves TLSv1.2 and TLSv1.3 "
                         "only. Write \"ssl_protocols TLSv1.2 TLSv1.3;\"", dropped);
    if (!modern)
        load_warn(ld, n, "no protocol left after refusing the old ones: TLSv1.2 and TLSv1.3 are "
                         "used");
    return 0; /* every server speaks TLSv1.2 and TLSv1.3 (tls_ctx_new_server) */
}

static int d_ssl_ciphers(struct load *ld, const struct conf_node *n)
{
    return keep_value(ld, n, &tls_level(ld)->ciphers);
}

static int d_ssl_prefer_server_ciphers(struct load *ld, const struct conf_node *n)
{
    tls_level(ld)->prefer_set = true;
    return parse_flag(ld, n, &tls_level(ld)->prefer_server_ciphers);
}

static int d_ssl_session_timeout(struct load *ld, const struct conf_node *n)
{
    unsigned ms;
    if (parse_time_ms(arg(n, 0), &ms) < 0)
        return load_error(ld, n, "invalid time \"%s\"; write it like 5m", arg(n, 0));
    tls_level(ld)->session_timeout_s = ms / 1000 ? ms / 1000 : 1;
    return 0;
}

static int d_ssl_session_cache(struct load *ld, const struct conf_node *n)
{
    bool off = false;
    for (size_t i = 0; i < n->nargs; i++) {
        const char *a = arg(n, i);
        if (strcmp(a, "off") && strcmp(a, "none") && strcmp(a, "builtin") &&
            strncmp(a, "builtin:", 8) && strncmp(a, "shared:", 7))
            return load_error(ld, n, "invalid ssl_session_cache \"%s\"; use shared:NAME:SIZE, "
                                     "builtin, none or off", a);
        off |= strcmp(a, "off") == 0 || strcmp(a, "none") == 0;
    }
    /* Any other form: one process, so OpenSSL's cache is shared by every worker already. */
    tls_level(ld)->cache_off = off;
    tls_level(ld)->cache_set = true;
    return 0;
}

static int d_ssl_session_tickets(struct load *ld, const struct conf_node *n)
{
    bool on = true;
    if (parse_flag(ld, n, &on) < 0)
        return -1;
    tls_level(ld)->tickets_off = !on;
    tls_level(ld)->tickets_set = true;
    return 0;
}

/* Not built; turned on it asks for something a client can see (an OCSP response in the
 * handshake), so say that none is sent rather than let the configuration look as if it were. */
static int d_ssl_stapling(struct load *ld, const struct conf_node *n)
{
    bool on = false;
    if (parse_flag(ld, n, &on) < 0)
        return -1;
    if (on)
        load_warn(ld, n, "OCSP stapling is not built: no OCSP response is sent in the handshake "
                         "(clients check revocation themselves, as without stapling); write "
                         "\"ssl_stapling off\" to say so");
    return 0;
}

static int d_ssl_ecdh_curve(struct load *ld, const struct conf_node *n)
{
    /* checked against OpenSSL's groups when the server's context is built */
    return keep_value(ld, n, &tls_level(ld)->curves);
}

/* ---- locations ---- */

static int d_block_location(struct load *ld, const struct conf_node *n)
{
    int kind = LOC_PREFIX;
    const char *pattern;
    if (n->nargs == 2) {
        const char *m = arg(n, 0);
        if (strcmp(m, "=") == 0)
            kind = LOC_EXACT;
        else if (strcmp(m, "^~") == 0)
            kind = LOC_PREFIX_STOP;
        else if (strcmp(m, "~") == 0)
            kind = LOC_REGEX;
        else if (strcmp(m, "~*") == 0)
            kind = LOC_REGEX_ICASE;
        else
            return load_error(ld, n, "invalid location modifier \"%s\"; use =, ^~, ~ or ~*", m);
        pattern = arg(n, 1);
    } else {
        pattern = arg(n, 0);
        if (pattern[0] == '@')
            kind = LOC_NAMED;
        else if (pattern[0] == '=' && pattern[1])
            kind = LOC_EXACT, pattern++;
        else if (pattern[0] == '~' && pattern[1] == '*' && pattern[2])
            kind = LOC_REGEX_ICASE, pattern += 2;
        else if (pattern[0] == '~' && pattern[1])
            kind = LOC_REGEX, pattern++;
        else if (pattern[0] == '^' && pattern[1] == '~' && pattern[2])
            kind = LOC_PREFIX_STOP, pattern += 2;
    }
    struct loc_build *lb = arena_alloc(ld->a, sizeof(*lb));
    lb->lc = arena_alloc(ld->a, sizeof(*lb->lc));
    if (!lb || !lb->lc)
        return load_error(ld, n, "out of memory");
    lb->kind = kind;
    lb->pattern = arena_strdup(ld->a, pattern);
    lb->file = n->file;
    lb->line = n->line;
    lb->parent = ld->loc;
    lb->lc->access_log = -1;
    char where[400];
    snprintf(where, sizeof(where), "%s:%u location %s%s", n->file, n->line,
             kind == LOC_EXACT ? "= " : kind == LOC_REGEX ? "~ " : kind == LOC_REGEX_ICASE ? "~* "
             : kind == LOC_PREFIX_STOP ? "^~ " : "", pattern);
    lb->lc->where = arena_strdup(ld->a, where);
    lb->lc->prefix = str_from_cstr(lb->pattern);
    lb->lc->regex = kind == LOC_REGEX || kind == LOC_REGEX_ICASE;
    struct srv_build *sb = ld->srv;
    if (ld->loc) {
        struct loc_build *p = ld->loc;
        p->children = arena_grow(ld->a, p->children, p->nchildren, sizeof(*p->children));
        p->children[p->nchildren++] = lb;
    } else {
        sb->locs = arena_grow(ld->a, sb->locs, sb->nlocs, sizeof(*sb->locs));
        sb->locs[sb->nlocs++] = lb;
    }
    sb->all_locs = arena_grow(ld->a, sb->all_locs, sb->nall_locs, sizeof(*sb->all_locs));
    sb->all_locs[sb->nall_locs++] = lb;
    struct loc_build *saved = ld->loc;
    ld->loc = lb;
    int r = load_block(ld, n, CTX_LOCATION);
    ld->loc = saved;
    return r;
}

/* ---- proxy ---- */

static int d_proxy_pass(struct load *ld, const struct conf_node *n)
{
    if (!ld->loc)
        return load_error(ld, n, "\"proxy_pass\" belongs in a location block");
    struct loc_build *lb = ld->loc;
    lb->proxy_pass = arena_strdup(ld->a, arg(n, 0));
    lb->proxy_pass_file = n->file;
    lb->proxy_pass_line = n->line;
    lb->lc->handler = HANDLER_PROXY;
    return 0; /* resolved after the whole file is read: upstream blocks may come later */
}

static int d_proxy_http_version(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    if (strcmp(arg(n, 0), "1.1") == 0)
        lc->proxy.http_minor = 1;
    else if (strcmp(arg(n, 0), "1.0") == 0)
        lc->proxy.http_minor = 0;
    else
        return load_error(ld, n, "proxy_http_version takes 1.0 or 1.1, not \"%s\"", arg(n, 0));
    mark(lc, SET_HTTP_VERSION);
    return 0;
}

static int d_proxy_set_header(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    struct proxy_conf *pc = &lc->proxy;
    struct str name = { arg(n, 0), n->args[0].len };
    for (size_t i = 0; i < pc->nset_headers; i++)
        if (str_eq_nocase(pc->set_headers[i].name, name))
            load_warn(ld, n, "header \"%s\" is set twice in this block: nginx would send two "
                             "\"%s\" lines (a Host header twice is a 400 at many backends); keep "
                             "one (wssgate uses the last)", arg(n, 0), arg(n, 0));
    if (str_eq_nocase(name, STR_LIT("Upgrade")) && ld->loc)
        ld->loc->sets_upgrade = true;
    if (str_eq_nocase(name, STR_LIT("Upgrade")) || str_eq_nocase(name, STR_LIT("Connection")))
        load_warn(ld, n, "\"proxy_set_header %s\" is not needed: wssgate forwards genuine "
                         "WebSocket upgrades by itself and owns this hop-by-hop header (the line "
                         "is accepted and has no effect)", arg(n, 0));
    struct var_template *t = compile(ld, n, arg(n, 1));
    if (!t)
        return -1;
    pc->set_headers = arena_grow(ld->a, pc->set_headers, pc->nset_headers, sizeof(struct hdr_set));
    pc->set_headers[pc->nset_headers++] =
        (struct hdr_set){ .name = { arena_strdup(ld->a, arg(n, 0)), name.len }, .value = t };
    mark(lc, SET_SET_HEADERS);
    return 0;
}

static int d_proxy_hide_header(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    struct proxy_conf *pc = &lc->proxy;
    pc->hide_headers = arena_grow(ld->a, pc->hide_headers, pc->nhide_headers, sizeof(struct str));
    pc->hide_headers[pc->nhide_headers++] =
        (struct str){ arena_strdup(ld->a, arg(n, 0)), n->args[0].len };
    mark(lc, SET_HIDE_HEADERS);
    return 0;
}

static int proxy_time(struct load *ld, const struct conf_node *n, unsigned *slot, int bit)
{
    if (parse_time_ms(arg(n, 0), slot) < 0 || *slot == 0)
        return load_error(ld, n, "invalid time \"%s\" in \"%s\"; write it like 60s or 5m",
                          arg(n, 0), n->name);
    mark(cur_lc(ld), bit);
    return 0;
}

static int d_proxy_connect_timeout(struct load *ld, const struct conf_node *n)
{
    return proxy_time(ld, n, &cur_lc(ld)->proxy.connect_ms, SET_CONNECT_T);
}

static int d_proxy_read_timeout(struct load *ld, const struct conf_node *n)
{
    cur_lc(ld)->proxy.read_set = true;
    return proxy_time(ld, n, &cur_lc(ld)->proxy.read_ms, SET_READ_T);
}

static int d_proxy_send_timeout(struct load *ld, const struct conf_node *n)
{
    return proxy_time(ld, n, &cur_lc(ld)->proxy.send_ms, SET_SEND_T);
}

static int d_websocket_idle_timeout(struct load *ld, const struct conf_node *n)
{
    return proxy_time(ld, n, &cur_lc(ld)->proxy.tunnel_idle_ms, SET_TUNNEL_IDLE);
}

static int d_websocket_tls_offload(struct load *ld, const struct conf_node *n)
{
    bool on = true;
    if (parse_flag(ld, n, &on) < 0)
        return -1;
    cur_lc(ld)->proxy.tls_offload_off = !on;
    mark(cur_lc(ld), SET_TLS_OFFLOAD);
    return 0;
}

static int d_proxy_buffering(struct load *ld, const struct conf_node *n)
{
    bool on = false;
    return parse_flag(ld, n, &on); /* wssgate always streams (docs/config.md) */
}

static int d_proxy_next_upstream(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    unsigned bits = 0;
    for (size_t i = 0; i < n->nargs; i++) {
        const char *a = arg(n, i);
        if (strcmp(a, "error") == 0)
            bits |= NEXT_UPSTREAM_ERROR;
        else if (strcmp(a, "timeout") == 0)
            bits |= NEXT_UPSTREAM_TIMEOUT;
        else if (strcmp(a, "off") == 0)
            bits = 0;
        else
            return load_error(ld, n, "proxy_next_upstream \"%s\" is not supported; wssgate "
                                     "retries on \"error\" and \"timeout\" (of the connect) only",
                              a);
    }
    lc->proxy.next_upstream = bits;
    mark(lc, SET_NEXT_UPSTREAM);
    return 0;
}

/* ---- content ---- */

static int d_root(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    if (lc->set & (1ull << SET_ROOT))
        return load_error(ld, n, "\"%s\" is duplicate here (root and alias exclude each other)",
                          n->name);
    lc->root = compile(ld, n, arg(n, 0));
    lc->alias = strcmp(n->name, "alias") == 0;
    if (lc->alias && ld->ctx != CTX_LOCATION)
        return load_error(ld, n, "\"alias\" belongs in a location block");
    mark(lc, SET_ROOT);
    return lc->root ? 0 : -1;
}

static int d_index(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    lc->index = arena_alloc(ld->a, n->nargs * sizeof(struct str));
    for (size_t i = 0; i < n->nargs; i++)
        lc->index[i] = (struct str){ arena_strdup(ld->a, arg(n, i)), n->args[i].len };
    lc->nindex = n->nargs;
    mark(lc, SET_INDEX);
    return 0;
}

static int d_try_files(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    lc->try_files = arena_alloc(ld->a, n->nargs * sizeof(*lc->try_files));
    for (size_t i = 0; i < n->nargs; i++)
        if (!(lc->try_files[i] = compile(ld, n, arg(n, i))))
            return -1;
    lc->ntry_files = n->nargs;
    return 0;
}

static int d_expires(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    const char *a = arg(n, 0);
    unsigned ms;
    mark(lc, SET_EXPIRES);
    if (strcmp(a, "off") == 0) {
        lc->expires_set = false;
        return 0;
    }
    lc->expires_set = true;
    if (strcmp(a, "epoch") == 0)
        lc->expires_s = -1;
    else if (strcmp(a, "max") == 0)
        lc->expires_s = 315360000;
    else if (parse_time_ms(a, &ms) == 0)
        lc->expires_s = ms / 1000;
    else
        return load_error(ld, n, "invalid expires \"%s\"; write it like 3d, 1h, epoch, max or off",
                          a);
    return 0;
}

static int d_default_type(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    lc->default_type = arena_strdup(ld->a, arg(n, 0));
    mark(lc, SET_DEFAULT_TYPE);
    return 0;
}

static int d_block_types(struct load *ld, const struct conf_node *n)
{
    if (!ld->g->types) {
        struct mime_table *t = mime_table_new();
        if (!t)
            return load_error(ld, n, "out of memory");
        gen_on_free(ld->g, (void (*)(void *))mime_table_free, t);
        ld->g->types = t;
    }
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct conf_node *t = &n->children[i];
        if (t->is_block)
            return load_error(ld, t, "unexpected block in \"types\"");
        const char *type = arena_strdup(ld->a, t->name);
        for (size_t k = 0; k < t->nargs; k++)
            if (mime_table_add((struct mime_table *)ld->g->types,
                               (struct str){ t->args[k].s, t->args[k].len }, type) < 0)
                return load_error(ld, t, "out of memory");
    }
    return 0;
}

static int d_add_header(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    if (!(lc->set & (1ull << SET_ADD_HEADERS))) {
        lc->add_headers = NULL; /* a level that sets add_header inherits none (nginx) */
        lc->nadd_headers = 0;
    }
    bool always = n->nargs == 3;
    if (always && strcmp(arg(n, 2), "always") != 0)
        return load_error(ld, n, "the third argument of add_header can only be \"always\"");
    struct var_template *t = compile(ld, n, arg(n, 1));
    if (!t)
        return -1;
    lc->add_headers = arena_grow(ld->a, lc->add_headers, lc->nadd_headers, sizeof(struct hdr_set));
    lc->add_headers[lc->nadd_headers++] = (struct hdr_set){
        .name = { arena_strdup(ld->a, arg(n, 0)), n->args[0].len }, .value = t, .always = always
    };
    mark(lc, SET_ADD_HEADERS);
    return 0;
}

static int d_charset(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    lc->charset = strcmp(arg(n, 0), "off") == 0 ? NULL : arena_strdup(ld->a, arg(n, 0));
    mark(lc, SET_CHARSET);
    return 0;
}

static int d_return(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    unsigned code = 302;
    const char *text = NULL;
    if (n->nargs == 1 && (strncmp(arg(n, 0), "http://", 7) == 0 ||
                          strncmp(arg(n, 0), "https://", 8) == 0 || arg(n, 0)[0] == '$')) {
        text = arg(n, 0);
    } else {
        if (parse_uint(arg(n, 0), 999, &code) < 0)
            return load_error(ld, n, "invalid return code \"%s\"", arg(n, 0));
        if (n->nargs == 2)
            text = arg(n, 1);
    }
    if (ld->ctx == CTX_SERVER && !ld->loc) {
        /* A server-level return answers every request of the server (rewrite phase). */
        lc = ld->srv->lc;
    }
    lc->handler = HANDLER_RETURN;
    lc->return_code = (int)code;
    lc->return_text = text ? compile(ld, n, text) : NULL;
    return text && !lc->return_text ? -1 : 0;
}

static int d_rewrite(struct load *ld, const struct conf_node *n)
{
    struct rewrite_rule r = { 0 };
    char err[300];
    if (!(r.re = location_regex_compile(arg(n, 0), false, err, sizeof(err))))
        return load_error(ld, n, "%s", err);
    gen_on_free(ld->g, (void (*)(void *))location_regex_free, r.re);
    if (!(r.replacement = compile(ld, n, arg(n, 1))))
        return -1;
    if (n->nargs == 3) {
        static const char *const flags[] = { "", "last", "break", "redirect", "permanent" };
        int f = 1;
        while (f < 5 && strcmp(arg(n, 2), flags[f]) != 0)
            f++;
        if (f == 5)
            return load_error(ld, n, "invalid rewrite flag \"%s\"; use last, break, redirect or "
                                     "permanent", arg(n, 2));
        r.flag = (enum rewrite_flag)f;
    }
    if (ld->loc) {
        struct loc_conf *lc = ld->loc->lc;
        lc->rewrites = arena_grow(ld->a, lc->rewrites, lc->nrewrites, sizeof(r));
        lc->rewrites[lc->nrewrites++] = r;
    } else {
        struct srv_conf *sc = ld->srv->sc;
        sc->rewrites = arena_grow(ld->a, sc->rewrites, sc->nrewrites, sizeof(r));
        sc->rewrites[sc->nrewrites++] = r;
    }
    return 0;
}

static int d_access(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    struct access_rule r = { .allow = strcmp(n->name, "allow") == 0 };
    const char *a = arg(n, 0);
    if (strcmp(a, "all") == 0) {
        r.all = true;
        if (!r.allow && ld->loc)
            ld->loc->denies_all = true;
    } else {
        char ip[64];
        const char *slash = strchr(a, '/');
        size_t len = slash ? (size_t)(slash - a) : strlen(a);
        if (len >= sizeof(ip))
            return load_error(ld, n, "invalid address \"%s\"", a);
        memcpy(ip, a, len);
        ip[len] = '\0';
        r.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(r.family, ip, r.addr) != 1)
            return load_error(ld, n, "invalid address \"%s\"; use an IP, a CIDR like 10.0.0.0/8, "
                                     "or all", a);
        int maxp = r.family == AF_INET ? 32 : 128;
        unsigned p = (unsigned)maxp;
        if (slash && (parse_uint(slash + 1, (unsigned)maxp, &p) < 0))
            return load_error(ld, n, "invalid prefix length in \"%s\"", a);
        r.prefix = (int)p;
    }
    if (!(lc->set & (1ull << SET_ACCESS))) {
        lc->access = NULL;
        lc->naccess = 0;
    }
    lc->access = arena_grow(ld->a, lc->access, lc->naccess, sizeof(r));
    lc->access[lc->naccess++] = r;
    mark(lc, SET_ACCESS);
    return 0;
}

static int d_error_page(struct load *ld, const struct conf_node *n)
{
    struct loc_conf *lc = cur_lc(ld);
    struct error_page ep = { 0 };
    size_t last = n->nargs - 1;
    for (size_t i = 0; i < last; i++) {
        const char *a = arg(n, i);
        unsigned code;
        if (a[0] == '=') {
            if (i != last - 1 || (a[1] && parse_uint(a + 1, 599, &code) < 0))
                return load_error(ld, n, "invalid \"%s\" in error_page", a);
            ep.response_code = a[1] ? (int)code : -1;
        } else if (parse_uint(a, 599, &code) < 0 || code < 300) {
            return load_error(ld, n, "invalid error_page code \"%s\"; use 300-599", a);
        } else if (ep.ncodes < 16) {
            ep.codes[ep.ncodes++] = (int)code;
        }
    }
    if (!ep.ncodes)
        return load_error(ld, n, "error_page needs at least one code and a URI");
    if (!(ep.uri = compile(ld, n, arg(n, last))))
        return -1;
    if (!(lc->set & (1ull << SET_ERROR_PAGES))) {
        lc->error_pages = NULL;
        lc->nerror_pages = 0;
    }
    lc->error_pages = arena_grow(ld->a, lc->error_pages, lc->nerror_pages, sizeof(ep));
    lc->error_pages[lc->nerror_pages++] = ep;
    mark(lc, SET_ERROR_PAGES);
    return 0;
}

static int d_internal(struct load *ld, const struct conf_node *n)
{
    (void)ld;
    (void)n;
    return 0;
}

/* ---- FastCGI: parsed and checked now, served by a later version ---- */

static int d_fastcgi_pass(struct load *ld, const struct conf_node *n)
{
    if (!ld->loc)
        return load_error(ld, n, "\"fastcgi_pass\" belongs in a location block");
    ld->loc->lc->handler = HANDLER_FASTCGI;
    ld->loc->lc->fastcgi_pass = arena_strdup(ld->a, arg(n, 0));
    load_warn(ld, n, "FastCGI is not built yet: requests reaching this location get \"501 Not "
                     "Implemented\" (serve PHP with nginx or php's built-in server meanwhile)");
    return 0;
}

static int d_fastcgi_other(struct load *ld, const struct conf_node *n)
{
    (void)ld;
    (void)n;
    return 0;
}

static int d_fastcgi_param(struct load *ld, const struct conf_node *n)
{
    return compile(ld, n, arg(n, 1)) ? 0 : -1;
}

/* ---- upstream ---- */

static int d_block_upstream(struct load *ld, const struct conf_node *n)
{
    for (size_t i = 0; i < ld->nupstreams; i++)
        if (strcmp(ld->upstreams[i]->grp->name, arg(n, 0)) == 0)
            return load_error(ld, n, "duplicate upstream \"%s\" (first at %s:%u); rename one",
                              arg(n, 0), ld->upstreams[i]->file, ld->upstreams[i]->line);
    struct ups_build *ub = arena_alloc(ld->a, sizeof(*ub));
    ub->grp = arena_alloc(ld->a, sizeof(*ub->grp));
    ub->grp->name = arena_strdup(ld->a, arg(n, 0));
    ub->file = n->file;
    ub->line = n->line;
    ub->method = LB_ROUND_ROBIN;
    ld->upstreams = arena_grow(ld->a, ld->upstreams, ld->nupstreams, sizeof(*ld->upstreams));
    ld->upstreams[ld->nupstreams++] = ub;
    ld->ups = ub;
    int r = load_block(ld, n, CTX_UPSTREAM);
    ld->ups = NULL;
    if (r == 0 && ub->nservers == 0)
        return load_error(ld, n, "upstream \"%s\" has no server; add \"server 127.0.0.1:9502;\"",
                          arg(n, 0));
    return r;
}

static int d_ups_server(struct load *ld, const struct conf_node *n)
{
    struct ups_server s = { .addr_text = arena_strdup(ld->a, arg(n, 0)), .weight = 1,
                            .max_fails = 1, .fail_timeout_ms = 10000, .file = n->file,
                            .line = n->line };
    for (size_t i = 1; i < n->nargs; i++) {
        const char *o = arg(n, i);
        unsigned v;
        if (strncmp(o, "weight=", 7) == 0 && parse_uint(o + 7, 1000, &v) == 0 && v > 0)
            s.weight = (int)v;
        else if (strncmp(o, "max_fails=", 10) == 0 && parse_uint(o + 10, 1000, &v) == 0)
            s.max_fails = (int)v;
        else if (strncmp(o, "fail_timeout=", 13) == 0 && parse_time_ms(o + 13, &v) == 0)
            s.fail_timeout_ms = v;
        else if (strcmp(o, "backup") == 0)
            s.backup = true;
        else if (strcmp(o, "down") == 0)
            s.down = true;
        else
            return load_error(ld, n, "invalid server parameter \"%s\"; wssgate knows weight=N, "
                                     "max_fails=N, fail_timeout=TIME, backup and down", o);
    }
    struct ups_build *ub = ld->ups;
    ub->servers = arena_grow(ld->a, ub->servers, ub->nservers, sizeof(s));
    ub->servers[ub->nservers++] = s;
    return 0;
}

static int d_ups_keepalive(struct load *ld, const struct conf_node *n)
{
    unsigned v;
    if (parse_uint(arg(n, 0), 100000, &v) < 0)
        return load_error(ld, n, "invalid keepalive \"%s\"", arg(n, 0));
    ld->ups->grp->keepalive = v;
    return 0;
}

static int d_ups_method(struct load *ld, const struct conf_node *n)
{
    struct ups_build *ub = ld->ups;
    if (strcmp(n->name, "least_conn") == 0)
        ub->method = LB_LEAST_CONN;
    else if (strcmp(n->name, "ip_hash") == 0)
        ub->method = LB_IP_HASH;
    else {
        ub->method = LB_HASH;
        if (n->nargs == 2) {
            if (strcmp(arg(n, 1), "consistent") != 0)
                return load_error(ld, n, "the second argument of hash can only be \"consistent\"");
            ub->method = LB_HASH_CONSISTENT;
        }
        ub->hash_key = arena_strdup(ld->a, arg(n, 0));
        if (!(ub->grp->hash_key = compile(ld, n, arg(n, 0))))
            return -1;
    }
    return 0;
}

/* ---- map ---- */

static int d_block_map(struct load *ld, const struct conf_node *n)
{
    (void)ld;
    (void)n; /* built in the pre-pass (load.c), so maps can be used before their definition */
    return 0;
}

/* ---- the table ---- */

#define D(name, ctx, mn, mx, blk, fn, syn, dflt, doc) \
    { name, ctx, mn, mx, blk, fn, syn, dflt, doc }

const struct directive conf_directives[] = {
    D("worker_processes", CTX_MAIN, 1, 1, false, d_worker_processes, "N | auto", "auto",
      "Worker threads (not processes): one epoll loop each, connections never move."),
    D("worker_rlimit_nofile", CTX_MAIN, 1, 1, false, d_internal, "N", "-",
      "Accepted; wssgate raises its descriptor limit to the hard limit by itself."),
    D("pid", CTX_MAIN, 1, 1, false, d_pid, "PATH | off", "off",
      "PID file, used by `wssgate -s reload|stop`. Off unless set (nginx writes logs/nginx.pid)."),
    D("daemon", CTX_MAIN, 1, 1, false, d_daemon, "on | off", "off",
      "wssgate always stays in the foreground; `daemon on` gets a warning."),
    D("error_log", CTX_MAIN | CTX_HSL, 1, 2, false, d_error_log, "PATH [LEVEL]", "stderr notice",
      "The main-level one is the error log; in http/server/location it is accepted and the "
      "main log is used. A reload applies the new file and level (none: stderr, notice). "
      "--error-log and --log-level on the command line win over it (as nginx's -e does). "
      "A main-level PATH that cannot be opened for writing fails -t, the start and a reload. "
      "PATH may be stderr; syslog: and memory: are not built (a warning, and stderr)."),
    D("user", CTX_MAIN, 1, 2, false, d_user, "USER [GROUP]", "-",
      "Ignored with a warning: wssgate does not change its user."),
    D("events", CTX_MAIN, 0, 0, true, d_block_events, "{ ... }", "-", "Event settings."),
    D("worker_connections", CTX_EVENTS, 1, 1, false, d_worker_connections, "N", "1024",
      "Connections per worker beyond which new ones wait in the listen queue."),
    D("use", CTX_EVENTS, 1, 1, false, d_internal, "epoll", "epoll", "Accepted: always epoll."),
    D("multi_accept", CTX_EVENTS, 1, 1, false, d_internal, "on | off", "on",
      "Accepted: wssgate accepts up to 64 connections per wake-up."),
    D("http", CTX_MAIN, 0, 0, true, d_block_http, "{ ... }", "-",
      "Optional: top-level `server` and `upstream` blocks are read as if inside `http`."),
    D("access_log", CTX_HSL, 1, 3, false, d_access_log, "PATH [FORMAT] | off", "stdout",
      "One line per request and one per tunnel at close. The format name is accepted, the line "
      "is wssgate's (see README)."),
    D("log_format", CTX_HTTP, 2, -1, false, d_log_format, "NAME STRING...", "-",
      "Accepted and checked for syntax; lines use wssgate's format."),
    D("keepalive_timeout", CTX_HSL, 1, 2, false, d_keepalive_timeout, "TIME", "75s",
      "Idle keep-alive connection timeout (one value for the whole configuration)."),
    D("client_header_timeout", CTX_HTTP | CTX_SERVER, 1, 1, false, d_client_header_timeout,
      "TIME", "60s", "A request head must arrive within this time, else 408."),
    D("client_body_timeout", CTX_HSL, 1, 1, false, d_client_body_timeout, "TIME", "60s",
      "Accepted; bodies are streamed and bounded by send_timeout and proxy timeouts."),
    D("send_timeout", CTX_HSL, 1, 1, false, d_send_timeout, "TIME", "60s",
      "A client that reads nothing for this long is closed."),
    D("client_max_body_size", CTX_HSL, 1, 1, false, d_client_max_body_size, "SIZE", "1m",
      "Larger request bodies get 413. 0: no limit."),
    D("server", CTX_HTTP | CTX_MAIN, 0, 0, true, d_block_server, "{ ... }", "-",
      "A virtual server."),
    D("listen", CTX_SERVER, 1, -1, false, d_listen,
      "ADDR:PORT | PORT [ssl] [default_server] [reuseport] [backlog=N]", "80",
      "IPv4, [IPv6] or a name. Each worker always has its own SO_REUSEPORT socket."),
    D("server_name", CTX_SERVER, 1, -1, false, d_server_name, "NAME ...", "\"\"",
      "Exact names, *.wildcards, .example.com, www.* and ~regex, chosen as nginx does."),
    D("ssl_certificate", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_certificate, "FILE", "-",
      "PEM certificate (leaf first, then the chain)."),
    D("ssl_certificate_key", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_certificate_key, "FILE",
      "-", "PEM private key; must match the certificate."),
    D("ssl", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl, "on | off", "off",
      "Deprecated (removed from nginx 1.25): a warning, and every listen of the server is TLS."),
    D("ssl_protocols", CTX_HTTP | CTX_SERVER, 1, -1, false, d_ssl_protocols, "PROTOCOL ...",
      "TLSv1.2 TLSv1.3", "SSLv2, SSLv3, TLSv1 and TLSv1.1 are refused with a warning."),
    D("ssl_ciphers", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_ciphers, "LIST",
      "Mozilla intermediate", "TLS 1.2 cipher list; RC4, EXPORT, NULL, MD5, DES, 3DES and "
      "anonymous suites are dropped with a warning."),
    D("ssl_prefer_server_ciphers", CTX_HTTP | CTX_SERVER, 1, 1, false,
      d_ssl_prefer_server_ciphers, "on | off", "on", "Server cipher preference."),
    D("ssl_session_timeout", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_session_timeout, "TIME",
      "5m", "Lifetime of resumable sessions."),
    D("ssl_session_cache", CTX_HTTP | CTX_SERVER, 1, 2, false, d_ssl_session_cache,
      "shared:NAME:SIZE | builtin | none | off", "on",
      "off and none turn the server-side cache off; the other forms are accepted (one "
      "process, so OpenSSL's cache is already shared by all workers)."),
    D("ssl_session_tickets", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_session_tickets,
      "on | off", "on",
      "off: no stateless tickets (SSL_OP_NO_TICKET, as nginx); TLS 1.3 clients then resume "
      "through the session cache, unless it is off too. Ticket keys are per configuration: a "
      "reload starts new ones, as in nginx without ssl_session_ticket_key."),
    D("ssl_stapling", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_stapling, "on | off", "off",
      "Not built: accepted, and `on` gets a warning that no OCSP response is stapled."),
    D("ssl_ecdh_curve", CTX_HTTP | CTX_SERVER, 1, 1, false, d_ssl_ecdh_curve, "CURVE[:CURVE...]",
      "auto", "The key exchange groups offered, e.g. X25519:prime256v1 (auto: OpenSSL's "
      "default). A name OpenSSL does not know is an error."),
    D("location", CTX_SERVER | CTX_LOCATION, 1, 2, true, d_block_location,
      "[= | ^~ | ~ | ~*] URI { ... } | @NAME { ... }", "-",
      "Matched in nginx's order: exact, longest prefix (^~ stops), regexes in order."),
    D("proxy_pass", CTX_LOCATION, 1, 1, false, d_proxy_pass, "URL", "-",
      "http://, https://, ws:// or wss://; a host:port or an upstream name; a URI part replaces "
      "the location prefix. WebSocket upgrades are forwarded without any header lines."),
    D("proxy_http_version", CTX_HSL, 1, 1, false, d_proxy_http_version, "1.0 | 1.1", "1.1",
      "Version towards the backend (nginx defaults to 1.0). WebSocket always uses 1.1."),
    D("proxy_set_header", CTX_HSL, 2, 2, false, d_proxy_set_header, "NAME VALUE", "-",
      "Variables allowed; an empty value removes the header. Upgrade and Connection are owned "
      "by the gateway: lines setting them are accepted and have no effect."),
    D("proxy_hide_header", CTX_HSL, 1, 1, false, d_proxy_hide_header, "NAME", "-",
      "Removes a backend response header."),
    D("proxy_connect_timeout", CTX_HSL, 1, 1, false, d_proxy_connect_timeout, "TIME", "60s",
      "Backend connect timeout, then 504."),
    D("proxy_read_timeout", CTX_HSL, 1, 1, false, d_proxy_read_timeout, "TIME", "60s",
      "Backend silent while a response is due, then 504. WebSocket tunnels use the tunnel idle "
      "timeout (1h) unless this is set in the location."),
    D("proxy_send_timeout", CTX_HSL, 1, 1, false, d_proxy_send_timeout, "TIME", "60s",
      "Backend not accepting bytes for this long: the request fails."),
    D("websocket_idle_timeout", CTX_HSL, 1, 1, false, d_websocket_idle_timeout, "TIME", "1h",
      "wssgate only: how long a WebSocket tunnel may be silent both ways. Without it, "
      "proxy_read_timeout bounds tunnels when set (as in nginx), else 1h."),
    D("websocket_tls_offload", CTX_HSL, 1, 1, false, d_websocket_tls_offload, "on | off", "on",
      "wssgate only: once a wss:// tunnel's TLS 1.3 handshake is done, its records are sealed and "
      "opened by wssgate (as kernel TLS would) and OpenSSL's per-connection state is freed: "
      "≈2 KiB per idle tunnel instead of ≈15. A wss:// backend's side of the tunnel moves too. "
      "off keeps every tunnel on OpenSSL."),
    D("proxy_buffering", CTX_HSL, 1, 1, false, d_proxy_buffering, "on | off", "off",
      "Accepted: wssgate always streams with bounded buffers."),
    D("proxy_next_upstream", CTX_HSL, 1, -1, false, d_proxy_next_upstream,
      "error | timeout | off ...", "error timeout",
      "On a connect error or timeout, the next server of the upstream is tried."),
    D("root", CTX_HSL, 1, 1, false, d_root, "PATH", "html", "Document root."),
    D("alias", CTX_LOCATION, 1, 1, false, d_root, "PATH", "-", "Replaces the location prefix."),
    D("index", CTX_HSL, 1, -1, false, d_index, "FILE ...", "index.html", "Index files."),
    D("try_files", CTX_SL, 2, -1, false, d_try_files, "FILE ... URI | =CODE", "-",
      "Files tried in order, then an internal redirect or a code."),
    D("expires", CTX_HSL, 1, 1, false, d_expires, "TIME | epoch | max | off", "off",
      "Expires and Cache-Control max-age on 200-class responses."),
    D("default_type", CTX_HSL, 1, 1, false, d_default_type, "TYPE", "text/plain",
      "Type of files whose extension is not in `types`."),
    D("types", CTX_HSL, 0, 0, true, d_block_types, "{ TYPE EXT ...; }", "built-in",
      "Extension to MIME type map (`include mime.types;` works)."),
    D("add_header", CTX_HSL, 2, 3, false, d_add_header, "NAME VALUE [always]", "-",
      "Added to 2xx/3xx responses (any status with `always`); a level that sets add_header "
      "inherits none, as in nginx."),
    D("charset", CTX_HSL, 1, 1, false, d_charset, "CHARSET | off", "off",
      "Adds `; charset=…` to text/html and text/plain Content-Type."),
    D("return", CTX_SL, 1, 2, false, d_return, "CODE [TEXT] | CODE URL | URL", "-",
      "Stops processing and answers."),
    D("rewrite", CTX_SL, 2, 3, false, d_rewrite, "REGEX REPLACEMENT [FLAG]", "-",
      "last, break, redirect, permanent, as in nginx."),
    D("allow", CTX_HSL, 1, 1, false, d_access, "ADDR | CIDR | all", "-", "Access rule."),
    D("deny", CTX_HSL, 1, 1, false, d_access, "ADDR | CIDR | all", "-",
      "Access rule; first match wins; a denied request gets 403."),
    D("error_page", CTX_HSL, 2, -1, false, d_error_page, "CODE ... [=[RESPONSE]] URI", "-",
      "Internal redirect (or redirect for a URL) for these error codes."),
    D("internal", CTX_LOCATION, 0, 0, false, d_internal, "", "-",
      "Accepted: the location only serves internal redirects."),
    D("fastcgi_pass", CTX_LOCATION, 1, 1, false, d_fastcgi_pass, "ADDR", "-",
      "Parsed and checked; requests get 501 until FastCGI is built."),
    D("fastcgi_index", CTX_HSL, 1, 1, false, d_fastcgi_other, "FILE", "-", "Parsed (FastCGI)."),
    D("fastcgi_param", CTX_HSL, 2, 3, false, d_fastcgi_param, "NAME VALUE [if_not_empty]", "-",
      "Parsed and its variables checked (FastCGI)."),
    D("fastcgi_split_path_info", CTX_LOCATION, 1, 1, false, d_fastcgi_other, "REGEX", "-",
      "Parsed (FastCGI)."),
    D("fastcgi_read_timeout", CTX_HSL, 1, 1, false, d_fastcgi_other, "TIME", "60s",
      "Parsed (FastCGI)."),
    D("fastcgi_connect_timeout", CTX_HSL, 1, 1, false, d_fastcgi_other, "TIME", "60s",
      "Parsed (FastCGI)."),
    D("fastcgi_send_timeout", CTX_HSL, 1, 1, false, d_fastcgi_other, "TIME", "60s",
      "Parsed (FastCGI)."),
    D("fastcgi_buffers", CTX_HSL, 2, 2, false, d_fastcgi_other, "N SIZE", "-", "Parsed."),
    D("fastcgi_buffer_size", CTX_HSL, 1, 1, false, d_fastcgi_other, "SIZE", "-", "Parsed."),
    D("fastcgi_intercept_errors", CTX_HSL, 1, 1, false, d_fastcgi_other, "on | off", "off",
      "Parsed."),
    D("upstream", CTX_HTTP | CTX_MAIN, 1, 1, true, d_block_upstream, "NAME { ... }", "-",
      "A group of backends."),
    D("server", CTX_UPSTREAM, 1, -1, false, d_ups_server,
      "ADDR [weight=N] [max_fails=N] [fail_timeout=TIME] [backup] [down]", "-",
      "A backend; max_fails within fail_timeout marks it unavailable for fail_timeout."),
    D("keepalive", CTX_UPSTREAM, 1, 1, false, d_ups_keepalive, "N", "-",
      "Accepted; upstream connections are not reused yet (Connection: close)."),
    D("least_conn", CTX_UPSTREAM, 0, 0, false, d_ups_method, "", "-", "Fewest active requests."),
    D("ip_hash", CTX_UPSTREAM, 0, 0, false, d_ups_method, "", "-", "By client address."),
    D("hash", CTX_UPSTREAM, 1, 2, false, d_ups_method, "KEY [consistent]", "-",
      "By a key with variables; `consistent` is ketama-style."),
    D("map", CTX_HTTP | CTX_MAIN, 2, 2, true, d_block_map, "$SOURCE $VARIABLE { ... }", "-",
      "Exact and ~regex entries, default; the usual $connection_upgrade map works."),
};

const size_t conf_ndirectives = sizeof(conf_directives) / sizeof(conf_directives[0]);

const char *const conf_harmless[] = {
    "sendfile", "tcp_nopush", "tcp_nodelay", "gzip", "gzip_types", "gzip_vary", "gzip_proxied",
    "gzip_comp_level", "gzip_min_length", "gzip_disable", "gzip_http_version", "gzip_buffers",
    "server_tokens", "types_hash_max_size", "types_hash_bucket_size",
    "server_names_hash_bucket_size", "server_names_hash_max_size", "open_file_cache",
    "open_file_cache_valid", "open_file_cache_min_uses", "open_file_cache_errors", "etag",
    "reset_timedout_connection", "client_body_buffer_size", "client_header_buffer_size",
    "large_client_header_buffers", "proxy_buffer_size", "proxy_buffers",
    "proxy_busy_buffers_size", "proxy_temp_file_write_size", "proxy_max_temp_file_size",
    "ssl_stapling_verify", "ssl_dhparam", "ssl_buffer_size", "lingering_close",
    "lingering_time", "lingering_timeout", "msie_padding", "log_not_found", "output_buffers",
    "postpone_output", NULL,
};

const char *const conf_unsupported[] = {
    "if", "set", "proxy_redirect", "proxy_cache", "proxy_cache_path", "proxy_cookie_domain",
    "proxy_ssl_verify", "sub_filter", "limit_req", "limit_req_zone", "limit_conn",
    "limit_conn_zone", "auth_basic", "auth_basic_user_file", "auth_request", "autoindex",
    "ssi", "geo", "split_clients", "stream", "mail", "http2", "grpc_pass", "uwsgi_pass",
    "scgi_pass", "memcached_pass", "ssl_client_certificate", "ssl_verify_client", "resolver",
    "satisfy", "valid_referers", "secure_link", "perl", "js_content", "lua_package_path",
    "load_module", "env", "thread_pool", "aio", "directio", "mirror", NULL,
};
