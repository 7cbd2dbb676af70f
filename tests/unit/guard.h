/* Inputs placed flush against a PROT_NONE page, so a parser that reads one byte past its input
 * faults even without a sanitizer (picohttpparser's test.c does the same). */
#ifndef WSSGATE_TESTS_GUARD_H
#define WSSGATE_TESTS_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_SPAN (64 * 1024) /* the largest input a test may place */

static char *guard_end;

static inline void guard_init(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, GUARD_SPAN + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED || mprotect(m + GUARD_SPAN, page, PROT_NONE) != 0) {
        printf("Bail out! cannot map a guard page\n");
        exit(1);
    }
    guard_end = m + GUARD_SPAN;
}

/* Copies s[0..n) (n <= GUARD_SPAN) so that its last byte is the last readable one. */
static inline const void *at_guard(const void *s, size_t n)
{
    memcpy(guard_end - n, s, n);
    return guard_end - n;
}

#endif
