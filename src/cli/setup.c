/* Certificates, listeners and the trust banner for the commands that build a config in code. */
#include "cli/setup.h"

#include "tls/cert.h"
#include "tls/tls_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SSL_CTX *setup_tls(const char *host, const char *cert, const char *key, char *ca_path,
                   size_t ca_cap)
{
    char err[512];
    ca_path[0] = '\0';
    if (cert || key) {
        if (!cert || !key) {
            fprintf(stderr, "wssgate: --cert and --key go together\n");
            return NULL;
        }
        SSL_CTX *ctx = tls_ctx_new_server(cert, key, err, sizeof(err));
        if (!ctx)
            fprintf(stderr, "wssgate: %s\n", err);
        return ctx;
    }
    char dir[1024], cpath[1200], kpath[1200];
    if (cert_state_dir(dir, sizeof(dir), err, sizeof(err)) < 0) {
        fprintf(stderr, "wssgate: %s\n", err);
        return NULL;
    }
    bool created = false;
    struct cert_ca *ca = cert_ca_load_or_create(dir, &created, err, sizeof(err));
    if (!ca) {
        fprintf(stderr, "wssgate: %s\n", err);
        return NULL;
    }
    cert_ca_path(dir, ca_path, ca_cap);
    if (created)
        fprintf(stderr, "wssgate: created a local certificate authority: %s\n", ca_path);
    int rc = cert_ensure_host(ca, dir, host, cpath, sizeof(cpath), kpath, sizeof(kpath), err,
                              sizeof(err));
    cert_ca_free(ca);
    if (rc < 0) {
        fprintf(stderr, "wssgate: %s\n", err);
        return NULL;
    }
    SSL_CTX *ctx = tls_ctx_new_server(cpath, kpath, err, sizeof(err));
    if (!ctx)
        fprintf(stderr, "wssgate: %s\n", err);
    return ctx;
}

int setup_listen(struct app_config *cfg, const char *host, int port, SSL_CTX *ctx,
                 const struct route_server *server)
{
    struct net_addr addrs[8];
    char err[512];
    int n = addr_resolve_all(host, port, addrs, 8, err, sizeof(err));
    if (n <= 0) {
        fprintf(stderr, "wssgate: %s\n", n < 0 ? err : "no address to listen on");
        return -1;
    }
    struct app_listener *l =
        realloc(cfg->listeners, (cfg->nlisteners + (size_t)n) * sizeof(*l));
    if (!l) {
        fprintf(stderr, "wssgate: out of memory\n");
        return -1;
    }
    cfg->listeners = l;
    for (int i = 0; i < n; i++) {
        struct app_listener *al = &cfg->listeners[cfg->nlisteners++];
        memset(al, 0, sizeof(*al));
        al->addr = addrs[i];
        al->cl.tls = ctx != NULL;
        al->cl.ssl_ctx = ctx;
        al->cl.port = port;
        al->cl.server = server;
        char a[80];
        addr_format(&addrs[i], a, sizeof(a));
        snprintf(al->url, sizeof(al->url), "%s://%s", ctx ? "https" : "http", a);
    }
    return 0;
}

void setup_print_trust(const char *ca_path, const char *example_url)
{
    if (!ca_path[0])
        return;
    fprintf(stderr,
            "\nThe certificate is signed by wssgate's local CA: %s\n"
            "Browsers trust it once you add that CA (until then they show "
            "NET::ERR_CERT_AUTHORITY_INVALID):\n"
            "  Chromium/Chrome (Linux):  certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n "
            "wssgate-local-ca -i %s\n"
            "  Firefox:                  Settings > Privacy & Security > Certificates > Import\n"
            "  system (curl, python):    cp %s /usr/local/share/ca-certificates/wssgate-local-ca.crt"
            " && update-ca-certificates\n"
            "  one command only:         curl --cacert %s %s\n\n",
            ca_path, ca_path, ca_path, ca_path, example_url);
}

void setup_free(struct app_config *cfg)
{
    /* Several listeners share one context: free each distinct one once. */
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        SSL_CTX *ctx = cfg->listeners[i].cl.ssl_ctx;
        if (!ctx)
            continue;
        for (size_t j = i; j < cfg->nlisteners; j++)
            if (cfg->listeners[j].cl.ssl_ctx == ctx)
                cfg->listeners[j].cl.ssl_ctx = NULL;
        SSL_CTX_free(ctx);
    }
    free(cfg->listeners);
    cfg->listeners = NULL;
    cfg->nlisteners = 0;
    SSL_CTX_free(cfg->upstream_ssl);
    cfg->upstream_ssl = NULL;
}
