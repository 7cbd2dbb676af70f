/* One client connection: TLS handshake, HTTP/1.1 requests (keep-alive, pipelining), local
 * responses, forwarding to a backend, and the WebSocket tunnel after a 101.
 *
 * Phases (who moves them):
 *
 *   TLS_HANDSHAKE ──ok──▶ READ_HEAD ──head parsed──▶ dispatch
 *                            ▲                         │ local (page, redirect, error)
 *                            │                         ├────────▶ RESPOND ──flushed──▶ READ_HEAD
 *                            │ response done,          │                      (or CLOSING)
 *                            │ keep-alive              │ proxy
 *                            └──────────────────── FORWARD ──valid 101──▶ TUNNEL ──both closed──▶ free
 *   any phase ──fatal error / timeout / drain──▶ CLOSING (flush what is queued) ──▶ free
 *
 * conn.c owns the client side, local responses and closing; request.c (with serve_static.c)
 * the request phases and the handler choice; forward.c the exchange with the backend; tunnel.c
 * the byte pump after the upgrade. The struct is shared by those files only. */
#ifndef WSSGATE_PROXY_CONN_H
#define WSSGATE_PROXY_CONN_H

#include "core/buf.h"
#include "core/mem_trim.h"
#include "core/str.h"
#include "ev/loop.h"
#include "http/h1_chunked.h"
#include "http/h1_parse.h"
#include "net/addr.h"
#include "net/stream.h"
#include "proxy/balancer.h"
#include "ws/ws_track.h"

#include <openssl/ssl.h>
#include <stdint.h>

struct gen;
struct gen_listen;
struct upstream_target;
struct srv_conf;
struct loc_conf;
struct req_vars;

/* Timeouts (milliseconds) and limits of one configuration generation. */
struct proxy_settings {
    unsigned handshake_ms;  /* TLS handshake */
    unsigned header_ms;     /* a started request head */
    unsigned keepalive_ms;  /* idle between requests */
    unsigned connect_ms;    /* backend connect */
    unsigned read_ms;       /* backend silent while a response is due */
    unsigned send_ms;       /* a peer not accepting bytes we have for it */
    unsigned tunnel_idle_ms;
    unsigned drain_ms;      /* graceful stop: how long tunnels may run on */
    uint64_t max_body;      /* request body limit, 0 = none */
    struct h1_limits limits;
};

/* What a listening socket serves. Belongs to the configuration generation. */
struct conn_listener {
    bool tls;
    SSL_CTX *ssl_ctx;
    int port;
    struct gen *gen;
    const struct gen_listen *gl;
};

/* The per-thread state connections need; embedded in the worker. */
struct conn_worker {
    struct ev_loop loop;
    struct conn *conns;      /* all live connections of this thread (for drain) */
    size_t nconns;
    struct mem_trim_seen trim_seen;
    bool draining;
    uint64_t drain_deadline; /* ev_now() ms after which tunnels are closed with 1001 */
    const struct proxy_settings *ps;
    SSL_CTX *upstream_ssl;   /* client context for wss:// and https:// backends */
};

enum conn_phase { PH_TLS_HANDSHAKE, PH_READ_HEAD, PH_RESPOND, PH_FORWARD, PH_TUNNEL, PH_CLOSING };

struct upstream_leg {
    struct stream s;
    struct ev_io io;
    struct buf in;           /* bytes from the backend */
    char *head;              /* request head being sent (malloc), then NULL */
    size_t head_len, head_off;
    bool connecting;
    bool handshaken;         /* TLS done, or a plain backend */
    bool rd_ready;           /* readable as far as we know: epoll said so, no EAGAIN since */
    bool rd_hup;             /* epoll said the backend's FIN is in: read on to the EOF */
    bool eof;                /* backend sent FIN */
    bool shut;               /* we sent FIN to the backend */
    bool open;
};

struct conn {
    struct conn_worker *w;
    struct conn *prev, *next;
    const struct conn_listener *lst;
    enum conn_phase phase;
    struct stream s;
    struct ev_io io;
    struct ev_timer timer;
    struct ev_defer closer;
    struct ev_defer resume;      /* serve the next pipelined request after this turn */
    struct buf in;               /* bytes from the client */
    struct buf out;              /* bytes generated here for the client, sent before relayed ones */
    struct net_addr peer;
    char peer_ip[46];
    uint64_t req_started_ms, last_active_ms;
    bool client_eof, client_shut, closing, freed;
    bool rd_ready;               /* client readable as far as we know (tunnel pump) */
    bool rd_hup;                 /* epoll said the client's FIN is in: read on to the EOF */
    bool keep_alive;
    bool close_after_response;
    bool logged;                 /* the access-log line of this request is written */
    bool head_timer_armed;       /* the request-head timer runs (not re-armed per byte) */

