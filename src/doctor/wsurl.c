/* URL parsing for the doctor, following the WHATWG URL rules browsers use for the parts a
 * WebSocket URL has: scheme, host, port, path with dot segments, query; no fragment. */
#include "doctor/wsurl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Percent-encode sets (WHATWG URL): C0 controls, space, and these. */
static const char QUERY_SET[] = "\"#<>'";
static const char PATH_SET[] = "\"#<>?`{}";

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Appends c, percent-encoded when in set (or a control, space, non-ASCII). */
static int put_enc(char *out, size_t cap, size_t *len, unsigned char c, const char *set)
{
    static const char hex[] = "0123456789ABCDEF";
    bool enc = c <= 0x20 || c >= 0x7f || strchr(set, c) != NULL;

    if (*len + (enc ? 3 : 1) >= cap)
        return -1;
    if (enc) {
        out[(*len)++] = '%';
        out[(*len)++] = hex[c >> 4];
        out[(*len)++] = hex[c & 15];
    } else {
        out[(*len)++] = (char)c;
    }
    out[*len] = '\0';
    return 0;
}

/* Whether seg[0..n) is "." or ".." (also as %2e). 1 for ".", 2 for "..", 0 otherwise. */
static int dot_segment(const char *seg, size_t n)
{
    int dots = 0;

    for (size_t i = 0; i < n;) {
        if (seg[i] == '.') {
            i++;
        } else if (i + 3 <= n && seg[i] == '%' && seg[i + 1] == '2' && lower(seg[i + 2]) == 'e') {
            i += 3;
        } else {
            return 0;
        }
        dots++;
    }
    return dots == 1 || dots == 2 ? dots : 0;
}

/* Encodes in[0..n) (the path; '\' read as '/') into out[cap], removing dot segments the way
 * the URL parser does: "/a/./b/../c" is "/a/c", and "/a/.." is "/". */
static int encode_path(const char *in, size_t n, char *out, size_t cap)
{
    size_t len = 0, i = 0;

    out[0] = '\0';
    if (n == 0 || (in[0] != '/' && in[0] != '\\'))
        return put_enc(out, cap, &len, '/', PATH_SET);
    while (i < n) {
        size_t start = i + 1, end = start; /* in[i] is the slash before the segment */
        bool last;
        int dots;

        while (end < n && in[end] != '/' && in[end] != '\\')
            end++;
        last = end >= n;
        dots = dot_segment(in + start, end - start);
        if (dots == 2) {
            /* drop the previous segment: back to the slash before it */
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            out[len] = '\0';
        }
        if (dots == 0) {
            if (put_enc(out, cap, &len, '/', PATH_SET) != 0)
                return -1;
            for (size_t k = start; k < end; k++)
                if (put_enc(out, cap, &len, (unsigned char)in[k], PATH_SET) != 0)
                    return -1;
        } else if (last && put_enc(out, cap, &len, '/', PATH_SET) != 0) {
            return -1;
        }
        i = end;
    }
    if (len == 0)
        return put_enc(out, cap, &len, '/', PATH_SET);
    return 0;
}

static int invalid(const char *in, char *why, size_t cap)
{
    snprintf(why, cap, "The URL '%s' is invalid.", in);
    return -1;
}

/* Host: an IPv6 literal in brackets or a name/IPv4 (lowercased). */
static int parse_host(const char *p, size_t n, struct wsurl *u)
{
    unsigned char buf[16];

    if (n == 0)
        return -1;
    if (p[0] == '[') {
        char tmp[64];
        if (n < 3 || p[n - 1] != ']' || n - 2 >= sizeof tmp)
            return -1;
        memcpy(tmp, p + 1, n - 2);
        tmp[n - 2] = '\0';
        if (inet_pton(AF_INET6, tmp, buf) != 1 ||
            inet_ntop(AF_INET6, buf, u->host, sizeof u->host) == NULL)
            return -1;
        u->ip = 6;
        return 0;
    }
    if (n >= sizeof u->host)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || strchr("#%/:<>?@[\\]^|\"", c) != NULL)
            return -1;
        u->host[i] = lower((char)c);
    }
    u->host[n] = '\0';
    u->ip = inet_pton(AF_INET, u->host, buf) == 1 ? 4 : 0;
    return 0;
}

static int parse_port(const char *p, size_t n, int *port)
{
    long v = 0;

    if (n == 0)
        return 1; /* "host:" means the default port */
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
        if (v > 65535)
            return -1;
    }
    *port = (int)v;
    return 0;
}

static int default_port(const char *scheme)
{
    return (strcmp(scheme, "wss") == 0 || strcmp(scheme, "https") == 0) ? 443 : 80;
}

static void finish(struct wsurl *u)
{
    const char *ob = u->ip == 6 ? "[" : "", *cb = u->ip == 6 ? "]" : "";

    u->default_port = u->port == default_port(u->scheme);
    if (u->default_port)
        snprintf(u->hostport, sizeof u->hostport, "%s%s%s", ob, u->host, cb);
    else
        snprintf(u->hostport, sizeof u->hostport, "%s%s%s:%d", ob, u->host, cb, u->port);
    snprintf(u->origin, sizeof u->origin, "%s://%s", u->scheme, u->hostport);
    snprintf(u->href, sizeof u->href, "%s://%s%s", u->scheme, u->hostport, u->path);
}

/* The scheme before the first ':' of in, checked (and http/https mapped to ws/wss unless page)
 * into u->scheme and u->tls. Returns the rest after ':', or NULL with why filled. */
