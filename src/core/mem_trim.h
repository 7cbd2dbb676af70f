/* When to hand freed memory back to the system after many connections closed: the trigger
 * counts the connections of every worker, as malloc_trim works on the whole process. */
#ifndef WSSGATE_CORE_MEM_TRIM_H
#define WSSGATE_CORE_MEM_TRIM_H

#include <stdbool.h>
#include <stddef.h>

/* Fewest closes since the peak worth a trim. */
#define MEM_TRIM_MIN_CLOSES 256

/* Per worker: which process-wide trim this worker's buffer pool has followed. */
struct mem_trim_seen {
    unsigned gen;
};

void mem_trim_opened(void);

/* After a connection of this worker was freed: worker_conns are the worker's connections left.
 * Trims (pool, then malloc_trim) when the process's connections fell to half their peak, or to
 * none after such a trim; follows another worker's trim by shrinking this worker's pool.
 * Returns true if this call ran malloc_trim. Not while stopping (the process is going). */
bool mem_trim_closed(struct mem_trim_seen *seen, size_t worker_conns, bool stopping);

#endif
