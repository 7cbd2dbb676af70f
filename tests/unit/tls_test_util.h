/* Helpers shared by the tls_record and tls_offload unit tests: the suites, a byte pattern, HKDF
 * labels, and one end of a connection (record layer, stream or OpenSSL) with flows between two. */
#ifndef WSSGATE_TESTS_TLS_TEST_UTIL_H
#define WSSGATE_TESTS_TLS_TEST_UTIL_H

#include "net/stream.h"
#include "tls/tls_record.h"
#include "tls/tls_stream.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

/* ---- shared helpers ---------------------------------------------------------------------- */

struct suite {
    unsigned id;
    size_t secret_len;
    const char *name; /* OpenSSL's TLS 1.3 name */
    const char *md;
};

static const struct suite suites[3] = {
    {0x1301, 32, "TLS_AES_128_GCM_SHA256", "SHA256"},
    {0x1302, 48, "TLS_AES_256_GCM_SHA384", "SHA384"},
    {0x1303, 32, "TLS_CHACHA20_POLY1305_SHA256", "SHA256"},
};

#define PAT_LEN ((1u << 20) + 65536u)
static uint8_t pat[PAT_LEN]; /* pseudo-random bytes: a misplaced byte shows */
static char label[320];

static inline const char *name_of(const char *what, const struct suite *su)
{
    snprintf(label, sizeof label, "%s: %s", su->name, what);
    return label;
}

static inline void fill_pattern(void)
{
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PAT_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pat[i] = (uint8_t)x;
    }
}

static inline size_t hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s && n < cap) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* HKDF-Expand-Label(secret, label, "", olen), written here independently of tls_record.c. */
static inline bool expand_label(const char *md, const uint8_t *secret, size_t slen, const char *lbl,
                                uint8_t *out, size_t olen)
{
    uint8_t info[64];
    size_t ll = strlen(lbl);
    info[0] = (uint8_t)(olen >> 8);
    info[1] = (uint8_t)olen;
    info[2] = (uint8_t)(6 + ll);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, lbl, ll);
    info[9 + ll] = 0;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + ll),
        OSSL_PARAM_construct_end(),
    };
    bool r = c && EVP_KDF_derive(c, out, olen, p) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
    return r;
}

static inline void next_secret(const struct suite *su, const uint8_t *secret, uint8_t *out)
{
    if (!expand_label(su->md, secret, su->secret_len, "traffic upd", out, su->secret_len))
        memset(out, 0, su->secret_len);
}

static inline size_t readable(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/* Writes all of p to a non-blocking fd that has room (small test records). */
static inline bool put(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (int tries = 0; n > 0 && tries < 1000; tries++) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
        }
    }
    if (n)
        printf("#   could not write %zu bytes\n", n);
    return n == 0;
}

/* ---- one end of a connection: a record layer, a wssgate stream or an OpenSSL client ------ */

struct end {
    const char *name;
    struct tls_rec *rec; /* a record layer over fd */
    int fd;
    struct stream *s; /* or a stream */
    SSL *ssl;         /* or OpenSSL */
    bool offload;     /* try tls_stream_offload(s) before each call */
    bool write_pending, offloaded_while_pending;
    unsigned again, short_writes;
};

static inline ssize_t ssl_fail(SSL *ssl, int r)
{
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return STREAM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default: {
        char why[256] = "";
        unsigned long e = ERR_peek_error();
        if (e)
            ERR_error_string_n(e, why, sizeof why);
        printf("#   OpenSSL: %s\n", why);
        ERR_clear_error();
        return STREAM_ERR;
    }
    }
}

static inline void maybe_offload(struct end *e)
{
    if (!e->offload || !e->s)
        return;
    bool before = e->s->ops == &tls_record_stream_ops;
    if (tls_stream_offload(e->s) && !before && e->write_pending)
        e->offloaded_while_pending = true;
}

static inline ssize_t end_read(struct end *e, void *p, size_t n)
{
    maybe_offload(e);
    if (e->rec)
        return tls_rec_read(e->rec, e->fd, p, n);
    if (e->s)
        return stream_read(e->s, p, n);
    size_t got = 0;
    if (SSL_read_ex(e->ssl, p, n, &got) == 1)
        return (ssize_t)got;
    return ssl_fail(e->ssl, 0);
}

