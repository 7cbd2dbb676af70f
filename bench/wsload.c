/* wsload: the benchmark's WebSocket load generator. One thread, level-triggered epoll, OpenSSL;
 * ws:// and wss:// to loopback addresses only. Three modes, each bounded in connections and time:
 *
 *   echo       N connections, each with one S-byte binary message in flight (closed loop) for D
 *              seconds after a warm-up: messages/s, latency percentiles, every echo checked byte
 *              for byte against what was sent, errors counted.
 *   idle       open N connections and hold them; ping each once and count the pongs.
 *   handshake  C connections at a time, each a full TLS handshake (no resumption) + upgrade +
 *              close handshake: handshakes/s.
 *
 * With --pid (repeatable) it reads the CPU time (utime + stime, all threads: /proc/PID/stat;
 * stime, the kernel's part, also alone) and RSS (/proc/PID/status) of the process under test
 * exactly at the edges of the measured window, so CPU per message and memory per connection
 * come from the same window as the counts; also each thread's CPU time of the first --pid
 * (/proc/PID/task: thread_cpu_s, how the workers split the work).
 * Prints one line of key=value pairs on stdout; exits 0 when there were no errors, 1 otherwise.
 *
 * Phases of a run (who moves them: run_phases(), on time or on counts):
 *   echo:      SETUP (connect all) → WARM → MEASURE → DRAIN (answers of messages in flight) →
 *              CLOSE (close handshakes) → END
 *   idle:      SETUP → SETTLE → PING (until every pong) → HOLD → CLOSE → AFTER (settle) → END
 *   handshake: WARM → MEASURE → DRAIN (connections in progress finish) → END
 * A connection: CONNECTING → TLS → UPGRADE (request sent, 101 awaited) → OPEN → CLOSING (our close
 * frame sent; the answer and the EOF awaited) → freed. */
#include "bench_util.h"

#include "http/h1_parse.h"
#include "net/stream.h"
#include "tls/tls_handover.h"
#include "ws/ws_frame.h"
#include "ws/ws_handshake.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define NS_PER_S   1000000000ull
#define NS_PER_MS  1000000ull
#define HIST_US    (1u << 20) /* latency histogram: 1 µs buckets up to ~1 s */
#define MAX_SIZE   (1u << 20) /* largest message */
#define PAT_SPAN   65536      /* messages start at different offsets of the pattern */
#define MAX_PIDS   8
#define DRAIN_NS   (3 * NS_PER_S) /* answers still due after the window */
#define CLOSE_NS   (5 * NS_PER_S) /* close handshakes */
#define PONG_NS    (20 * NS_PER_S)
#define HS_CONN_NS (10 * NS_PER_S) /* one handshake-mode connection, start to EOF */

enum mode { M_ECHO, M_IDLE, M_HANDSHAKE };
enum phase {
    P_SETUP,
    P_WARM,
    P_MEASURE,
    P_DRAIN,
    P_SETTLE,
    P_PING,
    P_HOLD,
    P_CLOSE,
    P_AFTER,
    P_END
};
enum lstate { L_CONNECTING, L_TLS, L_UPGRADE, L_OPEN, L_CLOSING };
enum outcome { O_OK, O_CONNECT, O_UPGRADE, O_CLOSED, O_MISMATCH, O_TIMEOUT, O_UNCLEAN };

struct lconn {
    int fd;
    SSL *ssl;
    struct tls_handover *ho; /* echo mode: TLS moves onto ho->rec once upgraded (ssl then NULL) */
    enum lstate st;
    unsigned slot;
    unsigned armed;
    unsigned hs_want; /* EPOLLIN/EPOLLOUT asked for by the TLS handshake */
    bool close_rcvd;
    bool in_flight; /* an echo message awaits its answer */
    char key[WS_KEY_LEN + 1];
    uint8_t *w; /* the one thing being written: request, message, ping or close */
    size_t wcap, wlen, woff;
    uint8_t *in; /* bytes read, not parsed yet */
    size_t in_len, in_cap;
    uint64_t t0;       /* connect start (handshake mode), or when the message in flight left */
    uint64_t deadline; /* handshake mode: give up on this connection then */
    size_t exp_off;    /* offset in the pattern of the message in flight */
    uint64_t seq;
    const char *why; /* what went wrong, for the first failures reported on stderr */
};

struct conf {
    enum mode mode;
    struct sockaddr_in addr;
    bool tls;
    char hostport[80];
    char path[256];
    unsigned conns, size, concurrency;
    double duration, warmup, hold, setup_timeout;
    pid_t pids[MAX_PIDS];
    int npids;
    bool no_handover; /* --client-tls openssl: echo traffic through OpenSSL to the end */
};

static struct conf cf;
static int epfd;
static SSL_CTX *cctx;
static unsigned n_handed_over; /* connections whose TLS moved onto tls_record */
static uint8_t *pat;
static struct lconn **slots;
static unsigned n_started, n_open, n_connecting, n_live, n_failed_setup;
static enum phase phase;
static uint64_t now, phase_end, t_run_start;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t *hist;
static const char *cipher_seen = "-", *proto_seen = "-";

/* Busy and total jiffies of each CPU (/proc/stat), to tell how busy the machine was besides
 * the process under test: another program on the proxy's CPU makes every figure noisier. */
