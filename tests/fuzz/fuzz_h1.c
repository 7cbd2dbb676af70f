/* libFuzzer target for the HTTP/1.1 head parser: request and response, default and tiny limits,
 * and the chunked scanner over what follows a chunked head; checks invariants, not just crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_chunked.h"
#include "http/h1_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 128

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void check_slice(struct str s, const char *buf, size_t len)
{
    check(s.p == NULL ? s.len == 0 : (s.p >= buf && s.len <= len && s.p + s.len <= buf + len));
}

static void check_headers(const struct h1_header *h, size_t n, const char *buf, int r)
{
    for (size_t i = 0; i < n; i++) {
        check_slice(h[i].name, buf, (size_t)r);
        check_slice(h[i].value, buf, (size_t)r);
        check(h[i].name.len > 0);
    }
}

/* Parses buf[0..k) from an exact-size heap copy, so ASan sees any read past k. */
static int request_prefix(const char *buf, size_t k, const struct h1_limits *lim, struct h1_request *req,
                          struct h1_header *h, struct h1_error *e)
{
    char *copy = malloc(k ? k : 1);
    memcpy(copy, buf, k);
    int r = h1_parse_request(copy, k, lim, h, MAXH, req, e);
    free(copy);
    return r;
}

/* The body after a chunked head, scanned in pieces sized by the input's own bytes. */
static void scan_body(const char *p, size_t n)
{
    struct h1_chunked c;
    bool done = false;
    size_t off = 0, step = n ? (unsigned char)p[0] % 7 + 1 : 1;
    h1_chunked_init(&c);
    while (off < n && !done) {
        size_t len = n - off < step ? n - off : step;
        long r = h1_chunked_scan(&c, p + off, len, &done);
        if (r == H1_INVALID)
            return;
        check(r >= 0 && (size_t)r <= len && (done || (size_t)r == len));
        off += (size_t)r;
        step = step * 3 % 11 + 1;
    }
    check(h1_chunked_data_bytes(&c) <= off);
}

static void fuzz_request(const char *buf, size_t len, const struct h1_limits *lim)
{
    static struct h1_header h[MAXH], h2[MAXH];
    struct h1_request req, req2;
    struct h1_error e = { 0, NULL }, e2 = { 0, NULL };
    int r = h1_parse_request(buf, len, lim, h, MAXH, &req, &e);

    check(r == H1_INCOMPLETE || r == H1_INVALID || (r > 0 && (size_t)r <= len));
    if (r == H1_INVALID) {
        check(e.reason != NULL && e.status >= 400 && e.status <= 505);
        /* A prefix is either still incomplete or already the same error. */
        int r2 = request_prefix(buf, len / 2, lim, &req2, h2, &e2);
        check(r2 == H1_INCOMPLETE || (r2 == H1_INVALID && e2.status == e.status));
        return;
    }
    if (r < 0)
        return;
    check_slice(req.method, buf, (size_t)r);
    check_slice(req.target, buf, (size_t)r);
    check_slice(req.query, buf, (size_t)r);
    check_slice(req.upgrade, buf, (size_t)r);
    check(req.path.len == 1 || req.path.p == NULL || (req.path.p >= buf && req.path.p < buf + r));
    check(req.host.p == NULL || (req.host.p >= buf && req.host.p + req.host.len <= buf + r));
    check(req.minor == 0 || req.minor == 1);
    check(req.nheaders <= MAXH);
    check_headers(req.headers, req.nheaders, buf, r);
    check(req.body != H1_BODY_UNTIL_CLOSE);
    check((req.body == H1_BODY_LENGTH) == (req.content_length > 0));
    check(req.content_length <= H1_MAX_CONTENT_LENGTH);
    /* Exactly the head parses to the same length; one byte less is incomplete. */
    check(request_prefix(buf, (size_t)r, lim, &req2, h2, &e2) == r);
    check(request_prefix(buf, (size_t)r - 1, lim, &req2, h2, &e2) == H1_INCOMPLETE);
    if (req.body == H1_BODY_CHUNKED)
        scan_body(buf + r, len - (size_t)r);
}

static void fuzz_response(const char *buf, size_t len, bool head)
{
    static struct h1_header h[MAXH];
    struct h1_response resp;
    struct h1_error e = { 0, NULL };
    int r = h1_parse_response(buf, len, NULL, h, MAXH, head, &resp, &e);

    check(r == H1_INCOMPLETE || r == H1_INVALID || (r > 0 && (size_t)r <= len));
    if (r == H1_INVALID)
        check(e.status == 502 && e.reason != NULL);
    if (r <= 0)
        return;
    check(resp.status >= 100 && resp.status <= 599);
    check_slice(resp.reason, buf, (size_t)r);
    check_headers(resp.headers, resp.nheaders, buf, r);
    check(!head || resp.body == H1_BODY_NONE);
    check(resp.body != H1_BODY_UNTIL_CLOSE || !resp.keep_alive);
    if (resp.body == H1_BODY_CHUNKED)
        scan_body(buf + r, len - (size_t)r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct h1_limits tiny = { 40, 120, 4 };
    const char *buf = (const char *)data;

    if (size > 64 * 1024)
        return 0;
    fuzz_request(buf, size, NULL);
    fuzz_request(buf, size, &tiny);
    fuzz_response(buf, size, false);
    fuzz_response(buf, size, true);
    (void)h1_has_token(str_make(buf, size), STR_LIT("upgrade"));
    (void)h1_is_hop_by_hop(str_make(buf, size < 32 ? size : 32));
    return 0;
}
