/* The demo's chat backend: a plain ws:// server on its own thread and loop, standing where the
 * seeds' Swoole service stands. Every text or binary message is relayed unchanged to every
 * connected client, the sender included. */
#include "app/demo_chat.h"

#include "core/container.h"
#include "ev/loop.h"
#include "http/h1_parse.h"
#include "net/sock.h"
#include "obs/log.h"
#include "ws/ws_frame.h"
#include "ws/ws_handshake.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHAT_MAX_MESSAGE (1024 * 1024)
#define CHAT_MAX_QUEUED (8 * 1024 * 1024)

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

struct chat_client {
    struct demo_chat *chat;
    struct chat_client *prev, *next;
    struct ev_io io;
    struct ev_defer closer;
    struct bytes in, out, msg;
    uint8_t msg_op;
    bool upgraded, closing, dead;
};

struct demo_chat {
    struct ev_loop loop;
    struct ev_io lio;
    int lfd;
    pthread_t thread;
    atomic_bool stop;
    struct chat_client *clients;
};

static int bytes_add(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void bytes_drop(struct bytes *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void client_free(struct ev_loop *loop, struct ev_defer *d)
{
    (void)loop;
    struct chat_client *c = container_of(d, struct chat_client, closer);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->chat->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->in.p);
    free(c->out.p);
    free(c->msg.p);
    free(c);
}

static void client_kill(struct chat_client *c)
{
    if (c->dead)
        return;
    c->dead = true;
    int fd = c->io.fd;
    ev_io_remove(&c->chat->loop, &c->io);
    close(fd);
    ev_defer_queue(&c->chat->loop, &c->closer);
}

static void client_flush(struct chat_client *c)
{
    while (c->out.len) {
        ssize_t r = send(c->io.fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            client_kill(c);
            return;
        }
        bytes_drop(&c->out, (size_t)r);
    }
    if (!c->out.len && c->closing) {
        client_kill(c);
        return;
    }
    ev_io_set(&c->chat->loop, &c->io, EV_READ | (c->out.len ? EV_WRITE : 0));
}

static void client_send(struct chat_client *c, uint8_t op, const uint8_t *p, size_t n)
{
    uint8_t hdr[WS_FRAME_HDR_MAX];
    size_t hl = ws_frame_encode(hdr, true, op, NULL, n);
    if (c->out.len + hl + n > CHAT_MAX_QUEUED) {
        client_kill(c); /* a reader this slow would make the backend buffer without bound */
        return;
    }
    if (bytes_add(&c->out, hdr, hl) < 0 || bytes_add(&c->out, p, n) < 0) {
        client_kill(c);
        return;
    }
}

static void client_close_with(struct chat_client *c, uint16_t code, const char *reason)
{
    uint8_t frame[140];
    size_t n = ws_close_frame(frame, code, reason, NULL);
    bytes_add(&c->out, frame, n);
    c->closing = true;
    client_flush(c);
}

static void broadcast(struct demo_chat *chat, uint8_t op, const uint8_t *p, size_t n)
{
    for (struct chat_client *c = chat->clients; c; c = c->next) {
        if (!c->upgraded || c->closing || c->dead)
            continue;
        client_send(c, op, p, n);
        if (!c->dead)
            client_flush(c);
    }
}

static void handle_http(struct chat_client *c)
{
    struct h1_header hdrs[64];
    struct h1_request req;
    struct h1_error err;
    int n = h1_parse_request((const char *)c->in.p, c->in.len, &h1_default_limits, hdrs, 64,
                             &req, &err);
    if (n == H1_INCOMPLETE)
        return;
    struct str key = str_trim_ows(h1_find_header(req.headers, req.nheaders,
                                                 STR_LIT("Sec-WebSocket-Key")));
    char accept[WS_ACCEPT_LEN + 1];
    if (n < 0 || !req.conn_upgrade || !req.upgrade.p ||
        !h1_has_token(req.upgrade, STR_LIT("websocket")) || !key.p || !ws_key_valid(key) ||
        ws_accept_compute(key, accept) < 0) {
        static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 37\r\n"
                                   "Connection: close\r\n\r\nthis is a WebSocket chat service\r\n\r\n";
        bytes_add(&c->out, resp, sizeof(resp) - 1);
        c->closing = true;
        client_flush(c);
        return;
    }
    char resp[256];
    int rl = snprintf(resp, sizeof(resp),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      accept);
    bytes_add(&c->out, resp, (size_t)rl);
    bytes_drop(&c->in, (size_t)n);
    c->upgraded = true;
    client_flush(c);
}

/* Handles one complete frame; returns false when the client is gone or closing. */
static bool handle_frame(struct chat_client *c, const struct ws_frame_hdr *h, uint8_t *payload)
{
    if (!h->masked || h->rsv) {
        client_close_with(c, 1002, h->rsv ? "no extension negotiated" : "client frames must be masked");
        return false;
    }
    ws_mask(payload, h->payload_len, h->mask, 0);
    size_t n = (size_t)h->payload_len;
    switch (h->opcode) {
    case WS_OP_PING:
        client_send(c, WS_OP_PONG, payload, n);
        return !c->dead;
    case WS_OP_PONG:
        return true;
    case WS_OP_CLOSE: {
        uint16_t code = n >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : 1000;
        client_close_with(c, code == 1005 ? 1000 : code, "bye");
        return false;
    }
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (c->msg_op) {
            client_close_with(c, 1002, "new message inside a fragmented one");
            return false;
        }
        c->msg_op = h->opcode;
        c->msg.len = 0;
        break;
    case WS_OP_CONT:
        if (!c->msg_op) {
            client_close_with(c, 1002, "continuation without a message");
            return false;
        }
        break;
    }
    if (c->msg.len + n > CHAT_MAX_MESSAGE) {
        client_close_with(c, 1009, "message too big for the demo chat (1 MiB)");
        return false;
    }
    bytes_add(&c->msg, payload, n);
    if (h->fin) {
        uint8_t op = c->msg_op;
        c->msg_op = 0;
        broadcast(c->chat, op, c->msg.p, c->msg.len);
    }
    return !c->dead;
}

static void handle_frames(struct chat_client *c)
{
    for (;;) {
        struct ws_frame_hdr h;
        int hl = ws_frame_parse(c->in.p, c->in.len, &h);
        if (hl == WS_FRAME_INCOMPLETE)
            return;
        if (hl < 0) {
            client_close_with(c, 1002, "invalid frame");
            return;
        }
        if (h.payload_len > CHAT_MAX_MESSAGE) {
            client_close_with(c, 1009, "message too big for the demo chat (1 MiB)");
            return;
        }
        if (c->in.len < (size_t)hl + h.payload_len)
            return;
        size_t total = (size_t)hl + (size_t)h.payload_len;
        bool go_on = handle_frame(c, &h, c->in.p + hl);
        if (c->dead)
            return;
        bytes_drop(&c->in, total);
        if (!go_on)
            return;
    }
}

static void on_client(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)loop;
    struct chat_client *c = container_of(io, struct chat_client, io);
    if (events & EV_WRITE)
        client_flush(c);
    if (c->dead || !(events & EV_READ))
        return;
    uint8_t tmp[65536];
    ssize_t r = recv(io->fd, tmp, sizeof(tmp), 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        client_kill(c);
        return;
    }
    if (r < 0 || c->closing)
        return;
    if (bytes_add(&c->in, tmp, (size_t)r) < 0) {
        client_kill(c);
        return;
    }
    if (!c->upgraded)
        handle_http(c);
    if (c->upgraded && !c->dead && !c->closing)
        handle_frames(c);
    if (!c->dead)
        client_flush(c);
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)events;
    struct demo_chat *chat = container_of(io, struct demo_chat, lio);
    for (int i = 0; i < 64; i++) {
        struct net_addr peer;
        int fd = sock_accept(io->fd, &peer);
        if (fd < 0)
            return;
        struct chat_client *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        c->chat = chat;
        ev_io_init(&c->io, fd, on_client);
        ev_defer_init(&c->closer, client_free);
        c->next = chat->clients;
        if (chat->clients)
            chat->clients->prev = c;
        chat->clients = c;
        ev_io_set(loop, &c->io, EV_READ);
    }
}

