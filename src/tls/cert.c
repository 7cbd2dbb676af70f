/* Local certificate authority and leaf certificates on OpenSSL 3's X509/EVP API: name checks,
 * keys, extensions, signing, and PEM files written atomically into the state dir. */
#include "tls/cert.h"

#include "core/errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct cert_ca {
    X509 *cert;
    EVP_PKEY *key;
};

/* One validated name: normalized text (lowercase DNS name or canonical IP) and, for an IP, its
 * bytes in network order. */
struct name {
    char text[CERT_MAX_NAME_LEN + 1];
    unsigned char ip[16];
    int iplen; /* 0 for a DNS name, 4 or 16 for an IP */
};

enum { PATH_CAP = 4096, CN_MAX = 64, DAY = 86400, SKEW = 3600 };

static const char NEW_CA_HINT[] = "browsers that trusted the old CA must then trust the new one";

/* ---- errors ---- */

static void ssl_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As set_err, then ": " and the first (root-cause) reason in OpenSSL's error queue, which it
 * empties so that a later failure does not report a stale reason. */
static void ssl_err(char *err, size_t errlen, const char *fmt, ...)
{
    char what[768];
    char why[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();
    va_list ap;

    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        if (r != NULL)
            snprintf(why, sizeof why, "%s", r);
        else
            ERR_error_string_n(e, why, sizeof why);
    }
    ERR_clear_error();
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    errbuf_set(err, errlen, "%s: %s", what, why);
}

/* Copies s for an error message: non-printable bytes become '?', long names are cut. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t i = 0;

    for (; s[i] != '\0' && i + 4 < cap; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] != '\0' && cap >= 4) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* ---- paths and files ---- */

