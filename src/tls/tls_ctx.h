/* Server SSL_CTX with wssgate's policy (TLS 1.2/1.3, AEAD ciphers, ALPN http/1.1, shared
 * session cache and tickets) and SNI selection among several certificates. */
#ifndef WSSGATE_TLS_TLS_CTX_H
#define WSSGATE_TLS_TLS_CTX_H

#include <openssl/ssl.h>
#include <stddef.h>

/* TLS 1.2 suites offered; TLS 1.3 uses OpenSSL's AEAD defaults. Mozilla "intermediate". */
#define TLS_DEFAULT_CIPHERS                                                                   \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Makes a server context for cert_file (PEM, leaf then chain) and key_file. One context is
 * shared by all worker threads, so session tickets and the session cache work across them.
 * Returns NULL with err ("cannot load certificate /x.pem: no such file") on failure. */
SSL_CTX *tls_ctx_new_server(const char *cert_file, const char *key_file, char *err,
                            size_t errlen);

/* SNI: names served by one listener. The first entry is the default (no or unknown SNI). */
struct tls_sni_entry {
    const char *name; /* "example.com", "*.example.com" or "" for the default */
    SSL_CTX *ctx;
};

/* The SNI table of one listener; caller-owned, it must outlive the contexts (it belongs to the
 * config generation that owns them). */
struct tls_sni_table {
    struct tls_sni_entry *entries;
    size_t n;
};

/* Installs an SNI callback on each entry's context that switches the handshake to the
 * context whose name matches the client's server name (exact, then "*." wildcard). */
void tls_sni_install(struct tls_sni_table *t);

/* A client context for TLS upstreams (verification off: backends are often self-signed; the
 * gateway is the trust boundary for the browser, not for the backend). */
SSL_CTX *tls_ctx_new_client(char *err, size_t errlen);

/* Writes the oldest error in OpenSSL's queue (or fallback) to out and clears the queue. */
void tls_error_string(char *out, size_t cap, const char *fallback);

#endif
