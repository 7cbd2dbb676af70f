/* Strict HTTP/1.1 request and response head parser: stateless over (buf, len), no allocation.
 * Results point into the caller's buffer; anything that could smuggle a request is rejected. */
#ifndef WSSGATE_HTTP_H1_PARSE_H
#define WSSGATE_HTTP_H1_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* Return codes shared by the h1_ parsers (the head parser and the chunked scanner). */
enum { H1_INVALID = -1, H1_INCOMPLETE = -2 };

/* Largest accepted Content-Length value is H1_MAX_CONTENT_LENGTH (2^62 - 1). */
#define H1_MAX_CONTENT_LENGTH ((UINT64_C(1) << 62) - 1)

/* Empty lines (CRLF) tolerated before a request line (RFC 9112 section 2.2); more is a 400. */
#define H1_MAX_LEADING_CRLF 4

struct h1_header {
    struct str name, value; /* name as sent; value with OWS trimmed */
};

struct h1_limits {
    size_t max_request_line; /* default 8192: request (or status) line bytes, CRLF excluded; longer -> 414 */
    size_t max_head;         /* default 16384: whole head incl. the blank line; longer -> 431 */
    size_t max_headers;      /* default 100: more header lines -> 431 */
};

extern const struct h1_limits h1_default_limits;

struct h1_error {
    int status;         /* HTTP status to answer with (400, 414, 417, 431, 505; 502 for responses) */
    const char *reason; /* static, short, human; never freed */
};

enum h1_body {
    H1_BODY_NONE,
    H1_BODY_LENGTH,
    H1_BODY_CHUNKED,
    H1_BODY_UNTIL_CLOSE /* responses only */
};

struct h1_request {
    struct str method, target; /* as sent */
    /* Target split at the first '?': query excludes the '?' (STR_NULL if there is none).
     * origin-form "/p?q": path "/p". absolute-form "http://h/p?q": path "/p", host "h"; with no
     * path, path is the static string "/" (the only slice that does not point into buf).
     * asterisk-form (OPTIONS only): path "*". authority-form (CONNECT only): path and query
     * are STR_NULL; the authority is in target. */
    struct str path, query;
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    struct h1_header *headers;
    size_t nheaders;
    enum h1_body body;
    uint64_t content_length; /* valid Content-Length value, 0 when absent */
    struct str host;         /* authority of an absolute-form target, else the Host value, else STR_NULL */
    bool keep_alive;         /* 1.1 unless "Connection: close"; 1.0 only with "Connection: keep-alive" */
    bool conn_upgrade;       /* Connection header list contains token "upgrade" */
    struct str upgrade;      /* first Upgrade header value, STR_NULL if absent */
    bool expect_continue;    /* "Expect: 100-continue" on an HTTP/1.1 request (ignored in 1.0) */
};

struct h1_response {
    int minor, status;
    struct str reason; /* may be empty */
    struct h1_header *headers;
    size_t nheaders;
    enum h1_body body;
    uint64_t content_length; /* valid Content-Length value, 0 when absent (set even when body is NONE) */
    bool keep_alive;         /* as for requests, and false when body is H1_BODY_UNTIL_CLOSE */
    bool conn_upgrade;
    struct str upgrade;
};

/* Parses a request head from buf[0..len). lim may be NULL (h1_default_limits). Header slices go
 * to hdrs[0..max_hdrs); more than min(lim->max_headers, max_hdrs) headers is a 431. err may be
 * NULL. All slices in *req point into buf (except the "/" default path above).
 * Returns the head length in bytes through the blank line (leading empty lines included: the
 * caller consumes that many bytes), H1_INCOMPLETE (need more bytes; nothing to undo: call
 * again with the longer buffer), or H1_INVALID with *err set. Errors in complete lines and
 * over-long heads are reported before the head is complete. Never reads past buf[len - 1]. */
int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim, struct h1_header *hdrs,
                     size_t max_hdrs, struct h1_request *req, struct h1_error *err);

/* Parses a response head as h1_parse_request does; request_was_head says the response answers a
 * HEAD request (no body whatever the headers say). Errors carry status 502. */
int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim, struct h1_header *hdrs,
                      size_t max_hdrs, bool request_was_head, struct h1_response *resp, struct h1_error *err);

/* First header whose name equals name (ASCII case-insensitive); its value, or STR_NULL. */
struct str h1_find_header(const struct h1_header *hdrs, size_t n, struct str name);

/* True if the comma-separated list (elements OWS-trimmed, empty elements skipped) has an element
 * equal to token, ASCII case-insensitive: "keep-alive, Upgrade" has "upgrade". */
bool h1_has_token(struct str list, struct str token);

/* True for the hop-by-hop fields a proxy must not forward: Connection, Keep-Alive,
 * Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding,
 * Upgrade. (Fields named in a Connection header are the caller's business.) */
bool h1_is_hop_by_hop(struct str name);

/* Reason phrase for a status ("Not Found"), "Unknown" for one not listed. Static string. */
const char *h1_status_text(int status);

#endif
