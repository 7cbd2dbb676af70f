/* Unit tests for doctor/chain_check: trust through --ca and through the local CA, self-signed and
 * incomplete chains, host names against SANs (wildcards, IPs, CN-only), and validity dates, on
 * certificates made by tls/cert (and a CN-only one made here) in a mkdtemp dir. */
#include "doctor/chain_check.h"
#include "rm_tree.h"
#include "tap.h"
#include "tls/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static char root[64];
static char err[1024];

static const char *p(const char *name)
{
    static char bufs[8][256];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 256, "%s/%s", root, name);
    return b;
}

/* Every certificate in a PEM file, in order, as a server sends them. */
static STACK_OF(X509) * load_chain(const char *path)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    FILE *f = fopen(path, "r");
    X509 *x;

    while (f != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    if (f != NULL)
        fclose(f);
    return sk;
}

static struct chain_verdict check(const char *pem, const char *host, const char *ca_file,
                                  const char *local_ca, time_t at)
{
    struct chain_opts o = {
        .system_store = false, .ca_file = ca_file, .local_ca = local_ca, .at = at};
    struct chain_verdict v;
    STACK_OF(X509) *sk = load_chain(pem);

    if (chain_check(sk, host, &o, &v, err, sizeof err) != 0) {
        printf("#   chain_check: %s\n", err);
        memset(&v, 0, sizeof v);
        v.trust = CHAIN_UNTRUSTED;
    }
    sk_X509_pop_free(sk, X509_free);
    return v;
}

static void issue(struct cert_ca *ca, const char *base, const char *const *names, size_t n)
{
    char cp[256], kp[256];

    snprintf(cp, sizeof cp, "%s/%s.pem", root, base);
    snprintf(kp, sizeof kp, "%s/%s-key.pem", root, base);
    if (cert_issue(ca, names, n, NULL, cp, kp, err, sizeof err) != 0)
        printf("#   cert_issue: %s\n", err);
}

/* A leaf with only a subject CN (no SAN), signed by the CA in dir: what `openssl req` without
 * -addext subjectAltName makes. */
static void cn_only(const char *cn)
{
    FILE *f = fopen(p("ca-key.pem"), "r");
    EVP_PKEY *cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    X509 *cacert, *x = X509_new();
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_NAME *name = X509_NAME_new();

    fclose(f);
    f = fopen(p("ca.pem"), "r");
    cacert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, X509_get_subject_name(cacert));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
    X509_set_pubkey(x, key);
    X509_sign(x, cakey, EVP_sha256());
    f = fopen(p("cnonly.pem"), "w");
    PEM_write_X509(f, x);
    PEM_write_X509(f, cacert);
    fclose(f);
    X509_NAME_free(name);
    X509_free(x);
    X509_free(cacert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(cakey);
}

