/* libFuzzer target for tls_record: a record layer (a tunnel's server side, or a wss:// backend
 * leg's client side) fed, over a socketpair, raw bytes and records a peer seals (data, padding,
 * empty records, alerts, handshake messages, KeyUpdate), with its own reads, writes and
 * shutdown in between; checks the stream contract, not just crashes.
 *
 * Input: [suite byte: value % 3 the suite, (value / 3) & 1 the record layer is a client] then
 * chunks of [op][len] followed, for RAW and SEAL, by len bytes and, for SEAL_BIG, by one type
 * byte; for the other ops len is their parameter. The peer is a second tls_rec with rd and wr
 * swapped; it seals with tls_rec_seal and reads with tls_rec_read, and its KeyUpdates are done
 * by hand (HKDF here) so every byte it sends is a whole record written at once. */
#include "net/stream.h"
#include "tls/tls_record.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    OP_RAW,       /* the bytes as they are, to the server's socket */
    OP_SEAL,      /* first byte: inner content type (0 = the rest ends in its own type and
                     padding); the rest sealed by the peer as one record */
    OP_SEAL_BIG,  /* one byte: the type; a record of len*67 bytes (near and over the
                     16 KiB limit) */
    OP_SRV_WRITE, /* the server writes len*97+1 bytes (or retries what it was refused) */
    OP_SRV_READ,  /* the server reads with a buffer of 1+len*len/3 bytes until it blocks */
    OP_PEER_READ, /* the peer reads what the server sent */
    OP_PEER_KU,   /* the peer sends KeyUpdate (request = len&1); len&2: keeps its old keys */
    OP_SRV_SHUT,  /* tls_rec_shutdown on the server */
    OP_PEER_FIN,  /* the peer's TCP FIN */
    OP_SEQ_NEAR,  /* both ends of one direction jump to just below 2^24 records */
    OP_SRV_KU,    /* the server owes a KeyUpdate */
    OP_SHRINK,    /* small socket buffers (len*64+2048 bytes): writes are cut short */
    OP_COUNT
};

#define SPAT      65536
#define C2S_CAP   (1u << 22)
#define MAX_OFFER (255 * 97 + 1)

static const struct {
    unsigned id;
    size_t secret_len;
    const char *md;
} suites[3] = {
    {TLS_REC_AES_128_GCM_SHA256, 32, "SHA256"},
    {TLS_REC_AES_256_GCM_SHA384, 48, "SHA384"},
    {TLS_REC_CHACHA20_POLY1305_SHA256, 32, "SHA256"},
};

static uint8_t spat[2 * SPAT]; /* server→peer bytes: byte i of the stream is spat[i % SPAT] */
static uint8_t c2s[C2S_CAP];   /* peer→server application bytes, in sealing order */
static uint8_t rbuf[32768], rec[TLS_REC_MAX_WIRE + 1024], body[TLS_REC_MAX_PLAIN + 512];
static EVP_KDF *kdf;

struct st {
    unsigned suite;
    struct tls_rec srv, peer;
    int fd[2];        /* fd[0] the server's end, fd[1] the peer's */
    size_t c2s_len;   /* expected peer→server bytes */
    bool c2s_full;    /* more than C2S_CAP: contents no longer checked */
    size_t srv_got;   /* bytes the server returned */
    ssize_t srv_last; /* last server read result that was not STREAM_AGAIN */
    bool srv_failed;  /* a server call returned STREAM_ERR */
    size_t s2p_sent;  /* bytes tls_rec_write accepted */
    size_t s2p_offer; /* a write the server was refused: offered again, same length */
    size_t s2p_limit; /* the most the peer may get: a record cut short and then flushed by
                         the shutdown arrives though it was never acknowledged */
    size_t peer_got;
    bool peer_done; /* the peer saw an error or EOF: it stops reading */
    bool fin;       /* the peer's FIN was sent */
};

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static size_t readable(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

static void init_once(void)
{
    if (kdf)
        return;
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < SPAT; i++) {
        x = x * 1664525u + 1013904223u;
        spat[i] = spat[i + SPAT] = (uint8_t)(x >> 24);
    }
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

/* The next traffic secret (RFC 8446 §7.2), for the peer's own KeyUpdates. */
static bool next_secret(const struct st *s, uint8_t *secret)
{
    size_t sl = suites[s->suite].secret_len;
    uint8_t info[2 + 1 + 17 + 1] = {0, (uint8_t)sl, 17};
    memcpy(info + 3, "tls13 traffic upd", 17);
    info[20] = 0;
    uint8_t out[48];
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)suites[s->suite].md, 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret, sl),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info),
        OSSL_PARAM_construct_end(),
    };
    bool ok = c && EVP_KDF_derive(c, out, sl, p) == 1;
    EVP_KDF_CTX_free(c);
    if (ok)
        memcpy(secret, out, sl);
    return ok;
}

