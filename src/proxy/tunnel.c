/* The WebSocket tunnel after a valid 101: bytes both ways through one bounded buffer per
 * direction (client→backend in c->in, backend→client in c->up.in), half-close propagated,
 * frame boundaries tracked so a graceful stop can send close 1001 without cutting a frame. */
#include "proxy/conn.h"

#include "core/container.h"
#include "obs/log.h"
#include "proxy/gen.h"
#include "tls/tls_stream.h"
#include "ws/ws_frame.h"
#include "ws/ws_track.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define PUMP_ROUNDS 16
/* After sending our close frames on a graceful stop: how long peers get to answer. */
#define DRAIN_GRACE_MS 1000

/* ---- the pump ---- */

static void close_tunnel(struct conn *c, const char *reason)
{
    if (!c->close_reason)
        c->close_reason = reason;
    conn_abort(c, reason);
}

/* One direction's read: src into b, tracked. Returns 1 progress, 0 blocked/nothing, -1 dead. */
/* Reads only a side that epoll reported readable since it was last seen empty (or whose TLS
 * layer holds bytes): an idle side costs no syscall per message. Seen empty means a short
 * read (nginx's rule). Level-triggered, epoll reports the side again if bytes remain anyway;
 * edge-triggered (see update_interest), it does not, so those sides trust only the stream's
 * exact account of the socket (stream.drained), never a read cut short by our buffer, and
 * read on to the EOF once epoll said the FIN is in (hup): the FIN raised its one edge
 * already, maybe before the read that took the bytes in front of it. */
static int read_side(struct conn *c, struct stream *src, struct buf *b, struct ws_track *t,
                     bool *eof, bool *ready, bool hup, bool draining)
{
    if (*eof || (!*ready && !tls_stream_pending(src)))
        return 0;
    uint64_t limit = draining ? ws_track_to_boundary(t) : UINT64_MAX;
    if (limit == 0 || buf_reserve(b) < 0)
        return 0;
    size_t room = buf_room(b);
    if (room == 0)
        return 0;
    if (room > limit)
        room = limit;
    ssize_t r = stream_read(src, buf_writep(b), room);
    if (r > 0) {
        /* Skips the read that would only say EAGAIN. Bytes a TLS layer still holds are seen
         * by tls_stream_pending(). */
        if (!hup && (src->ops->knows_drained ? src->drained : (size_t)r < room))
            *ready = false;
        ws_track_feed(t, (const uint8_t *)buf_writep(b), (size_t)r);
        b->tail += (unsigned)r;
        c->last_active_ms = ev_now(&c->w->loop);
        return 1;
    }
    buf_release_if_empty(b);
    if (r == STREAM_AGAIN) {
        *ready = false;
        return 0;
    }
    if (r == 0) {
        *eof = true;
        return 1;
    }
    close_tunnel(c, src->err ? src->err : "I/O error");
    return -1;
}

/* Client bytes (and an injected close frame first) to the backend. Returns 1 progress,
 * 0 blocked or nothing to send, -1 dead. */
static int flush_to_backend(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    int progress = 0;
    /* A close frame we injected goes before anything else still queued. */
    if (up->head) {
        ssize_t r = stream_write(&up->s, up->head + up->head_off, up->head_len - up->head_off);
        if (r == STREAM_AGAIN)
            return 0;
        if (r < 0) {
            close_tunnel(c, up->s.err);
            return -1;
        }
        up->head_off += (size_t)r;
        if (up->head_off < up->head_len)
            return 1;
        free(up->head);
        up->head = NULL;
        progress = 1;
    }
    if (buf_len(&c->in)) {
        ssize_t r = stream_write(&up->s, buf_readp(&c->in), buf_len(&c->in));
        if (r == STREAM_AGAIN)
            return progress;
        if (r < 0) {
            close_tunnel(c, up->s.err ? up->s.err : "backend write failed");
            return -1;
        }
        c->bytes_from_client += (uint64_t)r;
        buf_consume(&c->in, (size_t)r);
        progress = 1;
    }
    return progress;
}

/* Flush, propagate the client's FIN, read, and pass on what was read in the same call: a
 * message crosses in one pump round (and may_progress() spares the round after it). */
static int client_to_backend(struct conn *c, bool draining)
{
    struct upstream_leg *up = &c->up;
    int progress = flush_to_backend(c);
    if (progress < 0)
        return -1;
    if (!buf_len(&c->in) && c->client_eof && !up->shut) {
        int r = stream_shutdown_write(&up->s);
        if (r == STREAM_AGAIN)
            return progress;
        up->shut = true;
        progress = 1;
    }
    bool stop = draining && c->drain_close_sent_backend;
    if (!stop) {
        bool had = buf_len(&c->in) != 0;
        int r = read_side(c, &c->s, &c->in, &c->trk_c2b, &c->client_eof, &c->rd_ready,
                          c->rd_hup, draining);
        if (r < 0)
            return -1;
        progress |= r;
        if (r > 0 && !had && buf_len(&c->in) && flush_to_backend(c) < 0)
            return -1;
    }
    return progress;
}

