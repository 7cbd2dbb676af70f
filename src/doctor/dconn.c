/* Client connections for the doctor: a non-blocking socket driven with poll() until a deadline,
 * plain or under OpenSSL, recording the first bytes the server sent. */
#include "doctor/dconn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>

int64_t dconn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on c->fd until deadline. 1 ready, 0 timeout, -1 error. */
static int wait_fd(struct dconn *c, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = events};
        int64_t left = deadline - dconn_now_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR) {
            c->last_errno = errno;
            return -1;
        }
    }
}

static void remember(struct dconn *c, const void *p, size_t n)
{
    size_t room = DCONN_FIRST_MAX - c->first_len;

    if (n > room)
        n = room;
    memcpy(c->first + c->first_len, p, n);
    c->first_len += n;
}

int dconn_connect(struct dconn *c, const struct sockaddr *sa, socklen_t salen, int timeout_ms)
{
    int64_t deadline = dconn_now_ms() + timeout_ms;
    int err = 0;
    socklen_t elen = sizeof err;

    c->alert = -1;
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->last_errno = errno;
        return DCONN_ERR;
    }
    if (connect(c->fd, sa, salen) != 0) {
        int w;
        if (errno != EINPROGRESS) {
            c->last_errno = errno;
            goto fail;
        }
        w = wait_fd(c, POLLOUT, deadline);
        if (w <= 0) {
            close(c->fd);
            c->fd = -1;
            return w == 0 ? DCONN_TIMEOUT : DCONN_ERR;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
            err = errno;
        if (err != 0) {
            c->last_errno = err;
            goto fail;
        }
    }
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return DCONN_ERR;
}

/* Records the raw bytes OpenSSL reads from the socket, before any decryption. */
static long bio_tap(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                    size_t *processed)
{
    struct dconn *c = (struct dconn *)BIO_get_callback_arg(b);

    (void)len;
    (void)argi;
    (void)argl;
    if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed != NULL && c != NULL)
        remember(c, argp, *processed);
    return ret;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct dconn *c = SSL_get_app_data(ssl);

    if ((where & SSL_CB_READ_ALERT) != 0 && c != NULL && c->alert < 0)
        c->alert = ret & 0xff;
}

static void ssl_reason(char *why, size_t cap, const char *fallback)
{
    unsigned long e = ERR_get_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(why, cap, "%s", r != NULL ? r : fallback);
    ERR_clear_error();
}

int dconn_tls(struct dconn *c, const char *sni, int timeout_ms, char *why, size_t cap, int *alert)
{
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    int64_t deadline = dconn_now_ms() + timeout_ms;
    BIO *bio;

    *alert = -1;
    why[0] = '\0';
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL || SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof alpn) != 0) {
        ssl_reason(why, cap, "cannot make a TLS context");
        return DCONN_ERR;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    bio = BIO_new_socket(c->fd, BIO_NOCLOSE);
    if (c->ssl == NULL || bio == NULL) {
        BIO_free(bio);
        ssl_reason(why, cap, "out of memory");
        return DCONN_ERR;
    }
    BIO_set_callback_ex(bio, bio_tap);
    BIO_set_callback_arg(bio, (char *)c);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_app_data(c->ssl, c);
    SSL_set_info_callback(c->ssl, info_cb);
    if (sni != NULL && SSL_set_tlsext_host_name(c->ssl, sni) != 1) {
        ssl_reason(why, cap, "cannot set the server name");
        return DCONN_ERR;
    }
    for (;;) {
        int r, e, w;
        errno = 0;
        r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            w = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w == 0)
                return DCONN_TIMEOUT;
            if (w < 0)
                return DCONN_ERR;
            continue;
        }
        *alert = c->alert;
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            c->last_errno = errno;
            snprintf(why, cap, "%s", errno != 0 ? strerror(errno) : "unexpected EOF");
            return c->first_len == 0 && (errno == 0 || errno == ECONNRESET) ? DCONN_EOF : DCONN_ERR;
        }
        ssl_reason(why, cap, "TLS handshake failed");
        if (c->first_len == 0)
            return DCONN_EOF;
        return DCONN_ERR;
    }
}

int dconn_write_all(struct dconn *c, const void *buf, size_t len, int64_t deadline_ms)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n;
        int w;
        short ev = POLLOUT;
        if (c->ssl != NULL) {
            int r = SSL_write(c->ssl, p, (int)(len > 65536 ? 65536 : len));
            if (r > 0) {
                n = r;
            } else {
                int e = SSL_get_error(c->ssl, r);
                ERR_clear_error();
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return DCONN_ERR;
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                n = -1;
            }
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                c->last_errno = errno;
                return DCONN_ERR;
            }
        }
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        w = wait_fd(c, ev, deadline_ms);
        if (w == 0)
            return DCONN_TIMEOUT;
        if (w < 0)
            return DCONN_ERR;
    }
    return 0;
}

ssize_t dconn_read(struct dconn *c, void *buf, size_t cap, int64_t deadline_ms)
{
    for (;;) {
        short ev = POLLIN;
        int w;
        if (c->ssl != NULL) {
            int r;
            errno = 0;
            r = SSL_read(c->ssl, buf, (int)(cap > 65536 ? 65536 : cap));
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_ZERO_RETURN)
                return DCONN_EOF;
            if (e == SSL_ERROR_SYSCALL && errno == 0)
                return DCONN_EOF; /* EOF without close_notify: the browser sees a close too */
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                c->last_errno = errno;
                return DCONN_ERR;
            }
            ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        } else {
            ssize_t n = recv(c->fd, buf, cap, 0);
            if (n > 0) {
                remember(c, buf, (size_t)n);
                return n;
            }
            if (n == 0)
                return DCONN_EOF;
            if (errno != EAGAIN && errno != EINTR) {
                c->last_errno = errno;
                return DCONN_ERR;
            }
        }
        w = wait_fd(c, ev, deadline_ms);
        if (w == 0)
            return DCONN_TIMEOUT;
        if (w < 0)
            return DCONN_ERR;
    }
}

void dconn_more_first(struct dconn *c, int wait_ms)
{
    int64_t deadline = dconn_now_ms() + wait_ms;

    while (c->first_len < DCONN_FIRST_MAX && memchr(c->first, '\n', c->first_len) == NULL) {
        unsigned char tmp[DCONN_FIRST_MAX];
        ssize_t n = recv(c->fd, tmp, DCONN_FIRST_MAX - c->first_len, 0);
        if (n > 0) {
            remember(c, tmp, (size_t)n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR) || wait_fd(c, POLLIN, deadline) <= 0)
            return;
    }
}

void dconn_close(struct dconn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl); /* frees the BIO too */
        c->ssl = NULL;
    }
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
    if (c->fd > 0) {
        close(c->fd);
        c->fd = -1;
    }
}
