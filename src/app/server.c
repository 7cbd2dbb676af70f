/* Worker threads and the control thread. Signals are blocked in every thread and taken by the
 * control thread with sigwait. A reload builds a new generation there and hands each worker a
 * listener set (sockets of unchanged addresses are kept) through an atomic pointer and a
 * wake-up; connections keep the generation they started with until they end. */
#include "app/server.h"

#include "conf/load.h"
#include "core/buf.h"
#include "core/container.h"
#include "net/sock.h"
#include "obs/log.h"
#include "tls/tls_record.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Past the drain deadline, how long tunnels get to exchange close frames before a hard stop. */
#define STOP_GRACE_MS 2500
#define ACCEPT_BATCH 64

struct wlisten {
    int fd;
    struct ev_io io;
    struct gen_listen *gl;
};

/* What the control thread hands a worker on reload: the new generation (one reference for the
 * worker) and its listeners. */
struct handover {
    struct gen *gen;
    struct wlisten *ls;
    size_t n;
};

struct worker {
    struct conn_worker cw;
    struct gen *gen;
    struct wlisten *ls;
    size_t nls;
    _Atomic(struct handover *) pending;
    pthread_mutex_t mu;            /* ls/nls: written by the worker, read by the control thread */
    pthread_t thread;
    int id;
    struct ev_timer stop_timer;
    struct ev_timer accept_pause;  /* out of descriptors: listeners rest, then resume */
    struct wlisten *retired;       /* the previous listener array, freed after this turn */
    struct ev_defer retire;
    uint64_t emfile_logged_ms;
    atomic_int stop_level;         /* 0 run, 1 drain, 2 stop now */
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

/* ---- accepting ---- */

static void set_listeners(struct worker *w, unsigned want)
{
    for (size_t i = 0; i < w->nls; i++)
        if (w->ls[i].fd >= 0)
            ev_io_set(&w->cw.loop, &w->ls[i].io, want);
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
    struct wlisten *wl = container_of(io, struct wlisten, io);
    for (int n = 0; n < ACCEPT_BATCH; n++) {
        struct net_addr peer;
        int fd = sock_accept(io->fd, &peer);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(w, errno);
            return;
        }
        conn_accept(&w->cw, fd, &peer, &wl->gl->cl);
    }
}

static void watch_listeners(struct worker *w)
{
    for (size_t i = 0; i < w->nls; i++) {
        ev_io_init(&w->ls[i].io, w->ls[i].fd, on_accept);
        if (ev_io_set(&w->cw.loop, &w->ls[i].io, EV_READ) < 0)
            log_error("worker %d: cannot watch listener %s: %s", w->id, w->ls[i].gl->text,
                      strerror(errno));
    }
}

/* Stops watching the listeners; closes those whose fd is not in keep (NULL: all). */
static void drop_listeners(struct worker *w, const struct handover *keep)
{
    for (size_t i = 0; i < w->nls; i++) {
        if (w->ls[i].fd < 0)
            continue;
        ev_io_remove(&w->cw.loop, &w->ls[i].io);
        bool kept = false;
        for (size_t k = 0; keep && k < keep->n; k++)
            kept |= keep->ls[k].fd == w->ls[i].fd;
        if (!kept)
            close(w->ls[i].fd);
        w->ls[i].fd = -1;
    }
}

/* ---- reload, on the worker ---- */

/* Events of this loop turn may still point into the previous listener array (their watchers
 * are marked stale); it is freed once the turn is over. */
static void free_retired(struct ev_loop *loop, struct ev_defer *d)
{
    (void)loop;
    struct worker *w = container_of(d, struct worker, retire);
    free(w->retired);
    w->retired = NULL;
}

