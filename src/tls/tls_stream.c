/* TLS stream operations: SSL_read_ex/SSL_write_ex mapped onto the stream contract, and the
 * move of a finished TLS 1.3 connection (either side) onto tls/tls_record.c (what the move
 * needs is collected by tls/tls_handover.c while OpenSSL runs the connection). */
#include "tls/tls_stream.h"

#include "ev/loop.h"
#include "tls/tls_handover.h"
#include "tls/tls_record.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct offload {
    struct tls_handover h;
    bool write_blocked; /* OpenSSL holds a record to retry */
};

/* Around each OpenSSL call that may run the handshake: the secrets it derives reach the
 * handover watching s (tls_handover.h). */
static void enter(const struct stream *s)
{
    struct offload *o = s->tls_state;
    if (o)
        tls_handover_enter(&o->h);
}

/* Maps an OpenSSL failure to the stream contract; *wait gets the fd event to wait for. */
static int map_error(struct stream *s, int ret, unsigned *wait)
{
    int e = SSL_get_error(s->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *wait = EV_READ;
        return STREAM_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *wait = EV_WRITE;
        return STREAM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0)
            return 0; /* EOF without close_notify: browsers do it; treated as EOF */
        s->err = stream_errno_reason(errno);
        return STREAM_ERR;
    default: {
        unsigned long code = ERR_peek_error();
        int reason = ERR_GET_REASON(code);
        if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST)
            s->err = "TLS handshake failed: the client did not speak TLS";
        else if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_NO_PROTOCOLS_AVAILABLE)
            s->err = "TLS handshake failed: protocol version not accepted (TLS 1.2/1.3 only)";
        else if (reason == SSL_R_NO_SHARED_CIPHER)
            s->err = "TLS handshake failed: no shared cipher";
        else if (ERR_GET_LIB(code) == ERR_LIB_SSL && reason >= 1000)
            s->err = "TLS alert from peer";
        else
            s->err = "TLS protocol error";
        ERR_clear_error();
        return STREAM_ERR;
    }
    }
}

static ssize_t tls_read(struct stream *s, void *p, size_t n)
{
    size_t got = 0;
    errno = 0;
    enter(s);
    int r = SSL_read_ex(s->ssl, p, n, &got);
    tls_handover_leave();
    if (r == 1)
        return (ssize_t)got;
    return map_error(s, r, &s->rd_wait);
}

static ssize_t tls_write(struct stream *s, const void *p, size_t n)
{
    size_t put = 0;
    errno = 0;
    enter(s);
    int r = SSL_write_ex(s->ssl, p, n, &put);
    tls_handover_leave();
    struct offload *o = s->tls_state;
    if (o)
        o->write_blocked = r != 1;
    if (r == 1)
        return (ssize_t)put;
    int m = map_error(s, r, &s->wr_wait);
    if (m == 0) {
        s->err = "peer closed the TLS connection";
        return STREAM_ERR;
    }
    return m;
}

static int tls_handshake(struct stream *s)
{
    errno = 0;
    enter(s);
    int r = SSL_do_handshake(s->ssl);
    tls_handover_leave();
    if (r == 1)
        return 0;
    unsigned wait = EV_READ;
    int m = map_error(s, r, &wait);
    if (m == STREAM_AGAIN) {
        s->rd_wait = wait;
        return STREAM_AGAIN;
    }
    if (m == 0)
        s->err = "peer closed the connection during the TLS handshake";
    return STREAM_ERR;
}

static int tls_shutdown_write(struct stream *s)
{
    struct offload *o = s->tls_state;
    if (o)
        tls_handover_never(&o->h);
    errno = 0;
    /* close_notify first (0 or 1 both mean it was sent), then the TCP FIN. */
    int r = SSL_shutdown(s->ssl);
    if (r < 0) {
        unsigned wait = EV_WRITE;
        int m = map_error(s, r, &wait);
        if (m == STREAM_AGAIN) {
            s->wr_wait = wait;
            return STREAM_AGAIN;
        }
    }
    if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
        s->err = stream_errno_reason(errno);
        return STREAM_ERR;
    }
    return 0;
}