    /* the request being served */
    char *req_line;             /* "GET /path HTTP/1.1" for logs (malloc) */
    char *uri;                  /* normalized path: routing and prefix replacement use it (malloc) */
    size_t uri_len;
    bool is_head, is_ws;
    int minor;
    char ws_key[32];
    const struct srv_conf *srv;   /* chosen by Host */
    const struct loc_conf *lc;    /* the location serving the request (or the server's top) */
    char *args;                   /* query string (malloc), after rewrites */
    size_t args_len;
    char *hdrs_ok, *hdrs_always;  /* add_header/expires lines for this request (malloc) */
    int file_fd;                  /* a static file being sent, or -1 */
    uint64_t file_left;
    uint64_t max_body;
    int redirects;                /* internal redirects so far */
    bool uri_rewritten;           /* a rewrite or internal redirect replaced the URI */
    const struct h1_request *cur_req; /* the head being dispatched (NULL outside dispatch) */
    char *hash_key;               /* `hash KEY` evaluated for this request (malloc) */
    size_t hash_key_len;
    bool in_error_page;
    int error_status;
    int up_peer;                  /* balancer peer of the current attempt */
    const struct upstream_target *target; /* its address and URL */
    unsigned up_tries;
    struct lb_tried tried;
    struct h1_chunked req_ck;
    enum h1_body req_body;
    uint64_t req_left;           /* Content-Length bytes not yet forwarded */
    size_t req_ready;            /* bytes at the front of `in` scanned as chunked body */
    bool req_ck_done;
    bool req_done;

    /* the response */
    int status;
    const char *loc_body;        /* a local response body too large for `out` (static memory) */
    size_t loc_body_left;
    bool resp_head_sent;
    enum h1_body resp_body;
    uint64_t resp_left;
    size_t resp_ready;
    struct h1_chunked resp_ck;
    bool resp_ck_done;
    bool resp_done;
    uint64_t bytes_to_client, bytes_from_client;

    struct upstream_leg up;

    /* tunnel */
    struct ws_track trk_c2b, trk_b2c;
    bool drain_close_sent_client, drain_close_sent_backend;
    const char *close_reason;    /* static, or points to `detail` */
    char *detail;                /* copy of an error detail (malloc) */
};

/* Takes ownership of fd (accepted on a listener of w) and starts serving it. */
void conn_accept(struct conn_worker *w, int fd, const struct net_addr *peer,
                 const struct conn_listener *lst);

/* Graceful stop of one connection: idle ones close now, requests finish, tunnels are closed
 * with 1001 once the drain deadline passes. Called by the worker. */
void conn_drain(struct conn *c);

/* Closes now (worker shutdown past the deadline). */
void conn_abort(struct conn *c, const char *reason);

/* ---- shared between conn.c, forward.c and tunnel.c ---- */

/* Re-evaluates what to wait for on both fds and the timer. */
void conn_update_io(struct conn *c);
/* Starts closing: flush `out`, then free. */
void conn_close(struct conn *c, const char *reason);
/* Sends an error response (when none has started) and closes afterwards. detail is copied. */
void conn_fail(struct conn *c, int status, const char *detail);
/* The request finished (response relayed, body forwarded): log, reset, next request. */
void conn_request_done(struct conn *c);
/* Writes `out` then up to n bytes of p to the client. Returns bytes of p written, or -1 on a
 * fatal error (the connection is closing). */
ssize_t conn_write_client(struct conn *c, const char *p, size_t n);
/* Local responses: a body (copied into `out` when it fits), an HTML error page, or a file whose
 * fd is already in c->file_fd. Location headers (add_header, expires) are added. */
void conn_respond(struct conn *c, int status, const char *ctype, const char *body, size_t blen,
                  const char *extra_headers, bool apply_charset);
void conn_respond_error(struct conn *c, int status, const char *detail, const char *extra);
/* The add_header/expires lines that apply to a response with this status, or NULL. */
const char *conn_location_headers(const struct conn *c, int status);
void conn_respond_file(struct conn *c, int status, const char *ctype, uint64_t size,
                       const char *extra_headers);
/* Writes out the access-log line of the current request or tunnel. */
void conn_log_access(struct conn *c);

void forward_start(struct conn *c, const struct h1_request *req, struct req_vars *rv);
void forward_on_event(struct conn *c);
void forward_on_timeout(struct conn *c);
void forward_close_upstream(struct conn *c);
void forward_close_upstream_leg(struct conn *c);

void tunnel_start(struct conn *c);
void tunnel_on_event(struct conn *c);
void tunnel_on_timeout(struct conn *c);
void tunnel_drain(struct conn *c);

#endif
