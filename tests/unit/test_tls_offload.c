/* Unit tests for tls_stream_offload: a real OpenSSL client against a wssgate server stream that
 * moves onto the record layer, for each suite, at awkward times, after TLS 1.2 and resumption;
 * and a wssgate client stream (a wss:// backend's) against a real OpenSSL server. */
#include "core/buf.h"
#include "ev/loop.h"
#include "net/stream.h"
#include "rm_tree.h"
#include "tap.h"
#include "tls/cert.h"
#include "tls/tls_ctx.h"
#include "tls/tls_record.h"
#include "tls/tls_stream.h"
#include "tls_test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* ---- a real OpenSSL client against a server stream ---------------------------------------- */

struct ku_seen {
    int n, last_request;
};

static void on_client_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                          SSL *ssl, void *arg)
{
    (void)version;
    (void)ssl;
    const uint8_t *b = buf;
    struct ku_seen *k = arg;
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len >= 5 && b[0] == SSL3_MT_KEY_UPDATE) {
        k->n++;
        k->last_request = b[4];
    }
}

struct conn {
    int fd[2];
    struct stream s;
    SSL *cl;
    struct ku_seen ku;
    struct end es, ec;
};

/* Runs the handshake of c->cl (OpenSSL, either side) and c->s (ours) in turns, bounded. */
static bool handshake(struct conn *c)
{
    bool odone = false, sdone = false;
    for (int i = 0; i < 1000 && !(odone && sdone); i++) {
        if (!odone) {
            int r = SSL_do_handshake(c->cl);
            if (r == 1)
                odone = true;
            else if (ssl_fail(c->cl, r) != STREAM_AGAIN)
                return false;
        }
        if (!sdone) {
            int r = stream_handshake(&c->s);
            if (r == 0)
                sdone = true;
            else if (r != STREAM_AGAIN) {
                printf("#   %s handshake: %s\n", c->es.name, c->s.err ? c->s.err : "?");
                return false;
            }
        }
    }
    return odone && sdone;
}

static bool conn_open(struct conn *c, SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess)
{
    memset(c, 0, sizeof *c);
    c->fd[0] = c->fd[1] = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, c->fd) < 0)
        return false;
    int sfd = c->fd[0];
    c->fd[0] = -1; /* the stream owns it */
    if (tls_stream_init_server(&c->s, sfd, sctx) < 0)
        return false;
    c->cl = SSL_new(cctx);
    if (!c->cl || SSL_set_fd(c->cl, c->fd[1]) != 1)
        return false;
    SSL_set_connect_state(c->cl);
    SSL_set_tlsext_host_name(c->cl, "localhost");
    SSL_set_msg_callback(c->cl, on_client_msg);
    SSL_set_msg_callback_arg(c->cl, &c->ku);
    if (sess)
        SSL_set_session(c->cl, sess);
    c->es = (struct end){.name = "server stream", .s = &c->s};
    c->ec = (struct end){.name = "OpenSSL client", .ssl = c->cl};
    return handshake(c);
}

static void conn_close(struct conn *c)
{
    /* A client SSL freed without close_notify marks its session not resumable. */
    if (c->cl)
        SSL_shutdown(c->cl);
    SSL_free(c->cl);
    c->cl = NULL;
    if (c->fd[1] >= 0)
        close(c->fd[1]);
    c->fd[1] = -1;
    stream_close(&c->s);
}

static SSL_CTX *client_ctx(const char *suite_name, int max_version)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c)
        return NULL;
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT);
    if (suite_name)
        SSL_CTX_set_ciphersuites(c, suite_name);
    if (max_version)
        SSL_CTX_set_max_proto_version(c, max_version);
    return c;
}

static const char upgrade_req[] = "GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
static const char upgrade_resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n\r\n";