static void free_offload(struct stream *s)
{
    struct offload *o = s->tls_state;
    if (o) {
        tls_rec_fini(&o->h.rec);
        free(o);
        s->tls_state = NULL;
    }
}

static void tls_close(struct stream *s)
{
    SSL_free(s->ssl);
    s->ssl = NULL;
    free_offload(s);
    close(s->fd);
    s->fd = -1;
}

const struct stream_ops tls_stream_ops = {
    .read = tls_read,
    .write = tls_write,
    .handshake = tls_handshake,
    .shutdown_write = tls_shutdown_write,
    .close = tls_close,
};

static int init_common(struct stream *s, int fd, SSL_CTX *ctx)
{
    *s = (struct stream){ .ops = &tls_stream_ops, .fd = fd, .rd_wait = EV_READ,
                          .wr_wait = EV_WRITE };
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        s->ops = &stream_plain_ops;
        return -1;
    }
    s->ssl = ssl;
    return 0;
}

/* Watches the handshake for tls_stream_offload; without memory, s simply stays on OpenSSL. */
static void attach_offload(struct stream *s, bool client)
{
    struct offload *o = calloc(1, sizeof(*o));
    if (o && tls_handover_attach(s->ssl, &o->h, client) == 0)
        s->tls_state = o;
    else
        free(o);
}

int tls_stream_init_server(struct stream *s, int fd, SSL_CTX *ctx)
{
    if (init_common(s, fd, ctx) < 0)
        return -1;
    SSL_set_accept_state(s->ssl);
    attach_offload(s, false);
    return 0;
}

int tls_stream_init_client(struct stream *s, int fd, SSL_CTX *ctx, const char *server_name)
{
    if (init_common(s, fd, ctx) < 0)
        return -1;
    SSL_set_connect_state(s->ssl);
    if (server_name && server_name[0] && server_name[0] != '[' &&
        !(server_name[0] >= '0' && server_name[0] <= '9'))
        SSL_set_tlsext_host_name(s->ssl, server_name);
    attach_offload(s, true);
    return 0;
}

bool tls_stream_pending_in_tls(const struct stream *s)
{
    if (s->ssl)
        return SSL_has_pending(s->ssl);
    if (s->ops == &tls_record_stream_ops)
        return tls_rec_pending(&((struct offload *)s->tls_state)->h.rec);
    return false;
}

/* ---- after the move: tls_record.c under the stream contract ---- */

static struct tls_rec *rec_of(struct stream *s)
{
    return &((struct offload *)s->tls_state)->h.rec;
}

static ssize_t rec_read(struct stream *s, void *p, size_t n)
{
    ssize_t r = tls_rec_read(rec_of(s), s->fd, p, n);
    s->drained = tls_rec_drained(rec_of(s));
    if (r == STREAM_ERR)
        s->err = rec_of(s)->err;
    return r;
}

static ssize_t rec_write(struct stream *s, const void *p, size_t n)
{
    ssize_t r = tls_rec_write(rec_of(s), s->fd, p, n);
    if (r == STREAM_ERR)
        s->err = rec_of(s)->err;
    return r;
}

static int rec_handshake(struct stream *s)
{
    (void)s;
    return 0;
}

static int rec_shutdown_write(struct stream *s)
{
    int r = tls_rec_shutdown(rec_of(s), s->fd);
    if (r == STREAM_ERR)
        s->err = rec_of(s)->err;
    return r;
}

static void rec_close(struct stream *s)
{
    free_offload(s);
    close(s->fd);
    s->fd = -1;
}

const struct stream_ops tls_record_stream_ops = {
    .read = rec_read,
    .write = rec_write,
    .handshake = rec_handshake,
    .shutdown_write = rec_shutdown_write,
    .close = rec_close,
    .knows_drained = true,
};

bool tls_stream_offload(struct stream *s)
{
    if (s->ops == &tls_record_stream_ops)
        return true;
    struct offload *o = s->tls_state;
    if (!o || o->write_blocked || !s->ssl || tls_handover_take(s->ssl, &o->h) != TLS_HANDOVER_DONE)
        return false;
    SSL_free(s->ssl);
    s->ssl = NULL;
    s->ops = &tls_record_stream_ops;
    s->rd_wait = EV_READ;
    s->wr_wait = EV_WRITE;
    return true;
}

