/* The doctor's TLS step: the handshake as a browser makes it, then what the browser would say
 * about the certificate (trust, name, dates), the worst problem first, as Chromium ranks them. */
#ifndef WSSGATE_DOCTOR_PROBE_TLS_H
#define WSSGATE_DOCTOR_PROBE_TLS_H

#include <stdbool.h>

#include "doctor/dconn.h"
#include "doctor/report.h"
#include "doctor/wsurl.h"

struct probe_tls_opts {
    const char *ca_file;  /* --ca: trusted as well, as curl's --cacert; may be NULL */
    const char *local_ca; /* wssgate's local CA file when it exists, else NULL */
    int timeout_ms;
};

/* Runs the TLS handshake on the connected c and judges the server's certificate for u->host.
 * Fills the "tls" step and, on failure, the problem (not-tls, tls-failed, no-response,
 * cert-untrusted, cert-name-mismatch, cert-expired). Returns 0 when a browser would go on. */
int probe_tls(struct dconn *c, const struct wsurl *u, const struct probe_tls_opts *o,
              struct report *r);

#endif
