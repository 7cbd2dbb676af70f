/* Unit tests for tls/tls_kdf_tap.c: the secrets the tap shows are exactly the application
 * traffic secrets OpenSSL's own key log reports, for SHA-256 and SHA-384 suites, on both sides;
 * an unarmed thread is shown nothing; a context that goes through the tap still interoperates
 * with one that does not. Handshakes run in memory, over BIO pairs. */
#include "rm_tree.h"
#include "tap.h"
#include "tls/cert.h"
#include "tls/tls_handover.h"
#include "tls/tls_kdf_tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

/* What one side saw: hex of each secret, from the tap and from the key log. */
struct seen {
    char tap[2][100], log[2][100];
    int taps;
};

static struct seen *seen_of[2]; /* [0] server, [1] client: the key log has no argument */

/* Lower-case hex of p[0..n) (n ≤ 48), as the key log writes it; out has room for 97 bytes. */
static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i = 0;
    for (; i < n && i < 48; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * i] = '\0';
}

static void on_tap(void *arg, enum tls_kdf_secret which, const uint8_t *secret, size_t len)
{
    struct seen *s = arg;
    s->taps++;
    hex(s->tap[which == TLS_KDF_CLIENT_APP ? 0 : 1], secret, len);
}

static void on_keylog(const SSL *ssl, const char *line)
{
    struct seen *s = seen_of[SSL_is_server(ssl) ? 0 : 1];
    static const char c[] = "CLIENT_TRAFFIC_SECRET_0 ", sv[] = "SERVER_TRAFFIC_SECRET_0 ";
    int which = strncmp(line, c, sizeof c - 1) == 0     ? 0
                : strncmp(line, sv, sizeof sv - 1) == 0 ? 1
                                                        : -1;
    const char *secret = which >= 0 ? strrchr(line, ' ') : NULL;
    size_t n = secret ? strlen(secret + 1) : 0;
    if (secret && n < sizeof s->log[0])
        memcpy(s->log[which], secret + 1, n + 1);
}

/* One step of one side's handshake, the tap armed for seen if given. false on failure. */
static bool step(SSL *ssl, struct seen *seen, bool *done)
{
    if (*done)
        return true;
    if (seen)
        tls_kdf_tap_arm(on_tap, seen);
    int r = SSL_do_handshake(ssl);
    tls_kdf_tap_disarm();
    *done = r == 1;
    return r == 1 || SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
}

/* Drives both handshakes in turns (bounded). */
static bool handshake(SSL *srv, SSL *cli, struct seen *ss, struct seen *cs)
{
    bool sdone = false, cdone = false;
    for (int i = 0; i < 100 && !(sdone && cdone); i++)
        if (!step(cli, cs, &cdone) || !step(srv, ss, &sdone))
            return false;
    return sdone && cdone;
}

static bool pair(SSL_CTX *sctx, SSL_CTX *cctx, SSL **srv, SSL **cli)
{
    BIO *a = NULL, *b = NULL;
    *srv = SSL_new(sctx);
    *cli = SSL_new(cctx);
    if (!*srv || !*cli || BIO_new_bio_pair(&a, 0, &b, 0) != 1)
        return false;
    SSL_set_bio(*srv, a, a);
    SSL_set_bio(*cli, b, b);
    SSL_set_accept_state(*srv);
    SSL_set_connect_state(*cli);
    return true;
}

static SSL_CTX *server_ctx(bool tapped, const char *cert, const char *key)
{
    SSL_CTX *c =
        tapped ? tls_handover_ctx_new(TLS_server_method()) : SSL_CTX_new(TLS_server_method());
    if (!c || SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1)
        return NULL;
    SSL_CTX_set_keylog_callback(c, on_keylog);
    return c;
}

static SSL_CTX *client_ctx(bool tapped, const char *suite)
{
    SSL_CTX *c =
        tapped ? tls_handover_ctx_new(TLS_client_method()) : SSL_CTX_new(TLS_client_method());
    if (!c)
        return NULL;
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_ciphersuites(c, suite);
    SSL_CTX_set_keylog_callback(c, on_keylog);
    return c;
}

