/* Unit tests for the HTTP/1.1 head parser: every accept and reject rule with its status, every
 * input also fed as each of its prefixes, placed flush against a PROT_NONE guard page. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/h1_parse.h"
#include "guard.h"
#include "tap.h"

#define MAXH 128


/* ---- parse helpers: the full input is parsed from an exact-size heap copy (ASan catches an
 * over-read), its prefixes at the guard page; the result of the full parse stays in R / P. */

struct rq {
    int r;
    struct h1_request req;
    struct h1_header h[MAXH];
    struct h1_error e;
};

struct rs {
    int r;
    struct h1_response resp;
    struct h1_header h[MAXH];
    struct h1_error e;
};

static struct rq R;
static struct rs P;
static char *heap_copy;

static const char *copy_input(const char *s, size_t n)
{
    free(heap_copy);
    heap_copy = malloc(n ? n : 1);
    if (n)
        memcpy(heap_copy, s, n);
    return heap_copy;
}

static bool same_str(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool same_headers(const struct h1_header *a, const struct h1_header *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_str(a[i].name, b[i].name) || !same_str(a[i].value, b[i].value))
            return false;
    return true;
}

static bool same_req(const struct h1_request *a, const struct h1_request *b)
{
    return same_str(a->method, b->method) && same_str(a->target, b->target) && same_str(a->path, b->path) &&
           same_str(a->query, b->query) && a->minor == b->minor && a->nheaders == b->nheaders &&
           same_headers(a->headers, b->headers, a->nheaders) && a->body == b->body &&
           a->content_length == b->content_length && same_str(a->host, b->host) &&
           a->keep_alive == b->keep_alive && a->conn_upgrade == b->conn_upgrade &&
           same_str(a->upgrade, b->upgrade) && a->expect_continue == b->expect_continue;
}

static bool same_resp(const struct h1_response *a, const struct h1_response *b)
{
    return a->minor == b->minor && a->status == b->status && same_str(a->reason, b->reason) &&
           a->nheaders == b->nheaders && same_headers(a->headers, b->headers, a->nheaders) &&
           a->body == b->body && a->content_length == b->content_length && a->keep_alive == b->keep_alive &&
           a->conn_upgrade == b->conn_upgrade && same_str(a->upgrade, b->upgrade);
}

/* A prefix agrees with the full answer: INCOMPLETE before the head ends, then the same head; for
 * an invalid input, INCOMPLETE or the same status, never back to INCOMPLETE once invalid. */
static bool prefix_agrees(int full, int full_status, size_t k, int r, int status, bool same, bool *was_bad)
{
    if (full > 0)
        return (long)k < full ? r == H1_INCOMPLETE : (r == full && same);
    if (full == H1_INCOMPLETE)
        return r == H1_INCOMPLETE;
    if (r == H1_INVALID) {
        *was_bad = true;
        return status == full_status;
    }
    return r == H1_INCOMPLETE && !*was_bad;
}

/* Long inputs: every prefix near the start and the end, a stride in between (keeps ASan fast). */
static size_t next_k(size_t k, size_t n)
{
    return (n > 4096 && k > 512 && k + 600 < n) ? k + 61 : k + 1;
}

static int req_lim(const char *name, const char *s, size_t n, const struct h1_limits *lim, size_t maxh)
{
    struct rq *t = malloc(sizeof *t);
    bool agree = true, was_bad = false;
    R.r = h1_parse_request(copy_input(s, n), n, lim, R.h, maxh, &R.req, &R.e);
    for (size_t k = 0; k <= n; k = next_k(k, n)) {
        t->r = h1_parse_request(at_guard(s, k), k, lim, t->h, maxh, &t->req, &t->e);
        bool same = t->r > 0 && R.r > 0 && same_req(&t->req, &R.req);
        if (!prefix_agrees(R.r, R.e.status, k, t->r, t->e.status, same, &was_bad)) {
            printf("#   prefix %zu of %zu: got %d (status %d)\n", k, n, t->r, t->e.status);
            agree = false;
            break;
        }
    }
    free(t);
    char label[160];
    snprintf(label, sizeof label, "%s [every prefix]", name);
    ok(agree, label);
    return R.r;
}

