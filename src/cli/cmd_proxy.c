/* `wssgate proxy --from https://HOST:PORT[/PATH] --to ws://HOST:PORT[/PATH]`: quick mode, one
 * line to a working wss:// (and https://) in front of a plain service. */
#include "cli/cmd.h"

#include "cli/options.h"
#include "cli/setup.h"
#include "proxy/upstream.h"
#include "route/route.h"
#include "tls/tls_ctx.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct from_url {
    bool tls;
    char host[256];
    int port;
    char path[512];
};

static int parse_from(const char *url, struct from_url *f)
{
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0) {
        f->tls = true;
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        f->tls = false;
        rest = url + 7;
    } else {
        fprintf(stderr, "wssgate: --from %s: must start with https:// (or http:// for plain)\n",
                url);
        return -1;
    }
    const char *slash = strchr(rest, '/');
    char authority[300];
    size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (alen == 0 || alen >= sizeof(authority)) {
        fprintf(stderr, "wssgate: --from %s: no host; write it as https://localhost:8443\n", url);
        return -1;
    }
    memcpy(authority, rest, alen);
    authority[alen] = '\0';
    const char *why = "";
    if (addr_split(authority, f->host, sizeof(f->host), &f->port, f->tls ? 443 : 80, &why) < 0) {
        fprintf(stderr, "wssgate: --from %s: %s\n", url, why);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s", slash ? slash : "/");
    if (strchr(f->path, '?')) {
        fprintf(stderr, "wssgate: --from %s: a query string is not allowed here\n", url);
        return -1;
    }
    return 0;
}

static bool proxy_takes_value(const char *name)
{
    return opt_common_takes_value(name) || strcmp(name, "from") == 0 || strcmp(name, "to") == 0 ||
           strcmp(name, "listen") == 0 || strcmp(name, "cert") == 0 || strcmp(name, "key") == 0;
}

static void usage(void)
{
    fputs("usage: wssgate proxy --from https://HOST:PORT[/PATH] --to ws://HOST:PORT[/PATH] "
          "[options]\n"
          "  --from URL              what browsers connect to (https:// or http://)\n"
          "  --to URL                the service behind: ws://, wss://, http:// or https://\n"
          "  --listen ADDR:PORT      bind here instead of the --from host (e.g. 0.0.0.0:443)\n"
          "  --cert FILE --key FILE  use this certificate instead of one from the local CA\n",
          stderr);
    opt_common_help();
}

struct banner {
    const char *from, *to, *ca_path;
};

static void print_banner(void *arg)
{
    const struct banner *b = arg;
    fprintf(stderr, "wssgate: ready: %s → %s\n", b->from, b->to);
    setup_print_trust(b->ca_path, b->from);
}

int cmd_proxy(int argc, char **argv)
{
    struct app_config cfg = { 0 };
    opt_defaults(&cfg.ps);
    const char *from = NULL, *to = NULL, *listen = NULL, *cert = NULL, *key = NULL;
    struct opt_iter it = { .argc = argc, .argv = argv, .i = 0 };
    const char *name, *value;
    int r;
    while ((r = opt_next(&it, &name, &value, proxy_takes_value)) > 0) {
        int c = opt_common(&cfg.ps, &cfg.workers, name, value);
        if (c < 0)
            return 2;
        if (c > 0)
            continue;
        if (strcmp(name, "from") == 0)
            from = value;
        else if (strcmp(name, "to") == 0)
            to = value;
        else if (strcmp(name, "listen") == 0)
            listen = value;
        else if (strcmp(name, "cert") == 0)
            cert = value;
        else if (strcmp(name, "key") == 0)
            key = value;
        else if (strcmp(name, "help") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "wssgate proxy: unknown option --%s\n", name);
            usage();
            return 2;
        }
    }
    if (r < 0)
        return 2;
    if (!from || !to) {
        fprintf(stderr, "wssgate proxy: --from and --to are required\n");
        usage();
        return 2;
    }
    struct from_url f;
    if (parse_from(from, &f) < 0)
        return 2;
    static struct upstream_target target;
    char err[512];
    if (upstream_target_parse(to, &target, err, sizeof(err)) < 0) {
        fprintf(stderr, "wssgate: --to: %s\n", err);
        return 2;
    }
    struct route_location loc = { .prefix = f.path, .kind = ROUTE_PROXY, .target = &target };
    struct route_server server = { .locs = &loc, .nlocs = 1 };

    char ca_path[1200] = "";
    SSL_CTX *ctx = NULL;
    if (f.tls && !(ctx = setup_tls(f.host, cert, key, ca_path, sizeof(ca_path))))
        return 1;
    cfg.upstream_ssl = tls_ctx_new_client(err, sizeof(err));
    char lhost[256];
    int lport = f.port;
    snprintf(lhost, sizeof(lhost), "%s", f.host);
    if (listen) {
        const char *why = "";
        if (addr_split(listen, lhost, sizeof(lhost), &lport, f.port, &why) < 0) {
            fprintf(stderr, "wssgate: --listen %s: %s\n", listen, why);
            SSL_CTX_free(ctx);
            return 2;
        }
    }
    if (setup_listen(&cfg, lhost, lport, ctx, &server) < 0) {
        SSL_CTX_free(ctx);
        setup_free(&cfg);
        return 1;
    }
    struct banner b = { from, to, ca_path };
    int status = app_run(&cfg, print_banner, &b, err, sizeof(err));
    if (status)
        fprintf(stderr, "wssgate: %s\n", err);
    setup_free(&cfg);
    return status;
}