/* Backend bytes (behind any queued for the client) to the client. Returns as above. */
static int flush_to_client(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    if (!buf_len(&c->out) && !buf_len(&up->in))
        return 0;
    int progress = 0;
    size_t before = buf_len(&c->out);
    ssize_t w = conn_write_client(c, buf_readp(&up->in), buf_len(&up->in));
    if (w < 0)
        return -1;
    if (w > 0) {
        buf_consume(&up->in, (size_t)w);
        progress = 1;
    }
    if (buf_len(&c->out) < before)
        progress = 1;
    return progress;
}

static int backend_to_client(struct conn *c, bool draining)
{
    struct upstream_leg *up = &c->up;
    int progress = flush_to_client(c);
    if (progress < 0)
        return -1;
    if (!buf_len(&c->out) && !buf_len(&up->in) && up->eof && !c->client_shut) {
        int r = stream_shutdown_write(&c->s);
        if (r == STREAM_AGAIN)
            return progress;
        c->client_shut = true;
        progress = 1;
    }
    bool stop = draining && c->drain_close_sent_client;
    if (!stop) {
        bool had = buf_len(&c->out) || buf_len(&up->in);
        int r = read_side(c, &up->s, &up->in, &c->trk_b2c, &up->eof, &up->rd_ready, up->rd_hup,
                          draining);
        if (r < 0)
            return -1;
        progress |= r;
        if (r > 0 && !had && buf_len(&up->in) && flush_to_client(c) < 0)
            return -1;
    }
    return progress;
}

/* On a graceful stop: once a direction is flushed and between frames, queue close 1001. */
static void inject_closes(struct conn *c)
{
    uint8_t frame[140];
    if (!c->drain_close_sent_client && !buf_len(&c->out) && !buf_len(&c->up.in) &&
        ws_track_at_boundary(&c->trk_b2c) && !c->up.eof) {
        size_t n = ws_close_frame(frame, 1001, "server shutting down", NULL);
        buf_append(&c->out, frame, n);
        c->drain_close_sent_client = true;
    }
    if (!c->drain_close_sent_backend && !buf_len(&c->in) && !c->up.head &&
        ws_track_at_boundary(&c->trk_c2b) && !c->client_eof) {
        uint8_t mask[4] = { 0x5a, 0xc3, 0x96, 0x2e };
        RAND_bytes(mask, sizeof(mask)); /* a fresh mask, as a client must use */
        size_t n = ws_close_frame(frame, 1001, "server shutting down", mask);
        c->up.head = malloc(n);
        if (c->up.head) {
            memcpy(c->up.head, frame, n);
            c->up.head_len = n;
            c->up.head_off = 0;
        }
        c->drain_close_sent_backend = true;
    }
}

static bool tunnel_finished(const struct conn *c)
{
    bool c2b_done = c->client_eof && !buf_len(&c->in) && c->up.shut;
    bool b2c_done = c->up.eof && !buf_len(&c->up.in) && !buf_len(&c->out) && c->client_shut;
    return c2b_done && b2c_done;
}

/* Whether another pump round could move anything without a new event: a side still
 * readable, bytes still queued (a write may have stopped short of what the socket takes), or
 * a FIN to pass on. After a round that moved a message through, usually none is left, and the
 * round that would only confirm it is skipped. */
static bool may_progress(const struct conn *c)
{
    const struct upstream_leg *up = &c->up;
    if (buf_len(&c->in) || buf_len(&c->out) || buf_len(&up->in) || up->head)
        return true;
    if ((c->client_eof && !up->shut) || (up->eof && !c->client_shut))
        return true;
    if (!c->client_eof && (c->rd_ready || tls_stream_pending(&c->s)))
        return true;
    return !up->eof && (up->rd_ready || tls_stream_pending(&up->s));
}

