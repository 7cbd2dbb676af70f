/* wsecho: the benchmark's WebSocket echo backend. One thread, level-triggered epoll; plain ws://,
 * or wss:// with --tls (the "floor": a backend that terminates TLS itself, no proxy in between).
 *
 * A connection: [TLS handshake] → HEAD (read the upgrade request, answer 101) → WS (every data
 * frame goes back with its opcode and fin, unmasked; a ping gets a pong; a close is answered
 * with the same code) → SHUT (close_notify and FIN sent; read and discard until the peer's EOF)
 * → freed. Any protocol error, read error or EOF frees the connection at once.
 *
 * Speed: each read batch is parsed in place (payload unmasked where it lies), the answers are
 * built into one scratch buffer and written with one call; a connection holds memory only for
 * a partial frame or for bytes the socket did not take. */
#include "bench_util.h"

#include "http/h1_parse.h"
#include "ws/ws_frame.h"
#include "ws/ws_handshake.h"

#include <errno.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK  (256 * 1024)
#define MAX_PAYLOAD (16u * 1024 * 1024)
/* Past this many unsent bytes for one connection, stop reading it until they drain. */
#define OUT_HIGH        (4u * 1024 * 1024)
#define READS_PER_EVENT 32

enum estate { E_TLS, E_HEAD, E_WS, E_SHUT };

struct econn {
    int fd;
    SSL *ssl;
    enum estate st;
    bool closing;      /* a close frame was answered: shut down once `out` is flushed */
    unsigned armed;    /* EPOLLIN/EPOLLOUT currently registered */
    struct bu_buf in;  /* a partial head or frame */
    struct bu_buf out; /* bytes the socket did not take yet */
};

static int epfd;
static SSL_CTX *tls_ctx;
static uint8_t rbuf[READ_CHUNK];
static struct bu_buf obuf; /* answers of the current read batch, reused */
static unsigned long nconns, ntotal;

static void econn_free(struct econn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    close(c->fd);
    bu_buf_free(&c->in);
    bu_buf_free(&c->out);
    free(c);
    nconns--;
}

static int set_interest(struct econn *c)
{
    unsigned want = 0;
    if (bu_buf_used(&c->out) < OUT_HIGH)
        want |= EPOLLIN;
    if (bu_buf_used(&c->out))
        want |= EPOLLOUT;
    if (want == c->armed)
        return 0;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->armed = want;
    return 0;
}

/* >0 bytes, 0 EOF, -1 would block, -2 error. */
static ssize_t do_read(struct econn *c, uint8_t *p, size_t n)
{
    if (c->ssl)
        return bu_ssl_read(c->ssl, p, n, NULL);
    ssize_t r = recv(c->fd, p, n, 0);
    if (r >= 0)
        return r;
    return (errno == EAGAIN || errno == EINTR) ? -1 : -2;
}

/* >=0 bytes written, -1 would block, -2 error. */
static ssize_t do_write(struct econn *c, const uint8_t *p, size_t n)
{
    if (c->ssl)
        return bu_ssl_write(c->ssl, p, n);
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    return (errno == EAGAIN || errno == EINTR) ? -1 : -2;
}

/* Writes what is queued; -1 on a fatal error. */
static int flush_out(struct econn *c)
{
    while (bu_buf_used(&c->out)) {
        ssize_t w = do_write(c, c->out.p + c->out.off, bu_buf_used(&c->out));
        if (w == -1)
            return 0;
        if (w < 0)
            return -1;
        bu_buf_consume(&c->out, (size_t)w);
    }
    if (c->closing && c->st != E_SHUT) {
        if (c->ssl) {
            SSL_shutdown(c->ssl);
            ERR_clear_error();
        }
        shutdown(c->fd, SHUT_WR);
        c->st = E_SHUT;
    }
    return 0;
}

/* Sends the answers built in obuf: behind `out` if it holds bytes, else straight away. */
static int send_obuf(struct econn *c)
{
    size_t n = obuf.len, done = 0;
    if (!n)
        return 0;
    obuf.len = 0;
    if (!bu_buf_used(&c->out)) {
        while (done < n) {
            ssize_t w = do_write(c, obuf.p + done, n - done);
            if (w == -1)
                break;
            if (w < 0)
                return -1;
            done += (size_t)w;
        }
    }
    if (done < n && bu_buf_append(&c->out, obuf.p + done, n - done) < 0)
        return -1;
    return 0;
}

static int answer_upgrade(struct econn *c, const struct h1_request *req)
{
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    struct str key = h1_find_header(req->headers, req->nheaders, STR_LIT("Sec-WebSocket-Key"));
    char accept[WS_ACCEPT_LEN + 1];
    if (!req->conn_upgrade || !ws_key_valid(key) || ws_accept_compute(key, accept) < 0) {
        bu_buf_append(&obuf, bad, sizeof(bad) - 1);
        c->closing = true;
        return -1;
    }
    char head[200];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    return bu_buf_append(&obuf, head, (size_t)n);
}

/* Parses p[0..len) (mutable: payloads are unmasked in place) and builds the answers in obuf.
 * Returns bytes consumed (the rest is an incomplete head or frame), or -1 to drop the
 * connection at once. */