#define MAX_CPUS 8
struct cpu_times {
    unsigned long long busy[MAX_CPUS], steal[MAX_CPUS], total[MAX_CPUS];
    int n;
};

#define MAX_THREADS 64
struct thread_cpu {
    int n;
    int tid[MAX_THREADS];
    double cpu[MAX_THREADS];
};

static struct {
    uint64_t msgs, hs, pongs, pings, unclean;
    uint64_t err[O_UNCLEAN];
    uint64_t m_start, m_end;   /* measured window, ns */
    double cpu_start, cpu_end; /* seconds of CPU of the --pid processes */
    double sys_cpu_start, sys_cpu_end; /* the part of it spent in the kernel (stime) */
    struct thread_cpu threads_start, threads_end; /* per thread, of the first --pid */
    struct cpu_times sys_start, sys_end;
    long rss_before, rss_hold0, rss_hold, rss_after;
} st;

static const char *const err_names[] = {"ok",     "connect",  "upgrade",
                                        "closed", "mismatch", "timeout"};

/* ---- the process under test ---- */

/* CPU seconds (utime + stime) in a /proc stat file (a process's or a thread's); *sys gets the
 * stime part. The kernel keeps the total exact and splits it by where its ticks landed: over a
 * window of seconds the split is good to a few percent. */
static double stat_cpu_s(const char *path, double *sys)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    /* After "comm)": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime(15). */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    *sys = (double)stime / (double)sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double pid_cpu_s(pid_t pid, double *sys)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return stat_cpu_s(path, sys);
}

/* CPU seconds of each thread of pid, for the scaling figure: how the workers share the load. */
static void read_thread_cpu(pid_t pid, struct thread_cpu *t)
{
    t->n = 0;
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && t->n < MAX_THREADS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[sizeof(dir) + sizeof(e->d_name) + sizeof("//stat")];
        double sys;
        snprintf(path, sizeof(path), "%s/%s/stat", dir, e->d_name);
        double s = stat_cpu_s(path, &sys);
        if (s < 0)
            continue;
        t->tid[t->n] = (int)strtol(e->d_name, NULL, 10);
        t->cpu[t->n++] = s;
    }
    closedir(d);
}

static long pid_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static void read_cpu_times(struct cpu_times *t)
{
    t->n = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f) && t->n < MAX_CPUS) {
        int id;
        unsigned long long v[8] = {0};
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &id, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) < 5 ||
            id != t->n)
            continue;
        unsigned long long total = 0;
        for (int i = 0; i < 8; i++)
            total += v[i];
        t->total[t->n] = total;
        t->busy[t->n] = total - v[3] - v[4]; /* minus idle and iowait; steal counts as busy */
        t->steal[t->n] = v[7];
        t->n++;
    }
    fclose(f);
}

static double cpu_total(double *sys)
{
    double s = 0;
    *sys = 0;
    for (int i = 0; i < cf.npids; i++) {
        double k = 0, v = pid_cpu_s(cf.pids[i], &k);
        if (v < 0)
            return -1;
        s += v;
        *sys += k;
    }
    return s;
}

static long rss_total(void)
{
    long s = 0;
    for (int i = 0; i < cf.npids; i++) {
        long v = pid_rss_kib(cf.pids[i]);
        if (v < 0)
            return -1;
        s += v;
    }
    return s;
}

/* ---- small helpers ---- */

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void hist_add(uint64_t ns)
{
    uint64_t us = ns / 1000;
    hist[us < HIST_US ? us : HIST_US - 1]++;
}

static uint64_t hist_pct(double q)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < HIST_US; i++)
        total += hist[i];
    if (!total)
        return 0;
    double want = q * (double)total;
    uint64_t rank = (uint64_t)want, seen = 0;
    if ((double)rank < want || rank == 0)
        rank++;
    for (uint32_t i = 0; i < HIST_US; i++) {
        seen += hist[i];
        if (seen >= rank)
            return i;
    }
    return HIST_US - 1;
}

static uint64_t hist_max(void)
{
    for (uint32_t i = HIST_US; i-- > 0;)
        if (hist[i])
            return i;
    return 0;
}

static void set_interest(struct lconn *c)
{
    unsigned want;
    if (c->st == L_CONNECTING)
        want = EPOLLOUT;
    else if (c->st == L_TLS)
        want = c->hs_want;
    else
        want = EPOLLIN | (c->woff < c->wlen ? EPOLLOUT : 0);
    if (want == c->armed)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->armed = want;
}

/* ---- connection life ---- */

static void conn_start(unsigned slot);

/* The first few failures are described on stderr: a count alone does not say what broke. */
static void note_failure(const struct lconn *c, enum outcome o)
{
    static unsigned noted;
    static const char *const states[] = {"connecting", "TLS handshake", "upgrade", "open",
                                         "closing"};
    if (o == O_OK || o == O_UNCLEAN || noted >= 5)
        return;
    noted++;
    fprintf(stderr, "wsload: connection %u failed (%s) during %s: %s\n", c->slot, err_names[o],
            states[c->st], c->why ? c->why : "-");
}

/* The record-layer state of c, whether it took the connection over or never will. */
static void drop_handover(struct lconn *c)
{
    if (!c->ho)
        return;
    tls_rec_fini(&c->ho->rec);
    free(c->ho);
    c->ho = NULL;
}

