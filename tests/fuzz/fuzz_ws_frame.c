/* libFuzzer target for src/ws/ws_frame.c: reads the input as a stream of frames, checks each header
 * against its prefixes and its re-encoding, and cross-checks masking, UTF-8 and close payloads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) ((cond) ? (void)0 : abort())

/* A second, decode-based UTF-8 validator to compare against the table-driven one. */
static bool utf8_ref(const uint8_t *p, size_t len)
{
    static const uint32_t min_cp[4] = { 0, 0x80, 0x800, 0x10000 };
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t n = c < 0x80 ? 0 : c >= 0xc0 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 :
                   c >= 0xf0 && c < 0xf8 ? 3 : 4;
        if (n == 4 || len - i - 1 < n)
            return false;
        uint32_t cp = n == 0 ? c : c & (0x3f >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static bool same_hdr(const struct ws_frame_hdr *a, const struct ws_frame_hdr *b)
{
    return a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode &&
           a->masked == b->masked && memcmp(a->mask, b->mask, 4) == 0 &&
           a->payload_len == b->payload_len && a->hdr_len == b->hdr_len;
}

/* Every prefix decodes to INCOMPLETE or to exactly what the whole input decodes to. */
static void check_prefixes(const uint8_t *p, size_t len, int r, const struct ws_frame_hdr *h)
{
    size_t top = len < WS_FRAME_HDR_MAX ? len : WS_FRAME_HDR_MAX;
    for (size_t k = 0; k < top; k++) {
        struct ws_frame_hdr g;
        int rk = ws_frame_parse(p, k, &g);
        if (r > 0)
            CHECK(rk == ((int)k < r ? WS_FRAME_INCOMPLETE : r));
        else
            CHECK(rk == WS_FRAME_INCOMPLETE || rk == r);
        if (rk > 0)
            CHECK(same_hdr(&g, h));
    }
}

/* The header's fields are legal and re-encode to the same bytes (or, for a non-minimal length,
 * to a shorter header that decodes to the same frame). */
static void check_header(const uint8_t *p, int r, const struct ws_frame_hdr *h)
{
    CHECK(r >= 2 && r <= WS_FRAME_HDR_MAX && h->hdr_len == (size_t)r);
    CHECK(h->opcode <= WS_OP_BINARY || (h->opcode >= WS_OP_CLOSE && h->opcode <= WS_OP_PONG));
    CHECK(!ws_op_is_control(h->opcode) || (h->fin && h->payload_len <= WS_CONTROL_MAX));
    CHECK((h->payload_len >> 63) == 0 && h->rsv <= 7);

    uint8_t out[WS_FRAME_HDR_MAX];
    size_t n = ws_frame_hdr_encode(out, h);
    CHECK(n == ws_frame_hdr_size(h->masked, h->payload_len) && n <= (size_t)r);
    if (n == (size_t)r)
        CHECK(memcmp(out, p, n) == 0);
    else
        CHECK(out[0] == p[0] && (out[1] & 0x80) == (p[1] & 0x80));

    struct ws_frame_hdr g;
    CHECK(ws_frame_parse(out, n, &g) == (int)n);
    g.hdr_len = h->hdr_len;
    CHECK(same_hdr(&g, h));

    if (h->rsv == 0) {
        uint8_t out2[WS_FRAME_HDR_MAX];
        CHECK(ws_frame_encode(out2, h->fin, h->opcode, h->masked ? h->mask : NULL,
                              h->payload_len) == n);
        CHECK(memcmp(out, out2, n) == 0);
    }
}

/* Builds a close frame: it must parse back as a close frame of at most 131 bytes carrying code,
 * with the whole reason when it fits, else a prefix that is still valid UTF-8 if reason was. */
static void check_close_build(uint16_t code, const char *reason, const uint8_t *mask)
{
    uint8_t frame[WS_CLOSE_FRAME_MAX];
    size_t n = ws_close_frame(frame, code, reason, mask);
    struct ws_frame_hdr g;
    int r = ws_frame_parse(frame, n, &g);
    CHECK(n <= WS_CLOSE_FRAME_MAX && r > 0 && g.opcode == WS_OP_CLOSE && g.fin &&
          g.masked == (mask != NULL) && (size_t)r + g.payload_len == n);
    uint8_t *pl = frame + r;
    ws_mask(pl, (size_t)g.payload_len, g.mask, 0);
    if (code == 0) {
        CHECK(g.payload_len == 0);
        return;
    }
    CHECK(g.payload_len >= 2 && ws_close_code(pl, (size_t)g.payload_len) == code);
    size_t rlen = strlen(reason), got = (size_t)g.payload_len - 2;
    CHECK(got <= rlen && memcmp(pl + 2, reason, got) == 0);
    if (rlen <= WS_CONTROL_MAX - 2)
        CHECK(got == rlen);
    else if (utf8_ref((const uint8_t *)reason, rlen))
        CHECK(utf8_ref(pl + 2, got) && got > WS_CONTROL_MAX - 2 - 4);
}

/* Masks the available payload one shot, byte by byte and in three pieces; then checks the
 * unmasked bytes with both UTF-8 validators and, for a whole close payload, the close checks. */
static void check_payload(const uint8_t *p, size_t avail, const struct ws_frame_hdr *h,
                          bool whole)
{
    uint8_t *a = malloc(avail + 1), *b = malloc(avail + 1);
    CHECK(a && b);
    memcpy(a, p, avail);
    memcpy(b, p, avail);

    ws_mask(a, avail, h->mask, 0);
    size_t s = avail ? h->mask[0] % (avail + 1) : 0;
    size_t t = s + (avail - s) / 2;
    ws_mask(b, s, h->mask, 0);
    ws_mask(b + s, t - s, h->mask, s);
    ws_mask(b + t, avail - t, h->mask, t);
    CHECK(memcmp(a, b, avail) == 0);
    for (size_t i = 0; i < avail; i++)
        CHECK(a[i] == (uint8_t)(p[i] ^ h->mask[i & 3]));

    CHECK(ws_utf8_valid(a, avail) == utf8_ref(a, avail));

    if (h->opcode == WS_OP_CLOSE && whole) {
        unsigned c = avail >= 2 ? (unsigned)a[0] << 8 | a[1] : 0;
        bool code_ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
                       (c >= 3000 && c <= 4999);
        bool want = avail == 0 || (avail >= 2 && avail <= WS_CONTROL_MAX && code_ok &&
                                   utf8_ref(a + 2, avail - 2));
        CHECK(ws_close_payload_valid(a, avail) == want);

        a[avail] = '\0';
        check_close_build(ws_close_code(a, avail), avail >= 2 ? (const char *)a + 2 : "",
                          h->masked ? h->mask : NULL);
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CHECK(ws_utf8_valid(data, size) == utf8_ref(data, size));
    if (size >= 2) {
        /* The input after two code bytes as a (possibly over-long) close reason. */
        char *reason = malloc(size - 1);
        CHECK(reason);
        memcpy(reason, data + 2, size - 2);
        reason[size - 2] = '\0';
        check_close_build((uint16_t)(data[0] << 8 | data[1]), reason,
                          size >= 4 && (size & 1) ? data : NULL);
        free(reason);
    }

    size_t off = 0;
    while (off < size) {
        const uint8_t *p = data + off;
        size_t rem = size - off;
        struct ws_frame_hdr h;
        int r = ws_frame_parse(p, rem, &h);
        check_prefixes(p, rem, r, &h);
        if (r < 0) {
            CHECK(r == WS_FRAME_INVALID || (r == WS_FRAME_INCOMPLETE && rem < WS_FRAME_HDR_MAX));
            break;
        }
        check_header(p, r, &h);

        size_t left = rem - (size_t)r;
        bool whole = h.payload_len <= left;
        size_t avail = whole ? (size_t)h.payload_len : left;
        check_payload(p + r, avail, &h, whole);
        if (!whole)
            break;
        off += (size_t)r + avail;
    }
    return 0;
}
