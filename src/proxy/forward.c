/* The exchange with the backend for one request: connect, send the rewritten head and the
 * body (streamed, with backpressure), read and check the response head, relay the body, and
 * hand a valid WebSocket 101 over to the tunnel. */
#include "proxy/conn.h"

#include "core/container.h"
#include "http/h1_write.h"
#include "net/sock.h"
#include "obs/log.h"
#include "proxy/upstream.h"
#include "conf/vars.h"
#include "proxy/balancer.h"
#include "proxy/gen.h"
#include "proxy/http_vars.h"
#include "tls/tls_stream.h"
#include "ws/ws_handshake.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A pump pass stops after this many rounds so one busy connection cannot starve the others;
 * it resumes from the loop's deferred phase. */
#define PUMP_ROUNDS 16

static void on_upstream_io(struct ev_loop *loop, struct ev_io *io, unsigned events);

/* Request headers the gateway owns or rewrites; the client's values are not forwarded. Names
 * with '_' are dropped too, as nginx does by default (underscores_in_headers off). */
static bool dropped_request_header(const struct h1_request *req, struct str name)
{
    static const struct str own[] = { STR_LIT("Host"), STR_LIT("X-Forwarded-For"),
                                      STR_LIT("X-Real-IP"), STR_LIT("X-Forwarded-Proto"),
                                      STR_LIT("Expect"), STR_LIT("Content-Length") };
    if (h1_is_hop_by_hop(name) || memchr(name.p, '_', name.len))
        return true; /* '_' names: CGI-style backends fold them onto X-Real-IP and friends */
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (str_eq_nocase(name, own[i]))
            return true;
    /* Headers named by Connection are hop-by-hop too (RFC 9110 §7.6.1). */
    for (size_t i = 0; i < req->nheaders; i++)
        if (str_eq_nocase(req->headers[i].name, STR_LIT("Connection")) &&
            h1_has_token(req->headers[i].value, name))
            return true;
    return false;
}

/* Appends path with the bytes a request-target cannot carry raw %-escaped (the normalized path
 * is decoded). */
static void write_escaped_path(struct h1_writer *w, struct str path)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < path.len; i++) {
        unsigned char ch = (unsigned char)path.p[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("%?#\"<>\\^`{|}", ch)) {
            char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
            h1w_mem(w, esc, 3);
        } else {
            h1w_mem(w, (const char *)&ch, 1);
        }
    }
}

/* The request-target sent upstream, as nginx's proxy_pass: without a URI part the client's
 * target unchanged (or the rewritten URI); with one, the location prefix of the normalized
 * path replaced by it, so "/x/../secret" can never leave the target's path. */
static void write_target(struct h1_writer *w, const struct conn *c, const struct h1_request *req)
{
    const struct loc_conf *lc = c->lc;
    struct str uri = str_make(c->uri, c->uri_len);
    if (!lc->proxy.has_uri && !c->uri_rewritten && req->target.len && req->target.p[0] == '/') {
        h1w_str(w, req->target);
        return;
    }
    /* nginx: a URI changed by a rewrite in this location is sent whole; the URI part of
     * proxy_pass only replaces the prefix of the request's own URI. */
    if (lc->proxy.has_uri && !lc->regex && !c->uri_rewritten) {
        size_t plen = lc->prefix.len <= uri.len ? lc->prefix.len : uri.len;
        h1w_str(w, lc->proxy.uri);
        uri.p += plen;
        uri.len -= plen;
    }
    write_escaped_path(w, uri);
    if (c->args) {
        h1w_mem(w, "?", 1);
        h1w_mem(w, c->args, c->args_len);
    }
}

static const struct hdr_set *find_set_header(const struct proxy_conf *pc, struct str name)
{
    const struct hdr_set *found = NULL;
    for (size_t i = 0; i < pc->nset_headers; i++)
        if (str_eq_nocase(pc->set_headers[i].name, name))
            found = &pc->set_headers[i]; /* the last one wins */
    return found;
}

/* Writes "Name: value" for a proxy_set_header line; an empty value removes the header. */
static void write_set_header(struct h1_writer *w, struct req_vars *rv, const struct hdr_set *h)
{
    char val[4096];
    rv->scratch_used = 0;
    long n = var_eval(h->value, http_var_get, rv, val, sizeof(val));
    if (n > 0)
        h1w_header(w, h->name, str_make(val, (size_t)n));
}

