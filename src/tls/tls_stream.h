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

/* Client side, with SNI set to server_name when it is a name (not an IP). */
int tls_stream_init_client(struct stream *s, int fd, SSL_CTX *ctx, const char *server_name);

/* True when the TLS layer holds decrypted bytes that no read has taken yet: epoll will not
 * report them, so the caller must read again before waiting. */
bool tls_stream_pending(const struct stream *s);

#endif
