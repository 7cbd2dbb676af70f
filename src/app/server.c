/* Worker threads and the control thread. Signals are blocked in every thread and taken by the
 * control thread with sigwait; it tells workers to drain through their loop's wake-up fd. */
#include "app/server.h"

#include "core/buf.h"
#include "core/container.h"
#include "net/sock.h"
#include "obs/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Past the drain deadline, how long tunnels get to exchange close frames before a hard stop. */
#define STOP_GRACE_MS 2500
#define ACCEPT_BATCH 64

struct worker {
    struct conn_worker cw;
    struct ev_timer accept_pause;  /* out of descriptors: listeners rest, then resume */
    uint64_t emfile_logged_ms;
    const struct app_config *cfg;
    pthread_t thread;
    int id;
    int *lfds;
    struct ev_io *lio;
    struct ev_timer stop_timer;
    atomic_int stop_level; /* 0 run, 1 drain, 2 stop now */
    bool started;
};

int app_default_workers(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void set_listeners(struct worker *w, unsigned want)
{
    for (size_t i = 0; i < w->cfg->nlisteners; i++)
        if (w->lfds[i] >= 0)
            ev_io_set(&w->cw.loop, &w->lio[i], want);
}

static void on_accept_resume(struct ev_loop *loop, struct ev_timer *t)
{
    (void)loop;
    struct worker *w = container_of(t, struct worker, accept_pause);
    if (!w->cw.draining)
        set_listeners(w, EV_READ);
}

/* Out of descriptors: a level-triggered listener would wake the loop for ever, so listeners
 * rest for a moment and the warning is written at most once a minute. */
static void pause_accepting(struct worker *w, int err)
{
    uint64_t now = ev_now(&w->cw.loop);
    if (!w->emfile_logged_ms || now - w->emfile_logged_ms > 60000) {
        log_warn("cannot accept connections: %s; %zu open on this worker. Raise the open-file "
                 "limit (ulimit -n) or lower the load", strerror(err), w->cw.nconns);
        w->emfile_logged_ms = now;
    }
    set_listeners(w, 0);
    ev_timer_start(&w->cw.loop, &w->accept_pause, 200);
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)events;
    struct worker *w = loop->data;
    size_t i = (size_t)(io - w->lio);
    for (int n = 0; n < ACCEPT_BATCH; n++) {
        struct net_addr peer;
        int fd = sock_accept(io->fd, &peer);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(w, errno);
            return;
        }
        conn_accept(&w->cw, fd, &peer, &w->cfg->listeners[i].cl);
    }
}

static void close_listeners(struct worker *w)
{
    for (size_t i = 0; i < w->cfg->nlisteners; i++) {
        if (w->lfds[i] < 0)
            continue;
        ev_io_remove(&w->cw.loop, &w->lio[i]);
        close(w->lfds[i]);
        w->lfds[i] = -1;
    }
}

static void on_stop_timer(struct ev_loop *loop, struct ev_timer *t)
{
    struct worker *w = container_of(t, struct worker, stop_timer);
    uint64_t now = ev_now(loop);
    if (w->cw.nconns == 0) {
        ev_loop_stop(loop);
        return;
    }
    if (now >= w->cw.drain_deadline + STOP_GRACE_MS) {
        for (struct conn *c = w->cw.conns; c; c = c->next)
            conn_abort(c, "server stopped");
    } else if (now >= w->cw.drain_deadline) {
        for (struct conn *c = w->cw.conns; c; c = c->next)
            conn_drain(c);
    }
    ev_timer_start(loop, t, 50);
}

static void on_wake(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)io;
    (void)events;
    struct worker *w = loop->data;
    int level = atomic_load(&w->stop_level);
    if (level == 0)
        return;
    uint64_t now = ev_now(loop);
    if (!w->cw.draining) {
        ev_timer_stop(loop, &w->accept_pause);
        close_listeners(w);
        w->cw.draining = true;
        w->cw.drain_deadline = now + w->cfg->ps.drain_ms;
    }
    if (level >= 2)
        w->cw.drain_deadline = now;
    for (struct conn *c = w->cw.conns; c; c = c->next)
        conn_drain(c);
    ev_timer_start(loop, &w->stop_timer, 0);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < w->cfg->nlisteners; i++) {
        ev_io_init(&w->lio[i], w->lfds[i], on_accept);
        if (ev_io_set(&w->cw.loop, &w->lio[i], EV_READ) < 0)
            log_error("worker %d: cannot watch listener %s: %s", w->id, w->cfg->listeners[i].url,
                      strerror(errno));
    }
    ev_loop_run(&w->cw.loop);
    close_listeners(w);
    /* Connections still open here were aborted; their frees ran in the last loop turn. */
    buf_pool_drain();
    return NULL;
}

