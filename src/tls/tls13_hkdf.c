/* HKDF for TLS 1.3's key schedule on per-thread HMAC contexts. See tls13_hkdf.h. */
#include "tls/tls13_hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static EVP_MAC *hmac;
static uint8_t empty_hash[2][TLS13_MAX_HASH];
static bool have_empty_hash[2];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static const char *const digest_name[2] = {"SHA256", "SHA384"};
static const uint8_t zeros[TLS13_MAX_HASH];

const char *tls13_hash_name(enum tls13_hash h)
{
    return digest_name[h];
}

bool tls13_hash_by_name(const char *name, enum tls13_hash *h)
{
    if (strcmp(name, "SHA2-256") == 0 || strcmp(name, "SHA256") == 0)
        *h = TLS13_SHA256;
    else if (strcmp(name, "SHA2-384") == 0 || strcmp(name, "SHA384") == 0)
        *h = TLS13_SHA384;
    else
        return false;
    return true;
}

/* Runs before OpenSSL's own cleanup (registered after it, so called before it). */
static void release(void)
{
    EVP_MAC_free(hmac);
    hmac = NULL;
}

static void fetch(void)
{
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (hmac)
        atexit(release);
    for (int h = 0; h < 2; h++) {
        unsigned len = 0;
        EVP_MD *md = EVP_MD_fetch(NULL, digest_name[h], NULL);
        have_empty_hash[h] = md && EVP_Digest("", 0, empty_hash[h], &len, md, NULL) == 1 &&
                             len == tls13_hash_len((enum tls13_hash)h);
        EVP_MD_free(md);
    }
}

static _Thread_local EVP_MAC_CTX *hmac_ctx[2];
static _Thread_local bool keyed[2]; /* the context holds a caller's secret */

void tls13_hkdf_thread_fini(void)
{
    for (int h = 0; h < 2; h++) {
        EVP_MAC_CTX_free(hmac_ctx[h]);
        hmac_ctx[h] = NULL;
        keyed[h] = false;
    }
}

void tls13_hkdf_scrub(void)
{
    for (int h = 0; h < 2; h++) {
        if (keyed[h] && hmac_ctx[h]) {
            /* Rekeying replaces OpenSSL's copy of the key and the pads made from it. */
            if (EVP_MAC_init(hmac_ctx[h], zeros, sizeof(zeros), NULL) != 1) {
                EVP_MAC_CTX_free(hmac_ctx[h]);
                hmac_ctx[h] = NULL;
            }
        }
        keyed[h] = false;
    }
}

/* The context keeps the last key (OpenSSL's HMAC stores a copy) until tls13_hkdf_scrub(). */
static EVP_MAC_CTX *hmac_for(enum tls13_hash h)
{
    pthread_once(&fetch_once, fetch);
    keyed[h] = true;
    if (!hmac_ctx[h] && hmac) {
        EVP_MAC_CTX *m = EVP_MAC_CTX_new(hmac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest_name[h], 0),
            OSSL_PARAM_construct_end(),
        };
        if (!m || EVP_MAC_CTX_set_params(m, params) != 1) {
            EVP_MAC_CTX_free(m);
            return NULL;
        }
        hmac_ctx[h] = m;
    }
    return hmac_ctx[h];
}

const uint8_t *tls13_empty_hash(enum tls13_hash h)
{
    pthread_once(&fetch_once, fetch);
    return have_empty_hash[h] ? empty_hash[h] : NULL;
}

int tls13_hkdf_extract(enum tls13_hash h, const uint8_t *salt, size_t salt_len,
                       const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
    /* Never a NULL key: EVP_MAC_init() would keep the previous call's. HMAC pads a short key
     * with zeros, so HashLen zeros and an empty salt are the same key (RFC 5869 §2.2). */
    size_t hl = tls13_hash_len(h), len = 0;
    if (!salt) {
        salt = zeros;
        salt_len = hl;
    }
    if (!ikm) {
        ikm = zeros;
        ikm_len = hl;
    }
    EVP_MAC_CTX *m = hmac_for(h);
    if (!m || EVP_MAC_init(m, salt, salt_len, NULL) != 1 || EVP_MAC_update(m, ikm, ikm_len) != 1 ||
        EVP_MAC_final(m, prk, &len, hl) != 1 || len != hl)
        return -1;
    return 0;
}

int tls13_hkdf_expand_label(enum tls13_hash h, const uint8_t *secret, size_t secret_len,
                            const uint8_t *prefix, size_t prefix_len, const uint8_t *label,
                            size_t label_len, const uint8_t *context, size_t context_len,
                            uint8_t *out, size_t outlen)
{
    size_t hl = tls13_hash_len(h);
    if (!secret || prefix_len > 255 || label_len > 255 - prefix_len || context_len > 255 ||
        outlen == 0 || outlen > 255 * hl)
        return -1;
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t n = 0;
    info[n++] = (uint8_t)(outlen >> 8);
    info[n++] = (uint8_t)outlen;
    info[n++] = (uint8_t)(prefix_len + label_len);
    if (prefix_len)
        memcpy(info + n, prefix, prefix_len);
    n += prefix_len;
    if (label_len)
        memcpy(info + n, label, label_len);
    n += label_len;
    info[n++] = (uint8_t)context_len;
    if (context_len)
        memcpy(info + n, context, context_len);
    n += context_len;

    EVP_MAC_CTX *m = hmac_for(h);
    uint8_t t[TLS13_MAX_HASH];
    int rc = m ? 0 : -1;
    /* T(i) = HMAC(secret, T(i-1) || info || i), RFC 5869 §2.3. */
    for (size_t done = 0, i = 1; rc == 0 && done < outlen; i++) {
        uint8_t ctr = (uint8_t)i;
        size_t len = 0;
        if (EVP_MAC_init(m, secret, secret_len, NULL) != 1 ||
            (i > 1 && EVP_MAC_update(m, t, hl) != 1) || EVP_MAC_update(m, info, n) != 1 ||
            EVP_MAC_update(m, &ctr, 1) != 1 || EVP_MAC_final(m, t, &len, sizeof(t)) != 1 ||
            len != hl) {
            rc = -1;
            break;
        }
        size_t take = outlen - done < hl ? outlen - done : hl;
        memcpy(out + done, t, take);
        done += take;
    }
    OPENSSL_cleanse(t, sizeof(t));
    return rc;
}