/* Frees c and counts how it ended. In handshake mode a finished slot starts its next one. */
static void conn_end(struct lconn *c, enum outcome o)
{
    unsigned slot = c->slot;
    note_failure(c, o);
    if (c->st == L_OPEN || c->st == L_CLOSING)
        n_open--;
    else
        n_connecting--;
    if (c->st < L_OPEN && cf.mode != M_HANDSHAKE)
        n_failed_setup++;
    n_live--;
    if (o == O_UNCLEAN)
        st.unclean++;
    else if (o != O_OK)
        st.err[o]++;
    if (o == O_OK && cf.mode == M_HANDSHAKE && phase == P_MEASURE) {
        st.hs++;
        hist_add(c->t0 ? now - c->t0 : 0);
    }
    if (c->ssl)
        SSL_free(c->ssl);
    drop_handover(c);
    close(c->fd);
    free(c->w);
    free(c->in);
    free(c);
    slots[slot] = NULL;
    if (cf.mode == M_HANDSHAKE && (phase == P_WARM || phase == P_MEASURE))
        conn_start(slot);
}

/* >0 bytes, 0 EOF, -1 would block, -2 error. */
static ssize_t do_read(struct lconn *c, uint8_t *p, size_t n)
{
    if (c->ssl)
        return bu_ssl_read(c->ssl, p, n, &c->why);
    if (c->ho) {
        ssize_t r = tls_rec_read(&c->ho->rec, c->fd, p, n);
        if (r == STREAM_AGAIN)
            return -1;
        if (r == STREAM_ERR) {
            c->why = c->ho->rec.err;
            return -2;
        }
        return r;
    }
    ssize_t r = recv(c->fd, p, n, 0);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EINTR)
        return -1;
    c->why = strerror(errno);
    return -2;
}

/* Writes what is left of c->w. 0 (done or would block) or -1 (error). */
static int flush_w(struct lconn *c)
{
    while (c->woff < c->wlen) {
        size_t n = c->wlen - c->woff;
        if (c->ssl) {
            ssize_t r = bu_ssl_write(c->ssl, c->w + c->woff, n);
            if (r < 0)
                return r == -1 ? 0 : -1;
            c->woff += (size_t)r;
        } else if (c->ho) {
            /* A partial write is offered the same bytes again: c->w + c->woff. */
            ssize_t r = tls_rec_write(&c->ho->rec, c->fd, c->w + c->woff, n);
            if (r == STREAM_AGAIN)
                return 0;
            if (r < 0) {
                c->why = c->ho->rec.err;
                return -1;
            }
            c->woff += (size_t)r;
        } else {
            ssize_t r = send(c->fd, c->w + c->woff, n, MSG_NOSIGNAL);
            if (r < 0)
                return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
            c->woff += (size_t)r;
        }
    }
    return 0;
}

/* Queues one masked frame (the previous write is done: the protocol is strictly turn-based)
 * and writes it. 0 or -1. */
static int send_frame(struct lconn *c, uint8_t opcode, const uint8_t *payload, size_t n)
{
    uint64_t r = rng();
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    if (c->woff < c->wlen || n + WS_FRAME_HDR_MAX > c->wcap)
        return -1;
    size_t hl = ws_frame_encode(c->w, true, opcode, mask, n);
    memcpy(c->w + hl, payload, n);
    ws_mask(c->w + hl, n, mask, 0);
    c->wlen = hl + n;
    c->woff = 0;
    return flush_w(c);
}

static int send_message(struct lconn *c)
{
    c->exp_off = (size_t)((c->slot * 7919ull + c->seq * 104729ull) % PAT_SPAN);
    c->seq++;
    c->in_flight = true;
    c->t0 = now;
    return send_frame(c, WS_OP_BINARY, pat + c->exp_off, cf.size);
}

static int send_close(struct lconn *c)
{
    static const uint8_t code[2] = {0x03, 0xe8}; /* 1000 */
    c->st = L_CLOSING;
    return send_frame(c, WS_OP_CLOSE, code, sizeof(code));
}

static int send_upgrade(struct lconn *c)
{
    if (ws_key_generate(c->key) < 0)
        return -1;
    int n = snprintf((char *)c->w, c->wcap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     cf.path, cf.hostport, c->key);
    if (n < 0 || (size_t)n >= c->wcap)
        return -1;
    c->wlen = (size_t)n;
    c->woff = 0;
    c->st = L_UPGRADE;
    return flush_w(c);
}

/* The connection is upgraded: what to do next depends on the mode and phase. */
static int on_open(struct lconn *c)
{
    n_connecting--;
    n_open++;
    c->st = L_OPEN;
    if (c->ssl && cipher_seen[0] == '-') {
        cipher_seen = SSL_get_cipher_name(c->ssl);
        proto_seen = SSL_get_version(c->ssl);
    }
    if (cf.mode == M_HANDSHAKE)
        return send_close(c);
    if (cf.mode == M_ECHO && (phase == P_WARM || phase == P_MEASURE))
        return send_message(c);
    return 0;
}

