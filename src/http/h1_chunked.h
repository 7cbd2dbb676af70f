/* Incremental scanner for a chunked message body (RFC 9112 section 7.1) that the proxy forwards
 * as-is: it finds where the body ends and rejects malformed framing, it does not decode. */
#ifndef WSSGATE_HTTP_H1_CHUNKED_H
#define WSSGATE_HTTP_H1_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/h1_parse.h"

/* Bounds enforced by the scanner. */
#define H1_CHUNK_MAX_HEX 15          /* hex digits in a chunk-size (leading zeros count): < 2^60 */
#define H1_CHUNK_MAX_LINE 4096       /* bytes of a chunk-size line or of one trailer line, CRLF included */
#define H1_CHUNK_MAX_TRAILER 16384   /* bytes of the trailer section, its final CRLF included */

/* Scanner state, in the caller's memory (h1_chunked_init). Only `reason` is public. */
struct h1_chunked {
    unsigned state;      /* private: where in the body grammar the next byte falls */
    unsigned ndigits;    /* private: hex digits read in the current chunk-size */
    uint64_t size;       /* private: chunk-size being read, then data bytes left in the chunk */
    uint32_t line_len;   /* private: bytes of the current size or trailer line */
    uint32_t trailer_len; /* private: bytes of the trailer section so far */
    uint64_t data;       /* private: payload bytes seen (h1_chunked_data_bytes) */
    const char *reason;  /* after H1_INVALID: static, short, human; NULL before */
};

/* Starts a scan at the first byte of a body. */
void h1_chunked_init(struct h1_chunked *c);

/* Scans buf[0..len), the next bytes of the body. Returns how many leading bytes belong to the
 * body: all of len until the end of the body, then only up to and including the CRLF that ends
 * the trailer section (the bytes after it are the next pipelined message), with *done set true.
 * Once done, later calls return 0 with *done true. On malformed framing returns H1_INVALID with
 * c->reason set, and keeps returning H1_INVALID. Chunk data is skipped in bulk. Does not keep
 * buf. len above LONG_MAX is scanned as LONG_MAX bytes. */
long h1_chunked_scan(struct h1_chunked *c, const char *buf, size_t len, bool *done);

/* Payload (chunk-data) bytes seen so far, for body-size limits; saturates at UINT64_MAX. */
uint64_t h1_chunked_data_bytes(const struct h1_chunked *c);

#endif
