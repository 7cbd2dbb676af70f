/* TLS 1.3 record layer after the handshake: seal and open records with OpenSSL's AEADs,
 * KeyUpdate and alerts; see tls/tls_record.h for the contract. */
#include "tls/tls_record.h"

#include "net/stream.h"
#include "net/sys_io.h"
#include "tls/tls13_hkdf.h"

#include <endian.h>
#include <errno.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    CT_ALERT = 21,
    CT_HANDSHAKE = 22,
    CT_APPDATA = 23,
    HS_NEW_SESSION_TICKET = 4,
    HS_KEY_UPDATE = 24,
    ALERT_CLOSE_NOTIFY = 0,
    ALERT_UNEXPECTED_MESSAGE = 10,
    ALERT_BAD_RECORD_MAC = 20,
    ALERT_RECORD_OVERFLOW = 22,
    ALERT_ILLEGAL_PARAMETER = 47,
    ALERT_INTERNAL_ERROR = 80,
    ALERT_DECODE_ERROR = 50,
    ALERT_USER_CANCELED = 90,
};

/* Records that carry no data (empty, KeyUpdate, user_canceled) in a row before we give up:
 * OpenSSL's own limits are 32 empty records and 32 KeyUpdates. */
#define MAX_RECORDS_WITHOUT_DATA 32
/* RFC 8446 §5.5: AES-GCM may protect about 2^24.5 full records per key; we rekey at 2^24. */
#define KEY_UPDATE_AT (UINT64_C(1) << 24)
/* Plaintext sealed per write call: two full records keep the scratch area small. */
#define WRITE_BATCH (2 * TLS_REC_MAX_PLAIN)
#define RX_SCRATCH (2 * TLS_REC_MAX_WIRE)
#define TX_SCRATCH (WRITE_BATCH + 3 * TLS_REC_OVERHEAD + 8)
/* Up to this much plaintext is copied next to the type byte and sealed in one AEAD call. */
#define SEAL_COPY_MAX 1024

/* ---- algorithms, fetched once (implicit fetches per call are slow in OpenSSL 3.0) ---- */

/* The AEADs are called through the dispatch table of the provider EVP fetched them from (the
 * provider interface, core_dispatch.h), not through EVP_CIPHER_CTX. OpenSSL 3.0's EVP layer
 * costs ~1,000 instructions per record on top of the cipher: every init with an IV runs a
 * parameter query for the IV length, and each ctrl() is turned into a parameter array and back
 * (callgrind at 64 × 64 B, two records per echoed message: 9.1 k user-space instructions per
 * message through EVP, 7.0 k direct). The provider's functions are the ones EVP would call,
 * with the same contexts. */
struct aead {
    EVP_CIPHER *cipher; /* holds the provider loaded while its functions are used */
    void *provctx;
    OSSL_FUNC_cipher_newctx_fn *newctx;
    OSSL_FUNC_cipher_freectx_fn *freectx;
    OSSL_FUNC_cipher_encrypt_init_fn *einit;
    OSSL_FUNC_cipher_decrypt_init_fn *dinit;
    OSSL_FUNC_cipher_update_fn *update;
    OSSL_FUNC_cipher_final_fn *final;
    OSSL_FUNC_cipher_get_ctx_params_fn *get_ctx_params;
};

#define N_SUITES 3
static struct aead aeads[N_SUITES];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static bool names_include(const char *names, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = names;; p++) {
        if (strncasecmp(p, name, n) == 0 && (p[n] == ':' || p[n] == '\0'))
            return true;
        p = strchr(p, ':');
        if (!p)
            return false;
    }
}

/* Fills a with the functions of `name` in the provider EVP picks for it; on any gap a stays
 * unusable (cipher NULL), and tunnels with that suite stay on OpenSSL. */
