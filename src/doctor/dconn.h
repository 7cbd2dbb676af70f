/* The doctor's client connection: blocking-style TCP and TLS I/O over a non-blocking socket with
 * poll() deadlines, keeping the first bytes the server sent (to tell a plain port from TLS). */
#ifndef WSSGATE_DOCTOR_DCONN_H
#define WSSGATE_DOCTOR_DCONN_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* dconn_read/dconn_write results besides a byte count. */
enum { DCONN_EOF = 0, DCONN_ERR = -1, DCONN_TIMEOUT = -2 };

#define DCONN_FIRST_MAX 64

/* One connection. Zero it, then dconn_connect; release with dconn_close. */
struct dconn {
    int fd;
    SSL_CTX *ctx;                         /* owned when not NULL */
    SSL *ssl;                             /* owned when not NULL */
    unsigned char first[DCONN_FIRST_MAX]; /* the first bytes received from the server, raw */
    size_t first_len;
    int last_errno; /* errno of the last failed socket operation */
    int alert;      /* TLS alert received from the server, -1 when none */
};

/* Milliseconds on the monotonic clock. */
int64_t dconn_now_ms(void);

/* Connects to sa within timeout_ms. Returns 0; or DCONN_ERR with c->last_errno (ECONNREFUSED,
 * ENETUNREACH, ...) or DCONN_TIMEOUT. c->fd is closed on failure. */
int dconn_connect(struct dconn *c, const struct sockaddr *sa, socklen_t salen, int timeout_ms);

/* Runs a TLS client handshake on the connected socket, as a browser would: TLS 1.2 or 1.3,
 * ALPN http/1.1, SNI = sni (NULL for an IP address), no verification (the caller examines the
 * chain afterwards with SSL_get_peer_cert_chain(c->ssl)). Returns 0, DCONN_TIMEOUT, DCONN_EOF
 * (the server closed without sending a byte) or DCONN_ERR; on an error, why[cap] gets OpenSSL's
 * reason and *alert the TLS alert the server sent (-1 when none). */
int dconn_tls(struct dconn *c, const char *sni, int timeout_ms, char *why, size_t cap, int *alert);

/* Writes all of buf by deadline_ms (dconn_now_ms() time). Returns 0, DCONN_ERR or
 * DCONN_TIMEOUT. */
int dconn_write_all(struct dconn *c, const void *buf, size_t len, int64_t deadline_ms);

/* Reads what is there, waiting until deadline_ms for at least one byte. Returns >0 bytes,
 * DCONN_EOF, DCONN_ERR or DCONN_TIMEOUT. */
ssize_t dconn_read(struct dconn *c, void *buf, size_t cap, int64_t deadline_ms);

/* Reads raw bytes from the socket (under TLS too) into c->first until it holds a line or
 * wait_ms pass: to show what a plain server said to a TLS handshake. */
void dconn_more_first(struct dconn *c, int wait_ms);

/* Closes the socket and frees the TLS objects. Safe on a zeroed or closed struct. */
void dconn_close(struct dconn *c);

#endif