static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* 1 when path exists, 0 when it does not, -1 (err filled) when it cannot be told. */
static int path_exists(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (stat(path, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    errbuf_set(err, errlen, "cannot access %s: %s", path, strerror(errno));
    return -1;
}

/* mkdir -p with mode 0700 for every directory it creates; existing ones are left as they are. */
static int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char p[PATH_CAP];
    size_t len = strlen(dir);
    struct stat st;

    if (len == 0 || len >= sizeof p) {
        errbuf_set(err, errlen, "directory path is empty or too long");
        return -1;
    }
    memcpy(p, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            errbuf_set(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
            return -1;
        }
        p[i] = dir[i];
    }
    if (stat(dir, &st) != 0) {
        errbuf_set(err, errlen, "cannot access %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errbuf_set(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Best effort: makes a rename in path's directory survive a crash. */
static void sync_parent(const char *path)
{
    char d[PATH_CAP];
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 0 : (size_t)(slash - path);
    int fd;

    if (len == 0 || len >= sizeof d)
        return;
    memcpy(d, path, len);
    d[len] = '\0';
    fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Replaces path by data atomically: a temp file beside it (created 0600, so a key is never
 * readable by others even for a moment), fchmod to mode, fsync, rename. Readers see the old file
 * or the new one, never a part. */
static int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, char *err,
                             size_t errlen)
{
    char tmp[PATH_CAP];
    int fd, n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);

    if (n < 0 || (size_t)n >= sizeof tmp) {
        errbuf_set(err, errlen, "cannot write %s: path too long", path);
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        errbuf_set(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errbuf_set(err, errlen, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errbuf_set(err, errlen, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    sync_parent(path);
    return 0;
}

static int write_bio_atomic(const char *path, BIO *mem, mode_t mode, char *err, size_t errlen)
{
    char *data = NULL;
    long len = BIO_get_mem_data(mem, &data);

    if (len <= 0 || data == NULL) {
        ssl_err(err, errlen, "cannot encode %s", path);
        return -1;
    }
    return write_file_atomic(path, data, (size_t)len, mode, err, errlen);
}

/* Writes leaf (then chain when not NULL) as PEM, mode 0644. */
static int write_certs(const char *path, X509 *leaf, X509 *chain, char *err, size_t errlen)
{
    BIO *mem = BIO_new(BIO_s_mem());
    int rc = -1;

    if (mem == NULL || PEM_write_bio_X509(mem, leaf) != 1
        || (chain != NULL && PEM_write_bio_X509(mem, chain) != 1))
        ssl_err(err, errlen, "cannot encode %s", path);
    else
        rc = write_bio_atomic(path, mem, 0644, err, errlen);
    BIO_free(mem);
    return rc;
}

/* Writes key as unencrypted PKCS#8 PEM, mode 0600; the buffer is wiped when freed (secmem BIO). */
static int write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *mem = BIO_new(BIO_s_secmem());
    int rc = -1;

    if (mem == NULL || PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) != 1)
        ssl_err(err, errlen, "cannot encode %s", path);
    else
        rc = write_bio_atomic(path, mem, 0600, err, errlen);
    BIO_free(mem);
    return rc;
}

/* Refuses to ask for a passphrase: a gateway must not block on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Reads the first certificate of a PEM file. */
static X509 *read_cert(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    X509 *x;

    if (f == NULL) {
        errbuf_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    x = PEM_read_X509(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (x == NULL)
        ssl_err(err, errlen, "cannot read a certificate from %s", path);
    return x;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *k;

    if (f == NULL) {
        errbuf_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (k == NULL)
        ssl_err(err, errlen, "cannot read a private key from %s (encrypted keys are not supported)",
                path);
    return k;
}

/* Serializes CA creation and host issuance between processes sharing dir. Returns the lock fd
 * (closing it unlocks), or -1 with err. */
static int lock_dir(const char *dir, char *err, size_t errlen)
{
    char p[PATH_CAP];
    int fd;

    if (join(p, sizeof p, dir, ".lock") != 0) {
        errbuf_set(err, errlen, "path too long: %s", dir);
        return -1;
    }
    fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        errbuf_set(err, errlen, "cannot open lock file %s: %s", p, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            errbuf_set(err, errlen, "cannot lock %s: %s", p, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* ---- names ---- */

/* IPv4 or IPv6 (optionally in brackets) → 0 with out filled; anything else → -1. */
static int parse_ip(const char *in, size_t len, struct name *out)
{
    char buf[INET6_ADDRSTRLEN + 1];

    if (len >= 2 && in[0] == '[' && in[len - 1] == ']') {
        in++;
        len -= 2;
    }
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, in, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out->ip) == 1)
        out->iplen = 4;
    else if (inet_pton(AF_INET6, buf, out->ip) == 1)
        out->iplen = 16;
    else
        return -1;
    if (inet_ntop(out->iplen == 4 ? AF_INET : AF_INET6, out->ip, out->text, sizeof out->text)
        == NULL)
        return -1;
    return 0;
}

/* Why character c cannot be in a DNS name. */
static const char *bad_char_reason(unsigned char c)
{
    if (c == ' ')
        return "contains a space";
    if (c >= 0x80)
        return "contains non-ASCII bytes (write an internationalized name in its xn-- form)";
    if (c < 0x20 || c == 0x7f)
        return "contains a control character";
    if (c == ':')
        return "is not a valid IPv6 address";
    if (c == '*')
        return "'*' must be the whole leftmost label, as in *.example.com";
    return "contains a character other than letters, digits, '-', '_' and '.'";
}

/* Checks one label in[start..end) of a DNS name; returns the reason it is invalid, or NULL. */
static const char *bad_label(const char *in, size_t start, size_t end, size_t len)
{
    if (end == start)
        return end == len && len > 0 ? "ends with '.' (leave the trailing dot out)"
                                     : "has an empty label (a leading '.' or '..')";
    if (end - start > 63)
        return "has a label longer than 63 bytes";
    if (in[start] == '-' || in[end - 1] == '-')
        return "has a label that starts or ends with '-'";
    return NULL;
}

static int parse_dns(const char *in, size_t len, struct name *out, char *err, size_t errlen)
{
    char q[80];
    const char *why = NULL;
    size_t start = 0, labels = 0;
    bool numeric = true; /* the current label is all digits */

    for (size_t i = 0; i <= len && why == NULL; i++) {
        unsigned char c = i < len ? (unsigned char)in[i] : '.';
        if (c == '.') {
            why = bad_label(in, start, i, len);
            labels++;
            if (i < len) {
                out->text[i] = '.';
                start = i + 1;
                numeric = true;
            }
            continue;
        }
        if (c == '*') {
            if (i != 0 || (len > 1 && in[1] != '.'))
                why = bad_char_reason(c);
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_')) {
            why = bad_char_reason(c);
        }
        numeric = numeric && c >= '0' && c <= '9';
        out->text[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : (char)c;
    }
    if (why == NULL && in[0] == '*' && labels < 3)
        why = "a wildcard must stand for one label of a name with at least two more "
              "(*.example.com, not *.com)";
    if (why == NULL && numeric)
        why = "ends in a numeric label but is not a valid IPv4 address";
    if (why != NULL) {
        errbuf_set(err, errlen, "invalid name \"%s\": %s", shown(in, q, sizeof q), why);
        return -1;
    }
    out->text[len] = '\0';
    out->iplen = 0;
    return 0;
}

static int parse_name(const char *in, struct name *out, char *err, size_t errlen)
{
    char q[80];
    size_t len = in == NULL ? 0 : strlen(in);

    if (len == 0) {
        errbuf_set(err, errlen, "invalid name \"\": a name cannot be empty");
        return -1;
    }
    if (len > CERT_MAX_NAME_LEN) {
        errbuf_set(err, errlen, "invalid name \"%s\": longer than %d bytes", shown(in, q, sizeof q),
                CERT_MAX_NAME_LEN);
        return -1;
    }
    if (parse_ip(in, len, out) == 0)
        return 0;
    return parse_dns(in, len, out, err, errlen);
}

/* Validates names[0..n) into a new array (caller frees), dropping duplicates; *count is the
 * number kept. */
static struct name *parse_names(const char *const *names, size_t n, size_t *count, char *err,
                                size_t errlen)
{
    struct name *v;

    if (names == NULL || n == 0 || n > CERT_MAX_NAMES) {
        errbuf_set(err, errlen, "a certificate needs 1 to %d names, got %zu", CERT_MAX_NAMES, n);
        return NULL;
    }
    v = calloc(n, sizeof *v);
    if (v == NULL) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        if (parse_name(names[i], &v[*count], err, errlen) != 0) {
            free(v);
            return NULL;
        }
        for (size_t j = 0; j < *count && !dup; j++)
            dup = strcmp(v[j].text, v[*count].text) == 0;
        if (!dup)
            (*count)++;
    }
    return v;
}

/* ---- building certificates ---- */

static EVP_PKEY *new_key(enum cert_key_type type, char *err, size_t errlen)
{
    EVP_PKEY *k;

    switch (type) {
    case CERT_KEY_EC_P256:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case CERT_KEY_RSA_2048:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    default:
        errbuf_set(err, errlen, "unknown key type %d", (int)type);
        return NULL;
    }
    if (k == NULL)
        ssl_err(err, errlen, "cannot generate a key");
    return k;
}

/* A random positive serial of exactly 128 bits (top bit set, so it is never 0 and its DER length
 * never varies). */
static int set_random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn != NULL && BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1
             && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

    BN_free(bn);
    return ok ? 0 : -1;
}

/* A v3 certificate with a serial, validity [from, to] and subject_key; no names, no extensions. */
static X509 *new_cert(EVP_PKEY *subject_key, time_t from, time_t to)
{
    X509 *x = X509_new();

    if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) != 0
        || ASN1_TIME_set(X509_getm_notBefore(x), from) == NULL
        || ASN1_TIME_set(X509_getm_notAfter(x), to) == NULL
        || X509_set_pubkey(x, subject_key) != 1) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int add_name_entry(X509_NAME *nm, int nid, const char *value)
{
    return X509_NAME_add_entry_by_NID(nm, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
                                      0) == 1
               ? 0
               : -1;
}

/* Adds an extension written in openssl.cnf syntax; ctx names the subject and issuer. */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int rc;

    if (ext == NULL)
        return -1;
    rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

/* Builds the subjectAltName from the structure, not from a "DNS:a,IP:b" string, so that no name
 * can be read as syntax. */
static int add_san(X509 *x, const struct name *v, size_t n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int rc = -1;

    if (gens == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_STRING *s = v[i].iplen ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        int ok = gn != NULL && s != NULL
                 && (v[i].iplen ? ASN1_STRING_set(s, v[i].ip, v[i].iplen)
                                : ASN1_STRING_set(s, v[i].text, -1)) == 1;
        if (!ok) {
            ASN1_STRING_free(s);
            GENERAL_NAME_free(gn);
            goto out;
        }
        GENERAL_NAME_set0_value(gn, v[i].iplen ? GEN_IPADD : GEN_DNS, s);
        if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
            GENERAL_NAME_free(gn);
            goto out;
        }
    }
    rc = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

/* "wssgate local CA <hostname> <YYYY-MM-DD>", the hostname cut so the CN fits in 64 bytes. */
static void ca_common_name(char *out, size_t cap, time_t now)
{
    char host[256], date[16] = "unknown";
    struct tm tm;

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p != '\0'; p++)
        if (*p < 0x20 || *p >= 0x7f)
            *p = '?';
    if (gmtime_r(&now, &tm) != NULL)
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(out, cap, "wssgate local CA %.36s %.10s", host, date);
}

/* A new self-signed CA certificate and key (see cert.h for its profile). */
static int make_ca(X509 **cert_out, EVP_PKEY **key_out, char *err, size_t errlen)
{
    char cn[CN_MAX + 1];
    time_t now = time(NULL), from = now - SKEW, to;
    struct tm tm;
    X509V3_CTX ctx;
    X509 *x = NULL;
    EVP_PKEY *key = NULL;

    if (gmtime_r(&from, &tm) == NULL) {
        errbuf_set(err, errlen, "cannot read the clock");
        return -1;
    }
    tm.tm_year += 10;
    to = timegm(&tm);
    ca_common_name(cn, sizeof cn, now);
    key = new_key(CERT_KEY_EC_P256, err, errlen);
    if (key == NULL)
        return -1;
    x = new_cert(key, from, to);
    if (x == NULL || add_name_entry(X509_get_subject_name(x), NID_organizationName,
                                    "wssgate local CA") != 0
        || add_name_entry(X509_get_subject_name(x), NID_commonName, cn) != 0
        || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1)
        goto fail;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0
        || add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0
        || add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0
        || X509_sign(x, key, EVP_sha256()) <= 0)
        goto fail;
    *cert_out = x;
    *key_out = key;
    return 0;
fail:
    ssl_err(err, errlen, "cannot build the CA certificate");
    X509_free(x);
    EVP_PKEY_free(key);
    return -1;
}

/* Subject, issuer and extensions of a leaf; issuer == x for a self-signed one. */
static int leaf_fill(X509 *x, X509 *issuer, EVP_PKEY *issuer_key, const struct name *v, size_t n,
                     bool rsa)
{
    X509_NAME *subj = X509_get_subject_name(x);
    X509V3_CTX ctx;

    if (add_name_entry(subj, NID_organizationName, "wssgate development certificate") != 0
        || (strlen(v[0].text) <= CN_MAX && add_name_entry(subj, NID_commonName, v[0].text) != 0)
        || X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1)
        return -1;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    /* the subject key id goes first: a self-signed authority key id is derived from it */
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0
        || add_ext(x, &ctx, NID_key_usage,
                   rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature")
               != 0
        || add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") != 0
        || add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0
        || add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0
        || add_san(x, v, n) != 0)
        return -1;
    return X509_sign(x, issuer_key, EVP_sha256()) > 0 ? 0 : -1;
}

/* A leaf for v[0..n) signed by issuer/issuer_key, or self-signed when issuer is NULL. */
static int make_leaf(X509 *issuer, EVP_PKEY *issuer_key, const struct name *v, size_t n,
                     const struct cert_issue_opts *o, X509 **cert_out, EVP_PKEY **key_out,
                     char *err, size_t errlen)
{
    time_t from = time(NULL) - SKEW;
    EVP_PKEY *key = new_key(o->key_type, err, errlen);
    X509 *x;

    if (key == NULL)
        return -1;
    x = new_cert(key, from, from + (time_t)o->days * DAY);
    if (x == NULL)
        goto fail;
    /* a leaf outliving its CA would be refused anyway: end it with the CA */
    if (issuer != NULL
        && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0) {
        if (X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1)
            goto fail;
        if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notBefore(x)) <= 0) {
            errbuf_set(err, errlen, "the CA certificate has expired: create a new CA (%s)",
                    NEW_CA_HINT);
            X509_free(x);
            EVP_PKEY_free(key);
            return -1;
        }
    }
    if (leaf_fill(x, issuer != NULL ? issuer : x, issuer != NULL ? issuer_key : key, v, n,
                  o->key_type == CERT_KEY_RSA_2048) != 0)
        goto fail;
    *cert_out = x;
    *key_out = key;
    return 0;
fail:
    ssl_err(err, errlen, "cannot build the certificate for %s", v[0].text);
    X509_free(x);
    EVP_PKEY_free(key);
    return -1;
}

static int resolve_opts(const struct cert_issue_opts *in, struct cert_issue_opts *out, char *err,
                        size_t errlen)
{
    out->key_type = in != NULL ? in->key_type : CERT_KEY_EC_P256;
    out->days = in != NULL && in->days != 0 ? in->days : CERT_MAX_DAYS;
    if (out->days < 0 || out->days > CERT_MAX_DAYS) {
        errbuf_set(err, errlen,
                "a validity of %d days is out of range: use 1 to %d (browsers refuse server "
                "certificates valid for longer)",
                out->days, CERT_MAX_DAYS);
        return -1;
    }
    if (out->key_type != CERT_KEY_EC_P256 && out->key_type != CERT_KEY_RSA_2048) {
        errbuf_set(err, errlen, "unknown key type %d", (int)out->key_type);
        return -1;
    }
    return 0;
}

/* cert_issue and cert_issue_self_signed: issuer NULL means self-signed. */
static int issue(X509 *issuer, EVP_PKEY *issuer_key, const char *const *names, size_t n,
                 const struct cert_issue_opts *opts, const char *cert_path, const char *key_path,
                 char *err, size_t errlen)
{
    struct cert_issue_opts o;
    struct name *v;
    size_t count = 0;
    X509 *x = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;

    if (cert_path == NULL || key_path == NULL || strcmp(cert_path, key_path) == 0) {
        errbuf_set(err, errlen, "the certificate and the key need two different files");
        return -1;
    }
    if (resolve_opts(opts, &o, err, errlen) != 0)
        return -1;
    v = parse_names(names, n, &count, err, errlen);
    if (v == NULL)
        return -1;
    /* the key first: a crash between the two renames leaves a pair that does not match, which
     * cert_ensure_host notices, rather than a new certificate whose key is lost */
    if (make_leaf(issuer, issuer_key, v, count, &o, &x, &key, err, errlen) == 0
        && write_key(key_path, key, err, errlen) == 0
        && write_certs(cert_path, x, issuer, err, errlen) == 0)
        rc = 0;
    X509_free(x);
    EVP_PKEY_free(key);
    free(v);
    return rc;
}

/* ---- public API ---- */

int cert_state_dir(char *out, size_t cap, char *err, size_t errlen)
{
    const char *h = getenv("WSSGATE_HOME");
    const char *home = getenv("HOME");
    const char *var = "WSSGATE_HOME";
    struct passwd pw, *res = NULL;
    char pwbuf[4096];
    size_t len;
    int n;

    if (h != NULL && h[0] != '\0') {
        n = snprintf(out, cap, "%s", h);
    } else {
        var = "HOME";
        if ((home == NULL || home[0] == '\0')
            && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res != NULL)
            home = pw.pw_dir;
        if (home == NULL || home[0] == '\0') {
            errbuf_set(err, errlen, "cannot find a home directory: set WSSGATE_HOME or HOME");
            return -1;
        }
        h = home;
        n = snprintf(out, cap, "%s/.local/share/wssgate", home);
    }
    if (n < 0 || (size_t)n >= cap) {
        errbuf_set(err, errlen, "state directory path is too long (%s=%s)", var, h);
        return -1;
    }
    if (out[0] != '/') {
        errbuf_set(err, errlen, "%s must be an absolute path, not \"%s\"", var, h);
        return -1;
    }
    for (len = (size_t)n; len > 1 && out[len - 1] == '/'; len--)
        out[len - 1] = '\0';
    return 0;
}

int cert_ca_path(const char *dir, char *out, size_t cap)
{
    return join(out, cap, dir, CERT_CA_FILE);
}

/* Loads and checks an existing CA. */
static struct cert_ca *ca_load(const char *cp, const char *kp, char *err, size_t errlen)
{
    struct cert_ca *ca = calloc(1, sizeof *ca);

    if (ca == NULL) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    ca->cert = read_cert(cp, err, errlen);
    if (ca->cert == NULL)
        goto fail;
    ca->key = read_key(kp, err, errlen);
    if (ca->key == NULL)
        goto fail;
    if (X509_check_private_key(ca->cert, ca->key) != 1) {
        errbuf_set(err, errlen,
                "CA key %s does not match certificate %s: restore the matching pair, or delete "
                "both to create a new CA (%s)",
                kp, cp, NEW_CA_HINT);
        goto fail;
    }
    if (X509_check_ca(ca->cert) == 0) {
        errbuf_set(err, errlen, "%s is not a CA certificate: delete it and %s to create a new CA", cp,
                kp);
        goto fail;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(ca->cert)) <= 0) {
        errbuf_set(err, errlen,
                "CA certificate %s has expired: delete it and %s to create a new CA (%s)", cp, kp,
                NEW_CA_HINT);
        goto fail;
    }
    ERR_clear_error();
    return ca;
fail:
    ERR_clear_error();
    cert_ca_free(ca);
    return NULL;
}

static struct cert_ca *ca_create(const char *cp, const char *kp, char *err, size_t errlen)
{
    struct cert_ca *ca = calloc(1, sizeof *ca);

    if (ca == NULL) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    if (make_ca(&ca->cert, &ca->key, err, errlen) != 0 || write_key(kp, ca->key, err, errlen) != 0)
        goto fail;
    if (write_certs(cp, ca->cert, NULL, err, errlen) != 0) {
        /* leave neither file rather than a lone key that blocks the next attempt */
        unlink(kp);
        goto fail;
    }
    return ca;
fail:
    cert_ca_free(ca);
    return NULL;
}

struct cert_ca *cert_ca_load_or_create(const char *dir, bool *created, char *err, size_t errlen)
{
    char cp[PATH_CAP], kp[PATH_CAP];
    struct cert_ca *ca = NULL;
    int lock, ce, ke;

    if (created != NULL)
        *created = false;
    if (dir == NULL || join(cp, sizeof cp, dir, CERT_CA_FILE) != 0
        || join(kp, sizeof kp, dir, CERT_CA_KEY_FILE) != 0) {
        errbuf_set(err, errlen, "state directory path is missing or too long");
        return NULL;
    }
    if (mkdir_p(dir, err, errlen) != 0)
        return NULL;
    lock = lock_dir(dir, err, errlen);
    if (lock < 0)
        return NULL;
    ce = path_exists(cp, err, errlen);
    ke = ce < 0 ? -1 : path_exists(kp, err, errlen);
    if (ce < 0 || ke < 0) {
        /* err is filled */
    } else if (ce && ke) {
        ca = ca_load(cp, kp, err, errlen);
    } else if (!ce && !ke) {
        ca = ca_create(cp, kp, err, errlen);
        if (ca != NULL && created != NULL)
            *created = true;
    } else if (ce) {
        errbuf_set(err, errlen,
                "CA key %s is missing but %s exists: restore the key from a backup, or delete "
                "%s to create a new CA (%s)",
                kp, cp, cp, NEW_CA_HINT);
    } else {
        errbuf_set(err, errlen,
                "CA certificate %s is missing but %s exists: restore the certificate from a "
                "backup, or delete %s to create a new CA (%s)",
                cp, kp, kp, NEW_CA_HINT);
    }
    close(lock);
    return ca;
}

void cert_ca_free(struct cert_ca *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    free(ca);
}

int cert_issue(const struct cert_ca *ca, const char *const *names, size_t n,
               const struct cert_issue_opts *opts, const char *cert_path, const char *key_path,
               char *err, size_t errlen)
{
    if (ca == NULL) {
        errbuf_set(err, errlen, "no CA to sign with");
        return -1;
    }
    return issue(ca->cert, ca->key, names, n, opts, cert_path, key_path, err, errlen);
}

int cert_issue_self_signed(const char *const *names, size_t n, const struct cert_issue_opts *opts,
                           const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    return issue(NULL, NULL, names, n, opts, cert_path, key_path, err, errlen);
}

/* Whether the leaf carries nm exactly among its SANs (a wildcard host must be the same wildcard,
 * which X509_check_host would not match). */
static bool san_has(X509 *x, const struct name *nm)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t tlen = strlen(nm->text);
    bool found = false;

    for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g) && !found; i++) {
        int type;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        size_t len = (size_t)ASN1_STRING_length(s);
        if (nm->iplen != 0 && type == GEN_IPADD)
            found = len == (size_t)nm->iplen && memcmp(d, nm->ip, len) == 0;
        else if (nm->iplen == 0 && type == GEN_DNS)
            found = len == tlen && strncasecmp((const char *)d, nm->text, len) == 0;
    }
    GENERAL_NAMES_free(g);
    ERR_clear_error();
    return found;
}

