/* The request pipeline (request.c) and static files (serve_static.c): from a parsed head to a
 * started handler, in nginx's phase order. */
#ifndef WSSGATE_PROXY_REQUEST_H
#define WSSGATE_PROXY_REQUEST_H

#include "proxy/conn.h"

struct req_vars;
struct loc_conf;

/* Serves req on c: server by Host, rewrites, location, access, limits, handler. The head's
 * slices stay valid during the call only. */
void request_dispatch(struct conn *c, const struct h1_request *req);

/* nginx's internal redirect: a new URI, locations matched again (index, try_files). */
void request_internal_redirect(struct conn *c, const struct h1_request *req, struct req_vars *rv,
                               struct str uri);

/* Replaces the request's URI ("path[?args]"), normalized. Returns 0 or -1 (invalid path). */
int request_set_uri(struct conn *c, struct req_vars *rv, struct str uri);

/* Answers with a redirect; a relative URL is made absolute (scheme, host, port), as nginx. */
void request_redirect(struct conn *c, int code, const char *url);

/* Continues the phases in a given location (a named one from try_files). */
void request_enter_location(struct conn *c, const struct h1_request *req, struct req_vars *rv,
                            const struct loc_conf *lc);

/* Static files for c->lc (serve_static.c). */
void static_serve(struct conn *c, const struct h1_request *req, struct req_vars *rv);

/* error_page: when c->lc maps status to a page, serves it (or redirects) and returns true. */
bool request_error_page(struct conn *c, int status);

#endif
