/* Unit tests for tls/cert: the local CA, leaves checked by OpenSSL's own verifier, name checks,
 * cert_ensure_host reuse/reissue, file modes and error messages. Works in a mkdtemp dir. */
#include "core/str.h"
#include "rm_tree.h"
#include "tap.h"
#include "tls/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static char root[64];
static char err[1024];

static void path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", root, name);
}

static int mode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static bool exists(const char *p)
{
    return access(p, F_OK) == 0;
}

static bool has(const char *haystack, const char *needle)
{
    bool r = strstr(haystack, needle) != NULL;
    if (!r)
        printf("#   \"%s\" lacks \"%s\"\n", haystack, needle);
    return r;
}

/* The certificates of a PEM file, up to cap; returns how many. */
static int read_all(const char *p, X509 **out, int cap)
{
    FILE *f = fopen(p, "r");
    int n = 0;
    if (f == NULL)
        return 0;
    while (n < cap && (out[n] = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        n++;
    fclose(f);
    ERR_clear_error();
    return n;
}

static X509 *read_one(const char *p)
{
    X509 *x[4] = {0};
    int n = read_all(p, x, 4);
    for (int i = 1; i < n; i++)
        X509_free(x[i]);
    return x[0];
}

static EVP_PKEY *read_key(const char *p)
{
    FILE *f = fopen(p, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

/* X509_verify_cert of leaf against anchor as a TLS server certificate. */
static int verify(X509 *anchor, X509 *leaf, unsigned long flags)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    int r = -1;
    if (st && vc && X509_STORE_add_cert(st, anchor) == 1 &&
        X509_STORE_CTX_init(vc, st, leaf, NULL) == 1 &&
        X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_SERVER) == 1) {
        X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(vc), flags);
        r = X509_verify_cert(vc);
        if (r != 1)
            printf("#   verify: %s\n", X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
    }
    X509_STORE_CTX_free(vc);
    X509_STORE_free(st);
    ERR_clear_error();
    return r;
}

/* 1 critical, 0 not, -1 absent. */
static int critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static long validity_seconds(X509 *x)
{
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)) != 1)
        return -1;
    return (long)days * 86400 + secs;
}

static void fingerprint(const char *p, char *out, size_t cap)
{
    struct cert_info info;
    out[0] = '\0';
    if (cert_describe(p, &info, err, sizeof err) == 0)
        snprintf(out, cap, "%s", info.sha256);
}

static void test_state_dir(void)
{
    char out[256], *saved_home = getenv("HOME"), *saved_ws = getenv("WSSGATE_HOME");
    char home[256] = "", ws[256] = "";

    if (saved_home)
        snprintf(home, sizeof home, "%s", saved_home);
    if (saved_ws)
        snprintf(ws, sizeof ws, "%s", saved_ws);
    setenv("WSSGATE_HOME", "/srv/wg/", 1);
    is_int(cert_state_dir(out, sizeof out, err, sizeof err), 0, "state dir from WSSGATE_HOME");
    is_str(str_from_cstr(out), "/srv/wg", "WSSGATE_HOME used, trailing slash dropped");
    setenv("WSSGATE_HOME", "", 1);
    setenv("HOME", "/home/u", 1);
    is_int(cert_state_dir(out, sizeof out, err, sizeof err), 0, "state dir from HOME");
    is_str(str_from_cstr(out), "/home/u/.local/share/wssgate", "empty WSSGATE_HOME falls back");
    is_int(cert_state_dir(out, 10, err, sizeof err), -1, "too small a buffer is an error");
    setenv("WSSGATE_HOME", "rel/dir", 1);
    is_int(cert_state_dir(out, sizeof out, err, sizeof err), -1, "relative WSSGATE_HOME refused");
    ok(has(err, "absolute"), "error says it must be absolute");
    if (saved_ws)
        setenv("WSSGATE_HOME", ws, 1);
    else
        unsetenv("WSSGATE_HOME");
    if (saved_home)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");

    is_int(cert_ca_path("/x/y", out, sizeof out), 0, "cert_ca_path");
    is_str(str_from_cstr(out), "/x/y/ca.pem", "cert_ca_path value");
    is_int(cert_ca_path("/x/y", out, 5), -1, "cert_ca_path truncation is an error");
}

