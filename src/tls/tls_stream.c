/* TLS stream operations: SSL_read_ex/SSL_write_ex mapped onto the stream contract, and the
 * move of a finished TLS 1.3 server connection onto tls/tls_record.c.
 *
 * Offload bookkeeping, per server connection, while OpenSSL runs it:
 *   keylog callback  → the client's and our application traffic secrets (…_TRAFFIC_SECRET_0)
 *   msg callback     → records read / written since the Finished message of each direction:
 *                      the sequence numbers of the first application keys
 *   KeyUpdate seen   → OpenSSL changed keys itself: this connection stays on OpenSSL */
#include "tls/tls_stream.h"

#include "ev/loop.h"
#include "tls/tls_record.h"

#include <errno.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct offload {
    struct tls_rec rec;  /* rd.secret / wr.secret filled by the keylog callback */
    uint64_t rd_records, wr_records;
    uint8_t secret_len;
    bool have_rd, have_wr;   /* secrets seen */
    bool rd_app, wr_app;     /* Finished seen: the record counts are application records */
    bool never;              /* this connection stays on OpenSSL */
    bool write_blocked;      /* OpenSSL holds a record to retry */
};

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void make_ex_index(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "LABEL <client random> <secret>" (NSS key log format). Returns the secret's length or 0. */
static size_t parse_secret(const char *line, size_t label_len, uint8_t out[48])
{
    const char *p = strchr(line + label_len, ' ');
    if (!p)
        return 0;
    p++;
    size_t n = 0;
    while (p[0] && p[1] && n < 48) {
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return p[0] ? 0 : n;
}

static void on_keylog(const SSL *ssl, const char *line)
{
    struct offload *o = ex_index >= 0 ? SSL_get_ex_data(ssl, ex_index) : NULL;
    if (!o)
        return;
    static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ", server[] = "SERVER_TRAFFIC_SECRET_0 ";
    size_t n = 0;
    if (strncmp(line, client, sizeof(client) - 1) == 0) {
        n = parse_secret(line, sizeof(client) - 1, o->rec.rd.secret);
        o->have_rd = n > 0;
    } else if (strncmp(line, server, sizeof(server) - 1) == 0) {
        n = parse_secret(line, sizeof(server) - 1, o->rec.wr.secret);
        o->have_wr = n > 0;
    } else {
        return;
    }
    if (!n || (o->secret_len && o->secret_len != n))
        o->never = true;
    o->secret_len = (uint8_t)n;
}

static void on_message(int write_p, int version, int content_type, const void *buf, size_t len,
                       SSL *ssl, void *arg)
{
    (void)version;
    (void)ssl;
    struct offload *o = arg;
    if (content_type == SSL3_RT_HEADER) {
        if (write_p)
            o->wr_records++;
        else
            o->rd_records++;
    } else if (content_type == SSL3_RT_HANDSHAKE && len >= 1) {
        uint8_t type = ((const uint8_t *)buf)[0];
        /* Finished ends its record (a key change); what follows uses the application keys. */
        if (type == SSL3_MT_FINISHED && write_p) {
            o->wr_records = 0;
            o->wr_app = true;
        } else if (type == SSL3_MT_FINISHED) {
            o->rd_records = 0;
            o->rd_app = true;
        } else if (type == SSL3_MT_KEY_UPDATE) {
            o->never = true;
        }
    }
}

void tls_stream_prepare_ctx(SSL_CTX *ctx)
{
    SSL_CTX_set_keylog_callback(ctx, on_keylog);
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
    int r = SSL_read_ex(s->ssl, p, n, &got);
    if (r == 1)
        return (ssize_t)got;
    return map_error(s, r, &s->rd_wait);
}

static ssize_t tls_write(struct stream *s, const void *p, size_t n)
{
    size_t put = 0;
    errno = 0;
    int r = SSL_write_ex(s->ssl, p, n, &put);
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
    int r = SSL_do_handshake(s->ssl);
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
        o->never = true;
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
        tls_rec_fini(&o->rec);
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

int tls_stream_init_server(struct stream *s, int fd, SSL_CTX *ctx)
{
    if (init_common(s, fd, ctx) < 0)
        return -1;
    SSL_set_accept_state(s->ssl);
    pthread_once(&ex_once, make_ex_index);
    struct offload *o = calloc(1, sizeof(*o));
    if (o && ex_index >= 0 && SSL_set_ex_data(s->ssl, ex_index, o) == 1) {
        s->tls_state = o;
        SSL_set_msg_callback(s->ssl, on_message);
        SSL_set_msg_callback_arg(s->ssl, o);
    } else {
        free(o); /* no offload for this one; it still works on OpenSSL */
    }
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
    return 0;
}

bool tls_stream_pending(const struct stream *s)
{
    if (s->ssl)
        return SSL_has_pending(s->ssl);
    if (s->ops == &tls_record_stream_ops)
        return tls_rec_pending(&((struct offload *)s->tls_state)->rec);
    return false;
}

/* ---- after the move: tls_record.c under the stream contract ---- */

static struct tls_rec *rec_of(struct stream *s)
{
    return &((struct offload *)s->tls_state)->rec;
}

static ssize_t rec_read(struct stream *s, void *p, size_t n)
{
    ssize_t r = tls_rec_read(rec_of(s), s->fd, p, n);
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
};

/* This connection stays on OpenSSL: the copies of its secrets go now, not at close. */
static void never_offload(struct offload *o)
{
    o->never = true;
    if (o->have_rd || o->have_wr) {
        OPENSSL_cleanse(&o->rec, sizeof(o->rec));
        o->have_rd = o->have_wr = false;
    }
}

bool tls_stream_offload(struct stream *s)
{
    if (s->ops == &tls_record_stream_ops)
        return true;
    struct offload *o = s->tls_state;
    if (!o || o->write_blocked || !s->ssl || !SSL_is_init_finished(s->ssl))
        return false;
    if (o->never) {
        never_offload(o);
        return false;
    }
    SSL *ssl = s->ssl;
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    if (SSL_version(ssl) != TLS1_3_VERSION || !cipher || !o->have_rd || !o->have_wr ||
        !o->rd_app || !o->wr_app) {
        never_offload(o);
        return false;
    }
    /* Bytes OpenSSL read ahead, a record whose header it has taken from the socket (read state
     * other than "read header"), or a record it has not finished sending, are its own. */
    if (SSL_has_pending(ssl) || strcmp(SSL_rstate_string(ssl), "RH") != 0 ||
        BIO_wpending(SSL_get_wbio(ssl)) > 0)
        return false;
    if (tls_rec_init(&o->rec, SSL_CIPHER_get_protocol_id(cipher), o->secret_len, o->rd_records,
                     o->wr_records) < 0) {
        ERR_clear_error();
        never_offload(o);
        return false;
    }
    SSL_set_ex_data(ssl, ex_index, NULL);
    SSL_free(ssl);
    s->ssl = NULL;
    s->ops = &tls_record_stream_ops;
    s->rd_wait = EV_READ;
    s->wr_wait = EV_WRITE;
    return true;
}

