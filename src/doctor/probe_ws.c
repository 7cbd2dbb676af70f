/* The doctor's WebSocket steps: the opening handshake (sent as Chromium sends it, judged as
 * Chromium judges it) and one real message with its answer. Blocking I/O with deadlines. */
#include "doctor/probe_ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ws/ws_frame.h"
#include "ws/ws_handshake.h"

#define USER_AGENT  "wssgate-doctor/0.1 (acts like Chromium's WebSocket client)"
#define HEAD_MAX    16384
#define MAX_HEADERS 100

int probe_ws_request(char *out, size_t cap, const struct wsurl *u, const char *origin,
                     const char *key)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Connection: Upgrade\r\n"
                     "Pragma: no-cache\r\n"
                     "Cache-Control: no-cache\r\n"
                     "User-Agent: " USER_AGENT "\r\n"
                     "Upgrade: websocket\r\n"
                     "Origin: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "\r\n",
                     u->path, u->hostport, origin, key);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* How many headers are named name, and the first one's value. */
static size_t count_header(const struct h1_response *r, struct str name, struct str *first)
{
    size_t n = 0;

    *first = STR_NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!str_eq_nocase(r->headers[i].name, name))
            continue;
        if (n++ == 0)
            *first = r->headers[i].value;
    }
    return n;
}

static void handshake_fail(struct ws_verdict *v, const char *code, const char *fmt, struct str val)
{
    char shown[160];

    v->code = code;
    report_printable(val, shown, sizeof shown);
    snprintf(v->detail, sizeof v->detail, fmt, shown);
}

static void classify_101(const struct h1_response *resp, const char *key, struct ws_verdict *v)
{
    struct str val;
    size_t n;

    n = count_header(resp, STR_LIT("Upgrade"), &val);
    if (n == 0) {
        handshake_fail(v, "no-upgrade-header", "'Upgrade' header is missing%s", STR_NULL);
        return;
    }
    if (n > 1) {
        handshake_fail(v, "no-upgrade-header",
                       "'Upgrade' header must not appear more than once in a response%s", STR_NULL);
        return;
    }
    if (!str_eq_nocase(str_trim_ows(val), STR_LIT("websocket"))) {
        handshake_fail(v, "no-upgrade-header", "'Upgrade' header value is not 'WebSocket': %s",
                       val);
        return;
    }
    n = count_header(resp, STR_LIT("Connection"), &val);
    if (n == 0) {
        handshake_fail(v, "no-upgrade-header", "'Connection' header is missing%s", STR_NULL);
        return;
    }
    {
        bool has = false;
        for (size_t i = 0; i < resp->nheaders && !has; i++)
            has = str_eq_nocase(resp->headers[i].name, STR_LIT("Connection")) &&
                  h1_has_token(resp->headers[i].value, STR_LIT("upgrade"));
        if (!has) {
            handshake_fail(v, "no-upgrade-header",
                           "'Connection' header value must contain 'Upgrade'%s", STR_NULL);
            return;
        }
    }
    n = count_header(resp, STR_LIT("Sec-WebSocket-Accept"), &val);
    if (n == 0) {
        handshake_fail(v, "bad-accept", "'Sec-WebSocket-Accept' header is missing%s", STR_NULL);
        return;
    }
    if (n > 1) {
        handshake_fail(v, "bad-accept",
                       "'Sec-WebSocket-Accept' header must not appear more than once in a "
                       "response%s",
                       STR_NULL);
        return;
    }
    if (!ws_accept_matches(str_from_cstr(key), val)) {
        handshake_fail(v, "bad-accept", "Incorrect 'Sec-WebSocket-Accept' header value%s",
                       STR_NULL);
        return;
    }
    if (count_header(resp, STR_LIT("Sec-WebSocket-Protocol"), &val) > 0) {
        handshake_fail(v, "bad-handshake",
                       "Response must not include 'Sec-WebSocket-Protocol' header if not "
                       "present in request: %s",
                       val);
        return;
    }
}

