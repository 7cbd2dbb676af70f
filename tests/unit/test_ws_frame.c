/* Unit tests for src/ws/ws_frame.c: RFC 6455 §5.7 examples, every split offset, round trips,
 * invalid headers, masking in pieces, close frames, strict UTF-8; parses run at a guard page. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "guard.h"
#include "ws/ws_frame.h"

static int parse_guarded(const uint8_t *buf, size_t len, struct ws_frame_hdr *h)
{
    return ws_frame_parse(at_guard(buf, len), len, h);
}

/* Every strict prefix of a valid header is INCOMPLETE; every longer input decodes to hdr_len. */
static bool splits_ok(const uint8_t *buf, size_t len, int hdr_len)
{
    struct ws_frame_hdr h;
    for (size_t k = 0; k <= len; k++) {
        int want = (int)k < hdr_len ? WS_FRAME_INCOMPLETE : hdr_len;
        if (parse_guarded(buf, k, &h) != want) {
            printf("# split at %zu: got %d, want %d\n", k, parse_guarded(buf, k, &h), want);
            return false;
        }
    }
    return true;
}

/* An invalid header: every prefix is INCOMPLETE or INVALID, and the whole is INVALID. */
static bool invalid_ok(const uint8_t *buf, size_t len)
{
    struct ws_frame_hdr h;
    for (size_t k = 0; k < len; k++) {
        int r = parse_guarded(buf, k, &h);
        if (r != WS_FRAME_INCOMPLETE && r != WS_FRAME_INVALID)
            return false;
    }
    return parse_guarded(buf, len, &h) == WS_FRAME_INVALID;
}

