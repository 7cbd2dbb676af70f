/* Certificates, generated configuration text and the trust banner for quick mode and the demo. */
#include "cli/setup.h"

#include "conf/load.h"
#include "obs/log.h"
#include "tls/cert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_printf(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->p && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

void text_quoted(struct text *t, const char *s)
{
    text_printf(t, "\"");
    for (const char *q = s; *q; q++) {
        if (*q == '"' || *q == '\\')
            text_printf(t, "\\%c", *q);
        else
            text_printf(t, "%c", *q);
    }
    text_printf(t, "\"");
}

int text_listen_lines(struct text *t, const char *host, int port, bool ssl)
{
    struct net_addr addrs[8];
    char err[512];
    int n = addr_resolve_all(host, port, addrs, 8, err, sizeof(err));
    if (n <= 0) {
        fprintf(stderr, "wssgate: %s\n", n < 0 ? err : "no address to listen on");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char a[80];
        addr_format(&addrs[i], a, sizeof(a));
        text_printf(t, "    listen %s%s;\n", a, ssl ? " ssl" : "");
    }
    return 0;
}

void text_free(struct text *t)
{
    free(t->p);
    *t = (struct text){ 0 };
}

int setup_cert(const char *host, const char *cert, const char *key, char *cert_out,
               size_t cert_cap, char *key_out, size_t key_cap, char *ca_path, size_t ca_cap)
{
    char err[512];
    ca_path[0] = '\0';
    if (cert || key) {
        if (!cert || !key) {
            fprintf(stderr, "wssgate: --cert and --key go together\n");
            return -1;
        }
        snprintf(cert_out, cert_cap, "%s", cert);
        snprintf(key_out, key_cap, "%s", key);
        return 0;
    }
    char dir[1024];
    if (cert_state_dir(dir, sizeof(dir), err, sizeof(err)) < 0) {
        fprintf(stderr, "wssgate: %s\n", err);
        return -1;
    }
    bool created = false;
    struct cert_ca *ca = cert_ca_load_or_create(dir, &created, err, sizeof(err));
    if (!ca) {
        fprintf(stderr, "wssgate: %s\n", err);
        return -1;
    }
    cert_ca_path(dir, ca_path, ca_cap);
    if (created)
        fprintf(stderr, "wssgate: created a local certificate authority: %s\n", ca_path);
    int rc = cert_ensure_host(ca, dir, host, cert_out, cert_cap, key_out, key_cap, err,
                              sizeof(err));
    cert_ca_free(ca);
    if (rc < 0)
        fprintf(stderr, "wssgate: %s\n", err);
    return rc;
}

struct gen *setup_load(const char *text, const char *name)
{
    struct load_result res;
    struct gen *g = conf_load_string(text, name, &res);
    for (size_t i = 0; i < res.nwarnings; i++)
        log_warn("%s", res.warnings[i]);
    if (!g)
        fprintf(stderr, "wssgate: %s\n", res.error);
    load_result_free(&res);
    return g;
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
