/* Helpers shared by the benchmark programs (wsload, wsecho): clock, file limit, loopback
 * addresses, socket options, a growable byte buffer, and the benchmark's TLS contexts. */
#ifndef WSSGATE_BENCH_BENCH_UTIL_H
#define WSSGATE_BENCH_BENCH_UTIL_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bu_now_ns(void);

/* Raises the soft RLIMIT_NOFILE to the hard limit. Returns the resulting soft limit. */
uint64_t bu_raise_nofile(void);

/* Parses "127.0.0.1:PORT" or "localhost:PORT" into *sa. Only loopback (127.0.0.0/8) addresses
 * are accepted: the benchmark never sends load to another machine. Returns 0, or -1 with a
 * message on stderr naming `what`. */
int bu_parse_loopback(const char *s, struct sockaddr_in *sa, const char *what);

/* TCP_NODELAY on (each message is one write: Nagle would only add latency). */
void bu_nodelay(int fd);

/* A growable byte buffer: bytes live in p[off, len). Caller-owned struct, zero = empty. */
struct bu_buf {
    uint8_t *p;
    size_t off, len, cap;
};

static inline size_t bu_buf_used(const struct bu_buf *b)
{
    return b->len - b->off;
}

/* Makes room for n more bytes at p + len (moving live bytes to the front first). 0 or -1. */
int bu_buf_reserve(struct bu_buf *b, size_t n);
/* Appends n bytes. 0 or -1 (out of memory). */
int bu_buf_append(struct bu_buf *b, const void *p, size_t n);
/* Consumes n bytes from the front; frees the memory once empty (an idle connection holds none). */
void bu_buf_consume(struct bu_buf *b, size_t n);
void bu_buf_free(struct bu_buf *b);

/* Server context: cert chain + key from PEM files, TLS 1.2-1.3 as the contenders, logs errors
 * to stderr; with handover, its connections can move onto wssgate's record layer. NULL on
 * failure. */
SSL_CTX *bu_tls_server_ctx(const char *cert, const char *key, bool handover);
/* Client context: TLS 1.3 only, TLS_AES_128_GCM_SHA256 only, no verification, no session
 * reuse (every handshake is a full one), ALPN http/1.1; with handover, its connections can
 * move onto wssgate's record layer (tls/tls_handover.h). NULL on failure. */
SSL_CTX *bu_tls_client_ctx(bool handover);

/* SSL_read_ex / SSL_write_ex on a non-blocking socket, in the programs' convention: the bytes
 * moved (a read returns 0 at EOF, with or without close_notify), -1 when it would block, -2 on
 * an error (a read sets *why when why is not NULL). */
ssize_t bu_ssl_read(SSL *ssl, void *p, size_t n, const char **why);
ssize_t bu_ssl_write(SSL *ssl, const void *p, size_t n);

#endif
