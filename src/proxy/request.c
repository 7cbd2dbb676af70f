/* What to do with a parsed request head, in nginx's phase order: pick the server by Host,
 * normalize the path, run the server's rewrites, find the location, run its rewrites and
 * `return`, check allow/deny and the body limit, then start the handler (proxy, static files,
 * FastCGI's 501). Local responses get the location's add_header/expires/charset. */
#include "proxy/request.h"

#include "conf/vars.h"
#include "http/h1_write.h"
#include "http/uri.h"
#include "obs/log.h"
#include "proxy/gen.h"
#include "proxy/http_vars.h"
#include "route/location.h"
#include "route/server_name.h"
#include "site/static.h"
#include "ws/ws_handshake.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INTERNAL_REDIRECTS 10

static void request_dispatch_phases(struct conn *c, const struct h1_request *req);

enum step { STEP_CONTINUE, STEP_DONE, STEP_AGAIN };

/* ---- templates ---- */

/* Evaluates t into a malloc'd string (NULL on failure). */
static char *eval_dup(struct req_vars *rv, const struct var_template *t, size_t *len)
{
    char buf[8192];
    rv->scratch_used = 0;
    long n = var_eval(t, http_var_get, rv, buf, sizeof(buf));
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, buf, (size_t)n);
        s[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return s;
}

/* ---- response headers a location adds (add_header, expires) ---- */

static void stash_location_headers(struct conn *c, struct req_vars *rv, const struct loc_conf *lc)
{
    char ok[4096], always[4096];
    struct h1_writer wo, wa;
    h1w_init(&wo, ok, sizeof(ok));
    h1w_init(&wa, always, sizeof(always));
    for (size_t i = 0; i < lc->nadd_headers; i++) {
        size_t vlen = 0;
        char *v = eval_dup(rv, lc->add_headers[i].value, &vlen);
        if (!v)
            continue;
        if (vlen) { /* an empty value adds nothing, as in nginx */
            h1w_header(&wo, lc->add_headers[i].name, str_make(v, vlen));
            if (lc->add_headers[i].always)
                h1w_header(&wa, lc->add_headers[i].name, str_make(v, vlen));
        }
        free(v);
    }
    if (lc->expires_set) {
        if (lc->expires_s < 0) {
            h1w_cstr(&wo, "Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n");
        } else {
            char date[40];
            static_http_date((int64_t)time(NULL) + lc->expires_s, date, sizeof(date));
            h1w_cstr(&wo, "Expires: ");
            h1w_cstr(&wo, date);
            h1w_cstr(&wo, "\r\nCache-Control: max-age=");
            h1w_uint(&wo, (unsigned long long)lc->expires_s);
            h1w_cstr(&wo, "\r\n");
        }
    }
    free(c->hdrs_ok);
    free(c->hdrs_always);
    c->hdrs_ok = wo.len && !wo.overflow ? strndup(ok, wo.len) : NULL;
    c->hdrs_always = wa.len && !wa.overflow ? strndup(always, wa.len) : NULL;
}

/* ---- rewrite phase ---- */

/* Replaces c->uri (and the args) with a rewrite result "path[?args]". */
static int request_set_uri_text(struct conn *c, struct req_vars *rv, const char *s, size_t len)
{
    const char *q = memchr(s, '?', len);
    size_t plen = q ? (size_t)(q - s) : len;
    char *u = malloc(plen + 2);
    if (!u)
        return -1;
    long n = uri_normalize(str_make(s, plen), u, plen + 1);
    if (n < 0) {
        free(u);
        return -1;
    }
    free(c->uri);
    c->uri = u;
    c->uri_len = (size_t)n;
    c->uri_rewritten = true;
    if (q) {
        free(c->args);
        c->args = strndup(q + 1, len - plen - 1);
        c->args_len = len - plen - 1;
    }
    rv->uri = str_make(c->uri, c->uri_len);
    return 0;
}

int request_set_uri(struct conn *c, struct req_vars *rv, struct str uri)
{
    return request_set_uri_text(c, rv, uri.p, uri.len);
}

/* A redirect. A relative URL becomes absolute with the request's scheme, host and port, as
 * nginx does with its default absolute_redirect on. */