/* Host, X-Forwarded-For, X-Real-IP, X-Forwarded-Proto: a proxy_set_header line wins, else the
 * gateway's value (Host: nginx's $proxy_host, the upstream's name or address). */
static void write_forwarding_headers(struct h1_writer *w, struct conn *c,
                                     const struct h1_request *req, struct req_vars *rv)
{
    const struct proxy_conf *pc = &c->lc->proxy;
    const struct hdr_set *h;
    if ((h = find_set_header(pc, STR_LIT("Host"))))
        write_set_header(w, rv, h);
    else
        h1w_header(w, STR_LIT("Host"), str_from_cstr(pc->group->host_header));
    if ((h = find_set_header(pc, STR_LIT("X-Forwarded-For")))) {
        write_set_header(w, rv, h);
    } else {
        bool xff = false;
        for (size_t i = 0; i < req->nheaders; i++) {
            const struct h1_header *hd = &req->headers[i];
            if (str_eq_nocase(hd->name, STR_LIT("X-Forwarded-For"))) {
                h1w_cstr(w, xff ? ", " : "X-Forwarded-For: ");
                h1w_str(w, hd->value);
                xff = true;
            }
        }
        h1w_cstr(w, xff ? ", " : "X-Forwarded-For: ");
        h1w_cstr(w, c->peer_ip);
        h1w_cstr(w, "\r\n");
    }
    if ((h = find_set_header(pc, STR_LIT("X-Real-IP"))))
        write_set_header(w, rv, h);
    else
        h1w_header(w, STR_LIT("X-Real-IP"), str_from_cstr(c->peer_ip));
    if ((h = find_set_header(pc, STR_LIT("X-Forwarded-Proto"))))
        write_set_header(w, rv, h);
    else
        h1w_header(w, STR_LIT("X-Forwarded-Proto"),
                   c->lst->tls ? STR_LIT("https") : STR_LIT("http"));
}

static bool gateway_owned(struct str name)
{
    static const struct str owned[] = { STR_LIT("Host"), STR_LIT("X-Forwarded-For"),
                                        STR_LIT("X-Real-IP"), STR_LIT("X-Forwarded-Proto"),
                                        STR_LIT("Connection"), STR_LIT("Upgrade"),
                                        STR_LIT("Content-Length"), STR_LIT("Transfer-Encoding") };
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (str_eq_nocase(name, owned[i]))
            return true;
    return false;
}

static char *build_request_head(struct conn *c, const struct h1_request *req, struct req_vars *rv,
                                size_t *len)
{
    const struct proxy_conf *pc = &c->lc->proxy;
    size_t cap = 8192 + req->target.len + c->uri_len + c->args_len + pc->uri.len;
    for (size_t i = 0; i < req->nheaders; i++)
        cap += req->headers[i].name.len + req->headers[i].value.len + 4;
    cap += pc->nset_headers * 4200;
    char *p = malloc(cap);
    if (!p)
        return NULL;
    struct h1_writer w;
    h1w_init(&w, p, cap);
    h1w_str(&w, req->method);
    h1w_mem(&w, " ", 1);
    write_target(&w, c, req);
    int minor = c->is_ws ? 1 : (req->minor == 0 ? 0 : pc->http_minor);
    h1w_cstr(&w, minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    write_forwarding_headers(&w, c, req, rv);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct h1_header *h = &req->headers[i];
        if (!dropped_request_header(req, h->name) && !find_set_header(pc, h->name))
            h1w_header(&w, h->name, h->value);
    }
    for (size_t i = 0; i < pc->nset_headers; i++) {
        const struct hdr_set *h = &pc->set_headers[i];
        /* Upgrade and Connection belong to the gateway: it forwards genuine upgrades itself
         * and never sends "Connection: upgrade" on a request that is not one. */
        if (!gateway_owned(h->name) && find_set_header(pc, h->name) == h)
            write_set_header(&w, rv, h);
    }
    if (c->is_ws)
        h1w_cstr(&w, "Connection: Upgrade\r\nUpgrade: websocket\r\n");
    else
        h1w_cstr(&w, "Connection: close\r\n");
    if (req->body == H1_BODY_LENGTH) {
        h1w_cstr(&w, "Content-Length: ");
        h1w_uint(&w, req->content_length);
        h1w_mem(&w, "\r\n", 2);
    } else if (req->body == H1_BODY_CHUNKED) {
        h1w_cstr(&w, "Transfer-Encoding: chunked\r\n");
    }
    h1w_mem(&w, "\r\n", 2);
    if (w.overflow) {
        free(p);
        return NULL;
    }
    *len = w.len;
    return p;
}