void probe_ws_classify(const struct h1_response *resp, const char *key, struct ws_verdict *v)
{
    struct str loc;

    memset(v, 0, sizeof *v);
    v->status = resp->status;
    switch (resp->status) {
    case 101:
        classify_101(resp, key, v);
        return;
    case 200:
        v->code = "not-websocket";
        return;
    case 404:
        v->code = "not-found";
        return;
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
        v->code = "redirect";
        if (count_header(resp, STR_LIT("Location"), &loc) > 0)
            report_printable(loc, v->location, sizeof v->location);
        return;
    case 400:
    case 426:
        v->code = "upgrade-not-forwarded";
        return;
    case 401:
    case 403:
        v->code = "forbidden";
        return;
    case 502:
        v->code = "backend-down";
        return;
    case 504:
        v->code = "backend-timeout";
        return;
    default:
        v->code = "unexpected-status";
        return;
    }
}

/* Keeps out[0..*n) valid UTF-8: drops a sequence cut at the end, or masks non-ASCII. */
static void utf8_fix(char *out, size_t *n)
{
    for (int cut = 0; cut < 4 && *n > 0; cut++) {
        if (ws_utf8_valid((const uint8_t *)out, *n))
            return;
        (*n)--;
    }
    for (size_t i = 0; i < *n; i++)
        if ((unsigned char)out[i] >= 0x80)
            out[i] = '?';
}

/* What the body that arrived with the head says, for the step line: plain text's first line, or
 * for HTML the first text between tags that is not the status line again ("connection to
 * ws://127.0.0.1:9502 refused — is the WebSocket service running?"). */
static void body_hint(const char *body, size_t len, int status, bool chunked, char *out, size_t cap)
{
    char skip[64];
    size_t n = 0, i = 0;
    bool html = false;

    out[0] = '\0';
    if (chunked) { /* skip the chunk-size line */
        while (i < len && body[i] != '\n')
            i++;
        i++;
    }
    snprintf(skip, sizeof skip, "%d %s", status, h1_status_text(status));
    while (i < len && (body[i] == '\r' || body[i] == '\n' || body[i] == ' ' || body[i] == '\t'))
        i++;
    html = i < len && body[i] == '<';
    while (i < len && n == 0) {
        size_t start;
        while (html && i < len &&
               (body[i] == '<' || body[i] == '\r' || body[i] == '\n' || body[i] == ' ')) {
            if (body[i] == '<')
                while (i < len && body[i] != '>')
                    i++;
            i++;
        }
        start = i;
        while (i < len && body[i] != '\n' && body[i] != '\r' && (!html || body[i] != '<') &&
               n + 1 < cap && n < 200) {
            out[n++] = (body[i] >= 0x20 && body[i] != 0x7f) ? body[i] : '?';
            i++;
        }
        while (n > 0 && out[n - 1] == ' ')
            n--;
        out[n] = '\0';
        if (html && n > 0 && strcmp(out, skip) == 0)
            n = 0;
        if (!html || i == start)
            break;
    }
    utf8_fix(out, &n);
    out[n] = '\0';
}

/* Sentences that tell what the status means here, before the table's generic cause. */
static void status_cause(struct report *r, const struct ws_verdict *v, const struct wsurl *u,
                         const char *server, const char *hint)
{
    char extra[1200] = "";

    if (hint[0] != '\0')
        snprintf(extra, sizeof extra, " The response body begins: \"%s\".", hint);
    if (strcmp(v->code, "redirect") == 0) {
        report_fail(r, v->code, "%s answered %d with Location: %s.%s", server, v->status,
                    v->location[0] ? v->location : "(none)", extra);
        if (v->location[0] != '\0') {
            size_t plen = strlen(u->path);
            bool slash =
                strncmp(v->location +
                            (strlen(v->location) > plen + 1 ? strlen(v->location) - plen - 1 : 0),
                        u->path, plen) == 0 &&
                v->location[strlen(v->location) - 1] == '/';
            report_set_fix(r,
                           "Connect to the URL the server redirects to (%s)%s, or add an exact "
                           "location for %s that forwards the WebSocket:\n"
                           "    location = %s {\n"
                           "        proxy_pass http://127.0.0.1:9502;\n"
                           "        proxy_http_version 1.1;\n"
                           "        proxy_set_header Upgrade $http_upgrade;\n"
                           "        proxy_set_header Connection \"upgrade\";\n"
                           "    }",
                           v->location,
                           slash ? ": the location only adds the trailing slash, so write the "
                                   "page's URL with it"
                                 : "",
                           u->path, u->path);
        }
        return;
    }
    if (v->status == 400 || v->status == 426)
        report_fail(r, v->code, "%s answered %d to a correct WebSocket handshake.%s", server,
                    v->status, extra);
    else
        report_fail(r, v->code, "%s answered %d %s.%s", server, v->status,
                    h1_status_text(v->status), extra);
}

