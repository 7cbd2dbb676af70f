/* RFC 6455 opening handshake values: Sec-WebSocket-Key validation, Sec-WebSocket-Accept from
 * SHA-1 (OpenSSL EVP) and base64 (EVP_EncodeBlock), random client keys (RAND_bytes). */
#include "ws/ws_handshake.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

bool ws_key_valid(struct str key)
{
    if (key.len != WS_KEY_LEN)
        return false;
    for (size_t i = 0; i < WS_KEY_LEN - 2; i++)
        if (!b64_char(key.p[i]))
            return false;
    return key.p[22] == '=' && key.p[23] == '=';
}

int ws_accept_compute(struct str key, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = 0;

    out[0] = '\0';
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx)
        ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, key.p, key.len) == 1 &&
             EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    /* 20 bytes give exactly 28 chars plus the NUL that EVP_EncodeBlock writes. */
    return EVP_EncodeBlock((unsigned char *)out, md, 20) == WS_ACCEPT_LEN ? 0 : -1;
}

bool ws_accept_matches(struct str key, struct str accept)
{
    char want[WS_ACCEPT_LEN + 1];

    accept = str_trim_ows(accept);
    if (accept.len != WS_ACCEPT_LEN || ws_accept_compute(key, want) != 0)
        return false;
    return memcmp(accept.p, want, WS_ACCEPT_LEN) == 0;
}

int ws_key_generate(char out[WS_KEY_LEN + 1])
{
    unsigned char raw[16];

    out[0] = '\0';
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    if (EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw)) != WS_KEY_LEN) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}
