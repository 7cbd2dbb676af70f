/* wsrelay: the benchmark's do-nothing proxy. It relays the bytes of each accepted connection to
 * a new connection to --to and back, and does nothing else: no TLS, no HTTP, no WebSocket
 * (bytes pass unchanged, so it relays ws:// and, in front of wsecho --tls, wss:// alike). Its
 * CPU per message is what the kernel alone charges a proxy for echo traffic (the "relay floor"
 * of bench/run): two receives and two sends per echoed message, the loopback deliveries and
 * the wake-ups they cause.
 *
 * With --tls CERT KEY (epoll only) the client side is TLS: OpenSSL runs the handshake and the
 * upgrade, and then, as in wssgate's tunnels, the connection moves onto wssgate's own record
 * layer (tls/tls_handover.h), which opens each record in place and seals each answer. That is
 * the "TLS relay" floor: the kernel's part plus the least TLS work a TLS-terminating proxy must
 * do per message with OpenSSL's AEADs, and no HTTP or WebSocket work.
 *
 * Two I/O engines, same relay:
 *   --io epoll     edge-triggered epoll, as wssgate's tunnels: a direction reads until a read
 *                  comes back short (the socket is then empty: the next bytes bring an event)
 *                  or the other socket stops taking what it read; one recv and one send per
 *                  message, no epoll_ctl after the first;
 *   --io io_uring  one receive or send in flight per direction, completions reaped in batches
 *                  and the next operations submitted with one io_uring_enter per batch.
 * The pair is how bench/run measures whether io_uring's batching pays on this machine.
 *
 * A direction reads into its own buffer, writes it all to the other socket (stops reading while
 * the socket does not take it), and on EOF shuts the other socket's write side; a pair is freed
 * once both directions ended. The backend connection is made with a blocking connect(): --to is
 * a loopback address, and this program serves a benchmark, not the network. */
#include "bench_util.h"
#include "net/stream.h"
#include "tls/tls_handover.h"
#include "tls/tls_record.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DIR_BUF (16 * 1024)

struct pair;

/* Bytes from `from` to `to`: buf[off, len) still to be written. */
struct dir {
    struct pair *pair;
    int from, to;
    unsigned off, len;
    bool ended;     /* EOF or an error: no more bytes this way */
    bool drained;   /* epoll: the last read found the source empty; its next event clears it */
    bool hup;       /* epoll: the source reported its peer's FIN: read on until EOF */
    bool in_flight; /* io_uring: an operation of this direction is submitted */
    uint8_t buf[DIR_BUF];
};

struct pair {
    int fd[2];       /* client, backend */
    struct dir d[2]; /* d[0]: client → backend, d[1]: backend → client */
    bool closed;       /* epoll: sockets closed, memory freed after the event batch */
    struct pair *next_closed;
    /* --tls: the client side is on OpenSSL (ssl) until it moves onto ho->rec (on_rec). */
    SSL *ssl;
    struct tls_handover *ho;
    bool on_rec;
    bool ssl_wants_write; /* the handshake waits for the client socket to take bytes */
};

static struct sockaddr_in backend;
static SSL_CTX *tls_ctx; /* --tls */

static void usage(void)
{
    fprintf(stderr,
            "usage: wsrelay --listen 127.0.0.1:PORT --to 127.0.0.1:PORT [--io epoll|io_uring]\n"
            "               [--tls CERT KEY]\n"
            "  relays bytes both ways and nothing else (the benchmark's relay floor);\n"
            "  --tls (epoll only): terminates the client's TLS, on wssgate's record layer\n");
}

