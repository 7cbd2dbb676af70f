/* conf/load: every directive of the table, in every context it is allowed in (before and after
 * the server, where that differs), with every argument count it takes, filled from a set of
 * tokens of every shape (flags, numbers, times, sizes, addresses, URLs, paths, variables):
 * each load either succeeds or fails with a "FILE:LINE: ..." message, and never crashes or
 * leaks (under ASan). The fuzzer covers the parser; this covers what the directives do with
 * what it parsed. (http-level ssl_* directives crashed -t with a NULL server until 2026-11-23.)
 *
 * Runs in a network namespace of its own where it can (root, or user namespaces allowed): some
 * tokens are host names, and resolving them must not leave the machine. Without one, it skips. */
#include "rm_tree.h"
#include "tap.h"
#include "conf/load.h"
#include "conf/load_int.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const tokens[] = {
    "on", "off", "1", "0", "-5", "10s", "1k", "x", "/", "127.0.0.1:1", "[::1]:1",
    "http://127.0.0.1:1", "https://127.0.0.1:1/p", "unix:/nonexistent", "$host", "~", "=", "^~",
    "~*", "-", "default", "weight=2", "ssl", "shared:SSL:1m", "a;b", "",
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

/* Where the directive goes: %s is the directive. */
struct place {
    unsigned ctx;
    const char *name;
    const char *tmpl;
};

#define SRV "server { listen 127.0.0.1:1; location / { return 200; } }"
static const struct place places[] = {
    { CTX_MAIN, "main", "%s\nhttp { " SRV " }\n" },
    { CTX_MAIN, "main, last", "http { " SRV " }\n%s\n" },
    { CTX_EVENTS, "events", "events { %s }\nhttp { " SRV " }\n" },
    { CTX_HTTP, "http", "http { %s " SRV " }\n" },
    { CTX_HTTP, "http, after the server", "http { " SRV " %s }\n" },
    { CTX_SERVER, "server",
      "http { server { listen 127.0.0.1:1; %s location / { return 200; } } }\n" },
    { CTX_SERVER, "ssl server", "http { server { listen 127.0.0.1:1 ssl; %s } }\n" },
    { CTX_LOCATION, "location", "http { server { listen 127.0.0.1:1; location / { %s } } }\n" },
    { CTX_LOCATION, "nested location",
      "http { server { listen 127.0.0.1:1; location / { location /a { %s } } } }\n" },
    { CTX_UPSTREAM, "upstream",
      "http { upstream u { server 127.0.0.1:1; %s } server { listen 127.0.0.1:1; "
      "location / { proxy_pass http://u; } } }\n" },
};

static unsigned loads, loaded;

/* Loads text; true when it loaded, or failed with a message naming the file and a line. */
static bool load_once(const char *text)
{
    struct load_result res;
    struct gen *g = conf_load_string(text, "m.conf", &res);
    bool fine = g || strncmp(res.error, "m.conf:", 7) == 0;
    for (size_t i = 0; i < res.nwarnings; i++)
        fine &= strncmp(res.warnings[i], "m.conf:", 7) == 0;
    if (!fine)
        printf("#   config: %s#   error: %s\n", text, res.error);
    loads++;
    loaded += g != NULL;
    if (g)
        gen_unref(g);
    load_result_free(&res);
    return fine;
}

/* The directive with n arguments: all the same token, or token k first and "x" after it. */
static void directive_text(char *out, size_t cap, const struct directive *d, int n, size_t k,
                           bool same)
{
    size_t len = (size_t)snprintf(out, cap, "%s", d->name);
    for (int a = 0; a < n && len < cap; a++) {
        const char *t = same || a == 0 ? tokens[k] : "x";
        /* quoted, so that "" and "a;b" are one argument each */
        len += (size_t)snprintf(out + len, cap - len, " \"%s\"", t);
    }
    if (len < cap)
        snprintf(out + len, cap - len, "%s", d->block ? " { }" : ";");
}

static bool try_all_arguments(const struct directive *d, const struct place *pl)
{
    int max = d->max_args < 0 || d->max_args > 3 ? 3 : d->max_args;
    bool fine = true;
    for (int n = d->min_args; n <= max; n++) {
        for (size_t k = 0; k < NTOKENS; k++) {
            for (int same = 0; same <= (n > 1); same++) {
                char dir[300], text[1200];
                directive_text(dir, sizeof(dir), d, n, k, same);
                snprintf(text, sizeof(text), pl->tmpl, dir);
                fine &= load_once(text);
                if (n == 0)
                    break; /* no argument to vary */
            }
            if (n == 0)
                break;
        }
    }
    return fine;
}

int main(void)
{
    if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
        printf("1..0 # SKIP no network namespace of our own (needs root or user namespaces)\n");
        return 0;
    }
    char dir[] = "/tmp/wssgate-conf-matrix-XXXXXX";
    char cwd[4096];
    if (!mkdtemp(dir) || !getcwd(cwd, sizeof(cwd)) || chdir(dir) < 0) {
        ok(0, "a scratch directory for the files the directives open");
        return tap_done();
    }
    for (size_t i = 0; i < conf_ndirectives; i++) {
        const struct directive *d = &conf_directives[i];
        for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++) {
            if (!(d->contexts & places[p].ctx))
                continue;
            char name[200];
            snprintf(name, sizeof(name), "%s in %s: loads or says FILE:LINE why", d->name,
                     places[p].name);
            ok(try_all_arguments(d, &places[p]), name);
        }
    }
    printf("# %u loads, %u of them loaded\n", loads, loaded);
    ok(loaded > 0 && loaded < loads, "some loads succeed and some fail (the matrix reaches both)");
    if (chdir(cwd) == 0)
        rm_tree(dir);
    return tap_done();
}
