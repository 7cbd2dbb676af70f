/* The client side of a connection: TLS handshake, reading request heads, dispatch to a
 * location, local responses and error pages, keep-alive and pipelining, closing, access log. */
#include "proxy/conn.h"

#include "core/container.h"
#include "core/mem_trim.h"
#include "http/h1_write.h"
#include "http/uri.h"
#include "obs/log.h"
#include "proxy/gen.h"
#include "proxy/request.h"
#include "tls/tls_stream.h"

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
    c->file_fd = -1;
    c->peer = *peer;
    addr_ip_port((const struct sockaddr *)&peer->ss, c->peer_ip, sizeof(c->peer_ip));
    c->last_active_ms = ev_now(&w->loop);
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
    gen_ref(lst->gen); /* the generation outlives every connection that started on it */
    ev_io_init(&c->io, fd, on_client_io);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    mem_trim_opened();
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

/* Headers the location adds (add_header, expires): for 2xx/3xx, or `always` ones for any. */
const char *conn_location_headers(const struct conn *c, int status)
{
    if (status >= 200 && status < 400)
        return c->hdrs_ok;
    return c->hdrs_always;
}

/* Queues a response head, and the body when it fits in `out` (else it is sent from body_ptr
 * afterwards, which must outlive the connection: static or configuration memory). */
static void respond_head(struct conn *c, int status, const char *ctype, uint64_t blen,
                         const char *extra_headers)
{
    const char *loc_hdrs = conn_location_headers(c, status);
    size_t cap = 512 + (ctype ? strlen(ctype) : 0) + (extra_headers ? strlen(extra_headers) : 0) +
                 (loc_hdrs ? strlen(loc_hdrs) : 0);
    char *head = malloc(cap);
    if (!head) {
        conn_abort(c, static_reason_mem);
        return;
    }
    struct h1_writer w;
    h1w_init(&w, head, cap);
    h1w_cstr(&w, c->minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    h1w_status(&w, status);
    h1w_cstr(&w, "\r\nServer: wssgate\r\n");
    if (ctype) {
        h1w_cstr(&w, "Content-Type: ");
        h1w_cstr(&w, ctype);
        h1w_cstr(&w, "\r\n");
    }
    if (status != 304 && status != 204) {
        h1w_cstr(&w, "Content-Length: ");
        h1w_uint(&w, blen);
        h1w_cstr(&w, "\r\n");
    }
    if (extra_headers)
        h1w_cstr(&w, extra_headers);
    if (loc_hdrs)
        h1w_cstr(&w, loc_hdrs);
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
    }
}