static void test_rfc_examples(void)
{
    static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    struct ws_frame_hdr h;
    uint8_t out[WS_FRAME_HDR_MAX];

    /* A single-frame unmasked text message. */
    static const uint8_t hello[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    is_int(parse_guarded(hello, sizeof(hello), &h), 2, "unmasked Hello: hdr_len 2");
    ok(h.fin && h.rsv == 0 && h.opcode == WS_OP_TEXT && !h.masked && h.payload_len == 5 &&
           h.hdr_len == 2,
       "unmasked Hello: fields");
    ok(memcmp(hello + 2, "Hello", 5) == 0, "unmasked Hello: payload");
    ok(splits_ok(hello, sizeof(hello), 2), "unmasked Hello: every split");
    is_int(ws_frame_encode(out, true, WS_OP_TEXT, NULL, 5), 2, "unmasked Hello: encode len");
    ok(memcmp(out, hello, 2) == 0, "unmasked Hello: encode bytes");

    /* A single-frame masked text message. */
    static const uint8_t mhello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                      0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    is_int(parse_guarded(mhello, sizeof(mhello), &h), 6, "masked Hello: hdr_len 6");
    ok(h.fin && h.opcode == WS_OP_TEXT && h.masked && h.payload_len == 5 &&
           memcmp(h.mask, mask, 4) == 0,
       "masked Hello: fields");
    uint8_t pl[5];
    memcpy(pl, mhello + 6, 5);
    ws_mask(pl, 5, h.mask, 0);
    ok(memcmp(pl, "Hello", 5) == 0, "masked Hello: unmasked payload");
    ok(splits_ok(mhello, sizeof(mhello), 6), "masked Hello: every split");
    is_int(ws_frame_encode(out, true, WS_OP_TEXT, mask, 5), 6, "masked Hello: encode len");
    ok(memcmp(out, mhello, 6) == 0, "masked Hello: encode bytes");

    /* A fragmented unmasked text message: "Hel" then "lo". */
    static const uint8_t frag[] = { 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f };
    is_int(parse_guarded(frag, sizeof(frag), &h), 2, "fragment 1: hdr_len");
    ok(!h.fin && h.opcode == WS_OP_TEXT && h.payload_len == 3, "fragment 1: fin 0, text, 3");
    is_int(parse_guarded(frag + 5, 4, &h), 2, "fragment 2: hdr_len");
    ok(h.fin && h.opcode == WS_OP_CONT && h.payload_len == 2, "fragment 2: fin 1, cont, 2");
    ws_frame_encode(out, false, WS_OP_TEXT, NULL, 3);
    ok(memcmp(out, frag, 2) == 0, "fragment 1: encode bytes");
    ws_frame_encode(out, true, WS_OP_CONT, NULL, 2);
    ok(memcmp(out, frag + 5, 2) == 0, "fragment 2: encode bytes");

    /* Unmasked ping, masked pong, both carrying "Hello". */
    static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    is_int(parse_guarded(ping, sizeof(ping), &h), 2, "ping: hdr_len");
    ok(h.fin && h.opcode == WS_OP_PING && !h.masked && h.payload_len == 5, "ping: fields");
    static const uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    is_int(parse_guarded(pong, sizeof(pong), &h), 6, "masked pong: hdr_len");
    ok(h.fin && h.opcode == WS_OP_PONG && h.masked && h.payload_len == 5, "masked pong: fields");
    ws_frame_encode(out, true, WS_OP_PING, NULL, 5);
    ok(memcmp(out, ping, 2) == 0, "ping: encode bytes");

    /* 256 bytes binary in a single unmasked frame: 16-bit length. */
    static const uint8_t b256[] = { 0x82, 0x7e, 0x01, 0x00 };
    is_int(parse_guarded(b256, sizeof(b256), &h), 4, "256 B: hdr_len 4");
    ok(h.opcode == WS_OP_BINARY && h.payload_len == 256, "256 B: fields");
    ok(splits_ok(b256, sizeof(b256), 4), "256 B: every split");
    is_int(ws_frame_encode(out, true, WS_OP_BINARY, NULL, 256), 4, "256 B: encode len");
    ok(memcmp(out, b256, 4) == 0, "256 B: encode bytes");

    /* 64 KiB binary in a single unmasked frame: 64-bit length. */
    static const uint8_t b64k[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };
    is_int(parse_guarded(b64k, sizeof(b64k), &h), 10, "64 KiB: hdr_len 10");
    ok(h.opcode == WS_OP_BINARY && h.payload_len == 65536, "64 KiB: fields");
    ok(splits_ok(b64k, sizeof(b64k), 10), "64 KiB: every split");
    is_int(ws_frame_encode(out, true, WS_OP_BINARY, NULL, 65536), 10, "64 KiB: encode len");
    ok(memcmp(out, b64k, 10) == 0, "64 KiB: encode bytes");
}

static void test_round_trip(void)
{
    static const uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536, 1ull << 32, (1ull << 63) - 1 };
    static const size_t want_hdr[] = { 2, 2, 2, 4, 4, 10, 10, 10 };
    static const uint8_t ops[] = { WS_OP_CONT, WS_OP_TEXT, WS_OP_BINARY };
    static const uint8_t mask[4] = { 0xde, 0xad, 0xbe, 0xef };
    bool all = true, splits = true, sizes = true;

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        for (size_t o = 0; o < sizeof(ops); o++)
            for (int m = 0; m < 2; m++)
                for (int fin = 0; fin < 2; fin++) {
                    uint8_t buf[WS_FRAME_HDR_MAX + 3] = { 0 };
                    struct ws_frame_hdr h;
                    size_t n = ws_frame_encode(buf, fin, ops[o], m ? mask : NULL, lens[i]);
                    size_t want = want_hdr[i] + (m ? 4 : 0);
                    if (n != want || ws_frame_hdr_size(m, lens[i]) != want)
                        sizes = false;
                    int r = parse_guarded(buf, n + 3, &h);
                    if (r != (int)n || h.fin != fin || h.rsv != 0 || h.opcode != ops[o] ||
                        h.masked != m || h.payload_len != lens[i] || h.hdr_len != n ||
                        memcmp(h.mask, m ? mask : (const uint8_t[4]){ 0 }, 4) != 0) {
                        printf("# len %llu op %u mask %d fin %d: r=%d\n",
                               (unsigned long long)lens[i], ops[o], m, fin, r);
                        all = false;
                    }
                    if (!splits_ok(buf, n + 3, (int)n))
                        splits = false;
                }
    ok(sizes, "round trip: minimal header sizes 2/4/10 (+4 masked)");
    ok(all, "round trip: encode then parse gives the same fields, lengths 0..2^63-1");
    ok(splits, "round trip: INCOMPLETE at every split before the end of the header");

    /* Control frames up to 125. */
    for (uint8_t op = WS_OP_CLOSE; op <= WS_OP_PONG; op++) {
        uint8_t buf[WS_FRAME_HDR_MAX];
        struct ws_frame_hdr h;
        size_t n = ws_frame_encode(buf, true, op, mask, 125);
        ok(n == 6 && parse_guarded(buf, n, &h) == 6 && h.opcode == op && h.payload_len == 125,
           "round trip: control frame with 125 bytes");
    }

    /* RSV bits go through ws_frame_hdr_encode and come back in h.rsv. */
    for (uint8_t rsv = 0; rsv < 8; rsv++) {
        struct ws_frame_hdr in = {
            .fin = true, .rsv = rsv, .opcode = WS_OP_TEXT, .payload_len = 300,
        };
        struct ws_frame_hdr h;
        uint8_t buf[WS_FRAME_HDR_MAX];
        size_t n = ws_frame_hdr_encode(buf, &in);
        ok(n == 4 && parse_guarded(buf, n, &h) == 4 && h.rsv == rsv && (buf[0] >> 4 & 7) == rsv,
           "RSV bits round trip and are not an error");
    }
}