static void check_ca_profile(const char *cap)
{
    X509 *ca = read_one(cap);
    EVP_PKEY *pub = ca ? X509_get0_pubkey(ca) : NULL;
    char cn[128] = "", group[64] = "";
    long v = ca ? validity_seconds(ca) : 0;

    ok(ca != NULL, "CA certificate readable by OpenSSL");
    if (ca == NULL)
        return;
    ok(X509_check_ca(ca) == 1, "CA: basicConstraints CA:TRUE");
    is_int(X509_get_pathlen(ca), 0, "CA: pathlen 0");
    is_int(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN, "CA: keyCertSign + cRLSign");
    ok(critical(ca, NID_basic_constraints) == 1 && critical(ca, NID_key_usage) == 1,
       "CA: basicConstraints and keyUsage critical");
    ok(X509_get0_subject_key_id(ca) != NULL, "CA: subjectKeyIdentifier");
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof cn);
    ok(strncmp(cn, "wssgate local CA ", 17) == 0 && strlen(cn) <= 64,
       "CA: CN wssgate local CA ...");
    printf("#   CA CN: %s\n", cn);
    ok(EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC &&
           EVP_PKEY_get_group_name(pub, group, sizeof group, NULL) == 1 &&
           strcmp(group, "prime256v1") == 0,
       "CA: ECDSA P-256 key");
    ok(v > 3650L * 86400 && v < 3654L * 86400, "CA: valid about 10 years");
    ok(X509_cmp_current_time(X509_get0_notBefore(ca)) < 0, "CA: notBefore in the past");
    is_int(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256, "CA: ecdsa-with-SHA256");
    is_int(X509_check_purpose(ca, X509_PURPOSE_SSL_SERVER, 1), 1, "CA: fit to sign TLS servers");
    is_int(X509_verify(ca, pub), 1, "CA: signed by its own key");
    X509_free(ca);
}

static void test_ca(void)
{
    char dir[256], cap[300], keyp[300], fp1[96], fp2[96], other[256], p[300];
    bool created = false;
    struct cert_ca *ca;

    path(dir, sizeof dir, "state/nested");
    ca = cert_ca_load_or_create(dir, &created, err, sizeof err);
    ok(ca != NULL, "CA created in a new nested dir");
    if (ca == NULL)
        printf("#   %s\n", err);
    ok(created, "created is true the first time");
    snprintf(cap, sizeof cap, "%s/ca.pem", dir);
    snprintf(keyp, sizeof keyp, "%s/ca-key.pem", dir);
    is_int(mode_of(dir), 0700, "state dir mode 0700");
    path(p, sizeof p, "state");
    is_int(mode_of(p), 0700, "parent dir mode 0700");
    is_int(mode_of(keyp), 0600, "CA key mode 0600");
    is_int(mode_of(cap), 0644, "CA cert mode 0644");
    fingerprint(cap, fp1, sizeof fp1);
    cert_ca_free(ca);
    check_ca_profile(cap);

    ca = cert_ca_load_or_create(dir, &created, err, sizeof err);
    ok(ca != NULL && !created, "CA loaded the second time, created false");
    fingerprint(cap, fp2, sizeof fp2);
    ok(fp1[0] != '\0' && strcmp(fp1, fp2) == 0, "same CA fingerprint after reload");
    cert_ca_free(ca);
    cert_ca_free(NULL);

    /* one of the two files missing */
    path(other, sizeof other, "lonecert");
    ca = cert_ca_load_or_create(other, NULL, err, sizeof err);
    cert_ca_free(ca);
    snprintf(p, sizeof p, "%s/ca-key.pem", other);
    unlink(p);
    ca = cert_ca_load_or_create(other, &created, err, sizeof err);
    ok(ca == NULL && !created, "ca.pem without ca-key.pem refused");
    ok(has(err, p) && has(err, "missing") && has(err, "delete"), "error names the missing key");
    path(other, sizeof other, "lonekey");
    ca = cert_ca_load_or_create(other, NULL, err, sizeof err);
    cert_ca_free(ca);
    snprintf(p, sizeof p, "%s/ca.pem", other);
    unlink(p);
    ca = cert_ca_load_or_create(other, NULL, err, sizeof err);
    ok(ca == NULL && has(err, p) && has(err, "missing"), "ca-key.pem without ca.pem refused");
    printf("#   %s\n", err);

    /* a directory that cannot be made: a path component is a regular file */
    path(p, sizeof p, "blocker");
    fclose(fopen(p, "w"));
    path(other, sizeof other, "blocker/state");
    ca = cert_ca_load_or_create(other, NULL, err, sizeof err);
    ok(ca == NULL && has(err, "cannot create directory") && has(err, "Not a directory"),
       "uncreatable dir: path and reason");
    printf("#   %s\n", err);
    if (geteuid() != 0) {
        path(other, sizeof other, "ro");
        mkdir(other, 0500);
        ca = cert_ca_load_or_create(other, NULL, err, sizeof err);
        ok(ca == NULL && has(err, "Permission denied"), "read-only dir: Permission denied");
        chmod(other, 0700);
    }

    /* a key that does not match the certificate */
    path(other, sizeof other, "mismatch");
    cert_ca_free(cert_ca_load_or_create(other, NULL, err, sizeof err));
    snprintf(p, sizeof p, "%s/ca-key.pem", other);
    char src[300];
    snprintf(src, sizeof src, "%s/ca-key.pem", dir);
    rename(src, p); /* dir's key into other: both CAs now broken */
    ca = cert_ca_load_or_create(other, NULL, err, sizeof err);
    ok(ca == NULL && has(err, "does not match"), "mismatched CA key refused");
}