static inline ssize_t end_write(struct end *e, const void *p, size_t n)
{
    ssize_t k;
    maybe_offload(e);
    if (e->rec) {
        k = tls_rec_write(e->rec, e->fd, p, n);
    } else if (e->s) {
        k = stream_write(e->s, p, n);
    } else {
        size_t put_n = 0;
        k = SSL_write_ex(e->ssl, p, n, &put_n) == 1 ? (ssize_t)put_n : ssl_fail(e->ssl, 0);
    }
    e->write_pending = k == STREAM_AGAIN;
    if (k == STREAM_AGAIN)
        e->again++;
    else if (k > 0 && (size_t)k < n)
        e->short_writes++;
    return k;
}

/* One direction of traffic: data[0, len) from w to r. */
struct flow {
    struct end *w, *r;
    const uint8_t *data;
    size_t len, wmax, rmax;
    size_t woff, roff, offer;
    bool bad;
};

static inline struct flow flow(struct end *w, struct end *r, const uint8_t *data, size_t len,
                               size_t wmax, size_t rmax)
{
    return (struct flow){.w = w, .r = r, .data = data, .len = len, .wmax = wmax, .rmax = rmax};
}

/* One round of a flow: a write (the same bytes again after STREAM_AGAIN, the rest after a
 * short write), then reads until STREAM_AGAIN. Returns whether anything moved. */
static inline bool flow_step(struct flow *f)
{
    static uint8_t rb[65536];
    bool moved = false;
    if (f->woff < f->len) {
        if (f->offer == 0)
            f->offer = f->len - f->woff < f->wmax ? f->len - f->woff : f->wmax;
        ssize_t k = end_write(f->w, f->data + f->woff, f->offer);
        if (k > 0) {
            if ((size_t)k > f->offer) {
                printf("#   %s wrote %zd of %zu offered\n", f->w->name, k, f->offer);
                f->bad = true;
                return false;
            }
            f->woff += (size_t)k;
            f->offer -= (size_t)k;
            moved = true;
        } else if (k != STREAM_AGAIN) {
            printf("#   %s write returned %zd\n", f->w->name, k);
            f->bad = true;
            return false;
        }
    }
    size_t rmax = f->rmax < sizeof rb ? f->rmax : sizeof rb;
    for (int i = 0; i < 256 && f->roff < f->len; i++) {
        ssize_t k = end_read(f->r, rb, rmax);
        if (k == STREAM_AGAIN)
            break;
        if (k <= 0) {
            printf("#   %s read returned %zd at %zu of %zu\n", f->r->name, k, f->roff, f->len);
            f->bad = true;
            return false;
        }
        if ((size_t)k > rmax || f->roff + (size_t)k > f->len ||
            memcmp(rb, f->data + f->roff, (size_t)k) != 0) {
            printf("#   %s read %zd bytes that differ at %zu\n", f->r->name, k, f->roff);
            f->bad = true;
            return false;
        }
        f->roff += (size_t)k;
        moved = true;
    }
    return moved;
}

/* Runs flows together until every byte arrived, one fails, or nothing moves for a while. */
static inline bool run_flows(struct flow *f, int nf)
{
    int idle = 0;
    for (long round = 0; round < 5000000 && idle < 200; round++) {
        bool moved = false, done = true;
        for (int i = 0; i < nf; i++) {
            if (f[i].roff == f[i].len)
                continue;
            moved |= flow_step(&f[i]);
            if (f[i].bad)
                return false;
            done = false;
        }
        if (done)
            return true;
        idle = moved ? 0 : idle + 1;
    }
    for (int i = 0; i < nf; i++)
        if (f[i].roff != f[i].len)
            printf("#   %s -> %s stalled: written %zu, read %zu of %zu\n", f[i].w->name,
                   f[i].r->name, f[i].woff, f[i].roff, f[i].len);
    return false;
}

static inline bool pump(struct end *w, struct end *r, const uint8_t *data, size_t len, size_t wmax,
                        size_t rmax)
{
    struct flow f = flow(w, r, data, len, wmax, rmax);
    return run_flows(&f, 1);
}

/* Reads one result that is not STREAM_AGAIN (bounded). */
static inline ssize_t read_settled(struct end *e, void *p, size_t n)
{
    ssize_t k = STREAM_AGAIN;
    for (int i = 0; i < 200 && k == STREAM_AGAIN; i++)
        k = end_read(e, p, n);
    return k;
}

#endif