void conn_respond(struct conn *c, int status, const char *ctype, const char *body, size_t blen,
                  const char *extra_headers, bool apply_charset)
{
    if (c->in_error_page && c->error_status)
        status = c->error_status;
    char typebuf[200];
    const char *cs = c->lc ? c->lc->charset : NULL;
    if (apply_charset && ctype && cs && !strstr(ctype, "charset") &&
        (strncmp(ctype, "text/html", 9) == 0 || strncmp(ctype, "text/plain", 10) == 0)) {
        snprintf(typebuf, sizeof(typebuf), "%s; charset=%s", ctype, cs);
        ctype = typebuf;
    }
    respond_head(c, status, ctype, blen, extra_headers);
    if (c->freed)
        return;
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

void conn_respond_file(struct conn *c, int status, const char *ctype, uint64_t size,
                       const char *extra_headers)
{
    if (c->in_error_page && c->error_status)
        status = c->error_status;
    respond_head(c, status, ctype, size, extra_headers);
    if (c->freed)
        return;
    c->phase = PH_RESPOND;
    ev_timer_start(&c->w->loop, &c->timer, c->w->ps->send_ms);
    respond_progress(c);
}

/* Moves the next piece of a file body into `out` once it is empty. */
static int fill_from_file(struct conn *c)
{
    if (c->file_fd < 0 || !c->file_left || buf_len(&c->out))
        return 0;
    if (buf_reserve(&c->out) < 0)
        return -1;
    size_t want = buf_room(&c->out) < c->file_left ? buf_room(&c->out) : (size_t)c->file_left;
    ssize_t r = read(c->file_fd, buf_writep(&c->out), want);
    if (r <= 0) {
        buf_release_if_empty(&c->out);
        log_error("client %s: reading a file for \"%s\" failed: %s", c->peer_ip, c->req_line,
                  r == 0 ? "file shrank" : strerror(errno));
        return -1;
    }
    c->out.tail += (unsigned)r;
    c->file_left -= (uint64_t)r;
    return 1;
}

static void respond_progress(struct conn *c)
{
    for (;;) {
        int f = fill_from_file(c);
        if (f < 0) {
            conn_abort(c, "file read error");
            return;
        }
        ssize_t r = conn_write_client(c, c->loc_body, c->loc_body_left);
        if (r < 0)
            return;
        if (r > 0) {
            c->loc_body += r;
            c->loc_body_left -= (size_t)r;
            continue;
        }
        if (buf_len(&c->out) || !c->file_left)
            break;
    }
    if (buf_len(&c->out) || c->loc_body_left || c->file_left) {
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

void conn_respond_error(struct conn *c, int status, const char *detail, const char *extra)
{
    char body[1024];
    struct h1_writer w;
    h1w_init(&w, body, sizeof(body));
    h1w_cstr(&w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    h1w_status(&w, status);
    h1w_cstr(&w, "</title></head>\n<body><h1>");
    h1w_status(&w, status);
    h1w_cstr(&w, "</h1>\n");
    if (detail) {
        h1w_cstr(&w, "<p>");
        h1w_html_escaped(&w, detail);
        h1w_cstr(&w, "</p>\n");
    }
    h1w_cstr(&w, "<hr><p>wssgate</p></body></html>\n");
    if (!extra && status == 426)
        extra = "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n";
    else if (!extra && status == 405)
        extra = "Allow: GET, HEAD\r\n";
    /* The body is copied into `out` by conn_respond(); it fits, since out is empty here. */
    conn_respond(c, status, "text/html; charset=utf-8", body, w.overflow ? 0 : w.len, extra,
                 false);
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
    /* As nginx: after a fully read request, an error answer keeps the connection; a head that
     * could not be parsed, a timeout or an unread body ends it. */
    bool reusable = c->req_line && c->req_done && c->keep_alive && !c->close_after_response &&
                    (status == 403 || status == 404 || status == 405 || status == 500 ||
                     status == 501 || status == 502 || status == 503 || status == 504);
    if (!reusable) {
        c->close_after_response = true;
        c->keep_alive = false;
    }
    c->phase = PH_RESPOND;
    if (detail) {
        free(c->detail);
        c->detail = strdup(detail);
        c->close_reason = c->detail;
    }
    if (status >= 400 && request_error_page(c, status))
        return;
    conn_respond_error(c, status, detail, NULL);
}

/* ---- dispatch ---- */

/* Appends p[0..n) to s with '"', '\\' and control bytes escaped, so a request cannot forge
 * access-log fields. s has room for 4 * n more bytes. */
static size_t escape_for_log(char *s, size_t at, size_t cap, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
            at += (size_t)snprintf(s + at, cap - at, "\\x%02X", ch);
        else
            s[at++] = (char)ch;
    }
    s[at] = '\0';
    return at;
}

/* "GET /path HTTP/1.1" for the access log. */
static char *format_request_line(const struct h1_request *req)
{
    size_t tlen = req->target.len > 2048 ? 2048 : req->target.len;
    size_t cap = req->method.len + 4 * tlen + 16;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t n = (size_t)snprintf(s, cap, "%.*s ", (int)req->method.len, req->method.p);
    n = escape_for_log(s, n, cap, req->target.p, tlen);
    snprintf(s + n, cap - n, " HTTP/1.%d", req->minor);
    return s;
}

/* The first line of a request that could not be parsed, escaped and capped, for the log. */
static char *format_raw_line(const char *p, size_t n)
{
    size_t len = 0;
    while (len < n && len < 256 && p[len] != '\r' && p[len] != '\n')
        len++;
    char *s = malloc(4 * len + 1);
    if (s)
        escape_for_log(s, 0, 4 * len + 1, p, len);
    return s;
}

/* Sets up what outlives the head (framing, version, the request line for the log), then hands
 * the request to the pipeline (request.c). */
static void dispatch(struct conn *c, const struct h1_request *req)
{
    if (!c->req_started_ms)
        c->req_started_ms = ev_now(&c->w->loop); /* pipelined: already in the buffer */
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
    if (str_eq(req->method, STR_LIT("CONNECT"))) {
        conn_fail(c, 405, "CONNECT is not supported: this is a gateway, not a forward proxy");
        return;
    }
    request_dispatch(c, req);
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
                c->req_line = format_raw_line(buf_readp(&c->in), buf_len(&c->in));
                log_info("client %s: bad request: %s (%d)", c->peer_ip, err.reason, err.status);
                c->keep_alive = false; /* the stream cannot be trusted past a bad head */
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
        bool had_bytes = buf_len(&c->in) > 0;
        ssize_t r = stream_read(&c->s, buf_writep(&c->in), buf_room(&c->in));
        if (r > 0) {
            c->in.tail += (unsigned)r;
            c->bytes_from_client += (uint64_t)r;
            c->last_active_ms = ev_now(&c->w->loop);
            if (!had_bytes)
                c->req_started_ms = c->last_active_ms; /* the request's clock: its first byte */
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
    free(c->args);
    c->args = NULL;
    c->args_len = 0;
    free(c->hash_key);
    c->hash_key = NULL;
    c->hash_key_len = 0;
    free(c->hdrs_ok);
    free(c->hdrs_always);
    c->hdrs_ok = c->hdrs_always = NULL;
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
    c->srv = NULL;
    c->lc = NULL;
    c->redirects = 0;
    c->uri_rewritten = false;
    c->in_error_page = false;
    c->error_status = 0;
    c->up_tries = 0;
    memset(&c->tried, 0, sizeof(c->tried));
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
    c->req_started_ms = 0;
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
    if (c->logged || !log_access_enabled() || !c->req_line || (c->lc && c->lc->access_log_off))
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
        log_access_line_to(c->lc ? c->lc->access_log : -1, line,
                           (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
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
    free(c->args);
    free(c->hash_key);
    free(c->hdrs_ok);
    free(c->hdrs_always);
    free(c->detail);
    if (c->file_fd >= 0)
        close(c->file_fd);
    gen_unref(c->lst->gen);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
    mem_trim_closed(&w->trim_seen, w->nconns, w->draining);
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
    struct conn *c = container_of(io, struct conn, io);
    if (c->freed)
        return;
    if (events & (EV_READ | EV_ERROR))
        c->rd_ready = true;
    if (events & (EV_HUP | EV_ERROR))
        c->rd_hup = true;
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
