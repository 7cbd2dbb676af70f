/* Collects, while OpenSSL runs a TLS 1.3 connection, what tls/tls_record.c needs to continue
 * it (secrets, record counts), and decides the moment of the move. See tls_handover.h. */
#include "tls/tls_handover.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <pthread.h>
#include <string.h>

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void make_ex_index(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "LABEL <client random> <secret>" (NSS key log format). Returns the secret's length or 0. */
static size_t parse_secret(const char *line, size_t label_len, uint8_t out[48])
{
    const char *p = strchr(line + label_len, ' ');
    if (!p)
        return 0;
    p++;
    size_t n = 0;
    while (p[0] && p[1] && n < 48) {
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return p[0] ? 0 : n;
}

static void on_keylog(const SSL *ssl, const char *line)
{
    struct tls_handover *h = ex_index >= 0 ? SSL_get_ex_data(ssl, ex_index) : NULL;
    if (!h)
        return;
    static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ", server[] = "SERVER_TRAFFIC_SECRET_0 ";
    bool is_client = strncmp(line, client, sizeof(client) - 1) == 0;
    if (!is_client && strncmp(line, server, sizeof(server) - 1) != 0)
        return;
    /* The peer's secret is the one we read with. */
    bool ours = is_client == h->rec.client;
    size_t n = parse_secret(line, sizeof(client) - 1, ours ? h->rec.wr.secret : h->rec.rd.secret);
    if (ours)
        h->have_wr = n > 0;
    else
        h->have_rd = n > 0;
    if (!n || (h->secret_len && h->secret_len != n))
        h->never = true;
    h->secret_len = (uint8_t)n;
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

void tls_handover_prepare_ctx(SSL_CTX *ctx)
{
    SSL_CTX_set_keylog_callback(ctx, on_keylog);
}

int tls_handover_attach(SSL *ssl, struct tls_handover *h, bool client)
{
    pthread_once(&ex_once, make_ex_index);
    if (ex_index < 0 || SSL_set_ex_data(ssl, ex_index, h) != 1)
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
    SSL_set_ex_data(ssl, ex_index, NULL);
    SSL_set_msg_callback(ssl, NULL);
    return TLS_HANDOVER_DONE;
}
