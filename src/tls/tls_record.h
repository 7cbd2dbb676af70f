/* TLS 1.3 record protection in user space once the handshake is over (RFC 8446 §5): what kernel
 * TLS does for nginx and HAProxy where the kernel has it. The OpenSSL connection hands over its
 * traffic secrets and sequence numbers, its SSL object (≈13 KiB) is freed, and every record is
 * sealed and opened here with OpenSSL's AEADs. Handles KeyUpdate both ways and alerts.
 *
 * Reads and writes follow the stream contract (net/stream.h) on a non-blocking socket. A write
 * the socket takes only part of keeps the rest of that one sealed record here and reports
 * STREAM_AGAIN (or the bytes of the records before it); as with SSL_write, the caller offers
 * the same bytes again. Buffers are held only while bytes are in flight: an idle connection
 * owns this struct and nothing else. */
#ifndef WSSGATE_TLS_TLS_RECORD_H
#define WSSGATE_TLS_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TLS_REC_HEADER 5
#define TLS_REC_TAG 16
#define TLS_REC_MAX_PLAIN 16384
/* The largest record a peer may send: plaintext, content type and padding, tag. */
#define TLS_REC_MAX_WIRE (TLS_REC_HEADER + TLS_REC_MAX_PLAIN + 256)
/* What one record we seal adds to its plaintext (we never pad). */
#define TLS_REC_OVERHEAD (TLS_REC_HEADER + 1 + TLS_REC_TAG)

/* The TLS 1.3 cipher suites handled here (IANA numbers). */
enum {
    TLS_REC_AES_128_GCM_SHA256 = 0x1301,
    TLS_REC_AES_256_GCM_SHA384 = 0x1302,
    TLS_REC_CHACHA20_POLY1305_SHA256 = 0x1303,
};

/* One direction: its traffic secret (the next KeyUpdate derives from it), key, IV, and the
 * sequence number of the next record. */
struct tls_rec_dir {
    uint8_t secret[48];
    uint8_t key[32];
    uint8_t iv[12];
    uint64_t seq;
    uint64_t key_id; /* unique per derived key: finds its expanded key in a per-thread cache */
};

/* Caller-owned; zero it, fill rd.secret (the peer's application traffic secret) and wr.secret
 * (ours), set client on the client side, then tls_rec_init. */
struct tls_rec {
    struct tls_rec_dir rd, wr;
    uint16_t suite;
    uint8_t secret_len, key_len;
    bool key_update_due;    /* a KeyUpdate goes out before the next record we seal */
    bool eof;               /* close_notify received: reads return 0 */
    bool close_notify_sent;
    bool failed;            /* a fatal error was seen: every call fails */
    bool client;            /* our side is the client: the server's NewSessionTickets are dropped */
    bool rx_drained;        /* the last recv saw the socket empty (short read, EOF, EAGAIN) */
    uint8_t records_without_data; /* in a row: empty, KeyUpdate, user_canceled (bounded) */
    uint8_t hs_len;         /* bytes of a handshake message's start held in hs */
    uint8_t hs[4];          /* the header of a handshake message split across records */
    uint8_t *rx;            /* received bytes not yet opened, from a record boundary (malloc) */
    uint32_t rx_len, rx_cap;
    uint8_t *plain;         /* opened application data the reader had no room for (malloc) */
    uint32_t plain_off, plain_len;
    uint8_t *tx;            /* the unsent end of a record the socket took only part of (malloc) */
    uint32_t tx_off, tx_len, tx_plain;
    uint32_t hs_skip;       /* body bytes still to come of a NewSessionTicket being dropped */
    const char *err;        /* static reason of the last STREAM_ERR */
};

/* Derives keys for `suite` from r->rd.secret and r->wr.secret (secret_len bytes each); rd_seq
 * and wr_seq are the records already protected with them. Returns 0, or -1 when the suite is
 * not one of the three above or OpenSSL fails (r is then unusable; tls_rec_fini still safe). */
int tls_rec_init(struct tls_rec *r, unsigned suite, size_t secret_len, uint64_t rd_seq,
                 uint64_t wr_seq);

/* Wipes the keys and frees the buffers. Does not close fd (the caller owns it). */
void tls_rec_fini(struct tls_rec *r);

/* Stream contract: >0 plaintext bytes, 0 at close_notify or EOF, STREAM_AGAIN (wait for
 * readable / writable), STREAM_ERR with r->err. A fatal error sends the peer its alert. */
ssize_t tls_rec_read(struct tls_rec *r, int fd, void *p, size_t n);
ssize_t tls_rec_write(struct tls_rec *r, int fd, const void *p, size_t n);

/* Sends close_notify, then the TCP FIN. 0, STREAM_AGAIN (wait for writable) or STREAM_ERR. */
int tls_rec_shutdown(struct tls_rec *r, int fd);

/* True when a read would return without touching the socket (opened bytes, a whole record, a
 * header it will refuse, or a close_notify held): epoll will not report them. */
bool tls_rec_pending(const struct tls_rec *r);

/* True when the last tls_rec_read() ended on a recv that found the socket empty: every byte
 * that was there has been read, so edge-triggered epoll reports whatever comes next. False
 * when it did not touch the socket, or filled its buffer. */
bool tls_rec_drained(const struct tls_rec *r);

/* Seals one record of inner content type `type` (23 data, 21 alert, 22 handshake) with the
 * write keys into out (room for n + TLS_REC_OVERHEAD; p must not overlap it) and advances the
 * write sequence.
 * Returns the record's length, or 0 when OpenSSL fails. For tests and the fuzzer, which play
 * the peer with a second tls_rec whose rd and wr are swapped. */
size_t tls_rec_seal(struct tls_rec *r, uint8_t type, const void *p, size_t n, uint8_t *out);

/* Frees the calling thread's cipher contexts (at thread exit). */
void tls_rec_thread_fini(void);

#endif