/* Parses the 101. Returns bytes consumed, 0 if incomplete, -1 if not a valid upgrade. */
static ssize_t parse_upgrade(struct lconn *c)
{
    struct h1_header hdrs[32];
    struct h1_response resp;
    int r = h1_parse_response((const char *)c->in, c->in_len, NULL, hdrs, 32, false, &resp, NULL);
    if (r == H1_INCOMPLETE)
        return 0;
    if (r < 0 || resp.status != 101)
        return -1;
    struct str accept = h1_find_header(hdrs, resp.nheaders, STR_LIT("Sec-WebSocket-Accept"));
    if (!ws_accept_matches(str_from_cstr(c->key), accept))
        return -1;
    return r;
}

/* One whole frame from the server. Returns 0, or an outcome to end the connection with. */
static enum outcome on_frame(struct lconn *c, const struct ws_frame_hdr *h, const uint8_t *p)
{
    if (h->masked) {
        c->why = "masked frame from the server";
        return O_MISMATCH;
    }
    switch (h->opcode) {
    case WS_OP_CLOSE:
        if (c->st != L_CLOSING) {
            c->why = "close frame from the server";
            return O_CLOSED;
        }
        c->close_rcvd = true;
        return O_OK;
    case WS_OP_PONG:
        if (h->payload_len != 8 || memcmp(p, &c->slot, sizeof(c->slot)) != 0) {
            c->why = "pong payload differs from the ping's";
            return O_MISMATCH;
        }
        st.pongs++;
        return O_OK;
    case WS_OP_BINARY:
        break;
    default:
        c->why = "unexpected opcode";
        return O_MISMATCH;
    }
    if (cf.mode != M_ECHO || !c->in_flight || !h->fin || h->payload_len != cf.size) {
        c->why = "unexpected data frame (none in flight, fragmented, or wrong length)";
        return O_MISMATCH;
    }
    if (memcmp(p, pat + c->exp_off, cf.size) != 0) {
        c->why = "echoed bytes differ from the message sent";
        return O_MISMATCH;
    }
    c->in_flight = false;
    if (phase == P_MEASURE) {
        st.msgs++;
        hist_add(now - c->t0);
    }
    if ((phase == P_WARM || phase == P_MEASURE) && c->st == L_OPEN && send_message(c) < 0)
        return O_CLOSED;
    return O_OK;
}

/* Parses what was read. Returns O_OK to go on, or the outcome to end the connection with. */
static enum outcome handle_input(struct lconn *c)
{
    size_t i = 0;
    if (c->st == L_UPGRADE) {
        ssize_t r = parse_upgrade(c);
        if (r == 0)
            return c->in_len == c->in_cap ? O_UPGRADE : O_OK;
        if (r < 0)
            return O_UPGRADE;
        i = (size_t)r;
        if (on_open(c) < 0)
            return O_CLOSED;
    }
    while (i < c->in_len) {
        struct ws_frame_hdr h;
        int r = ws_frame_parse(c->in + i, c->in_len - i, &h);
        if (r == WS_FRAME_INCOMPLETE)
            break;
        if (r < 0 || h.payload_len > c->in_cap - (size_t)r)
            return O_MISMATCH;
        if (c->in_len - i - (size_t)r < h.payload_len)
            break;
        enum outcome o = on_frame(c, &h, c->in + i + r);
        if (o != O_OK)
            return o;
        i += (size_t)r + (size_t)h.payload_len;
    }
    if (i) {
        memmove(c->in, c->in + i, c->in_len - i);
        c->in_len -= i;
    }
    return O_OK;
}

/* EOF from the server: clean after our close was answered, an error otherwise. */
static enum outcome on_eof(struct lconn *c)
{
    if (c->st == L_CLOSING)
        return c->close_rcvd ? O_OK : O_UNCLEAN;
    if (c->st == L_UPGRADE)
        return O_UPGRADE;
    if (c->st < L_UPGRADE)
        return O_CONNECT;
    return O_CLOSED;
}

/* Once upgraded, with no write half done, the connection leaves OpenSSL for wssgate's own
 * record layer (tls/tls_handover.h), as the proxy's tunnels do: the load generator shares
 * CPU 0 with the backend, and what it saves there is throughput the contenders can show. */
static void handover(struct lconn *c)
{
    if (!c->ho || !c->ssl || c->st != L_OPEN || c->woff < c->wlen)
        return;
    enum tls_handover_result r = tls_handover_take(c->ssl, c->ho);
    if (r == TLS_HANDOVER_LATER)
        return;
    if (r == TLS_HANDOVER_NEVER) {
        drop_handover(c);
        return;
    }
    SSL_free(c->ssl);
    c->ssl = NULL;
    n_handed_over++;
}