void request_redirect(struct conn *c, int code, const char *url)
{
    char base[400] = "";
    if (url[0] == '/') {
        struct req_vars rv = { .c = c, .srv = c->srv, .g = c->lst->gen, .req = c->cur_req };
        struct str host = http_var_get(&rv, HV_HOST);
        bool dflt = c->lst->port == (c->lst->tls ? 443 : 80);
        if (dflt)
            snprintf(base, sizeof(base), "%s://%.*s", c->lst->tls ? "https" : "http",
                     (int)host.len, host.p);
        else
            snprintf(base, sizeof(base), "%s://%.*s:%d", c->lst->tls ? "https" : "http",
                     (int)host.len, host.p, c->lst->port);
    }
    size_t cap = strlen(base) + strlen(url) + 16;
    char *extra = malloc(cap);
    if (!extra) {
        conn_abort(c, "out of memory");
        return;
    }
    snprintf(extra, cap, "Location: %s%s\r\n", base, url);
    conn_respond_error(c, code, NULL, extra);
    free(extra);
}

/* nginx's argument rule for a rewrite result: new arguments come first and the old ones are
 * appended, unless the replacement ends with '?'; without new arguments the old ones stay.
 * Returns a malloc'd "path[?args]". */
static char *rewrite_target(const struct conn *c, const char *out, size_t len)
{
    bool drop_old = len && out[len - 1] == '?';
    if (drop_old)
        len--;
    const char *q = memchr(out, '?', len);
    size_t cap = len + c->args_len + 4;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    if (drop_old || !c->args)
        snprintf(t, cap, "%.*s", (int)len, out);
    else if (q && (size_t)(q - out) + 1 < len)
        snprintf(t, cap, "%.*s&%.*s", (int)len, out, (int)c->args_len, c->args);
    else
        snprintf(t, cap, "%.*s%s%.*s", (int)(q ? (size_t)(q - out) : len), out, "?",
                 (int)c->args_len, c->args);
    return t;
}

static enum step run_rewrites(struct conn *c, struct req_vars *rv, const struct rewrite_rule *rules,
                              size_t n, bool *last)
{
    for (size_t i = 0; i < n; i++) {
        struct loc_captures caps;
        if (location_regex_match(rules[i].re, rv->uri, &caps) != 1)
            continue;
        rv->caps = caps;
        rv->capture_subject = rv->uri;
        size_t len;
        char *out = eval_dup(rv, rules[i].replacement, &len);
        if (!out) {
            conn_fail(c, 500, "rewrite result too long");
            return STEP_DONE;
        }
        char *target = rewrite_target(c, out, len);
        free(out);
        if (!target) {
            conn_abort(c, "out of memory");
            return STEP_DONE;
        }
        bool absolute = strncmp(target, "http://", 7) == 0 ||
                        strncmp(target, "https://", 8) == 0;
        if (rules[i].flag == REWRITE_REDIRECT || rules[i].flag == REWRITE_PERMANENT || absolute) {
            request_redirect(c, rules[i].flag == REWRITE_PERMANENT ? 301 : 302, target);
            free(target);
            return STEP_DONE;
        }
        if (!strchr(target, '?')) { /* the target carries every argument the request keeps */
            free(c->args);
            c->args = NULL;
            c->args_len = 0;
        }
        int r = request_set_uri_text(c, rv, target, strlen(target));
        free(target);
        if (r < 0) {
            conn_fail(c, 400, "rewrite produced an invalid path");
            return STEP_DONE;
        }
        if (rules[i].flag == REWRITE_LAST) {
            *last = true;
            return STEP_AGAIN;
        }
        if (rules[i].flag == REWRITE_BREAK)
            return STEP_CONTINUE;
    }
    return STEP_CONTINUE;
}

static void do_return(struct conn *c, struct req_vars *rv, const struct loc_conf *lc)
{
    int code = lc->return_code;
    char *text = lc->return_text ? eval_dup(rv, lc->return_text, NULL) : NULL;
    if (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) {
        request_redirect(c, code, text ? text : "/");
    } else if (code == 444) {
        conn_abort(c, "return 444");
    } else if (!text && code >= 400) {
        conn_fail(c, code, NULL); /* error_page applies, as in nginx */
    } else {
        const char *type = lc->default_type ? lc->default_type : "text/plain";
        if (text)
            conn_respond(c, code, type, text, strlen(text), NULL, true);
        else
            conn_respond_error(c, code, NULL, NULL);
    }
    free(text);
}

/* ---- access phase ---- */

static bool addr_in(const struct access_rule *r, const struct sockaddr *sa)
{
    const uint8_t *a;
    if (r->family == AF_INET && sa->sa_family == AF_INET)
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (r->family == AF_INET6 && sa->sa_family == AF_INET6)
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    else
        return false;
    int bits = r->prefix;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (r->addr[i] & mask))
            return false;
    }
    return true;
}

