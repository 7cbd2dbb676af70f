/* The "wssgate" provider: one algorithm, TLS13-KDF, computed here for what libssl asks and
 * forwarded to the TLS13-KDF of the provider OpenSSL would otherwise use for the rest; when a
 * tap is armed on the thread, it is shown the application traffic secrets. See
 * tls_kdf_tap.h. */
#include "tls/tls_kdf_tap.h"

#include "tls/tls13_hkdf.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TAP_PROVIDER "wssgate"

static EVP_KDF *inner_kdf;          /* the TLS13-KDF of any provider but this one */
static OSSL_PROVIDER *tap_provider; /* loaded for the life of the process */
static const char *propq;           /* NULL until loaded, and if loading failed */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static _Thread_local tls_kdf_tap_fn *tap_fn;
static _Thread_local void *tap_arg;

/* A TLS13-KDF context. libssl makes one per derivation and passes every parameter with the
 * derivation; such a context is derived here, natively (tls13_hkdf.c), for SHA-256 and
 * SHA-384. Anything else (a parameter set beforehand, another digest, a property query, sizes
 * out of bounds) goes to the inner context, which first gets the parameters of any native
 * derivation so that it holds what OpenSSL's own context would. */
struct tap_ctx {
    EVP_KDF_CTX *inner; /* made when first needed */
    int secret;         /* enum tls_kdf_secret for an application traffic label, else -1 */
    bool fresh;         /* nothing set or derived yet: the native path may take it */
    bool replay;        /* a native derivation's parameters are owed to inner */
    struct native {
        int mode;
        enum tls13_hash hash;
        bool has_key, has_salt, has_data;
        uint8_t key[TLS13_MAX_HASH], salt[TLS13_MAX_HASH];
        size_t key_len, salt_len, prefix_len, label_len, data_len;
        uint8_t prefix[32], label[64], data[TLS13_MAX_HASH];
    } n;
};

static int label_secret(const void *v, size_t n)
{
    if (n != 12)
        return -1;
    if (memcmp(v, "c ap traffic", 12) == 0)
        return TLS_KDF_CLIENT_APP;
    if (memcmp(v, "s ap traffic", 12) == 0)
        return TLS_KDF_SERVER_APP;
    return -1;
}

static void clear_native(struct tap_ctx *c)
{
    OPENSSL_cleanse(&c->n, sizeof(c->n));
}

static void *tap_newctx(void *provctx)
{
    (void)provctx;
    struct tap_ctx *c = calloc(1, sizeof(*c));
    if (c) {
        c->secret = -1;
        c->fresh = true;
    }
    return c;
}

static void tap_freectx(void *vctx)
{
    struct tap_ctx *c = vctx;
    if (c) {
        EVP_KDF_CTX_free(c->inner);
        clear_native(c);
        free(c);
    }
}

/* The inner context, holding the parameters of the native derivation if there was one. */
static EVP_KDF_CTX *inner_of(struct tap_ctx *c)
{
    if (!c->inner && !(c->inner = EVP_KDF_CTX_new(inner_kdf)))
        return NULL;
    if (c->replay) {
        struct native *n = &c->n;
        OSSL_PARAM p[8], *q = p;
        *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &n->mode);
        *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                (char *)tls13_hash_name(n->hash), 0);
        if (n->has_key)
            *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, n->key, n->key_len);
        if (n->has_salt)
            *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, n->salt, n->salt_len);
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, n->prefix, n->prefix_len);
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, n->label, n->label_len);
        if (n->has_data)
            *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, n->data, n->data_len);
        *q = OSSL_PARAM_construct_end();
        if (EVP_KDF_CTX_set_params(c->inner, p) != 1)
            return NULL;
        c->replay = false;
        clear_native(c);
    }
    return c->inner;
}

/* A copy exactly when the inner provider can copy (OpenSSL 3.0's TLS13-KDF cannot). */
static void *tap_dupctx(void *vctx)
{
    struct tap_ctx *src = vctx;
    EVP_KDF_CTX *inner = inner_of(src);
    EVP_KDF_CTX *copy = inner ? EVP_KDF_CTX_dup(inner) : NULL;
    struct tap_ctx *c = copy ? malloc(sizeof(*c)) : NULL;
    if (!c) {
        EVP_KDF_CTX_free(copy);
        return NULL;
    }
    *c = *src;
    c->inner = copy;
    return c;
}

static void tap_reset(void *vctx)
{
    struct tap_ctx *c = vctx;
    if (c->inner)
        EVP_KDF_CTX_reset(c->inner);
    clear_native(c);
    c->secret = -1;
    c->fresh = true;
    c->replay = false;
}

/* The label names the secret being derived; it comes with the derivation or before it. */
static void note_label(struct tap_ctx *c, const OSSL_PARAM params[])
{
    const OSSL_PARAM *label = params ? OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_LABEL) : NULL;
    const void *v = NULL;
    size_t n = 0;
    if (label)
        c->secret = OSSL_PARAM_get_octet_string_ptr(label, &v, &n) == 1 ? label_secret(v, n) : -1;
}