/* One handshake; both sides tapped and armed; the tap must agree with the key log. */
static void same_as_keylog(const char *suite, size_t secret_len, const char *cert, const char *key)
{
    char nm[200];
    struct seen ss = {0}, cs = {0};
    seen_of[0] = &ss;
    seen_of[1] = &cs;
    SSL_CTX *sctx = server_ctx(true, cert, key), *cctx = client_ctx(true, suite);
    SSL *srv = NULL, *cli = NULL;
    snprintf(nm, sizeof nm, "%s: handshake through the tap", suite);
    if (ok(sctx && cctx && pair(sctx, cctx, &srv, &cli) && handshake(srv, cli, &ss, &cs), nm)) {
        snprintf(nm, sizeof nm, "%s: negotiated", suite);
        ok(strcmp(SSL_CIPHER_get_name(SSL_get_current_cipher(srv)), suite) == 0, nm);
        for (int side = 0; side < 2; side++) {
            struct seen *s = side ? &cs : &ss;
            const char *who = side ? "client" : "server";
            snprintf(nm, sizeof nm, "%s, %s: two secrets shown, once each", suite, who);
            is_int(s->taps, 2, nm);
            for (int w = 0; w < 2; w++) {
                snprintf(nm, sizeof nm, "%s, %s: the %s secret is the key log's (%zu bytes)", suite,
                         who, w ? "server's" : "client's", secret_len);
                ok(strlen(s->log[w]) == 2 * secret_len && strcmp(s->tap[w], s->log[w]) == 0, nm);
            }
        }
        /* Application data still flows: the derivations through the tap are OpenSSL's own. */
        size_t n = 0;
        char buf[8];
        snprintf(nm, sizeof nm, "%s: application data after the handshake", suite);
        ok(SSL_write_ex(cli, "ping", 4, &n) == 1 && SSL_read_ex(srv, buf, sizeof buf, &n) == 1 &&
               n == 4 && memcmp(buf, "ping", 4) == 0,
           nm);
    }
    SSL_free(srv);
    SSL_free(cli);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

/* Tapped contexts, nothing armed: no callback; a tapped server with a plain client works. */
static void unarmed(const char *cert, const char *key)
{
    struct seen ss = {0}, cs = {0};
    seen_of[0] = &ss;
    seen_of[1] = &cs;
    SSL_CTX *sctx = server_ctx(true, cert, key),
            *cctx = client_ctx(false, "TLS_AES_128_GCM_SHA256");
    SSL *srv = NULL, *cli = NULL;
    struct seen other = {0};
    /* Armed for another connection between the calls, as a worker thread would be. */
    tls_kdf_tap_arm(on_tap, &other);
    tls_kdf_tap_disarm();
    if (ok(sctx && cctx && pair(sctx, cctx, &srv, &cli) && handshake(srv, cli, NULL, NULL),
           "unarmed: a tapped server and a plain client complete the handshake")) {
        is_int(other.taps + ss.taps + cs.taps, 0, "unarmed: no secret shown to anyone");
        ok(strlen(ss.log[0]) == 64 && strlen(cs.log[1]) == 64,
           "unarmed: the key log still works beside the tap");
    }
    SSL_free(srv);
    SSL_free(cli);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

/* ---- the native derivation against OpenSSL's own TLS13-KDF, byte for byte ---- */

struct kdf_call {
    int mode;             /* EVP_KDF_HKDF_MODE_* */
    const char *digest;   /* as a caller names it */
    size_t key_len;       /* 0: no key parameter */
    size_t salt_len;      /* 0: no salt parameter */
    const char *label;
    size_t data_len;      /* 0: no data parameter */
    size_t outlen;
    bool mode_as_string;  /* "EXPAND_ONLY" rather than an int: left to OpenSSL */
    bool with_properties; /* a property query: left to OpenSSL */
};

/* Builds c's parameters over fixed pseudo-random bytes; returns the end of the array. */
static OSSL_PARAM *kdf_params(OSSL_PARAM *p, const struct kdf_call *c, int *mode)
{
    static uint8_t bytes[3][64];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 64; j++)
            bytes[i][j] = (uint8_t)(i * 101 + j * 7 + 13);
    *mode = c->mode;
    if (c->mode_as_string)
        *p++ = OSSL_PARAM_construct_utf8_string(
            OSSL_KDF_PARAM_MODE,
            c->mode == EVP_KDF_HKDF_MODE_EXPAND_ONLY ? "EXPAND_ONLY" : "EXTRACT_ONLY", 0);
    else
        *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)c->digest, 0);
    if (c->with_properties)
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_PROPERTIES, "", 0);
    if (c->key_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, bytes[0], c->key_len);
    if (c->salt_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, bytes[1], c->salt_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, "tls13 ", 6);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (char *)c->label,
                                             strlen(c->label));
    if (c->data_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, bytes[2], c->data_len);
    *p = OSSL_PARAM_construct_end();
    return p;
}

/* Derives c through kdf (bit 1 of the result when it worked); then, on the same context, once
 * more with only a new label, the context keeping the rest (bit 2); then through a copy of the
 * context, which OpenSSL 3.0's TLS13-KDF cannot make (bit 4). */
