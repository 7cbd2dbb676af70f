/* Which handler serves a request: locations of a server, matched by longest path prefix
 * (exact-match locations first), as nginx's prefix locations are. */
#ifndef WSSGATE_ROUTE_ROUTE_H
#define WSSGATE_ROUTE_ROUTE_H

#include "core/str.h"

#include <stdbool.h>

struct upstream_target;

enum route_kind {
    ROUTE_PROXY,          /* HTTP and WebSocket to target */
    ROUTE_PAGE,           /* a fixed in-memory page (the demo's chat page) */
    ROUTE_REDIRECT_HTTPS, /* 301 to https://host:redirect_port$request_uri */
};

struct route_location {
    const char *prefix; /* "/websocket/"; "/" matches everything */
    bool exact;         /* "= /path": only this path */
    enum route_kind kind;
    const struct upstream_target *target;
    const char *page;
    size_t page_len;
    const char *page_type;
    int redirect_port;
};

struct route_server {
    const struct route_location *locs;
    size_t nlocs;
};

/* The location for path, or NULL when none matches (→ 404). */
const struct route_location *route_find(const struct route_server *srv, struct str path);

#endif