static ssize_t process(struct econn *c, uint8_t *p, size_t len)
{
    size_t i = 0;
    if (c->st == E_HEAD) {
        struct h1_header hdrs[64];
        struct h1_request req;
        int r = h1_parse_request((const char *)p, len, NULL, hdrs, 64, &req, NULL);
        if (r == H1_INCOMPLETE)
            return 0;
        if (r < 0 || answer_upgrade(c, &req) < 0) {
            c->closing = true;
            return (ssize_t)len;
        }
        c->st = E_WS;
        i = (size_t)r;
    }
    while (i < len && !c->closing) {
        struct ws_frame_hdr h;
        int r = ws_frame_parse(p + i, len - i, &h);
        if (r == WS_FRAME_INCOMPLETE)
            break;
        if (r < 0 || !h.masked || h.payload_len > MAX_PAYLOAD)
            return -1;
        if (len - i - (size_t)r < h.payload_len)
            break;
        uint8_t *pl = p + i + r;
        size_t n = (size_t)h.payload_len;
        ws_mask(pl, n, h.mask, 0);
        uint8_t hdr[WS_FRAME_HDR_MAX];
        size_t hl = 0;
        switch (h.opcode) {
        case WS_OP_PONG:
            break;
        case WS_OP_PING:
            hl = ws_frame_encode(hdr, true, WS_OP_PONG, NULL, n);
            break;
        case WS_OP_CLOSE:
            if (n > 2)
                n = 2; /* the code, without the reason */
            hl = ws_frame_encode(hdr, true, WS_OP_CLOSE, NULL, n);
            c->closing = true;
            break;
        default:
            hl = ws_frame_encode(hdr, h.fin, h.opcode, NULL, n);
            break;
        }
        if (hl && (bu_buf_append(&obuf, hdr, hl) < 0 || bu_buf_append(&obuf, pl, n) < 0))
            return -1;
        i += (size_t)r + (size_t)h.payload_len;
    }
    return (ssize_t)i;
}

/* Feeds n freshly read bytes at p: straight from the read buffer when nothing is pending, else
 * behind the pending partial frame. -1 drops the connection. */
static int feed(struct econn *c, uint8_t *p, size_t n)
{
    if (c->st == E_SHUT || c->closing)
        return 0; /* after our close: discard until EOF */
    if (!bu_buf_used(&c->in)) {
        ssize_t used = process(c, p, n);
        if (used < 0)
            return -1;
        if ((size_t)used < n && bu_buf_append(&c->in, p + used, n - (size_t)used) < 0)
            return -1;
        return 0;
    }
    if (bu_buf_append(&c->in, p, n) < 0)
        return -1;
    ssize_t used = process(c, c->in.p + c->in.off, bu_buf_used(&c->in));
    if (used < 0)
        return -1;
    bu_buf_consume(&c->in, (size_t)used);
    if (bu_buf_used(&c->in) > MAX_PAYLOAD + 64 * 1024)
        return -1;
    return 0;
}

static void on_conn(struct econn *c, unsigned events)
{
    if (c->st == E_TLS) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                unsigned want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
                struct epoll_event ev = {.events = want, .data.ptr = c};
                if (want != c->armed && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
                    c->armed = want;
                return;
            }
            econn_free(c);
            return;
        }
        c->st = E_HEAD;
    }
    if ((events & EPOLLOUT) && flush_out(c) < 0) {
        econn_free(c);
        return;
    }
    for (int k = 0; k < READS_PER_EVENT && bu_buf_used(&c->out) < OUT_HIGH; k++) {
        ssize_t r = do_read(c, rbuf, sizeof(rbuf));
        if (r == -1)
            break;
        if (r <= 0) {
            econn_free(c);
            return;
        }
        if (feed(c, rbuf, (size_t)r) < 0 || send_obuf(c) < 0) {
            econn_free(c);
            return;
        }
        /* A plain read that did not fill the buffer emptied the socket. */
        if (!c->ssl && (size_t)r < sizeof(rbuf))
            break;
    }
    if (flush_out(c) < 0 || set_interest(c) < 0)
        econn_free(c);
}

static void on_accept(int lfd)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                fprintf(stderr, "wsecho: accept: too many open files\n");
            return;
        }
        bu_nodelay(fd);
        struct econn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->st = E_HEAD;
        if (tls_ctx) {
            c->ssl = SSL_new(tls_ctx);
            if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
                ERR_clear_error();
                SSL_free(c->ssl);
                close(fd);
                free(c);
                return;
            }
            SSL_set_accept_state(c->ssl);
            c->st = E_TLS;
        }
        c->armed = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            SSL_free(c->ssl);
            close(fd);
            free(c);
            return;
        }
        nconns++;
        ntotal++;
    }
}

static void usage(void)
{
    fputs("usage: wsecho --listen 127.0.0.1:PORT [--tls CERT KEY]\n"
          "  a WebSocket echo server for the benchmark: every data frame is sent back unmasked,\n"
          "  pings get pongs, a close is echoed. --tls serves wss:// (the no-proxy floor).\n",
          stderr);
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            cert = argv[++i];
            key = argv[++i];
        } else {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (!listen_at) {
        usage();
        return 2;
    }
    struct sockaddr_in sa;
    if (bu_parse_loopback(listen_at, &sa, "wsecho: --listen") < 0)
        return 2;
    bu_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    if (cert && !(tls_ctx = bu_tls_server_ctx(cert, key, false)))
        return 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
        fprintf(stderr, "wsecho: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        fprintf(stderr, "wsecho: epoll: %s\n", strerror(errno));
        return 1;
    }
    if (bu_buf_reserve(&obuf, READ_CHUNK + 4096) < 0)
        return 1;
    fprintf(stderr, "wsecho: listening on %s (%s)\n", listen_at, tls_ctx ? "wss" : "ws");
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "wsecho: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                on_accept(lfd);
            else
                on_conn(evs[i].data.ptr, evs[i].events);
        }
    }
}
