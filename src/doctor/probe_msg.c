/* One message and its answer, frame by frame: whole headers decoded with ws_frame_parse, pings
 * answered, a close frame or a dropped connection reported with what the page would see. */
#include "doctor/probe_msg.h"

#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/str.h"
#include "ws/ws_frame.h"

#define BUF_MAX 65536

/* What the walk saw on one message exchange. */
struct exchange {
    struct dconn *c;
    struct report *r;
    unsigned char msg[48];
    size_t msg_len;
    int64_t start, deadline;
};

static int send_frame(struct dconn *c, uint8_t opcode, const unsigned char *p, size_t n,
                      int64_t deadline)
{
    unsigned char frame[WS_FRAME_HDR_MAX + WS_CONTROL_MAX];
    uint8_t mask[4];
    size_t h;

    if (n > WS_CONTROL_MAX || RAND_bytes(mask, sizeof mask) != 1)
        return -1;
    h = ws_frame_encode(frame, true, opcode, mask, n);
    memcpy(frame + h, p, n);
    ws_mask(frame + h, n, mask, 0);
    return dconn_write_all(c, frame, h + n, deadline);
}

static int fail_frame(struct report *r, const char *words, const char *step_fmt)
{
    report_step(r, "message", STEP_FAIL, step_fmt, words);
    r->args.detail = words;
    report_fail(r, "bad-frame", NULL);
    return -1;
}

/* The header Chromium would refuse before looking at the payload: -1 (reported), or 0. */
static int check_header(struct exchange *x, const struct ws_frame_hdr *fh)
{
    static char rsv_words[96];

    if (fh->masked)
        return fail_frame(x->r, "A server must not mask any frames that it sends to the client.",
                          "%s");
    if (fh->rsv != 0) {
        snprintf(rsv_words, sizeof rsv_words,
                 "One or more reserved bits are on: reserved1 = %d, reserved2 = %d, reserved3 = %d",
                 (fh->rsv >> 2) & 1, (fh->rsv >> 1) & 1, fh->rsv & 1);
        return fail_frame(x->r, rsv_words, "%s");
    }
    return 0;
}

/* A data frame arrived: the answer. payload[0..have) is what is here of it. */
static void answered(struct exchange *x, const struct ws_frame_hdr *fh,
                     const unsigned char *payload, size_t have)
{
    struct str p = {(const char *)payload, have < fh->payload_len ? have : fh->payload_len};
    bool same = fh->opcode == WS_OP_TEXT && fh->payload_len == x->msg_len && p.len == x->msg_len &&
                memcmp(p.p, x->msg, x->msg_len) == 0;
    char preview[64];

    report_printable(p.len > 40 ? str_make(p.p, 40) : p, preview, sizeof preview);
    report_step(x->r, "message", STEP_OK, "sent \"%s\"; %s in %lld ms%s%s%s", (char *)x->msg,
                same ? "it came back"
                     : (fh->opcode == WS_OP_BINARY ? "a binary message came back"
                                                   : "a text message came back"),
                (long long)(dconn_now_ms() - x->start), same ? "" : ": \"", same ? "" : preview,
                same ? "" : (p.len > 40 ? "...\"" : "\""));
}

/* A whole control frame: a close ends the exchange (-1, reported), a ping gets its pong (0). */
static int control(struct exchange *x, const struct ws_frame_hdr *fh, const unsigned char *pl)
{
    size_t plen = (size_t)fh->payload_len;
    char reason[128];
    uint16_t code;

    if (fh->opcode == WS_OP_PING)
        (void)send_frame(x->c, WS_OP_PONG, pl, plen, x->deadline);
    if (fh->opcode != WS_OP_CLOSE)
        return 0;
    code = ws_close_code(pl, plen);
    report_printable(plen > 2 ? str_make((const char *)pl + 2, plen - 2) : STR_NULL, reason,
              sizeof reason);
    report_step(x->r, "message", STEP_FAIL,
                "the server closed the WebSocket (code %u%s%s%s) instead of answering", code,
                reason[0] ? ", \"" : "", reason, reason[0] ? "\"" : "");
    report_fail(x->r, "closed-after-open",
                "After the handshake the server sent a close frame with code %u%s%s%s.", code,
                reason[0] ? " and reason \"" : "", reason, reason[0] ? "\"" : "");
    return -1;
}

/* Nothing more came: the read ended with n (timeout, EOF or error). */
static int no_answer(struct exchange *x, ssize_t n, int timeout_ms)
{
    if (n == DCONN_TIMEOUT) {
        report_step(x->r, "message", STEP_FAIL, "sent \"%s\"; nothing came back in %d ms",
                    (char *)x->msg, timeout_ms);
        report_fail(x->r, "no-echo", NULL);
        return -1;
    }
    report_step(x->r, "message", STEP_FAIL,
                "sent \"%s\"; the server closed the connection without a close frame (the page "
                "sees close code 1006)",
                (char *)x->msg);
    report_fail(x->r, "closed-after-open",
                "After the handshake the server dropped the connection without a close frame "
                "(the page's onclose gets code 1006).");
    return -1;
}

int probe_msg_echo(struct dconn *c, int timeout_ms, struct report *r, const unsigned char *rest,
                   size_t rest_len)
{
    static unsigned char buf[BUF_MAX];
    struct exchange x = {.c = c, .r = r, .start = dconn_now_ms()};
    size_t len = rest_len < sizeof buf ? rest_len : sizeof buf;
    uint8_t rnd[4] = {0};

    x.deadline = x.start + timeout_ms;
    memcpy(buf, rest, len);
    (void)RAND_bytes(rnd, sizeof rnd);
    x.msg_len = (size_t)snprintf((char *)x.msg, sizeof x.msg, "wssgate doctor %02x%02x%02x%02x",
                                 rnd[0], rnd[1], rnd[2], rnd[3]);
    if (send_frame(c, WS_OP_TEXT, x.msg, x.msg_len, x.deadline) != 0) {
        report_step(r, "message", STEP_FAIL, "the connection failed while sending a message");
        report_fail(r, "closed-after-open",
                    "The server closed the connection right after the handshake.");
        return -1;
    }
    for (;;) {
        struct ws_frame_hdr fh;
        int hl = ws_frame_parse(buf, len, &fh);
        ssize_t n;

        if (hl == WS_FRAME_INVALID)
            return fail_frame(r, "Invalid frame header",
                              "the server sent an invalid frame header (%s)");
        if (hl > 0 && check_header(&x, &fh) != 0)
            return -1;
        if (hl > 0 && !ws_op_is_control(fh.opcode)) {
            answered(&x, &fh, buf + hl, len - (size_t)hl);
            return 0;
        }
        if (hl > 0 && (size_t)hl + fh.payload_len <= len) {
            size_t used = (size_t)hl + (size_t)fh.payload_len;
            if (control(&x, &fh, buf + hl) != 0)
                return -1;
            memmove(buf, buf + used, len - used);
            len -= used;
            continue;
        }
        /* a header or a control frame (at most 127 bytes) still incomplete: read on */
        n = dconn_read(c, buf + len, sizeof buf - len, x.deadline);
        if (n <= 0)
            return no_answer(&x, n, timeout_ms);
        len += (size_t)n;
    }
}