/* Reads until a whole head is in buf. Returns the head length, 0 at EOF (with *len bytes), or a
 * DCONN_ error. */
static int read_head(struct dconn *c, char *buf, size_t cap, size_t *len, int64_t deadline,
                     struct h1_response *resp, struct h1_header *hdrs, bool *invalid)
{
    struct h1_error herr;

    *invalid = false;
    for (;;) {
        ssize_t n;
        if (*len > 0) {
            int h = h1_parse_response(buf, *len, NULL, hdrs, MAX_HEADERS, false, resp, &herr);
            if (h > 0)
                return h;
            if (h == H1_INVALID) {
                *invalid = true;
                return DCONN_ERR;
            }
        }
        if (*len >= cap) {
            *invalid = true;
            return DCONN_ERR;
        }
        n = dconn_read(c, buf + *len, cap - *len, deadline);
        if (n > 0)
            *len += (size_t)n;
        else
            return (int)n;
    }
}

/* A connection closed in the middle of the head: Chromium parses what it got as the head. */
static int parse_truncated(const char *buf, size_t len, char *tmp, size_t cap,
                           struct h1_response *resp, struct h1_header *hdrs)
{
    struct h1_error herr;

    if (len + 4 > cap)
        return -1;
    memcpy(tmp, buf, len);
    memcpy(tmp + len, "\r\n\r\n", 4);
    return h1_parse_response(tmp, len + 4, NULL, hdrs, MAX_HEADERS, false, resp, &herr) > 0 ? 0
                                                                                            : -1;
}

static void server_name(const struct h1_response *resp, char *out, size_t cap)
{
    struct str s;

    if (count_header(resp, STR_LIT("Server"), &s) > 0 && s.len > 0) {
        char v[80];
        report_printable(s, v, sizeof v);
        snprintf(out, cap, "The server (%s)", v);
    } else {
        snprintf(out, cap, "The server");
    }
}

/* Reports an answer that never became a head: h is DCONN_TIMEOUT, DCONN_EOF or DCONN_ERR
 * (invalid when the bytes are not HTTP); buf[0..len) is what came. */
static void no_head(struct report *r, const struct dconn *c, const struct wsurl *u, int h,
                    bool invalid, const char *buf, size_t len, int timeout_ms)
{
    char first[120];
    size_t k = 0;

    if (h == DCONN_TIMEOUT) {
        report_step(r, "upgrade", STEP_FAIL,
                    "sent GET %s with Upgrade: websocket; no answer in %d ms%s", u->path,
                    timeout_ms, len ? " (part of a head came)" : "");
        report_fail(r, "no-response",
                    "doctor sent the handshake and waited %d ms without a complete answer.",
                    timeout_ms);
    } else if (h == DCONN_EOF) {
        report_step(r, "upgrade", STEP_FAIL,
                    "sent GET %s with Upgrade: websocket; the server closed the connection "
                    "without answering",
                    u->path);
        r->args.detail = NULL;
        report_fail(r, "closed-before-response", NULL);
    } else if (invalid) {
        while (k < len && k + 1 < sizeof first && buf[k] != '\r' && buf[k] != '\n') {
            first[k] = (buf[k] >= 0x20 && buf[k] < 0x7f) ? buf[k] : '?';
            k++;
        }
        first[k] = '\0';
        report_step(r, "upgrade", STEP_FAIL, "the answer is not an HTTP/1.1 response: \"%s\"",
                    first);
        r->args.detail = len >= 5 && memcmp(buf, "HTTP/", 5) == 0 ? "net::ERR_INVALID_HTTP_RESPONSE"
                                                                  : "Invalid status line";
        report_fail(r, "bad-handshake",
                    "The server answered the handshake with something that is not an HTTP "
                    "response (\"%s\").",
                    first);
    } else {
        report_step(r, "upgrade", STEP_FAIL,
                    "the connection failed while waiting for the answer: %s",
                    strerror(c->last_errno ? c->last_errno : ECONNRESET));
        r->args.detail = "net::ERR_CONNECTION_RESET";
        report_fail(r, "bad-handshake", "The server reset the connection instead of answering.");
    }
}