static bool access_allowed(const struct conn *c, const struct loc_conf *lc)
{
    for (size_t i = 0; i < lc->naccess; i++)
        if (lc->access[i].all || addr_in(&lc->access[i], (const struct sockaddr *)&c->peer.ss))
            return lc->access[i].allow;
    return true;
}

/* ---- WebSocket opening handshake (RFC 6455 §4.2.1) ---- */

static int check_ws_handshake(const struct h1_request *req, struct str *key, const char **why)
{
    if (!str_eq(req->method, STR_LIT("GET"))) {
        *why = "a WebSocket handshake must use GET";
        return 400;
    }
    if (req->body != H1_BODY_NONE) {
        *why = "a WebSocket handshake must not have a body";
        return 400;
    }
    struct str ver = h1_find_header(req->headers, req->nheaders, STR_LIT("Sec-WebSocket-Version"));
    if (!str_eq(str_trim_ows(ver), STR_LIT("13"))) {
        *why = "unsupported or missing Sec-WebSocket-Version; this server speaks version 13";
        return 426;
    }
    *key = str_trim_ows(h1_find_header(req->headers, req->nheaders, STR_LIT("Sec-WebSocket-Key")));
    if (!key->p || !ws_key_valid(*key)) {
        *why = "missing or invalid Sec-WebSocket-Key (must be 16 random bytes in base64)";
        return 400;
    }
    return 0;
}

static void start_proxy(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    c->is_ws = req->minor == 1 && req->conn_upgrade && req->upgrade.p &&
               h1_has_token(req->upgrade, STR_LIT("websocket"));
    if (c->is_ws) {
        struct str key;
        const char *why = NULL;
        int st = check_ws_handshake(req, &key, &why);
        if (st) {
            conn_fail(c, st, why);
            return;
        }
        memcpy(c->ws_key, key.p, key.len);
        c->ws_key[key.len] = '\0';
    }
    forward_start(c, req, rv);
}

/* ---- the phases ---- */

static void run_handler(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    const struct loc_conf *lc = c->lc;
    switch (lc->handler) {
    case HANDLER_RETURN:
        do_return(c, rv, lc);
        return;
    case HANDLER_PROXY:
        start_proxy(c, req, rv);
        return;
    case HANDLER_FASTCGI: {
        char why[512];
        snprintf(why, sizeof(why), "FastCGI is not built yet in wssgate: this request reached "
                 "\"fastcgi_pass %s\" (%s)", lc->fastcgi_pass, lc->where);
        conn_fail(c, 501, why);
        return;
    }
    case HANDLER_STATIC:
        static_serve(c, req, rv);
        return;
    }
}

/* Finds the location for c->uri and runs its rewrite phase; loops on "last" rewrites. */
static enum step find_location(struct conn *c, struct req_vars *rv)
{
    const struct srv_conf *srv = c->srv;
    for (int round = 0; round < MAX_INTERNAL_REDIRECTS; round++) {
        bool redirect = false;
        struct loc_captures caps = { 0 };
        const struct location *loc = location_find(srv->locs, rv->uri, &caps, &redirect);
        if (redirect) {
            /* nginx's auto-redirect: "/x" → "/x/" for a proxied "location /x/". */
            size_t cap = c->uri_len + c->args_len + 4;
            char *to = malloc(cap);
            if (!to) {
                conn_abort(c, "out of memory");
                return STEP_DONE;
            }
            snprintf(to, cap, "%s/%s%s", c->uri, c->args ? "?" : "", c->args ? c->args : "");
            request_redirect(c, 301, to);
            free(to);
            return STEP_DONE;
        }
        c->lc = loc ? loc->data : srv->top;
        rv->lc = c->lc;
        rv->caps = caps;
        rv->capture_subject = rv->uri;
        bool last = false;
        enum step s = run_rewrites(c, rv, c->lc->rewrites, c->lc->nrewrites, &last);
        if (s != STEP_AGAIN)
            return s;
    }
    conn_fail(c, 500, "rewrite or internal redirection cycle");
    return STEP_DONE;
}

