/* A small OpenSSL provider that stands in front of OpenSSL's own TLS 1.3 key derivation
 * ("TLS13-KDF") and shows the two application traffic secrets ("c ap traffic", "s ap traffic")
 * to the tap armed on the calling thread, as raw bytes. It replaces the key-log callback,
 * through which OpenSSL 3.0 formats five hex lines per handshake (~35 µs) to hand out the same
 * two secrets. Contexts opt in with the property query below.
 *
 * The derivations libssl asks for (a fresh context, every parameter given with the derivation,
 * SHA-256 or SHA-384) are computed here on tls13_hkdf.c, byte for byte what OpenSSL's
 * TLS13-KDF gives (tests/unit/test_kdf_tap.c): OpenSSL 3.0 spends half of each derivation
 * fetching and setting up, ~10 k instructions, ~20 times a handshake. Everything else goes to
 * the provider that would have done it. (Where openssl.cnf requires fips=yes, the tap, which
 * lacks that property, is never selected.) */
#ifndef WSSGATE_TLS_TLS_KDF_TAP_H
#define WSSGATE_TLS_TLS_KDF_TAP_H

#include <stddef.h>
#include <stdint.h>

/* Loads the provider once. Returns the property query that SSL_CTX_new_ex() takes so that the
 * context's TLS 1.3 key schedule runs through the tap ("?provider=wssgate": a preference,
 * other algorithms come from where they always do), or NULL if the provider cannot be loaded:
 * the context then derives without it and no secret is ever shown. */
const char *tls_kdf_tap_propq(void);

enum tls_kdf_secret {
    TLS_KDF_CLIENT_APP, /* "c ap traffic": client → server, first application secret */
    TLS_KDF_SERVER_APP, /* "s ap traffic": server → client */
};

typedef void tls_kdf_tap_fn(void *arg, enum tls_kdf_secret which, const uint8_t *secret,
                            size_t len);

/* Arms the tap on this thread: until tls_kdf_tap_disarm(), each application traffic secret
 * derived on this thread goes to fn(arg, …). Arm it only around the OpenSSL calls of one
 * connection, so that no other connection's secret can reach arg. Disarm after every OpenSSL
 * call on a TLS connection, armed or not: it also wipes what the derivations left in this
 * thread's HMAC contexts (tls13_hkdf_scrub()). */
void tls_kdf_tap_arm(tls_kdf_tap_fn *fn, void *arg);
void tls_kdf_tap_disarm(void);

#endif