static int open_listeners(struct worker *ws, int nworkers, const struct app_config *cfg,
                          char *err, size_t errlen)
{
    for (int k = 0; k < nworkers; k++) {
        for (size_t i = 0; i < cfg->nlisteners; i++) {
            int fd = sock_listen(&cfg->listeners[i].addr, true, 511);
            if (fd < 0) {
                int e = errno;
                const char *hint = e == EADDRINUSE ? " — another program uses this port; stop it "
                                                     "or choose another port"
                                   : e == EACCES ? " — ports below 1024 need root or "
                                                   "CAP_NET_BIND_SERVICE"
                                                 : "";
                snprintf(err, errlen, "cannot listen on %s: %s%s", cfg->listeners[i].url,
                         strerror(e), hint);
                return -1;
            }
            ws[k].lfds[i] = fd;
        }
    }
    return 0;
}

static void free_workers(struct worker *ws, int n, size_t nl)
{
    for (int k = 0; k < n; k++) {
        if (ws[k].lfds)
            for (size_t i = 0; i < nl; i++)
                if (ws[k].lfds[i] >= 0)
                    close(ws[k].lfds[i]);
        free(ws[k].lfds);
        free(ws[k].lio);
        if (ws[k].cw.loop.epfd >= 0)
            ev_loop_fini(&ws[k].cw.loop);
    }
    free(ws);
}

static struct worker *make_workers(const struct app_config *cfg, int n, char *err, size_t errlen)
{
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    if (!ws)
        goto oom;
    for (int k = 0; k < n; k++) {
        struct worker *w = &ws[k];
        w->cw.loop.epfd = -1;
        w->id = k;
        w->cfg = cfg;
        w->cw.ps = &cfg->ps;
        w->cw.upstream_ssl = cfg->upstream_ssl;
        w->lfds = malloc(cfg->nlisteners * sizeof(int));
        w->lio = calloc(cfg->nlisteners, sizeof(struct ev_io));
        if (!w->lfds || !w->lio) {
            free_workers(ws, n, cfg->nlisteners);
            goto oom;
        }
        for (size_t i = 0; i < cfg->nlisteners; i++)
            w->lfds[i] = -1;
        if (ev_loop_init(&w->cw.loop) < 0) {
            snprintf(err, errlen, "cannot create an event loop: %s", strerror(errno));
            free_workers(ws, n, cfg->nlisteners);
            return NULL;
        }
        w->cw.loop.data = w;
        w->cw.loop.on_wake = on_wake;
        ev_timer_init(&w->stop_timer, on_stop_timer);
        ev_timer_init(&w->accept_pause, on_accept_resume);
    }
    return ws;
oom:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static void tell_workers(struct worker *ws, int n, int level)
{
    for (int k = 0; k < n; k++) {
        atomic_store(&ws[k].stop_level, level);
        ev_loop_wake(&ws[k].cw.loop);
    }
}

/* Waits for the workers; a second SIGINT/SIGTERM while draining makes them stop at once. */
static void *joiner_main(void *arg)
{
    struct worker *ws = arg;
    for (int k = 0; ws[k].started; k++)
        pthread_join(ws[k].thread, NULL);
    kill(getpid(), SIGUSR1); /* wakes the control thread's sigwait */
    return NULL;
}

int app_run(const struct app_config *cfg, app_ready_fn *ready, void *arg, char *err,
            size_t errlen)
{
    int n = cfg->workers > 0 ? cfg->workers : app_default_workers();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct worker *ws = make_workers(cfg, n + 1, err, errlen); /* +1: a zeroed terminator */
    if (!ws)
        return 1;
    if (open_listeners(ws, n, cfg, err, errlen) < 0) {
        free_workers(ws, n + 1, cfg->nlisteners);
        return 1;
    }
    for (int k = 0; k < n; k++) {
        if (pthread_create(&ws[k].thread, NULL, worker_main, &ws[k]) != 0) {
            snprintf(err, errlen, "cannot start worker threads");
            tell_workers(ws, k, 2);
            for (int j = 0; j < k; j++)
                pthread_join(ws[j].thread, NULL);
            free_workers(ws, n + 1, cfg->nlisteners);
            return 1;
        }
        ws[k].started = true;
    }
    if (ready)
        ready(arg);
    pthread_t joiner;
    pthread_create(&joiner, NULL, joiner_main, ws);
    int level = 0;
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGUSR1)
            break;
        if (sig == SIGHUP) {
            log_notice("SIGHUP: configuration reload is not available in this mode; ignored");
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            level = level ? 2 : 1;
            const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
            if (level == 1)
                log_notice("%s: stopping gracefully (tunnels get %u ms; send it again to stop at "
                           "once)", name, cfg->ps.drain_ms);
            else
                log_notice("%s: stopping now", name);
            tell_workers(ws, n, level);
        }
    }
    pthread_join(joiner, NULL);
    free_workers(ws, n + 1, cfg->nlisteners);
    log_notice("stopped");
    return 0;
}