/* Whether cp/kp hold a usable leaf for nm from ca: key matches, chain to ca verifies for a TLS
 * server now, valid CERT_RENEW_DAYS more days, names nm. Any doubt means no. */
static bool leaf_reusable(const struct cert_ca *ca, const struct name *nm, const char *cp,
                          const char *kp)
{
    X509 *leaf = read_cert(cp, NULL, 0);
    EVP_PKEY *key = leaf != NULL ? read_key(kp, NULL, 0) : NULL;
    X509_STORE *st = NULL;
    X509_STORE_CTX *vc = NULL;
    time_t soon = time(NULL) + (time_t)CERT_RENEW_DAYS * DAY;
    bool good = false;

    if (key == NULL || X509_check_private_key(leaf, key) != 1
        || X509_cmp_time(X509_get0_notAfter(leaf), &soon) <= 0 || !san_has(leaf, nm))
        goto out;
    st = X509_STORE_new();
    vc = X509_STORE_CTX_new();
    if (st == NULL || vc == NULL || X509_STORE_add_cert(st, ca->cert) != 1
        || X509_STORE_CTX_init(vc, st, leaf, NULL) != 1
        || X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_SERVER) != 1)
        goto out;
    good = X509_verify_cert(vc) == 1;
out:
    X509_STORE_CTX_free(vc);
    X509_STORE_free(st);
    EVP_PKEY_free(key);
    X509_free(leaf);
    ERR_clear_error();
    return good;
}