static int kdf_run(EVP_KDF *kdf, const struct kdf_call *c, uint8_t out[3][600])
{
    OSSL_PARAM params[12];
    int mode, done = 0;
    kdf_params(params, c, &mode);
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(kdf), *d = NULL;
    OSSL_PARAM relabel[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, "other", 5),
        OSSL_PARAM_construct_end(),
    };
    if (k && EVP_KDF_derive(k, out[0], c->outlen, params) == 1)
        done |= 1;
    if (k && EVP_KDF_derive(k, out[1], c->outlen, relabel) == 1)
        done |= 2;
    if (k && (d = EVP_KDF_CTX_dup(k)) && EVP_KDF_derive(d, out[2], c->outlen, NULL) == 1)
        done |= 4;
    EVP_KDF_CTX_free(d);
    EVP_KDF_CTX_free(k);
    ERR_clear_error();
    return done;
}

static void native_matches_openssl(void)
{
    EVP_KDF *ours = EVP_KDF_fetch(NULL, "TLS13-KDF", "provider=wssgate");
    EVP_KDF *theirs = EVP_KDF_fetch(NULL, "TLS13-KDF", "provider=default");
    if (!ok(ours && theirs, "TLS13-KDF: ours and OpenSSL's default fetched")) {
        EVP_KDF_free(ours);
        EVP_KDF_free(theirs);
        return;
    }
    const int X = EVP_KDF_HKDF_MODE_EXPAND_ONLY, E = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    static const char *const d256 = "SHA2-256", *const d384 = "SHA384";
    const struct kdf_call calls[] = {
        {X, d256, 32, 0, "c hs traffic", 32, 32, false, false},
        {X, d256, 32, 0, "key", 0, 16, false, false},
        {X, d256, 32, 0, "iv", 0, 12, false, false},
        {X, "SHA256", 32, 0, "finished", 0, 32, false, false},
        {X, d384, 48, 0, "s ap traffic", 48, 48, false, false},
        {X, d384, 48, 0, "key", 0, 32, false, false},
        {X, d256, 32, 0, "res binder", 32, 100, false, false}, /* more than one block */
        {X, d256, 20, 0, "short key", 7, 32, false, false},
        {E, d256, 0, 0, "derived", 0, 32, false, false},  /* early secret, no PSK */
        {E, d256, 32, 0, "derived", 0, 32, false, false}, /* early secret from a PSK */
        {E, d256, 32, 32, "derived", 0, 32, false, false}, /* handshake secret */
        {E, d256, 0, 32, "derived", 0, 32, false, false},  /* master secret */
        {E, d384, 48, 48, "derived", 0, 48, false, false},
        {E, d384, 0, 48, "derived", 0, 48, false, false},
        /* left to OpenSSL: */
        {X, d256, 32, 0, "key", 0, 16, true, false},
        {X, d256, 32, 0, "key", 0, 16, false, true},
        {X, "SHA2-512", 64, 0, "c hs traffic", 64, 64, false, false},
        {E, d256, 32, 20, "derived", 0, 32, false, false}, /* a salt shorter than the hash */
        {E, d256, 32, 32, "derived", 0, 16, false, false}, /* wrong output size: both fail */
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        const struct kdf_call *c = &calls[i];
        uint8_t a[3][600], b[3][600];
        memset(a, 0xAA, sizeof a);
        memset(b, 0x55, sizeof b);
        int ra = kdf_run(ours, c, a), rb = kdf_run(theirs, c, b);
        bool same = ra == rb;
        for (int step = 0; step < 3; step++)
            if (rb & (1 << step))
                same = same && memcmp(a[step], b[step], c->outlen) == 0;
        char nm[240];
        snprintf(nm, sizeof nm,
                 "TLS13-KDF %s %s \"%s\" key %zu salt %zu data %zu → %zu%s%s: as OpenSSL's "
                 "(derived %s, relabelled %s, copied %s)",
                 c->mode == X ? "expand" : "extract", c->digest, c->label, c->key_len,
                 c->salt_len, c->data_len, c->outlen, c->mode_as_string ? " (mode string)" : "",
                 c->with_properties ? " (properties)" : "", rb & 1 ? "same bytes" : "fails",
                 rb & 2 ? "same bytes" : "fails", rb & 4 ? "same bytes" : "fails");
        ok(same, nm);
    }
    EVP_KDF_free(ours);
    EVP_KDF_free(theirs);
}

/* One derivation of params through each KDF, on a fresh context (after a reset of a used one
 * if reset_first): the same success and the same bytes. */