static void take_handover(struct worker *w, struct handover *h)
{
    pthread_mutex_lock(&w->mu);
    drop_listeners(w, h);
    free(w->retired); /* from an earlier turn: no event can point into it any more */
    w->retired = w->ls;
    ev_defer_queue(&w->cw.loop, &w->retire);
    w->ls = h->ls;
    w->nls = h->n;
    pthread_mutex_unlock(&w->mu);
    struct gen *old = w->gen;
    w->gen = h->gen;
    w->cw.ps = &h->gen->ps;
    w->cw.upstream_ssl = h->gen->upstream_ssl;
    free(h);
    if (!w->cw.draining)
        watch_listeners(w);
    else
        drop_listeners(w, NULL);
    gen_unref(old); /* connections that started on it still hold their own references */
}

/* ---- stopping ---- */

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
    pthread_mutex_lock(&w->mu);
    struct handover *h = atomic_exchange(&w->pending, NULL);
    pthread_mutex_unlock(&w->mu);
    if (h)
        take_handover(w, h);
    int level = atomic_load(&w->stop_level);
    if (level == 0)
        return;
    uint64_t now = ev_now(loop);
    if (!w->cw.draining) {
        ev_timer_stop(loop, &w->accept_pause);
        drop_listeners(w, NULL);
        w->cw.draining = true;
        w->cw.drain_deadline = now + w->cw.ps->drain_ms;
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
    watch_listeners(w);
    ev_loop_run(&w->cw.loop);
    drop_listeners(w, NULL);
    tls_rec_thread_fini();
    buf_pool_drain(); /* connections still open were aborted and freed in the last turn */
    return NULL;
}

/* ---- the control thread's listener table ---- */

struct ctl {
    struct worker *ws;
    int n;
};

/* Listener sockets for g in worker k: the fd of the same address in the worker's current set,
 * else a new socket. Returns NULL with err when an address cannot be bound. */
static struct handover *prepare(struct ctl *ctl, int k, struct gen *g, bool at_start, char *err,
                                size_t errlen)
{
    struct handover *h = calloc(1, sizeof(*h));
    struct wlisten *ls = calloc(g->nlistens ? g->nlistens : 1, sizeof(*ls));
    if (!h || !ls) {
        free(h);
        free(ls);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const struct worker *w = &ctl->ws[k];
    for (size_t i = 0; i < g->nlistens; i++) {
        struct gen_listen *gl = &g->listens[i];
        ls[i].gl = gl;
        ls[i].fd = -1;
        for (size_t j = 0; j < w->nls; j++)
            if (w->ls[j].fd >= 0 && strcmp(w->ls[j].gl->text, gl->text) == 0)
                ls[i].fd = w->ls[j].fd;
        if (ls[i].fd >= 0)
            continue;
        /* At start, refuse an address another program listens on: with SO_REUSEPORT the bind
         * would succeed and the two would share the port. (Not on reload: a port this process
         * just gave up may still be closing in another worker.) */
        int fd = at_start && k == 0 && sock_address_taken(&gl->addr)
                     ? (errno = EADDRINUSE, -1)
                     : sock_listen(&gl->addr, true, gl->backlog);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot listen on %s: %s%s", gl->text, strerror(e),
                     e == EADDRINUSE ? " — another program uses this port; stop it or choose "
                                       "another port"
                     : e == EACCES ? " — ports below 1024 need root or CAP_NET_BIND_SERVICE"
                                   : "");
            for (size_t j = 0; j < i; j++) {
                bool old = false;
                for (size_t q = 0; q < w->nls; q++)
                    old |= w->ls[q].fd == ls[j].fd;
                if (!old)
                    close(ls[j].fd);
            }
            free(ls);
            free(h);
            return NULL;
        }
        ls[i].fd = fd;
    }
    h->gen = g;
    h->ls = ls;
    h->n = g->nlistens;
    return h;
}

static void free_handover(struct ctl *ctl, int k, struct handover *h)
{
    const struct worker *w = &ctl->ws[k];
    for (size_t i = 0; i < h->n; i++) {
        bool old = false;
        for (size_t q = 0; q < w->nls; q++)
            old |= w->ls[q].fd == h->ls[i].fd;
        if (!old && h->ls[i].fd >= 0)
            close(h->ls[i].fd);
    }
    free(h->ls);
    free(h);
}