static void update_interest(struct conn *c)
{
    struct upstream_leg *up = &c->up;
    /* Once OpenSSL holds nothing, each TLS side moves to tls_record.c: the SSL object's
     * ≈13 KiB go back and each record costs a fraction of SSL_read/SSL_write. */
    if (c->s.ssl && !c->lc->proxy.tls_offload_off && tls_stream_offload(&c->s))
        log_debug("client %s: TLS records of this tunnel now sealed by wssgate (OpenSSL state "
                  "freed)", c->peer_ip);
    if (up->s.ssl && !c->lc->proxy.tls_offload_off && tls_stream_offload(&up->s))
        log_debug("client %s: TLS records to the backend now sealed by wssgate (OpenSSL state "
                  "freed)", c->peer_ip);
    /* Edge-triggered once both sides account for their sockets exactly: level-triggered
     * epoll polls every reported socket a second time on the next wait, only to find it
     * empty (nginx watches all its sockets edge-triggered). */
    if (c->s.ops->knows_drained && up->s.ops->knows_drained)
        c->io.edge = up->io.edge = true;
    bool draining = c->w->draining && ev_now(&c->w->loop) >= c->w->drain_deadline;
    unsigned cw = 0, uw = 0;
    if (buf_len(&c->out) || buf_len(&up->in) || (up->eof && !c->client_shut))
        cw |= c->s.wr_wait;
    bool c2b_may_read = !draining || (!c->drain_close_sent_backend &&
                                      ws_track_to_boundary(&c->trk_c2b) > 0);
    bool b2c_may_read = !draining || (!c->drain_close_sent_client &&
                                      ws_track_to_boundary(&c->trk_b2c) > 0);
    if (!c->client_eof && buf_room(&c->in) > 0 && c2b_may_read)
        cw |= c->s.rd_wait;
    if (buf_len(&c->in) || up->head || (c->client_eof && !up->shut))
        uw |= up->s.wr_wait;
    if (!up->eof && buf_room(&up->in) > 0 && b2c_may_read)
        uw |= up->s.rd_wait;
    if (ev_io_set(&c->w->loop, &c->io, cw) < 0 || ev_io_set(&c->w->loop, &up->io, uw) < 0)
        close_tunnel(c, "epoll failed");
}

static void pump_again(struct ev_loop *loop, struct ev_defer *d)
{
    (void)loop;
    struct conn *c = container_of(d, struct conn, resume);
    if (!c->freed && c->phase == PH_TUNNEL)
        tunnel_on_event(c);
}

void tunnel_on_event(struct conn *c)
{
    bool draining = c->w->draining && ev_now(&c->w->loop) >= c->w->drain_deadline;
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        if (draining)
            inject_closes(c);
        int a = client_to_backend(c, draining);
        if (a < 0 || c->freed)
            return;
        int b = backend_to_client(c, draining);
        if (b < 0 || c->freed)
            return;
        if (tunnel_finished(c)) {
            close_tunnel(c, draining ? "closed 1001: server shutting down" : "both sides closed");
            return;
        }
        if ((!a && !b) || (!draining && !may_progress(c))) {
            update_interest(c);
            return;
        }
    }
    update_interest(c);
    if (c->freed)
        return;
    c->resume.cb = pump_again;
    ev_defer_queue(&c->w->loop, &c->resume);
}

/* nginx bounds idle tunnels with proxy_read_timeout; wssgate does too when the location sets
 * it, and otherwise uses the tunnel idle timeout (1 h), not the 60 s meant for responses. */
static unsigned idle_ms(const struct conn *c)
{
    const struct proxy_conf *pc = &c->lc->proxy;
    if (pc->tunnel_idle_ms)
        return pc->tunnel_idle_ms;
    return pc->read_set ? pc->read_ms : c->w->ps->tunnel_idle_ms;
}

void tunnel_start(struct conn *c)
{
    c->phase = PH_TUNNEL;
    c->rd_ready = c->up.rd_ready = true;
    c->bytes_to_client = 0;
    c->bytes_from_client = 0;
    /* Bytes that arrived behind the 101 (either way) are the first frames: track them too. */
    if (buf_len(&c->up.in))
        ws_track_feed(&c->trk_b2c, (const uint8_t *)buf_readp(&c->up.in), buf_len(&c->up.in));
    if (buf_len(&c->in))
        ws_track_feed(&c->trk_c2b, (const uint8_t *)buf_readp(&c->in), buf_len(&c->in));
    c->last_active_ms = ev_now(&c->w->loop);
    ev_timer_start(&c->w->loop, &c->timer, idle_ms(c));
    tunnel_on_event(c);
}

void tunnel_on_timeout(struct conn *c)
{
    uint64_t now = ev_now(&c->w->loop);
    if (c->w->draining && now >= c->w->drain_deadline) {
        if (now >= c->w->drain_deadline + DRAIN_GRACE_MS) {
            close_tunnel(c, "closed 1001: server shutting down");
            return;
        }
        ev_timer_start(&c->w->loop, &c->timer, 100);
        tunnel_on_event(c);
        return;
    }
    uint64_t idle = now - c->last_active_ms;
    if (idle >= idle_ms(c)) {
        close_tunnel(c, "idle timeout");
        return;
    }
    uint64_t next = idle_ms(c) - idle;
    if (c->w->draining && c->w->drain_deadline - now < next)
        next = c->w->drain_deadline - now;
    ev_timer_start(&c->w->loop, &c->timer, next);
}

void tunnel_drain(struct conn *c)
{
    uint64_t now = ev_now(&c->w->loop);
    uint64_t at = c->w->drain_deadline > now ? c->w->drain_deadline - now : 0;
    ev_timer_start(&c->w->loop, &c->timer, at);
}
