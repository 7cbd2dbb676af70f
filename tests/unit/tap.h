/* A tiny TAP producer for the C unit tests; `prove` reads its output and prints the summary.
 * Each test file is one program: call ok()/is_int()/is_str() and end with tap_done(). */
#ifndef WSSGATE_TESTS_TAP_H
#define WSSGATE_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *name)
{
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
    if (!cond)
        printf("#   failed at %s:%d\n", file, line);
    return cond;
}

#define ok(cond, name) tap_ok(!!(cond), __FILE__, __LINE__, (name))

static inline int tap_is_long(long got, long want, const char *file, int line, const char *name)
{
    int r = tap_ok(got == want, file, line, name);
    if (!r)
        printf("#   got %ld, want %ld\n", got, want);
    return r;
}

#define is_int(got, want, name) tap_is_long((long)(got), (long)(want), __FILE__, __LINE__, (name))

static inline int tap_is_mem(const char *got, size_t glen, const char *want, size_t wlen,
                             const char *file, int line, const char *name)
{
    int r = tap_ok(glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0), file, line, name);
    if (!r)
        printf("#   got '%.*s', want '%.*s'\n", (int)glen, got ? got : "", (int)wlen, want);
    return r;
}

/* Compares a struct str (or anything with .p/.len) with a C string. */
#define is_str(s, want, name) \
    tap_is_mem((s).p, (s).len, (want), strlen(want), __FILE__, __LINE__, (name))

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
