/* ws_track: frame boundaries found identically whatever way the stream is split. */
#include "tap.h"
#include "ws/ws_frame.h"
#include "ws/ws_track.h"

#include <stdlib.h>

/* Builds a stream of frames (masked or not) with payload sizes from sizes[], returns its length
 * and the offsets where each frame ends in ends[]. */
static size_t build_stream(uint8_t *out, const size_t *sizes, size_t n, bool masked, size_t *ends)
{
    size_t len = 0;
    const uint8_t mask[4] = { 1, 2, 3, 4 };
    for (size_t i = 0; i < n; i++) {
        len += ws_frame_encode(out + len, true, WS_OP_BINARY, masked ? mask : NULL, sizes[i]);
        memset(out + len, 'x', sizes[i]);
        len += sizes[i];
        ends[i] = len;
    }
    return len;
}

static void test_split_everywhere(bool masked)
{
    static uint8_t stream[70000 + 400];
    const size_t sizes[] = { 0, 5, 125, 126, 300, 65535, 65536 - 65536 + 1 };
    size_t ends[7];
    size_t len = build_stream(stream, sizes, 7, masked, ends);
    int bad = 0;
    for (size_t k = 0; k <= len; k += (k < 400 || len - k < 400) ? 1 : 97) {
        struct ws_track t = { 0 };
        ws_track_feed(&t, stream, k);
        bool boundary = false;
        for (size_t i = 0; i < 7; i++)
            boundary |= ends[i] == k;
        if (k == 0)
            boundary = true;
        if (ws_track_at_boundary(&t) != boundary)
            bad++;
        ws_track_feed(&t, stream + k, len - k);
        if (t.frames != 7 || !ws_track_at_boundary(&t))
            bad++;
    }
    ok(bad == 0, masked ? "masked stream: same frames and boundaries at every split"
                        : "unmasked stream: same frames and boundaries at every split");
}

static void test_byte_at_a_time(void)
{
    uint8_t stream[600];
    const size_t sizes[] = { 3, 200, 130 };
    size_t ends[3];
    size_t len = build_stream(stream, sizes, 3, true, ends);
    struct ws_track t = { 0 };
    int bad = 0;
    for (size_t i = 0; i < len; i++) {
        uint64_t to = ws_track_to_boundary(&t);
        if (!ws_track_at_boundary(&t) && to == 0)
            bad++;
        ws_track_feed(&t, stream + i, 1);
    }
    ok(bad == 0, "mid-frame always reports bytes to the boundary");
    is_int(t.frames, 3, "three frames fed one byte at a time");
    ok(ws_track_at_boundary(&t), "boundary at the end");
}

static void test_to_boundary(void)
{
    uint8_t hdr[14];
    size_t hl = ws_frame_encode(hdr, true, WS_OP_TEXT, NULL, 1000);
    struct ws_track t = { 0 };
    ws_track_feed(&t, hdr, 1);
    is_int(ws_track_to_boundary(&t), 1, "after one header byte, one more is known to be needed");
    ws_track_feed(&t, hdr + 1, 1);
    is_int(ws_track_to_boundary(&t), hl - 2, "after the length byte, the rest of the header");
    ws_track_feed(&t, hdr + 2, hl - 2);
    is_int(ws_track_to_boundary(&t), 1000, "then the payload");
}

static void test_lost(void)
{
    const uint8_t junk[] = "HTTP/1.1 200 OK\r\n";
    struct ws_track t = { 0 };
    ws_track_feed(&t, junk, sizeof(junk) - 1);
    ok(t.lost, "bytes that are not frames mark the stream lost");
    ok(!ws_track_at_boundary(&t), "a lost stream never reports a boundary");
}

int main(void)
{
    test_split_everywhere(false);
    test_split_everywhere(true);
    test_byte_at_a_time();
    test_to_boundary();
    test_lost();
    return tap_done();
}