static void fetch_aead(struct aead *a, const char *name)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);
    const OSSL_PROVIDER *prov = c ? EVP_CIPHER_get0_provider(c) : NULL;
    int no_cache = 0;
    const OSSL_ALGORITHM *algs = prov ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER,
                                                                       &no_cache)
                                      : NULL;
    struct aead f = { .cipher = c, .provctx = prov ? OSSL_PROVIDER_get0_provider_ctx(prov) : NULL };
    for (const OSSL_ALGORITHM *alg = algs; alg && alg->algorithm_names; alg++) {
        if (!names_include(alg->algorithm_names, name))
            continue;
        for (const OSSL_DISPATCH *d = alg->implementation; d->function_id; d++) {
            switch (d->function_id) {
            case OSSL_FUNC_CIPHER_NEWCTX:
                f.newctx = OSSL_FUNC_cipher_newctx(d);
                break;
            case OSSL_FUNC_CIPHER_FREECTX:
                f.freectx = OSSL_FUNC_cipher_freectx(d);
                break;
            case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
                f.einit = OSSL_FUNC_cipher_encrypt_init(d);
                break;
            case OSSL_FUNC_CIPHER_DECRYPT_INIT:
                f.dinit = OSSL_FUNC_cipher_decrypt_init(d);
                break;
            case OSSL_FUNC_CIPHER_UPDATE:
                f.update = OSSL_FUNC_cipher_update(d);
                break;
            case OSSL_FUNC_CIPHER_FINAL:
                f.final = OSSL_FUNC_cipher_final(d);
                break;
            case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
                f.get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(d);
                break;
            }
        }
        break;
    }
    if (algs)
        OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
    if (f.newctx && f.freectx && f.einit && f.dinit && f.update && f.final &&
        f.get_ctx_params) {
        *a = f;
        return;
    }
    EVP_CIPHER_free(c);
}

static void fetch_algorithms(void)
{
    fetch_aead(&aeads[0], "AES-128-GCM");
    fetch_aead(&aeads[1], "AES-256-GCM");
    fetch_aead(&aeads[2], "ChaCha20-Poly1305");
}

static int suite_index(unsigned suite)
{
    switch (suite) {
    case TLS_REC_AES_128_GCM_SHA256:
        return 0;
    case TLS_REC_AES_256_GCM_SHA384:
        return 1;
    case TLS_REC_CHACHA20_POLY1305_SHA256:
        return 2;
    default:
        return -1;
    }
}

/* Cipher contexts live in a per-thread cache indexed by key, not in connections: an idle tunnel
 * holds no context (≈1.2 KiB each), and a busy one finds its keys already expanded (setting a
 * key costs as much as sealing a small record). Each key derivation gets a process-wide
 * unique id, so a slot never serves a key it was not set up with. 2048 slots (≤ 2.4 MiB per
 * worker, allocated as keys get used) hold the two keys of 1,024 busy tunnels: with 512 slots,
 * 512 busy tunnels evicted each other's keys on every record (callgrind at 512 × 4 KiB: 30.1 k
 * user-space instructions per echoed message, 27.7 k with 2,048 slots). */
#define CTX_SLOTS 2048
struct ctx_slot {
    void *ctx;       /* the provider's cipher context, for aeads[suite] */
    uint64_t key_id; /* 0: no key set */
    int suite;       /* index of the cipher ctx was set up for, -1 none */
};
static _Thread_local struct ctx_slot ctx_cache[CTX_SLOTS];
static _Atomic uint64_t last_key_id;
static _Thread_local uint8_t rx_scratch[RX_SCRATCH];
static _Thread_local uint8_t tx_scratch[TX_SCRATCH];

static void drop_slot(struct ctx_slot *slot)
{
    if (slot->ctx)
        aeads[slot->suite].freectx(slot->ctx); /* it wipes the expanded key */
    *slot = (struct ctx_slot){ .suite = -1 };
}

/* The context holding d's key, for sealing (enc 1) or opening (enc 0) with aeads[i], the nonce
 * set; params go to the init (the expected tag, when opening). */
static void *keyed_ctx(const struct tls_rec *r, const struct tls_rec_dir *d, int i, int enc,
                       const uint8_t nonce[12], const OSSL_PARAM *params)
{
    const struct aead *a = &aeads[i];
    struct ctx_slot *slot = &ctx_cache[d->key_id % CTX_SLOTS];
    if (!slot->ctx || slot->suite != i) {
        drop_slot(slot);
        slot->ctx = a->newctx(a->provctx);
        if (!slot->ctx)
            return NULL;
        slot->suite = i;
    }
    const uint8_t *key = slot->key_id == d->key_id ? NULL : d->key;
    slot->key_id = 0;
    size_t klen = key ? r->key_len : 0;
    if ((enc ? a->einit : a->dinit)(slot->ctx, key, klen, nonce, 12, params) != 1)
        return NULL;
    slot->key_id = d->key_id;
    return slot->ctx;
}

