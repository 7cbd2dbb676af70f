/* Listening and connecting TCP sockets, non-blocking from birth. */
#ifndef WSSGATE_NET_SOCK_H
#define WSSGATE_NET_SOCK_H

#include "net/addr.h"

#include <stdbool.h>

/* Opens a non-blocking listener with SO_REUSEADDR (and SO_REUSEPORT when reuseport, so each
 * worker can own one). Returns the fd, or -1 with errno. */
int sock_listen(const struct net_addr *a, bool reuseport, int backlog);

/* True when another socket already listens on a (a probe bind without SO_REUSEPORT fails):
 * SO_REUSEPORT would otherwise let a second server share the port silently. */
bool sock_address_taken(const struct net_addr *a);

/* Accepts one connection as non-blocking with TCP_NODELAY. Returns the fd, or -1 with errno
 * (EAGAIN when none is pending). */
int sock_accept(int lfd, struct net_addr *peer);

/* Starts a non-blocking connect. Returns the fd (connected or in progress), or -1 with errno. */
int sock_connect(const struct net_addr *a);

/* After the connect's fd became writable: 0 when connected, else -1 with errno set from
 * SO_ERROR. */
int sock_connect_result(int fd);

#endif
