/* The client side of a connection: TLS handshake, reading request heads, dispatch to a
 * location, local responses and error pages, keep-alive and pipelining, closing, access log. */
#include "proxy/conn.h"

#include "core/container.h"
#include "http/h1_write.h"
#include "http/uri.h"
#include "obs/log.h"
#include "route/route.h"
#include "tls/tls_stream.h"
#include "ws/ws_handshake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After an error response: how long to read and discard what the client still sends, so our
 * close does not turn into a reset that destroys the response before the client reads it. */
#define LINGER_MS 2000

static void on_client_io(struct ev_loop *loop, struct ev_io *io, unsigned events);
static void on_timer(struct ev_loop *loop, struct ev_timer *t);
static void on_free(struct ev_loop *loop, struct ev_defer *d);
static void read_head(struct conn *c);

static const char *const static_reason_mem = "out of memory";

void conn_accept(struct conn_worker *w, int fd, const struct net_addr *peer,
                 const struct conn_listener *lst)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->lst = lst;
    c->peer = *peer;
    addr_ip_port((const struct sockaddr *)&peer->ss, c->peer_ip, sizeof(c->peer_ip));
    c->started_ms = c->last_active_ms = ev_now(&w->loop);
    ev_timer_init(&c->timer, on_timer);
    ev_defer_init(&c->closer, on_free);
    if (lst->tls) {
        if (tls_stream_init_server(&c->s, fd, lst->ssl_ctx) < 0) {
            close(fd);
            free(c);
            return;
        }
        c->phase = PH_TLS_HANDSHAKE;
    } else {
        stream_plain_init(&c->s, fd);
        c->phase = PH_READ_HEAD;
    }
    ev_io_init(&c->io, fd, on_client_io);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    ev_timer_start(&w->loop, &c->timer, lst->tls ? w->ps->handshake_ms : w->ps->header_ms);
    if (ev_io_set(&w->loop, &c->io, EV_READ) < 0)
        conn_close(c, "epoll failed");
}

/* ---- writing to the client ---- */

ssize_t conn_write_client(struct conn *c, const char *p, size_t n)
{
    while (buf_len(&c->out)) {
        ssize_t r = stream_write(&c->s, buf_readp(&c->out), buf_len(&c->out));
        if (r == STREAM_AGAIN)
            return 0;
        if (r < 0) {
            conn_close(c, c->s.err);
            return -1;
        }
        c->bytes_to_client += (uint64_t)r;
        buf_consume(&c->out, (size_t)r);
    }
    if (n == 0)
        return 0;
    ssize_t r = stream_write(&c->s, p, n);
    if (r == STREAM_AGAIN)
        return 0;
    if (r < 0) {
        conn_close(c, c->s.err);
        return -1;
    }
    c->bytes_to_client += (uint64_t)r;
    return r;
}

static void respond_progress(struct conn *c);

/* Queues a complete response into `out` (head and, if it fits, body). A larger body is sent
 * from body_ptr afterwards (it must outlive the connection: static or config memory). */
