/* RFC 6455 opening handshake values: check a Sec-WebSocket-Key, compute and check the
 * Sec-WebSocket-Accept that answers it, and make a fresh key for the client side. */
#ifndef WSSGATE_WS_WS_HANDSHAKE_H
#define WSSGATE_WS_WS_HANDSHAKE_H

#include <stdbool.h>

#include "core/str.h"

/* Length of a Sec-WebSocket-Accept value: base64 of a 20-byte SHA-1. */
#define WS_ACCEPT_LEN 28
/* Length of a Sec-WebSocket-Key value: base64 of 16 bytes. */
#define WS_KEY_LEN 24

/* True if key (OWS already trimmed by the caller) is the base64 of exactly 16 bytes: 22 chars of
 * the standard alphabet (A-Z a-z 0-9 + /) then "==". The 4 unused bits of the 22nd char are not
 * required to be zero (as Go's base64.StdEncoding and most decoders): the accept value hashes
 * the key text as sent, so a non-canonical key is harmless. The URL-safe alphabet is refused. */
bool ws_key_valid(struct str key);

/* Writes base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) into out: 28 chars and a
 * NUL. key is hashed as given (not validated, not trimmed). Returns 0, or -1 if OpenSSL failed
 * (out then holds an empty string). */
int ws_accept_compute(struct str key, char out[WS_ACCEPT_LEN + 1]);

/* True if accept, after trimming OWS, equals the accept value for key (exact, case-sensitive).
 * False too if the value cannot be computed. For the client side checking a server's 101. */
bool ws_accept_matches(struct str key, struct str accept);

/* Writes a fresh Sec-WebSocket-Key into out: 16 bytes from RAND_bytes in base64, 24 chars and a
 * NUL. Returns 0, or -1 if the random generator failed (out then holds an empty string). */
int ws_key_generate(char out[WS_KEY_LEN + 1]);

#endif