static void upstream_failed(struct conn *c, int status, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s %s", c->target ? c->target->url : "backend", what);
    log_error("%s (client %s, request \"%s\")", msg, c->peer_ip, c->req_line);
    conn_fail(c, status, msg);
}

static int connect_next(struct conn *c);

/* A connect failed or timed out: mark the peer, then try the next one when the location allows
 * it (nginx's proxy_next_upstream error timeout), else answer 502/504. */
static void attempt_failed(struct conn *c, int err, bool timeout)
{
    const struct proxy_conf *pc = &c->lc->proxy;
    const struct upstream_target *t = c->target;
    lb_done(pc->group->lb, c->up_peer, true, ev_now(&c->w->loop));
    char msg[512];
    bool ws = c->is_ws || strncmp(t->url, "ws", 2) == 0;
    if (timeout)
        snprintf(msg, sizeof(msg), "connection to %s timed out (connect timeout)", t->url);
    else if (err == ECONNREFUSED)
        snprintf(msg, sizeof(msg), "connection to %s refused — is the %s service running?",
                 t->url, ws ? "WebSocket" : "backend");
    else
        snprintf(msg, sizeof(msg), "connection to %s failed: %s", t->url,
                 stream_errno_reason(err));
    log_error("%s (client %s, request \"%s\")", msg, c->peer_ip, c->req_line);
    unsigned want = timeout ? NEXT_UPSTREAM_TIMEOUT : NEXT_UPSTREAM_ERROR;
    bool more = (pc->next_upstream & want) && c->up_tries < pc->group->ntargets &&
                (!pc->next_tries || c->up_tries < pc->next_tries);
    forward_close_upstream_leg(c);
    if (more && connect_next(c) == 0)
        return;
    if (c->closing)
        return;
    conn_fail(c, timeout ? 504 : 502, msg);
}

/* Picks a peer and starts connecting to it. Returns 0 when a connect is under way, -1 when no
 * peer is left (the caller answers). */
static int connect_next(struct conn *c)
{
    const struct proxy_conf *pc = &c->lc->proxy;
    struct upstream_leg *up = &c->up;
    for (;;) {
        struct str key = STR_NULL;
        if (pc->group->hash_key) {
            key = str_make(c->hash_key, c->hash_key_len);
        } else if (c->peer.ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)&c->peer.ss;
            key = str_make((const char *)a->sin6_addr.s6_addr, 16); /* ip_hash: raw bytes */
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)&c->peer.ss;
            key = str_make((const char *)&a->sin_addr, 4);
        }
        int peer = lb_pick(pc->group->lb, key, (struct lb_tried *)&c->tried, ev_now(&c->w->loop));
        if (peer < 0)
            return -1;
        c->tried.bits[peer / 64] |= 1ull << (peer % 64);
        c->up_tries++;
        c->up_peer = peer;
        c->target = &pc->group->targets[peer];
        int fd = sock_connect(&c->target->addr);
        if (fd < 0) {
            int err = errno;
            lb_done(pc->group->lb, peer, true, ev_now(&c->w->loop));
            log_error("connection to %s failed: %s", c->target->url, stream_errno_reason(err));
            if (!(pc->next_upstream & NEXT_UPSTREAM_ERROR) || c->up_tries >= pc->group->ntargets)
                return -1;
            continue;
        }
        if (pc->tls) {
            if (tls_stream_init_client(&up->s, fd, c->w->upstream_ssl, c->target->host) < 0) {
                close(fd);
                return -1;
            }
        } else {
            stream_plain_init(&up->s, fd);
        }
        up->open = true;
        up->connecting = true;
        up->rd_ready = up->rd_hup = false; /* a new socket: nothing to read until epoll says */
        up->handshaken = !pc->tls;
        up->head_off = 0;
        ev_io_init(&up->io, fd, on_upstream_io);
        ev_timer_start(&c->w->loop, &c->timer, pc->connect_ms);
        if (ev_io_set(&c->w->loop, &up->io, EV_WRITE) < 0)
            return -1;
        return 0;
    }
}