static int resp_lim(const char *name, const char *s, size_t n, bool head, const struct h1_limits *lim)
{
    struct rs *t = malloc(sizeof *t);
    bool agree = true, was_bad = false;
    P.r = h1_parse_response(copy_input(s, n), n, lim, P.h, MAXH, head, &P.resp, &P.e);
    for (size_t k = 0; k <= n; k = next_k(k, n)) {
        t->r = h1_parse_response(at_guard(s, k), k, lim, t->h, MAXH, head, &t->resp, &t->e);
        bool same = t->r > 0 && P.r > 0 && same_resp(&t->resp, &P.resp);
        if (!prefix_agrees(P.r, P.e.status, k, t->r, t->e.status, same, &was_bad)) {
            printf("#   prefix %zu of %zu: got %d (status %d)\n", k, n, t->r, t->e.status);
            agree = false;
            break;
        }
    }
    free(t);
    char label[160];
    snprintf(label, sizeof label, "%s [every prefix]", name);
    ok(agree, label);
    return P.r;
}

#define REQ(name, s) req_lim((name), (s), sizeof(s) - 1, NULL, MAXH)
#define RESP(name, s) resp_lim((name), (s), sizeof(s) - 1, false, NULL)

static void bad_req_n(const char *name, const char *s, size_t n, int status)
{
    int r = req_lim(name, s, n, NULL, MAXH);
    is_int(r, H1_INVALID, name);
    is_int(R.e.status, status, name);
    ok(r != H1_INVALID || (R.e.reason && R.e.reason[0]), "  ... has a reason");
}

static void bad_resp_n(const char *name, const char *s, size_t n, bool head)
{
    int r = resp_lim(name, s, n, head, NULL);
    is_int(r, H1_INVALID, name);
    is_int(P.e.status, 502, name);
}

#define BAD(name, s, status) bad_req_n((name), (s), sizeof(s) - 1, (status))
#define BAD_RESP(name, s) bad_resp_n((name), (s), sizeof(s) - 1, false)

