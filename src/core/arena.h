/* An arena: many small allocations freed at once. One arena holds a configuration generation,
 * so freeing a generation is one call and nothing in it can leak on its own. */
#ifndef WSSGATE_CORE_ARENA_H
#define WSSGATE_CORE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *blocks;
};

/* Zeroed memory for n bytes (aligned for any type), or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* A NUL-terminated copy of p[0..n). */
char *arena_strndup(struct arena *a, const char *p, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Grows an array held in the arena: returns a copy of old (n elements of size sz) with room for
 * one more, the new element zeroed at index n; old stays valid until the arena is freed. */
void *arena_grow(struct arena *a, void *old, size_t n, size_t sz);
void arena_free(struct arena *a);

#endif
