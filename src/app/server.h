/* The server: worker threads (one epoll loop and one SO_REUSEPORT listener per address each),
 * the control thread's signal handling, and graceful stop. */
#ifndef WSSGATE_APP_SERVER_H
#define WSSGATE_APP_SERVER_H

#include "net/addr.h"
#include "proxy/conn.h"

#include <openssl/ssl.h>

struct app_listener {
    struct net_addr addr;
    struct conn_listener cl;
    char url[160]; /* "https://localhost:8443" for messages */
};

/* One configuration generation: everything a worker needs, immutable while serving. */
struct app_config {
    struct proxy_settings ps;
    int workers;                   /* 0 → one per CPU */
    struct app_listener *listeners;
    size_t nlisteners;
    SSL_CTX *upstream_ssl;
};

/* Called once every listener is open and the workers run (print the banner there). */
typedef void app_ready_fn(void *arg);

/* Opens the listeners, starts the workers and serves until SIGTERM/SIGINT, then stops
 * gracefully (drain_ms for tunnels; a second signal stops at once). Returns the process exit
 * status: 0 after a clean stop, 1 when the listeners could not be opened (err says why). */
int app_run(const struct app_config *cfg, app_ready_fn *ready, void *arg, char *err,
            size_t errlen);

/* The default number of workers: the CPUs this process may run on. */
int app_default_workers(void);

#endif