/* Builds every worker's handover for g (one reference each); all or nothing. */
static int prepare_all(struct ctl *ctl, struct gen *g, struct handover **hs, char *err,
                       size_t errlen)
{
    for (int k = 0; k < ctl->n; k++) {
        pthread_mutex_lock(&ctl->ws[k].mu);
        hs[k] = prepare(ctl, k, g, false, err, errlen);
        pthread_mutex_unlock(&ctl->ws[k].mu);
        if (!hs[k]) {
            for (int j = 0; j < k; j++) {
                pthread_mutex_lock(&ctl->ws[j].mu);
                free_handover(ctl, j, hs[j]);
                pthread_mutex_unlock(&ctl->ws[j].mu);
            }
            return -1;
        }
    }
    for (int k = 0; k < ctl->n; k++)
        gen_ref(g);
    return 0;
}

static void reload(struct ctl *ctl, const struct app_run_opts *opts)
{
    static unsigned long serial = 1;
    if (!opts->conf_path) {
        log_notice("SIGHUP: nothing to reload (no configuration file in this mode)");
        return;
    }
    struct load_result res;
    struct gen *g = conf_load_file(opts->conf_path, &res);
    for (size_t i = 0; i < res.nwarnings; i++)
        log_warn("%s", res.warnings[i]);
    if (!g) {
        log_error("reload failed, still serving the previous configuration: %s", res.error);
        load_result_free(&res);
        return;
    }
    /* Before prepare_all, as nginx reopens its logs: a reload that fails after this point logs
     * its failure where the new configuration says. */
    if (opts->loaded)
        opts->loaded(&res, opts->adjust_arg);
    load_result_free(&res);
    if (opts->adjust)
        opts->adjust(g, opts->adjust_arg);
    g->serial = ++serial;
    struct handover *hs[256];
    char err[512];
    if (prepare_all(ctl, g, hs, err, sizeof(err)) < 0) {
        log_error("reload failed, still serving the previous configuration: %s", err);
        gen_unref(g);
        return;
    }
    for (int k = 0; k < ctl->n; k++) {
        pthread_mutex_lock(&ctl->ws[k].mu);
        struct handover *old = atomic_exchange(&ctl->ws[k].pending, hs[k]);
        if (old) { /* the worker has not taken the previous one yet: it never will */
            gen_unref(old->gen);
            free_handover(ctl, k, old);
        }
        pthread_mutex_unlock(&ctl->ws[k].mu);
        ev_loop_wake(&ctl->ws[k].cw.loop);
    }
    gen_unref(g); /* the workers hold theirs */
    log_notice("configuration reloaded (generation %lu)", g->serial);
}

/* ---- start and stop ---- */

static void tell_workers(struct worker *ws, int n, int level)
{
    for (int k = 0; k < n; k++) {
        atomic_store(&ws[k].stop_level, level);
        ev_loop_wake(&ws[k].cw.loop);
    }
}

static void *joiner_main(void *arg)
{
    struct ctl *ctl = arg;
    for (int k = 0; k < ctl->n; k++)
        pthread_join(ctl->ws[k].thread, NULL);
    kill(getpid(), SIGUSR1); /* wakes the control thread's sigwait */
    return NULL;
}

static void free_workers(struct ctl *ctl)
{
    for (int k = 0; k < ctl->n; k++) {
        struct worker *w = &ctl->ws[k];
        struct handover *h = atomic_exchange(&w->pending, NULL);
        if (h) {
            gen_unref(h->gen);
            free_handover(ctl, k, h);
        }
        for (size_t i = 0; i < w->nls; i++)
            if (w->ls[i].fd >= 0)
                close(w->ls[i].fd);
        free(w->ls);
        free(w->retired);
        gen_unref(w->gen);
        if (w->cw.loop.epfd >= 0)
            ev_loop_fini(&w->cw.loop);
        pthread_mutex_destroy(&w->mu);
    }
    free(ctl->ws);
}

