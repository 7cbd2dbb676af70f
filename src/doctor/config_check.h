/* `wssgate doctor -c FILE`: the configuration as the browser will meet it. Loads FILE with the
 * config loader (its errors and lint warnings), then checks each server's certificate (key,
 * dates, trust), each listening address (bindable, a port browsers allow) and each upstream
 * server (reachable). */
#ifndef WSSGATE_DOCTOR_CONFIG_CHECK_H
#define WSSGATE_DOCTOR_CONFIG_CHECK_H

#include "doctor/report.h"

/* Adds the steps "config", "lint", "cert", "listen" and "upstream" to r. A failure records the
 * problem (config-error, cert-expired, unsafe-port, backend-down) unless one is already
 * recorded. When r has no URL yet (doctor -c without a URL), the URL of the first TLS listener
 * is used for the browser's words. local_ca is wssgate's local CA file or NULL; each upstream
 * connection attempt waits at most timeout_ms. Returns 0 when nothing failed, -1 otherwise. */
int config_check(const char *path, const char *local_ca, int timeout_ms, struct report *r);

#endif
