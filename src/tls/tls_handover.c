/* Collects, while OpenSSL runs a TLS 1.3 connection, what tls/tls_record.c needs to continue
 * it (secrets, record counts), and decides the moment of the move. See tls_handover.h. */
#include "tls/tls_handover.h"

#include "tls/tls_kdf_tap.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

static void on_secret(void *arg, enum tls_kdf_secret which, const uint8_t *secret, size_t len)
{
    struct tls_handover *h = arg;
    if (h->never)
        return; /* its secrets were wiped and are not wanted again */
    /* The peer's secret is the one we read with. */
    bool ours = (which == TLS_KDF_CLIENT_APP) == h->rec.client;
    uint8_t *to = ours ? h->rec.wr.secret : h->rec.rd.secret;
    if (len == 0 || len > sizeof(h->rec.wr.secret) || (h->secret_len && h->secret_len != len)) {
        h->never = true;
        return;
    }
    memcpy(to, secret, len);
    if (ours)
        h->have_wr = true;
    else
        h->have_rd = true;
    h->secret_len = (uint8_t)len;
}

static void on_message(int write_p, int version, int content_type, const void *buf, size_t len,
                       SSL *ssl, void *arg)
{
    (void)version;
    (void)ssl;
    struct tls_handover *h = arg;
    if (content_type == SSL3_RT_HEADER) {
        if (write_p)
            h->wr_records++;
        else
            h->rd_records++;
    } else if (content_type == SSL3_RT_HANDSHAKE && len >= 1) {
        uint8_t type = ((const uint8_t *)buf)[0];
        /* Finished ends its record (a key change); what follows uses the application keys.
         * OpenSSL reports a written message after its record's header. */
        if (type == SSL3_MT_FINISHED && write_p) {
            h->wr_records = 0;
            h->wr_app = true;
        } else if (type == SSL3_MT_FINISHED) {
            h->rd_records = 0;
            h->rd_app = true;
        } else if (type == SSL3_MT_KEY_UPDATE) {
            h->never = true;
        }
    }
}

SSL_CTX *tls_handover_ctx_new(const SSL_METHOD *method)
{
    return SSL_CTX_new_ex(NULL, tls_kdf_tap_propq(), method);
}

int tls_handover_attach(SSL *ssl, struct tls_handover *h, bool client)
{
    if (!tls_kdf_tap_propq())
        return -1;
    h->rec.client = client;
    SSL_set_msg_callback(ssl, on_message);
    SSL_set_msg_callback_arg(ssl, h);
    return 0;
}

void tls_handover_never(struct tls_handover *h)
{
    h->never = true;
    if (h->have_rd || h->have_wr) {
        OPENSSL_cleanse(&h->rec, sizeof(h->rec));
        h->have_rd = h->have_wr = false;
    }
}

enum tls_handover_result tls_handover_take(SSL *ssl, struct tls_handover *h)
{
    if (!SSL_is_init_finished(ssl))
        return TLS_HANDOVER_LATER;
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    if (h->never || SSL_version(ssl) != TLS1_3_VERSION || !cipher || !h->have_rd ||
        !h->have_wr || !h->rd_app || !h->wr_app) {
        tls_handover_never(h);
        return TLS_HANDOVER_NEVER;
    }
    /* Bytes OpenSSL read ahead, a record whose header it has taken from the socket (read state
     * other than "read header"), or a record it has not finished sending, are its own. */
    if (SSL_has_pending(ssl) || strcmp(SSL_rstate_string(ssl), "RH") != 0 ||
        BIO_wpending(SSL_get_wbio(ssl)) > 0)
        return TLS_HANDOVER_LATER;
    if (tls_rec_init(&h->rec, SSL_CIPHER_get_protocol_id(cipher), h->secret_len, h->rd_records,
                     h->wr_records) < 0) {
        ERR_clear_error();
        tls_handover_never(h);
        return TLS_HANDOVER_NEVER;
    }
    SSL_set_msg_callback(ssl, NULL);
    return TLS_HANDOVER_DONE;
}

void tls_handover_enter(struct tls_handover *h)
{
    tls_kdf_tap_arm(on_secret, h);
}

void tls_handover_leave(void)
{
    tls_kdf_tap_disarm();
}
