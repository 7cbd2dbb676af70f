/* Unit tests for the chunked-body scanner: valid bodies, every framing rejection, and the same
 * answer whether a body arrives in one piece, in two at every split point, or byte by byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/h1_chunked.h"
#include "guard.h"
#include "tap.h"


struct outcome {
    long consumed; /* total bytes the scanner took, or H1_INVALID */
    bool done;
    uint64_t data;
    const char *reason;
};

/* Feeds s[0..n) in pieces that end at the offsets in cut[0..ncut) (then at n), as a proxy would:
 * each piece is the newly read bytes, and feeding stops at done or on an error. */
static struct outcome feed(const char *s, size_t n, const size_t *cut, size_t ncut)
{
    struct h1_chunked c;
    struct outcome o = { 0, false, 0, NULL };
    size_t from = 0;
    h1_chunked_init(&c);
    for (size_t i = 0; i <= ncut && !o.done; i++) {
        size_t to = i < ncut ? cut[i] : n;
        long r = h1_chunked_scan(&c, at_guard(s + from, to - from), to - from, &o.done);
        if (r == H1_INVALID) {
            o.consumed = H1_INVALID;
            o.reason = c.reason;
            break;
        }
        if (r < 0 || (size_t)r > to - from || (!o.done && (size_t)r != to - from)) {
            o.consumed = -100; /* broken contract */
            break;
        }
        o.consumed += r;
        from = to;
    }
    o.data = h1_chunked_data_bytes(&c);
    return o;
}

static bool same(struct outcome a, struct outcome b)
{
    return a.consumed == b.consumed && a.done == b.done && (a.consumed == H1_INVALID || a.data == b.data);
}

/* Long inputs: every split near the start and the end, a stride in between (keeps ASan fast). */
static size_t next_k(size_t k, size_t n)
{
    return (n > 4096 && k > 512 && k + 600 < n) ? k + 61 : k + 1;
}

/* One piece, then two pieces at every split, then one byte at a time: all must agree. */
static struct outcome check_splits(const char *name, const char *s, size_t n)
{
    struct outcome whole = feed(s, n, NULL, 0);
    bool agree = true;
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    for (size_t k = 0; k <= n && agree; k = next_k(k, n)) {
        struct outcome o = feed(s, n, &k, 1);
        if (!same(o, whole)) {
            printf("#   split at %zu: consumed %ld done %d\n", k, o.consumed, o.done);
            agree = false;
        }
    }
    for (size_t k = 0; k < n; k++)
        cuts[k] = k + 1;
    struct outcome bytes = feed(s, n, cuts, n ? n - 1 : 0);
    free(cuts);
    char label[160];
    snprintf(label, sizeof label, "%s [every split point]", name);
    ok(agree, label);
    snprintf(label, sizeof label, "%s [one byte at a time]", name);
    ok(same(bytes, whole), label);
    return whole;
}

static void good_n(const char *name, const char *s, size_t n, long consumed, bool done, uint64_t data)
{
    struct outcome o = check_splits(name, s, n);
    is_int(o.consumed, consumed, name);
    ok(o.done == done, done ? "  ... done" : "  ... not done yet");
    is_int(o.data, data, "  ... data bytes");
}

static void bad_n(const char *name, const char *s, size_t n)
{
    struct outcome o = check_splits(name, s, n);
    is_int(o.consumed, H1_INVALID, name);
    ok(o.reason && o.reason[0], "  ... has a reason");
}

#define GOOD(name, s, consumed, done, data) good_n((name), (s), sizeof(s) - 1, (consumed), (done), (data))
#define BAD(name, s) bad_n((name), (s), sizeof(s) - 1)