static const char *parse_scheme(const char *in, bool page, struct wsurl *u, char *why, size_t cap)
{
    const char *colon = strchr(in, ':');
    size_t slen = colon != NULL ? (size_t)(colon - in) : 0;
    char scheme[16];

    if (colon == NULL || slen == 0 || slen >= sizeof scheme ||
        !((in[0] | 32) >= 'a' && (in[0] | 32) <= 'z')) {
        invalid(in, why, cap);
        return NULL;
    }
    for (size_t i = 0; i < slen; i++) {
        char c = lower(in[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
              c == '.')) {
            invalid(in, why, cap);
            return NULL;
        }
        scheme[i] = c;
    }
    scheme[slen] = '\0';
    if (page && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(why, cap, "the page must be an http:// or https:// URL, not %s://", scheme);
        return NULL;
    }
    if (!page && strcmp(scheme, "http") == 0)
        snprintf(scheme, sizeof scheme, "ws");
    else if (!page && strcmp(scheme, "https") == 0)
        snprintf(scheme, sizeof scheme, "wss");
    if (!page && strcmp(scheme, "ws") != 0 && strcmp(scheme, "wss") != 0) {
        snprintf(why, cap,
                 "The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '%s' is not "
                 "allowed.",
                 scheme);
        return NULL;
    }
    memcpy(u->scheme, scheme, strlen(scheme) + 1); /* http, https, ws or wss: fits */
    u->tls = strcmp(scheme, "wss") == 0 || strcmp(scheme, "https") == 0;
    return colon + 1;
}

/* host[:port] or [v6][:port] in auth[0..n) into u. 0, -1 invalid, -2 credentials (user@). */
static int parse_authority(const char *auth, size_t n, struct wsurl *u)
{
    const char *end = auth + n, *hend = end, *pc = NULL;

    if (memchr(auth, '@', n) != NULL)
        return -2;
    if (n > 0 && auth[0] == '[') {
        const char *rb = memchr(auth, ']', n);
        if (rb == NULL || (rb + 1 < end && rb[1] != ':'))
            return -1;
        hend = rb + 1;
        pc = hend < end ? hend : NULL;
    } else {
        pc = memchr(auth, ':', n);
        if (pc != NULL)
            hend = pc;
    }
    if (parse_host(auth, (size_t)(hend - auth), u) != 0)
        return -1;
    u->port = default_port(u->scheme);
    if (pc != NULL && parse_port(pc + 1, (size_t)(end - pc - 1), &u->port) < 0)
        return -1;
    return 0;
}

/* Scheme, "//", authority, path, query; the fragment start (or NULL) goes to *frag. page selects
 * the http/https-only page mode. */
static int parse_common(const char *in, bool page, struct wsurl *u, const char **frag, char *why,
                        size_t cap)
{
    const char *auth, *auth_end, *query, *end;
    size_t plen;
    int rc;

    memset(u, 0, sizeof *u);
    *frag = NULL;
    auth = parse_scheme(in, page, u, why, cap);
    if (auth == NULL)
        return -1;
    while (*auth == '/' || *auth == '\\')
        auth++;
    auth_end = auth + strcspn(auth, "/\\?#");
    rc = parse_authority(auth, (size_t)(auth_end - auth), u);
    if (rc == -2) {
        snprintf(why, cap,
                 "a user name or password in the URL (user:pass@) is not supported by "
                 "doctor; leave it out");
        return -1;
    }
    if (rc != 0)
        return invalid(in, why, cap);
    query = auth_end + strcspn(auth_end, "?#");
    end = query + strcspn(query, "#");
    if (*end == '#')
        *frag = end + 1;
    if (encode_path(auth_end, (size_t)(query - auth_end), u->path, sizeof u->path) != 0)
        return invalid(in, why, cap);
    plen = strlen(u->path);
    for (const char *q = query; q < end; q++)
        if (put_enc(u->path, sizeof u->path, &plen, (unsigned char)*q, QUERY_SET) != 0)
            return invalid(in, why, cap);
    finish(u);
    return 0;
}

int wsurl_parse_ws(const char *in, const struct wsurl *base, struct wsurl *u, char *why, size_t cap)
{
    const char *frag;
    char abs[WSURL_HREF_MAX];

    if (in[0] == '/' && in[1] != '/' && base != NULL) {
        /* a path alone, resolved against the page as new WebSocket() does */
        int n =
            snprintf(abs, sizeof abs, "%s://%s%s", base->tls ? "wss" : "ws", base->hostport, in);
        if (n < 0 || (size_t)n >= sizeof abs)
            return invalid(in, why, cap);
        in = abs;
    }
    if (parse_common(in, false, u, &frag, why, cap) != 0)
        return -1;
    if (frag != NULL) {
        snprintf(why, cap,
                 "The URL contains a fragment identifier ('%s'). Fragment identifiers are not "
                 "allowed in WebSocket URLs.",
                 frag);
        return -1;
    }
    return 0;
}

int wsurl_parse_page(const char *in, struct wsurl *u, char *why, size_t cap)
{
    const char *frag;

    return parse_common(in, true, u, &frag, why, cap);
}

bool wsurl_host_is_loopback(const struct wsurl *u)
{
    size_t n = strlen(u->host);

    if (u->ip == 4)
        return strncmp(u->host, "127.", 4) == 0;
    if (u->ip == 6)
        return strcmp(u->host, "::1") == 0;
    if (n > 0 && u->host[n - 1] == '.')
        n--;
    return (n == 9 && strncmp(u->host, "localhost", 9) == 0) ||
           (n > 10 && strncmp(u->host + n - 10, ".localhost", 10) == 0);
}
