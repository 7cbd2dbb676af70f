/* Unit tests for what loading a configuration decides about the TLS record offload: which TLS
 * contexts carry the key-log callback (it costs every handshake, so only contexts a tunnel can
 * move from get it), server side and backend side. */
#include "conf/load.h"
#include "proxy/gen.h"
#include "rm_tree.h"
#include "tap.h"
#include "tls/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

static char root[64], cert[128], key[128];

/* Loads a configuration whose one TLS server has the location block loc; NULL on failure. */
static struct gen *load(const char *loc)
{
    char text[2048];
    snprintf(text, sizeof text,
             "events {}\n"
             "http {\n"
             "  server {\n"
             "    listen 127.0.0.1:18443 ssl;\n"
             "    ssl_certificate %s;\n"
             "    ssl_certificate_key %s;\n"
             "    %s\n"
             "  }\n"
             "}\n",
             cert, key, loc);
    struct load_result res = {0};
    struct gen *g = conf_load_string(text, "test.conf", &res);
    if (!g)
        printf("#   %s\n", res.error);
    load_result_free(&res);
    return g;
}

static bool server_keylog(const struct gen *g)
{
    return g->nservers == 1 && g->servers[0]->ssl_ctx &&
           SSL_CTX_get_keylog_callback(g->servers[0]->ssl_ctx) != NULL;
}

static bool upstream_keylog(const struct gen *g)
{
    return g->upstream_ssl && SSL_CTX_get_keylog_callback(g->upstream_ssl) != NULL;
}

struct want {
    const char *what, *loc;
    bool server, upstream;
};

static const struct want cases[] = {
    {"a ws:// backend", "location / { proxy_pass http://127.0.0.1:9502; }", true, false},
    {"a wss:// backend", "location / { proxy_pass https://127.0.0.1:9502; }", true, true},
    {"offload off in the location",
     "location / { proxy_pass https://127.0.0.1:9502; websocket_tls_offload off; }", false, false},
    {"offload off in the server, on again in one location",
     "websocket_tls_offload off; location / { proxy_pass http://127.0.0.1:9502; }"
     " location /ws/ { proxy_pass https://127.0.0.1:9503; websocket_tls_offload on; }",
     true, true},
    {"offload off in the server, inherited",
     "websocket_tls_offload off; location / { proxy_pass https://127.0.0.1:9502; }", false, false},
    {"no proxy at all", "location / { return 200 \"hi\"; }", false, false},
    {"static files and one ws:// proxy",
     "location / { root /tmp; } location /ws/ { proxy_pass http://127.0.0.1:9502; }", true,
     false},
};

int main(void)
{
    char err[512];
    static const char *const names[] = {"localhost"};
    snprintf(root, sizeof root, "/tmp/wssgate-confoff-XXXXXX");
    bool setup = mkdtemp(root) != NULL;
    snprintf(cert, sizeof cert, "%s/cert.pem", root);
    snprintf(key, sizeof key, "%s/key.pem", root);
    setup = setup && cert_issue_self_signed(names, 1, NULL, cert, key, err, sizeof err) == 0;
    if (ok(setup, "setup: a certificate")) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const struct want *w = &cases[i];
            struct gen *g = load(w->loc);
            char nm[200];
            snprintf(nm, sizeof nm, "%s: loads", w->what);
            if (!ok(g != NULL, nm))
                continue;
            snprintf(nm, sizeof nm, "%s: key log on the server context %s", w->what,
                     w->server ? "installed" : "left out");
            ok(server_keylog(g) == w->server, nm);
            snprintf(nm, sizeof nm, "%s: key log on the backend context %s", w->what,
                     w->upstream ? "installed" : "left out");
            ok(upstream_keylog(g) == w->upstream, nm);
            gen_unref(g);
        }
    } else {
        printf("#   %s\n", err);
    }
    rm_tree(root);
    return tap_done();
}
