/* Certificate chain checks with OpenSSL's verifier, collecting every problem instead of stopping
 * at the first (a browser reports the worst one, so the caller needs them all). */
#include "doctor/chain_check.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* What one verification pass saw. */
struct pass {
    bool authority; /* a trust problem */
    int authority_err;
    bool expired, not_yet_valid;
    int date_depth;
};

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    struct pass *p = X509_STORE_CTX_get_app_data(ctx);
    int e = X509_STORE_CTX_get_error(ctx);

    if (ok)
        return 1;
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        if (!p->expired && !p->not_yet_valid)
            p->date_depth = X509_STORE_CTX_get_error_depth(ctx);
        if (e == X509_V_ERR_CERT_HAS_EXPIRED)
            p->expired = true;
        else
            p->not_yet_valid = true;
        break;
    default:
        if (!p->authority)
            p->authority_err = e;
        p->authority = true;
        break;
    }
    return 1; /* go on: every problem is wanted */
}

/* One pass against store; the anchor's name goes to root. */
static int run_pass(X509_STORE *store, X509 *leaf, STACK_OF(X509) * rest, time_t at, struct pass *p,
                    char *root, size_t root_cap)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;

    memset(p, 0, sizeof *p);
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, rest) != 1)
        goto out;
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    if (at != 0)
        X509_STORE_CTX_set_time(ctx, 0, at);
    X509_STORE_CTX_set_app_data(ctx, p);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    (void)X509_verify_cert(ctx);
    if (!p->authority && root_cap > 0) {
        STACK_OF(X509) *got = X509_STORE_CTX_get0_chain(ctx);
        X509 *top =
            got != NULL && sk_X509_num(got) > 0 ? sk_X509_value(got, sk_X509_num(got) - 1) : NULL;
        root[0] = '\0';
        if (top != NULL && X509_NAME_get_text_by_NID(X509_get_subject_name(top), NID_commonName,
                                                     root, (int)root_cap) <= 0)
            X509_NAME_oneline(X509_get_subject_name(top), root, (int)root_cap);
    }
    rc = 0;
out:
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static X509_STORE *make_store(const struct chain_opts *o, bool with_local, char *err, size_t errlen)
{
    X509_STORE *s = X509_STORE_new();

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o->system_store)
        (void)X509_STORE_set_default_paths(s);
    if (o->ca_file != NULL && X509_STORE_load_file(s, o->ca_file) != 1) {
        snprintf(err, errlen, "cannot read CA certificates from %s (--ca wants a PEM file)",
                 o->ca_file);
        X509_STORE_free(s);
        ERR_clear_error();
        return NULL;
    }
    if (with_local && o->local_ca != NULL && X509_STORE_load_file(s, o->local_ca) != 1) {
        snprintf(err, errlen, "cannot read wssgate's local CA %s", o->local_ca);
        X509_STORE_free(s);
        ERR_clear_error();
        return NULL;
    }
    ERR_clear_error();
    return s;
}

/* Appends s (printable ASCII only) to buf[cap] at *len with a ", " separator. */
static void add_name(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    size_t sep = *len > 0 ? 2 : 0;

    if (*len + sep + n + 4 >= cap) {
        if (*len + 4 < cap && (*len < 3 || strcmp(buf + *len - 3, "...") != 0)) {
            memcpy(buf + *len, "...", 4);
            *len += 3;
        }
        return;
    }
    if (sep) {
        memcpy(buf + *len, ", ", 2);
        *len += 2;
    }
    for (size_t i = 0; i < n; i++)
        buf[(*len)++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[*len] = '\0';
}

/* The leaf's names; whether it has any DNS/IP SAN; whether an IP host appears as DNS text. */
static void leaf_names(X509 *leaf, const char *host, struct chain_verdict *v)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    size_t len = 0;
    char one[64];

    v->names[0] = '\0';
    v->no_san = true;
    for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
        int type;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        int dlen = ASN1_STRING_length(s);
        if (type == GEN_DNS) {
            v->no_san = false;
            add_name(v->names, sizeof v->names, &len, (const char *)d, (size_t)dlen);
            if ((size_t)dlen == strlen(host) && memcmp(d, host, (size_t)dlen) == 0)
                v->ip_as_dns = true;
        } else if (type == GEN_IPADD && (dlen == 4 || dlen == 16)) {
            v->no_san = false;
            if (inet_ntop(dlen == 4 ? AF_INET : AF_INET6, d, one, sizeof one) != NULL)
                add_name(v->names, sizeof v->names, &len, one, strlen(one));
        }
    }
    GENERAL_NAMES_free(g);
    if (v->no_san) {
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
        snprintf(v->names, sizeof v->names, "CN=%s (no subjectAltName)", cn[0] ? cn : "(none)");
    }
    ERR_clear_error();
}

