/* Checks of a configuration file for the doctor: load and lint through conf/, then what only a
 * running machine can tell: certificate dates and trust, ports that bind, upstreams that answer. */
#include "doctor/config_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "conf/load.h"
#include "doctor/chain_check.h"
#include "doctor/dconn.h"
#include "doctor/ports.h"
#include "proxy/gen.h"
#include "proxy/upstream.h"

/* Sets the URL the browser's words quote when doctor has none: the first listener, https when it
 * has TLS, named by its first server name. */
static void default_url(struct report *r, const struct gen *g)
{
    const struct gen_listen *l;
    const char *host;
    char ip[64];
    int port;

    if (r->url[0] != '\0' || g->nlistens == 0)
        return;
    l = &g->listens[0];
    for (size_t i = 0; i < g->nlistens; i++)
        if (g->listens[i].ssl) {
            l = &g->listens[i];
            break;
        }
    port = addr_ip_port((const struct sockaddr *)&l->addr.ss, ip, sizeof ip);
    host = l->default_srv != NULL && l->default_srv->first_name != NULL &&
                   l->default_srv->first_name[0] != '\0' && l->default_srv->first_name[0] != '_'
               ? l->default_srv->first_name
               : ip;
    snprintf(r->host, sizeof r->host, "%s", host);
    snprintf(r->path, sizeof r->path, "/");
    if ((l->ssl && port == 443) || (!l->ssl && port == 80))
        snprintf(r->url, sizeof r->url, "%s://%s/", l->ssl ? "wss" : "ws", host);
    else
        snprintf(r->url, sizeof r->url, "%s://%s:%d/", l->ssl ? "wss" : "ws", host, port);
    r->args.url = r->url;
    r->args.host = r->host;
    r->args.path = r->path;
    r->args.port = port;
}

static int check_cert(const struct srv_conf *sc, const char *local_ca, struct report *r)
{
    X509 *leaf = SSL_CTX_get0_certificate(sc->ssl_ctx);
    STACK_OF(X509) *extra = NULL, *chain = sk_X509_new_null();
    struct chain_opts co = {.system_store = true, .local_ca = local_ca};
    struct chain_verdict v;
    const char *host = sc->first_name != NULL && sc->first_name[0] != '\0' &&
                               sc->first_name[0] != '_' && sc->first_name[0] != '~'
                           ? sc->first_name
                           : "localhost";
    char err[256];
    int rc = 0;

    if (leaf == NULL || chain == NULL) {
        sk_X509_free(chain);
        return 0;
    }
    sk_X509_push(chain, leaf);
    SSL_CTX_get0_chain_certs(sc->ssl_ctx, &extra);
    for (int i = 0; extra != NULL && i < sk_X509_num(extra); i++)
        sk_X509_push(chain, sk_X509_value(extra, i));
    if (host[0] == '*' || host[0] == '.')
        host = host[0] == '*' ? host + 2 : host + 1;
    if (chain_check(chain, host, &co, &v, err, sizeof err) != 0) {
        report_step(r, "cert", STEP_FAIL, "%s: %s", sc->where, err);
        sk_X509_free(chain);
        return -1;
    }
    if (v.expired || v.not_yet_valid) {
        report_step(r, "cert", STEP_FAIL, "%s: %s; %s since %s", sc->where, v.names,
                    v.expired ? "EXPIRED" : "not valid yet", v.not_after);
        report_fail(r, "cert-expired", "The certificate of the server at %s (%s) %s.", sc->where,
                    v.names, v.expired ? "has expired" : "is not valid yet");
        rc = -1;
    } else {
        report_step(r, "cert", v.days_left < 14 || v.trust == CHAIN_UNTRUSTED ? STEP_WARN : STEP_OK,
                    "%s: %s; key matches; valid until %s (%ld days%s); %s", sc->where, v.names,
                    v.not_after, v.days_left, v.days_left < 14 ? ", renew it soon" : "",
                    v.trust == CHAIN_TRUSTED            ? "trusted by the system store"
                    : v.trust == CHAIN_TRUSTED_LOCAL_CA ? "signed by wssgate's local CA (browsers "
                                                          "trust it after wssgate cert --install)"
                    : v.self_signed                     ? "self-signed: browsers will refuse it"
                                                        : "not trusted by this machine's store");
    }
    sk_X509_free(chain);
    return rc;
}