static void test_invalid(void)
{
    struct ws_frame_hdr h;
    uint8_t buf[WS_FRAME_HDR_MAX];

    for (uint8_t op = 0; op < 16; op++) {
        uint8_t b[2] = { (uint8_t)(0x80 | op), 0x00 };
        bool reserved = (op >= 3 && op <= 7) || op >= 11;
        int r = parse_guarded(b, 2, &h);
        if (reserved)
            is_int(r, WS_FRAME_INVALID, "reserved opcode is INVALID from two bytes");
        else
            is_int(r, 2, "defined opcode parses");
    }
    /* Reserved opcode with a long header: INVALID before the header is complete. */
    static const uint8_t res_long[] = { 0x83, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
    is_int(parse_guarded(res_long, 2, &h), WS_FRAME_INVALID, "reserved opcode: fails early");
    ok(invalid_ok(res_long, sizeof(res_long)), "reserved opcode, 64-bit masked header");

    for (uint8_t op = WS_OP_CLOSE; op <= WS_OP_PONG; op++) {
        uint8_t b[2] = { op, 0x00 }; /* fin = 0 */
        ok(invalid_ok(b, 2), "fragmented control frame is INVALID");
        uint8_t b126[4] = { (uint8_t)(0x80 | op), 126, 0x00, 126 };
        ok(invalid_ok(b126, 4), "control frame with 126-byte payload is INVALID");
        uint8_t b127[10] = { (uint8_t)(0x80 | op), 0x7f, 0, 0, 0, 0, 0, 0, 0x10, 0x00 };
        ok(invalid_ok(b127, 10), "control frame with 64-bit 4096 payload is INVALID");
    }

    static const uint8_t msb[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
    ok(invalid_ok(msb, sizeof(msb)), "64-bit length with MSB set is INVALID");
    static const uint8_t msb_all[] = { 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       1, 2, 3, 4 };
    ok(invalid_ok(msb_all, sizeof(msb_all)), "64-bit length 2^64-1, masked, is INVALID");

    /* Non-minimal lengths are accepted (documented), and detectable through ws_frame_hdr_size. */
    static const uint8_t nm16[] = { 0x81, 0x7e, 0x00, 0x05 };
    ok(parse_guarded(nm16, 4, &h) == 4 && h.payload_len == 5 &&
           ws_frame_hdr_size(h.masked, h.payload_len) != h.hdr_len,
       "non-minimal 16-bit length accepted, detectable");
    static const uint8_t nm64[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x00 };
    ok(parse_guarded(nm64, 10, &h) == 10 && h.payload_len == 256,
       "non-minimal 64-bit length accepted");
    static const uint8_t ping_nm[] = { 0x89, 0x7e, 0x00, 0x7d };
    ok(parse_guarded(ping_nm, 4, &h) == 4 && h.payload_len == 125,
       "control frame with non-minimal length <= 125 accepted");

    is_int(ws_frame_encode(buf, true, 16, NULL, 0), 0, "encode refuses opcode 16");
    is_int(ws_frame_encode(buf, true, WS_OP_BINARY, NULL, 1ull << 63), 0, "encode refuses 2^63");
    struct ws_frame_hdr bad = { .rsv = 8, .opcode = WS_OP_TEXT };
    is_int(ws_frame_hdr_encode(buf, &bad), 0, "encode refuses rsv 8");
    is_int(parse_guarded(buf, 0, &h), WS_FRAME_INCOMPLETE, "empty input is INCOMPLETE");
}

static void mask_ref(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < len; i++)
        p[i] ^= mask[(offset + i) % 4];
}

static void test_mask(void)
{
    enum { N = 131 };
    static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    uint8_t src[N + 8], want[N + 8], got[N + 8];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7 + 3);

    bool one = true, two = true, three = true, off = true;
    /* One shot at every alignment and length. */
    for (size_t a = 0; a < 8; a++)
        for (size_t len = 0; len <= N; len++) {
            memcpy(want, src, sizeof(src));
            memcpy(got, src, sizeof(src));
            mask_ref(want + a, len, mask, 0);
            ws_mask(got + a, len, mask, 0);
            if (memcmp(want, got, sizeof(src)) != 0)
                one = false;
        }
    memcpy(want, src, N);
    mask_ref(want, N, mask, 0);
    /* Two pieces split at every offset. */
    for (size_t s = 0; s <= N; s++) {
        memcpy(got, src, N);
        ws_mask(got, s, mask, 0);
        ws_mask(got + s, N - s, mask, s);
        if (memcmp(want, got, N) != 0)
            two = false;
    }
    /* Three pieces, every pair of split points. */
    for (size_t s = 0; s <= N; s++)
        for (size_t t = s; t <= N; t++) {
            memcpy(got, src, N);
            ws_mask(got, s, mask, 0);
            ws_mask(got + s, t - s, mask, s);
            ws_mask(got + t, N - t, mask, t);
            if (memcmp(want, got, N) != 0)
                three = false;
        }
    /* Offsets past 32 bits keep their low two bits. */
    for (uint64_t o = (1ull << 40) - 3; o < (1ull << 40) + 5; o++) {
        memcpy(got, src, N);
        memcpy(want, src, N);
        mask_ref(want, N, mask, o);
        ws_mask(got, N, mask, o);
        if (memcmp(want, got, N) != 0)
            off = false;
    }
    ok(one, "ws_mask one shot equals byte-wise masking at every alignment and length");
    ok(two, "ws_mask in two pieces at every split equals one shot");
    ok(three, "ws_mask in three pieces at every split pair equals one shot");
    ok(off, "ws_mask with large offsets");
    memcpy(got, src, N);
    ws_mask(got, N, mask, 0);
    ws_mask(got, N, mask, 0);
    ok(memcmp(got, src, N) == 0, "ws_mask twice is the identity");
}