static int tap_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct tap_ctx *c = vctx;
    EVP_KDF_CTX *inner = inner_of(c);
    c->fresh = false;
    note_label(c, params);
    return inner ? EVP_KDF_CTX_set_params(inner, params) : 0;
}

/* An octet string as OpenSSL's TLS13-KDF takes it (its own copy of a non-NULL buffer); an
 * OCTET_PTR or NULL data is left to OpenSSL, which refuses them. */
static bool take_octets(const OSSL_PARAM *p, uint8_t *dst, size_t cap, size_t *len)
{
    const void *v = NULL;
    size_t n = 0;
    if (p->data_type != OSSL_PARAM_OCTET_STRING || !p->data ||
        OSSL_PARAM_get_octet_string_ptr(p, &v, &n) != 1 || n > cap)
        return false;
    if (n)
        memcpy(dst, v, n);
    *len = n;
    return true;
}

/* Reads a derivation's parameters into c->n; false for anything the native path leaves to
 * OpenSSL. */
static bool read_native(struct native *n, const OSSL_PARAM params[])
{
    bool mode = false, digest = false, prefix = false, label = false;
    for (const OSSL_PARAM *p = params; p && p->key; p++) {
        const char *k = p->key;
        /* OpenSSL reads the first of a repeated parameter, this loop would keep the last. */
        for (const OSSL_PARAM *q = params; q != p; q++)
            if (strcmp(q->key, k) == 0)
                return false;
        if (strcmp(k, OSSL_KDF_PARAM_MODE) == 0) {
            if (p->data_type != OSSL_PARAM_INTEGER || OSSL_PARAM_get_int(p, &n->mode) != 1 ||
                (n->mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY &&
                 n->mode != EVP_KDF_HKDF_MODE_EXPAND_ONLY))
                return false;
            mode = true;
        } else if (strcmp(k, OSSL_KDF_PARAM_DIGEST) == 0) {
            const char *d = NULL;
            if (p->data_type != OSSL_PARAM_UTF8_STRING ||
                OSSL_PARAM_get_utf8_string_ptr(p, &d) != 1 || !tls13_hash_by_name(d, &n->hash))
                return false;
            digest = true;
        } else if (strcmp(k, OSSL_KDF_PARAM_KEY) == 0) {
            if (!(n->has_key = take_octets(p, n->key, sizeof(n->key), &n->key_len)))
                return false;
        } else if (strcmp(k, OSSL_KDF_PARAM_SALT) == 0) {
            if (!(n->has_salt = take_octets(p, n->salt, sizeof(n->salt), &n->salt_len)))
                return false;
        } else if (strcmp(k, OSSL_KDF_PARAM_PREFIX) == 0) {
            if (!(prefix = take_octets(p, n->prefix, sizeof(n->prefix), &n->prefix_len)))
                return false;
        } else if (strcmp(k, OSSL_KDF_PARAM_LABEL) == 0) {
            if (!(label = take_octets(p, n->label, sizeof(n->label), &n->label_len)))
                return false;
        } else if (strcmp(k, OSSL_KDF_PARAM_DATA) == 0) {
            if (!(n->has_data = take_octets(p, n->data, sizeof(n->data), &n->data_len)))
                return false;
        } else {
            return false; /* properties, or anything newer than this code */
        }
    }
    return mode && digest && prefix && label;
}

/* RFC 8446 §7.1 as OpenSSL's TLS13-KDF computes it: EXPAND_ONLY is HKDF-Expand-Label(key,
 * prefix || label, data, outlen); EXTRACT_ONLY is HKDF-Extract(salt, key), where a missing key
 * is HashLen zeros and a given salt (the previous secret) first becomes
 * Derive-Secret(salt, label, "") — the "derived" step. 1 done, 0 failed, -1 not taken. */
static int derive_native(struct native *n, uint8_t *out, size_t outlen)
{
    size_t hl = tls13_hash_len(n->hash);
    if (n->mode == EVP_KDF_HKDF_MODE_EXPAND_ONLY) {
        if (!n->has_key || outlen == 0 || outlen > 255 * hl)
            return -1;
        return tls13_hkdf_expand_label(n->hash, n->key, n->key_len, n->prefix, n->prefix_len,
                                       n->label, n->label_len, n->data, n->data_len, out,
                                       outlen) == 0;
    }
    const uint8_t *empty = tls13_empty_hash(n->hash);
    if (outlen != hl || !empty || (n->has_salt && n->salt_len != hl))
        return -1;
    uint8_t derived[TLS13_MAX_HASH];
    const uint8_t *salt = NULL;
    size_t salt_len = 0;
    int rc = 1;
    if (n->has_salt) {
        rc = tls13_hkdf_expand_label(n->hash, n->salt, n->salt_len, n->prefix, n->prefix_len,
                                     n->label, n->label_len, empty, hl, derived, hl) == 0;
        salt = derived;
        salt_len = hl;
    }
    rc = rc && tls13_hkdf_extract(n->hash, salt, salt_len, n->has_key ? n->key : NULL,
                                  n->key_len, out) == 0;
    OPENSSL_cleanse(derived, sizeof(derived));
    return rc;
}