/* File name for a normalized host: the name itself, with "*" spelled "_wildcard". */
static int host_paths(const char *hosts, const struct name *nm, char *cp, size_t ccap, char *kp,
                      size_t kcap)
{
    const char *base = nm->text, *pre = "";
    int a, b;

    if (base[0] == '*') {
        pre = "_wildcard";
        base++;
    }
    a = snprintf(cp, ccap, "%s/%s%s.pem", hosts, pre, base);
    b = snprintf(kp, kcap, "%s/%s%s-key.pem", hosts, pre, base);
    return (a < 0 || (size_t)a >= ccap || b < 0 || (size_t)b >= kcap) ? -1 : 0;
}

int cert_ensure_host(const struct cert_ca *ca, const char *dir, const char *host, char *cert_out,
                     size_t cert_cap, char *key_out, size_t key_cap, char *err, size_t errlen)
{
    char hosts[PATH_CAP];
    struct name nm;
    int lock, rc = 0;

    if (ca == NULL || dir == NULL) {
        errbuf_set(err, errlen, "no CA or state directory");
        return -1;
    }
    if (parse_name(host, &nm, err, errlen) != 0)
        return -1;
    if (join(hosts, sizeof hosts, dir, CERT_HOSTS_DIR) != 0
        || host_paths(hosts, &nm, cert_out, cert_cap, key_out, key_cap) != 0) {
        errbuf_set(err, errlen, "path for host %s is too long", nm.text);
        return -1;
    }
    if (mkdir_p(hosts, err, errlen) != 0)
        return -1;
    lock = lock_dir(dir, err, errlen);
    if (lock < 0)
        return -1;
    if (!leaf_reusable(ca, &nm, cert_out, key_out)) {
        const char *names[1] = { nm.text };
        rc = cert_issue(ca, names, 1, NULL, cert_out, key_out, err, errlen);
    }
    close(lock);
    return rc;
}