static bool http_exchange(struct conn *c)
{
    return pump(&c->ec, &c->es, (const uint8_t *)upgrade_req, sizeof upgrade_req - 1, 4096, 4096) &&
           pump(&c->es, &c->ec, (const uint8_t *)upgrade_resp, sizeof upgrade_resp - 1, 4096, 4096);
}

/* Offloads, reading the server side in between (bounded). Returns the calls it took, or 0. */
static int offload(struct conn *c)
{
    uint8_t b[64];
    for (int i = 1; i <= 20; i++) {
        if (tls_stream_offload(&c->s))
            return i;
        if (c->s.ops == &tls_stream_ops && stream_read(&c->s, b, sizeof b) > 0) {
            printf("#   unexpected data while offloading\n");
            return 0;
        }
    }
    return 0;
}

static bool offloaded(const struct conn *c)
{
    return c->s.ops == &tls_record_stream_ops && c->s.ssl == NULL && c->s.rd_wait == EV_READ &&
           c->s.wr_wait == EV_WRITE;
}

static bool exchange_many(struct conn *c, int count, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < count; i++) {
        x = x * 1103515245u + 12345u;
        size_t len =
            i < 8 ? (size_t[]){1, 2, 16383, 16384, 16385, 20000, 3, 100}[i] : 1 + (x >> 8) % 20000;
        size_t off = (x >> 4) % 65536;
        struct flow f[2] = {
            flow(&c->ec, &c->es, pat + off, len, len, 1 + (x >> 3) % 17000),
            flow(&c->es, &c->ec, pat + off + 1, len, len, 1 + (x >> 5) % 17000),
        };
        if (!run_flows(f, 2)) {
            printf("#   message %d (%zu bytes) failed\n", i, len);
            return false;
        }
    }
    return true;
}

