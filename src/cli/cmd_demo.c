/* `wssgate demo`: the embedded default — a chat backend on 127.0.0.1:9502 (where the seeds'
 * Swoole service listens), the chat page and /websocket/ on https://localhost:8443, and
 * http://localhost:8080 redirecting to HTTPS. Written as an nginx-dialect configuration
 * (--print-config shows it) served by the same engine as any other. */
#include "cli/cmd.h"

#include "app/demo_chat.h"
#include "cli/options.h"
#include "cli/setup.h"
#include "site/demo_page.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

struct demo_cmd {
    const char *host, *cert, *key;
    int https_port, http_port, backend_port;
    bool print;
    struct cli_settings cs;
};

static bool demo_takes_value(const char *name)
{
    static const char *const names[] = { "host", "https-port", "http-port", "backend-port",
                                         "cert", "key", NULL };
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return opt_common_takes_value(name);
}

static void usage(void)
{
    fputs("usage: wssgate demo [options]\n"
          "  --host NAME             name the page is served under (default localhost)\n"
          "  --https-port N          HTTPS port for the page and /websocket/ (default 8443)\n"
          "  --http-port N           plain HTTP port that redirects to HTTPS (default 8080)\n"
          "  --backend-port N        chat backend on 127.0.0.1 (default 9502)\n"
          "  --cert FILE --key FILE  use this certificate instead of one from the local CA\n"
          "  --print-config          print the equivalent configuration file and exit\n",
          stderr);
    opt_common_help();
}

static int parse_port(const char *name, const char *v, int *port)
{
    uint64_t n;
    if (opt_size(v, &n) < 0 || n < 1 || n > 65535) {
        fprintf(stderr, "wssgate demo: --%s %s: expected a port from 1 to 65535\n", name, v);
        return -1;
    }
    *port = (int)n;
    return 0;
}

static int parse_args(int argc, char **argv, struct demo_cmd *d)
{
    struct opt_iter it = { .argc = argc, .argv = argv, .i = 0 };
    const char *name, *value;
    int r;
    while ((r = opt_next(&it, &name, &value, demo_takes_value)) > 0) {
        int c = opt_common(&d->cs, name, value);
        if (c < 0)
            return 2;
        if (c > 0)
            continue;
        if (strcmp(name, "host") == 0)
            d->host = value;
        else if (strcmp(name, "https-port") == 0 || strcmp(name, "http-port") == 0 ||
                 strcmp(name, "backend-port") == 0) {
            int *slot = name[1] == 't' ? (name[4] == 's' ? &d->https_port : &d->http_port)
                                       : &d->backend_port;
            if (parse_port(name, value, slot) < 0)
                return 2;
        } else if (strcmp(name, "cert") == 0)
            d->cert = value;
        else if (strcmp(name, "key") == 0)
            d->key = value;
        else if (strcmp(name, "print-config") == 0)
            d->print = true;
        else if (strcmp(name, "help") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "wssgate demo: unknown option --%s\n", name);
            usage();
            return 2;
        }
    }
    return r < 0 ? 2 : -1;
}