static void on_conn(struct lconn *c, unsigned events)
{
    if (c->st == L_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            c->why = strerror(err ? err : errno);
            conn_end(c, O_CONNECT);
            return;
        }
        c->st = c->ssl ? L_TLS : L_UPGRADE;
        if (!c->ssl && send_upgrade(c) < 0) {
            conn_end(c, O_UPGRADE);
            return;
        }
    }
    if (c->st == L_TLS) {
        errno = 0;
        /* The handshake runs to its end here, before any SSL_read/SSL_write: its secrets reach
         * c->ho (tls_handover_enter). */
        if (c->ho)
            tls_handover_enter(c->ho);
        int r = SSL_do_handshake(c->ssl);
        tls_handover_leave();
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                c->hs_want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
                set_interest(c);
                return;
            }
            if (e == SSL_ERROR_SYSCALL)
                c->why = errno ? strerror(errno) : "EOF during the handshake";
            else
                c->why = ERR_reason_error_string(ERR_peek_last_error());
            ERR_clear_error();
            conn_end(c, O_CONNECT);
            return;
        }
        if (send_upgrade(c) < 0) {
            conn_end(c, O_UPGRADE);
            return;
        }
    }
    if ((events & EPOLLOUT) && flush_w(c) < 0) {
        conn_end(c, c->st == L_UPGRADE ? O_UPGRADE : O_CLOSED);
        return;
    }
    for (int k = 0; k < 64; k++) {
        if (c->in_len == c->in_cap) {
            conn_end(c, O_MISMATCH);
            return;
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t r = do_read(c, c->in + c->in_len, room);
        if (r == -1)
            break;
        if (r == -2) {
            conn_end(c, c->st == L_CLOSING ? O_UNCLEAN : on_eof(c));
            return;
        }
        if (r == 0) {
            conn_end(c, on_eof(c));
            return;
        }
        c->in_len += (size_t)r;
        enum outcome o = handle_input(c);
        if (o != O_OK) {
            conn_end(c, o);
            return;
        }
        /* A read that left nothing behind (plain: it did not fill the buffer; TLS: OpenSSL
         * holds no bytes) most likely emptied the socket. Epoll is level-triggered, so bytes
         * that did arrive meanwhile are reported again: no read() that returns EAGAIN. */
        if (c->ssl ? !SSL_has_pending(c->ssl)
                   : c->ho ? !tls_rec_pending(&c->ho->rec) : (size_t)r < room)
            break;
    }
    handover(c);
    set_interest(c);
}

static void conn_start(unsigned slot)
{
    struct lconn *c = calloc(1, sizeof(*c));
    if (!c) {
        st.err[O_CONNECT]++;
        return;
    }
    c->slot = slot;
    c->wcap = cf.size + WS_FRAME_HDR_MAX > 1024 ? cf.size + WS_FRAME_HDR_MAX : 1024;
    c->in_cap = 2 * (cf.size + WS_FRAME_HDR_MAX) > 4096 ? 2 * (cf.size + WS_FRAME_HDR_MAX) : 4096;
    c->w = malloc(c->wcap);
    c->in = malloc(c->in_cap);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->t0 = now;
    c->deadline = now + HS_CONN_NS;
    slots[slot] = c;
    n_live++;
    n_connecting++;
    n_started++;
    if (!c->w || !c->in || c->fd < 0) {
        if (c->fd < 0 && (errno == EMFILE || errno == ENFILE))
            fprintf(stderr, "wsload: too many open files\n");
        conn_end(c, O_CONNECT);
        return;
    }
    bu_nodelay(c->fd);
    if (cf.tls) {
        c->ssl = SSL_new(cctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
            ERR_clear_error();
            conn_end(c, O_CONNECT);
            return;
        }
        SSL_set_connect_state(c->ssl);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        if (cf.mode == M_ECHO && !cf.no_handover) {
            c->ho = calloc(1, sizeof(*c->ho));
            if (c->ho && tls_handover_attach(c->ssl, c->ho, true) < 0) {
                free(c->ho);
                c->ho = NULL;
            }
        }
        c->hs_want = EPOLLOUT;
    }
    c->armed = EPOLLOUT;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_end(c, O_CONNECT);
        return;
    }
    if (connect(c->fd, (struct sockaddr *)&cf.addr, sizeof(cf.addr)) < 0 && errno != EINPROGRESS) {
        conn_end(c, O_CONNECT);
        return;
    }
}

/* ---- phases ---- */

static void set_phase(enum phase p, double secs)
{
    phase = p;
    phase_end = now + (uint64_t)(secs * (double)NS_PER_S);
}

static void start_measure(void)
{
    read_cpu_times(&st.sys_start);
    if (cf.npids)
        read_thread_cpu(cf.pids[0], &st.threads_start);
    st.cpu_start = cpu_total(&st.sys_cpu_start);
    now = bu_now_ns();
    st.m_start = now;
    set_phase(P_MEASURE, cf.duration);
}

static void end_measure(void)
{
    now = bu_now_ns();
    st.m_end = now;
    st.cpu_end = cpu_total(&st.sys_cpu_end);
    if (cf.npids)
        read_thread_cpu(cf.pids[0], &st.threads_end);
    read_cpu_times(&st.sys_end);
}

static void close_all(void)
{
    set_phase(P_CLOSE, (double)CLOSE_NS / NS_PER_S);
    for (unsigned i = 0; i < cf.conns; i++) {
        struct lconn *c = slots[i];
        if (!c)
            continue;
        if (c->st != L_OPEN) {
            conn_end(c, c->st == L_CLOSING ? O_UNCLEAN : O_TIMEOUT);
            continue;
        }
        if (c->in_flight)
            st.err[O_TIMEOUT]++; /* its answer did not come within the drain time */
        c->in_flight = false;
        if (send_close(c) < 0)
            conn_end(c, O_UNCLEAN);
        else
            set_interest(c);
    }
}

static void force_close_all(enum outcome o)
{
    for (unsigned i = 0; i < cf.conns; i++)
        if (slots[i])
            conn_end(slots[i], o);
}

static unsigned count_in_flight(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < cf.conns; i++)
        if (slots[i] && slots[i]->in_flight)
            n++;
    return n;
}