static void same_edge(EVP_KDF *ours, EVP_KDF *theirs, const OSSL_PARAM *params, size_t outlen,
                      bool reset_first, const char *what)
{
    static uint8_t a[255 * 48 + 1], b[255 * 48 + 1];
    int r[2];
    for (int i = 0; i < 2; i++) {
        EVP_KDF_CTX *k = EVP_KDF_CTX_new(i ? theirs : ours);
        uint8_t *out = i ? b : a;
        memset(out, i ? 0x55 : 0xAA, outlen + 1);
        if (k && reset_first) {
            EVP_KDF_derive(k, out, outlen ? outlen : 1, params);
            EVP_KDF_CTX_reset(k);
        }
        r[i] = k && EVP_KDF_derive(k, out, outlen, params) == 1;
        EVP_KDF_CTX_free(k);
        ERR_clear_error();
    }
    char nm[200];
    snprintf(nm, sizeof nm, "TLS13-KDF edge: %s: as OpenSSL's (%s)", what,
             r[1] ? "same bytes" : "fails");
    ok(r[0] == r[1] && (!r[1] || memcmp(a, b, outlen) == 0), nm);
}

/* An EXPAND_ONLY derivation of "key" (or label) from a 32-byte key, with one thing made odd. */
enum edge { EDGE_PLAIN, EDGE_LONG_KEY, EDGE_NULL_KEY, EDGE_PTR_KEY, EDGE_LABEL_TWICE,
            EDGE_DIGEST_PTR };

static void edge_params(OSSL_PARAM *p, enum edge e, int *mode)
{
    static uint8_t key[64] = {1, 2, 3}, data[32] = {9};
    static void *data_ptr = data;
    static const char *sha = "SHA256";
    *mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, mode);
    *p++ = e == EDGE_DIGEST_PTR
               ? OSSL_PARAM_construct_utf8_ptr(OSSL_KDF_PARAM_DIGEST, (char **)&sha, 0)
               : OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)sha, 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, "tls13 ", 6);
    *p++ = e == EDGE_NULL_KEY  ? OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, NULL, 0)
           : e == EDGE_PTR_KEY ? OSSL_PARAM_construct_octet_ptr(OSSL_KDF_PARAM_KEY, &data_ptr, 32)
                               : OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key,
                                                                   e == EDGE_LONG_KEY ? 64 : 32);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, "key", 3);
    if (e == EDGE_LABEL_TWICE)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, "iv", 2);
    if (e == EDGE_PLAIN)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, data, 32);
    *p = OSSL_PARAM_construct_end();
}

/* Inputs libssl never sends: what OpenSSL does with them is what the provider must do. */
static void edge_cases(void)
{
    EVP_KDF *ours = EVP_KDF_fetch(NULL, "TLS13-KDF", "provider=wssgate");
    EVP_KDF *theirs = EVP_KDF_fetch(NULL, "TLS13-KDF", "provider=default");
    static const struct {
        enum edge e;
        size_t outlen;
        bool reset_first;
        const char *what;
    } cases[] = {
        {EDGE_PLAIN, 0, false, "expand to 0 bytes"},
        {EDGE_PLAIN, 255 * 32, false, "expand to 255 × HashLen bytes"},
        {EDGE_PLAIN, 255 * 32 + 1, false, "expand to 255 × HashLen + 1 bytes"},
        {EDGE_PLAIN, 32, true, "reset, then derive"},
        {EDGE_LONG_KEY, 16, false, "a 64-byte key"},
        {EDGE_NULL_KEY, 16, false, "a key with NULL data"},
        {EDGE_PTR_KEY, 16, false, "a key as an OCTET_PTR"},
        {EDGE_LABEL_TWICE, 16, false, "the label given twice"},
        {EDGE_DIGEST_PTR, 16, false, "the digest as a UTF8_PTR"},
    };
    if (ok(ours && theirs, "TLS13-KDF edge: both fetched")) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            OSSL_PARAM params[8];
            int mode;
            edge_params(params, cases[i].e, &mode);
            same_edge(ours, theirs, params, cases[i].outlen, cases[i].reset_first,
                      cases[i].what);
        }
    }
    EVP_KDF_free(ours);
    EVP_KDF_free(theirs);
}

int main(void)
{
    char root[64], cert[128], key[128], err[512];
    static const char *const names[] = {"localhost"};
    snprintf(root, sizeof root, "/tmp/wssgate-kdftap-XXXXXX");
    bool setup = mkdtemp(root) != NULL;
    snprintf(cert, sizeof cert, "%s/cert.pem", root);
    snprintf(key, sizeof key, "%s/key.pem", root);
    setup = setup && cert_issue_self_signed(names, 1, NULL, cert, key, err, sizeof err) == 0;
    ok(tls_kdf_tap_propq() != NULL, "the provider loads");
    if (ok(setup, "setup: a certificate")) {
        same_as_keylog("TLS_AES_128_GCM_SHA256", 32, cert, key);
        same_as_keylog("TLS_AES_256_GCM_SHA384", 48, cert, key);
        same_as_keylog("TLS_CHACHA20_POLY1305_SHA256", 32, cert, key);
        unarmed(cert, key);
        native_matches_openssl();
        edge_cases();
    } else {
        printf("#   %s\n", err);
    }
    ERR_clear_error();
    rm_tree(root);
    return tap_done();
}