void forward_start(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    struct upstream_leg *up = &c->up;
    if (c->lc->proxy.group->hash_key) { /* evaluated now, while the request head is at hand */
        char key[1024];
        rv->scratch_used = 0;
        long n = var_eval(c->lc->proxy.group->hash_key, http_var_get, rv, key, sizeof(key));
        c->hash_key = strndup(key, n > 0 ? (size_t)n : 0);
        c->hash_key_len = n > 0 ? (size_t)n : 0;
    }
    up->head = build_request_head(c, req, rv, &up->head_len);
    up->head_off = 0;
    if (!up->head) {
        conn_fail(c, 500, "cannot build the backend request (head too large)");
        return;
    }
    if (req->expect_continue && req->body != H1_BODY_NONE) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        buf_append(&c->out, cont, sizeof(cont) - 1);
    }
    c->phase = PH_FORWARD;
    if (connect_next(c) < 0) {
        if (!c->closing) {
            char msg[512];
            snprintf(msg, sizeof(msg), "no live upstream in \"%s\" (every server failed "
                     "recently or is down)", c->lc->proxy.group->name);
            log_error("%s (client %s, request \"%s\")", msg, c->peer_ip, c->req_line);
            conn_fail(c, 502, msg);
        }
        return;
    }
    /* Nothing more to do until the connect completes: the client is not read meanwhile. */
    ev_io_set(&c->w->loop, &c->io, buf_len(&c->out) ? c->s.wr_wait : 0);
}

/* Closes the backend socket of this attempt but keeps the request head for a retry. */
void forward_close_upstream_leg(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    buf_free(&up->in);
    if (!up->open)
        return;
    ev_io_remove(&c->w->loop, &up->io);
    stream_close(&up->s);
    up->open = up->connecting = up->eof = up->shut = up->handshaken = false;
}

void forward_close_upstream(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    free(up->head);
    up->head = NULL;
    if (up->open && c->lc && c->lc->handler == HANDLER_PROXY && c->target)
        lb_done(c->lc->proxy.group->lb, c->up_peer, false, ev_now(&c->w->loop));
    forward_close_upstream_leg(c);
}

/* ---- request body: client → backend ---- */

/* Bytes at the front of `in` that belong to the request body and may be sent now. */
static long request_body_ready(struct conn *c)
{
    size_t have = buf_len(&c->in);
    if (c->req_body == H1_BODY_LENGTH)
        return (long)(have < c->req_left ? have : c->req_left);
    if (c->req_ready < have && !c->req_ck_done) {
        bool done = false;
        long k = h1_chunked_scan(&c->req_ck, buf_readp(&c->in) + c->req_ready,
                                 have - c->req_ready, &done);
        if (k < 0)
            return -1;
        c->req_ready += (size_t)k;
        c->req_ck_done = done;
        uint64_t max = c->max_body;
        if (max && h1_chunked_data_bytes(&c->req_ck) > max)
            return -2;
    }
    return (long)c->req_ready;
}