static void check_leaf_profile(X509 *leaf, bool rsa, int sig_nid, const char *what)
{
    char name[128];
    long v = validity_seconds(leaf);
    uint32_t ku = X509_get_key_usage(leaf);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(leaf);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);

    snprintf(name, sizeof name, "%s: not a CA", what);
    is_int(X509_check_ca(leaf), 0, name);
    snprintf(name, sizeof name, "%s: keyUsage critical, SAN present", what);
    ok(critical(leaf, NID_key_usage) == 1 && critical(leaf, NID_subject_alt_name) == 0, name);
    snprintf(name, sizeof name, "%s: keyUsage", what);
    is_int(ku, rsa ? KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT : KU_DIGITAL_SIGNATURE, name);
    snprintf(name, sizeof name, "%s: extendedKeyUsage serverAuth only", what);
    is_int(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER, name);
    snprintf(name, sizeof name, "%s: subject and authority key ids", what);
    ok(X509_get0_subject_key_id(leaf) != NULL && X509_get0_authority_key_id(leaf) != NULL, name);
    snprintf(name, sizeof name, "%s: serial positive, 128 bits", what);
    ok(bn != NULL && !BN_is_negative(bn) && BN_num_bits(bn) == 128, name);
    snprintf(name, sizeof name, "%s: validity <= 397 days", what);
    ok(v > 0 && v <= 397L * 86400, name);
    snprintf(name, sizeof name, "%s: notBefore about an hour ago", what);
    {
        time_t lo = time(NULL) - 3700, hi = time(NULL) - 3500;
        ok(X509_cmp_time(X509_get0_notBefore(leaf), &lo) > 0 &&
               X509_cmp_time(X509_get0_notBefore(leaf), &hi) < 0,
           name);
    }
    snprintf(name, sizeof name, "%s: SHA-256 signature", what);
    is_int(X509_get_signature_nid(leaf), sig_nid, name);
    BN_free(bn);
}