void tls_rec_thread_fini(void)
{
    for (int i = 0; i < CTX_SLOTS; i++)
        drop_slot(&ctx_cache[i]);
    tls13_hkdf_thread_fini();
}

/* Drops this thread's expanded copy of a key that is no longer used. */
static void forget_key(uint64_t key_id)
{
    struct ctx_slot *slot = &ctx_cache[key_id % CTX_SLOTS];
    if (key_id && slot->key_id == key_id)
        drop_slot(slot);
}

/* ---- key schedule (RFC 8446 §7.1, §7.3) ---- */

/* HKDF-Expand-Label(secret, label, "", outlen), RFC 8446 §7.1, on tls13_hkdf.c's per-thread
 * HMAC contexts: through EVP_KDF "HKDF" the four expansions of a handover cost ~80 k
 * instructions (callgrind), 3% of a handshake. */
static int expand_label(const struct tls_rec *r, const uint8_t *secret, const char *label,
                        uint8_t *out, size_t outlen)
{
    enum tls13_hash h = r->secret_len == 48 ? TLS13_SHA384 : TLS13_SHA256;
    if (outlen > r->secret_len)
        return -1;
    return tls13_hkdf_expand_label(h, secret, r->secret_len, (const uint8_t *)"tls13 ", 6,
                                   (const uint8_t *)label, strlen(label), NULL, 0, out, outlen);
}

static int derive_keys(const struct tls_rec *r, struct tls_rec_dir *d)
{
    d->key_id = ++last_key_id;
    return expand_label(r, d->secret, "key", d->key, r->key_len) < 0 ||
                   expand_label(r, d->secret, "iv", d->iv, sizeof(d->iv)) < 0
               ? -1
               : 0;
}

/* KeyUpdate: the next traffic secret, its keys, sequence 0. */
static int next_keys(const struct tls_rec *r, struct tls_rec_dir *d)
{
    forget_key(d->key_id);
    uint8_t next[48];
    if (expand_label(r, d->secret, "traffic upd", next, r->secret_len) < 0)
        return -1;
    memcpy(d->secret, next, r->secret_len);
    OPENSSL_cleanse(next, sizeof(next));
    d->seq = 0;
    return derive_keys(r, d);
}

int tls_rec_init(struct tls_rec *r, unsigned suite, size_t secret_len, uint64_t rd_seq,
                 uint64_t wr_seq)
{
    pthread_once(&fetch_once, fetch_algorithms);
    int i = suite_index(suite);
    size_t want = suite == TLS_REC_AES_256_GCM_SHA384 ? 48 : 32;
    if (i < 0 || !aeads[i].cipher || secret_len != want)
        return -1;
    r->suite = (uint16_t)suite;
    r->secret_len = (uint8_t)secret_len;
    r->key_len = suite == TLS_REC_AES_128_GCM_SHA256 ? 16 : 32;
    if (derive_keys(r, &r->rd) < 0 || derive_keys(r, &r->wr) < 0)
        return -1;
    r->rd.seq = rd_seq;
    r->wr.seq = wr_seq;
    return 0;
}

void tls_rec_fini(struct tls_rec *r)
{
    forget_key(r->rd.key_id);
    forget_key(r->wr.key_id);
    free(r->rx);
    if (r->plain)
        OPENSSL_cleanse(r->plain + r->plain_off, r->plain_len);
    free(r->plain);
    free(r->tx);
    OPENSSL_cleanse(r, sizeof(*r));
}

/* ---- sealing and opening one record ---- */

static void make_nonce(const struct tls_rec_dir *d, uint8_t nonce[12])
{
    uint64_t tail, seq = htobe64(d->seq);
    memcpy(nonce, d->iv, 12);
    memcpy(&tail, nonce + 4, 8);
    tail ^= seq; /* the sequence number, big-endian, into the IV's last 8 bytes */
    memcpy(nonce + 4, &tail, 8);
}

