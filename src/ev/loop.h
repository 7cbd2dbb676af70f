/* The epoll event loop of one thread: fd interest, intrusive timers, deferred work, wake-ups.
 * Nothing here allocates per event or per timer; the clock is read once per loop turn. */
#ifndef WSSGATE_EV_LOOP_H
#define WSSGATE_EV_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* EV_HUP comes with EV_READ: the peer sent its FIN (or the socket hung up), so a read will
 * reach EOF, even after a short read that emptied the bytes before it. */
enum { EV_READ = 1u, EV_WRITE = 2u, EV_ERROR = 4u, EV_HUP = 8u };

struct ev_loop;
struct ev_io;
struct ev_timer;
struct ev_defer;

typedef void ev_io_fn(struct ev_loop *loop, struct ev_io *io, unsigned events);
typedef void ev_timer_fn(struct ev_loop *loop, struct ev_timer *t);
typedef void ev_defer_fn(struct ev_loop *loop, struct ev_defer *d);

/* An fd watcher, embedded in its owner. `want` is the interest set; the loop calls epoll_ctl
 * only when it differs from what the kernel already has. `edge` asks for edge-triggered
 * reports (EPOLLET) from the next ev_io_set() on: the owner then reads until it has seen the
 * socket empty, as it is told only of bytes that arrive later. */
struct ev_io {
    int fd;
    unsigned want;
    unsigned armed;
    bool added;
    bool edge;
    bool armed_edge;
    ev_io_fn *cb;
};

/* A one-shot timer, embedded in its owner; `idx` is its slot in the loop's heap. */
struct ev_timer {
    uint64_t at_ms;
    size_t idx;
    ev_timer_fn *cb;
};

/* Work queued to run once at the end of this loop turn (closing inside callbacks). */
struct ev_defer {
    struct ev_defer *next;
    bool queued;
    ev_defer_fn *cb;
};

struct ev_loop {
    int epfd;
    int wakefd;
    bool stop;
    uint64_t now_ms;
    struct ev_timer **heap;
    size_t heap_len, heap_cap;
    struct ev_defer *defer_head, **defer_tail;
    struct ev_io wake_io;
    ev_io_fn *on_wake;   /* called on the loop thread after ev_loop_wake() from any thread */
    void *data;          /* owner of the loop (the worker) */
};

/* Opens the epoll and eventfd descriptors. Returns 0, or -1 with errno. */
int ev_loop_init(struct ev_loop *loop);
void ev_loop_fini(struct ev_loop *loop);

/* Runs until ev_loop_stop() is called on this thread. */
void ev_loop_run(struct ev_loop *loop);
void ev_loop_stop(struct ev_loop *loop);

/* Safe from any thread: makes the loop call loop->on_wake soon. */
void ev_loop_wake(struct ev_loop *loop);

/* The cached monotonic clock in milliseconds, updated once per loop turn. */
static inline uint64_t ev_now(const struct ev_loop *loop)
{
    return loop->now_ms;
}
void ev_update_now(struct ev_loop *loop);

void ev_io_init(struct ev_io *io, int fd, ev_io_fn *cb);
/* Sets the interest (EV_READ|EV_WRITE, or 0 for none). Returns 0, or -1 with errno. */
int ev_io_set(struct ev_loop *loop, struct ev_io *io, unsigned want);
/* Forgets the fd (call before closing it); pending events for it in this turn are dropped. */
void ev_io_remove(struct ev_loop *loop, struct ev_io *io);

void ev_timer_init(struct ev_timer *t, ev_timer_fn *cb);
/* (Re)arms the timer to fire after ms milliseconds. Returns 0, or -1 when out of memory. */
int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms);
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);

void ev_defer_init(struct ev_defer *d, ev_defer_fn *cb);
/* Queues d for the end of this turn; queuing twice is harmless. */
void ev_defer_queue(struct ev_loop *loop, struct ev_defer *d);

#endif
