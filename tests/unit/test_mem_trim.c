/* mem_trim: when a fall in the process's connections trims, across workers, and not at stop. */
#include "tap.h"
#include "core/buf.h"
#include "core/mem_trim.h"

/* Closes connections from `from` down to `to`, alternating between two workers; returns how
 * many trims that made and records the connections left at each (up to max). */
static int fall(size_t from, size_t to, struct mem_trim_seen *a, struct mem_trim_seen *b,
                size_t *at, int max)
{
    int trims = 0;
    for (size_t n = from; n > to; n--) {
        struct mem_trim_seen *w = (n % 2) ? a : b;
        if (mem_trim_closed(w, n / 2, false) && trims < max)
            at[trims++] = n - 1;
    }
    return trims;
}

int main(void)
{
    struct mem_trim_seen a = { 0 }, b = { 0 };
    size_t at[8] = { 0 };
    for (int i = 0; i < 1000; i++)
        mem_trim_opened();
    int trims = fall(1000, 0, &a, &b, at, 8);
    is_int(trims, 3, "a fall from 1,000 to none trims three times");
    is_int(at[0], 500, "first at half the peak");
    is_int(at[1], 244, "then at half again, once 256 have closed since");
    is_int(at[2], 0, "and a last time at none");
    ok((a.gen == 3 && b.gen >= 2) || (b.gen == 3 && a.gen >= 2),
       "the worker that trimmed last is up to date, the other follows at its next close");

    for (int i = 0; i < 200; i++)
        mem_trim_opened();
    is_int(fall(200, 0, &a, &b, at, 8), 0, "a fall of fewer than 256 does not trim");
    ok(a.gen == 3 && b.gen == 3, "and the workers caught up with the last trim meanwhile");

    for (int i = 0; i < 2000; i++)
        mem_trim_opened();
    ok(!mem_trim_closed(&a, 0, true), "no trim while stopping");
    trims = fall(1999, 1100, &a, &b, at, 8);
    is_int(trims, 0, "none above half the peak");
    trims = fall(1100, 1000, &a, &b, at, 8);
    is_int(trims, 1, "one when the fall crosses half");

    struct buf bufs[8] = { 0 };
    for (int i = 0; i < 8; i++)
        buf_reserve(&bufs[i]);
    for (int i = 0; i < 8; i++)
        buf_free(&bufs[i]);
    trims = fall(1000, 0, &a, &b, at, 8);
    ok(trims >= 2, "the rest of the fall trims too");
    is_int(buf_pool_shrink(0), 0, "the trims emptied this thread's pool (no live connection)");
    buf_pool_drain();
    return tap_done();
}
