/* struct stream over OpenSSL: non-blocking reads and writes that report which fd event a
 * WANT_READ / WANT_WRITE waits on, so callers never see a TLS detail. */
#ifndef WSSGATE_TLS_TLS_STREAM_H
#define WSSGATE_TLS_TLS_STREAM_H

#include "net/stream.h"

#include <openssl/ssl.h>

extern const struct stream_ops tls_stream_ops;

/* Wraps fd in a server-side TLS stream (the handshake runs on the first stream_handshake).
 * The stream owns fd from now on, even on failure. Returns 0, or -1 when out of memory. */
int tls_stream_init_server(struct stream *s, int fd, SSL_CTX *ctx);

/* Client side, with SNI set to server_name when it is a name (not an IP). From a context made
 * by tls_ctx_new_client, it can later move with tls_stream_offload too. */
int tls_stream_init_client(struct stream *s, int fd, SSL_CTX *ctx, const char *server_name);

/* tls_stream_pending for a stream with TLS state; use tls_stream_pending. */
bool tls_stream_pending_in_tls(const struct stream *s);

/* True when the TLS layer holds decrypted bytes that no read has taken yet: epoll will not
 * report them, so the caller must read again before waiting. Inline because the tunnel asks
 * it of plain sides too, several times per message. */
static inline bool tls_stream_pending(const struct stream *s)
{
    return (s->ssl || s->tls_state) && tls_stream_pending_in_tls(s);
}

/* Moves a stream whose TLS 1.3 handshake is finished (either side: a client's, or a wss://
 * backend's) onto wssgate's own record layer (tls/tls_record.h) and frees its SSL object, once
 * OpenSSL holds no bytes either way (nothing read ahead, no write to retry). Returns true when
 * s runs on the record layer, now or before.
 * Cheap enough for every event: it returns false until the moment comes, and for good after
 * TLS 1.2, an unsupported suite, or a KeyUpdate OpenSSL itself processed. Afterwards
 * s->ops is tls_record_stream_ops and s->ssl is NULL; rd_wait/wr_wait are reset. */
bool tls_stream_offload(struct stream *s);

/* The stream of a connection moved by tls_stream_offload. */
extern const struct stream_ops tls_record_stream_ops;

#endif