static void test_valid(void)
{
    GOOD("last chunk only", "0\r\n\r\n", 5, true, 0);
    GOOD("one chunk", "5\r\nhello\r\n0\r\n\r\n", 15, true, 5);
    GOOD("two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 26, true, 11);
    GOOD("pipelined request after", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 15, true, 5);
    GOOD("hex sizes", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", 35, true, 20);
    GOOD("data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 14, true, 4);
    GOOD("data with 0 chunk lookalike", "5\r\n0\r\n\r\n\r\n0\r\n\r\n", 15, true, 5);
    GOOD("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 20, true, 5);
    GOOD("15 hex digits", "00000000000000f\r\n", 17, false, 0);
    GOOD("largest size", "fffffffffffffff\r\nabc", 20, false, 3);
    GOOD("extension", "5;name=val\r\nhello\r\n0;last\r\n\r\n", 29, true, 5);
    GOOD("quoted extension", "5;a=\"b c;d\"\r\nhello\r\n0\r\n\r\n", 25, true, 5);
    GOOD("BWS before extension", "5 \t;a\r\nhello\r\n0\r\n\r\n", 19, true, 5);
    GOOD("obs-text in extension", "5;a=\xff\r\nhello\r\n0\r\n\r\n", 19, true, 5);
    GOOD("trailers", "5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: a\tb\r\n\r\nNEXT", 39, true, 5);
    GOOD("incomplete data", "5\r\nhel", 6, false, 3);
    GOOD("incomplete size line", "5;ext", 5, false, 0);
    GOOD("incomplete after data", "5\r\nhello\r", 9, false, 5);
    GOOD("incomplete trailer", "0\r\nX: y\r\n", 9, false, 0);
    GOOD("incomplete final CR", "0\r\n\r", 4, false, 0);
    GOOD("empty", "", 0, false, 0);
}

static void test_invalid(void)
{
    BAD("not hex", "x\r\n");
    BAD("empty size line", "\r\n");
    BAD("16 hex digits", "0000000000000000\r\n\r\n");
    BAD("size overflow", "10000000000000000\r\n");
    BAD("negative", "-5\r\nhello\r\n0\r\n\r\n");
    BAD("plus", "+5\r\nhello\r\n0\r\n\r\n");
    BAD("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n");
    BAD("leading space", " 5\r\nhello\r\n0\r\n\r\n");
    BAD("trailing space", "5 \r\nhello\r\n0\r\n\r\n");
    BAD("bare LF after size", "5\nhello\r\n0\r\n\r\n");
    BAD("bare CR after size", "5\rhello\r\n0\r\n\r\n");
    BAD("bare LF in extension", "5;a\nhello\r\n0\r\n\r\n");
    BAD("NUL in extension", "5;a\0\r\nhello\r\n0\r\n\r\n");
    BAD("CTL in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n");
    BAD("data too long", "5\r\nhelloX\r\n0\r\n\r\n");
    BAD("data then LF", "5\r\nhello\n0\r\n\r\n");
    BAD("data then CR X", "5\r\nhello\rX0\r\n\r\n");
    BAD("TE.CL style short data", "8\r\nSMUG\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
    BAD("final bare LF", "0\r\n\n");
    BAD("final CR X", "0\r\n\rX");
    BAD("trailer bare LF", "0\r\nX: a\n\r\n");
    BAD("trailer bare CR", "0\r\nX: a\rb\r\n\r\n");
    BAD("trailer NUL", "0\r\nX: a\0\r\n\r\n");
    BAD("trailer CTL", "0\r\nX: \x7f\r\n\r\n");
    BAD("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n");
    BAD("trailer no colon", "0\r\nXYZ\r\n\r\n");
    BAD("trailer empty name", "0\r\n: v\r\n\r\n");
    BAD("trailer SP before colon", "0\r\nX : v\r\n\r\n");
}

static void test_bounds(void)
{
    static char buf[40000];
    size_t n;

    /* Size line of exactly 4096 bytes (CRLF included) passes, 4097 fails. */
    memcpy(buf, "5;", 2);
    memset(buf + 2, 'e', 4092);
    memcpy(buf + 4094, "\r\nhello\r\n0\r\n\r\n", 14);
    good_n("size line of 4096", buf, 4108, 4108, true, 5);
    memcpy(buf, "5;", 2);
    memset(buf + 2, 'e', 4093);
    memcpy(buf + 4095, "\r\nhello\r\n0\r\n\r\n", 14);
    bad_n("size line of 4097", buf, 4109);
    bad_n("long size line, incomplete", buf, 4097);

    /* One trailer line of 4096 bytes passes, 4097 fails. */
    memcpy(buf, "0\r\nX:", 5);
    memset(buf + 5, 'v', 4092);
    memcpy(buf + 4097, "\r\n\r\n", 4);
    good_n("trailer line of 4096", buf, 4101, 4101, true, 0);
    memcpy(buf, "0\r\nX:", 5);
    memset(buf + 5, 'v', 4093);
    memcpy(buf + 4098, "\r\n\r\n", 4);
    bad_n("trailer line of 4097", buf, 4102);

    /* Trailer section: 4 lines of 4096 = 16384 with no room for the final CRLF. */
    n = 3;
    memcpy(buf, "0\r\n", 3);
    for (int i = 0; i < 4; i++) {
        buf[n] = 'X';
        buf[n + 1] = ':';
        memset(buf + n + 2, 'v', 4092);
        memcpy(buf + n + 4094, "\r\n", 2);
        n += 4096;
    }
    memcpy(buf + n, "\r\n", 2);
    bad_n("trailer section over 16384", buf, n + 2);
    memcpy(buf + 3 + 4096 * 3, "X:vv\r\n\r\n", 8);
    good_n("trailer section under 16384", buf, 3 + 4096 * 3 + 8, 3 + 4096 * 3 + 8, true, 0);
}

static void test_api(void)
{
    struct h1_chunked c;
    bool done = true;

    h1_chunked_init(&c);
    ok(c.reason == NULL, "no reason after init");
    is_int(h1_chunked_scan(&c, "0\r\n\r\nNEXT", 9, &done), 5, "stops at the end of the body");
    ok(done, "done");
    is_int(h1_chunked_scan(&c, "MORE", 4, &done), 0, "nothing consumed after done");
    ok(done, "still done");

    h1_chunked_init(&c);
    is_int(h1_chunked_scan(&c, "zz", 2, &done), H1_INVALID, "invalid");
    ok(!done && c.reason, "not done, reason set");
    is_int(h1_chunked_scan(&c, "0\r\n\r\n", 5, &done), H1_INVALID, "errors are sticky");

    h1_chunked_init(&c);
    is_int(h1_chunked_scan(&c, NULL, 0, &done), 0, "empty call");
    ok(!done, "empty call is not done");

    /* 1 MiB chunk in one call: data is skipped as a run. */
    size_t big = 1 << 20;
    char *b = malloc(big + 32);
    memcpy(b, "100000\r\n", 8);
    memset(b + 8, 'd', big);
    memcpy(b + 8 + big, "\r\n0\r\n\r\n", 7);
    h1_chunked_init(&c);
    is_int(h1_chunked_scan(&c, b, 8 + big + 7, &done), (long)(8 + big + 7), "1 MiB chunk");
    ok(done && h1_chunked_data_bytes(&c) == big, "1 MiB counted");
    free(b);

    /* A huge chunk fed in pieces: data counts grow with the pieces. */
    h1_chunked_init(&c);
    h1_chunked_scan(&c, "fffffffffffffff\r\n", 17, &done);
    char piece[4096];
    memset(piece, 'x', sizeof piece);
    for (int i = 0; i < 10; i++)
        h1_chunked_scan(&c, piece, sizeof piece, &done);
    is_int(h1_chunked_data_bytes(&c), 40960, "data bytes for body-size limits");
    ok(!done, "huge chunk still open");
}

int main(void)
{
    guard_init();
    test_valid();
    test_invalid();
    test_bounds();
    test_api();
    return tap_done();
}
