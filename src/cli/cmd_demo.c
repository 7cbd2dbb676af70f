/* `wssgate demo`: the embedded default — a chat backend on 127.0.0.1:9502 (where the seeds'
 * Swoole service listens), the chat page and /websocket/ on https://localhost:8443, and
 * http://localhost:8080 redirecting to HTTPS. */
#include "cli/cmd.h"

#include "app/demo_chat.h"
#include "cli/options.h"
#include "cli/setup.h"
#include "proxy/upstream.h"
#include "route/route.h"
#include "site/demo_page.h"
#include "tls/tls_ctx.h"

#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

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
          "  --cert FILE --key FILE  use this certificate instead of one from the local CA\n",
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
    struct app_config cfg = { 0 };
    opt_defaults(&cfg.ps);
    const char *host = "localhost", *cert = NULL, *key = NULL;
    int https_port = 8443, http_port = 8080, backend_port = 9502;
    struct opt_iter it = { .argc = argc, .argv = argv, .i = 0 };
    const char *name, *value;
    int r;
    while ((r = opt_next(&it, &name, &value, demo_takes_value)) > 0) {
        int c = opt_common(&cfg.ps, &cfg.workers, name, value);
        if (c < 0)
            return 2;
        if (c > 0)
            continue;
        if (strcmp(name, "host") == 0)
            host = value;
        else if (strcmp(name, "https-port") == 0) {
            if (parse_port(name, value, &https_port) < 0)
                return 2;
        } else if (strcmp(name, "http-port") == 0) {
            if (parse_port(name, value, &http_port) < 0)
                return 2;
        } else if (strcmp(name, "backend-port") == 0) {
            if (parse_port(name, value, &backend_port) < 0)
                return 2;
        } else if (strcmp(name, "cert") == 0)
            cert = value;
        else if (strcmp(name, "key") == 0)
            key = value;
        else if (strcmp(name, "help") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "wssgate demo: unknown option --%s\n", name);
            usage();
            return 2;
        }
    }
    if (r < 0)
        return 2;

    char err[512], backend_url[64];
    snprintf(backend_url, sizeof(backend_url), "ws://127.0.0.1:%d", backend_port);
    static struct upstream_target chat_target;
    if (upstream_target_parse(backend_url, &chat_target, err, sizeof(err)) < 0) {
        fprintf(stderr, "wssgate demo: %s\n", err);
        return 1;
    }
    /* "= /websocket" too: the seeds' page used it and nginx would answer 301, which a
     * browser never follows in a WebSocket handshake. */
    const struct route_location https_locs[] = {
        { .prefix = "/websocket/", .kind = ROUTE_PROXY, .target = &chat_target },
        { .prefix = "/websocket", .exact = true, .kind = ROUTE_PROXY, .target = &chat_target },
        { .prefix = "/", .kind = ROUTE_PAGE, .page = demo_page_html,
          .page_len = demo_page_html_len, .page_type = "text/html; charset=utf-8" },
    };
    const struct route_location http_locs[] = {
        { .prefix = "/", .kind = ROUTE_REDIRECT_HTTPS, .redirect_port = https_port },
    };
    const struct route_server https_srv = { https_locs, 3 }, http_srv = { http_locs, 1 };

    char ca_path[1200] = "";
    SSL_CTX *ctx = setup_tls(host, cert, key, ca_path, sizeof(ca_path));
    if (!ctx)
        return 1;
    cfg.upstream_ssl = tls_ctx_new_client(err, sizeof(err));
    if (setup_listen(&cfg, host, https_port, ctx, &https_srv) < 0 ||
        setup_listen(&cfg, host, http_port, NULL, &http_srv) < 0) {
        if (!cfg.nlisteners)
            SSL_CTX_free(ctx);
        setup_free(&cfg);
        return 1;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct demo_chat *chat = demo_chat_start(&chat_target.addr, err, sizeof(err));
    if (!chat) {
        fprintf(stderr, "wssgate demo: %s\n", err);
        setup_free(&cfg);
        return 1;
    }
    struct demo_banner b = { host, ca_path, https_port, http_port, backend_port };
    int status = app_run(&cfg, print_banner, &b, err, sizeof(err));
    if (status)
        fprintf(stderr, "wssgate demo: %s\n", err);
    demo_chat_stop(chat);
    setup_free(&cfg);
    return status;
}