/* Returns 1 on progress, 0 when blocked, -1 when the connection is closing. */
static int pump_request_body(struct conn *c)
{
    if (c->req_done || c->up.head || c->up.connecting || !c->up.handshaken)
        return 0;
    long ready = request_body_ready(c);
    if (ready == -1) {
        conn_fail(c, 400, c->req_ck.reason ? c->req_ck.reason : "malformed chunked body");
        return -1;
    }
    if (ready == -2) {
        conn_fail(c, 413, "request body larger than the limit");
        return -1;
    }
    if (ready > 0) {
        ssize_t r = stream_write(&c->up.s, buf_readp(&c->in), (size_t)ready);
        if (r == STREAM_AGAIN)
            return 0;
        if (r < 0) {
            upstream_failed(c, 502, c->up.s.err ? c->up.s.err : "failed while sending the body");
            return -1;
        }
        buf_consume(&c->in, (size_t)r);
        c->last_active_ms = ev_now(&c->w->loop);
        if (c->req_body == H1_BODY_LENGTH)
            c->req_left -= (uint64_t)r;
        else
            c->req_ready -= (size_t)r;
    }
    if ((c->req_body == H1_BODY_LENGTH && c->req_left == 0) ||
        (c->req_body == H1_BODY_CHUNKED && c->req_ck_done && c->req_ready == 0)) {
        c->req_done = true;
        c->last_active_ms = ev_now(&c->w->loop); /* the response is due from now on */
        return 1;
    }
    if (ready > 0)
        return 1;
    /* Need more body from the client. */
    if (c->client_eof || buf_reserve(&c->in) < 0 || buf_room(&c->in) == 0)
        return 0;
    ssize_t r = stream_read(&c->s, buf_writep(&c->in), buf_room(&c->in));
    if (r > 0) {
        c->in.tail += (unsigned)r;
        c->bytes_from_client += (uint64_t)r;
        c->last_active_ms = ev_now(&c->w->loop);
        return 1;
    }
    buf_release_if_empty(&c->in);
    if (r == STREAM_AGAIN)
        return 0;
    c->client_eof = true;
    conn_close(c, r == 0 ? "client closed while sending the request body" : c->s.err);
    return -1;
}

/* ---- response: backend → client ---- */

/* Response headers the gateway owns: hop-by-hop ones, those named by Connection, and the
 * framing (Content-Length is written by the gateway from what it relays). */
static bool dropped_response_header(const struct conn *c, const struct h1_response *resp,
                                    struct str name)
{
    if (h1_is_hop_by_hop(name) || str_eq_nocase(name, STR_LIT("Content-Length")))
        return true;
    const struct proxy_conf *pc = &c->lc->proxy;
    for (size_t i = 0; i < pc->nhide_headers; i++)
        if (str_eq_nocase(name, pc->hide_headers[i]))
            return true;
    for (size_t i = 0; i < resp->nheaders; i++)
        if (str_eq_nocase(resp->headers[i].name, STR_LIT("Connection")) &&
            h1_has_token(resp->headers[i].value, name))
            return true;
    return false;
}

/* Checks a backend's 101 against RFC 6455 §4.1 (the client-side checks a browser makes). */
static const char *bad_upgrade_response(const struct conn *c, const struct h1_response *resp)
{
    if (!resp->upgrade.p || !h1_has_token(resp->upgrade, STR_LIT("websocket")))
        return "answered 101 without \"Upgrade: websocket\"";
    if (!resp->conn_upgrade)
        return "answered 101 without \"Connection: upgrade\"";
    struct str accept = h1_find_header(resp->headers, resp->nheaders,
                                       STR_LIT("Sec-WebSocket-Accept"));
    if (!accept.p || !ws_accept_matches(str_from_cstr(c->ws_key), accept))
        return "answered 101 with a wrong Sec-WebSocket-Accept";
    return NULL;
}