static void on_wake(struct ev_loop *loop, struct ev_io *io, unsigned events)
{
    (void)io;
    (void)events;
    struct demo_chat *chat = container_of(loop, struct demo_chat, loop);
    if (atomic_load(&chat->stop)) {
        for (struct chat_client *c = chat->clients; c; c = c->next)
            client_kill(c);
        ev_loop_stop(loop);
    }
}

static void *chat_main(void *arg)
{
    struct demo_chat *chat = arg;
    ev_loop_run(&chat->loop); /* the turn that stops it also runs the clients' frees */
    return NULL;
}

struct demo_chat *demo_chat_start(const struct net_addr *addr, char *err, size_t errlen)
{
    struct demo_chat *chat = calloc(1, sizeof(*chat));
    if (!chat) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    chat->lfd = sock_listen(addr, false, 511);
    if (chat->lfd < 0) {
        char a[80];
        addr_format(addr, a, sizeof(a));
        snprintf(err, errlen, "chat backend cannot listen on %s: %s%s", a, strerror(errno),
                 errno == EADDRINUSE ? " — is another chat service (Swoole?) running there? "
                                       "Use --backend-port"
                                     : "");
        free(chat);
        return NULL;
    }
    if (ev_loop_init(&chat->loop) < 0) {
        snprintf(err, errlen, "cannot create an event loop: %s", strerror(errno));
        close(chat->lfd);
        free(chat);
        return NULL;
    }
    chat->loop.on_wake = on_wake;
    ev_io_init(&chat->lio, chat->lfd, on_accept);
    ev_io_set(&chat->loop, &chat->lio, EV_READ);
    if (pthread_create(&chat->thread, NULL, chat_main, chat) != 0) {
        snprintf(err, errlen, "cannot start the chat thread");
        ev_loop_fini(&chat->loop);
        close(chat->lfd);
        free(chat);
        return NULL;
    }
    return chat;
}

void demo_chat_stop(struct demo_chat *chat)
{
    if (!chat)
        return;
    atomic_store(&chat->stop, true);
    ev_loop_wake(&chat->loop);
    pthread_join(chat->thread, NULL);
    /* The deferred frees of the clients killed at stop ran in the loop's last turn. */
    ev_io_remove(&chat->loop, &chat->lio);
    close(chat->lfd);
    ev_loop_fini(&chat->loop);
    free(chat);
}