static void test_leaf(struct cert_ca *ca, X509 *cax)
{
    const char *names[] = {"localhost", "127.0.0.1", "::1", "*.example.com"};
    char cp[300], kp[300], group[64] = "", cn[128] = "";
    X509 *chain[4] = {0};
    EVP_PKEY *key;
    int n;

    path(cp, sizeof cp, "leaf.pem");
    path(kp, sizeof kp, "leaf-key.pem");
    is_int(cert_issue(ca, names, 4, NULL, cp, kp, err, sizeof err), 0, "leaf issued");
    is_int(mode_of(kp), 0600, "leaf key mode 0600");
    is_int(mode_of(cp), 0644, "leaf cert mode 0644");
    n = read_all(cp, chain, 4);
    is_int(n, 2, "cert file holds leaf + CA");
    ok(n == 2 && X509_cmp(chain[1], cax) == 0, "second certificate is the CA");
    key = read_key(kp);
    if (n < 1 || key == NULL) {
        ok(0, "leaf and key readable");
        return;
    }
    X509 *leaf = chain[0];
    is_int(verify(cax, leaf, 0), 1, "leaf verifies against the CA (purpose sslserver)");
    is_int(X509_check_host(leaf, "localhost", 0, 0, NULL), 1, "matches localhost");
    is_int(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1, "matches 127.0.0.1");
    is_int(X509_check_ip_asc(leaf, "::1", 0), 1, "matches ::1");
    is_int(X509_check_ip_asc(leaf, "0:0:0:0:0:0:0:1", 0), 1, "matches ::1 spelled long");
    is_int(X509_check_host(leaf, "foo.example.com", 0, 0, NULL), 1,
           "wildcard matches foo.example.com");
    ok(X509_check_host(leaf, "a.b.example.com", 0, 0, NULL) != 1,
       "wildcard does not match a.b.example.com");
    ok(X509_check_host(leaf, "example.com", 0, 0, NULL) != 1,
       "wildcard does not match example.com");
    ok(X509_check_ip_asc(leaf, "127.0.0.2", 0) != 1, "does not match 127.0.0.2");
    ok(X509_check_host(leaf, "127.0.0.1", 0, 0, NULL) != 1, "IP is not a dNSName");
    is_int(X509_check_private_key(leaf, key), 1, "key matches cert");
    ok(EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
           EVP_PKEY_get_group_name(key, group, sizeof group, NULL) == 1 &&
           strcmp(group, "prime256v1") == 0,
       "leaf key is EC P-256");
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
    is_str(str_from_cstr(cn), "localhost", "CN is names[0]");
    check_leaf_profile(leaf, false, NID_ecdsa_with_SHA256, "EC leaf");

    struct cert_info info;
    is_int(cert_describe(cp, &info, err, sizeof err), 0, "cert_describe");
    is_str(str_from_cstr(info.names), "localhost, 127.0.0.1, ::1, *.example.com",
           "describe: names");
    is_int(strlen(info.not_after), 10, "describe: not_after is YYYY-MM-DD");
    ok(info.not_after[4] == '-' && info.not_after[7] == '-', "describe: date shape");
    is_int(strlen(info.sha256), 95, "describe: 32 bytes as AB:CD:..");
    {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        char hex[96] = "";
        X509_digest(leaf, EVP_sha256(), md, &len);
        size_t at = 0;
        for (unsigned int i = 0; i < len && i < 32; i++)
            at += (size_t)snprintf(hex + at, sizeof hex - at, "%s%02X", i ? ":" : "", md[i]);
        ok(len == 32, "X509_digest gives 32 bytes");
        is_str(str_from_cstr(info.sha256), hex, "describe: fingerprint equals X509_digest");
    }
    printf("#   %s | %s | %s\n", info.names, info.not_after, info.sha256);
    EVP_PKEY_free(key);
    for (int i = 0; i < n; i++)
        X509_free(chain[i]);
}