static void respond(struct conn *c, int status, const char *ctype, const char *body, size_t blen,
                    const char *extra_headers)
{
    size_t cap = 512 + (ctype ? strlen(ctype) : 0) + (extra_headers ? strlen(extra_headers) : 0);
    char *head = malloc(cap);
    if (!head) {
        conn_abort(c, static_reason_mem);
        return;
    }
    struct h1_writer w;
    h1w_init(&w, head, cap);
    h1w_cstr(&w, c->minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    h1w_uint(&w, (unsigned)status);
    h1w_cstr(&w, " ");
    h1w_cstr(&w, h1_status_text(status));
    h1w_cstr(&w, "\r\nServer: wssgate\r\n");
    if (ctype) {
        h1w_cstr(&w, "Content-Type: ");
        h1w_cstr(&w, ctype);
        h1w_cstr(&w, "\r\n");
    }
    h1w_cstr(&w, "Content-Length: ");
    h1w_uint(&w, blen);
    h1w_cstr(&w, "\r\n");
    if (extra_headers)
        h1w_cstr(&w, extra_headers);
    if (!c->keep_alive || c->close_after_response)
        h1w_cstr(&w, "Connection: close\r\n");
    else if (c->minor == 0)
        h1w_cstr(&w, "Connection: keep-alive\r\n");
    h1w_cstr(&w, "\r\n");
    c->status = status;
    c->resp_head_sent = true;
    int appended = w.overflow ? -1 : buf_append(&c->out, head, w.len);
    free(head);
    if (appended < 0) {
        log_error("client %s: response head too large for \"%s\"", c->peer_ip, c->req_line);
        conn_abort(c, "response head too large");
        return;
    }
    c->loc_body = NULL;
    c->loc_body_left = 0;
    if (!c->is_head && blen && (blen > buf_room(&c->out) || buf_append(&c->out, body, blen) < 0)) {
        c->loc_body = body; /* too big for `out`: sent from where it lives, after `out` */
        c->loc_body_left = blen;
    }
    c->phase = PH_RESPOND;
    ev_timer_start(&c->w->loop, &c->timer, c->w->ps->send_ms);
    respond_progress(c);
}

static void respond_progress(struct conn *c)
{
    for (;;) {
        ssize_t r = conn_write_client(c, c->loc_body, c->loc_body_left);
        if (r < 0)
            return;
        if (r == 0)
            break;
        c->loc_body += r;
        c->loc_body_left -= (size_t)r;
    }
    if (buf_len(&c->out) || c->loc_body_left) {
        conn_update_io(c);
        return;
    }
    if (c->close_after_response || !c->keep_alive) {
        conn_log_access(c);
        conn_close(c, "response sent, connection: close");
        return;
    }
    conn_request_done(c);
}

/* ---- error responses ---- */

static void error_page(struct conn *c, int status, const char *detail)
{
    char body[1024];
    struct h1_writer w;
    h1w_init(&w, body, sizeof(body));
    h1w_cstr(&w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    h1w_uint(&w, (unsigned)status);
    h1w_cstr(&w, " ");
    h1w_cstr(&w, h1_status_text(status));
    h1w_cstr(&w, "</title></head>\n<body><h1>");
    h1w_uint(&w, (unsigned)status);
    h1w_cstr(&w, " ");
    h1w_cstr(&w, h1_status_text(status));
    h1w_cstr(&w, "</h1>\n");
    if (detail) {
        h1w_cstr(&w, "<p>");
        h1w_html_escaped(&w, detail);
        h1w_cstr(&w, "</p>\n");
    }
    h1w_cstr(&w, "<hr><p>wssgate</p></body></html>\n");
    const char *extra = NULL;
    if (status == 426)
        extra = "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n";
    else if (status == 405)
        extra = "Allow: GET, HEAD\r\n";
    /* The body is copied into `out` by respond(); it fits, since out is empty here. */
    respond(c, status, "text/html; charset=utf-8", body, w.overflow ? 0 : w.len, extra);
}

void conn_fail(struct conn *c, int status, const char *detail)
{
    if (c->closing)
        return;
    if (c->resp_head_sent || c->phase == PH_TUNNEL || c->phase == PH_TLS_HANDSHAKE) {
        if (detail && !c->detail)
            c->detail = strdup(detail);
        conn_close(c, c->detail);
        return;
    }
    forward_close_upstream(c);
    c->close_after_response = true;
    c->keep_alive = false;
    if (detail) {
        free(c->detail);
        c->detail = strdup(detail);
        c->close_reason = c->detail;
    }
    error_page(c, status, detail);
}

/* ---- dispatch ---- */

/* "GET /path HTTP/1.1" for the access log, with '"', '\\' and control bytes escaped so a
 * request cannot forge log fields. */
static char *format_request_line(const struct h1_request *req)
{
    size_t tlen = req->target.len > 2048 ? 2048 : req->target.len;
    size_t cap = req->method.len + 4 * tlen + 16;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t n = (size_t)snprintf(s, cap, "%.*s ", (int)req->method.len, req->method.p);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char ch = (unsigned char)req->target.p[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
            n += (size_t)snprintf(s + n, cap - n, "\\x%02X", ch);
        else
            s[n++] = (char)ch;
    }
    snprintf(s + n, cap - n, " HTTP/1.%d", req->minor);
    return s;
}

static void redirect_https(struct conn *c, const struct h1_request *req)
{
    struct str host = req->host;
    /* Drop the port of the Host value: the redirect names the HTTPS port explicitly. */
    const char *colon = memrchr(host.p, ':', host.len);
    const char *bracket = memrchr(host.p, ']', host.len);
    if (colon && (!bracket || colon > bracket))
        host.len = (size_t)(colon - host.p);
    if (!host.len)
        host = STR_LIT("localhost");
    size_t cap = host.len + req->target.len + 64;
    char *extra = malloc(cap);
    if (!extra) {
        conn_abort(c, static_reason_mem);
        return;
    }
    if (c->loc->redirect_port == 443)
        snprintf(extra, cap, "Location: https://%.*s%.*s\r\n", (int)host.len, host.p,
                 (int)req->target.len, req->target.p);
    else
        snprintf(extra, cap, "Location: https://%.*s:%d%.*s\r\n", (int)host.len, host.p,
                 c->loc->redirect_port, (int)req->target.len, req->target.p);
    static const char body[] = "<html><body>Moved to HTTPS</body></html>\n";
    respond(c, 301, "text/html", body, sizeof(body) - 1, extra);
    free(extra);
}

/* RFC 6455 §4.2.1: decides whether a request that asks for "websocket" is a genuine opening
 * handshake. Returns 0, or the status to refuse it with and *why. */
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

static void dispatch(struct conn *c, const struct h1_request *req)
{
    const struct proxy_settings *ps = c->w->ps;
    c->req_started_ms = ev_now(&c->w->loop);
    c->req_line = format_request_line(req);
    c->is_head = str_eq(req->method, STR_LIT("HEAD"));
    c->minor = req->minor;
    c->keep_alive = req->keep_alive && !c->w->draining;
    c->req_body = req->body;
    c->req_left = req->body == H1_BODY_LENGTH ? req->content_length : 0;
    c->req_done = req->body == H1_BODY_NONE;
    if (!c->req_line) {
        conn_close(c, static_reason_mem);
        return;
    }
    if (ps->max_body && req->body == H1_BODY_LENGTH && req->content_length > ps->max_body) {
        conn_fail(c, 413, "request body larger than the limit");
        return;
    }
    if (str_eq(req->method, STR_LIT("CONNECT"))) {
        conn_fail(c, 405, "CONNECT is not supported: this is a gateway, not a forward proxy");
        return;
    }
    /* Locations match the normalized path, as in nginx: "/a/../b" is "/b", "%2e%2e" is "..",
     * and a path that climbs above the root is refused. */
    if (req->path.p && req->path.p[0] == '/') {
        c->uri = malloc(req->path.len + 1);
        long n = c->uri ? uri_normalize(req->path, c->uri, req->path.len + 1) : -1;
        if (n < 0) {
            conn_fail(c, 400, "invalid path (bad %-escape, NUL, or above the root)");
            return;
        }
        c->uri_len = (size_t)n;
    }
    c->loc = route_find(c->lst->server,
                        c->uri ? str_make(c->uri, c->uri_len) : req->path);
    if (!c->loc) {
        conn_fail(c, 404, "no location serves this path");
        return;
    }
    /* A request body we will not read makes the connection unusable for the next request. */
    if (c->loc->kind != ROUTE_PROXY && req->body != H1_BODY_NONE)
        c->close_after_response = true;
    switch (c->loc->kind) {
    case ROUTE_PAGE:
        if (!c->is_head && !str_eq(req->method, STR_LIT("GET"))) {
            conn_fail(c, 405, "this page only answers GET and HEAD");
            return;
        }
        respond(c, 200, c->loc->page_type, c->loc->page, c->loc->page_len,
                "Cache-Control: no-cache\r\n");
        return;
    case ROUTE_REDIRECT_HTTPS:
        redirect_https(c, req);
        return;
    case ROUTE_PROXY:
        break;
    }
    /* Only "Upgrade: websocket" on HTTP/1.1 with "Connection: upgrade" is a WebSocket
     * handshake; other upgrade tokens (h2c, …) and HTTP/1.0 upgrades are served as plain HTTP
     * (forward_start strips Upgrade and Connection). */
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
    forward_start(c, req);
}

static void read_head(struct conn *c)
{
    const struct proxy_settings *ps = c->w->ps;
    for (;;) {
        if (buf_len(&c->in)) {
            struct h1_header hdrs[128];
            struct h1_request req;
            struct h1_error err;
            size_t maxh = ps->limits.max_headers < 128 ? ps->limits.max_headers : 128;
            int n = h1_parse_request(buf_readp(&c->in), buf_len(&c->in), &ps->limits, hdrs, maxh,
                                     &req, &err);
            if (n > 0) {
                dispatch(c, &req);
                buf_consume(&c->in, (size_t)n);
                return;
            }
            if (n == H1_INVALID) {
                c->req_line = malloc(1);
                if (c->req_line)
                    c->req_line[0] = '\0';
                log_info("client %s: bad request: %s (%d)", c->peer_ip, err.reason, err.status);
                conn_fail(c, err.status, err.reason);
                return;
            }
            if (buf_full(&c->in)) {
                conn_fail(c, 431, "request header block too large");
                return;
            }
        }
        if (buf_reserve(&c->in) < 0) {
            conn_close(c, static_reason_mem);
            return;
        }
        ssize_t r = stream_read(&c->s, buf_writep(&c->in), buf_room(&c->in));
        if (r > 0) {
            c->in.tail += (unsigned)r;
            c->bytes_from_client += (uint64_t)r;
            c->last_active_ms = ev_now(&c->w->loop);
            continue;
        }
        bool partial = buf_len(&c->in) > 0;
        buf_release_if_empty(&c->in);
        if (r == 0) {
            c->client_eof = true;
            conn_close(c, partial ? "client closed before sending a complete request"
                                  : "client closed the keep-alive connection");
            return;
        }
        if (r == STREAM_AGAIN) {
            /* The head timer starts with the head's first byte and is not extended by later
             * bytes: a client sending one byte at a time still gets its 408 in time. */
            if (partial && !c->head_timer_armed) {
                ev_timer_start(&c->w->loop, &c->timer, ps->header_ms);
                c->head_timer_armed = true;
            } else if (!partial) {
                ev_timer_start(&c->w->loop, &c->timer, ps->keepalive_ms);
            }
            conn_update_io(c);
            return;
        }
        conn_close(c, c->s.err);
        return;
    }
}

static void handshake(struct conn *c)
{
    int r = stream_handshake(&c->s);
    if (r == STREAM_AGAIN) {
        conn_update_io(c);
        return;
    }
    if (r < 0) {
        log_info("client %s: %s", c->peer_ip, c->s.err ? c->s.err : "TLS handshake failed");
        conn_close(c, c->s.err);
        return;
    }
    c->phase = PH_READ_HEAD;
    ev_timer_start(&c->w->loop, &c->timer, c->w->ps->header_ms);
    read_head(c);
}

/* ---- the request is over ---- */

static void resume_next(struct ev_loop *loop, struct ev_defer *d);

/* Everything that belongs to one request goes back to its initial value here, and only here:
 * state left over from a previous request on a keep-alive connection is how smuggling starts. */
static void request_reset(struct conn *c)
{
    free(c->req_line);
    c->req_line = NULL;
    free(c->uri);
    c->uri = NULL;
    c->uri_len = 0;
    c->loc = NULL;
    c->is_ws = c->is_head = false;
    c->status = 0;
    c->resp_head_sent = c->resp_done = c->req_done = false;
    c->req_ck_done = c->resp_ck_done = false;
    c->resp_ready = c->req_ready = 0;
    c->resp_left = c->req_left = 0;
    c->req_body = c->resp_body = H1_BODY_NONE;
    h1_chunked_init(&c->req_ck);
    h1_chunked_init(&c->resp_ck);
    c->loc_body = NULL;
    c->loc_body_left = 0;
    c->bytes_to_client = c->bytes_from_client = 0;
    c->logged = false;
    c->head_timer_armed = false;
    c->ws_key[0] = '\0';
}

void conn_request_done(struct conn *c)
{
    conn_log_access(c);
    forward_close_upstream(c);
    request_reset(c);
    if (!c->keep_alive || c->w->draining) {
        conn_close(c, "connection: close");
        return;
    }
    c->phase = PH_READ_HEAD;
    /* Pipelined requests already in `in` are served from the loop's deferred phase, not by
     * recursion. */
    c->resume.cb = resume_next;
    ev_defer_queue(&c->w->loop, &c->resume);
}

static void resume_next(struct ev_loop *loop, struct ev_defer *d)
{
    (void)loop;
    struct conn *c = container_of(d, struct conn, resume);
    if (!c->closing && c->phase == PH_READ_HEAD)
        read_head(c);
}

/* ---- access log ---- */

void conn_log_access(struct conn *c)
{
    if (c->logged || !log_access_enabled() || !c->req_line)
        return;
    c->logged = true;
    char t[40], line[3072];
    log_time_local(t, sizeof(t));
    uint64_t now = ev_now(&c->w->loop);
    unsigned long long ms = now - c->req_started_ms;
    int n = snprintf(line, sizeof(line), "%s - - [%s] \"%s\" %d %llu rt=%llu.%03llu", c->peer_ip,
                     t, c->req_line, c->status ? c->status : 0,
                     (unsigned long long)c->bytes_to_client, ms / 1000, ms % 1000);
    if (n > 0 && c->phase == PH_TUNNEL && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n,
                      " tunnel from_client=%llu to_client=%llu frames_from_client=%llu"
                      " frames_to_client=%llu close=\"%s\"",
                      (unsigned long long)c->bytes_from_client,
                      (unsigned long long)c->bytes_to_client,
                      (unsigned long long)c->trk_c2b.frames,
                      (unsigned long long)c->trk_b2c.frames,
                      c->close_reason ? c->close_reason : "-");
    if (n > 0)
        log_access_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* ---- I/O interest, timers ---- */

void conn_update_io(struct conn *c)
{
    unsigned want = 0;
    switch (c->phase) {
    case PH_TLS_HANDSHAKE:
        want = c->s.rd_wait;
        break;
    case PH_READ_HEAD:
        want = c->s.rd_wait;
        if (buf_len(&c->out))
            want |= c->s.wr_wait;
        break;
    case PH_RESPOND:
        want = c->s.wr_wait;
        break;
    case PH_CLOSING:
        if (buf_len(&c->out))
            want = c->s.wr_wait;
        else if (c->client_shut && !c->client_eof)
            want = c->s.rd_wait;
        break;
    case PH_FORWARD:
    case PH_TUNNEL:
        return; /* forward.c and tunnel.c set their own interest */
    }
    if (ev_io_set(&c->w->loop, &c->io, want) < 0)
        conn_close(c, "epoll failed");
}

static void on_timer(struct ev_loop *loop, struct ev_timer *t)
{
    (void)loop;
    struct conn *c = container_of(t, struct conn, timer);
    switch (c->phase) {
    case PH_TLS_HANDSHAKE:
        conn_close(c, "TLS handshake timed out");
        return;
    case PH_READ_HEAD:
        if (buf_len(&c->in))
            conn_fail(c, 408, "the request head did not arrive in time");
        else
            conn_close(c, "keep-alive timeout");
        return;
    case PH_FORWARD:
        forward_on_timeout(c);
        return;
    case PH_TUNNEL:
        tunnel_on_timeout(c);
        return;
    case PH_RESPOND:
        conn_close(c, "client did not read the response in time");
        return;
    case PH_CLOSING:
        conn_abort(c, c->close_reason);
        return;
    }
}

/* ---- closing ---- */

static void closing_progress(struct conn *c)
{
    if (buf_len(&c->out) || c->loc_body_left) {
        ssize_t r = conn_write_client(c, c->loc_body, c->loc_body_left);
        if (r < 0) {
            conn_abort(c, c->s.err ? c->s.err : c->close_reason);
            return;
        }
        if (r > 0) {
            c->loc_body += r;
            c->loc_body_left -= (size_t)r;
        }
        if (buf_len(&c->out) || c->loc_body_left) {
            conn_update_io(c);
            return;
        }
    }
    if (!c->client_shut) {
        int r = stream_shutdown_write(&c->s);
        if (r == STREAM_AGAIN) {
            if (ev_io_set(&c->w->loop, &c->io, c->s.wr_wait) < 0)
                conn_abort(c, "epoll failed");
            return;
        }
        c->client_shut = true;
        if (r < 0 || c->client_eof) {
            conn_abort(c, c->close_reason);
            return;
        }
    }
    /* Lingering close: discard what the client still sends until it closes or time is up. */
    char sink[4096];
    for (;;) {
        ssize_t r = stream_read(&c->s, sink, sizeof(sink));
        if (r > 0)
            continue;
        if (r == STREAM_AGAIN) {
            conn_update_io(c);
            return;
        }
        c->client_eof = true;
        conn_abort(c, c->close_reason);
        return;
    }
}

void conn_close(struct conn *c, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    if (!c->close_reason)
        c->close_reason = reason;
    forward_close_upstream(c);
    c->phase = PH_CLOSING;
    ev_timer_start(&c->w->loop, &c->timer, LINGER_MS);
    if (c->client_eof && !buf_len(&c->out)) {
        conn_abort(c, reason);
        return;
    }
    closing_progress(c);
}

void conn_abort(struct conn *c, const char *reason)
{
    if (c->freed)
        return;
    c->freed = true;
    c->closing = true;
    if (!c->close_reason)
        c->close_reason = reason;
    conn_log_access(c);
    forward_close_upstream(c);
    ev_io_remove(&c->w->loop, &c->io);
    ev_timer_stop(&c->w->loop, &c->timer);
    ev_defer_queue(&c->w->loop, &c->closer);
}

static void on_free(struct ev_loop *loop, struct ev_defer *d)
{
    struct conn *c = container_of(d, struct conn, closer);
    struct conn_worker *w = c->w;
    if (c->resume.queued) {
        ev_defer_queue(loop, &c->closer); /* the resume runs first (and sees c->freed) */
        return;
    }
    stream_close(&c->s);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c->req_line);
    free(c->uri);
    free(c->detail);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
}

void conn_drain(struct conn *c)
{
    if (c->closing)
        return;
    c->keep_alive = false;
    if (c->phase == PH_READ_HEAD && !buf_len(&c->in)) {
        conn_close(c, "server shutting down");
        return;
    }
    if (c->phase == PH_TUNNEL)
        tunnel_drain(c);
}

/* ---- events ---- */

static void on_client_io(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)loop;
    (void)events;
    struct conn *c = container_of(io, struct conn, io);
    if (c->freed)
        return;
    switch (c->phase) {
    case PH_TLS_HANDSHAKE:
        handshake(c);
        break;
    case PH_READ_HEAD:
        if (buf_len(&c->out)) {
            /* An interim "100 Continue" or similar still queued; flush it first. */
            if (conn_write_client(c, NULL, 0) < 0)
                return;
        }
        read_head(c);
        break;
    case PH_RESPOND:
        respond_progress(c);
        break;
    case PH_FORWARD:
        forward_on_event(c);
        break;
    case PH_TUNNEL:
        tunnel_on_event(c);
        break;
    case PH_CLOSING:
        closing_progress(c);
        break;
    }
}
