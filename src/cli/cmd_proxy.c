/* `wssgate proxy --from https://HOST:PORT[/PATH] --to ws://HOST:PORT[/PATH]`: quick mode, one
 * line to a working wss:// (and https://) in front of a plain service. It writes the equivalent
 * nginx-dialect configuration (shown by --print-config) and serves it. */
#include "cli/cmd.h"

#include "cli/options.h"
#include "cli/setup.h"

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
    if (strpbrk(f->path, "?#\"' ;{}$\\")) {
        fprintf(stderr, "wssgate: --from %s: the path may not contain a query or special "
                        "characters\n", url);
        return -1;
    }
    return 0;
}

static int check_to(const char *to)
{
    static const char *const schemes[] = { "ws://", "wss://", "http://", "https://" };
    for (size_t i = 0; i < 4; i++)
        if (strncasecmp(to, schemes[i], strlen(schemes[i])) == 0 &&
            !strpbrk(to, "?#\"' ;{}$\\"))
            return 0;
    fprintf(stderr, "wssgate: --to %s: write it as ws://HOST:PORT[/PATH] (or wss://, http://, "
                    "https://)\n", to);
    return -1;
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
          "  --cert FILE --key FILE  use this certificate instead of one from the local CA\n"
          "  --print-config          print the equivalent configuration file and exit\n",
          stderr);
    opt_common_help();
}

struct proxy_cmd {
    const char *from, *to, *listen, *cert, *key;
    bool print;
    struct cli_settings cs;
};

static int parse_args(int argc, char **argv, struct proxy_cmd *pc)
{
    struct opt_iter it = { .argc = argc, .argv = argv, .i = 0 };
    const char *name, *value;
    int r;
    while ((r = opt_next(&it, &name, &value, proxy_takes_value)) > 0) {
        int c = opt_common(&pc->cs, name, value);
        if (c < 0)
            return 2;
        if (c > 0)
            continue;
        if (strcmp(name, "from") == 0)
            pc->from = value;
        else if (strcmp(name, "to") == 0)
            pc->to = value;
        else if (strcmp(name, "listen") == 0)
            pc->listen = value;
        else if (strcmp(name, "cert") == 0)
            pc->cert = value;
        else if (strcmp(name, "key") == 0)
            pc->key = value;
        else if (strcmp(name, "print-config") == 0)
            pc->print = true;
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
    if (!pc->from || !pc->to) {
        fprintf(stderr, "wssgate proxy: --from and --to are required\n");
        usage();
        return 2;
    }
    return -1;
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

/* The configuration quick mode stands for. */
static int write_config(struct text *t, const struct proxy_cmd *pc, const struct from_url *f,
                        const char *cert, const char *key)
{
    char lhost[256];
    int lport = f->port;
    snprintf(lhost, sizeof(lhost), "%s", f->host);
    if (pc->listen) {
        const char *why = "";
        if (addr_split(pc->listen, lhost, sizeof(lhost), &lport, f->port, &why) < 0) {
            fprintf(stderr, "wssgate: --listen %s: %s\n", pc->listen, why);
            return -1;
        }
    }
    const struct proxy_settings *ps = &pc->cs.ps;
    text_printf(t, "# wssgate proxy --from %s --to %s\nserver {\n", pc->from, pc->to);
    if (text_listen_lines(t, lhost, lport, f->tls) < 0)
        return -1;
    text_printf(t, "    server_name ");
    text_quoted(t, f->host);
    text_printf(t, ";\n");
    if (f->tls) {
        text_printf(t, "    ssl_certificate ");
        text_quoted(t, cert);
        text_printf(t, ";\n    ssl_certificate_key ");
        text_quoted(t, key);
        text_printf(t, ";\n");
    }
    text_printf(t, "    client_max_body_size %llu;\n", (unsigned long long)ps->max_body);
    text_printf(t, "    location %s {\n        proxy_pass %s;\n", f->path, pc->to);
    text_printf(t, "        proxy_set_header Host $http_host;\n");
    text_printf(t, "        proxy_connect_timeout %ums;\n        proxy_read_timeout %ums;\n",
                ps->connect_ms, ps->read_ms);
    text_printf(t, "        proxy_send_timeout %ums;\n        websocket_idle_timeout %ums;\n",
                ps->send_ms, ps->tunnel_idle_ms);
    text_printf(t, "    }\n}\n");
    return t->failed ? -1 : 0;
}

int cmd_proxy(int argc, char **argv)
{
    struct proxy_cmd pc = { 0 };
    cli_settings_defaults(&pc.cs);
    int r = parse_args(argc, argv, &pc);
    if (r >= 0)
        return r;
    struct from_url f;
    if (parse_from(pc.from, &f) < 0 || check_to(pc.to) < 0)
        return 2;
    char ca_path[1200] = "", cert[1200] = "", key[1200] = "";
    if (f.tls && setup_cert(f.host, pc.cert, pc.key, cert, sizeof(cert), key, sizeof(key),
                            ca_path, sizeof(ca_path)) < 0)
        return 1;
    struct text t = { 0 };
    if (write_config(&t, &pc, &f, cert, key) < 0) {
        text_free(&t);
        return 2;
    }
    if (pc.print) {
        fputs(t.p, stdout);
        text_free(&t);
        return 0;
    }
    struct gen *g = setup_load(t.p, "wssgate proxy");
    text_free(&t);
    if (!g)
        return 1;
    cli_settings_apply(g, &pc.cs);
    struct banner b = { pc.from, pc.to, ca_path };
    struct app_run_opts opts = { .adjust = cli_settings_apply_fn, .adjust_arg = &pc.cs,
                                 .ready = print_banner, .ready_arg = &b,
                                 .workers = pc.cs.workers };
    char err[512];
    int status = app_run(g, &opts, err, sizeof(err));
    if (status)
        fprintf(stderr, "wssgate: %s\n", err);
    return status;
}
