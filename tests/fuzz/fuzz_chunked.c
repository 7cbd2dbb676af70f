/* libFuzzer target for the chunked-body scanner: the same body in one piece and in pieces cut by
 * the input's first bytes must give the same consumed total, done flag and validity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

struct outcome {
    long consumed;
    bool done;
    uint64_t data;
};

/* Feeds body[0..n) in pieces whose sizes cycle through piece[0..npiece) (each 1..256). Each piece
 * is copied to the end of an exact-size heap buffer (one per cycle slot, reused: no allocator
 * churn), so ASan sees any read past a piece. */
static struct outcome feed(const char *body, size_t n, const uint8_t *piece, size_t npiece)
{
    struct h1_chunked c;
    struct outcome o = { 0, false, 0 };
    char *slot[8] = { 0 };
    size_t off = 0;
    h1_chunked_init(&c);
    for (size_t i = 0; off < n && !o.done; i++) {
        size_t k = npiece ? i % npiece : 0;
        size_t want = npiece ? (size_t)piece[k] + 1 : n;
        size_t len = n - off < want ? n - off : want;
        if (!slot[k])
            slot[k] = malloc(want);
        char *p = slot[k] + (want - len);
        memcpy(p, body + off, len);
        long r = h1_chunked_scan(&c, p, len, &o.done);
        if (r == H1_INVALID) {
            check(c.reason != NULL);
            o.consumed = H1_INVALID;
            break;
        }
        check(r >= 0 && (size_t)r <= len && (o.done || (size_t)r == len));
        o.consumed += r;
        off += (size_t)r;
    }
    for (size_t k = 0; k < 8; k++)
        free(slot[k]);
    o.data = h1_chunked_data_bytes(&c);
    check(o.consumed == H1_INVALID || o.data <= (uint64_t)o.consumed);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t npiece;
    if (size < 1 || size > 256 * 1024)
        return 0;
    /* First byte: how many of the following bytes are piece sizes (0..7); the rest is the body. */
    npiece = data[0] % 8;
    if (size < 1 + npiece)
        return 0;
    const char *body = (const char *)data + 1 + npiece;
    size_t n = size - 1 - npiece;

    struct outcome whole = feed(body, n, NULL, 0);
    struct outcome cut = feed(body, n, data + 1, npiece);
    static const uint8_t one = 0;
    struct outcome bytes = feed(body, n, &one, 1);

    check(cut.consumed == whole.consumed && cut.done == whole.done);
    check(bytes.consumed == whole.consumed && bytes.done == whole.done);
    if (whole.consumed != H1_INVALID)
        check(cut.data == whole.data && bytes.data == whole.data);
    return 0;
}
