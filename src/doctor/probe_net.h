/* The doctor's network steps: DNS resolution of the URL's host, then a TCP connection to its
 * addresses in order, as a browser tries them. */
#ifndef WSSGATE_DOCTOR_PROBE_NET_H
#define WSSGATE_DOCTOR_PROBE_NET_H

#include "doctor/dconn.h"
#include "doctor/report.h"
#include "doctor/wsurl.h"

/* Resolves u->host and connects to u->port on the first address that accepts, each attempt
 * bounded by timeout_ms. Fills the "dns" and "tcp" steps and, on failure, the problem
 * (name-not-resolved, connection-refused, connect-timeout). Returns 0 with c connected, or -1. */
int probe_net_connect(const struct wsurl *u, int timeout_ms, struct report *r, struct dconn *c);

#endif
