/* `wssgate doctor`: walks the path a browser takes to a WebSocket — URL, mixed content, port,
 * DNS, TCP, TLS, the HTTP upgrade, one real message — and reports the first problem with the
 * browser's exact words, the cause and the fix. Blocking; for the command line. */
#ifndef WSSGATE_DOCTOR_DOCTOR_H
#define WSSGATE_DOCTOR_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "doctor/report.h"

#define DOCTOR_DEFAULT_TIMEOUT_MS 10000

struct doctor_opts {
    const char *url;     /* what the page passes to new WebSocket(); may be NULL with config */
    const char *page;    /* the page's URL or origin (--page), or NULL */
    const char *ca_file; /* --ca: one more trusted CA, or NULL */
    bool no_send;        /* --no-send: stop once the WebSocket is open */
    int timeout_ms;      /* each wait: connect, TLS, handshake answer, message answer */
    const char *config;  /* -c FILE: also check this configuration, or NULL */
};

/* Runs the walk, then (with o->config) the configuration checks, filling *r (zeroed here). Returns
 * 0 when the WebSocket works (warnings allowed), 1 when a step failed (r->problem says which), 2
 * when the options themselves are wrong (err filled: an unreadable --ca, a --page that is not an
 * http(s) URL). */
int doctor_run(const struct doctor_opts *o, struct report *r, char *err, size_t errlen);

#endif