size_t tls_rec_seal(struct tls_rec *r, uint8_t type, const void *p, size_t n, uint8_t *out)
{
    size_t body = n + 1 + TLS_REC_TAG;
    out[0] = CT_APPDATA;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(body >> 8);
    out[4] = (uint8_t)body;
    uint8_t nonce[12];
    make_nonce(&r->wr, nonce);
    int i = suite_index(r->suite);
    const struct aead *a = &aeads[i];
    void *c = keyed_ctx(r, &r->wr, i, 1, nonce, NULL);
    uint8_t *ct = out + TLS_REC_HEADER;
    OSSL_PARAM tag[2] = {
        OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, ct + n + 1, TLS_REC_TAG),
        OSSL_PARAM_END,
    };
    size_t l1 = 0, l2 = 0, l3 = 0, l4 = 0;
    if (!c || a->update(c, NULL, &l1, TLS_REC_HEADER, out, TLS_REC_HEADER) != 1)
        return 0;
    if (n <= SEAL_COPY_MAX) {
        /* A small record is copied next to its type byte and sealed in place by one call:
         * the call costs more than the copy. */
        if (n)
            memcpy(ct, p, n);
        ct[n] = type;
        if (a->update(c, ct, &l2, n + 1, ct, n + 1) != 1)
            return 0;
    } else if (a->update(c, ct, &l2, n, p, n) != 1 ||
               a->update(c, ct + l2, &l3, 1, &type, 1) != 1) {
        return 0;
    }
    if (a->final(c, ct + l2 + l3, &l4, n + 1 - l2 - l3) != 1 || l2 + l3 + l4 != n + 1 ||
        a->get_ctx_params(c, tag) != 1)
        return 0;
    r->wr.seq++;
    return TLS_REC_HEADER + body;
}

/* Opens the record at rec (header + body of blen bytes) in place. Returns the plaintext length
 * with *type set, or -1 with *alert set. */
static int open_record(struct tls_rec *r, uint8_t *rec, size_t blen, uint8_t *type,
                       uint8_t *alert)
{
    *alert = ALERT_BAD_RECORD_MAC;
    if (blen < 1 + TLS_REC_TAG || r->rd.seq == UINT64_MAX)
        return -1;
    uint8_t *body = rec + TLS_REC_HEADER;
    size_t clen = blen - TLS_REC_TAG;
    uint8_t nonce[12];
    make_nonce(&r->rd, nonce);
    int i = suite_index(r->suite);
    const struct aead *a = &aeads[i];
    OSSL_PARAM tag[2] = {
        OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, body + clen, TLS_REC_TAG),
        OSSL_PARAM_END,
    };
    void *c = keyed_ctx(r, &r->rd, i, 0, nonce, tag);
    size_t l1 = 0, l2 = 0, l3 = 0;
    if (!c || a->update(c, NULL, &l1, TLS_REC_HEADER, rec, TLS_REC_HEADER) != 1 ||
        a->update(c, body, &l2, clen, body, clen) != 1 ||
        a->final(c, body + l2, &l3, clen - l2) != 1)
        return -1;
    r->rd.seq++;
    /* The content type is the last non-zero byte; zeros after it are padding. */
    size_t end = clen;
    while (end > 0 && body[end - 1] == 0)
        end--;
    *alert = ALERT_UNEXPECTED_MESSAGE;
    if (end == 0)
        return -1;
    *type = body[end - 1];
    *alert = ALERT_RECORD_OVERFLOW;
    if (end - 1 > TLS_REC_MAX_PLAIN)
        return -1;
    return (int)(end - 1);
}

/* ---- failures ---- */