/* Opens connections in SETUP, at most cf.concurrency at a time. */
static void open_more(void)
{
    while (n_started < cf.conns && n_connecting < cf.concurrency)
        conn_start(n_started);
}

static void send_pings(void)
{
    for (unsigned i = 0; i < cf.conns; i++) {
        struct lconn *c = slots[i];
        if (!c || c->st != L_OPEN)
            continue;
        uint8_t payload[8] = {0};
        memcpy(payload, &c->slot, sizeof(c->slot));
        st.pings++;
        if (send_frame(c, WS_OP_PING, payload, sizeof(payload)) < 0)
            conn_end(c, O_CLOSED);
        else
            set_interest(c);
    }
}

static void run_phases(void)
{
    switch (phase) {
    case P_SETUP:
        open_more();
        if (n_started == cf.conns && n_connecting == 0) {
            if (cf.mode == M_IDLE) {
                set_phase(P_SETTLE, 1.0);
                break;
            }
            set_phase(P_WARM, cf.warmup);
            for (unsigned i = 0; i < cf.conns; i++)
                if (slots[i] && slots[i]->st == L_OPEN && send_message(slots[i]) < 0)
                    conn_end(slots[i], O_CLOSED);
        } else if (now >= phase_end) {
            fprintf(stderr, "wsload: setup timed out: %u of %u connections open\n", n_open,
                    cf.conns);
            for (unsigned i = 0; i < cf.conns; i++)
                if (slots[i] && slots[i]->st < L_OPEN)
                    conn_end(slots[i], O_TIMEOUT);
            st.err[O_TIMEOUT] += cf.conns - n_started;
            n_started = cf.conns;
            close_all();
        }
        break;
    case P_WARM:
        if (now >= phase_end)
            start_measure();
        break;
    case P_MEASURE:
        if (now >= phase_end) {
            end_measure();
            set_phase(P_DRAIN, (double)DRAIN_NS / NS_PER_S);
        }
        break;
    case P_DRAIN:
        if (cf.mode == M_HANDSHAKE) {
            if (n_live == 0 || now >= phase_end) {
                force_close_all(O_UNCLEAN);
                set_phase(P_END, 0);
            }
        } else if (count_in_flight() == 0 || now >= phase_end) {
            close_all();
        }
        break;
    case P_SETTLE:
        if (now >= phase_end) {
            st.rss_hold0 = rss_total();
            send_pings();
            set_phase(P_PING, (double)PONG_NS / NS_PER_S);
        }
        break;
    case P_PING:
        if (st.pongs >= st.pings || now >= phase_end) {
            st.err[O_TIMEOUT] += st.pings - st.pongs;
            set_phase(P_HOLD, cf.hold);
        }
        break;
    case P_HOLD:
        if (now >= phase_end) {
            st.rss_hold = rss_total();
            close_all();
        }
        break;
    case P_CLOSE:
        if (n_live == 0 || now >= phase_end) {
            force_close_all(O_UNCLEAN);
            set_phase(cf.mode == M_IDLE ? P_AFTER : P_END, 2.0);
        }
        break;
    case P_AFTER:
        if (now >= phase_end) {
            st.rss_after = rss_total();
            set_phase(P_END, 0);
        }
        break;
    case P_END:
        break;
    }
}

/* Handshake mode: a connection stuck past its deadline counts as a timeout. */
static void check_deadlines(void)
{
    for (unsigned i = 0; i < cf.conns; i++)
        if (slots[i] && now >= slots[i]->deadline)
            conn_end(slots[i], O_TIMEOUT);
}

/* ---- set-up and report ---- */

static void usage(void)
{
    fputs("usage: wsload MODE --url ws[s]://127.0.0.1:PORT[/PATH] [options]\n"
          "modes:\n"
          "  echo        --conns N --size BYTES --duration S [--warmup S]\n"
          "  idle        --conns N [--hold S]\n"
          "  handshake   --conns C (at a time) --duration S [--warmup S]\n"
          "options:\n"
          "  --pid PID          process under test (repeatable): CPU and RSS are read from /proc\n"
          "  --concurrency K    connections being set up at once (default 64)\n"
          "  --setup-timeout S  give up opening connections after S seconds (default 60)\n"
          "  --client-tls records|openssl\n"
          "                     echo over wss://: after the upgrade, TLS records are sealed by\n"
          "                     wssgate's record layer (default), or by OpenSSL to the end\n"
          "prints one line of key=value pairs; exit status 1 if any error was counted\n",
          stderr);
}

static int parse_url(const char *url)
{
    const char *rest;
    if (strncmp(url, "wss://", 6) == 0) {
        cf.tls = true;
        rest = url + 6;
    } else if (strncmp(url, "ws://", 5) == 0) {
        rest = url + 5;
    } else {
        fprintf(stderr, "wsload: --url %s: must start with ws:// or wss://\n", url);
        return -1;
    }
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= sizeof(cf.hostport)) {
        fprintf(stderr, "wsload: --url %s: no host:port\n", url);
        return -1;
    }
    memcpy(cf.hostport, rest, n);
    cf.hostport[n] = '\0';
    snprintf(cf.path, sizeof(cf.path), "%s", slash ? slash : "/");
    return bu_parse_loopback(cf.hostport, &cf.addr, "wsload: --url");
}