static int check_certs(const struct gen *g, const char *local_ca, struct report *r)
{
    int rc = 0;

    for (size_t i = 0; i < g->nservers; i++) {
        const struct srv_conf *sc = g->servers[i];
        bool seen = false;
        if (sc->ssl_ctx == NULL)
            continue;
        for (size_t k = 0; k < i && !seen; k++)
            seen = g->servers[k]->ssl_ctx == sc->ssl_ctx;
        if (!seen && check_cert(sc, local_ca, r) != 0)
            rc = -1;
    }
    return rc;
}

static int check_listen(const struct gen_listen *l, struct report *r)
{
    char ip[64];
    int port = addr_ip_port((const struct sockaddr *)&l->addr.ss, ip, sizeof ip);
    int fd = socket(l->addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, e = 0;

    if (ports_unsafe(port)) {
        report_step(r, "listen", STEP_FAIL, "%s%s: browsers refuse port %d", l->text,
                    l->ssl ? " ssl" : "", port);
        r->args.port = port;
        report_fail(r, "unsafe-port", "The configuration listens on %s.", l->text);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)&l->addr.ss, l->addr.len) != 0)
        e = errno;
    if (fd >= 0)
        close(fd);
    if (e == 0) {
        report_step(r, "listen", STEP_OK, "%s%s: free to bind", l->text, l->ssl ? " ssl" : "");
        return 0;
    }
    if (e == EADDRINUSE) {
        report_step(r, "listen", STEP_WARN,
                    "%s%s: in use (by the running wssgate itself, or by another program: ss -ltnp "
                    "'sport = :%d')",
                    l->text, l->ssl ? " ssl" : "", port);
        return 0;
    }
    report_step(r, "listen", STEP_FAIL, "%s: cannot bind: %s%s", l->text, strerror(e),
                e == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
    report_fail(r, "config-error", "The configuration listens on %s, which cannot be bound: %s.",
                l->text, strerror(e));
    return -1;
}

static int check_upstreams(const struct gen *g, int timeout_ms, struct report *r)
{
    int rc = 0;

    for (size_t i = 0; i < g->ngroups; i++) {
        const struct upstream_group *grp = g->groups[i];
        for (size_t k = 0; k < grp->ntargets; k++) {
            const struct upstream_target *t = &grp->targets[k];
            struct dconn c = {.fd = -1};
            char where[80];
            int cr =
                dconn_connect(&c, (const struct sockaddr *)&t->addr.ss, t->addr.len, timeout_ms);
            addr_format(&t->addr, where, sizeof where);
            dconn_close(&c);
            if (cr == 0) {
                report_step(r, "upstream", STEP_OK, "%s → %s: accepts connections", grp->name,
                            where);
                continue;
            }
            report_step(r, "upstream", STEP_FAIL, "%s → %s: %s", grp->name, where,
                        cr == DCONN_TIMEOUT ? "no answer" : strerror(c.last_errno));
            r->args.status = 502;
            report_fail(r, "backend-down", "Upstream %s (%s) does not accept connections (%s).",
                        grp->name, where,
                        cr == DCONN_TIMEOUT ? "no answer" : strerror(c.last_errno));
            rc = -1;
        }
    }
    return rc;
}

int config_check(const char *path, const char *local_ca, int timeout_ms, struct report *r)
{
    struct load_result res;
    struct gen *g = conf_load_file(path, &res);
    int rc = 0;

    if (g == NULL)
        report_step(r, "config", STEP_FAIL, "%s", res.error);
    else
        report_step(r, "config", STEP_OK,
                    "%s loads: %zu servers, %zu listening addresses, %zu upstream groups, %zu "
                    "warnings",
                    path, g->nservers, g->nlistens, g->ngroups, res.nwarnings);
    for (size_t i = 0; i < res.nwarnings; i++)
        report_step(r, "lint", STEP_WARN, "%s", res.warnings[i]);
    if (g == NULL) {
        report_fail(r, "config-error", "%s.", res.error);
        load_result_free(&res);
        return -1;
    }
    load_result_free(&res);
    default_url(r, g);
    if (check_certs(g, local_ca, r) != 0)
        rc = -1;
    for (size_t i = 0; i < g->nlistens; i++)
        if (check_listen(&g->listens[i], r) != 0)
            rc = -1;
    if (check_upstreams(g, timeout_ms < 2000 ? timeout_ms : 2000, r) != 0)
        rc = -1;
    gen_unref(g);
    return rc;
}
