/* WebSocket and page URLs as a browser reads them: scheme rules of new WebSocket(), default
 * ports, lowercase hosts, percent-encoding, and the text Chromium prints for a URL. Pure. */
#ifndef WSSGATE_DOCTOR_WSURL_H
#define WSSGATE_DOCTOR_WSURL_H

#include <stdbool.h>
#include <stddef.h>

#define WSURL_HOST_MAX 256
#define WSURL_PATH_MAX 2048
#define WSURL_HREF_MAX (WSURL_PATH_MAX + WSURL_HOST_MAX + 32)

struct wsurl {
    char scheme[8];            /* "ws", "wss" (or "http", "https" for a page) */
    bool tls;                  /* wss or https */
    char host[WSURL_HOST_MAX]; /* lowercase; an IPv6 address without brackets */
    int ip;                    /* 0 for a name, 4 or 6 for an address literal */
    int port;                  /* explicit or the scheme's default */
    bool default_port;
    char path[WSURL_PATH_MAX];         /* path and query, percent-encoded: "/websocket/?a=1" */
    char hostport[WSURL_HOST_MAX + 8]; /* Host header: "host", "host:8443", "[::1]:8443" */
    char origin[WSURL_HOST_MAX + 24];  /* "https://host:8443" (for a page) */
    char href[WSURL_HREF_MAX]; /* as Chromium prints it: "wss://localhost:8443/websocket/" */
};

/* Parses what a page passes to new WebSocket(in). http:// and https:// become ws:// and wss://
 * (as Chromium does); a URL starting with "/" is resolved against base (a page URL; NULL when
 * there is none). On failure writes into why[cap] the message of the SyntaxError Chromium throws
 * ("The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. 'ftp' is not allowed.") and
 * returns -1; returns 0 with *u filled otherwise. Credentials in the URL are refused. */
int wsurl_parse_ws(const char *in, const struct wsurl *base, struct wsurl *u, char *why,
                   size_t cap);

/* Parses a page URL or origin ("https://app.example.com", "http://localhost:8080/chat"): http or
 * https only; the fragment is dropped. Returns 0, or -1 with a reason in why[cap]. */
int wsurl_parse_page(const char *in, struct wsurl *u, char *why, size_t cap);

/* True when the host is one browsers treat as potentially trustworthy, so that ws:// to it is
 * not blocked as mixed content: localhost, *.localhost, 127.0.0.0/8, ::1. */
bool wsurl_host_is_loopback(const struct wsurl *u);

#endif