static int tap_derive(void *vctx, unsigned char *out, size_t outlen, const OSSL_PARAM params[])
{
    struct tap_ctx *c = vctx;
    note_label(c, params);
    int rc = -1;
    if (c->fresh) {
        c->fresh = false;
        if (read_native(&c->n, params)) {
            rc = derive_native(&c->n, out, outlen);
            c->replay = rc >= 0;
        }
        if (!c->replay)
            clear_native(c);
    }
    if (rc < 0) {
        EVP_KDF_CTX *inner = inner_of(c);
        rc = inner && EVP_KDF_derive(inner, out, outlen, params) == 1;
    }
    if (rc != 1)
        return 0;
    /* Only expansions carry a label that names a traffic secret; an extraction's label is
     * "derived". */
    if (tap_fn && c->secret >= 0)
        tap_fn(tap_arg, (enum tls_kdf_secret)c->secret, out, outlen);
    return 1;
}

static int tap_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    EVP_KDF_CTX *inner = inner_of(vctx);
    return inner ? EVP_KDF_CTX_get_params(inner, params) : 0;
}

static const OSSL_PARAM *tap_settable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return EVP_KDF_settable_ctx_params(inner_kdf);
}

static const OSSL_PARAM *tap_gettable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return EVP_KDF_gettable_ctx_params(inner_kdf);
}

static int tap_get_params(OSSL_PARAM params[])
{
    return EVP_KDF_get_params(inner_kdf, params);
}

static const OSSL_PARAM *tap_gettable_params(void *provctx)
{
    (void)provctx;
    return EVP_KDF_gettable_params(inner_kdf);
}

typedef void (*dispatch_fn)(void);

static const OSSL_DISPATCH tap_kdf_functions[] = {
    {OSSL_FUNC_KDF_NEWCTX, (dispatch_fn)tap_newctx},
    {OSSL_FUNC_KDF_DUPCTX, (dispatch_fn)tap_dupctx},
    {OSSL_FUNC_KDF_FREECTX, (dispatch_fn)tap_freectx},
    {OSSL_FUNC_KDF_RESET, (dispatch_fn)tap_reset},
    {OSSL_FUNC_KDF_DERIVE, (dispatch_fn)tap_derive},
    {OSSL_FUNC_KDF_SET_CTX_PARAMS, (dispatch_fn)tap_set_ctx_params},
    {OSSL_FUNC_KDF_GET_CTX_PARAMS, (dispatch_fn)tap_get_ctx_params},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, (dispatch_fn)tap_settable_ctx_params},
    {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, (dispatch_fn)tap_gettable_ctx_params},
    {OSSL_FUNC_KDF_GET_PARAMS, (dispatch_fn)tap_get_params},
    {OSSL_FUNC_KDF_GETTABLE_PARAMS, (dispatch_fn)tap_gettable_params},
    {0, NULL},
};

static const OSSL_ALGORITHM tap_kdfs[] = {
    {OSSL_KDF_NAME_TLS1_3_KDF, "provider=" TAP_PROVIDER, tap_kdf_functions,
     "TLS 1.3 key schedule, showing the application traffic secrets to wssgate"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *tap_query(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    return operation_id == OSSL_OP_KDF ? tap_kdfs : NULL;
}

static const OSSL_DISPATCH tap_provider_functions[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (dispatch_fn)tap_query},
    {0, NULL},
};

static int tap_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                             const OSSL_DISPATCH **out, void **provctx)
{
    (void)in;
    *out = tap_provider_functions;
    *provctx = (void *)handle;
    return 1;
}

/* Runs before OpenSSL's own cleanup (atexit order): the provider leaves with its reference. */
static void unload(void)
{
    OSSL_PROVIDER_unload(tap_provider);
    tap_provider = NULL;
    propq = NULL;
    EVP_KDF_free(inner_kdf); /* still reachable, so LSan never said; but ours to give back */
    inner_kdf = NULL;
}

static void load(void)
{
    /* The inner derivation comes from whichever provider the process would use without the
     * tap. retain_fallbacks = 1: a provider loaded by hand must not switch off the automatic
     * loading of the default one. */
    inner_kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, "provider!=" TAP_PROVIDER);
    if (!inner_kdf || OSSL_PROVIDER_add_builtin(NULL, TAP_PROVIDER, tap_provider_init) != 1 ||
        !(tap_provider = OSSL_PROVIDER_try_load(NULL, TAP_PROVIDER, 1))) {
        ERR_clear_error();
        return;
    }
    propq = "?provider=" TAP_PROVIDER;
    atexit(unload);
}

const char *tls_kdf_tap_propq(void)
{
    pthread_once(&load_once, load);
    return propq;
}

void tls_kdf_tap_arm(tls_kdf_tap_fn *fn, void *arg)
{
    tap_fn = fn;
    tap_arg = arg;
}

void tls_kdf_tap_disarm(void)
{
    tap_fn = NULL;
    tap_arg = NULL;
    /* The end of an OpenSSL call that may have derived: no secret stays in the HMAC contexts
     * after libssl has wiped its own copies (a master secret on an idle worker, say). */
    tls13_hkdf_scrub();
}