static int parse_num(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "wsload: --%s %s: expected a number from %g to %g\n", name, v, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    if (argc < 2)
        return -1;
    if (strcmp(argv[1], "echo") == 0)
        cf.mode = M_ECHO;
    else if (strcmp(argv[1], "idle") == 0)
        cf.mode = M_IDLE;
    else if (strcmp(argv[1], "handshake") == 0)
        cf.mode = M_HANDSHAKE;
    else
        return -1;
    cf.conns = 1;
    cf.size = 64;
    cf.duration = 5;
    cf.warmup = 1;
    cf.hold = 2;
    cf.concurrency = 64;
    cf.setup_timeout = 60;
    bool have_url = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "wsload: unexpected argument %s\n", a);
            return -1;
        }
        a += 2;
        const char *v = argv[++i];
        double d;
        if (strcmp(a, "url") == 0) {
            if (parse_url(v) < 0)
                return -1;
            have_url = true;
        } else if (strcmp(a, "conns") == 0) {
            if (parse_num(a, v, 1, 1000000, &d) < 0)
                return -1;
            cf.conns = (unsigned)d;
        } else if (strcmp(a, "size") == 0) {
            if (parse_num(a, v, 1, MAX_SIZE, &d) < 0)
                return -1;
            cf.size = (unsigned)d;
        } else if (strcmp(a, "duration") == 0) {
            if (parse_num(a, v, 0.1, 3600, &cf.duration) < 0)
                return -1;
        } else if (strcmp(a, "warmup") == 0) {
            if (parse_num(a, v, 0, 3600, &cf.warmup) < 0)
                return -1;
        } else if (strcmp(a, "hold") == 0) {
            if (parse_num(a, v, 0, 3600, &cf.hold) < 0)
                return -1;
        } else if (strcmp(a, "concurrency") == 0) {
            if (parse_num(a, v, 1, 100000, &d) < 0)
                return -1;
            cf.concurrency = (unsigned)d;
        } else if (strcmp(a, "setup-timeout") == 0) {
            if (parse_num(a, v, 1, 3600, &cf.setup_timeout) < 0)
                return -1;
        } else if (strcmp(a, "client-tls") == 0) {
            if (strcmp(v, "records") != 0 && strcmp(v, "openssl") != 0) {
                fprintf(stderr, "wsload: --client-tls %s: expected records or openssl\n", v);
                return -1;
            }
            cf.no_handover = strcmp(v, "openssl") == 0;
        } else if (strcmp(a, "pid") == 0) {
            if (parse_num(a, v, 1, 4194304, &d) < 0 || cf.npids == MAX_PIDS)
                return -1;
            cf.pids[cf.npids++] = (pid_t)d;
        } else {
            fprintf(stderr, "wsload: unknown option --%s\n", a);
            return -1;
        }
    }
    if (!have_url) {
        fprintf(stderr, "wsload: --url is required\n");
        return -1;
    }
    return 0;
}

/* thread_cpu_s=S1,S2,...: the CPU seconds of each thread of the first --pid that ran in the
 * window, busiest first. */