static void test_interop_suite(SSL_CTX *sctx, const struct suite *su)
{
    SSL_CTX *cctx = client_ctx(su->name, 0);
    struct conn c;
    uint8_t b[4096];
    if (!ok(conn_open(&c, sctx, cctx, NULL), name_of("interop: handshake", su))) {
        conn_close(&c);
        SSL_CTX_free(cctx);
        return;
    }
    const SSL_CIPHER *ci = SSL_get_current_cipher(c.cl);
    ok(ci && SSL_CIPHER_get_protocol_id(ci) == su->id && SSL_version(c.cl) == TLS1_3_VERSION,
       name_of("interop: TLS 1.3 with the forced suite", su));
    ok(http_exchange(&c), name_of("interop: upgrade request and 101 over OpenSSL", su));
    int calls = offload(&c);
    ok(calls > 0, name_of("interop: tls_stream_offload", su));
    printf("#   offloaded after %d call(s)\n", calls);
    ok(offloaded(&c), name_of("interop: record stream ops, no SSL, waits reset", su));
    ok(tls_stream_offload(&c.s), name_of("interop: offload again says true", su));

    ok(exchange_many(&c, 60, su->id),
       name_of("interop: 60 messages of 1..20000 bytes each way", su));

    /* Held bytes after the move are seen by tls_stream_pending. */
    ok(pump(&c.ec, &c.es, pat, 1, 1, 1) && SSL_write(c.cl, pat + 1, 3000) == 3000,
       name_of("interop: client wrote 3000 bytes", su));
    ssize_t k = read_settled(&c.es, b, 1);
    ok(k == 1 && b[0] == pat[1], name_of("interop: 1-byte read", su));
    ok(readable(c.s.fd) > 0 || tls_stream_pending(&c.s),
       name_of("interop: the rest is in the socket or pending", su));
    size_t got = 1;
    for (int i = 0; i < 100 && got < 3000; i++) {
        k = stream_read(&c.s, b, sizeof b);
        if (k > 0 && memcmp(b, pat + 1 + got, (size_t)k) == 0)
            got += (size_t)k;
        else if (k != STREAM_AGAIN)
            break;
    }
    is_int(got, 3000, name_of("interop: the rest", su));

    /* Client KeyUpdates. */
    c.ku.n = 0;
    ok(SSL_key_update(c.cl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1,
       name_of("interop: client KeyUpdate(update_not_requested)", su));
    ok(pump(&c.ec, &c.es, pat + 100, 5000, 5000, 4096) &&
           pump(&c.es, &c.ec, pat + 200, 5000, 5000, 4096),
       name_of("interop: data both ways after it", su));
    is_int(c.ku.n, 0, name_of("interop: the server did not update its keys", su));
    for (int i = 0; i < 3; i++) {
        ok(SSL_key_update(c.cl, SSL_KEY_UPDATE_REQUESTED) == 1,
           name_of("interop: client KeyUpdate(update_requested)", su));
        ok(pump(&c.ec, &c.es, pat + 300 + i, 20000, 20000, 4096),
           name_of("interop: client data after it", su));
        ok(pump(&c.es, &c.ec, pat + 400 + i, 20000, 20000, 4096),
           name_of("interop: server data readable by the client", su));
        ok(c.ku.n == i + 1 && c.ku.last_request == 0,
           name_of("interop: the server answered with KeyUpdate(update_not_requested)", su));
    }
    ok(exchange_many(&c, 10, su->id + 7), name_of("interop: more messages after updates", su));

    /* Close: server first, then the client (half close in between). */
    int r = STREAM_AGAIN;
    for (int i = 0; i < 100 && r == STREAM_AGAIN; i++)
        r = stream_shutdown_write(&c.s);
    is_int(r, 0, name_of("interop: server stream_shutdown_write", su));
    int cr = -1, ce = 0;
    for (int i = 0; i < 100; i++) {
        cr = SSL_read(c.cl, b, sizeof b);
        ce = SSL_get_error(c.cl, cr);
        if (ce != SSL_ERROR_WANT_READ)
            break;
    }
    ok(cr == 0 && ce == SSL_ERROR_ZERO_RETURN, name_of("interop: client reads close_notify", su));
    ok(pump(&c.ec, &c.es, pat + 500, 7000, 7000, 4096),
       name_of("interop: client still writes to the half-closed server", su));
    ok(SSL_shutdown(c.cl) >= 0, name_of("interop: client SSL_shutdown", su));
    is_int(read_settled(&c.es, b, sizeof b), 0, name_of("interop: server reads 0", su));
    conn_close(&c);
    SSL_CTX_free(cctx);
}

/* Offload while OpenSSL holds read-ahead bytes or a write to retry: no byte lost or doubled. */
static void test_interop_timing(SSL_CTX *sctx)
{
    SSL_CTX *cctx = client_ctx(NULL, 0);
    struct conn c;
    uint8_t b[64];

    /* Offload at once after the handshake (the ticket not yet read by the client). */
    ok(conn_open(&c, sctx, cctx, NULL), "interop timing: handshake");
    ok(offload(&c) == 1 && offloaded(&c), "interop timing: offload right after the handshake");
    ok(exchange_many(&c, 10, 99), "interop timing: data both ways, client reads the ticket late");
    conn_close(&c);

    /* The client's records wait in the socket and inside OpenSSL (read ahead). */
    ok(conn_open(&c, sctx, cctx, NULL), "interop timing: handshake 2");
    size_t total = 0;
    bool wrote = true;
    for (int i = 0; i < 20; i++) {
        size_t len = 100 + (size_t)i * 311;
        wrote &= SSL_write(c.cl, pat + total, (int)len) == (int)len;
        total += len;
    }
    ok(wrote, "interop timing: client wrote 20 messages the server has not read");
    /* The first read goes through OpenSSL, which reads ahead as much as it can hold. */
    ssize_t k = read_settled(&c.es, b, 10);
    ok(k == 10 && memcmp(b, pat, 10) == 0, "interop timing: 10 bytes over OpenSSL");
    ok(tls_stream_pending(&c.s), "interop timing: OpenSSL holds the rest");
    c.es.offload = true;
    struct flow f = flow(&c.ec, &c.es, pat, total, 1, 10);
    f.woff = total; /* already written */
    f.roff = 10;
    ok(run_flows(&f, 1), "interop timing: every byte once, offload tried before every read");
    ok(offload(&c) > 0 && offloaded(&c), "interop timing: offloaded once OpenSSL let go");
    ok(exchange_many(&c, 5, 5), "interop timing: and working");
    conn_close(&c);

    /* A server write that the socket took only part of. */
    ok(conn_open(&c, sctx, cctx, NULL), "interop timing: handshake 3");
    ok(http_exchange(&c), "interop timing: exchange over OpenSSL");
    int v = 4096;
    setsockopt(c.s.fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    setsockopt(c.fd[1], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    /* Over OpenSSL until the socket is full and OpenSSL holds a record to retry. */
    size_t sent = 0;
    k = 0;
    for (int i = 0; i < 1000 && k != STREAM_AGAIN; i++) {
        k = stream_write(&c.s, pat + sent, 300000 - sent);
        sent += k > 0 ? (size_t)k : 0;
    }
    ok(k == STREAM_AGAIN && c.s.ssl != NULL, "interop timing: OpenSSL has a write to retry");
    c.es.offload = true;
    c.es.write_pending = true;
    f = flow(&c.es, &c.ec, pat, 300000, 300000, 1000);
    f.woff = sent;
    f.offer = 300000 - sent; /* the same bytes again */
    ok(run_flows(&f, 1),
       "interop timing: 300 kB from the server, offload tried before every write");
    ok(!c.es.offloaded_while_pending, "interop timing: never offloaded with a write to retry");
    ok(c.es.again > 0, "interop timing: the server had to retry a write");
    ok(offload(&c) > 0 && offloaded(&c), "interop timing: offloaded once the write is done");
    ok(exchange_many(&c, 5, 6), "interop timing: and working");
    conn_close(&c);

    /* A KeyUpdate that arrives in the socket before the move: the record layer takes it. */
    ok(conn_open(&c, sctx, cctx, NULL), "interop timing: handshake 4");
    ok(http_exchange(&c), "interop timing: exchange 4");
    SSL_key_update(c.cl, SSL_KEY_UPDATE_REQUESTED);
    ok(SSL_write(c.cl, "after", 5) == 5, "interop timing: client KeyUpdate then data, unread");
    ok(offload(&c) == 1, "interop timing: offload with the KeyUpdate still in the socket");
    ok(read_settled(&c.es, b, sizeof b) == 5 && memcmp(b, "after", 5) == 0,
       "interop timing: the record layer read past the KeyUpdate");
    c.ku.n = 0;
    ok(pump(&c.es, &c.ec, pat, 1000, 1000, 1000) && c.ku.n == 1,
       "interop timing: and answered it before its data");
    conn_close(&c);

    /* A KeyUpdate OpenSSL processed itself: this connection stays on OpenSSL. */
    ok(conn_open(&c, sctx, cctx, NULL), "interop timing: handshake 5");
    SSL_key_update(c.cl, SSL_KEY_UPDATE_NOT_REQUESTED);
    ok(http_exchange(&c), "interop timing: exchange with a KeyUpdate over OpenSSL");
    bool never = true;
    for (int i = 0; i < 5; i++)
        never &= !tls_stream_offload(&c.s);
    ok(never && c.s.ops == &tls_stream_ops && c.s.ssl != NULL,
       "interop timing: after OpenSSL's own KeyUpdate, no offload");
    ok(exchange_many(&c, 5, 7), "interop timing: still working over OpenSSL");
    conn_close(&c);
    SSL_CTX_free(cctx);
}

/* OpenSSL has taken a record's header from the socket and waits for its body: the record is
 * half OpenSSL's, so the stream must not move until the body is read. */
static void test_interop_lone_header(SSL_CTX *sctx)
{
    SSL_CTX *cctx = client_ctx(NULL, 0);
    struct conn c;
    bool up = cctx && conn_open(&c, sctx, cctx, NULL) && http_exchange(&c);
    ok(up, "lone header: handshake and HTTP exchange");
    if (!up) {
        conn_close(&c);
        SSL_CTX_free(cctx);
        return;
    }
    /* The client's next record goes to memory, then to the socket in two parts. */
    BIO *mem = BIO_new(BIO_s_mem());
    SSL_set0_wbio(c.cl, mem);
    uint8_t rec[256], b[64];
    int n = SSL_write(c.cl, "after the header", 16) == 16 ? BIO_read(mem, rec, sizeof rec) : -1;
    SSL_set0_wbio(c.cl, BIO_new_socket(c.fd[1], BIO_NOCLOSE));
    ok(n == 16 + 22, "lone header: one sealed record of 16 bytes");
    ok(n > 5 && put(c.fd[1], rec, 5), "lone header: its 5-byte header sent alone");
    is_int(stream_read(&c.s, b, sizeof b), STREAM_AGAIN,
           "lone header: the read waits for the body");
    ok(!tls_stream_offload(&c.s), "lone header: no offload while OpenSSL holds the header");
    ok(n > 5 && put(c.fd[1], rec + 5, (size_t)n - 5), "lone header: the body sent");
    ssize_t k = stream_read(&c.s, b, sizeof b);
    ok(k == 16 && memcmp(b, "after the header", 16) == 0, "lone header: the record arrives whole");
    ok(offload(&c) > 0 && offloaded(&c), "lone header: offload once the record is read");
    ok(exchange_many(&c, 20, 7), "lone header: messages both ways after the move");
    conn_close(&c);
    SSL_CTX_free(cctx);
}

static void test_interop_tls12(SSL_CTX *sctx)
{
    SSL_CTX *cctx = client_ctx(NULL, TLS1_2_VERSION);
    struct conn c;
    uint8_t b[64];
    ok(conn_open(&c, sctx, cctx, NULL), "TLS 1.2: handshake");
    is_int(SSL_version(c.cl), TLS1_2_VERSION, "TLS 1.2: negotiated");
    ok(http_exchange(&c), "TLS 1.2: exchange");
    bool never = true;
    for (int i = 0; i < 5; i++) {
        never &= !tls_stream_offload(&c.s);
        stream_read(&c.s, b, sizeof b);
    }
    ok(never, "TLS 1.2: tls_stream_offload stays false");
    ok(c.s.ops == &tls_stream_ops && c.s.ssl != NULL, "TLS 1.2: still an OpenSSL stream");
    ok(exchange_many(&c, 10, 12), "TLS 1.2: data both ways");
    int r = STREAM_AGAIN;
    for (int i = 0; i < 100 && r == STREAM_AGAIN; i++)
        r = stream_shutdown_write(&c.s);
    is_int(r, 0, "TLS 1.2: shutdown");
    ok(read_settled(&c.ec, b, sizeof b) == 0, "TLS 1.2: client reads close_notify");
    conn_close(&c);
    SSL_CTX_free(cctx);
}

static void test_interop_resumed(SSL_CTX *sctx)
{
    SSL_CTX *cctx = client_ctx(NULL, 0);
    struct conn c;
    ok(conn_open(&c, sctx, cctx, NULL), "resumption: first handshake");
    ok(http_exchange(&c), "resumption: first exchange (the client reads the ticket)");
    SSL_SESSION *sess = SSL_get1_session(c.cl);
    ok(sess && SSL_SESSION_is_resumable(sess), "resumption: a resumable session");
    ok(offload(&c) > 0 && exchange_many(&c, 3, 1), "resumption: first connection offloaded");
    conn_close(&c);

    ok(conn_open(&c, sctx, cctx, sess), "resumption: second handshake");
    ok(SSL_session_reused(c.cl) == 1, "resumption: the session was resumed");
    ok(http_exchange(&c), "resumption: exchange");
    ok(offload(&c) > 0 && offloaded(&c), "resumption: offloaded");
    ok(exchange_many(&c, 20, 2), "resumption: data both ways");
    SSL_key_update(c.cl, SSL_KEY_UPDATE_REQUESTED);
    c.ku.n = 0;
    ok(exchange_many(&c, 3, 3) && c.ku.n == 1, "resumption: KeyUpdate answered");
    conn_close(&c);

    /* Offload before anything is read: right after a resumed handshake. */
    ok(conn_open(&c, sctx, cctx, sess), "resumption: third handshake");
    ok(offload(&c) == 1 && exchange_many(&c, 5, 4), "resumption: offload at once, then data");
    conn_close(&c);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cctx);
}

/* ---- our client stream against a real OpenSSL server (wss:// backends) -------------------- */

/* c->s is our client stream, c->cl the OpenSSL server. */
static bool conn_open_client(struct conn *c, SSL_CTX *sctx, SSL_CTX *cctx)
{
    memset(c, 0, sizeof *c);
    c->fd[0] = c->fd[1] = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, c->fd) < 0)
        return false;
    int cfd = c->fd[0];
    c->fd[0] = -1; /* the stream owns it */
    if (tls_stream_init_client(&c->s, cfd, cctx, "localhost") < 0)
        return false;
    c->cl = SSL_new(sctx);
    if (!c->cl || SSL_set_fd(c->cl, c->fd[1]) != 1)
        return false;
    SSL_set_accept_state(c->cl);
    SSL_set_msg_callback(c->cl, on_client_msg);
    SSL_set_msg_callback_arg(c->cl, &c->ku);
    c->es = (struct end){.name = "client stream", .s = &c->s};
    c->ec = (struct end){.name = "OpenSSL server", .ssl = c->cl};
    return handshake(c);
}

