/* RFC 6455 frame header codec: parse and encode frame headers, (un)mask payload bytes, build and
 * check close frames, validate UTF-8. Pure functions over caller memory: no I/O, no allocation. */
#ifndef WSSGATE_WS_WS_FRAME_H
#define WSSGATE_WS_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0,
    WS_OP_TEXT = 1,
    WS_OP_BINARY = 2,
    WS_OP_CLOSE = 8,
    WS_OP_PING = 9,
    WS_OP_PONG = 10,
};
enum { WS_FRAME_INVALID = -1, WS_FRAME_INCOMPLETE = -2 };

/* Largest header: 2 fixed bytes + 8-byte extended length + 4-byte masking key. */
#define WS_FRAME_HDR_MAX 14
/* Largest payload of a control frame (close, ping, pong), RFC 6455 §5.5. */
#define WS_CONTROL_MAX 125
/* Bytes ws_close_frame() may write: 2-byte header + mask + 125-byte payload. */
#define WS_CLOSE_FRAME_MAX (2 + 4 + WS_CONTROL_MAX)
/* Close code to report when a close frame carried no code (RFC 6455 §7.4.1; never sent). */
#define WS_CLOSE_NO_STATUS 1005

struct ws_frame_hdr {
    bool fin;
    uint8_t rsv;          /* RSV1..RSV3 as a 3-bit value: RSV1 = 4, RSV2 = 2, RSV3 = 1 */
    uint8_t opcode;       /* 0..15; ws_frame_parse() only yields the six defined ones */
    bool masked;
    uint8_t mask[4];      /* all zero when !masked */
    uint64_t payload_len; /* < 2^63 */
    size_t hdr_len;       /* 2..14: bytes of header before the payload */
};

/* True for control opcodes (close, ping, pong and the reserved 11..15). */
static inline bool ws_op_is_control(uint8_t opcode)
{
    return (opcode & 0x08) != 0;
}

/* Decodes one frame header from buf[0..len). Stateless: call again with more bytes after
 * WS_FRAME_INCOMPLETE; the header is decoded at once when all of it is there. Reads nothing past
 * buf[len - 1] and never the payload.
 * Returns the header length (2..14) and fills *h, or
 *   WS_FRAME_INCOMPLETE  the header is not all there yet (*h untouched);
 *   WS_FRAME_INVALID     reserved opcode (3-7, 11-15), control frame with fin = 0 or a payload
 *                        over 125 bytes, 64-bit length with its most significant bit set
 *                        (*h untouched).
 * The opcode and fin checks need only the first two bytes, so those errors are reported as soon
 * as two bytes are there; a prefix of any input yields INCOMPLETE or the whole input's result.
 * Left to the caller, because they depend on the connection:
 *   - RSV bits (allowed only by a negotiated extension), reported in h->rsv;
 *   - masking direction (client→server frames must be masked, server→client must not);
 *   - fragmentation order (CONT without a started message, TEXT/BINARY inside one);
 *   - size limits.
 * A length written with more bytes than needed (e.g. 5 as 126 + 0x0005) is accepted: §5.2 puts
 * the minimal encoding on the sender, and a gateway relaying bytes gains nothing by refusing.
 * Callers wanting strictness compare h->hdr_len with ws_frame_hdr_size(h->masked,
 * h->payload_len). */
int ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame_hdr *h);

/* Header length that ws_frame_encode() produces for this mask flag and payload length: the
 * minimal encoding (2, 4 or 10 bytes, plus 4 when masked). */
size_t ws_frame_hdr_size(bool masked, uint64_t payload_len);

/* Encodes a header into out (room for WS_FRAME_HDR_MAX bytes) with RSV bits 0. mask NULL writes
 * an unmasked frame; otherwise the 4 key bytes are copied into the header (the payload is not
 * touched: mask it with ws_mask()). The length uses the minimal encoding.
 * Returns the header length (2..14), or 0 and writes nothing if opcode > 15 or
 * payload_len >= 2^63 (not representable on the wire). */
size_t ws_frame_encode(uint8_t *out, bool fin, uint8_t opcode, const uint8_t mask[4],
                       uint64_t payload_len);

/* As ws_frame_encode() but from a struct, including h->rsv; h->mask is used iff h->masked and
 * h->hdr_len is ignored. Returns the header length, or 0 if opcode > 15, rsv > 7 or
 * payload_len >= 2^63. */
size_t ws_frame_hdr_encode(uint8_t *out, const struct ws_frame_hdr *h);

/* XORs p[0..len) with the masking key, in place; masking and unmasking are the same operation.
 * p[0] is payload byte number `offset` of its frame, so a payload can be done in pieces as it
 * arrives: ws_mask(p, a, m, 0) then ws_mask(p + a, b, m, a) equals ws_mask(p, a + b, m, 0).
 * p need not be aligned. */
void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset);

/* Writes a whole close frame into out (room for WS_CLOSE_FRAME_MAX = 131 bytes): FIN + close
 * opcode, payload = 2-byte code (big endian) + reason. mask NULL writes an unmasked (server)
 * frame; otherwise the frame is masked with it (client), payload included.
 * code 0 writes a close frame with an empty payload (no code, no reason). reason may be NULL;
 * it is NUL-terminated UTF-8 and is cut to the 123 bytes that fit, on a character boundary so
 * the result stays valid UTF-8. The code is not checked: never send 1005, 1006 or 1015.
 * Returns the number of bytes written (2..131). */
size_t ws_close_frame(uint8_t *out, uint16_t code, const char *reason, const uint8_t mask[4]);

/* True if p[0..len) (unmasked) is a valid close payload to receive: empty, or at most 125 bytes
 * with a 2-byte code in 1000-1003, 1007-1014 or 3000-4999, followed by a UTF-8 reason. */
bool ws_close_payload_valid(const uint8_t *p, size_t len);

/* Close code of an (unmasked) close payload, for logging: the first two bytes, or
 * WS_CLOSE_NO_STATUS when there are fewer than two. Does not validate. */
uint16_t ws_close_code(const uint8_t *p, size_t len);

/* True if p[0..len) is strict UTF-8 (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence at the end. Whole buffers
 * only: a message fragmented inside a character must be joined before checking. */
bool ws_utf8_valid(const uint8_t *p, size_t len);

#endif
