/* Frame-boundary tracking over a passing byte stream. */
#include "ws/ws_track.h"

#include "ws/ws_frame.h"

/* Header size implied by the bytes seen so far (2 until the length byte is known). */
static size_t header_need(const struct ws_track *t)
{
    if (t->hdr_len < 2)
        return 2;
    size_t n = 2;
    unsigned len7 = t->hdr[1] & 0x7f;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    if (t->hdr[1] & 0x80)
        n += 4;
    return n;
}

void ws_track_feed(struct ws_track *t, const uint8_t *p, size_t n)
{
    while (n && !t->lost) {
        if (t->left) {
            size_t k = t->left < n ? (size_t)t->left : n;
            t->left -= k;
            p += k;
            n -= k;
            continue;
        }
        struct ws_frame_hdr h;
        /* The usual case, a whole header in this chunk: decoded in place, not byte by byte. */
        if (t->hdr_len == 0) {
            int r = ws_frame_parse(p, n, &h);
            if (r == WS_FRAME_INVALID) {
                t->lost = true;
                return;
            }
            if (r > 0) {
                t->left = h.payload_len;
                t->frames++;
                p += r;
                n -= (size_t)r;
                continue;
            }
        }
        size_t need = header_need(t);
        while (t->hdr_len < need && n) {
            t->hdr[t->hdr_len++] = *p++;
            n--;
            need = header_need(t);
        }
        if (t->hdr_len < need) {
            /* As in the path above: the first two bytes can already rule the frame out. */
            if (t->hdr_len >= 2 && ws_frame_parse(t->hdr, t->hdr_len, &h) == WS_FRAME_INVALID)
                t->lost = true;
            return;
        }
        if (ws_frame_parse(t->hdr, t->hdr_len, &h) < 0) {
            t->lost = true;
            return;
        }
        t->left = h.payload_len;
        t->hdr_len = 0;
        t->frames++;
    }
}

bool ws_track_at_boundary(const struct ws_track *t)
{
    return !t->lost && t->left == 0 && t->hdr_len == 0;
}

uint64_t ws_track_to_boundary(const struct ws_track *t)
{
    if (t->left)
        return t->left;
    if (t->hdr_len)
        return header_need(t) - t->hdr_len;
    return 0;
}
