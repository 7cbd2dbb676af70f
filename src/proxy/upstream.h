/* A backend the gateway forwards to: parsed from a URL (ws://, wss://, http://, https://) and
 * resolved once at load time, never by a worker. */
#ifndef WSSGATE_PROXY_UPSTREAM_H
#define WSSGATE_PROXY_UPSTREAM_H

#include "net/addr.h"

#include <stdbool.h>

struct upstream_target {
    char url[320];    /* as written, for messages: "ws://127.0.0.1:9502" */
    bool tls;         /* wss:// or https:// */
    char host[256];   /* name or IP without brackets */
    int port;
    struct net_addr addr;
    char path[512];   /* path of the URL; "" when the URL has none (forward the URI unchanged) */
};

/* Parses and resolves url into *t. Returns 0, or -1 with "why; how to fix" in err. */
int upstream_target_parse(const char *url, struct upstream_target *t, char *err, size_t errlen);

#endif
