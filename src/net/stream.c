/* The plain-TCP implementation of struct stream. */
#include "net/stream.h"

#include "ev/loop.h"
#include "net/sys_io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *stream_errno_reason(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return "connection refused";
    case ECONNRESET:
        return "connection reset by peer";
    case EPIPE:
        return "broken pipe";
    case ETIMEDOUT:
        return "connection timed out";
    case EHOSTUNREACH:
        return "host unreachable";
    case ENETUNREACH:
        return "network unreachable";
    case EMFILE:
    case ENFILE:
        return "too many open files";
    default:
        return "I/O error";
    }
}

static ssize_t plain_read(struct stream *s, void *p, size_t n)
{
    ssize_t r;
    do
        r = sys_recv(s->fd, p, n, 0);
    while (r < 0 && errno == EINTR);
    s->drained = r < 0 || (size_t)r < n;
    if (r >= 0)
        return r;
    if (errno == EAGAIN) {
        s->rd_wait = EV_READ;
        return STREAM_AGAIN;
    }
    s->err = stream_errno_reason(errno);
    return STREAM_ERR;
}

static ssize_t plain_write(struct stream *s, const void *p, size_t n)
{
    ssize_t r = sys_send(s->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EINTR) {
        s->wr_wait = EV_WRITE;
        return STREAM_AGAIN;
    }
    s->err = stream_errno_reason(errno);
    return STREAM_ERR;
}

static int plain_handshake(struct stream *s)
{
    (void)s;
    return 0;
}

static int plain_shutdown_write(struct stream *s)
{
    if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
        s->err = stream_errno_reason(errno);
        return STREAM_ERR;
    }
    return 0;
}

static void plain_close(struct stream *s)
{
    close(s->fd);
    s->fd = -1;
}

const struct stream_ops stream_plain_ops = {
    .read = plain_read,
    .write = plain_write,
    .handshake = plain_handshake,
    .shutdown_write = plain_shutdown_write,
    .close = plain_close,
    .knows_drained = true,
};

void stream_plain_init(struct stream *s, int fd)
{
    *s = (struct stream){ .ops = &stream_plain_ops, .fd = fd, .rd_wait = EV_READ,
                          .wr_wait = EV_WRITE };
}
