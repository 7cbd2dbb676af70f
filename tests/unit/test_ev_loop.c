/* ev loop: timers fire in order and once, stop works from any heap position, deferred work runs
 * at the end of the turn, fd interest reaches epoll. */
#include "tap.h"
#include "core/container.h"
#include "ev/loop.h"

#include <stdlib.h>
#include <unistd.h>

struct probe {
    struct ev_timer t;
    int id;
};

static int fired[64];
static int nfired;

static void on_fire(struct ev_loop *loop, struct ev_timer *t)
{
    struct probe *p = container_of(t, struct probe, t);
    fired[nfired++] = p->id;
    if (nfired == 20)
        ev_loop_stop(loop);
}

static void test_timers(void)
{
    struct ev_loop loop;
    ok(ev_loop_init(&loop) == 0, "loop opens");
    struct probe p[24];
    /* Deadlines 0..23 ms in a scrambled order; four are stopped before they fire. */
    for (int i = 0; i < 24; i++) {
        int d = (i * 7) % 24;
        p[i].id = d;
        ev_timer_init(&p[i].t, on_fire);
        ev_timer_start(&loop, &p[i].t, (uint64_t)d * 3);
    }
    for (int i = 0; i < 24; i++)
        if (p[i].id % 6 == 5)
            ev_timer_stop(&loop, &p[i].t);
    ev_timer_stop(&loop, &p[0].t); /* stopping twice is harmless */
    ev_timer_start(&loop, &p[0].t, 0);
    ev_loop_run(&loop);
    is_int(nfired, 20, "every armed timer fired once");
    int sorted = 1;
    for (int i = 1; i < nfired; i++)
        sorted &= fired[i - 1] <= fired[i];
    ok(sorted, "in deadline order");
    int none_stopped = 1;
    for (int i = 0; i < nfired; i++)
        none_stopped &= fired[i] % 6 != 5;
    ok(none_stopped, "stopped timers never fire");
    ev_loop_fini(&loop);
}

static int deferred_runs;
static void on_defer(struct ev_loop *loop, struct ev_defer *d)
{
    (void)d;
    deferred_runs++;
    ev_loop_stop(loop);
}

static void test_defer_and_io(void)
{
    struct ev_loop loop;
    ev_loop_init(&loop);
    struct ev_defer d;
    ev_defer_init(&d, on_defer);
    ev_defer_queue(&loop, &d);
    ev_defer_queue(&loop, &d);
    ev_loop_run(&loop);
    is_int(deferred_runs, 1, "queued twice, run once");

    int fds[2];
    ok(pipe(fds) == 0, "pipe");
    struct ev_io io;
    ev_io_init(&io, fds[0], NULL);
    ok(ev_io_set(&loop, &io, EV_READ) == 0 && io.armed == EV_READ, "interest armed");
    ok(ev_io_set(&loop, &io, EV_READ) == 0, "same interest again is a no-op");
    ok(ev_io_set(&loop, &io, 0) == 0 && io.armed == 0, "interest cleared");
    ev_io_remove(&loop, &io);
    is_int(io.fd, -1, "removed watcher is marked stale");
    close(fds[0]);
    close(fds[1]);
    ev_loop_fini(&loop);
}

int main(void)
{
    test_timers();
    test_defer_and_io();
    return tap_done();
}
