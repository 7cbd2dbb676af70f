/* The doctor's last step: one real message over the open WebSocket and its answer. A ping would
 * not do: WebSocket stacks answer pings even when the application behind them is stuck. */
#ifndef WSSGATE_DOCTOR_PROBE_MSG_H
#define WSSGATE_DOCTOR_PROBE_MSG_H

#include <stddef.h>

#include "doctor/dconn.h"
#include "doctor/report.h"

/* Sends one masked text message on c and waits up to timeout_ms for a data message back,
 * answering pings meanwhile. rest[0..rest_len) holds the bytes received right behind the 101.
 * Fills the "message" step and, on failure, the problem (no-echo, closed-after-open,
 * bad-frame). Returns 0 when a message came back, -1 otherwise. Uses static buffers: one call at
 * a time. */
int probe_msg_echo(struct dconn *c, int timeout_ms, struct report *r, const unsigned char *rest,
                   size_t rest_len);

#endif