static void test_rsa_and_self_signed(struct cert_ca *ca, X509 *cax)
{
    const char *names[] = {"Api.Test", "10.0.0.1", "[fe80::1]"};
    struct cert_issue_opts rsa = {CERT_KEY_RSA_2048, 30};
    char cp[300], kp[300];
    X509 *leaf;
    EVP_PKEY *key;

    path(cp, sizeof cp, "rsa.pem");
    path(kp, sizeof kp, "rsa-key.pem");
    is_int(cert_issue(ca, names, 3, &rsa, cp, kp, err, sizeof err), 0, "RSA leaf issued");
    leaf = read_one(cp);
    key = read_key(kp);
    ok(leaf && key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) == 2048,
       "RSA 2048 key");
    if (leaf && key) {
        is_int(verify(cax, leaf, 0), 1, "RSA leaf verifies");
        is_int(X509_check_private_key(leaf, key), 1, "RSA key matches");
        is_int(X509_check_host(leaf, "api.test", 0, 0, NULL), 1, "DNS name lowercased, matches");
        is_int(X509_check_ip_asc(leaf, "fe80::1", 0), 1, "bracketed IPv6 accepted");
        is_int(validity_seconds(leaf), 30L * 86400, "days = 30 honoured exactly");
        check_leaf_profile(leaf, true, NID_ecdsa_with_SHA256, "RSA leaf (EC CA signs)");
    }
    X509_free(leaf);
    EVP_PKEY_free(key);

    struct cert_issue_opts bad = {CERT_KEY_EC_P256, 398};
    is_int(cert_issue(ca, names, 1, &bad, cp, kp, err, sizeof err), -1, "398 days refused");
    ok(has(err, "398") && has(err, "397"), "days error says the range");
    bad.days = -1;
    is_int(cert_issue(ca, names, 1, &bad, cp, kp, err, sizeof err), -1, "negative days refused");
    is_int(cert_issue(ca, names, 1, NULL, cp, cp, err, sizeof err), -1,
           "same cert and key path refused");
    path(cp, sizeof cp, "nodir/x.pem");
    path(kp, sizeof kp, "nodir/x-key.pem");
    is_int(cert_issue(ca, names, 1, NULL, cp, kp, err, sizeof err), -1, "missing dir: error");
    ok(has(err, "cannot write") && has(err, kp) && has(err, "No such file"),
       "write error: path + reason");

    const char *ss[] = {"127.0.0.1", "myhost.lan"};
    path(cp, sizeof cp, "self.pem");
    path(kp, sizeof kp, "self-key.pem");
    is_int(cert_issue_self_signed(ss, 2, NULL, cp, kp, err, sizeof err), 0, "self-signed issued");
    X509 *chain[3] = {0};
    int n = read_all(cp, chain, 3);
    is_int(n, 1, "self-signed file holds one certificate");
    key = read_key(kp);
    if (n == 1 && key) {
        ok(X509_NAME_cmp(X509_get_issuer_name(chain[0]), X509_get_subject_name(chain[0])) == 0 &&
               X509_verify(chain[0], key) == 1,
           "self-signed: issuer == subject, signed by its own key");
        is_int(verify(chain[0], chain[0], X509_V_FLAG_PARTIAL_CHAIN), 1,
               "self-signed verifies when trusted itself");
        is_int(X509_check_ip_asc(chain[0], "127.0.0.1", 0), 1, "self-signed: IP SAN");
        is_int(X509_check_host(chain[0], "myhost.lan", 0, 0, NULL), 1, "self-signed: DNS SAN");
        is_int(X509_check_private_key(chain[0], key), 1, "self-signed: key matches");
        check_leaf_profile(chain[0], false, NID_ecdsa_with_SHA256, "self-signed");
    }
    EVP_PKEY_free(key);
    for (int i = 0; i < n; i++)
        X509_free(chain[i]);

    struct cert_issue_opts ssrsa = {CERT_KEY_RSA_2048, 0};
    is_int(cert_issue_self_signed(ss, 1, &ssrsa, cp, kp, err, sizeof err), 0,
           "self-signed RSA issued");
    X509 *x = read_one(cp);
    if (x != NULL)
        check_leaf_profile(x, true, NID_sha256WithRSAEncryption, "self-signed RSA");
    X509_free(x);
}

