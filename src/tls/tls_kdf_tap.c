/* The "wssgate" provider: one algorithm, TLS13-KDF, that forwards every call to the TLS13-KDF
 * of the provider OpenSSL would otherwise use and, when a tap is armed on the thread, passes
 * the application traffic secrets it sees to it. See tls_kdf_tap.h. */
#include "tls/tls_kdf_tap.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TAP_PROVIDER "wssgate"

static EVP_KDF *inner_kdf;          /* the TLS13-KDF of any provider but this one */
static OSSL_PROVIDER *tap_provider; /* loaded for the life of the process */
static const char *propq;           /* NULL until loaded, and if loading failed */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static _Thread_local tls_kdf_tap_fn *tap_fn;
static _Thread_local void *tap_arg;

struct tap_ctx {
    EVP_KDF_CTX *inner;
    int secret; /* enum tls_kdf_secret for an application traffic label, else -1 */
};

static int label_secret(const OSSL_PARAM *p)
{
    const void *v = NULL;
    size_t n = 0;
    if (!p || OSSL_PARAM_get_octet_string_ptr(p, &v, &n) != 1 || n != 12)
        return -1;
    if (memcmp(v, "c ap traffic", 12) == 0)
        return TLS_KDF_CLIENT_APP;
    if (memcmp(v, "s ap traffic", 12) == 0)
        return TLS_KDF_SERVER_APP;
    return -1;
}

/* A context around inner (NULL: out of memory, and nothing is left behind). */
static struct tap_ctx *wrap(EVP_KDF_CTX *inner, int secret)
{
    struct tap_ctx *c = inner ? malloc(sizeof(*c)) : NULL;
    if (!c) {
        EVP_KDF_CTX_free(inner);
        return NULL;
    }
    *c = (struct tap_ctx){.inner = inner, .secret = secret};
    return c;
}

static void *tap_newctx(void *provctx)
{
    (void)provctx;
    return wrap(EVP_KDF_CTX_new(inner_kdf), -1);
}

static void *tap_dupctx(void *vctx)
{
    const struct tap_ctx *src = vctx;
    return wrap(EVP_KDF_CTX_dup(src->inner), src->secret);
}

static void tap_freectx(void *vctx)
{
    struct tap_ctx *c = vctx;
    if (c) {
        EVP_KDF_CTX_free(c->inner);
        free(c);
    }
}

static void tap_reset(void *vctx)
{
    struct tap_ctx *c = vctx;
    EVP_KDF_CTX_reset(c->inner);
    c->secret = -1;
}

/* The label names the secret being derived; it comes with the derivation or before it. */
static void note_label(struct tap_ctx *c, const OSSL_PARAM params[])
{
    const OSSL_PARAM *label = params ? OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_LABEL) : NULL;
    if (label)
        c->secret = label_secret(label);
}

static int tap_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct tap_ctx *c = vctx;
    note_label(c, params);
    return EVP_KDF_CTX_set_params(c->inner, params);
}

static int tap_derive(void *vctx, unsigned char *out, size_t outlen, const OSSL_PARAM params[])
{
    struct tap_ctx *c = vctx;
    note_label(c, params);
    if (EVP_KDF_derive(c->inner, out, outlen, params) != 1)
        return 0;
    /* Only expansions carry a label that names a traffic secret; an extraction's label is
     * "derived". */
    if (tap_fn && c->secret >= 0)
        tap_fn(tap_arg, (enum tls_kdf_secret)c->secret, out, outlen);
    return 1;
}

static int tap_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    const struct tap_ctx *c = vctx;
    return EVP_KDF_CTX_get_params(c->inner, params);
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
}
