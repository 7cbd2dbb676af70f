/* A byte stream over a socket that hides whether TLS is underneath.
 * Upper layers call stream_read/stream_write and arm the fd for what the stream says it waits on. */
#ifndef WSSGATE_NET_STREAM_H
#define WSSGATE_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { STREAM_ERR = -1, STREAM_AGAIN = -2 };

struct stream;

struct stream_ops {
    /* >0 bytes, 0 orderly EOF, STREAM_AGAIN, STREAM_ERR (s->err says why). */
    ssize_t (*read)(struct stream *s, void *p, size_t n);
    ssize_t (*write)(struct stream *s, const void *p, size_t n);
    /* Completes the TLS handshake (plain: returns 0 at once). 0, STREAM_AGAIN or STREAM_ERR. */
    int (*handshake)(struct stream *s);
    /* Sends our end-of-stream (close_notify + FIN). 0, STREAM_AGAIN or STREAM_ERR. */
    int (*shutdown_write)(struct stream *s);
    /* Releases the TLS state and closes the fd. */
    void (*close)(struct stream *s);
    /* Keeps stream.drained exact, so the fd may be watched edge-triggered. OpenSSL's streams
     * do not: SSL_read may stop with bytes still in the socket. */
    bool knows_drained;
};

/* Caller-owned. rd_wait / wr_wait: which fd event (EV_READ or EV_WRITE) the last STREAM_AGAIN
 * of a read / write waits for; with TLS a read may wait for writability and vice versa.
 * drained (when ops->knows_drained): the last read saw the socket empty, by a short read, EOF
 * or EAGAIN, so epoll will report the next byte to arrive even edge-triggered. */
struct stream {
    const struct stream_ops *ops;
    int fd;
    unsigned rd_wait, wr_wait;
    bool drained;
    void *ssl;
    void *tls_state; /* the TLS layer's own per-connection state (TLS streams), or NULL */
    const char *err; /* static reason of the last STREAM_ERR: "connection reset by peer" */
};

extern const struct stream_ops stream_plain_ops;

/* Sets up a plain TCP stream over fd; the stream owns fd from now on. */
void stream_plain_init(struct stream *s, int fd);

static inline ssize_t stream_read(struct stream *s, void *p, size_t n)
{
    return s->ops->read(s, p, n);
}

static inline ssize_t stream_write(struct stream *s, const void *p, size_t n)
{
    return s->ops->write(s, p, n);
}

static inline int stream_handshake(struct stream *s)
{
    return s->ops->handshake(s);
}

static inline int stream_shutdown_write(struct stream *s)
{
    return s->ops->shutdown_write(s);
}

static inline void stream_close(struct stream *s)
{
    if (s->ops && s->fd >= 0)
        s->ops->close(s);
    s->fd = -1;
}

/* A static description of errno for s->err ("connection refused", "connection reset by peer"). */
const char *stream_errno_reason(int err);

#endif