/* A new pair for an accepted client: connects the backend. NULL (client closed) on failure. */
static struct pair *pair_open(int cfd)
{
    int bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bfd < 0 || connect(bfd, (struct sockaddr *)&backend, sizeof(backend)) < 0) {
        fprintf(stderr, "wsrelay: cannot connect to the backend: %s\n", strerror(errno));
        if (bfd >= 0)
            close(bfd);
        close(cfd);
        return NULL;
    }
    struct pair *p = calloc(1, sizeof(*p));
    if (!p) {
        close(bfd);
        close(cfd);
        return NULL;
    }
    bu_nodelay(cfd);
    bu_nodelay(bfd);
    /* Both engines want non-blocking sockets: epoll's recv/send must not wait, and io_uring
     * then arms its own poll instead of parking a worker thread on a blocking call. */
    fcntl(cfd, F_SETFL, O_NONBLOCK);
    fcntl(bfd, F_SETFL, O_NONBLOCK);
    p->fd[0] = cfd;
    p->fd[1] = bfd;
    for (int i = 0; i < 2; i++)
        p->d[i] = (struct dir){.pair = p, .from = p->fd[i], .to = p->fd[1 - i]};
    if (tls_ctx) {
        p->ssl = SSL_new(tls_ctx);
        p->ho = calloc(1, sizeof(*p->ho));
        if (!p->ssl || !p->ho || SSL_set_fd(p->ssl, cfd) != 1) {
            ERR_clear_error();
            SSL_free(p->ssl);
            free(p->ho);
            free(p);
            close(bfd);
            close(cfd);
            return NULL;
        }
        SSL_set_accept_state(p->ssl);
        if (tls_handover_attach(p->ssl, p->ho, false) < 0)
            tls_handover_never(p->ho); /* stays on OpenSSL */
    }
    return p;
}

static void pair_free(struct pair *p)
{
    if (!p->closed) {
        close(p->fd[0]);
        close(p->fd[1]);
    }
    SSL_free(p->ssl);
    if (p->ho) {
        tls_rec_fini(&p->ho->rec);
        free(p->ho);
    }
    free(p);
}

/* --tls: once OpenSSL holds no bytes of the connection, it moves onto the record layer. */
static void try_handover(struct pair *p)
{
    p->ssl_wants_write = SSL_want_write(p->ssl);
    if (p->ho->never || tls_handover_take(p->ssl, p->ho) != TLS_HANDOVER_DONE)
        return;
    SSL_free(p->ssl);
    p->ssl = NULL;
    p->on_rec = true;
    p->ssl_wants_write = false;
}

/* Reads from fd[i]: >0 bytes, 0 at EOF, -1 when it would block, -2 on an error. */
static ssize_t side_recv(struct pair *p, int i, void *buf, size_t n)
{
    ssize_t r;
    if (i == 1 || !p->ho) {
        r = recv(p->fd[i], buf, n, 0);
        return r >= 0 ? r : errno == EAGAIN || errno == EINTR ? -1 : -2;
    }
    if (p->on_rec) {
        r = tls_rec_read(&p->ho->rec, p->fd[0], buf, n);
        return r == STREAM_AGAIN ? -1 : r == STREAM_ERR ? -2 : r;
    }
    tls_handover_enter(p->ho); /* the handshake runs in the first reads */
    r = bu_ssl_read(p->ssl, buf, n, NULL);
    tls_handover_leave();
    try_handover(p);
    return r;
}

/* Writes to fd[i], same convention. */
static ssize_t side_send(struct pair *p, int i, const void *buf, size_t n)
{
    ssize_t r;
    if (i == 1 || !p->ho) {
        r = send(p->fd[i], buf, n, MSG_NOSIGNAL);
        return r >= 0 ? r : errno == EAGAIN || errno == EINTR ? -1 : -2;
    }
    if (p->on_rec) {
        r = tls_rec_write(&p->ho->rec, p->fd[0], buf, n);
        return r == STREAM_AGAIN ? -1 : r == STREAM_ERR ? -2 : r;
    }
    tls_handover_enter(p->ho);
    r = bu_ssl_write(p->ssl, buf, n);
    tls_handover_leave();
    try_handover(p);
    return r;
}

/* After a read of r > 0 bytes from fd[i]: true when the socket is known to be empty and no
 * TLS layer holds bytes, so that only a new event can bring more. */