static void test_bad_names(struct cert_ca *ca)
{
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"", "empty"},
        {"foo bar.com", "space"},
        {"*", "wildcard"},
        {"*.com", "wildcard"},
        {"*.localhost", "wildcard"},
        {"a.*.example.com", "leftmost"},
        {"*foo.example.com", "leftmost"},
        {"f*o.example.com", "leftmost"},
        {"**.example.com", "leftmost"},
        {"example.com.", "ends with '.'"},
        {".example.com", "empty label"},
        {"a..b", "empty label"},
        {"-a.com", "'-'"},
        {"a/../etc", "character"},
        {"caf\xc3\xa9.fr", "xn--"},
        {"1.2.3", "IPv4"},
        {"256.1.1.1", "IPv4"},
        {"fe80::1%eth0", "IPv6"},
        {"a\tb", "control"},
        {"under,comma.com", "character"},
    };
    char cp[300], kp[300], long_name[300], label[80];

    path(cp, sizeof cp, "bad.pem");
    path(kp, sizeof kp, "bad-key.pem");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[160];
        const char *one[1] = {bad[i].name};
        int r = cert_issue(ca, one, 1, NULL, cp, kp, err, sizeof err);
        snprintf(t, sizeof t, "refused: \"%s\" (%s)", bad[i].name, bad[i].why);
        ok(r == -1 && has(err, "invalid name") && has(err, bad[i].why), t);
    }
    ok(!exists(cp) && !exists(kp), "no files written for refused names");

    memset(long_name, 'a', 254);
    for (int i = 63; i < 254; i += 64)
        long_name[i] = '.';
    long_name[254] = '\0';
    const char *ln[1] = {long_name};
    ok(cert_issue(ca, ln, 1, NULL, cp, kp, err, sizeof err) == -1 && has(err, "253"),
       "254-byte name refused");
    long_name[253] = '\0';
    ok(cert_issue(ca, ln, 1, NULL, cp, kp, err, sizeof err) == 0, "253-byte name accepted (no CN)");
    memset(label, 'b', 64);
    label[64] = '\0';
    const char *ll[1] = {label};
    ok(cert_issue(ca, ll, 1, NULL, cp, kp, err, sizeof err) == -1 && has(err, "63"),
       "64-byte label refused");

    const char *mixed[] = {"ok.example.com", "bad name"};
    ok(cert_issue(ca, mixed, 2, NULL, cp, kp, err, sizeof err) == -1 && has(err, "\"bad name\""),
       "error names the bad one of several");
    printf("#   %s\n", err);
    ok(cert_issue(ca, mixed, 0, NULL, cp, kp, err, sizeof err) == -1, "zero names refused");
    const char *fine[] = {"_acme.example.com", "xn--caf-dma.fr", "a-b.c_d.io", "*.a.io", "*.co.uk"};
    ok(cert_issue(ca, fine, 5, NULL, cp, kp, err, sizeof err) == 0,
       "unusual but valid names accepted");
}

