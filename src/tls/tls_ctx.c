/* Building SSL_CTX objects and the SNI callback. */
#include "tls/tls_ctx.h"

#include "tls/tls_handover.h"

#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void tls_error_string(char *out, size_t cap, const char *fallback)
{
    unsigned long e = ERR_peek_error();
    if (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        const char *reason = ERR_reason_error_string(e);
        snprintf(out, cap, "%s", reason ? reason : buf);
    } else {
        snprintf(out, cap, "%s", fallback);
    }
    ERR_clear_error();
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11) - 1, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    /* A client offering only h2 still gets HTTP/1.1, as nginx does without http2. */
    return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *tls_ctx_new_server(const char *cert_file, const char *key_file, char *err,
                            size_t errlen)
{
    /* Its wss:// tunnels can leave OpenSSL after the handshake (tls_stream_offload). */
    SSL_CTX *ctx = tls_handover_ctx_new(TLS_server_method());
    if (!ctx) {
        tls_error_string(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* One read(2) per record instead of two (header, then body). Bytes read ahead wait inside
     * OpenSSL where epoll cannot see them: every reader either reads until EAGAIN or asks
     * tls_stream_pending() first. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_set_cipher_list(ctx, TLS_DEFAULT_CIPHERS) != 1) {
        tls_error_string(err, errlen, "cannot set the cipher list");
        goto fail;
    }
    /* Resumption: tickets (TLS 1.3 and 1.2) plus a server-side cache, both inside this one
     * context, which every worker thread shares. One ticket per handshake is enough. */
    static const unsigned char sid_ctx[] = "wssgate";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_timeout(ctx, 300);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        char why[256];
        tls_error_string(why, sizeof(why), "unreadable");
        snprintf(err, errlen, "cannot load certificate \"%s\": %s", cert_file, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        char why[256];
        tls_error_string(why, sizeof(why), "unreadable");
        snprintf(err, errlen, "cannot load key \"%s\": %s", key_file, why);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "key \"%s\" does not match certificate \"%s\"", key_file,
                 cert_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int name_matches(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && strcasecmp(dot, pattern + 1) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static int sni_select(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const struct tls_sni_table *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_NOACK;
    for (size_t i = 0; i < t->n; i++) {
        if (t->entries[i].name[0] && name_matches(t->entries[i].name, name)) {
            if (SSL_get_SSL_CTX(ssl) != t->entries[i].ctx)
                SSL_set_SSL_CTX(ssl, t->entries[i].ctx);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

void tls_sni_install(struct tls_sni_table *t)
{
    for (size_t i = 0; t->n > 1 && i < t->n; i++) {
        SSL_CTX_set_tlsext_servername_callback(t->entries[i].ctx, sni_select);
        SSL_CTX_set_tlsext_servername_arg(t->entries[i].ctx, t);
    }
}

SSL_CTX *tls_ctx_new_client(char *err, size_t errlen)
{
    /* wss:// backends: their tunnels leave OpenSSL too. */
    SSL_CTX *ctx = tls_handover_ctx_new(TLS_client_method());
    if (!ctx) {
        tls_error_string(err, errlen, "cannot create a TLS client context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}
