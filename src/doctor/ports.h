/* The ports browsers refuse to connect to (Chromium's restricted ports, net/base/port_util.cc):
 * a WebSocket on one of them fails with net::ERR_UNSAFE_PORT before any packet is sent. */
#ifndef WSSGATE_DOCTOR_PORTS_H
#define WSSGATE_DOCTOR_PORTS_H

#include <stdbool.h>

/* True when Chromium refuses port (1..65535) for ws:// and wss:// (and for http/https). */
bool ports_unsafe(int port);

/* The protocol Chromium reserves port for ("X11", "IRC", ...), or NULL when it is not unsafe. */
const char *ports_unsafe_name(int port);

#endif