static void test_ensure_host(struct cert_ca *ca, const char *dir)
{
    char cp[512], kp[512], want[512], fp1[96], fp2[96], fp3[96], other_dir[256];
    struct cert_issue_opts shortlived = {CERT_KEY_EC_P256, 10};
    const char *other_name[1] = {"other.test"};
    struct cert_ca *ca2;

    is_int(cert_ensure_host(ca, dir, "LocalHost", cp, sizeof cp, kp, sizeof kp, err, sizeof err), 0,
           "ensure_host issues");
    snprintf(want, sizeof want, "%s/hosts/localhost.pem", dir);
    is_str(str_from_cstr(cp), want, "cert path dir/hosts/<host>.pem");
    snprintf(want, sizeof want, "%s/hosts/localhost-key.pem", dir);
    is_str(str_from_cstr(kp), want, "key path dir/hosts/<host>-key.pem");
    is_int(mode_of(kp), 0600, "host key 0600");
    fingerprint(cp, fp1, sizeof fp1);
    is_int(cert_ensure_host(ca, dir, "localhost", cp, sizeof cp, kp, sizeof kp, err, sizeof err), 0,
           "ensure_host again");
    fingerprint(cp, fp2, sizeof fp2);
    ok(fp1[0] && strcmp(fp1, fp2) == 0, "valid leaf reused");

    path(other_dir, sizeof other_dir, "ca2");
    ca2 = cert_ca_load_or_create(other_dir, NULL, err, sizeof err);
    ok(ca2 != NULL, "second CA");
    is_int(cert_ensure_host(ca2, dir, "localhost", cp, sizeof cp, kp, sizeof kp, err, sizeof err),
           0, "ensure_host with another CA");
    fingerprint(cp, fp3, sizeof fp3);
    ok(strcmp(fp3, fp2) != 0, "leaf from another CA reissued");
    X509 *leaf = read_one(cp);
    X509 *c2 = NULL;
    char c2p[300];
    snprintf(c2p, sizeof c2p, "%s/ca.pem", other_dir);
    c2 = read_one(c2p);
    ok(leaf && c2 && verify(c2, leaf, 0) == 1, "reissued leaf verifies with the new CA");
    X509_free(leaf);
    X509_free(c2);
    cert_ca_free(ca2);

    /* expiring soon, wrong name, mismatched key: each reissued */
    is_int(
        cert_issue(ca, (const char *const[]){"localhost"}, 1, &shortlived, cp, kp, err, sizeof err),
        0, "short-lived leaf planted");
    fingerprint(cp, fp1, sizeof fp1);
    cert_ensure_host(ca, dir, "localhost", cp, sizeof cp, kp, sizeof kp, err, sizeof err);
    fingerprint(cp, fp2, sizeof fp2);
    ok(strcmp(fp1, fp2) != 0, "leaf expiring within 30 days reissued");
    is_int(cert_issue(ca, other_name, 1, NULL, cp, kp, err, sizeof err), 0,
           "wrong-name leaf planted");
    fingerprint(cp, fp1, sizeof fp1);
    cert_ensure_host(ca, dir, "localhost", cp, sizeof cp, kp, sizeof kp, err, sizeof err);
    fingerprint(cp, fp2, sizeof fp2);
    ok(strcmp(fp1, fp2) != 0, "leaf for another name reissued");
    char kp2[512], cp2[512];
    cert_ensure_host(ca, dir, "::1", cp2, sizeof cp2, kp2, sizeof kp2, err, sizeof err);
    rename(kp2, kp); /* ::1's key next to localhost's cert */
    cert_ensure_host(ca, dir, "localhost", cp, sizeof cp, kp, sizeof kp, err, sizeof err);
    leaf = read_one(cp);
    EVP_PKEY *key = read_key(kp);
    ok(leaf && key && X509_check_private_key(leaf, key) == 1, "mismatched key repaired");
    X509_free(leaf);
    EVP_PKEY_free(key);
    ERR_clear_error();

    snprintf(want, sizeof want, "%s/hosts/::1.pem", dir);
    is_str(str_from_cstr(cp2), want, "IPv6 host file name");
    is_int(cert_ensure_host(ca, dir, "*.dev.test", cp, sizeof cp, kp, sizeof kp, err, sizeof err),
           0, "wildcard host");
    fingerprint(cp, fp1, sizeof fp1);
    cert_ensure_host(ca, dir, "*.dev.test", cp, sizeof cp, kp, sizeof kp, err, sizeof err);
    fingerprint(cp, fp2, sizeof fp2);
    ok(strcmp(fp1, fp2) == 0 && has(cp, "/hosts/_wildcard.dev.test.pem"), "wildcard leaf reused");
    ok(cert_ensure_host(ca, dir, "../../etc/x", cp, sizeof cp, kp, sizeof kp, err, sizeof err) ==
               -1 &&
           has(err, "invalid name"),
       "path-like host refused");
    ok(cert_ensure_host(ca, dir, "localhost", cp, 8, kp, sizeof kp, err, sizeof err) == -1,
       "small output buffer refused");

    struct cert_info info;
    path(cp, sizeof cp, "no-such.pem");
    ok(cert_describe(cp, &info, err, sizeof err) == -1 && has(err, cp) && has(err, "No such file"),
       "describe missing file: path + reason");
    path(kp, sizeof kp, "blocker");
    ok(cert_describe(kp, &info, err, sizeof err) == -1 && has(err, "certificate"),
       "describe non-PEM file refused");
}

int main(void)
{
    char dir[256], cap[300];
    struct cert_ca *ca;

    snprintf(root, sizeof root, "/tmp/wssgate-cert-XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_state_dir();
    test_ca();

    path(dir, sizeof dir, "main");
    ca = cert_ca_load_or_create(dir, NULL, err, sizeof err);
    ok(ca != NULL, "main CA");
    snprintf(cap, sizeof cap, "%s/ca.pem", dir);
    X509 *cax = read_one(cap);
    if (ca != NULL && cax != NULL) {
        test_leaf(ca, cax);
        test_rsa_and_self_signed(ca, cax);
        test_bad_names(ca);
        test_ensure_host(ca, dir);
    }
    X509_free(cax);
    cert_ca_free(ca);
    if (getenv("KEEP_TMP") == NULL)
        rm_tree(root);
    else
        printf("# kept %s\n", root);
    return tap_done();
}
