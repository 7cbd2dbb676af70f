/* Per-thread pool of fixed-size chunks behind struct buf.
 * Chunks never cross threads: a connection lives on the thread that accepted it. */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

/* Enough to absorb bursts without returning memory to malloc on every message. */
#define POOL_KEEP 256

struct chunk {
    struct chunk *next;
};

static _Thread_local struct chunk *pool_free;
static _Thread_local size_t pool_nfree;
static _Thread_local size_t pool_used;

static char *chunk_get(void)
{
    struct chunk *c = pool_free;
    if (c) {
        pool_free = c->next;
        pool_nfree--;
    } else {
        c = malloc(BUF_CHUNK);
        if (!c)
            return NULL;
    }
    pool_used++;
    return (char *)c;
}

static void chunk_put(char *p)
{
    pool_used--;
    if (pool_nfree >= POOL_KEEP) {
        free(p);
        return;
    }
    struct chunk *c = (struct chunk *)(void *)p;
    c->next = pool_free;
    pool_free = c;
    pool_nfree++;
}

int buf_reserve(struct buf *b)
{
    if (!b->data) {
        b->data = chunk_get();
        if (!b->data)
            return -1;
        b->head = b->tail = 0;
        return 0;
    }
    if (b->tail == BUF_CHUNK && b->head > 0) {
        size_t n = b->tail - b->head;
        memmove(b->data, b->data + b->head, n);
        b->head = 0;
        b->tail = (unsigned)n;
    }
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->head += (unsigned)n;
    if (b->head == b->tail)
        buf_release_if_empty(b);
}

void buf_release_if_empty(struct buf *b)
{
    if (b->data && b->head == b->tail) {
        chunk_put(b->data);
        b->data = NULL;
        b->head = b->tail = 0;
    }
}

void buf_free(struct buf *b)
{
    if (b->data)
        chunk_put(b->data);
    b->data = NULL;
    b->head = b->tail = 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b) < 0)
        return -1;
    if (n > buf_room(b)) {
        if (b->head > 0 && n <= BUF_CHUNK - buf_len(b)) {
            size_t live = buf_len(b);
            memmove(b->data, b->data + b->head, live);
            b->head = 0;
            b->tail = (unsigned)live;
        } else {
            buf_release_if_empty(b);
            return -1;
        }
    }
    memcpy(b->data + b->tail, p, n);
    b->tail += (unsigned)n;
    return 0;
}

size_t buf_pool_shrink(size_t keep)
{
    size_t freed = 0;
    while (pool_nfree > keep) {
        struct chunk *c = pool_free;
        pool_free = c->next;
        pool_nfree--;
        free(c);
        freed++;
    }
    return freed;
}

void buf_pool_drain(void)
{
    buf_pool_shrink(0);
}

size_t buf_pool_in_use(void)
{
    return pool_used;
}
