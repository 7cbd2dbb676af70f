/* Memory back to the system after a mass close.
 * glibc keeps what free() returned and each worker's buffer pool keeps up to 4 MiB of chunks:
 * after 10,000 tunnels come and go, the RSS would stay at its peak for the life of the process
 * (nginx's and HAProxy's do). Once half the process's connections since the last peak are gone,
 * and at least MEM_TRIM_MIN_CLOSES of them, the worker that saw it shrinks its pool to a chunk
 * per four live connections (idle tunnels hold none; traffic takes more back at one malloc
 * each) and calls malloc_trim(0); the other workers shrink their pools at their next close.
 * Once a fall that trimmed reaches no connection at all, it trims a last time. A mass close of
 * 10,000 tunnels thus costs seven or eight trims (0.5-2.5 ms each), a steady load none. The
 * counts are process-wide: per worker, a fall spread over 16 workers would never trim. */
#include "core/mem_trim.h"

#include "core/buf.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

static atomic_size_t live;       /* connections of all workers */
static atomic_size_t peak;       /* most at once since the last trim (approximate under races) */
static atomic_bool again_at_zero;
static atomic_uint gen;          /* trims so far: a worker behind it shrinks its pool */
static pthread_mutex_t trimming = PTHREAD_MUTEX_INITIALIZER;

void mem_trim_opened(void)
{
    size_t n = atomic_fetch_add_explicit(&live, 1, memory_order_relaxed) + 1;
    size_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (n > p && !atomic_compare_exchange_weak_explicit(&peak, &p, n, memory_order_relaxed,
                                                           memory_order_relaxed))
        ;
}

static bool due(size_t n)
{
    size_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    if (n <= p / 2 && p - n >= MEM_TRIM_MIN_CLOSES)
        return true;
    return n == 0 && atomic_load_explicit(&again_at_zero, memory_order_relaxed);
}

bool mem_trim_closed(struct mem_trim_seen *seen, size_t worker_conns, bool stopping)
{
    size_t n = atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed) - 1;
    unsigned g = atomic_load_explicit(&gen, memory_order_relaxed);
    if (seen->gen != g) {
        seen->gen = g;
        buf_pool_shrink(worker_conns / 4);
    }
    if (stopping || !due(n) || pthread_mutex_trylock(&trimming) != 0)
        return false;
    /* Another worker may have trimmed between the look and the lock. */
    n = atomic_load_explicit(&live, memory_order_relaxed);
    bool trim = due(n);
    if (trim) {
        atomic_store_explicit(&peak, n, memory_order_relaxed);
        atomic_store_explicit(&again_at_zero, n > 0, memory_order_relaxed);
        seen->gen = atomic_fetch_add_explicit(&gen, 1, memory_order_relaxed) + 1;
        buf_pool_shrink(worker_conns / 4);
        malloc_trim(0);
    }
    pthread_mutex_unlock(&trimming);
    return trim;
}