static void print_thread_cpu(void)
{
    double v[MAX_THREADS];
    int k = 0;
    for (int i = 0; i < st.threads_end.n; i++)
        for (int j = 0; j < st.threads_start.n; j++)
            if (st.threads_start.tid[j] == st.threads_end.tid[i]) {
                double d = st.threads_end.cpu[i] - st.threads_start.cpu[j];
                if (d > 0)
                    v[k++] = d;
            }
    for (int i = 1; i < k; i++) /* insertion sort, descending: a handful of threads */
        for (int j = i; j > 0 && v[j] > v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    if (!k)
        return;
    printf(" thread_cpu_s=");
    for (int i = 0; i < k; i++)
        printf("%s%.2f", i ? "," : "", v[i]);
}

static void report(void)
{
    uint64_t errors = 0;
    for (int o = O_CONNECT; o < O_UNCLEAN; o++)
        errors += st.err[o];
    const char *names[] = {"echo", "idle", "handshake"};
    printf("mode=%s url=%s%s%s conns=%u", names[cf.mode], cf.tls ? "wss://" : "ws://", cf.hostport,
           cf.path, cf.conns);
    double secs = (double)(st.m_end - st.m_start) / (double)NS_PER_S;
    double cpu =
        (cf.npids && st.cpu_start >= 0 && st.cpu_end >= 0) ? st.cpu_end - st.cpu_start : -1;
    if (cf.mode == M_ECHO) {
        printf(" size=%u secs=%.3f msgs=%llu mps=%.1f", cf.size, secs, (unsigned long long)st.msgs,
               secs > 0 ? (double)st.msgs / secs : 0);
    } else if (cf.mode == M_HANDSHAKE) {
        printf(" secs=%.3f handshakes=%llu hps=%.1f", secs, (unsigned long long)st.hs,
               secs > 0 ? (double)st.hs / secs : 0);
    }
    if (cf.mode != M_IDLE) {
        printf(" p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu max_us=%llu",
               (unsigned long long)hist_pct(0.50), (unsigned long long)hist_pct(0.90),
               (unsigned long long)hist_pct(0.99), (unsigned long long)hist_pct(0.999),
               (unsigned long long)hist_max());
        uint64_t n = cf.mode == M_ECHO ? st.msgs : st.hs;
        if (cpu >= 0) {
            printf(" cpu_s=%.3f proxy_util=%.3f", cpu, secs > 0 ? cpu / secs : 0);
            const char *unit = cf.mode == M_ECHO ? "msg" : "hs";
            if (n)
                printf(" cpu_us_per_%s=%.3f sys_us_per_%s=%.3f", unit, cpu * 1e6 / (double)n,
                       unit, (st.sys_cpu_end - st.sys_cpu_start) * 1e6 / (double)n);
            print_thread_cpu();
        }
    } else {
        printf(" pings=%llu pongs=%llu", (unsigned long long)st.pings,
               (unsigned long long)st.pongs);
        if (cf.npids) {
            printf(" rss_before_kib=%ld rss_hold0_kib=%ld rss_hold_kib=%ld rss_after_kib=%ld",
                   st.rss_before, st.rss_hold0, st.rss_hold, st.rss_after);
            unsigned held = cf.conns - n_failed_setup;
            if (held)
                printf(" kib_per_conn=%.2f", (double)(st.rss_hold - st.rss_before) / held);
        }
    }
    for (int i = 0; cf.mode != M_IDLE && i < st.sys_start.n && i < st.sys_end.n; i++) {
        unsigned long long dt = st.sys_end.total[i] - st.sys_start.total[i];
        if (dt)
            printf(" cpu%d_busy=%.3f cpu%d_steal=%.3f", i,
                   (double)(st.sys_end.busy[i] - st.sys_start.busy[i]) / dt, i,
                   (double)(st.sys_end.steal[i] - st.sys_start.steal[i]) / dt);
    }
    printf(" tls=%s cipher=%s", proto_seen, cipher_seen);
    if (cf.mode == M_ECHO && cf.tls)
        printf(" client_record_layer=%u", n_handed_over);
    printf(" errors=%llu", (unsigned long long)errors);
    for (int o = O_CONNECT; o < O_UNCLEAN; o++)
        printf(" err_%s=%llu", err_names[o], (unsigned long long)st.err[o]);
    printf(" unclean_closes=%llu wall_s=%.1f\n", (unsigned long long)st.unclean,
           (double)(bu_now_ns() - t_run_start) / (double)NS_PER_S);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uint64_t lim = bu_raise_nofile();
    if (cf.mode != M_HANDSHAKE && cf.conns + 16 > lim) {
        fprintf(stderr, "wsload: %u connections need more open files than the limit (%llu)\n",
                cf.conns, (unsigned long long)lim);
        return 2;
    }
    if (cf.tls && !(cctx = bu_tls_client_ctx(cf.mode == M_ECHO)))
        return 1;
    if (cctx && cf.mode == M_ECHO) {
        /* The load generator shares its core with the backend, and on 2 cores it is what
         * saturates first: each syscall it saves lets the proxy under test work harder. Read
         * ahead takes a record in one read() instead of two (header, body); buffers kept
         * across records spare a malloc/free per record. Idle mode keeps released buffers:
         * there 9,900 connections would hold 34 KiB each. */
        SSL_CTX_set_read_ahead(cctx, 1);
        SSL_CTX_clear_mode(cctx, SSL_MODE_RELEASE_BUFFERS);
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    slots = calloc(cf.conns, sizeof(*slots));
    hist = calloc(HIST_US, sizeof(*hist));
    pat = malloc(PAT_SPAN + cf.size);
    if (epfd < 0 || !slots || !hist || !pat || RAND_bytes(pat, PAT_SPAN + (int)cf.size) != 1) {
        fprintf(stderr, "wsload: cannot set up (out of memory?)\n");
        return 1;
    }
    RAND_bytes((unsigned char *)&rng_state, sizeof(rng_state));
    rng_state |= 1;

    now = t_run_start = bu_now_ns();
    if (cf.mode == M_IDLE)
        st.rss_before = rss_total();
    if (cf.mode == M_HANDSHAKE) {
        set_phase(P_WARM, cf.warmup);
        for (unsigned i = 0; i < cf.conns; i++)
            conn_start(i);
    } else {
        set_phase(P_SETUP, cf.setup_timeout);
    }
    /* A hard stop whatever happens: every phase is bounded, this bounds their sum. */
    uint64_t hard_end =
        now + (uint64_t)((cf.setup_timeout + cf.warmup + cf.duration + cf.hold + 60.0) *
                         (double)NS_PER_S);
    struct epoll_event evs[512];
    uint64_t next_scan = now;
    while (phase != P_END) {
        uint64_t wait_ns = phase_end > now ? phase_end - now : 0;
        int timeout = wait_ns > 50 * NS_PER_MS ? 50 : (int)((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
        int n = epoll_wait(epfd, evs, 512, timeout);
        now = bu_now_ns();
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "wsload: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++)
            on_conn(evs[i].data.ptr, evs[i].events);
        now = bu_now_ns();
        if (cf.mode == M_HANDSHAKE && now >= next_scan) {
            check_deadlines();
            next_scan = now + 100 * NS_PER_MS;
        }
        run_phases();
        if (now >= hard_end) {
            fprintf(stderr, "wsload: hard time limit reached; stopping\n");
            if (!st.m_end && st.m_start)
                end_measure();
            force_close_all(O_TIMEOUT);
            break;
        }
    }
    report();
    for (int o = O_CONNECT; o < O_UNCLEAN; o++)
        if (st.err[o])
            return 1;
    return 0;
}