static int write_config(struct text *t, const struct demo_cmd *d, const char *cert,
                        const char *key)
{
    text_printf(t, "# wssgate demo: the chat page over HTTPS, its WebSocket to a plain ws:// "
                   "backend\nserver {\n");
    if (text_listen_lines(t, d->host, d->https_port, true) < 0)
        return -1;
    text_printf(t, "    server_name ");
    text_quoted(t, d->host);
    text_printf(t, ";\n    ssl_certificate ");
    text_quoted(t, cert);
    text_printf(t, ";\n    ssl_certificate_key ");
    text_quoted(t, key);
    text_printf(t, ";\n\n    # no Upgrade/Connection lines needed: wssgate forwards WebSocket "
                   "upgrades itself\n");
    text_printf(t, "    location /websocket/ {\n        proxy_pass ws://127.0.0.1:%d;\n"
                   "        proxy_set_header Host $http_host;\n    }\n", d->backend_port);
    text_printf(t, "    # the seeds' page used /websocket: nginx would answer 301, which a "
                   "handshake never follows\n");
    text_printf(t, "    location = /websocket {\n        proxy_pass ws://127.0.0.1:%d;\n"
                   "        proxy_set_header Host $http_host;\n    }\n", d->backend_port);
    text_printf(t, "    location / {\n        default_type \"text/html; charset=utf-8\";\n"
                   "        add_header Cache-Control no-cache;\n        return 200 ");
    text_quoted(t, demo_page_html);
    text_printf(t, ";\n    }\n}\n\nserver {\n");
    if (text_listen_lines(t, d->host, d->http_port, false) < 0)
        return -1;
    text_printf(t, "    server_name ");
    text_quoted(t, d->host);
    text_printf(t, ";\n    return 301 https://$host:%d$request_uri;\n}\n", d->https_port);
    return t->failed ? -1 : 0;
}

struct demo_banner {
    const char *host, *ca_path;
    int https_port, http_port, backend_port;
};

static void print_banner(void *arg)
{
    const struct demo_banner *b = arg;
    char page[400];
    snprintf(page, sizeof(page), "https://%s:%d/", b->host, b->https_port);
    fprintf(stderr,
            "wssgate demo: ready\n"
            "  chat page:     %s  (open it in two tabs)\n"
            "  WebSocket:     wss://%s:%d/websocket/ → ws://127.0.0.1:%d (built-in chat backend)\n"
            "  plain HTTP:    http://%s:%d/ → redirects to HTTPS\n"
            "  stop with Ctrl-C\n",
            page, b->host, b->https_port, b->backend_port, b->host, b->http_port);
    setup_print_trust(b->ca_path, page);
}

int cmd_demo(int argc, char **argv)
{
    struct demo_cmd d = { .host = "localhost", .https_port = 8443, .http_port = 8080,
                          .backend_port = 9502 };
    cli_settings_defaults(&d.cs);
    int r = parse_args(argc, argv, &d);
    if (r >= 0)
        return r;
    char ca_path[1200] = "", cert[1200] = "", key[1200] = "";
    if (setup_cert(d.host, d.cert, d.key, cert, sizeof(cert), key, sizeof(key), ca_path,
                   sizeof(ca_path)) < 0)
        return 1;
    struct text t = { 0 };
    if (write_config(&t, &d, cert, key) < 0) {
        text_free(&t);
        return 2;
    }
    if (d.print) {
        fputs(t.p, stdout);
        text_free(&t);
        return 0;
    }
    struct gen *g = setup_load(t.p, "wssgate demo");
    text_free(&t);
    if (!g)
        return 1;
    cli_settings_apply(g, &d.cs);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the chat thread inherits the mask */
    char err[512], backend[64];
    snprintf(backend, sizeof(backend), "127.0.0.1");
    struct net_addr addr;
    if (addr_resolve(backend, d.backend_port, &addr, err, sizeof(err)) < 0) {
        fprintf(stderr, "wssgate demo: %s\n", err);
        gen_unref(g);
        return 1;
    }
    struct demo_chat *chat = demo_chat_start(&addr, err, sizeof(err));
    if (!chat) {
        fprintf(stderr, "wssgate demo: %s\n", err);
        gen_unref(g);
        return 1;
    }
    struct demo_banner b = { d.host, ca_path, d.https_port, d.http_port, d.backend_port };
    struct app_run_opts opts = { .adjust = cli_settings_apply_fn, .adjust_arg = &d.cs,
                                 .ready = print_banner, .ready_arg = &b, .workers = d.cs.workers };
    int status = app_run(g, &opts, err, sizeof(err));
    if (status)
        fprintf(stderr, "wssgate demo: %s\n", err);
    demo_chat_stop(chat);
    return status;
}