static SSL_CTX *upstream_ctx(const char *suite_name, int max_version)
{
    char err[256];
    SSL_CTX *c = tls_ctx_new_client(err, sizeof err);
    if (c && suite_name)
        SSL_CTX_set_ciphersuites(c, suite_name);
    if (c && max_version)
        SSL_CTX_set_max_proto_version(c, max_version);
    return c;
}

static void test_client_side(SSL_CTX *sctx, const struct suite *su)
{
    SSL_CTX *cctx = upstream_ctx(su->name, 0);
    struct conn c;
    uint8_t b[4096];
    if (!ok(cctx && conn_open_client(&c, sctx, cctx), name_of("client side: handshake", su))) {
        conn_close(&c);
        SSL_CTX_free(cctx);
        return;
    }
    /* The gateway asks, the backend answers 101; the server's tickets came before it. */
    ok(pump(&c.es, &c.ec, (const uint8_t *)upgrade_req, sizeof upgrade_req - 1, 4096, 4096) &&
           pump(&c.ec, &c.es, (const uint8_t *)upgrade_resp, sizeof upgrade_resp - 1, 4096, 4096),
       name_of("client side: upgrade over OpenSSL", su));
    ok(offload(&c) > 0 && offloaded(&c), name_of("client side: tls_stream_offload", su));
    ok(exchange_many(&c, 40, su->id + 11),
       name_of("client side: 40 messages of 1..20000 bytes each way", su));

    /* Tickets after the move: dropped, the data behind them arrives. */
    ok(SSL_new_session_ticket(c.cl) == 1 && SSL_new_session_ticket(c.cl) == 1,
       name_of("client side: the server queues two more tickets", su));
    ok(pump(&c.ec, &c.es, pat + 50, 3000, 3000, 4096),
       name_of("client side: data after NewSessionTickets", su));

    /* The server's KeyUpdates, asking for ours or not. */
    c.ku.n = 0;
    ok(SSL_key_update(c.cl, SSL_KEY_UPDATE_REQUESTED) == 1,
       name_of("client side: server KeyUpdate(update_requested)", su));
    ok(pump(&c.ec, &c.es, pat + 60, 5000, 5000, 4096) &&
           pump(&c.es, &c.ec, pat + 70, 5000, 5000, 4096),
       name_of("client side: data both ways after it", su));
    ok(c.ku.n == 1 && c.ku.last_request == 0,
       name_of("client side: we answered with KeyUpdate(update_not_requested)", su));
    ok(SSL_key_update(c.cl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1 &&
           pump(&c.ec, &c.es, pat + 80, 5000, 5000, 4096) &&
           pump(&c.es, &c.ec, pat + 90, 5000, 5000, 4096) && c.ku.n == 1,
       name_of("client side: server KeyUpdate(update_not_requested), no answer", su));
    ok(exchange_many(&c, 10, su->id + 13), name_of("client side: more messages", su));

    /* Close from our side: the server reads close_notify. */
    int r = STREAM_AGAIN;
    for (int i = 0; i < 100 && r == STREAM_AGAIN; i++)
        r = stream_shutdown_write(&c.s);
    is_int(r, 0, name_of("client side: stream_shutdown_write", su));
    int sr = -1, se = 0;
    for (int i = 0; i < 100; i++) {
        sr = SSL_read(c.cl, b, sizeof b);
        se = SSL_get_error(c.cl, sr);
        if (se != SSL_ERROR_WANT_READ)
            break;
    }
    ok(sr == 0 && se == SSL_ERROR_ZERO_RETURN,
       name_of("client side: server reads close_notify", su));
    conn_close(&c);
    SSL_CTX_free(cctx);
}

/* A TLS 1.2 backend: the client stream stays on OpenSSL and works. */
static void test_client_side_tls12(SSL_CTX *sctx)
{
    SSL_CTX *cctx = upstream_ctx(NULL, TLS1_2_VERSION);
    struct conn c;
    ok(cctx && conn_open_client(&c, sctx, cctx), "client side, TLS 1.2: handshake");
    ok(pump(&c.es, &c.ec, (const uint8_t *)upgrade_req, sizeof upgrade_req - 1, 4096, 4096) &&
           pump(&c.ec, &c.es, (const uint8_t *)upgrade_resp, sizeof upgrade_resp - 1, 4096, 4096),
       "client side, TLS 1.2: upgrade");
    ok(!tls_stream_offload(&c.s) && c.s.ssl != NULL, "client side, TLS 1.2: stays on OpenSSL");
    ok(exchange_many(&c, 10, 5), "client side, TLS 1.2: messages each way");
    conn_close(&c);
    SSL_CTX_free(cctx);
}

/* ---- main ------------------------------------------------------------------------------- */

static char root[64];

int main(void)
{
    fill_pattern();
    snprintf(root, sizeof root, "/tmp/wssgate-tlsrec-XXXXXX");
    char cp[128], kp[128], err[512];
    static const char *const names[] = {"localhost"};
    SSL_CTX *sctx = NULL;
    if (mkdtemp(root)) {
        snprintf(cp, sizeof cp, "%s/cert.pem", root);
        snprintf(kp, sizeof kp, "%s/key.pem", root);
        if (cert_issue_self_signed(names, 1, NULL, cp, kp, err, sizeof err) == 0)
            sctx = tls_ctx_new_server(cp, kp, err, sizeof err);
    }
    if (ok(sctx != NULL, "setup: server context")) {
        for (int i = 0; i < 3; i++)
            test_interop_suite(sctx, &suites[i]);
        test_interop_timing(sctx);
        test_interop_lone_header(sctx);
        test_interop_tls12(sctx);
        test_interop_resumed(sctx);
        for (int i = 0; i < 3; i++)
            test_client_side(sctx, &suites[i]);
        test_client_side_tls12(sctx);
    } else {
        printf("#   %s\n", err);
    }
    SSL_CTX_free(sctx);
    rm_tree(root);
    tls_rec_thread_fini();
    buf_pool_drain();
    return tap_done();
}