static bool side_drained(const struct pair *p, int i, ssize_t r)
{
    if (i == 1 || !p->ho)
        return r < DIR_BUF; /* a short read emptied the socket */
    if (p->on_rec)
        return tls_rec_drained(&p->ho->rec) && !tls_rec_pending(&p->ho->rec);
    return false; /* OpenSSL: read on until it wants more (the upgrade only) */
}

static void dir_end(struct dir *d)
{
    if (d->ended)
        return;
    d->ended = true;
    struct pair *p = d->pair;
    if (d == &p->d[1] && p->on_rec && tls_rec_shutdown(&p->ho->rec, d->to) == 0)
        return; /* close_notify and FIN sent */
    if (d == &p->d[1] && p->ssl)
        SSL_shutdown(p->ssl); /* best effort: a benchmark's connections end with the run */
    shutdown(d->to, SHUT_WR);
}

/* ---- epoll ---------------------------------------------------------------------------------- */

static int epfd;

/* Both sockets go into the epoll set once, edge-triggered, for reading and writing. */
static void ep_add(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = &p->d[i]};
        epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd[i], &ev);
    }
}

/* Writes what d holds; false when the socket stopped taking it. */
static bool ep_flush(struct dir *d)
{
    struct pair *p = d->pair;
    int to = d == &p->d[0] ? 1 : 0;
    while (d->off < d->len) {
        ssize_t w = side_send(p, to, d->buf + d->off, d->len - d->off);
        if (w < 0) {
            if (w == -1)
                return false;
            d->off = d->len;
            dir_end(d);
            shutdown(d->from, SHUT_RD);
            return false;
        }
        d->off += (unsigned)w;
    }
    return true;
}

/* Moves d's bytes: writes what it holds, then reads and writes on while its source may hold
 * more and its target takes it. */
static void ep_pump(struct dir *d)
{
    struct pair *p = d->pair;
    int i = d == &p->d[0] ? 0 : 1;
    for (;;) {
        if (d->off < d->len && !ep_flush(d))
            return; /* the target is full: its EPOLLOUT resumes */
        if (d->ended || d->drained)
            return;
        ssize_t r = side_recv(p, i, d->buf, DIR_BUF);
        if (r > 0) {
            d->off = 0;
            d->len = (unsigned)r;
            /* A FIN that came with the last bytes brings no event of its own. */
            d->drained = !d->hup && side_drained(p, i, r);
        } else if (r == -1) {
            d->drained = true;
        } else {
            dir_end(d);
        }
    }
}

/* Pairs closed during the current epoll batch: a later event of the same batch may still
 * point at one, so their memory outlives the batch. */
static struct pair *closed_pairs;

static void ep_on_event(struct dir *d, unsigned events)
{
    struct pair *p = d->pair;
    if (p->closed)
        return;
    int i = d == &p->d[0] ? 0 : 1;
    struct dir *back = &p->d[1 - i]; /* the direction that writes to this socket */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        d->drained = false;
    if (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        d->hup = true;
    if (i == 0 && p->ssl_wants_write && (events & EPOLLOUT))
        d->drained = false; /* the handshake goes on in the next read */
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        ep_pump(back);
    ep_pump(d);
    if (p->d[0].ended && p->d[1].ended) {
        close(p->fd[0]); /* close() removes both sockets from the epoll set */
        close(p->fd[1]);
        p->closed = true;
        p->next_closed = closed_pairs;
        closed_pairs = p;
    }
}

static int run_epoll(int lfd)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        fprintf(stderr, "wsrelay: epoll: %s\n", strerror(errno));
        return 1;
    }
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, -1);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "wsrelay: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int k = 0; k < n; k++) {
            if (evs[k].data.ptr) {
                ep_on_event(evs[k].data.ptr, evs[k].events);
                continue;
            }
            int cfd;
            while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                struct pair *p = pair_open(cfd);
                if (p)
                    ep_add(p);
            }
        }
        while (closed_pairs) {
            struct pair *p = closed_pairs;
            closed_pairs = p->next_closed;
            pair_free(p);
        }
    }
}