/* Best effort: tells the peer why, unless a record is half sent (it would corrupt the stream). */
static ssize_t fail(struct tls_rec *r, int fd, uint8_t alert, const char *why)
{
    if (!r->failed && !r->tx && alert != ALERT_CLOSE_NOTIFY) {
        uint8_t msg[2] = { 2, alert }, rec[2 + TLS_REC_OVERHEAD];
        size_t n = tls_rec_seal(r, CT_ALERT, msg, sizeof(msg), rec);
        if (n && send(fd, rec, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            errno = 0;
    }
    r->failed = true;
    r->err = why;
    return STREAM_ERR;
}

static const char *alert_reason(uint8_t alert)
{
    switch (alert) {
    case ALERT_BAD_RECORD_MAC:
        return "TLS record failed authentication (bad record MAC)";
    case ALERT_RECORD_OVERFLOW:
        return "TLS record too long";
    case ALERT_DECODE_ERROR:
    case ALERT_ILLEGAL_PARAMETER:
        return "malformed TLS handshake message after the handshake";
    case ALERT_INTERNAL_ERROR:
        return "TLS key update failed";
    default:
        return "unexpected TLS message after the handshake";
    }
}

/* ---- reading ---- */

/* The handshake messages of a record after the handshake. KeyUpdate, from either side, must
 * end its record. NewSessionTicket is allowed only from a server to a client; our client side
 * drops it, as upstream sessions are never resumed. Nothing else may come: we never ask for
 * client certificates, and clients send no tickets. A message may span records (RFC 8446
 * §5.1): its header is kept in r->hs until complete (a KeyUpdate's one-byte body then comes at
 * the start of the next record), a ticket's body is skipped as it arrives; how many records
 * may carry no data in a row bounds both. Returns 0, or -1 with *alert. */
static int on_handshake(struct tls_rec *r, const uint8_t *p, size_t n, uint8_t *alert)
{
    *alert = ALERT_UNEXPECTED_MESSAGE;
    if (n == 0)
        return -1;
    for (size_t off = 0; off < n;) {
        if (r->hs_skip) {
            size_t k = r->hs_skip < n - off ? r->hs_skip : n - off;
            r->hs_skip -= (uint32_t)k;
            off += k;
            continue;
        }
        while (r->hs_len < sizeof(r->hs) && off < n)
            r->hs[r->hs_len++] = p[off++];
        if (r->hs_len < sizeof(r->hs))
            return 0;
        bool ticket = r->hs[0] == HS_NEW_SESSION_TICKET && r->client;
        *alert = ALERT_UNEXPECTED_MESSAGE;
        if (r->hs[0] != HS_KEY_UPDATE && !ticket)
            return -1;
        uint32_t len = (uint32_t)r->hs[1] << 16 | (uint32_t)r->hs[2] << 8 | r->hs[3];
        if (ticket) {
            r->hs_len = 0;
            r->hs_skip = len;
            continue;
        }
        *alert = ALERT_DECODE_ERROR;
        if (len != 1)
            return -1;
        if (off == n)
            return 0; /* the body starts the next record */
        uint8_t request = p[off++];
        r->hs_len = 0;
        /* A key change must end its record (RFC 8446 §5.1). */
        *alert = ALERT_UNEXPECTED_MESSAGE;
        if (off != n)
            return -1;
        *alert = ALERT_ILLEGAL_PARAMETER;
        if (request > 1)
            return -1;
        if (next_keys(r, &r->rd) < 0) {
            *alert = ALERT_INTERNAL_ERROR;
            return -1;
        }
        if (request == 1)
            r->key_update_due = true; /* answered before our next record */
    }
    return 0;
}

static size_t record_len(const uint8_t *p, size_t avail)
{
    if (avail < TLS_REC_HEADER)
        return 0;
    size_t len = TLS_REC_HEADER + ((size_t)p[3] << 8 | p[4]);
    return avail >= len ? len : 0;
}

/* Keeps bytes for later in *slot (len bytes from p), replacing what it held. */
static int hold(uint8_t **slot, const uint8_t *p, size_t len)
{
    uint8_t *m = malloc(len ? len : 1);
    if (!m)
        return -1;
    memcpy(m, p, len);
    free(*slot);
    *slot = m;
    return 0;
}

/* Opens the records in t[0, len) and delivers application data into p (n bytes of room).
 * Keeps what does not fit (the rest of a record's data, unopened bytes). Returns the bytes
 * delivered, or STREAM_ERR. */
/* A failure after some data was opened: that data is delivered first (it was authentic), the
 * failure on the next read. */
static ssize_t failed(struct tls_rec *r, int fd, size_t delivered, uint8_t alert, const char *why)
{
    ssize_t e = fail(r, fd, alert, why);
    return delivered ? (ssize_t)delivered : e;
}

static ssize_t open_all(struct tls_rec *r, int fd, uint8_t *t, size_t len, uint8_t *p, size_t n)
{
    size_t off = 0, out = 0;
    while (off < len && out < n && !r->eof) {
        if (len - off >= TLS_REC_HEADER) {
            if (t[off] != CT_APPDATA)
                return failed(r, fd, out, ALERT_UNEXPECTED_MESSAGE,
                            "unexpected TLS record type after the handshake");
            if (((size_t)t[off + 3] << 8 | t[off + 4]) > TLS_REC_MAX_WIRE - TLS_REC_HEADER)
                return failed(r, fd, out, ALERT_RECORD_OVERFLOW, alert_reason(ALERT_RECORD_OVERFLOW));
        }
        size_t rl = record_len(t + off, len - off);
        if (rl == 0)
            break;
        uint8_t type = 0, alert = 0;
        int pl = open_record(r, t + off, rl - TLS_REC_HEADER, &type, &alert);
        if (pl < 0)
            return failed(r, fd, out, alert, alert_reason(alert));
        uint8_t *plain = t + off + TLS_REC_HEADER;
        off += rl;
        /* The rest of a handshake message split across records must come next (§5.1). */
        if (type != CT_HANDSHAKE && (r->hs_len || r->hs_skip))
            return failed(r, fd, out, ALERT_UNEXPECTED_MESSAGE,
                          "TLS handshake message interrupted by another record");
        if (type == CT_APPDATA && pl > 0)
            r->records_without_data = 0;
        else if (++r->records_without_data > MAX_RECORDS_WITHOUT_DATA)
            return failed(r, fd, out, ALERT_UNEXPECTED_MESSAGE,
                          "too many TLS records without data (a client keeping the proxy busy)");
        if (type == CT_APPDATA) {
            size_t take = (size_t)pl < n - out ? (size_t)pl : n - out;
            memcpy(p + out, plain, take);
            out += take;
            if (take < (size_t)pl) {
                if (hold(&r->plain, plain + take, (size_t)pl - take) < 0)
                    return failed(r, fd, out, ALERT_CLOSE_NOTIFY, "out of memory");
                r->plain_off = 0;
                r->plain_len = (uint32_t)((size_t)pl - take);
            }
        } else if (type == CT_ALERT) {
            if (pl != 2)
                return failed(r, fd, out, ALERT_DECODE_ERROR, "malformed TLS alert");
            if (plain[1] == ALERT_CLOSE_NOTIFY)
                r->eof = true;
            else if (plain[1] != ALERT_USER_CANCELED)
                return failed(r, fd, out, ALERT_CLOSE_NOTIFY, "TLS alert from peer");
        } else if (type == CT_HANDSHAKE) {
            if (on_handshake(r, plain, (size_t)pl, &alert) < 0)
                return failed(r, fd, out, alert, alert_reason(alert));
        } else {
            return failed(r, fd, out, ALERT_UNEXPECTED_MESSAGE, alert_reason(ALERT_UNEXPECTED_MESSAGE));
        }
    }
    if (!r->eof && off < len) {
        if (hold(&r->rx, t + off, len - off) < 0)
            return failed(r, fd, out, ALERT_CLOSE_NOTIFY, "out of memory");
        r->rx_len = r->rx_cap = (uint32_t)(len - off);
    } else { /* all opened; after close_notify nothing counts */
        free(r->rx);
        r->rx = NULL;
        r->rx_len = r->rx_cap = 0;
    }
    return (ssize_t)out;
}

/* Every recv of the record layer: it notes whether the socket was found empty (a short read,
 * EOF, EAGAIN), which edge-triggered callers need (tls_rec_drained). */
static ssize_t rx_recv(struct tls_rec *r, int fd, uint8_t *buf, size_t len)
{
    ssize_t got = sys_recv(fd, buf, len, 0);
    r->rx_drained = got >= 0 ? (size_t)got < len : errno != EINTR;
    return got;
}

/* The bytes that complete what r->rx holds: the rest of the header, then of the record. 0 when
 * a record is complete, or when its header will be refused (open_all says why): waiting for
 * more bytes would only delay the alert. */
static size_t rx_missing(const struct tls_rec *r)
{
    if (r->rx_len < TLS_REC_HEADER)
        return TLS_REC_HEADER - r->rx_len;
    size_t body = (size_t)r->rx[3] << 8 | r->rx[4];
    if (r->rx[0] != CT_APPDATA || body > TLS_REC_MAX_WIRE - TLS_REC_HEADER ||
        r->rx_len >= TLS_REC_HEADER + body)
        return 0;
    return TLS_REC_HEADER + body - r->rx_len;
}

/* A record that arrives in pieces (a slow or hostile sender trickling it) is completed in its
 * own buffer: each piece costs one recv into place, not a copy of everything held so far.
 * Returns 1 when the record is complete, or STREAM_AGAIN / 0 (EOF) / STREAM_ERR. */
static ssize_t complete_held(struct tls_rec *r, int fd)
{
    for (;;) {
        size_t missing = rx_missing(r);
        if (missing == 0)
            return 1;
        size_t want = r->rx_len + missing;
        if (want > r->rx_cap) {
            /* Once the header is in, room for the whole record: one growth per record. */
            size_t cap = r->rx_len < TLS_REC_HEADER ? TLS_REC_HEADER : want;
            uint8_t *m = realloc(r->rx, cap);
            if (!m) {
                r->failed = true;
                r->err = "out of memory";
                return STREAM_ERR;
            }
            r->rx = m;
            r->rx_cap = (uint32_t)cap;
        }
        ssize_t got = rx_recv(r, fd, r->rx + r->rx_len, missing);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return STREAM_AGAIN;
            r->failed = true;
            r->err = stream_errno_reason(errno);
            return STREAM_ERR;
        }
        if (got == 0) {
            r->failed = true;
            r->err = "connection closed in the middle of a TLS record";
            return STREAM_ERR;
        }
        r->rx_len += (uint32_t)got;
    }
}

static ssize_t take_plain(struct tls_rec *r, void *p, size_t n)
{
    size_t take = r->plain_len < n ? r->plain_len : n;
    memcpy(p, r->plain + r->plain_off, take);
    r->plain_off += (uint32_t)take;
    r->plain_len -= (uint32_t)take;
    if (!r->plain_len) {
        free(r->plain);
        r->plain = NULL;
        r->plain_off = 0;
    }
    return (ssize_t)take;
}

ssize_t tls_rec_read(struct tls_rec *r, int fd, void *p, size_t n)
{
    if (r->failed)
        return STREAM_ERR;
    if (n == 0)
        return 0;
    r->rx_drained = false;
    if (r->plain_len)
        return take_plain(r, p, n);
    /* Bounded: each round opens what it holds or reads the socket, which ends in EAGAIN. */
    for (int round = 0; round < 64 && !r->eof; round++) {
        uint8_t *t = rx_scratch;
        size_t len;
        if (r->rx_len) {
            /* Held bytes: complete their record first (or find its header refused). */
            ssize_t c = complete_held(r, fd);
            if (c != 1)
                return c;
            len = r->rx_len;
            memcpy(t, r->rx, len);
        } else {
            ssize_t got = rx_recv(r, fd, t, RX_SCRATCH);
            if (got < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return STREAM_AGAIN;
                if (errno == EINTR)
                    continue;
                r->failed = true;
                r->err = stream_errno_reason(errno);
                return STREAM_ERR;
            }
            if (got == 0)
                return 0; /* EOF without close_notify, as browsers do: an EOF */
            len = (size_t)got;
        }
        ssize_t out = open_all(r, fd, t, len, p, n);
        if (out != 0)
            return out;
    }
    return r->eof ? 0 : STREAM_AGAIN;
}

bool tls_rec_pending(const struct tls_rec *r)
{
    return r->plain_len || r->eof || r->failed || (r->rx_len && rx_missing(r) == 0);
}

bool tls_rec_drained(const struct tls_rec *r)
{
    return r->rx_drained;
}

/* ---- writing ---- */

/* Sends the rest of a record the socket took only part of. 1 done, 0 not yet, -1 error. */
static int flush_tail(struct tls_rec *r, int fd)
{
    while (r->tx_off < r->tx_len) {
        ssize_t w = sys_send(fd, r->tx + r->tx_off, r->tx_len - r->tx_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            r->failed = true;
            r->err = stream_errno_reason(errno);
            return -1;
        }
        r->tx_off += (uint32_t)w;
    }
    free(r->tx);
    r->tx = NULL;
    r->tx_off = r->tx_len = 0;
    return 1;
}

ssize_t tls_rec_write(struct tls_rec *r, int fd, const void *p, size_t n)
{
    if (r->failed)
        return STREAM_ERR;
    if (r->close_notify_sent) {
        r->err = "write after close_notify";
        return STREAM_ERR;
    }
    if (r->tx) {
        int f = flush_tail(r, fd);
        if (f <= 0)
            return f < 0 ? STREAM_ERR : STREAM_AGAIN;
        uint32_t done = r->tx_plain;
        r->tx_plain = 0;
        if (done)
            return done; /* the caller offers these bytes again first: the contract */
    }
    if (n == 0)
        return 0;
    uint8_t *t = tx_scratch;
    size_t o = 0, ends[4], plains[4], cnt = 0;
    /* A send that takes nothing undoes this call: its sequence numbers, and its key update
     * (only then are the keys copied, and the copy wiped after). */
    bool rekey = r->key_update_due || r->wr.seq >= KEY_UPDATE_AT;
    bool due_before = r->key_update_due;
    uint64_t seq_before = r->wr.seq;
    struct tls_rec_dir before = { 0 };
    if (rekey) {
        before = r->wr;
        static const uint8_t key_update[5] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
        size_t k = tls_rec_seal(r, CT_HANDSHAKE, key_update, sizeof(key_update), t);
        if (!k || next_keys(r, &r->wr) < 0) {
            OPENSSL_cleanse(&before, sizeof(before));
            return fail(r, fd, ALERT_CLOSE_NOTIFY, "TLS key update failed");
        }
        r->key_update_due = false;
        o = k;
        ends[cnt] = o;
        plains[cnt++] = 0;
    }
    uint64_t first_seq = r->wr.seq;
    size_t done = 0;
    while (done < n && done < WRITE_BATCH) {
        size_t chunk = n - done < TLS_REC_MAX_PLAIN ? n - done : TLS_REC_MAX_PLAIN;
        size_t k = tls_rec_seal(r, CT_APPDATA, (const uint8_t *)p + done, chunk, t + o);
        if (!k)
            return fail(r, fd, ALERT_CLOSE_NOTIFY, "TLS encryption failed");
        o += k;
        done += chunk;
        ends[cnt] = o;
        plains[cnt++] = chunk;
    }
    ssize_t w;
    do
        w = sys_send(fd, t, o, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w <= 0) {
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            if (rekey)
                OPENSSL_cleanse(&before, sizeof(before));
            r->failed = true;
            r->err = stream_errno_reason(errno);
            return STREAM_ERR;
        }
        /* Nothing left the process: the records are sealed again, with the same numbers,
         * from the bytes the caller offers next. */
        if (rekey) {
            r->wr = before;
            r->key_update_due = due_before;
            OPENSSL_cleanse(&before, sizeof(before));
        }
        r->wr.seq = seq_before;
        return STREAM_AGAIN;
    }
    if (rekey)
        OPENSSL_cleanse(&before, sizeof(before));
    size_t consumed = 0, start = 0, i = 0;
    for (; i < cnt && ends[i] <= (size_t)w; i++) {
        consumed += plains[i];
        start = ends[i];
    }
    if (i < cnt && (size_t)w > start) {
        /* Part of record i went out: the rest must follow byte for byte. */
        if (hold(&r->tx, t + w, ends[i] - (size_t)w) < 0)
            return fail(r, fd, ALERT_CLOSE_NOTIFY, "out of memory");
        r->tx_off = 0;
        r->tx_len = (uint32_t)(ends[i] - (size_t)w);
        r->tx_plain = (uint32_t)plains[i];
        i++;
    }
    /* Records sealed but never sent are forgotten; their numbers are used again. */
    size_t ku = cnt && plains[0] == 0 ? 1 : 0;
    r->wr.seq = first_seq + (i > ku ? i - ku : 0);
    return consumed ? (ssize_t)consumed : STREAM_AGAIN;
}