/* The phases after the location is known: headers it adds, return, access, limits, handler. */
static void continue_phases(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    const struct loc_conf *lc = c->lc;
    stash_location_headers(c, rv, lc);
    if (lc->handler == HANDLER_RETURN) { /* return runs in the rewrite phase, before access */
        do_return(c, rv, lc);
        return;
    }
    if (!access_allowed(c, lc)) {
        log_info("client %s: access forbidden by rule (%s)", c->peer_ip, lc->where);
        conn_fail(c, 403, NULL);
        return;
    }
    if (lc->client_max_body_size && req->body == H1_BODY_LENGTH &&
        req->content_length > lc->client_max_body_size) {
        conn_fail(c, 413, "request body larger than client_max_body_size");
        return;
    }
    c->max_body = lc->client_max_body_size;
    if (lc->handler != HANDLER_PROXY && req->body != H1_BODY_NONE)
        c->close_after_response = true; /* a body nobody reads ends the connection */
    run_handler(c, req, rv);
}

void request_internal_redirect(struct conn *c, const struct h1_request *req, struct req_vars *rv,
                               struct str uri)
{
    if (++c->redirects > MAX_INTERNAL_REDIRECTS) {
        conn_fail(c, 500, "rewrite or internal redirection cycle");
        return;
    }
    if (request_set_uri_text(c, rv, uri.p, uri.len) < 0) {
        conn_fail(c, 400, "internal redirect to an invalid path");
        return;
    }
    if (find_location(c, rv) == STEP_DONE)
        return;
    continue_phases(c, req, rv);
}

void request_enter_location(struct conn *c, const struct h1_request *req, struct req_vars *rv,
                            const struct loc_conf *lc)
{
    c->lc = lc;
    rv->lc = lc;
    continue_phases(c, req, rv);
}

bool request_error_page(struct conn *c, int status)
{
    const struct loc_conf *lc = c->lc;
    if (!lc || c->in_error_page)
        return false;
    for (size_t i = 0; i < lc->nerror_pages; i++) {
        const struct error_page *ep = &lc->error_pages[i];
        for (int k = 0; k < ep->ncodes; k++) {
            if (ep->codes[k] != status)
                continue;
            struct h1_request none = { .method = STR_LIT("GET") };
            struct req_vars rv = { .c = c, .req = &none, .srv = c->srv, .lc = lc,
                                   .g = c->lst->gen, .uri = str_make(c->uri, c->uri_len) };
            size_t len;
            char *to = eval_dup(&rv, ep->uri, &len);
            if (!to)
                return false;
            c->in_error_page = true;
            c->error_status = ep->response_code > 0 ? ep->response_code : status;
            if (strncmp(to, "http://", 7) == 0 || strncmp(to, "https://", 8) == 0)
                request_redirect(c, ep->response_code > 0 ? ep->response_code : 302, to);
            else if (to[0] == '@' && location_find_named(c->srv->locs, to))
                request_enter_location(c, &none, &rv,
                                       location_find_named(c->srv->locs, to)->data);
            else
                request_internal_redirect(c, &none, &rv, str_make(to, len));
            free(to);
            return true;
        }
    }
    return false;
}

void request_dispatch(struct conn *c, const struct h1_request *req)
{
    c->cur_req = req; /* valid during dispatch only; cleared below */
    request_dispatch_phases(c, req);
    c->cur_req = NULL;
}

static void request_dispatch_phases(struct conn *c, const struct h1_request *req)
{
    const struct gen_listen *gl = c->lst->gl;
    c->srv = server_names_find(gl->names, req->host);
    if (!c->srv)
        c->srv = gl->default_srv;
    struct req_vars rv = { .c = c, .req = req, .srv = c->srv, .g = c->lst->gen };
    if (req->path.p && req->path.p[0] == '/') {
        c->uri = malloc(req->path.len + 1);
        long n = c->uri ? uri_normalize(req->path, c->uri, req->path.len + 1) : -1;
        if (n < 0) {
            conn_fail(c, 400, "invalid path (bad %-escape, NUL, or above the root)");
            return;
        }
        c->uri_len = (size_t)n;
    } else {
        c->uri = strndup("/", 1);
        c->uri_len = 1;
    }
    if (req->query.p) {
        c->args = strndup(req->query.p, req->query.len);
        c->args_len = req->query.len;
    }
    rv.uri = str_make(c->uri, c->uri_len);
    c->lc = c->srv->top;
    rv.lc = c->lc;
    bool last = false;
    if (run_rewrites(c, &rv, c->srv->rewrites, c->srv->nrewrites, &last) == STEP_DONE)
        return;
    if (c->srv->top->handler == HANDLER_RETURN) {
        stash_location_headers(c, &rv, c->srv->top);
        do_return(c, &rv, c->srv->top);
        return;
    }
    if (find_location(c, &rv) == STEP_DONE)
        return;
    continue_phases(c, req, &rv);
}