static int make_workers(struct ctl *ctl, struct gen *g, char *err, size_t errlen)
{
    ctl->ws = calloc((size_t)ctl->n, sizeof(*ctl->ws));
    if (!ctl->ws) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int k = 0; k < ctl->n; k++) {
        struct worker *w = &ctl->ws[k];
        w->cw.loop.epfd = -1;
        w->id = k;
        pthread_mutex_init(&w->mu, NULL);
        if (ev_loop_init(&w->cw.loop) < 0) {
            snprintf(err, errlen, "cannot create an event loop: %s", strerror(errno));
            return -1;
        }
        w->cw.loop.data = w;
        w->cw.loop.on_wake = on_wake;
        ev_timer_init(&w->stop_timer, on_stop_timer);
        ev_timer_init(&w->accept_pause, on_accept_resume);
        ev_defer_init(&w->retire, free_retired);
        struct handover *h = prepare(ctl, k, g, true, err, errlen);
        if (!h)
            return -1;
        gen_ref(g);
        w->gen = g;
        w->ls = h->ls;
        w->nls = h->n;
        w->cw.ps = &g->ps;
        w->cw.upstream_ssl = g->upstream_ssl;
        free(h);
    }
    return 0;
}

/* Each tunnel needs two descriptors (client and backend): say so when the configuration asks
 * for more connections than the descriptor limit allows. */
static void check_fd_limit(const struct gen *g, int workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    unsigned long long want = 2ull * g->worker_connections * (unsigned)workers + 64;
    if (want > rl.rlim_cur)
        log_warn("worker_connections %u x %d workers needs about %llu descriptors (two per "
                 "tunnel) but the limit is %llu: raise the hard limit (ulimit -Hn, LimitNOFILE= "
                 "in systemd) or lower worker_connections",
                 g->worker_connections, workers, want, (unsigned long long)rl.rlim_cur);
}

int app_run(struct gen *g, const struct app_run_opts *opts, char *err, size_t errlen)
{
    struct ctl ctl = { 0 };
    ctl.n = opts->workers > 0 ? opts->workers
            : g->workers > 0  ? g->workers
                              : app_default_workers();
    if (ctl.n > 256)
        ctl.n = 256;
    check_fd_limit(g, ctl.n);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (make_workers(&ctl, g, err, errlen) < 0) {
        free_workers(&ctl);
        gen_unref(g);
        return 1;
    }
    gen_unref(g); /* each worker holds its own reference now */
    int started = 0;
    for (; started < ctl.n; started++)
        if (pthread_create(&ctl.ws[started].thread, NULL, worker_main, &ctl.ws[started]) != 0)
            break;
    if (started < ctl.n) {
        snprintf(err, errlen, "cannot start worker threads");
        tell_workers(ctl.ws, started, 2);
        for (int k = 0; k < started; k++)
            pthread_join(ctl.ws[k].thread, NULL);
        free_workers(&ctl);
        return 1;
    }
    if (opts->ready)
        opts->ready(opts->ready_arg);
    pthread_t joiner;
    pthread_create(&joiner, NULL, joiner_main, &ctl);
    int level = 0;
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGUSR1)
            break;
        if (sig == SIGHUP) {
            if (!level)
                reload(&ctl, opts);
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            level = level ? 2 : 1;
            const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
            if (level == 1)
                log_notice("%s: stopping gracefully (tunnels get %u ms; send it again to stop at "
                           "once)", name, ctl.ws[0].cw.ps->drain_ms);
            else
                log_notice("%s: stopping now", name);
            tell_workers(ctl.ws, ctl.n, level);
        }
    }
    pthread_join(joiner, NULL);
    free_workers(&ctl);
    log_notice("stopped");
    return 0;
}