/* ---- the server's side ---------------------------------------------------------------- */

/* One tls_rec_read with every invariant checked. */
static ssize_t srv_read1(struct st *s, size_t k)
{
    if (k > sizeof rbuf)
        k = sizeof rbuf;
    bool pending = tls_rec_pending(&s->srv);
    bool quiet = !pending && readable(s->fd[0]) == 0 && !s->fin;
    ssize_t r = tls_rec_read(&s->srv, s->fd[0], rbuf, k);
    check(r == STREAM_AGAIN || r == STREAM_ERR || (r >= 0 && (size_t)r <= k));
    if (s->srv_failed)
        check(r == STREAM_ERR); /* failed stays failed */
    else if (s->srv_last == 0)
        check(r == 0); /* EOF stays EOF */
    if (quiet && !s->srv_failed && s->srv_last != 0)
        check(r == STREAM_AGAIN); /* nothing held, nothing in the socket: it must block */
    if (r == STREAM_AGAIN) {
        /* Blocked: only part of a record may be held, and nothing a read could return. */
        check(!tls_rec_pending(&s->srv) && s->srv.plain_len == 0 &&
              s->srv.rx_len < TLS_REC_MAX_WIRE);
    } else if (r == STREAM_ERR) {
        check(s->srv.err != NULL);
        s->srv_failed = true;
        s->srv_last = r;
    } else {
        s->srv_last = r;
        if (r > 0) {
            check(s->srv_got + (size_t)r <= s->c2s_len || s->c2s_full);
            if (!s->c2s_full)
                check(memcmp(rbuf, c2s + s->srv_got, (size_t)r) == 0);
            s->srv_got += (size_t)r;
        }
    }
    return r;
}

static void srv_read(struct st *s, size_t k)
{
    for (int i = 0; i < 64; i++) {
        ssize_t r = srv_read1(s, k);
        if (r == STREAM_AGAIN || r == STREAM_ERR || r == 0)
            return;
    }
}

/* ---- the peer's side ---------------------------------------------------------------- */

static void peer_read(struct st *s, size_t k)
{
    if (k > sizeof rbuf)
        k = sizeof rbuf;
    for (int i = 0; i < 64 && !s->peer_done; i++) {
        ssize_t r = tls_rec_read(&s->peer, s->fd[1], rbuf, k);
        if (r == STREAM_AGAIN)
            return;
        if (r <= 0) {
            /* The server's records are good: the peer fails only on the alert of a server that
             * failed, and sees an end only after the server's close_notify. */
            check(r == 0 ? s->srv.close_notify_sent : s->srv.failed);
            s->peer_done = true;
            return;
        }
        check((size_t)r <= k && s->peer_got + (size_t)r <= s->s2p_limit);
        check(memcmp(rbuf, spat + s->peer_got % SPAT, (size_t)r) == 0);
        s->peer_got += (size_t)r;
        check(!s->peer.key_update_due); /* the server never asks for an update */
    }
}

/* Writes bytes the peer sealed; when the socket is full the server reads to make room. Bytes
 * that cannot be written (the server stopped reading) are dropped: the stream is then broken,
 * which the server must notice, not survive. */