static int send_response_head(struct conn *c, const struct h1_response *resp)
{
    char head[BUF_CHUNK];
    struct h1_writer w;
    h1w_init(&w, head, sizeof(head));
    h1w_cstr(&w, c->minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    h1w_uint(&w, (unsigned)resp->status);
    h1w_mem(&w, " ", 1);
    if (resp->reason.len)
        h1w_str(&w, resp->reason);
    else
        h1w_cstr(&w, h1_status_text(resp->status));
    h1w_mem(&w, "\r\n", 2);
    for (size_t i = 0; i < resp->nheaders; i++)
        if (!dropped_response_header(c, resp, resp->headers[i].name))
            h1w_header(&w, resp->headers[i].name, resp->headers[i].value);
    if (resp->status == 101) {
        h1w_cstr(&w, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    } else {
        struct str cl = h1_find_header(resp->headers, resp->nheaders, STR_LIT("Content-Length"));
        if (resp->body == H1_BODY_LENGTH || (cl.p && resp->body == H1_BODY_NONE)) {
            h1w_cstr(&w, "Content-Length: ");
            h1w_uint(&w, resp->content_length);
            h1w_mem(&w, "\r\n", 2);
        }
        if (resp->body == H1_BODY_CHUNKED)
            h1w_cstr(&w, "Transfer-Encoding: chunked\r\n");
        if (resp->body == H1_BODY_UNTIL_CLOSE || c->w->draining || !c->req_done)
            c->keep_alive = false;
        if (!c->keep_alive)
            h1w_cstr(&w, "Connection: close\r\n");
        else if (c->minor == 0)
            h1w_cstr(&w, "Connection: keep-alive\r\n");
    }
    const char *loc_hdrs = conn_location_headers(c, resp->status);
    if (loc_hdrs)
        h1w_cstr(&w, loc_hdrs);
    h1w_mem(&w, "\r\n", 2);
    if (w.overflow || buf_append(&c->out, head, w.len) < 0)
        return -1;
    c->status = resp->status;
    c->resp_head_sent = true;
    c->resp_body = resp->body;
    c->resp_left = resp->content_length;
    c->resp_ready = 0;
    h1_chunked_init(&c->resp_ck);
    c->resp_ck_done = false;
    return 0;
}

/* Parses the response head in up.in. Returns 1 when handled, 0 when more bytes are needed,
 * -1 when the connection is closing or became a tunnel. */
static int take_response_head(struct conn *c)
{
    struct h1_header hdrs[128];
    struct h1_response resp;
    struct h1_error err;
    const struct proxy_settings *ps = c->w->ps;
    size_t maxh = ps->limits.max_headers < 128 ? ps->limits.max_headers : 128;
    struct h1_limits lim = ps->limits;
    lim.max_head = BUF_CHUNK - 512; /* the rewritten head must fit in `out` */
    int n = h1_parse_response(buf_readp(&c->up.in), buf_len(&c->up.in), &lim, hdrs, maxh,
                              c->is_head, &resp, &err);
    if (n == H1_INCOMPLETE)
        return 0;
    if (n == H1_INVALID) {
        char what[256];
        snprintf(what, sizeof(what), "sent an invalid HTTP response: %s", err.reason);
        upstream_failed(c, 502, what);
        return -1;
    }
    if (resp.status >= 100 && resp.status < 200 && resp.status != 101) {
        buf_consume(&c->up.in, (size_t)n); /* interim responses are not relayed */
        return 1;
    }
    if (resp.status == 101) {
        const char *bad = c->is_ws ? bad_upgrade_response(c, &resp)
                                   : "switched protocols on a request that was not an upgrade";
        if (bad) {
            upstream_failed(c, 502, bad);
            return -1;
        }
    }
    if (send_response_head(c, &resp) < 0) {
        upstream_failed(c, 502, "sent a response head too large to relay");
        return -1;
    }
    buf_consume(&c->up.in, (size_t)n);
    if (resp.status == 101) {
        tunnel_start(c);
        return -1;
    }
    return 1;
}

/* Bytes at the front of up.in that belong to the response body. */
static long response_body_ready(struct conn *c)
{
    size_t have = buf_len(&c->up.in);
    switch (c->resp_body) {
    case H1_BODY_NONE:
        return 0;
    case H1_BODY_LENGTH:
        return (long)(have < c->resp_left ? have : c->resp_left);
    case H1_BODY_UNTIL_CLOSE:
        return (long)have;
    case H1_BODY_CHUNKED:
        if (c->resp_ready < have && !c->resp_ck_done) {
            bool done = false;
            long k = h1_chunked_scan(&c->resp_ck, buf_readp(&c->up.in) + c->resp_ready,
                                     have - c->resp_ready, &done);
            if (k < 0)
                return -1;
            c->resp_ready += (size_t)k;
            c->resp_ck_done = done;
        }
        return (long)c->resp_ready;
    }
    return 0;
}

static bool response_complete(const struct conn *c)
{
    if (buf_len(&c->out))
        return false;
    switch (c->resp_body) {
    case H1_BODY_NONE:
        return true;
    case H1_BODY_LENGTH:
        return c->resp_left == 0;
    case H1_BODY_CHUNKED:
        return c->resp_ck_done && c->resp_ready == 0;
    case H1_BODY_UNTIL_CLOSE:
        return c->up.eof && buf_len(&c->up.in) == 0;
    }
    return true;
}

static int relay_response_body(struct conn *c)
{
    long ready = response_body_ready(c);
    if (ready < 0) {
        conn_close(c, "backend sent a malformed chunked body");
        return -1;
    }
    size_t before_out = buf_len(&c->out);
    ssize_t w = conn_write_client(c, ready > 0 ? buf_readp(&c->up.in) : NULL, (size_t)ready);
    if (w < 0)
        return -1;
    if (w > 0) {
        buf_consume(&c->up.in, (size_t)w);
        if (c->resp_body == H1_BODY_LENGTH)
            c->resp_left -= (uint64_t)w;
        else if (c->resp_body == H1_BODY_CHUNKED)
            c->resp_ready -= (size_t)w;
    }
    return (w > 0 || buf_len(&c->out) < before_out) ? 1 : 0;
}

/* Reads from the backend into up.in. Returns 1 on progress, 0 when blocked, -1 closing. */
static int read_backend(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    if (up->eof || !up->handshaken || up->connecting)
        return 0;
    /* Nothing came since the last EAGAIN: the (level-triggered) loop will say when it does. A
     * read right after the request went out, and another in the pump's next round, found
     * nothing on nearly every request: two syscalls per request (strace). */
    if (!up->rd_ready && !up->rd_hup && !tls_stream_pending(&up->s))
        return 0;
    if (buf_reserve(&up->in) < 0 || buf_room(&up->in) == 0)
        return 0;
    ssize_t r = stream_read(&up->s, buf_writep(&up->in), buf_room(&up->in));
    if (r > 0) {
        up->in.tail += (unsigned)r;
        c->last_active_ms = ev_now(&c->w->loop);
        return 1;
    }
    buf_release_if_empty(&up->in);
    if (r == STREAM_AGAIN) {
        if (up->s.rd_wait == EV_READ) /* OpenSSL may wait to write: then read again after */
            up->rd_ready = false;
        return 0;
    }
    up->eof = true;
    if (!c->resp_head_sent) {
        upstream_failed(c, 502, r == 0 ? "closed the connection without sending a response"
                                       : up->s.err);
        return -1;
    }
    if (c->resp_body != H1_BODY_UNTIL_CLOSE && !response_complete(c) &&
        !(c->resp_body == H1_BODY_LENGTH && buf_len(&up->in) >= c->resp_left)) {
        log_warn("%s closed the connection in the middle of a response (client %s, request "
                 "\"%s\")", c->target->url, c->peer_ip, c->req_line);
        c->keep_alive = false;
        c->close_reason = "backend closed in the middle of the response";
    }
    return 1;
}

static int pump_response(struct conn *c)
{
    int progress = 0;
    if (!c->resp_head_sent) {
        if (buf_len(&c->up.in)) {
            int r = take_response_head(c);
            if (r != 0)
                return r;
            if (buf_full(&c->up.in)) {
                upstream_failed(c, 502, "sent a response head larger than 16 KiB");
                return -1;
            }
        }
        return read_backend(c);
    }
    int r = relay_response_body(c);
    if (r < 0)
        return -1;
    progress |= r;
    if (!response_complete(c)) {
        r = read_backend(c);
        if (r < 0)
            return -1;
        progress |= r;
        if (c->up.eof && !buf_len(&c->up.in) && !response_complete(c) && !buf_len(&c->out)) {
            conn_close(c, "backend closed in the middle of the response");
            return -1;
        }
    }
    return progress;
}

/* ---- the driver ---- */

static int send_head(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    if (!up->head || up->connecting || !up->handshaken)
        return 0;
    ssize_t r = stream_write(&up->s, up->head + up->head_off, up->head_len - up->head_off);
    if (r == STREAM_AGAIN)
        return 0;
    if (r < 0) {
        upstream_failed(c, 502, up->s.err ? up->s.err : "failed while sending the request");
        return -1;
    }
    up->head_off += (size_t)r;
    c->last_active_ms = ev_now(&c->w->loop);
    if (up->head_off == up->head_len) {
        free(up->head);
        up->head = NULL;
    }
    return 1;
}

static int backend_handshake(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    if (up->handshaken || up->connecting)
        return 0;
    int r = stream_handshake(&up->s);
    if (r == STREAM_AGAIN)
        return 0;
    if (r < 0) {
        upstream_failed(c, 502, "TLS handshake with the backend failed");
        return -1;
    }
    up->handshaken = true;
    return 1;
}

static void update_interest(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    unsigned uw = 0, cw = 0;
    if (up->connecting) {
        uw = EV_WRITE;
    } else if (!up->handshaken) {
        uw = up->s.rd_wait;
    } else {
        bool body_ready = !c->req_done && buf_len(&c->in) > 0 &&
                          (c->req_body == H1_BODY_LENGTH || c->req_ready > 0);
        if (up->head || body_ready)
            uw |= up->s.wr_wait;
        if (!up->eof && !c->resp_done && buf_room(&up->in) > 0)
            uw |= up->s.rd_wait;
        if (!c->req_done && !up->head && !c->client_eof && buf_room(&c->in) > 0 && !body_ready)
            cw |= c->s.rd_wait;
    }
    if (buf_len(&c->out) || (c->resp_head_sent && buf_len(&up->in)))
        cw |= c->s.wr_wait;
    if (ev_io_set(&c->w->loop, &up->io, uw) < 0 || ev_io_set(&c->w->loop, &c->io, cw) < 0)
        conn_close(c, "epoll failed");
}

static void pump_again(struct ev_loop *loop, struct ev_defer *d)
{
    (void)loop;
    struct conn *c = container_of(d, struct conn, resume);
    if (!c->closing && c->phase == PH_FORWARD)
        forward_on_event(c);
}

void forward_on_event(struct conn *c)
{
    /* An interim "100 Continue" waits in `out` until the response head replaces it. */
    if (!c->resp_head_sent && buf_len(&c->out) && conn_write_client(c, NULL, 0) < 0)
        return;
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        int p = backend_handshake(c);
        if (p >= 0)
            p |= send_head(c);
        if (p >= 0)
            p |= pump_request_body(c);
        if (p >= 0)
            p |= pump_response(c);
        if (p < 0 || c->closing || c->phase != PH_FORWARD)
            return;
        if (c->resp_head_sent && response_complete(c)) {
            c->resp_done = true;
            if (!c->req_done)
                c->keep_alive = false; /* the backend answered before reading the whole body */
            conn_request_done(c);
            return;
        }
        if (!p) {
            update_interest(c);
            return;
        }
    }
    update_interest(c);
    if (c->closing)
        return;
    c->resume.cb = pump_again;
    ev_defer_queue(&c->w->loop, &c->resume);
}

static void on_upstream_io(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)loop;
    struct upstream_leg *up = container_of(io, struct upstream_leg, io);
    struct conn *c = container_of(up, struct conn, up);
    if (c->freed)
        return;
    if (events & (EV_READ | EV_ERROR))
        up->rd_ready = true;
    if (events & (EV_HUP | EV_ERROR))
        up->rd_hup = true;
    if (up->connecting) {
        if (!(events & (EV_WRITE | EV_ERROR)))
            return;
        if (sock_connect_result(up->io.fd) < 0) {
            attempt_failed(c, errno, false);
            return;
        }
        up->connecting = false;
        c->last_active_ms = ev_now(&c->w->loop);
        ev_timer_start(&c->w->loop, &c->timer, c->lc->proxy.read_ms);
    }
    if (c->phase == PH_TUNNEL)
        tunnel_on_event(c);
    else if (c->phase == PH_FORWARD)
        forward_on_event(c);
}

/* One timer, lazily re-armed: while the request body flows, send_ms of no progress either way
 * ends it; afterwards read_ms of backend silence. Progress only moves last_active_ms. */
void forward_on_timeout(struct conn *c)
{
    if (c->up.connecting) {
        attempt_failed(c, ETIMEDOUT, true);
        return;
    }
    const struct proxy_conf *pc = &c->lc->proxy;
    unsigned limit = c->req_done ? pc->read_ms : pc->send_ms;
    uint64_t idle = ev_now(&c->w->loop) - c->last_active_ms;
    if (idle < limit) {
        ev_timer_start(&c->w->loop, &c->timer, limit - idle);
        return;
    }
    if (!c->req_done) {
        if (buf_len(&c->in))
            upstream_failed(c, 504, "stopped accepting the request body (send timeout)");
        else
            conn_fail(c, 408, "the request body did not arrive in time");
        return;
    }
    if (!c->resp_head_sent) {
        upstream_failed(c, 504, "did not answer in time (read timeout)");
        return;
    }
    conn_close(c, "backend stopped sending the response (read timeout)");
}