static void test_close(void)
{
    static const uint8_t mask[4] = { 1, 2, 3, 4 };
    uint8_t out[WS_CLOSE_FRAME_MAX + 16];
    struct ws_frame_hdr h;

    size_t n = ws_close_frame(out, 1000, "bye", NULL);
    static const uint8_t want[] = { 0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e' };
    ok(n == sizeof(want) && memcmp(out, want, n) == 0, "server close 1000 \"bye\": exact bytes");

    n = ws_close_frame(out, 1001, "going away", mask);
    int r = parse_guarded(out, n, &h);
    ok(r == 6 && h.opcode == WS_OP_CLOSE && h.fin && h.masked && h.payload_len == 12 &&
           n == 18,
       "client close: masked header");
    ws_mask(out + r, (size_t)h.payload_len, h.mask, 0);
    ok(memcmp(out + r, "\x03\xe9going away", 12) == 0, "client close: payload unmasks");

    n = ws_close_frame(out, 0, "ignored", NULL);
    ok(n == 2 && out[0] == 0x88 && out[1] == 0x00, "code 0: empty close payload");
    n = ws_close_frame(out, 1011, NULL, NULL);
    ok(n == 4 && ws_close_code(out + 2, 2) == 1011, "NULL reason");

    /* Reasons are cut to 123 bytes, never inside a character. */
    char reason[200];
    memset(reason, 'a', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    n = ws_close_frame(out, 1008, reason, mask);
    ok(n == WS_CLOSE_FRAME_MAX, "long reason: 131 bytes with mask");
    r = parse_guarded(out, n, &h);
    ok(r == 6 && h.payload_len == 125, "long reason: payload 125");
    n = ws_close_frame(out, 1008, reason, NULL);
    ok(n == 127 && ws_close_payload_valid(out + 2, n - 2),
       "long reason unmasked: 127 bytes, valid");

    /* 121 ASCII bytes then "€" (3 bytes) would end at 124 > 123: the euro sign is dropped. */
    memset(reason, 'a', 121);
    memcpy(reason + 121, "\xe2\x82\xac", 4);
    n = ws_close_frame(out, 1000, reason, NULL);
    ok(n == 2 + 2 + 121 && ws_close_payload_valid(out + 2, n - 2),
       "truncation falls on a character boundary (3-byte char)");
    memset(reason, 'a', 120);
    memcpy(reason + 120, "\xe2\x82\xac", 4);
    n = ws_close_frame(out, 1000, reason, NULL);
    ok(n == 2 + 2 + 123 && ws_close_payload_valid(out + 2, n - 2), "3-byte char that fits is kept");
    memset(reason, 'a', 122);
    memcpy(reason + 122, "\xf0\x9f\x98\x80z", 6);
    n = ws_close_frame(out, 1000, reason, NULL);
    ok(n == 2 + 2 + 122 && ws_close_payload_valid(out + 2, n - 2), "4-byte char cut off whole");

    ok(ws_close_payload_valid(NULL, 0), "close payload: empty is valid");
    ok(!ws_close_payload_valid((const uint8_t *)"\x03", 1), "close payload: 1 byte invalid");
    static const struct {
        uint16_t code;
        bool valid;
    } codes[] = {
        { 0, false },     { 999, false },  { 1000, true },  { 1001, true },  { 1002, true },
        { 1003, true },   { 1004, false }, { 1005, false }, { 1006, false }, { 1007, true },
        { 1008, true },   { 1009, true },  { 1010, true },  { 1011, true },  { 1012, true },
        { 1013, true },   { 1014, true },  { 1015, false }, { 1016, false }, { 2999, false },
        { 3000, true },   { 4000, true },  { 4999, true },  { 5000, false }, { 65535, false },
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        uint8_t p[2] = { (uint8_t)(codes[i].code >> 8), (uint8_t)codes[i].code };
        char name[64];
        snprintf(name, sizeof(name), "close code %u is %s", codes[i].code,
                 codes[i].valid ? "valid" : "invalid");
        ok(ws_close_payload_valid(p, 2) == codes[i].valid, name);
    }
    ok(!ws_close_payload_valid((const uint8_t *)"\x03\xe8\xc0\xaf", 4),
       "close payload: overlong reason invalid");
    ok(ws_close_payload_valid((const uint8_t *)"\x03\xe8\xce\xba\xe1\xbd\xb9", 7),
       "close payload: UTF-8 reason valid");
    uint8_t big[126] = { 0x03, 0xe8 };
    memset(big + 2, 'x', sizeof(big) - 2);
    ok(ws_close_payload_valid(big, 125) && !ws_close_payload_valid(big, 126),
       "close payload: 125 bytes valid, 126 invalid");
    is_int(ws_close_code(NULL, 0), WS_CLOSE_NO_STATUS, "ws_close_code of empty payload is 1005");
    is_int(ws_close_code((const uint8_t *)"\x0f\xa0", 2), 4000, "ws_close_code reads big endian");
}

#define U8(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static void test_utf8(void)
{
    ok(ws_utf8_valid(NULL, 0), "utf8: empty");
    ok(ws_utf8_valid(U8("Hello, world! 0123456789 plain ASCII over eight bytes")), "utf8: ASCII");
    ok(ws_utf8_valid(U8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")), "utf8: Greek kosme");
    ok(ws_utf8_valid(U8("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
                        "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")),
       "utf8: boundaries U+7F U+80 U+7FF U+800 U+FFFF U+10000 U+10FFFF");
    ok(ws_utf8_valid(U8("\xed\x9f\xbf\xee\x80\x80")), "utf8: U+D7FF and U+E000 around surrogates");
    ok(ws_utf8_valid(U8("\xef\xbf\xbe\xef\xbf\xbf")), "utf8: noncharacters U+FFFE U+FFFF valid");
    ok(ws_utf8_valid(U8("\x00")), "utf8: NUL is valid");
    ok(ws_utf8_valid(U8("abcdefg\xc3\xa9hijklmnopq")), "utf8: non-ASCII after ASCII run");

    ok(!ws_utf8_valid(U8("\xc0\xaf")), "utf8: overlong '/' (2 bytes)");
    ok(!ws_utf8_valid(U8("\xc1\xbf")), "utf8: overlong U+7F (C1)");
    ok(!ws_utf8_valid(U8("\xe0\x80\xaf")), "utf8: overlong '/' (3 bytes)");
    ok(!ws_utf8_valid(U8("\xe0\x9f\xbf")), "utf8: overlong U+7FF (3 bytes)");
    ok(!ws_utf8_valid(U8("\xf0\x80\x80\xaf")), "utf8: overlong '/' (4 bytes)");
    ok(!ws_utf8_valid(U8("\xf0\x8f\xbf\xbf")), "utf8: overlong U+FFFF (4 bytes)");
    ok(!ws_utf8_valid(U8("\xed\xa0\x80")), "utf8: surrogate U+D800");
    ok(!ws_utf8_valid(U8("\xed\xbf\xbf")), "utf8: surrogate U+DFFF");
    ok(!ws_utf8_valid(U8("\xed\xa0\x80\xed\xb0\x80")), "utf8: surrogate pair (CESU-8)");
    ok(!ws_utf8_valid(U8("\xf4\x90\x80\x80")), "utf8: U+110000");
    ok(!ws_utf8_valid(U8("\xf5\x80\x80\x80")), "utf8: F5 lead");
    ok(!ws_utf8_valid(U8("\xff")), "utf8: FF");
    ok(!ws_utf8_valid(U8("\xfe")), "utf8: FE");
    ok(!ws_utf8_valid(U8("\xf8\x88\x80\x80\x80")), "utf8: 5-byte form");
    ok(!ws_utf8_valid(U8("\x80")), "utf8: lone continuation");
    ok(!ws_utf8_valid(U8("abc\xbf")), "utf8: continuation after ASCII");
    ok(!ws_utf8_valid(U8("\xc3")), "utf8: truncated 2-byte");
    ok(!ws_utf8_valid(U8("\xe2\x82")), "utf8: truncated 3-byte");
    ok(!ws_utf8_valid(U8("\xf0\x9f\x98")), "utf8: truncated 4-byte");
    ok(!ws_utf8_valid(U8("\xf0\x9f\x98 abcdefgh")), "utf8: 4-byte cut by ASCII");
    ok(!ws_utf8_valid(U8("\xe2\x28\xa1")), "utf8: bad second byte");
    ok(!ws_utf8_valid(U8("\xe2\x82\x28")), "utf8: bad third byte");
    ok(!ws_utf8_valid(U8("\xf0\x9f\x98\x28")), "utf8: bad fourth byte");
    ok(!ws_utf8_valid(U8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                         "\xed\xa0\x80\x65\x64\x69\x74\x65\x64")),
       "utf8: Autobahn 6.4.x style: surrogate in the middle");

    /* Every prefix of a valid multi-byte string is valid iff it ends on a character boundary. */
    static const uint8_t s[] = "a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80";
    static const bool boundary[] = { 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1 };
    bool prefixes = true;
    for (size_t k = 0; k < sizeof(s); k++)
        if (ws_utf8_valid(s, k) != boundary[k])
            prefixes = false;
    ok(prefixes, "utf8: prefixes valid exactly at character boundaries");
}

int main(void)
{
    guard_init();
    test_rfc_examples();
    test_round_trip();
    test_invalid();
    test_mask();
    test_close();
    test_utf8();
    return tap_done();
}