/* Appends s to buf[cap] at *len; when it does not fit, ends buf with "..." and returns -1. */
static int append(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 4 > cap) {
        if (*len + 4 <= cap) {
            memcpy(buf + *len, "...", 4);
            *len += 3;
        }
        return -1;
    }
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return 0;
}

/* SANs (DNS and IP) joined by ", "; the CN when there is no SAN; "(none)" when neither. */
static void describe_names(X509 *x, char *buf, size_t cap)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t len = 0;
    char one[CERT_MAX_NAME_LEN + 1];

    buf[0] = '\0';
    for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
        int type;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        int dlen = ASN1_STRING_length(s);
        if (type == GEN_IPADD && (dlen == 4 || dlen == 16)) {
            if (inet_ntop(dlen == 4 ? AF_INET : AF_INET6, d, one, sizeof one) == NULL)
                continue;
        } else if (type == GEN_DNS) {
            int k = 0;
            for (; k < dlen && k < (int)sizeof one - 1; k++)
                one[k] = (d[k] >= 0x20 && d[k] < 0x7f) ? (char)d[k] : '?';
            one[k] = '\0';
        } else {
            continue;
        }
        if ((len > 0 && append(buf, cap, &len, ", ") != 0) || append(buf, cap, &len, one) != 0)
            break;
    }
    GENERAL_NAMES_free(g);
    if (len == 0 && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, one,
                                              (int)sizeof one) > 0)
        append(buf, cap, &len, shown(one, one, sizeof one));
    if (len == 0)
        snprintf(buf, cap, "(none)");
    ERR_clear_error();
}

int cert_describe(const char *cert_path, struct cert_info *info, char *err, size_t errlen)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct tm tm;
    X509 *x;

    if (cert_path == NULL || info == NULL) {
        errbuf_set(err, errlen, "no certificate file or no place for its description");
        return -1;
    }
    x = read_cert(cert_path, err, errlen);
    if (x == NULL)
        return -1;
    memset(info, 0, sizeof *info);
    describe_names(x, info->names, sizeof info->names);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1
        || strftime(info->not_after, sizeof info->not_after, "%Y-%m-%d", &tm) == 0
        || X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen * 3 > sizeof info->sha256) {
        ssl_err(err, errlen, "cannot describe the certificate in %s", cert_path);
        X509_free(x);
        return -1;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        info->sha256[i * 3] = hex[md[i] >> 4];
        info->sha256[i * 3 + 1] = hex[md[i] & 15];
        info->sha256[i * 3 + 2] = i + 1 < mdlen ? ':' : '\0';
    }
    X509_free(x);
    return 0;
}