int main(void)
{
    static const char *const local[] = {"localhost", "127.0.0.1", "::1"};
    static const char *const wild[] = {"*.example.test"};
    static const char *const other[] = {"other.test"};
    struct chain_verdict v;
    struct cert_ca *ca;
    time_t later = time(NULL) + 400L * 86400;
    char cp[256], kp[256];

    snprintf(root, sizeof root, "/tmp/wssgate-chain-XXXXXX");
    if (mkdtemp(root) == NULL)
        return 1;
    ca = cert_ca_load_or_create(root, NULL, err, sizeof err);
    ok(ca != NULL, "setup: a CA");
    issue(ca, "local", local, 3);
    issue(ca, "wild", wild, 1);
    issue(ca, "other", other, 1);
    snprintf(cp, sizeof cp, "%s/self.pem", root);
    snprintf(kp, sizeof kp, "%s/self-key.pem", root);
    ok(cert_issue_self_signed(local, 1, NULL, cp, kp, err, sizeof err) == 0, "setup: self-signed");
    cn_only("localhost");

    v = check(p("local.pem"), "localhost", p("ca.pem"), NULL, 0);
    ok(v.trust == CHAIN_TRUSTED && v.name_ok && !v.expired && v.days_left > 390,
       "trusted through --ca, name ok, dates ok");
    ok(strstr(v.names, "localhost, 127.0.0.1, ::1") != NULL, "names listed");
    ok(strncmp(v.root, "wssgate local CA", 16) == 0, "root named");
    v = check(p("local.pem"), "localhost", NULL, NULL, 0);
    ok(v.trust == CHAIN_UNTRUSTED && !v.self_signed && !v.incomplete && v.untrusted_why[0],
       "no CA given: untrusted");
    v = check(p("local.pem"), "localhost", NULL, p("ca.pem"), 0);
    ok(v.trust == CHAIN_TRUSTED_LOCAL_CA, "trusted only through the local CA");
    v = check(p("local.pem"), "127.0.0.1", p("ca.pem"), NULL, 0);
    ok(v.name_ok, "IP in an IP SAN");
    v = check(p("local.pem"), "::1", p("ca.pem"), NULL, 0);
    ok(v.name_ok, "IPv6 in an IP SAN");
    v = check(p("local.pem"), "127.0.0.2", p("ca.pem"), NULL, 0);
    ok(!v.name_ok && !v.ip_as_dns, "another IP");
    v = check(p("local.pem"), "chat.localhost", p("ca.pem"), NULL, 0);
    ok(!v.name_ok, "a subdomain is not the name");

    v = check(p("wild.pem"), "chat.example.test", p("ca.pem"), NULL, 0);
    ok(v.name_ok, "wildcard covers one label");
    v = check(p("wild.pem"), "example.test", p("ca.pem"), NULL, 0);
    ok(!v.name_ok, "wildcard does not cover the bare domain");
    v = check(p("wild.pem"), "a.chat.example.test", p("ca.pem"), NULL, 0);
    ok(!v.name_ok, "wildcard does not cover two labels");
    v = check(p("other.pem"), "localhost", p("ca.pem"), NULL, 0);
    ok(v.trust == CHAIN_TRUSTED && !v.name_ok && !v.cn_matches && !v.no_san, "trusted, other name");

    v = check(p("cnonly.pem"), "localhost", p("ca.pem"), NULL, 0);
    ok(v.trust == CHAIN_TRUSTED && !v.name_ok && v.no_san && v.cn_matches,
       "CN-only: refused, and the CN would have matched");
    ok(strstr(v.names, "CN=localhost (no subjectAltName)") != NULL, "CN-only: described");

    v = check(p("self.pem"), "localhost", NULL, NULL, 0);
    ok(v.trust == CHAIN_UNTRUSTED && v.self_signed, "self-signed: untrusted, said so");
    v = check(p("self.pem"), "localhost", p("self.pem"), NULL, 0);
    ok(v.trust == CHAIN_TRUSTED && v.name_ok, "self-signed given as --ca: trusted");

    /* the leaf alone, without the CA the server should send: the local CA still anchors it, but
     * another anchor is missing */
    {
        STACK_OF(X509) *sk = load_chain(p("local.pem"));
        FILE *f = fopen(p("leafonly.pem"), "w");
        PEM_write_X509(f, sk_X509_value(sk, 0));
        fclose(f);
        sk_X509_pop_free(sk, X509_free);
    }
    v = check(p("leafonly.pem"), "localhost", NULL, NULL, 0);
    ok(v.trust == CHAIN_UNTRUSTED && v.incomplete, "leaf alone, issuer unknown: incomplete chain");

    v = check(p("local.pem"), "localhost", p("ca.pem"), NULL, later);
    ok(v.expired && v.date_depth == 0 && v.days_left < 0, "400 days later: expired");
    v = check(p("local.pem"), "localhost", p("ca.pem"), NULL, time(NULL) - 2 * 86400);
    ok(v.not_yet_valid && !v.expired, "two days earlier: not yet valid");
    v = check(p("other.pem"), "localhost", NULL, NULL, later);
    ok(v.trust == CHAIN_UNTRUSTED && !v.name_ok && v.expired,
       "every problem is collected, not only the first");

    {
        struct chain_opts o = {.ca_file = p("missing.pem")};
        STACK_OF(X509) *sk = load_chain(p("local.pem"));
        ok(chain_check(sk, "localhost", &o, &v, err, sizeof err) == -1 &&
               strstr(err, "missing.pem") != NULL,
           "unreadable --ca: error names it");
        ok(chain_check(NULL, "localhost", &o, &v, err, sizeof err) == -1, "no chain: error");
        sk_X509_pop_free(sk, X509_free);
    }

    cert_ca_free(ca);
    rm_tree(root);
    return tap_done();
}