static void check_name(X509 *leaf, const char *host, struct chain_verdict *v)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    unsigned int flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

    leaf_names(leaf, host, v);
    if (!is_ip)
        v->ip_as_dns = false;
    if (is_ip)
        v->name_ok = X509_check_ip_asc(leaf, host, 0) == 1;
    else
        v->name_ok = X509_check_host(leaf, host, 0, flags, NULL) == 1;
    if (!v->name_ok) {
        /* would an old client that reads the CN have accepted it? */
        char cn[256] = "";
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn) >
            0)
            v->cn_matches = strcasecmp(cn, host) == 0 ||
                            (!is_ip && cn[0] == '*' && cn[1] == '.' && strchr(host, '.') != NULL &&
                             strcasecmp(cn + 1, strchr(host, '.')) == 0);
    }
    ERR_clear_error();
}

static void leaf_dates(X509 *leaf, time_t at, struct chain_verdict *v)
{
    struct tm tm;
    int days = 0, secs = 0;
    ASN1_TIME *now = ASN1_TIME_set(NULL, at != 0 ? at : time(NULL));

    v->not_after[0] = '\0';
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1)
        strftime(v->not_after, sizeof v->not_after, "%Y-%m-%d", &tm);
    if (now != NULL && ASN1_TIME_diff(&days, &secs, now, X509_get0_notAfter(leaf)) == 1)
        v->days_left = days;
    ASN1_TIME_free(now);
    if (X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, v->issuer,
                                  sizeof v->issuer) <= 0)
        X509_NAME_oneline(X509_get_issuer_name(leaf), v->issuer, sizeof v->issuer);
    ERR_clear_error();
}

int chain_check(STACK_OF(X509) * chain, const char *host, const struct chain_opts *o,
                struct chain_verdict *v, char *err, size_t errlen)
{
    X509 *leaf;
    STACK_OF(X509) *rest = NULL;
    X509_STORE *store = NULL;
    struct pass p;
    int rc = -1;

    memset(v, 0, sizeof *v);
    if (chain == NULL || sk_X509_num(chain) < 1) {
        snprintf(err, errlen, "the server sent no certificate");
        return -1;
    }
    leaf = sk_X509_value(chain, 0);
    rest = sk_X509_new_null();
    if (rest == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 1; i < sk_X509_num(chain); i++)
        sk_X509_push(rest, sk_X509_value(chain, i));
    store = make_store(o, false, err, errlen);
    if (store == NULL || run_pass(store, leaf, rest, o->at, &p, v->root, sizeof v->root) != 0)
        goto out;
    v->trust = p.authority ? CHAIN_UNTRUSTED : CHAIN_TRUSTED;
    if (p.authority) {
        struct pass lp;
        /* X509_check_issued would also want keyCertSign, which a self-signed leaf lacks */
        v->self_signed =
            p.authority_err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
            (X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0 &&
             X509_verify(leaf, X509_get0_pubkey(leaf)) == 1);
        v->incomplete = !v->self_signed && sk_X509_num(chain) == 1 &&
                        (p.authority_err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                         p.authority_err == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
        snprintf(v->untrusted_why, sizeof v->untrusted_why, "%s",
                 X509_verify_cert_error_string(p.authority_err));
        if (o->local_ca != NULL) {
            X509_STORE_free(store);
            store = make_store(o, true, err, errlen);
            if (store == NULL ||
                run_pass(store, leaf, rest, o->at, &lp, v->root, sizeof v->root) != 0)
                goto out;
            if (!lp.authority) {
                v->trust = CHAIN_TRUSTED_LOCAL_CA;
                p = lp; /* the dates seen along the whole chain */
            }
        }
    }
    v->expired = p.expired;
    v->not_yet_valid = p.not_yet_valid;
    v->date_depth = p.date_depth;
    check_name(leaf, host, v);
    leaf_dates(leaf, o->at, v);
    rc = 0;
out:
    X509_STORE_free(store);
    sk_X509_free(rest);
    ERR_clear_error();
    return rc;
}
