/* epoll loop: level-triggered interest sets (edge-triggered where a watcher asks), a binary
 * min-heap of timers, deferred closes.
 * One turn: wait (bounded by the next timer) → update clock → I/O callbacks → timers → deferred. */
#include "ev/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

void ev_update_now(struct ev_loop *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    loop->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_on_read(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)events;
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) > 0)
        ;
    if (loop->on_wake)
        loop->on_wake(loop, io, 0);
}

int ev_loop_init(struct ev_loop *loop)
{
    *loop = (struct ev_loop){ .epfd = -1, .wakefd = -1 };
    loop->defer_tail = &loop->defer_head;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -1;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0) {
        close(loop->epfd);
        return -1;
    }
    ev_io_init(&loop->wake_io, loop->wakefd, wake_on_read);
    if (ev_io_set(loop, &loop->wake_io, EV_READ) < 0) {
        ev_loop_fini(loop);
        return -1;
    }
    ev_update_now(loop);
    return 0;
}

void ev_loop_fini(struct ev_loop *loop)
{
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop->heap);
    loop->heap = NULL;
    loop->epfd = loop->wakefd = -1;
}

void ev_loop_stop(struct ev_loop *loop)
{
    loop->stop = true;
}

void ev_loop_wake(struct ev_loop *loop)
{
    uint64_t one = 1;
    ssize_t r = write(loop->wakefd, &one, sizeof(one));
    (void)r; /* EAGAIN means a wake-up is already pending */
}

void ev_io_init(struct ev_io *io, int fd, ev_io_fn *cb)
{
    *io = (struct ev_io){ .fd = fd, .cb = cb };
}

int ev_io_set(struct ev_loop *loop, struct ev_io *io, unsigned want)
{
    io->want = want;
    if (io->added && io->armed == want && io->armed_edge == io->edge)
        return 0;
    if (want == 0) {
        /* Removed rather than modified to an empty set: epoll still reports EPOLLERR and
         * EPOLLHUP for an fd with no interest, which would wake the loop for nothing. */
        if (io->added && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0)
            return -1;
        io->added = false;
        io->armed = 0;
        return 0;
    }
    struct epoll_event ev = { .data.ptr = io };
    if (want & EV_READ)
        ev.events |= EPOLLIN | EPOLLRDHUP;
    if (want & EV_WRITE)
        ev.events |= EPOLLOUT;
    if (io->edge)
        ev.events |= EPOLLET;
    int op = io->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return -1;
    io->added = true;
    io->armed = want;
    io->armed_edge = io->edge;
    return 0;
}

void ev_io_remove(struct ev_loop *loop, struct ev_io *io)
{
    if (io->added && io->fd >= 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->added = false;
    io->armed = 0;
    io->want = 0;
    io->fd = -1;
}

/* ---- timers: a binary min-heap of pointers; each timer knows its slot ---- */

static void heap_swap(struct ev_loop *loop, size_t a, size_t b)
{
    struct ev_timer *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->idx = a;
    loop->heap[b]->idx = b;
}

static void heap_up(struct ev_loop *loop, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->at_ms <= loop->heap[i]->at_ms)
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(struct ev_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->heap_len && loop->heap[l]->at_ms < loop->heap[m]->at_ms)
            m = l;
        if (r < loop->heap_len && loop->heap[r]->at_ms < loop->heap[m]->at_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(loop, i, m);
        i = m;
    }
}

void ev_timer_init(struct ev_timer *t, ev_timer_fn *cb)
{
    *t = (struct ev_timer){ .idx = SIZE_MAX, .cb = cb };
}

int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms)
{
    t->at_ms = loop->now_ms + ms;
    if (t->idx != SIZE_MAX) {
        heap_up(loop, t->idx);
        heap_down(loop, t->idx);
        return 0;
    }
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        struct ev_timer **h = realloc(loop->heap, cap * sizeof(*h));
        if (!h)
            return -1;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->idx = loop->heap_len;
    loop->heap[loop->heap_len++] = t;
    heap_up(loop, t->idx);
    return 0;
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
    size_t i = t->idx;
    if (i == SIZE_MAX)
        return;
    t->idx = SIZE_MAX;
    loop->heap_len--;
    if (i == loop->heap_len)
        return;
    loop->heap[i] = loop->heap[loop->heap_len];
    loop->heap[i]->idx = i;
    heap_up(loop, i);
    heap_down(loop, loop->heap[i]->idx);
}

static void run_timers(struct ev_loop *loop)
{
    while (loop->heap_len && loop->heap[0]->at_ms <= loop->now_ms) {
        struct ev_timer *t = loop->heap[0];
        ev_timer_stop(loop, t);
        t->cb(loop, t);
    }
}

static int next_timeout(const struct ev_loop *loop)
{
    if (loop->defer_head)
        return 0;
    if (!loop->heap_len)
        return 1000;
    uint64_t at = loop->heap[0]->at_ms;
    if (at <= loop->now_ms)
        return 0;
    uint64_t d = at - loop->now_ms;
    return d > 1000 ? 1000 : (int)d;
}

/* ---- deferred work ---- */

void ev_defer_init(struct ev_defer *d, ev_defer_fn *cb)
{
    *d = (struct ev_defer){ .cb = cb };
}

void ev_defer_queue(struct ev_loop *loop, struct ev_defer *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    *loop->defer_tail = d;
    loop->defer_tail = &d->next;
}

/* Runs what was queued before this call; work queued meanwhile waits for the next turn, so a
 * connection that re-queues itself cannot keep the loop from polling. */
static void run_deferred(struct ev_loop *loop)
{
    struct ev_defer *d = loop->defer_head;
    loop->defer_head = NULL;
    loop->defer_tail = &loop->defer_head;
    while (d) {
        struct ev_defer *next = d->next;
        d->queued = false;
        d->cb(loop, d);
        d = next;
    }
}

void ev_loop_run(struct ev_loop *loop)
{
    struct epoll_event events[MAX_EVENTS];
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, events, MAX_EVENTS, next_timeout(loop));
        ev_update_now(loop);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct ev_io *io = events[i].data.ptr;
            /* A watcher removed earlier in this turn has fd -1: its event is stale. */
            if (io->fd < 0)
                continue;
            unsigned ev = 0;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
                ev |= EV_READ;
            if (events[i].events & (EPOLLRDHUP | EPOLLHUP))
                ev |= EV_HUP;
            if (events[i].events & (EPOLLOUT | EPOLLHUP))
                ev |= EV_WRITE;
            if (events[i].events & EPOLLERR)
                ev |= EV_ERROR | EV_READ | EV_WRITE;
            io->cb(loop, io, ev);
        }
        run_timers(loop);
        run_deferred(loop);
    }
}
