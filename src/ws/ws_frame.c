/* RFC 6455 frame header codec: decode and encode frame headers in one step (no per-byte state),
 * mask payload bytes word at a time, build and check close frames, validate UTF-8. */
#include "ws/ws_frame.h"

#include <string.h>

static bool opcode_defined(uint8_t op)
{
    return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void store_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame_hdr *h)
{
    if (len < 2)
        return WS_FRAME_INCOMPLETE;

    bool fin = buf[0] & 0x80;
    uint8_t opcode = buf[0] & 0x0f;
    bool masked = buf[1] & 0x80;
    uint8_t len7 = buf[1] & 0x7f;

    /* Decided by the first two bytes: fail now rather than wait for bytes that cannot help. */
    if (!opcode_defined(opcode))
        return WS_FRAME_INVALID;
    if (ws_op_is_control(opcode) && !fin)
        return WS_FRAME_INVALID;

    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t need = 2 + ext + (masked ? 4 : 0);
    if (len < need)
        return WS_FRAME_INCOMPLETE;

    uint64_t plen = ext ? load_be(buf + 2, ext) : len7;
    if (plen >> 63)
        return WS_FRAME_INVALID;
    /* A control frame's length may be written non-minimally but must still fit in 125. */
    if (ws_op_is_control(opcode) && plen > WS_CONTROL_MAX)
        return WS_FRAME_INVALID;

    h->fin = fin;
    h->rsv = (buf[0] >> 4) & 0x07;
    h->opcode = opcode;
    h->masked = masked;
    if (masked)
        memcpy(h->mask, buf + 2 + ext, 4);
    else
        memset(h->mask, 0, 4);
    h->payload_len = plen;
    h->hdr_len = need;
    return (int)need;
}

size_t ws_frame_hdr_size(bool masked, uint64_t payload_len)
{
    size_t n = payload_len <= 125 ? 2 : payload_len <= 0xffff ? 4 : 10;
    return n + (masked ? 4 : 0);
}

size_t ws_frame_hdr_encode(uint8_t *out, const struct ws_frame_hdr *h)
{
    if (h->opcode > 15 || h->rsv > 7 || (h->payload_len >> 63))
        return 0;

    uint64_t plen = h->payload_len;
    size_t n = 2;
    out[0] = (uint8_t)((h->fin ? 0x80 : 0) | (h->rsv << 4) | h->opcode);
    out[1] = h->masked ? 0x80 : 0;
    if (plen <= 125) {
        out[1] |= (uint8_t)plen;
    } else if (plen <= 0xffff) {
        out[1] |= 126;
        store_be(out + 2, plen, 2);
        n += 2;
    } else {
        out[1] |= 127;
        store_be(out + 2, plen, 8);
        n += 8;
    }
    if (h->masked) {
        memcpy(out + n, h->mask, 4);
        n += 4;
    }
    return n;
}

size_t ws_frame_encode(uint8_t *out, bool fin, uint8_t opcode, const uint8_t mask[4],
                       uint64_t payload_len)
{
    struct ws_frame_hdr h = {
        .fin = fin,
        .opcode = opcode,
        .masked = mask != NULL,
        .payload_len = payload_len,
    };
    if (mask)
        memcpy(h.mask, mask, 4);
    return ws_frame_hdr_encode(out, &h);
}

void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
    /* The key rotated to start at `offset`, repeated twice: period 4, so byte i of the payload
     * piece takes m[i & 3], and any 8 bytes starting at a multiple of 4 take all of m. */
    uint8_t m[8];
    for (size_t i = 0; i < 8; i++)
        m[i] = mask[(offset + i) & 3];

    size_t i = 0;
    if (len >= 8) {
        uint64_t w;
        memcpy(&w, m, 8);
        /* memcpy keeps unaligned access and aliasing legal; compilers emit plain loads here. */
        for (; len - i >= 32; i += 32) {
            uint64_t v[4];
            memcpy(v, p + i, 32);
            v[0] ^= w;
            v[1] ^= w;
            v[2] ^= w;
            v[3] ^= w;
            memcpy(p + i, v, 32);
        }
        for (; len - i >= 8; i += 8) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            v ^= w;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < len; i++)
        p[i] ^= m[i & 3];
}

/* Length of the longest prefix of s[0..len) that does not end inside a UTF-8 character. */
static size_t utf8_cut(const uint8_t *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    /* Back off over continuation bytes so the cut falls before a lead byte. */
    size_t n = max;
    while (n > 0 && (s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

size_t ws_close_frame(uint8_t *out, uint16_t code, const char *reason, const uint8_t mask[4])
{
    uint8_t payload[WS_CONTROL_MAX];
    size_t plen = 0;

    if (code != 0) {
        store_be(payload, code, 2);
        plen = 2;
        if (reason) {
            size_t rlen = utf8_cut((const uint8_t *)reason, strlen(reason), WS_CONTROL_MAX - 2);
            memcpy(payload + 2, reason, rlen);
            plen += rlen;
        }
    }

    size_t n = ws_frame_encode(out, true, WS_OP_CLOSE, mask, plen);
    memcpy(out + n, payload, plen);
    if (mask)
        ws_mask(out + n, plen, mask, 0);
    return n + plen;
}

static bool close_code_valid(uint16_t code)
{
    /* 1004 is reserved; 1005, 1006 and 1015 are for reporting only and never on the wire;
     * 1012-1014 are registered with IANA since RFC 6455; 3000-4999 are for libraries and
     * applications. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

bool ws_close_payload_valid(const uint8_t *p, size_t len)
{
    if (len == 0)
        return true;
    if (len < 2 || len > WS_CONTROL_MAX)
        return false;
    return close_code_valid(ws_close_code(p, len)) && ws_utf8_valid(p + 2, len - 2);
}

uint16_t ws_close_code(const uint8_t *p, size_t len)
{
    return len < 2 ? WS_CLOSE_NO_STATUS : (uint16_t)(p[0] << 8 | p[1]);
}

bool ws_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* Most text is ASCII: skip it 8 bytes at a time. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* RFC 3629 §4 / Unicode Table 3-7: the lead byte fixes the number of continuation bytes
         * and the range of the first one, which is what rules out overlongs (E0, F0),
         * surrogates (ED) and code points above U+10FFFF (F4, F5..FF). */
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if (len - i - 1 < n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += n + 1;
    }
    return true;
}
