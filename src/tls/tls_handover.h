/* What moving a TLS 1.3 connection from OpenSSL onto tls/tls_record.c needs, collected while
 * OpenSSL runs it, for either side of a connection:
 *   tls/tls_kdf_tap  → the two application traffic secrets, as OpenSSL derives them
 *   msg callback     → records read / written since the Finished message of each direction:
 *                      the sequence numbers of the first application keys
 *   KeyUpdate seen   → OpenSSL changed keys itself: the connection stays on OpenSSL
 * Used by tls/tls_stream.c (wss:// tunnels) and by the benchmark's load generator. */
#ifndef WSSGATE_TLS_TLS_HANDOVER_H
#define WSSGATE_TLS_TLS_HANDOVER_H

#include "tls/tls_record.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

struct tls_handover {
    struct tls_rec rec; /* rd.secret / wr.secret filled by the KDF tap; rec.client set by
                           tls_handover_attach */
    uint64_t rd_records, wr_records;
    uint8_t secret_len;
    bool have_rd, have_wr; /* secrets seen */
    bool rd_app, wr_app;   /* Finished seen: the record counts are application records */
    bool never;            /* this connection stays on OpenSSL */
};

/* A context (SSL_CTX_new_ex) whose TLS 1.3 key schedule runs through tls/tls_kdf_tap.c, so that
 * its connections can be handed over. NULL on failure, like SSL_CTX_new. */
SSL_CTX *tls_handover_ctx_new(const SSL_METHOD *method);

/* Watches ssl (from a tls_handover_ctx_new context) into h, which the caller zeroed and keeps
 * alive while ssl lives or until tls_handover_take succeeds. Returns 0, or -1 (ssl then stays
 * on OpenSSL). */
int tls_handover_attach(SSL *ssl, struct tls_handover *h, bool client);

/* Every OpenSSL call on a watched ssl that may run its handshake (SSL_do_handshake, SSL_read,
 * SSL_write) goes between these two, on one thread: the secrets the call derives then reach
 * h, and no other connection's can. */
void tls_handover_enter(struct tls_handover *h);
void tls_handover_leave(void);

/* The connection stays on OpenSSL: the copies of its secrets go now, not at the end. */
void tls_handover_never(struct tls_handover *h);

enum tls_handover_result {
    TLS_HANDOVER_LATER, /* handshake not finished, or OpenSSL holds bytes either way */
    TLS_HANDOVER_DONE,  /* h->rec continues the connection; the caller frees ssl */
    TLS_HANDOVER_NEVER, /* TLS 1.2, a suite tls_record lacks, a KeyUpdate seen (secrets wiped) */
};

/* Takes the connection over when OpenSSL holds no bytes of it (nothing read ahead, no record
 * header taken from the socket, nothing left to flush). Cheap: callers try after each read. */
enum tls_handover_result tls_handover_take(SSL *ssl, struct tls_handover *h);

#endif