int probe_ws_upgrade(struct dconn *c, const struct wsurl *u, const char *origin, int timeout_ms,
                     struct report *r, unsigned char *rest, size_t rest_cap, size_t *rest_len)
{
    static char buf[HEAD_MAX], tmp[HEAD_MAX + 4];
    char req[WSURL_PATH_MAX + 1024], key[WS_KEY_LEN + 1], server[128], hint[200];
    struct h1_header hdrs[MAX_HEADERS];
    struct h1_response resp;
    struct ws_verdict v;
    size_t len = 0;
    int64_t start = dconn_now_ms(), deadline = start + timeout_ms;
    bool invalid;
    int n, h;

    *rest_len = 0;
    if (ws_key_generate(key) != 0 || (n = probe_ws_request(req, sizeof req, u, origin, key)) < 0) {
        report_step(r, "upgrade", STEP_FAIL, "cannot build the handshake request");
        report_fail(r, "bad-url", "The URL is too long for doctor.");
        return -1;
    }
    if (dconn_write_all(c, req, (size_t)n, deadline) != 0) {
        report_step(r, "upgrade", STEP_FAIL, "the connection failed while sending the handshake");
        r->args.detail = "Connection closed before receiving a handshake response";
        report_fail(r, "closed-before-response",
                    "The server closed the connection before "
                    "the handshake request was sent.");
        return -1;
    }
    h = read_head(c, buf, sizeof buf, &len, deadline, &resp, hdrs, &invalid);
    if (h == DCONN_EOF && len > 0 && parse_truncated(buf, len, tmp, sizeof tmp, &resp, hdrs) == 0)
        h = (int)len; /* judged as if the head were complete, as Chromium does */
    if (h < 0 || h == DCONN_EOF) {
        no_head(r, c, u, h, invalid, buf, len, timeout_ms);
        return -1;
    }
    probe_ws_classify(&resp, key, &v);
    server_name(&resp, server, sizeof server);
    body_hint(buf + h, len - (size_t)h, resp.status, resp.body == H1_BODY_CHUNKED, hint,
              sizeof hint);
    if (v.code == NULL) {
        size_t k = len - (size_t)h;
        report_step(r, "upgrade", STEP_OK,
                    "101 Switching Protocols in %lld ms; Upgrade, Connection and "
                    "Sec-WebSocket-Accept are right",
                    (long long)(dconn_now_ms() - start));
        if (k > rest_cap)
            k = rest_cap;
        memcpy(rest, buf + h, k);
        *rest_len = k;
        return 0;
    }
    r->args.status = v.status;
    if (v.detail[0] != '\0') {
        report_step(r, "upgrade", STEP_FAIL, "101, but: %s", v.detail);
        r->args.detail = v.detail;
        report_fail(r, v.code, "%s answered 101 Switching Protocols, but: %s.", server, v.detail);
        return -1;
    }
    report_step(r, "upgrade", STEP_FAIL, "HTTP %d %s%s%s", v.status, h1_status_text(v.status),
                v.location[0] ? " → " : "", v.location);
    if (hint[0] != '\0') {
        struct report_step *s = &r->steps[r->nsteps - 1];
        size_t sl = strlen(s->detail);
        snprintf(s->detail + sl, sizeof s->detail - sl, " (body: %s)", hint);
    }
    status_cause(r, &v, u, server, hint);
    return -1;
}
