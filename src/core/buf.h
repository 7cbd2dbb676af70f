/* Bounded byte buffers whose memory comes from a per-thread free list.
 * A buffer holds memory only while bytes are in flight: an idle tunnel keeps none. */
#ifndef WSSGATE_CORE_BUF_H
#define WSSGATE_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* Every pooled chunk has this capacity: one TLS record of plaintext, and the request-head limit. */
#define BUF_CHUNK 16384

/* Bytes live in data[head, tail). data == NULL means no memory is held. Caller-owned struct. */
struct buf {
    char *data;
    unsigned head, tail;
};

static inline size_t buf_len(const struct buf *b)
{
    return b->tail - b->head;
}

static inline size_t buf_room(const struct buf *b)
{
    return b->data ? BUF_CHUNK - b->tail : BUF_CHUNK;
}

static inline bool buf_full(const struct buf *b)
{
    return b->data && b->head == 0 && b->tail == BUF_CHUNK;
}

static inline char *buf_readp(const struct buf *b)
{
    return b->data + b->head;
}

/* Takes memory from this thread's pool if none is held; moves live bytes to the front when
 * that makes room at the end. Returns 0, or -1 when out of memory. */
int buf_reserve(struct buf *b);

/* Where to append: after buf_reserve(), buf_room() bytes are writable at data + tail. */
static inline char *buf_writep(const struct buf *b)
{
    return b->data + b->tail;
}

/* Marks n bytes consumed from the front; returns the memory to the pool once empty. */
void buf_consume(struct buf *b, size_t n);

/* Returns the memory to the pool if the buffer is empty (after a read that got nothing). */
void buf_release_if_empty(struct buf *b);

/* Drops any bytes and returns the memory. */
void buf_free(struct buf *b);

/* Appends bytes; returns -1 if they do not fit in one chunk. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Frees free chunks of the calling thread's pool beyond keep; returns how many it freed. */
size_t buf_pool_shrink(size_t keep);

/* Frees the calling thread's pool (at thread exit). */
void buf_pool_drain(void);

/* How many chunks this thread holds in use and in its free list (for tests and metrics). */
size_t buf_pool_in_use(void);

#endif
