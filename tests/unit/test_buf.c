/* buf: memory held only while bytes are in flight; compaction; the pool counts. */
#include "tap.h"
#include "core/buf.h"
#include "core/str.h"

int main(void)
{
    struct buf b = { 0 };
    ok(b.data == NULL && buf_len(&b) == 0, "a new buffer holds no memory");
    ok(buf_reserve(&b) == 0 && b.data && buf_room(&b) == BUF_CHUNK, "reserve takes a chunk");
    is_int(buf_pool_in_use(), 1, "one chunk in use");
    ok(buf_append(&b, "hello", 5) == 0 && buf_len(&b) == 5, "append");
    buf_consume(&b, 2);
    is_str(((struct str){ buf_readp(&b), buf_len(&b) }), "llo", "consume from the front");
    buf_consume(&b, 3);
    ok(b.data == NULL, "an emptied buffer returns its chunk");
    is_int(buf_pool_in_use(), 0, "no chunk in use");

    char big[BUF_CHUNK];
    memset(big, 'a', sizeof(big));
    ok(buf_append(&b, big, BUF_CHUNK) == 0 && buf_full(&b), "fill to the brim");
    ok(buf_append(&b, "x", 1) < 0, "one more byte does not fit");
    buf_consume(&b, 100);
    ok(buf_append(&b, big, 100) == 0, "room at the front is reclaimed by moving bytes");
    is_int(buf_len(&b), BUF_CHUNK, "still full, bytes intact");
    ok(b.head == 0, "compacted");
    buf_free(&b);
    ok(b.data == NULL && buf_pool_in_use() == 0, "free returns the chunk");

    buf_pool_drain();
    struct buf many[5] = { 0 };
    for (int i = 0; i < 5; i++)
        buf_reserve(&many[i]);
    for (int i = 0; i < 5; i++)
        buf_free(&many[i]);
    is_int(buf_pool_shrink(2), 3, "shrink frees the free chunks beyond those kept");
    is_int(buf_pool_shrink(2), 0, "and nothing more the second time");
    ok(buf_reserve(&b) == 0 && buf_reserve(&many[0]) == 0 && buf_reserve(&many[1]) == 0,
       "the pool still serves after a shrink");
    is_int(buf_pool_shrink(0), 0, "chunks in use are not the pool's to free");
    buf_free(&b);
    buf_free(&many[0]);
    buf_free(&many[1]);
    is_int(buf_pool_shrink(0), 3, "once returned they are");
    buf_pool_drain();
    return tap_done();
}