/* "GET / HTTP/1.1\r\nHost: a\r\nX: aaa...\r\n\r\n" of exactly total bytes (total >= 32). */
static size_t padded_head(char *out, size_t total)
{
    memcpy(out, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
    memset(out + 28, 'a', total - 32);
    memcpy(out + total - 4, "\r\n\r\n", 4);
    return total;
}

/* Appends "X-Pad: aaa...\r\n" lines to out[n..) until at least `upto` bytes; returns the length. */
static size_t pad_lines(char *out, size_t n, size_t upto)
{
    while (n < upto) {
        memcpy(out + n, "X-Pad: ", 7);
        memset(out + n + 7, 'a', 98);
        memcpy(out + n + 105, "\r\n", 2);
        n += 107;
    }
    return n;
}

/* ---- requests: accepted */

static void test_request_basics(void)
{
    static const char s[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    is_int(REQ("simple GET", s), sizeof s - 1, "simple GET: head length");
    is_str(R.req.method, "GET", "method");
    is_str(R.req.target, "/index.html", "target");
    is_str(R.req.path, "/index.html", "path");
    is_int(R.req.query.len, 0, "no query");
    is_int(R.req.minor, 1, "minor 1");
    is_int(R.req.nheaders, 2, "two headers");
    ok(R.req.headers == R.h, "headers array is the caller's");
    is_str(R.req.headers[1].name, "User-Agent", "header name as sent");
    is_str(R.req.headers[1].value, "t", "header value");
    is_str(R.req.host, "example.com", "host from Host");
    ok(R.req.keep_alive, "1.1 keeps alive");
    ok(!R.req.conn_upgrade && !R.req.upgrade.p, "no upgrade");
    is_int(R.req.body, H1_BODY_NONE, "no body");
    ok(!R.req.expect_continue, "no expect");
    ok(R.req.method.p >= heap_copy && R.req.headers[1].value.p < heap_copy + sizeof s, "slices point into buf");

    REQ("query", "GET /a/b?x=1&y=/?z HTTP/1.1\r\nHost: a\r\n\r\n");
    is_str(R.req.path, "/a/b", "path before ?");
    is_str(R.req.query, "x=1&y=/?z", "query after first ?");
    REQ("empty query", "GET /p? HTTP/1.1\r\nHost: a\r\n\r\n");
    is_str(R.req.path, "/p", "path of /p?");
    ok(R.req.query.p && R.req.query.len == 0, "empty query is present, len 0");

    is_int(REQ("pipelined body", "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET"), 48,
           "head length excludes the body");
    is_int(R.req.body, H1_BODY_LENGTH, "body LENGTH");
    is_int(R.req.content_length, 3, "content_length 3");

    REQ("custom method", "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n");
    ok(R.r == H1_INVALID, "asterisk with M-SEARCH refused");
    REQ("tchar method", "PR!#$%&'*+-.^_`|~I /x HTTP/1.1\r\nHost: a\r\n\r\n");
    ok(R.r > 0, "method of all tchar accepted");
}

static void test_request_versions(void)
{
    REQ("1.0 no host", "GET / HTTP/1.0\r\n\r\n");
    ok(R.r > 0, "HTTP/1.0 without Host accepted");
    is_int(R.req.minor, 0, "minor 0");
    ok(!R.req.keep_alive, "1.0 closes by default");
    ok(R.req.host.p == NULL, "no host");
    REQ("1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    ok(R.req.keep_alive, "1.0 with keep-alive");
    REQ("1.0 keep-alive, close", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n");
    ok(!R.req.keep_alive, "close wins over keep-alive");
    REQ("1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    ok(!R.req.keep_alive, "1.1 with close");
    REQ("upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
    ok(R.req.conn_upgrade && R.req.keep_alive, "Connection: keep-alive, Upgrade");
    is_str(R.req.upgrade, "websocket", "Upgrade value");
    REQ("upgrade without connection", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n");
    ok(!R.req.conn_upgrade, "Upgrade alone does not set conn_upgrade");
    is_str(R.req.upgrade, "h2c", "... but upgrade is reported");
}

static void test_request_leading_crlf(void)
{
    is_int(REQ("one leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 29, "leading CRLF counted in length");
    is_str(R.req.method, "GET", "method after leading CRLF");
    is_int(REQ("four leading CRLF", "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 35, "four skipped");
    BAD("five leading CRLF", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    is_int(REQ("only CRLF", "\r\n\r\n"), H1_INCOMPLETE, "empty lines alone are incomplete");
    is_int(REQ("empty", ""), H1_INCOMPLETE, "empty input is incomplete");
}

static void test_request_targets(void)
{
    REQ("absolute-form", "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    is_str(R.req.host, "example.com:8080", "host is the URL authority");
    is_str(R.req.path, "/p/q", "absolute path");
    is_str(R.req.query, "x=1", "absolute query");
    REQ("absolute no path", "GET https://h HTTP/1.1\r\nHost: h\r\n\r\n");
    is_str(R.req.path, "/", "path defaults to /");
    is_int(R.req.query.len, 0, "no query");
    REQ("absolute query no path", "GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n");
    is_str(R.req.path, "/", "path / before query");
    is_str(R.req.query, "x", "query without path");
    REQ("absolute upper scheme", "GET HTTP://h/ HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(R.r > 0, "scheme is case-insensitive");
    REQ("absolute 1.0 no Host", "GET http://h/x HTTP/1.0\r\n\r\n");
    is_str(R.req.host, "h", "1.0 absolute-form gives host");
    REQ("absolute ipv6", "GET http://[::1]:81/ HTTP/1.1\r\nHost: h\r\n\r\n");
    is_str(R.req.host, "[::1]:81", "ipv6 authority");
    REQ("asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    is_str(R.req.path, "*", "asterisk-form path");
    REQ("connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    ok(R.r > 0, "CONNECT authority-form");
    is_str(R.req.target, "example.com:443", "CONNECT target");
    ok(R.req.path.p == NULL && R.req.path.len == 0, "CONNECT has no path");

    BAD("asterisk GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("asterisk+ OPTIONS", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("authority-form GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT no port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT bad port", "CONNECT example.com:99999 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("relative target", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("ftp scheme", "GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("scheme only", "GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("empty authority", "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("userinfo", "GET http://u:p@h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("authority bad port", "GET http://h:x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("target 0x80", "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("target 0xff", "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("target CTL", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("target DEL", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("target tab", "GET /\ta HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("target NUL", "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_request_line_syntax(void)
{
    BAD("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
    BAD("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("double SP after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("double SP before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("leading SP", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("trailing SP", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    BAD("no version", "GET /\r\nHost: a\r\n\r\n", 400);
    BAD("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("version HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
    BAD("version HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
    BAD("version HTTP/1.x", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400);
    BAD("method with (", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("method with 0x80", "G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    BAD("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
    BAD("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
    BAD("HTTP/3.1", "GET / HTTP/3.1\r\n\r\n", 505);
}

static void test_request_line_limit(void)
{
    static char buf[20000];
    struct h1_limits lim = h1_default_limits;
    size_t n;

    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', 8192 - 14);
    memcpy(buf + 8192 - 9, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    n = 8183 + 22;
    ok(req_lim("request line of exactly 8192", buf, n, NULL, MAXH) > 0, "8192-byte request line accepted");
    is_int(R.req.target.len, 8192 - 13, "long target");

    memcpy(buf, "GET /a", 6);
    memset(buf + 6, 'a', 8192 - 14);
    memcpy(buf + 8192 - 8, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    n = 8184 + 22;
    is_int(req_lim("request line of 8193", buf, n, NULL, MAXH), H1_INVALID, "8193-byte request line");
    is_int(R.e.status, 414, "... is 414");
    is_int(req_lim("incomplete long request line", buf, 8194, NULL, MAXH), H1_INVALID, "incomplete 8194 bytes");
    is_int(R.e.status, 414, "... already 414");
    is_int(req_lim("incomplete line of 10 ending in CR", "GET /aaaaa\r", 11, &(struct h1_limits){ 9, 100, 10 },
                   MAXH),
           H1_INVALID, "CR right after the limit");
    is_int(R.e.status, 414, "... is 414");

    lim.max_request_line = 14;
    is_int(req_lim("custom line limit ok", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &lim, MAXH), 27, "14 fits in 14");
    lim.max_request_line = 13;
    is_int(req_lim("custom line limit", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &lim, MAXH), H1_INVALID, "14 > 13");
    is_int(R.e.status, 414, "... is 414");
}

static void test_head_limits(void)
{
    static char buf[40000];
    char name[64];
    size_t n = 0;
    struct h1_limits lim = { 8192, 64, 100 };

    n = padded_head(buf, 64);
    is_int(req_lim("head of exactly max_head", buf, n, &lim, MAXH), 64, "64-byte head with max_head 64");
    n = padded_head(buf, 65);
    is_int(req_lim("head of max_head+1", buf, n, &lim, MAXH), H1_INVALID, "65-byte head with max_head 64");
    is_int(R.e.status, 431, "... is 431");
    is_int(req_lim("incomplete head over max_head", buf, 61, &lim, MAXH), H1_INCOMPLETE, "incomplete 61 bytes");
    is_int(req_lim("incomplete head at max_head", buf, 64, &lim, MAXH), H1_INVALID, "incomplete 64 bytes, max 64");
    is_int(R.e.status, 431, "... is 431");
    n = padded_head(buf, 64);
    memcpy(buf + 64, "BODYBODY", 8);
    is_int(req_lim("head at max_head, body after", buf, 72, &lim, MAXH), 64, "body bytes beyond max_head are not head");

    n = pad_lines(buf, (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\n"), 17000);
    memcpy(buf + n, "\r\n", 2);
    is_int(req_lim("17KB head", buf, n + 2, NULL, MAXH), H1_INVALID, "head over 16384");
    is_int(R.e.status, 431, "... is 431");
    is_int(req_lim("17KB incomplete head", buf, n - 1, NULL, MAXH), H1_INVALID, "incomplete head over 16384");
    is_int(R.e.status, 431, "... is 431");

    n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "X%d: v\r\n", i);
    memcpy(buf + n, "\r\n", 2);
    is_int(req_lim("100 headers", buf, n + 2, NULL, MAXH), (int)n + 2, "100 headers accepted");
    is_int(R.req.nheaders, 100, "... all 100 reported");
    memcpy(buf + n, "Y: v\r\n\r\n", 8);
    is_int(req_lim("101 headers", buf, n + 8, NULL, MAXH), H1_INVALID, "101 headers");
    is_int(R.e.status, 431, "... is 431");

    snprintf(name, sizeof name, "3 headers, room for 2");
    is_int(req_lim(name, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 39, NULL, 2), H1_INVALID, name);
    is_int(R.e.status, 431, "... is 431");
    is_int(req_lim("2 headers, room for 2", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n", 33, NULL, 2), 33, "fits");
    lim = (struct h1_limits){ 8192, 16384, 1 };
    is_int(req_lim("max_headers 1", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n", 33, &lim, MAXH), H1_INVALID, "limit 1");
    is_int(R.e.status, 431, "... is 431");
    is_int(h1_parse_request("GET / HTTP/1.0\r\n\r\n", 18, NULL, NULL, 0, &R.req, NULL), 18, "no header room, none sent, NULL err");
}

static void test_header_syntax(void)
{
    REQ("OWS trimmed", "GET / HTTP/1.1\r\nHost: a\r\nX:  \t v a l \t \r\nY:\r\nZ:\t\r\n\r\n");
    is_str(R.req.headers[1].value, "v a l", "value trimmed, inner spaces kept");
    is_int(R.req.headers[2].value.len, 0, "empty value");
    is_int(R.req.headers[3].value.len, 0, "tab-only value");
    REQ("obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\x80\xff\r\n\r\n");
    is_str(R.req.headers[1].value, "caf\xc3\xa9\x80\xff", "obs-text kept");
    REQ("tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n");
    is_str(R.req.headers[1].value, "a\tb", "HTAB inside value");
    REQ("colon in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a:b: c\r\n\r\n");
    is_str(R.req.headers[1].value, "a:b: c", "value with colons");

    BAD("bare LF in header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400);
    BAD("bare LF blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
    BAD("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400);
    BAD("bare CR blank line", "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n", 400);
    BAD("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", 400);
    BAD("obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400);
    BAD("space before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
    BAD("SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    BAD("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400);
    BAD("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400);
    BAD("no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
    BAD("name with (", "GET / HTTP/1.1\r\nHost: a\r\nX(y: v\r\n\r\n", 400);
    BAD("name with 0x80", "GET / HTTP/1.1\r\nHost: a\r\nX\x80: v\r\n\r\n", 400);
    BAD("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400);
    BAD("NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n", 400);
    BAD("CTL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400);
    BAD("ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400);
    BAD("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400);
    BAD("VT in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\vb\r\n\r\n", 400);
    BAD("Content_Length", "GET / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n", 400);
    BAD("Transfer_Encoding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer_encoding: chunked\r\n\r\n", 400);
    REQ("other underscores", "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 1\r\n\r\n");
    ok(R.r > 0, "underscore in other names accepted");
}

static void test_content_length(void)
{
    REQ("CL 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    ok(R.r > 0 && R.req.body == H1_BODY_NONE && R.req.content_length == 0, "Content-Length: 0 is no body");
    REQ("CL OWS", "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: \t 42 \r\n\r\n");
    ok(R.r > 0 && R.req.body == H1_BODY_LENGTH && R.req.content_length == 42, "OWS around length");
    REQ("CL leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n");
    is_int(R.req.content_length, 7, "leading zeros");
    REQ("CL max", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387903\r\n\r\n");
    ok(R.r > 0 && R.req.content_length == H1_MAX_CONTENT_LENGTH, "2^62-1 accepted");

    BAD("CL 2^62", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n", 400);
    BAD("CL 2^64", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400);
    BAD("CL huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999999\r\n\r\n", 400);
    BAD("CL +", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400);
    BAD("CL -", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400);
    BAD("CL inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400);
    BAD("CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400);
    BAD("CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400);
    BAD("CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400);
    BAD("CL dup equal", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400);
    BAD("CL dup differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400);
}

static void test_transfer_encoding(void)
{
    REQ("TE chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    ok(R.r > 0 && R.req.body == H1_BODY_CHUNKED, "chunked body");
    REQ("TE Chunked OWS", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\t CHUNKED \t\r\n\r\n");
    ok(R.r > 0 && R.req.body == H1_BODY_CHUNKED, "case-insensitive, OWS and tab trimmed");

    BAD("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400);
    BAD("TE chunked, gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    BAD("TE chunked, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
    BAD("TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400);
    BAD("TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400);
    BAD("TE chunked;x", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400);
    BAD("TE quoted", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400);
    BAD("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400);
    BAD("TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        400);
    BAD("CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", 400);
    BAD("TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
        400);
    is_str(str_from_cstr(R.e.reason), "Content-Length and Transfer-Encoding together", "TE+CL reason");
    BAD("TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    BAD("TE obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400);
    BAD("TE SP colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
    BAD("TE vtab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\vchunked\r\n\r\n", 400);
}

static void test_host(void)
{
    static const char *good[] = { "a",       "example.com:8080", "127.0.0.1",      "[::1]",      "[::1]:443",
                                  "[2001:db8::ffff:1.2.3.4]:1", "a-b.c_d~e",   "xn--%41a.de", "h:65535",
                                  "!$&'()*+,;=" };
    static const char *bad[] = { "",      "a b",   "a/b",    "u@h",    "h:",      "h:abc", "h:65536", "h:123456",
                                 "[::1",  "[]",    "[1.2.3.4]", "[::1]x", "::1",  "%zz",   "%4",      "h:1:2",
                                 "a\x80", ":80",   "h?x" };
    static char buf[256];
    char name[128];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
        snprintf(name, sizeof name, "Host: %s accepted", good[i]);
        is_int(req_lim(name, buf, n, NULL, MAXH), n, name);
        is_str(R.req.host, good[i], "... host value");
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        snprintf(name, sizeof name, "Host: %s refused", bad[i]);
        bad_req_n(name, buf, n, 400);
    }
    BAD("no Host in 1.1", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400);
    BAD("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    BAD("two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    BAD("bad Host in 1.0", "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", 400);
    BAD("absolute-form without Host", "GET http://h/ HTTP/1.1\r\n\r\n", 400);
    BAD("absolute-form with bad Host", "GET http://h/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
}

static void test_expect(void)
{
    REQ("Expect 100-continue", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n");
    ok(R.r > 0 && R.req.expect_continue, "expect_continue set");
    REQ("Expect in 1.0", "PUT / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    ok(R.r > 0 && !R.req.expect_continue, "ignored in HTTP/1.0");
    BAD("Expect other", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417);
    BAD("Expect list", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n", 417);
    BAD("Expect empty", "PUT / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n", 417);
    BAD("Expect 400 first", "PUT / HTTP/1.1\r\nExpect: foo\r\n\r\n", 400);
}

/* ---- responses */

static void test_response_ok(void)
{
    RESP("200 with length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    is_int(P.r, 38, "head length");
    is_int(P.resp.status, 200, "status");
    is_str(P.resp.reason, "OK", "reason");
    ok(P.resp.body == H1_BODY_LENGTH && P.resp.content_length == 5, "LENGTH 5");
    ok(P.resp.keep_alive, "1.1 keeps alive");
    RESP("no reason, no SP", "HTTP/1.1 200\r\n\r\n");
    ok(P.r > 0 && P.resp.reason.len == 0, "HTTP/1.1 200 with no SP");
    ok(P.resp.body == H1_BODY_UNTIL_CLOSE && !P.resp.keep_alive, "until close, not reusable");
    RESP("empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n");
    ok(P.r > 0 && P.resp.reason.len == 0 && P.resp.body == H1_BODY_NONE, "empty reason, CL 0 is NONE");
    RESP("reason text", "HTTP/1.0 200 Very\tOK \xe9t\xe9\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n");
    is_str(P.resp.reason, "Very\tOK \xe9t\xe9", "reason with tab and obs-text");
    ok(P.resp.minor == 0 && P.resp.keep_alive, "1.0 keep-alive");
    RESP("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    ok(P.resp.body == H1_BODY_CHUNKED, "CHUNKED");
    RESP("204", "HTTP/1.1 204 No Content\r\n\r\n");
    ok(P.resp.body == H1_BODY_NONE && P.resp.keep_alive, "204 NONE");
    RESP("304 with CL", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n");
    ok(P.resp.body == H1_BODY_NONE && P.resp.content_length == 100, "304 NONE, length reported");
    RESP("100", "HTTP/1.1 100 Continue\r\n\r\n");
    ok(P.resp.body == H1_BODY_NONE, "100 NONE");
    RESP("101", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00");
    ok(P.r == 77 && P.resp.body == H1_BODY_NONE, "101 NONE, frame bytes after head not consumed");
    ok(P.resp.conn_upgrade, "101 conn_upgrade");
    is_str(P.resp.upgrade, "websocket", "101 upgrade");
    is_int(resp_lim("HEAD response", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 39, true, NULL), 39, "HEAD");
    ok(P.resp.body == H1_BODY_NONE && P.resp.content_length == 10, "HEAD response has no body");
    is_int(resp_lim("HEAD chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 47, true, NULL), 47,
           "HEAD chunked");
    ok(P.resp.body == H1_BODY_NONE, "HEAD chunked has no body");
    RESP("dup equal CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    ok(P.r > 0 && P.resp.body == H1_BODY_LENGTH && P.resp.content_length == 5, "identical CL accepted");
    RESP("close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n");
    ok(!P.resp.keep_alive, "close");
    RESP("599", "HTTP/1.1 599 X\r\n\r\n");
    is_int(P.resp.status, 599, "599 accepted");
}

static void test_response_bad(void)
{
    BAD_RESP("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n");
    BAD_RESP("bare LF header", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n");
    BAD_RESP("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n");
    BAD_RESP("CTL in header", "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n");
    BAD_RESP("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n");
    BAD_RESP("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n");
    BAD_RESP("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n");
    BAD_RESP("lowercase", "http/1.1 200 OK\r\n\r\n");
    BAD_RESP("status 99", "HTTP/1.1 099 X\r\n\r\n");
    BAD_RESP("status 600", "HTTP/1.1 600 X\r\n\r\n");
    BAD_RESP("status 4 digits", "HTTP/1.1 2000 OK\r\n\r\n");
    BAD_RESP("status 2 digits", "HTTP/1.1 20 OK\r\n\r\n");
    BAD_RESP("double SP", "HTTP/1.1  200 OK\r\n\r\n");
    BAD_RESP("status letters", "HTTP/1.1 2x0 OK\r\n\r\n");
    BAD_RESP("leading CRLF", "\r\nHTTP/1.1 200 OK\r\n\r\n");
    BAD_RESP("CL differ", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    BAD_RESP("CL invalid", "HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n");
    BAD_RESP("CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n");
    BAD_RESP("CL+TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    BAD_RESP("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    BAD_RESP("TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    BAD_RESP("TE twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n");
    BAD_RESP("TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    BAD_RESP("SP before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n");
    BAD_RESP("Content_Length", "HTTP/1.1 200 OK\r\nContent_Length: 0\r\n\r\n");
    bad_resp_n("CL with HEAD still checked", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 38, true);

    static char buf[20000];
    size_t n = pad_lines(buf, (size_t)snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n"), 16500);
    memcpy(buf + n, "\r\n", 2);
    bad_resp_n("response head too large", buf, n + 2, false);
}

/* ---- helpers */

static void test_helpers(void)
{
    ok(h1_has_token(STR_LIT("keep-alive, Upgrade"), STR_LIT("upgrade")), "has upgrade");
    ok(h1_has_token(STR_LIT("Upgrade"), STR_LIT("upgrade")), "single token");
    ok(h1_has_token(STR_LIT(" ,, close ,"), STR_LIT("close")), "empty elements and OWS");
    ok(h1_has_token(STR_LIT("a,\tclose\t"), STR_LIT("CLOSE")), "tab OWS");
    ok(!h1_has_token(STR_LIT("upgrades, xupgrade"), STR_LIT("upgrade")), "no partial match");
    ok(!h1_has_token(STR_LIT("up grade"), STR_LIT("upgrade")), "no inner space match");
    ok(!h1_has_token(STR_LIT(""), STR_LIT("upgrade")), "empty list");
    ok(!h1_has_token(STR_NULL, STR_LIT("upgrade")), "STR_NULL list");

    const char *hop[] = { "Connection", "keep-alive", "PROXY-CONNECTION", "Proxy-Authenticate", "Proxy-Authorization",
                          "te", "Trailer", "transfer-encoding", "Upgrade" };
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        ok(h1_is_hop_by_hop(str_from_cstr(hop[i])), hop[i]);
    ok(!h1_is_hop_by_hop(STR_LIT("Trailers")), "Trailers is not hop-by-hop");
    ok(!h1_is_hop_by_hop(STR_LIT("Content-Length")), "Content-Length is end-to-end");
    ok(!h1_is_hop_by_hop(STR_LIT("Host")), "Host is end-to-end");

    is_str(str_from_cstr(h1_status_text(404)), "Not Found", "404 text");
    is_str(str_from_cstr(h1_status_text(101)), "Switching Protocols", "101 text");
    is_str(str_from_cstr(h1_status_text(431)), "Request Header Fields Too Large", "431 text");
    is_str(str_from_cstr(h1_status_text(505)), "HTTP Version Not Supported", "505 text");
    is_str(str_from_cstr(h1_status_text(299)), "Unknown", "unlisted");
    is_str(str_from_cstr(h1_status_text(-1)), "Unknown", "negative");

    REQ("find header", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    is_str(h1_find_header(R.req.headers, R.req.nheaders, STR_LIT("X-a")), "1", "first match, any case");
    ok(h1_find_header(R.req.headers, R.req.nheaders, STR_LIT("X-B")).p == NULL, "absent is STR_NULL");
    ok(h1_find_header(NULL, 0, STR_LIT("X")).p == NULL, "empty list");
}

/* The input ends exactly at a PROT_NONE page: any read past it faults. */
static void test_guard_page(void)
{
    static const char *in[] = { "GET / HTTP/1.1\r\nHost: a\r\n\r", "GET / HTTP/1.1\r\nHost: a\r", "GET / HTTP/1.1\r",
                                "GET / HTTP/1.", "GET http://h", "\r\n\r", "HTTP/1.1 200", "HTTP/1.1 200 OK\r\nX: y\r" };
    static const int want_req[] = { -2, -2, -2, -2, -2, -2, -2, -1 };
    static const int want_resp[] = { -1, -1, -2, -2, -2, -1, -2, -2 };
    struct h1_header h[8];
    struct h1_request req;
    struct h1_response resp;
    struct h1_error e;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        size_t n = strlen(in[i]);
        const char *p = at_guard(in[i], n);
        is_int(h1_parse_request(p, n, NULL, h, 8, &req, &e), want_req[i], "request flush against guard page");
        is_int(h1_parse_response(p, n, NULL, h, 8, false, &resp, &e), want_resp[i], "response flush against guard page");
    }
    const char *p = at_guard("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
    is_int(h1_parse_request(p, 27, NULL, h, 8, &req, &e), 27, "complete request ending at the guard page");
}

int main(void)
{
    guard_init();
    test_request_basics();
    test_request_versions();
    test_request_leading_crlf();
    test_request_targets();
    test_request_line_syntax();
    test_request_line_limit();
    test_head_limits();
    test_header_syntax();
    test_content_length();
    test_transfer_encoding();
    test_host();
    test_expect();
    test_response_ok();
    test_response_bad();
    test_helpers();
    test_guard_page();
    free(heap_copy);
    return tap_done();
}
