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

#include <openssl/err.h>
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
    } else {
        printf("#   %s\n", err);
    }
    ERR_clear_error();
    rm_tree(root);
    return tap_done();
}
