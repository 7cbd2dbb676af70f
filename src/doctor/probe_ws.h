/* The doctor's upgrade step: the opening handshake as Chromium sends it, and what Chromium
 * concludes from the response (its words for each way a handshake fails). */
#ifndef WSSGATE_DOCTOR_PROBE_WS_H
#define WSSGATE_DOCTOR_PROBE_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "doctor/dconn.h"
#include "doctor/report.h"
#include "doctor/wsurl.h"
#include "http/h1_parse.h"

/* Writes the handshake request for u into out[cap] with the given Origin and Sec-WebSocket-Key,
 * header by header as Chromium sends them (no subprotocol, no extension). Returns its length, or
 * -1 when it does not fit. */
int probe_ws_request(char *out, size_t cap, const struct wsurl *u, const char *origin,
                     const char *key);

/* What a browser concludes from a complete response head. */
struct ws_verdict {
    const char *code; /* problem code; NULL when the handshake is good */
    int status;
    char detail[256];   /* the words after "Error during WebSocket handshake: " for the
                           handshake problems; "" otherwise */
    char location[512]; /* Location of a redirect (printable ASCII), "" when none */
};

/* Classifies resp (parsed from the server's answer to a request with key) as Chromium does:
 * the status first, then for a 101 the Upgrade, Connection and Sec-WebSocket-Accept headers in
 * that order, then an unrequested subprotocol. Pure. */
void probe_ws_classify(const struct h1_response *resp, const char *key, struct ws_verdict *v);

/* Sends the handshake on c and reads the answer (up to timeout_ms), filling the "upgrade" step
 * and, on failure, the problem in r. On success the bytes received after the head (the first
 * frames) are left in rest[0..*rest_len), rest having room for rest_cap bytes. Returns 0 when
 * the WebSocket is open, -1 otherwise. */
int probe_ws_upgrade(struct dconn *c, const struct wsurl *u, const char *origin, int timeout_ms,
                     struct report *r, unsigned char *rest, size_t rest_cap, size_t *rest_len);

#endif
