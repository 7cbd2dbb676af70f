/* Pieces the quick-mode and demo commands share: a certificate for a host (given, or issued by
 * the local CA), listeners for every address of a host, and the banner that says how to trust. */
#ifndef WSSGATE_CLI_SETUP_H
#define WSSGATE_CLI_SETUP_H

#include "app/server.h"

#include <stdbool.h>

/* A TLS context for host: from cert/key when given, else from the local CA in the state dir
 * (created on first use). ca_path gets the CA file ("" when cert/key were given). Returns NULL
 * with the reason printed. */
SSL_CTX *setup_tls(const char *host, const char *cert, const char *key, char *ca_path,
                   size_t ca_cap);

/* Appends a listener per address of host:port to cfg (tls when ctx != NULL). Returns 0, or -1
 * with the reason printed. */
int setup_listen(struct app_config *cfg, const char *host, int port, SSL_CTX *ctx,
                 const struct route_server *server);

/* Prints how to make browsers and tools trust the local CA at ca_path. */
void setup_print_trust(const char *ca_path, const char *example_url);

void setup_free(struct app_config *cfg);

#endif