static void peer_put(struct st *s, const uint8_t *p, size_t n)
{
    if (s->fin)
        return;
    for (int tries = 0; n > 0 && tries < 64; tries++) {
        ssize_t w = send(s->fd[1], p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else {
            srv_read(s, sizeof rbuf);
        }
    }
}

static void expect(struct st *s, const uint8_t *p, size_t n)
{
    if (s->c2s_full || s->c2s_len + n > C2S_CAP) {
        s->c2s_full = true;
        return;
    }
    memcpy(c2s + s->c2s_len, p, n);
    s->c2s_len += n;
}

/* Seals body[0, n) as one record of inner type `type`; application data is expected back. */
static void peer_seal(struct st *s, uint8_t type, const uint8_t *p, size_t n)
{
    size_t k = tls_rec_seal(&s->peer, type, p, n, rec);
    check(k == n + TLS_REC_OVERHEAD);
    /* The inner content type is the last non-zero byte of p + type (RFC 8446 §5.4). */
    size_t end = n;
    uint8_t eff = type;
    if (type == 0) {
        while (end > 0 && p[end - 1] == 0)
            end--;
        eff = end ? p[end - 1] : 0;
        end = end ? end - 1 : 0;
    }
    if (eff == 23 && end > 0)
        expect(s, p, end);
    peer_put(s, rec, k);
}

static void peer_key_update(struct st *s, uint8_t request, bool keep_old)
{
    const uint8_t ku[5] = {24, 0, 0, 1, request};
    peer_seal(s, 22, ku, sizeof ku);
    if (keep_old)
        return;
    struct tls_rec next = {0};
    size_t sl = suites[s->suite].secret_len;
    memcpy(next.rd.secret, s->peer.rd.secret, sl);
    memcpy(next.wr.secret, s->peer.wr.secret, sl);
    check(next_secret(s, next.wr.secret));
    check(tls_rec_init(&next, suites[s->suite].id, sl, s->peer.rd.seq, 0) == 0);
    /* The peer's read side carries on: move its held bytes over. */
    next.rd = s->peer.rd;
    next.rx = s->peer.rx;
    next.rx_len = s->peer.rx_len;
    next.plain = s->peer.plain;
    next.plain_off = s->peer.plain_off;
    next.plain_len = s->peer.plain_len;
    next.eof = s->peer.eof;
    next.failed = s->peer.failed;
    s->peer.rx = s->peer.plain = NULL;
    tls_rec_fini(&s->peer);
    s->peer = next;
}

static void srv_write(struct st *s, size_t n)
{
    if (s->s2p_offer)
        n = s->s2p_offer; /* the contract: the same bytes again */
    for (int tries = 0; tries < 16; tries++) {
        bool failed = s->srv.failed, closed = s->srv.close_notify_sent;
        if (s->s2p_sent + n > s->s2p_limit)
            s->s2p_limit = s->s2p_sent + n;
        ssize_t r = tls_rec_write(&s->srv, s->fd[0], spat + s->s2p_sent % SPAT, n);
        check(r == STREAM_AGAIN || r == STREAM_ERR || (r > 0 && (size_t)r <= n));
        if (failed || closed)
            check(r == STREAM_ERR);
        if (r == STREAM_ERR) {
            s->srv_failed |= s->srv.failed;
            s->s2p_offer = 0;
            return;
        }
        if (r > 0) {
            s->s2p_sent += (size_t)r;
            n -= (size_t)r;
            s->s2p_offer = n;
            if (n == 0)
                return;
        } else {
            s->s2p_offer = n;
            peer_read(s, sizeof rbuf);
        }
    }
}

static void srv_shutdown(struct st *s)
{
    bool failed = s->srv.failed;
    int r = tls_rec_shutdown(&s->srv, s->fd[0]);
    check(r == 0 || r == STREAM_AGAIN || r == STREAM_ERR);
    if (failed)
        check(r == STREAM_ERR);
    s->srv_failed |= s->srv.failed;
    /* A record cut short goes out first: its bytes may arrive though never acknowledged. */
}

/* Jumps one direction's sequence numbers to just below 2^24 when nothing is in flight. */
static void seq_near(struct st *s, uint8_t how)
{
    uint64_t near = (UINT64_C(1) << 24) - 1 - (how >> 1 & 3);
    if (how & 1) {
        if (readable(s->fd[1]) == 0 && !s->srv.tx && !s->peer.rx && s->s2p_offer == 0)
            s->srv.wr.seq = s->peer.rd.seq = near;
    } else if (readable(s->fd[0]) == 0 && !s->srv.rx) {
        s->srv.rd.seq = s->peer.wr.seq = near;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    init_once();
    struct st *s = calloc(1, sizeof *s);
    if (!s)
        return 0;
    s->suite = data[0] % 3;
    s->srv.client = (data[0] / 3) & 1; /* half the inputs play a wss:// backend's client side */
    s->srv_last = STREAM_AGAIN;
    size_t sl = suites[s->suite].secret_len;
    for (size_t i = 0; i < sl; i++) {
        s->srv.rd.secret[i] = s->peer.wr.secret[i] = (uint8_t)(i * 13 + 5);
        s->srv.wr.secret[i] = s->peer.rd.secret[i] = (uint8_t)(i * 29 + 11);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s->fd) < 0) {
        free(s);
        return 0;
    }
    check(tls_rec_init(&s->srv, suites[s->suite].id, sl, 0, 0) == 0);
    check(tls_rec_init(&s->peer, suites[s->suite].id, sl, 0, 0) == 0);

    size_t off = 1;
    for (int ops = 0; ops < 2000 && off + 2 <= size; ops++) {
        uint8_t op = data[off] % OP_COUNT, len = data[off + 1];
        off += 2;
        size_t want = op == OP_RAW || op == OP_SEAL ? len : op == OP_SEAL_BIG ? 1 : 0;
        size_t n = size - off < want ? size - off : want;
        const uint8_t *p = data + off;
        off += n;
        switch (op) {
        case OP_RAW:
            peer_put(s, p, n);
            break;
        case OP_SEAL:
            if (n >= 1)
                peer_seal(s, p[0], p + 1, n - 1);
            break;
        case OP_SEAL_BIG: {
            size_t total = (size_t)len * 67;
            if (total > TLS_REC_MAX_PLAIN + 300)
                total = TLS_REC_MAX_PLAIN + 300;
            uint8_t type = n ? p[0] : 23;
            for (size_t i = 0; i < total; i++)
                body[i] = (uint8_t)(i * 7 + len);
            peer_seal(s, type, body, total);
            break;
        }
        case OP_SRV_WRITE:
            srv_write(s, (size_t)len * 97 + 1);
            break;
        case OP_SRV_READ:
            srv_read(s, 1 + (size_t)len * len / 3);
            break;
        case OP_PEER_READ:
            peer_read(s, 1 + (size_t)len * 64);
            break;
        case OP_PEER_KU:
            peer_key_update(s, len & 1, len & 2);
            break;
        case OP_SRV_SHUT:
            srv_shutdown(s);
            break;
        case OP_PEER_FIN:
            shutdown(s->fd[1], SHUT_WR);
            s->fin = true;
            break;
        case OP_SEQ_NEAR:
            seq_near(s, len);
            break;
        case OP_SRV_KU:
            s->srv.key_update_due = true;
            break;
        case OP_SHRINK: {
            int v = len * 64 + 2048;
            for (int i = 0; i < 2; i++) {
                setsockopt(s->fd[i], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
                setsockopt(s->fd[i], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
            }
            break;
        }
        }
    }
    /* The end: what is left is read, and every check runs once more. */
    srv_read(s, sizeof rbuf);
    peer_read(s, sizeof rbuf);
    tls_rec_fini(&s->srv);
    tls_rec_fini(&s->peer);
    close(s->fd[0]);
    close(s->fd[1]);
    free(s);
    return 0;
}
