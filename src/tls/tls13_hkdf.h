/* HKDF as TLS 1.3's key schedule uses it (RFC 5869; RFC 8446 §7.1), for SHA-256 and SHA-384,
 * with one HMAC context per thread and hash whose digest is set once.
 *
 * Why not EVP_KDF: in OpenSSL 3.0 each HKDF call through it creates and frees a context and
 * fetches the digest again, ~20 k instructions for one HMAC's worth of work (~10 k here). The
 * record layer expands four keys per tunnel with it, and the "wssgate" provider
 * (tls_kdf_tap.c) runs OpenSSL's own TLS 1.3 key schedule on it, ~20 derivations per
 * handshake. Outputs are byte for byte OpenSSL's (tests/unit/test_kdf_tap.c compares them). */
#ifndef WSSGATE_TLS_TLS13_HKDF_H
#define WSSGATE_TLS_TLS13_HKDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tls13_hash { TLS13_SHA256, TLS13_SHA384 };

#define TLS13_MAX_HASH 48

static inline size_t tls13_hash_len(enum tls13_hash h)
{
    return h == TLS13_SHA384 ? 48 : 32;
}

/* The digest's name as OpenSSL fetches it. */
const char *tls13_hash_name(enum tls13_hash h);

/* The hash a caller names (OpenSSL's names and aliases for SHA-256 and SHA-384); false for any
 * other digest. */
bool tls13_hash_by_name(const char *name, enum tls13_hash *h);

/* PRK = HMAC-Hash(salt, IKM), tls13_hash_len(h) bytes. A NULL salt or a NULL IKM is HashLen
 * zeros (RFC 5869 §2.2; RFC 8446 §7.1: a secret not available is zeros). */
int tls13_hkdf_extract(enum tls13_hash h, const uint8_t *salt, size_t salt_len,
                       const uint8_t *ikm, size_t ikm_len, uint8_t *prk);

/* HKDF-Expand(secret, HkdfLabel, outlen) with HkdfLabel = outlen (2 bytes) ||
 * len(prefix || label) (1 byte) || prefix || label || len(context) (1 byte) || context.
 * prefix + label and context are at most 255 bytes each, outlen 1 to 255 × HashLen.
 * Returns 0, or -1 (bad sizes, or OpenSSL failed: out is then unspecified). */
int tls13_hkdf_expand_label(enum tls13_hash h, const uint8_t *secret, size_t secret_len,
                            const uint8_t *prefix, size_t prefix_len, const uint8_t *label,
                            size_t label_len, const uint8_t *context, size_t context_len,
                            uint8_t *out, size_t outlen);

/* Hash of the empty string: the context of the key schedule's "derived" step. NULL if the
 * digest could not be fetched. */
const uint8_t *tls13_empty_hash(enum tls13_hash h);

/* Rekeys this thread's HMAC contexts with zeros if a secret was used since the last call, so
 * that no secret outlives the OpenSSL call that derived it (tls_kdf_tap_disarm() calls it
 * after every OpenSSL call on a TLS stream; one HMAC key setup when there is anything to do). */
void tls13_hkdf_scrub(void);

/* Frees this thread's HMAC contexts (a worker thread calls it before it ends). */
void tls13_hkdf_thread_fini(void);

#endif