/* ---- io_uring ------------------------------------------------------------------------------- */

static struct io_uring ring;

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) { /* the submission queue is full: hand it to the kernel and take a fresh slot */
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    if (!sqe) {
        fprintf(stderr, "wsrelay: io_uring: no submission slot\n");
        exit(1);
    }
    return sqe;
}

/* user_data of every operation: the struct dir it moves bytes for, NULL for the accept. */

static void ur_next(struct dir *d)
{
    struct io_uring_sqe *sqe = get_sqe();
    if (d->off < d->len)
        io_uring_prep_send(sqe, d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
    else
        io_uring_prep_recv(sqe, d->from, d->buf, DIR_BUF, 0);
    io_uring_sqe_set_data(sqe, d);
    d->in_flight = true;
}

static void ur_arm_accept(int lfd)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, NULL);
}

static void ur_complete(struct dir *d, int res)
{
    d->in_flight = false;
    if (d->off < d->len) { /* a send */
        if (res < 0) {
            d->off = d->len;
            dir_end(d);
            shutdown(d->from, SHUT_RD);
        } else {
            d->off += (unsigned)res;
        }
    } else if (res > 0) { /* a receive */
        d->off = 0;
        d->len = (unsigned)res;
    } else {
        dir_end(d);
    }
    struct pair *p = d->pair;
    if (!d->ended) {
        ur_next(d);
    } else if (p->d[0].ended && p->d[1].ended && !p->d[0].in_flight && !p->d[1].in_flight) {
        pair_free(p);
    }
}

static int run_io_uring(int lfd)
{
    /* One thread submits everything: let the kernel run completions' work only when we enter
     * it to wait (DEFER_TASKRUN) rather than interrupting us; older kernels refuse the flags. */
    struct io_uring_params prm = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int rc = io_uring_queue_init_params(4096, &ring, &prm);
    if (rc == -EINVAL) {
        memset(&prm, 0, sizeof(prm));
        rc = io_uring_queue_init_params(4096, &ring, &prm);
    }
    if (rc < 0) {
        fprintf(stderr, "wsrelay: io_uring_queue_init: %s\n", strerror(-rc));
        return 1;
    }
    ur_arm_accept(lfd);
    for (;;) {
        rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR) {
            fprintf(stderr, "wsrelay: io_uring_submit_and_wait: %s\n", strerror(-rc));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            seen++;
            struct dir *d = io_uring_cqe_get_data(cqe);
            if (d) {
                ur_complete(d, cqe->res);
                continue;
            }
            if (cqe->res >= 0) {
                struct pair *p = pair_open(cqe->res);
                if (p) {
                    ur_next(&p->d[0]);
                    ur_next(&p->d[1]);
                }
            }
            ur_arm_accept(lfd);
        }
        io_uring_cq_advance(&ring, seen);
    }
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *to = NULL, *io = "epoll", *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
        } else if (strcmp(argv[i], "--io") == 0 && i + 1 < argc) {
            io = argv[++i];
        } else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            cert = argv[++i];
            key = argv[++i];
        } else {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    bool uring = strcmp(io, "io_uring") == 0;
    if (!listen_at || !to || (!uring && strcmp(io, "epoll") != 0) || (uring && cert)) {
        usage();
        return 2;
    }
    struct sockaddr_in sa;
    if (bu_parse_loopback(listen_at, &sa, "wsrelay: --listen") < 0
        || bu_parse_loopback(to, &backend, "wsrelay: --to") < 0)
        return 2;
    if (cert && !(tls_ctx = bu_tls_server_ctx(cert, key, true)))
        return 1;
    bu_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (uring ? 0 : SOCK_NONBLOCK), 0);
    int one = 1;
    if (lfd >= 0)
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
        fprintf(stderr, "wsrelay: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    fprintf(stderr, "wsrelay: listening on %s%s, relaying to %s with %s\n", listen_at,
            cert ? " (TLS)" : "", to, io);
    return uring ? run_io_uring(lfd) : run_epoll(lfd);
}
