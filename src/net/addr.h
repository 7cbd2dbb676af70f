/* Socket addresses: parsing "host:port" / "[v6]:port", resolving at load time, printing.
 * Resolution may block, so it is only called while loading a configuration, never by a worker. */
#ifndef WSSGATE_NET_ADDR_H
#define WSSGATE_NET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Splits "host:port", "[v6]:port" or "host" (port = default_port) into host (brackets removed)
 * and port. Returns 0, or -1 with a static reason in *why. */
int addr_split(const char *in, char *host, size_t host_cap, int *port, int default_port,
               const char **why);

/* Resolves host (numeric or a name, via getaddrinfo) and port into *out, first result. Returns
 * 0, or -1 with a reason in err. */
int addr_resolve(const char *host, int port, struct net_addr *out, char *err, size_t errlen);

/* Resolves host into every distinct address it has (localhost → 127.0.0.1 and ::1), at most
 * max. Returns how many, or -1 with a reason in err. */
int addr_resolve_all(const char *host, int port, struct net_addr *out, int max, char *err,
                     size_t errlen);

/* Writes "1.2.3.4:80" or "[::1]:80" into out. */
void addr_format(const struct net_addr *a, char *out, size_t cap);

/* Writes only the IP ("1.2.3.4" or "::1") and returns the port. */
int addr_ip_port(const struct sockaddr *sa, char *ip, size_t cap);

#endif
