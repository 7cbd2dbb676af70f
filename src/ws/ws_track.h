/* Frame-boundary tracking of a WebSocket byte stream that passes through the gateway: frame
 * headers are decoded as they go by (a header split across reads is kept), payload is skipped
 * without being copied or unmasked. The tunnel uses it to count frames and to know where a
 * close frame may be injected. */
#ifndef WSSGATE_WS_WS_TRACK_H
#define WSSGATE_WS_WS_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_track {
    uint64_t left;    /* payload bytes of the current frame still to pass */
    uint64_t frames;  /* complete headers seen */
    uint8_t hdr[14];  /* a frame header split across reads */
    uint8_t hdr_len;
    bool lost;        /* saw bytes that are not WebSocket frames: boundaries unknown */
};

/* Feeds n bytes that passed in order. Caller zero-initialises the struct first. */
void ws_track_feed(struct ws_track *t, const uint8_t *p, size_t n);

/* True between two frames (not inside a header or a payload, and not lost). */
bool ws_track_at_boundary(const struct ws_track *t);

/* How many more bytes may pass before the next boundary (0 at a boundary): the rest of the
 * payload, or the rest of a partly seen header (at least the part whose size is known). */
uint64_t ws_track_to_boundary(const struct ws_track *t);

#endif