int tls_rec_shutdown(struct tls_rec *r, int fd)
{
    if (r->failed)
        return STREAM_ERR;
    if (r->tx) {
        int f = flush_tail(r, fd);
        if (f <= 0)
            return f < 0 ? STREAM_ERR : STREAM_AGAIN;
        r->tx_plain = 0;
    }
    if (!r->close_notify_sent) {
        uint8_t msg[2] = { 1, ALERT_CLOSE_NOTIFY }, rec[2 + TLS_REC_OVERHEAD];
        size_t k = tls_rec_seal(r, CT_ALERT, msg, sizeof(msg), rec);
        if (!k)
            return (int)fail(r, fd, ALERT_CLOSE_NOTIFY, "TLS encryption failed");
        r->close_notify_sent = true;
        ssize_t w = sys_send(fd, rec, k, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            r->failed = true;
            r->err = stream_errno_reason(errno);
            return STREAM_ERR;
        }
        if (w < (ssize_t)k) {
            size_t sent = w > 0 ? (size_t)w : 0;
            if (hold(&r->tx, rec + sent, k - sent) < 0)
                return (int)fail(r, fd, ALERT_CLOSE_NOTIFY, "out of memory");
            r->tx_off = 0;
            r->tx_len = (uint32_t)(k - sent);
            r->tx_plain = 0;
            return STREAM_AGAIN;
        }
    }
    if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN) {
        r->failed = true;
        r->err = stream_errno_reason(errno);
        return STREAM_ERR;
    }
    return 0;
}
