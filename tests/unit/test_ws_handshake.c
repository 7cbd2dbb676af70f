/* Unit tests for src/ws/ws_handshake.c: the RFC 6455 §1.3 accept example, key validation
 * (length, alphabet, padding, 15/17-byte keys), accept matching and random key generation. */
#include <string.h>

#include "tap.h"
#include "ws/ws_handshake.h"

static bool key_ok(const char *s)
{
    return ws_key_valid(str_from_cstr(s));
}

static void test_accept(void)
{
    char out[WS_ACCEPT_LEN + 1];
    struct str key = STR_LIT("dGhlIHNhbXBsZSBub25jZQ==");

    is_int(ws_accept_compute(key, out), 0, "accept: computes");
    is_str(str_from_cstr(out), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept: RFC 6455 example");
    is_int(strlen(out), WS_ACCEPT_LEN, "accept: 28 chars, NUL-terminated");

    ok(ws_accept_matches(key, STR_LIT("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")), "matches: exact");
    ok(ws_accept_matches(key, STR_LIT(" \ts3pPLMBiTxaQ9kYGzzhZRbK+xOo=\t ")),
       "matches: OWS trimmed");
    ok(!ws_accept_matches(key, STR_LIT("S3pPLMBiTxaQ9kYGzzhZRbK+xOo=")), "matches: case-sensitive");
    ok(!ws_accept_matches(key, STR_LIT("s3pPLMBiTxaQ9kYGzzhZRbK+xOo")), "matches: short");
    ok(!ws_accept_matches(key, STR_LIT("s3pPLMBiTxaQ9kYGzzhZRbK+xOo==")), "matches: long");
    ok(!ws_accept_matches(key, STR_LIT("")), "matches: empty");
    ok(!ws_accept_matches(STR_LIT("dGhlIHNhbXBsZSBub25jZA=="),
                          STR_LIT("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")),
       "matches: other key");

    /* The key is hashed as given: a second known pair (computed independently with
     * `printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' KEY | openssl sha1 -binary | base64`). */
    is_int(ws_accept_compute(STR_LIT("x3JJHMbDL1EzLkh9GBhXDw=="), out), 0, "accept: second key");
    is_str(str_from_cstr(out), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=", "accept: second known value");
    is_int(ws_accept_compute(STR_NULL, out), 0, "accept: empty key still hashes");
    is_int(strlen(out), WS_ACCEPT_LEN, "accept: empty key gives 28 chars");
}

static void test_key_valid(void)
{
    ok(key_ok("dGhlIHNhbXBsZSBub25jZQ=="), "key: RFC example");
    ok(key_ok("AAAAAAAAAAAAAAAAAAAAAA=="), "key: all zero bytes");
    ok(key_ok("/////////////////////w=="), "key: all 0xff bytes");
    ok(key_ok("+/+/+/+/+/+/+/+/+/+/+A=="), "key: + and / accepted");
    ok(key_ok("dGhlIHNhbXBsZSBub25jZR=="), "key: non-canonical pad bits accepted (documented)");

    ok(!key_ok(""), "key: empty");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZQ="), "key: 23 chars");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZQ==="), "key: 25 chars");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZQ"), "key: padding missing");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZQAA"), "key: 24 chars, no padding (18 bytes)");
    ok(!key_ok("dGhlIHNhbXBsZSBub25j"), "key: 15 bytes (20 chars)");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZTE="), "key: 17 bytes (one '=')");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZTEy"), "key: 18 bytes");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZ==="), "key: three '='");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZQ=A"), "key: '=' then data");
    ok(!key_ok("dGhl=HNhbXBsZSBub25jZQ=="), "key: '=' inside");
    ok(!key_ok("dGhlIHNhbXBsZSBub25j-Q=="), "key: URL-safe '-' refused");
    ok(!key_ok("dGhlIHNhbXBsZSBub25j_Q=="), "key: URL-safe '_' refused");
    ok(!key_ok("dGhlIHNhbXBsZSBub25j Q=="), "key: space inside");
    ok(!key_ok(" dGhlIHNhbXBsZSBub25jZQ=="), "key: untrimmed (caller trims OWS)");
    ok(!key_ok("dGhlIHNhbXBsZSBub25jZQ\r\n"), "key: CRLF instead of padding");
    ok(!ws_key_valid(str_make("dGhlIHNhbXBsZSBu\0b25jZQ==", 24)), "key: NUL inside");
    ok(!ws_key_valid(str_make("dGhlIHNhbXBsZSBu\xc3\xa9\x32jZQ==", 24)), "key: non-ASCII inside");
}

static void test_key_generate(void)
{
    char a[WS_KEY_LEN + 1], b[WS_KEY_LEN + 1];
    char acc[WS_ACCEPT_LEN + 1];

    is_int(ws_key_generate(a), 0, "generate: ok");
    is_int(strlen(a), WS_KEY_LEN, "generate: 24 chars");
    ok(key_ok(a), "generate: passes ws_key_valid");
    is_int(ws_key_generate(b), 0, "generate: second ok");
    ok(strcmp(a, b) != 0, "generate: two keys differ");
    ok(ws_accept_compute(str_from_cstr(a), acc) == 0 &&
           ws_accept_matches(str_from_cstr(a), str_from_cstr(acc)) &&
           !ws_accept_matches(str_from_cstr(b), str_from_cstr(acc)),
       "generate: accept of a generated key matches only that key");
    bool canonical = true;
    for (int i = 0; i < 64; i++) {
        /* 16 bytes leave 4 zero bits in char 22: only A, Q, g, w can appear there. */
        if (ws_key_generate(a) != 0 || !strchr("AQgw", a[21]) || !key_ok(a))
            canonical = false;
    }
    ok(canonical, "generate: 64 keys canonical and valid");
}

int main(void)
{
    test_accept();
    test_key_valid();
    test_key_generate();
    return tap_done();
}
