/* Strict HTTP/1.1 request and response head parser (RFC 9112), stateless over (buf, len).
 * Lines are checked as they complete, framing (Content-Length, Transfer-Encoding, Host) at the blank line. */
#include "http/h1_parse.h"

#include <limits.h>

const struct h1_limits h1_default_limits = {
    .max_request_line = 8192,
    .max_head = 16384,
    .max_headers = 100,
};

/* One parse: the input, the limits in force, and where errors go. Every scan stops at `end`:
 * bytes past the head limit are never looked at, so a prefix of an input gives INCOMPLETE or
 * the same answer as the whole input. */
struct ctx {
    const char *buf;
    size_t len;
    size_t end; /* min(len, max_head): the scan window */
    size_t max_head, max_line, max_headers;
    bool resp;
    struct h1_error *err;
};

/* What the header lines said about framing and connection handling. */
struct known {
    unsigned n_cl, n_te, n_host;
    bool cl_differ; /* a later Content-Length differs (bytewise) from the first */
    struct str cl, te, host, upgrade;
    bool conn_close, conn_keep_alive, conn_upgrade;
    bool expect_continue, expect_other;
};

static int fail(struct ctx *x, int status, const char *reason)
{
    x->err->status = x->resp ? 502 : status;
    x->err->reason = reason;
    return H1_INVALID;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 9110 tchar: the bytes of methods, header names and tokens. */
static bool is_tchar(unsigned char c)
{
    if (is_alpha(c) || is_digit(c))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

/* Field value and reason phrase bytes: HTAB, SP, VCHAR, obs-text; no other control byte. */
static bool is_text(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* reg-name bytes other than pct-encoded: unreserved and sub-delims (RFC 3986). */
static bool is_regname(unsigned char c)
{
    if (is_alpha(c) || is_digit(c))
        return true;
    switch (c) {
    case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
    case '(': case ')': case '*': case '+': case ',': case ';': case '=':
        return true;
    default:
        return false;
    }
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Finds the line that starts at pos within buf[pos..end). Returns 1 with *eol at its CR when the
 * CRLF is there, 0 when the window ends first (a CR as the last byte may still get its LF), -1 on a
 * bare LF or a CR followed by anything but LF. */
static int find_line(const char *buf, size_t pos, size_t end, size_t *eol)
{
    for (size_t i = pos; i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c > '\r')
            continue;
        if (c == '\n')
            return -1;
        if (c == '\r') {
            if (i + 1 == end)
                return 0;
            if (buf[i + 1] != '\n')
                return -1;
            *eol = i;
            return 1;
        }
    }
    return 0;
}

/* The scan window ran out before the line did. If the window is the head limit, the head cannot
 * end within it (a CR as its last byte would put the LF past it): 431. Else wait for bytes. */
static int line_cut(struct ctx *x)
{
    if (x->end == x->max_head)
        return fail(x, 431, "header section too large");
    return H1_INCOMPLETE;
}

/* Finds the start line after at most H1_MAX_LEADING_CRLF empty lines (requests only): sets *line
 * (CRLF excluded) and *pos past its CRLF. Returns 0 or an error/INCOMPLETE code. */
static int start_line(struct ctx *x, size_t *pos, struct str *line)
{
    size_t p = 0, eol = 0;
    for (unsigned empty = 0;; empty++) {
        size_t cap = x->max_line > SIZE_MAX - 2 - p ? SIZE_MAX : p + x->max_line + 2;
        size_t end = min_size(x->end, cap);
        int r = find_line(x->buf, p, end, &eol);
        if (r < 0)
            return fail(x, 400, x->resp ? "bare CR or LF in status line" : "bare CR or LF in request line");
        if (r == 0) {
            if (end == cap)
                return fail(x, 414, x->resp ? "status line too long" : "request line too long");
            return line_cut(x);
        }
        if (eol > p || x->resp)
            break;
        if (empty == H1_MAX_LEADING_CRLF)
            return fail(x, 400, "too many empty lines before request line");
        p = eol + 2;
    }
    *line = str_make(x->buf + p, eol - p);
    *pos = eol + 2;
    return 0;
}

/* "HTTP/d.d" at p (8 bytes available): 1 and *minor for 1.0/1.1, 0 for another d.d, -1 if malformed. */
static int parse_version(const char *p, int *minor)
{
    if (memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) || p[6] != '.' ||
        !is_digit((unsigned char)p[7]))
        return -1;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return 0;
    *minor = p[7] - '0';
    return 1;
}

static bool valid_port(const char *p, size_t n)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

/* authority = host [ ":" port ], host = reg-name / IPv4 / "[" IPv6 "]". No userinfo, no empty port. */
static bool valid_authority(struct str a, bool need_port)
{
    size_t i = 0;
    if (a.len == 0)
        return false;
    if (a.p[0] == '[') {
        bool colon = false;
        for (i = 1; i < a.len && a.p[i] != ']'; i++) {
            unsigned char c = (unsigned char)a.p[i];
            if (!is_hex(c) && c != ':' && c != '.')
                return false;
            colon |= c == ':';
        }
        if (i == a.len || !colon)
            return false;
        i++;
    } else {
        for (; i < a.len && a.p[i] != ':'; i++) {
            unsigned char c = (unsigned char)a.p[i];
            if (c == '%') {
                if (a.len - i < 3 || !is_hex((unsigned char)a.p[i + 1]) || !is_hex((unsigned char)a.p[i + 2]))
                    return false;
                i += 2;
            } else if (!is_regname(c)) {
                return false;
            }
        }
        if (i == 0)
            return false;
    }
    if (i == a.len)
        return !need_port;
    if (a.p[i] != ':')
        return false;
    return valid_port(a.p + i + 1, a.len - i - 1);
}

static void split_query(struct str t, struct str *path, struct str *query)
{
    const char *q = memchr(t.p, '?', t.len);
    *path = t;
    *query = STR_NULL;
    if (q) {
        path->len = (size_t)(q - t.p);
        *query = str_make(q + 1, t.len - path->len - 1);
    }
}

/* absolute-form: "http://" or "https://" authority [ path-abempty ] [ "?" query ]. */
static int parse_absolute(struct ctx *x, struct str rest, struct h1_request *req)
{
    size_t e = 0;
    while (e < rest.len && rest.p[e] != '/' && rest.p[e] != '?')
        e++;
    req->host = str_make(rest.p, e);
    if (!valid_authority(req->host, false))
        return fail(x, 400, "invalid authority in request target");
    if (e < rest.len && rest.p[e] == '/') {
        split_query(str_make(rest.p + e, rest.len - e), &req->path, &req->query);
    } else {
        req->path = STR_LIT("/");
        req->query = e < rest.len ? str_make(rest.p + e + 1, rest.len - e - 1) : STR_NULL;
    }
    return 0;
}

/* Sorts the target into one of the four forms of RFC 9112 section 3.2, each with its method rule. */
static int parse_target(struct ctx *x, struct h1_request *req)
{
    struct str t = req->target;
    if (str_eq(req->method, STR_LIT("CONNECT"))) {
        if (!valid_authority(t, true))
            return fail(x, 400, "CONNECT needs an authority-form target");
        req->path = req->query = STR_NULL;
        return 0;
    }
    if (t.p[0] == '/') {
        split_query(t, &req->path, &req->query);
        return 0;
    }
    if (t.p[0] == '*') {
        if (t.len != 1 || !str_eq(req->method, STR_LIT("OPTIONS")))
            return fail(x, 400, "asterisk-form target only with OPTIONS");
        req->path = t;
        req->query = STR_NULL;
        return 0;
    }
    if (t.len > 7 && str_eq_nocase(str_make(t.p, 7), STR_LIT("http://")))
        return parse_absolute(x, str_make(t.p + 7, t.len - 7), req);
    if (t.len > 8 && str_eq_nocase(str_make(t.p, 8), STR_LIT("https://")))
        return parse_absolute(x, str_make(t.p + 8, t.len - 8), req);
    return fail(x, 400, "invalid request target");
}

/* method SP request-target SP HTTP-version, single spaces only. */
static int parse_request_line(struct ctx *x, struct str l, struct h1_request *req)
{
    size_t i = 0, t;
    while (i < l.len && is_tchar((unsigned char)l.p[i]))
        i++;
    if (i == 0 || i == l.len || l.p[i] != ' ')
        return fail(x, 400, "malformed request method");
    req->method = str_make(l.p, i);
    for (t = ++i; i < l.len && l.p[i] != ' '; i++) {
        unsigned char c = (unsigned char)l.p[i];
        if (c < 0x21 || c > 0x7e)
            return fail(x, 400, "invalid byte in request target");
        if (c == '#')
            return fail(x, 400, "fragment in request target");
    }
    if (i == t)
        return fail(x, 400, "empty request target");
    req->target = str_make(l.p + t, i - t);
    if (l.len - i != 9)
        return fail(x, 400, "malformed HTTP version");
    int v = parse_version(l.p + i + 1, &req->minor);
    if (v < 0)
        return fail(x, 400, "malformed HTTP version");
    if (v == 0)
        return fail(x, 505, "HTTP version not supported");
    return parse_target(x, req);
}

/* HTTP-version SP 3DIGIT [ SP reason-phrase ]; "HTTP/1.1 200" with no SP is tolerated. */
static int parse_status_line(struct ctx *x, struct str l, struct h1_response *resp)
{
    if (l.len < 12 || parse_version(l.p, &resp->minor) != 1)
        return fail(x, 502, "malformed or unsupported HTTP version in status line");
    if (l.p[8] != ' ' || !is_digit((unsigned char)l.p[9]) || !is_digit((unsigned char)l.p[10]) ||
        !is_digit((unsigned char)l.p[11]))
        return fail(x, 502, "malformed status code");
    resp->status = (l.p[9] - '0') * 100 + (l.p[10] - '0') * 10 + (l.p[11] - '0');
    if (resp->status < 100 || resp->status > 599)
        return fail(x, 502, "status code out of range");
    resp->reason = str_make(l.p + l.len, 0);
    if (l.len == 12)
        return 0;
    if (l.p[12] != ' ')
        return fail(x, 502, "malformed status code");
    for (size_t i = 13; i < l.len; i++)
        if (!is_text((unsigned char)l.p[i]))
            return fail(x, 502, "control character in reason phrase");
    resp->reason = str_make(l.p + 13, l.len - 13);
    return 0;
}

/* "Content_Length" or "Transfer_Encoding" (any '-' written '_'): CGI-style backends (FastCGI
 * params, HTTP_* variables) fold '_' and '-' together and would see a second framing header. */
static bool framing_lookalike(struct str n)
{
    static const struct str names[] = { { "content-length", 14 }, { "transfer-encoding", 17 } };
    if (!memchr(n.p, '_', n.len))
        return false;
    for (size_t k = 0; k < 2; k++) {
        size_t i = 0;
        if (n.len != names[k].len)
            continue;
        while (i < n.len && (n.p[i] == '_' ? '-' : str_lower_ascii(n.p[i])) == names[k].p[i])
            i++;
        if (i == n.len)
            return true;
    }
    return false;
}

/* field-name ":" OWS field-value OWS, on a line without its CRLF. */
static int parse_field(struct ctx *x, struct str l, struct h1_header *h)
{
    size_t i = 0;
    if (l.p[0] == ' ' || l.p[0] == '\t')
        return fail(x, 400, "obsolete line folding");
    while (i < l.len && is_tchar((unsigned char)l.p[i]))
        i++;
    if (i < l.len && (l.p[i] == ' ' || l.p[i] == '\t'))
        return fail(x, 400, "whitespace before colon in header field");
    if (i == l.len || l.p[i] != ':')
        return fail(x, 400, "invalid header field name");
    if (i == 0)
        return fail(x, 400, "empty header field name");
    for (size_t j = i + 1; j < l.len; j++)
        if (!is_text((unsigned char)l.p[j]))
            return fail(x, 400, "control character in header field value");
    h->name = str_make(l.p, i);
    if (framing_lookalike(h->name))
        return fail(x, 400, "underscore in a framing header name");
    h->value = str_trim_ows(str_make(l.p + i + 1, l.len - i - 1));
    return 0;
}

/* Records the fields that decide framing and connection handling. */
static void note_field(struct known *k, const struct h1_header *h)
{
    struct str n = h->name, v = h->value;
    if (str_eq_nocase(n, STR_LIT("Content-Length"))) {
        if (k->n_cl++ == 0)
            k->cl = v;
        else if (!str_eq(v, k->cl))
            k->cl_differ = true;
    } else if (str_eq_nocase(n, STR_LIT("Transfer-Encoding"))) {
        if (k->n_te++ == 0)
            k->te = v;
    } else if (str_eq_nocase(n, STR_LIT("Host"))) {
        if (k->n_host++ == 0)
            k->host = v;
    } else if (str_eq_nocase(n, STR_LIT("Connection"))) {
        k->conn_close |= h1_has_token(v, STR_LIT("close"));
        k->conn_keep_alive |= h1_has_token(v, STR_LIT("keep-alive"));
        k->conn_upgrade |= h1_has_token(v, STR_LIT("upgrade"));
    } else if (str_eq_nocase(n, STR_LIT("Upgrade"))) {
        if (!k->upgrade.p)
            k->upgrade = v;
    } else if (str_eq_nocase(n, STR_LIT("Expect"))) {
        if (str_eq_nocase(v, STR_LIT("100-continue")))
            k->expect_continue = true;
        else
            k->expect_other = true;
    }
}

/* Header lines from pos through the blank line: returns the head length, INCOMPLETE or INVALID. */
static int parse_fields(struct ctx *x, size_t pos, struct h1_header *hdrs, size_t cap, size_t *nhdrs,
                        struct known *k)
{
    size_t n = 0, eol = 0;
    for (;;) {
        int r = find_line(x->buf, pos, x->end, &eol);
        if (r < 0)
            return fail(x, 400, "bare CR or LF in header section");
        if (r == 0)
            return line_cut(x);
        if (eol == pos)
            break;
        if (n == cap)
            return fail(x, 431, "too many header fields");
        r = parse_field(x, str_make(x->buf + pos, eol - pos), &hdrs[n]);
        if (r < 0)
            return r;
        note_field(k, &hdrs[n]);
        n++;
        pos = eol + 2;
    }
    *nhdrs = n;
    return (int)(eol + 2);
}

/* 1*DIGIT, at most H1_MAX_CONTENT_LENGTH. */
static bool parse_length(struct str v, uint64_t *out)
{
    uint64_t n = 0;
    if (v.len == 0)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (!is_digit(c) || n > (H1_MAX_CONTENT_LENGTH - (c - '0')) / 10)
            return false;
        n = n * 10 + (c - '0');
    }
    *out = n;
    return true;
}

static void ctx_init(struct ctx *x, const char *buf, size_t len, const struct h1_limits *lim, bool resp,
                     struct h1_error *err)
{
    if (!lim)
        lim = &h1_default_limits;
    x->buf = buf;
    x->len = len;
    x->max_head = min_size(lim->max_head, INT_MAX);
    x->max_line = lim->max_request_line;
    x->max_headers = lim->max_headers;
    x->end = min_size(len, x->max_head);
    x->resp = resp;
    x->err = err;
}

/* Framing and routing rules of a complete request head (RFC 9112 sections 3.2, 6; RFC 9110 10.1.1). */
static int check_request(struct ctx *x, const struct known *k, struct h1_request *req)
{
    if (k->n_cl > 1)
        return fail(x, 400, "duplicate Content-Length");
    if (k->n_cl && !parse_length(k->cl, &req->content_length))
        return fail(x, 400, "invalid Content-Length");
    if (k->n_te) {
        if (req->minor == 0)
            return fail(x, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (k->n_te > 1)
            return fail(x, 400, "duplicate Transfer-Encoding");
        if (!str_eq_nocase(k->te, STR_LIT("chunked")))
            return fail(x, 400, "Transfer-Encoding other than chunked");
        if (k->n_cl)
            return fail(x, 400, "Content-Length and Transfer-Encoding together");
    }
    if (k->n_host > 1)
        return fail(x, 400, "duplicate Host");
    if (k->n_host == 0 && req->minor == 1)
        return fail(x, 400, "missing Host");
    if (k->n_host && !valid_authority(k->host, false))
        return fail(x, 400, "invalid Host");
    if (k->expect_other)
        return fail(x, 417, "unsupported Expect");
    if (!req->host.p)
        req->host = k->host;
    req->body = k->n_te ? H1_BODY_CHUNKED : req->content_length ? H1_BODY_LENGTH : H1_BODY_NONE;
    req->keep_alive = !k->conn_close && (req->minor == 1 || k->conn_keep_alive);
    req->conn_upgrade = k->conn_upgrade;
    req->upgrade = k->upgrade;
    req->expect_continue = k->expect_continue && req->minor == 1;
    return 0;
}

int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim, struct h1_header *hdrs,
                     size_t max_hdrs, struct h1_request *req, struct h1_error *err)
{
    struct h1_error dummy;
    struct ctx x;
    struct known k = { 0 };
    struct str line;
    size_t pos = 0;

    ctx_init(&x, buf, len, lim, false, err ? err : &dummy);
    *req = (struct h1_request){ 0 };
    int r = start_line(&x, &pos, &line);
    if (r < 0)
        return r;
    r = parse_request_line(&x, line, req);
    if (r < 0)
        return r;
    r = parse_fields(&x, pos, hdrs, min_size(x.max_headers, max_hdrs), &req->nheaders, &k);
    if (r < 0)
        return r;
    req->headers = hdrs;
    int e = check_request(&x, &k, req);
    return e < 0 ? e : r;
}

/* Framing rules of a complete response head (RFC 9112 section 6.3), strict where the RFC allows
 * guessing: an unknown coding or an HTTP/1.0 Transfer-Encoding is refused, not read until close. */
static int check_response(struct ctx *x, const struct known *k, bool head, struct h1_response *resp)
{
    int s = resp->status;
    if (k->n_te) {
        if (resp->minor == 0)
            return fail(x, 502, "Transfer-Encoding in an HTTP/1.0 response");
        if (k->n_te > 1)
            return fail(x, 502, "duplicate Transfer-Encoding");
        if (!str_eq_nocase(k->te, STR_LIT("chunked")))
            return fail(x, 502, "Transfer-Encoding other than chunked");
        if (k->n_cl)
            return fail(x, 502, "Content-Length and Transfer-Encoding together");
    }
    if (k->cl_differ)
        return fail(x, 502, "conflicting Content-Length");
    if (k->n_cl && !parse_length(k->cl, &resp->content_length))
        return fail(x, 502, "invalid Content-Length");
    if (head || s < 200 || s == 204 || s == 304)
        resp->body = H1_BODY_NONE;
    else if (k->n_te)
        resp->body = H1_BODY_CHUNKED;
    else if (k->n_cl)
        resp->body = resp->content_length ? H1_BODY_LENGTH : H1_BODY_NONE;
    else
        resp->body = H1_BODY_UNTIL_CLOSE;
    resp->keep_alive = !k->conn_close && (resp->minor == 1 || k->conn_keep_alive) &&
                       resp->body != H1_BODY_UNTIL_CLOSE;
    resp->conn_upgrade = k->conn_upgrade;
    resp->upgrade = k->upgrade;
    return 0;
}

int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim, struct h1_header *hdrs,
                      size_t max_hdrs, bool request_was_head, struct h1_response *resp, struct h1_error *err)
{
    struct h1_error dummy;
    struct ctx x;
    struct known k = { 0 };
    struct str line;
    size_t pos = 0;

    ctx_init(&x, buf, len, lim, true, err ? err : &dummy);
    *resp = (struct h1_response){ 0 };
    int r = start_line(&x, &pos, &line);
    if (r < 0)
        return r;
    r = parse_status_line(&x, line, resp);
    if (r < 0)
        return r;
    r = parse_fields(&x, pos, hdrs, min_size(x.max_headers, max_hdrs), &resp->nheaders, &k);
    if (r < 0)
        return r;
    resp->headers = hdrs;
    int e = check_response(&x, &k, request_was_head, resp);
    return e < 0 ? e : r;
}

struct str h1_find_header(const struct h1_header *hdrs, size_t n, struct str name)
{
    for (size_t i = 0; i < n; i++)
        if (str_eq_nocase(hdrs[i].name, name))
            return hdrs[i].value;
    return STR_NULL;
}

bool h1_has_token(struct str list, struct str token)
{
    size_t i = 0;
    while (i < list.len) {
        size_t s = i;
        while (i < list.len && list.p[i] != ',')
            i++;
        if (str_eq_nocase(str_trim_ows(str_make(list.p + s, i - s)), token))
            return true;
        i++;
    }
    return false;
}

bool h1_is_hop_by_hop(struct str name)
{
    /* Brace initializers, not STR_LIT: a compound literal is not a constant expression in C11. */
    static const struct str hop[] = {
        { "Connection", 10 },         { "Keep-Alive", 10 },  { "Proxy-Connection", 16 },
        { "Proxy-Authenticate", 18 }, { "Proxy-Authorization", 19 }, { "TE", 2 },
        { "Trailer", 7 },             { "Transfer-Encoding", 17 },   { "Upgrade", 7 },
    };
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (str_eq_nocase(name, hop[i]))
            return true;
    return false;
}

const char *h1_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
