/* Address parsing, load-time resolution and printing. */
#include "net/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, int *port)
{
    if (!*s)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *port = (int)v;
    return 0;
}

int addr_split(const char *in, char *host, size_t host_cap, int *port, int default_port,
               const char **why)
{
    const char *hs = in, *he, *ps = NULL;
    if (*in == '[') {
        hs = in + 1;
        he = strchr(hs, ']');
        if (!he) {
            *why = "missing ']' after an IPv6 address";
            return -1;
        }
        if (he[1] == ':')
            ps = he + 2;
        else if (he[1]) {
            *why = "unexpected text after ']'";
            return -1;
        }
    } else {
        he = strrchr(in, ':');
        if (he && strchr(in, ':') != he) {
            *why = "an IPv6 address needs brackets: [::1]:8443";
            return -1;
        }
        if (he)
            ps = he + 1;
        else
            he = in + strlen(in);
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= host_cap) {
        *why = hl ? "host name too long" : "empty host";
        return -1;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = default_port;
    if (ps && parse_port(ps, port) < 0) {
        *why = "the port must be a number from 1 to 65535";
        return -1;
    }
    if (!ps && default_port <= 0) {
        *why = "a port is required";
        return -1;
    }
    return 0;
}

int addr_resolve(const char *host, int port, struct net_addr *out, char *err, size_t errlen)
{
    int n = addr_resolve_all(host, port, out, 1, err, errlen);
    if (n == 0)
        snprintf(err, errlen, "host \"%s\" has no address", host);
    return n > 0 ? 0 : -1;
}

int addr_resolve_all(const char *host, int port, struct net_addr *out, int max, char *err,
                     size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char ports[8];
    snprintf(ports, sizeof(ports), "%d", port);
    int rc = getaddrinfo(host, ports, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve host \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    int n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup |= out[i].len == ai->ai_addrlen && memcmp(&out[i].ss, ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup)
            continue;
        memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
        out[n].len = ai->ai_addrlen;
        n++;
    }
    freeaddrinfo(res);
    return n;
}

int addr_ip_port(const struct sockaddr *sa, char *ip, size_t cap)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)cap);
        return ntohs(s6->sin6_port);
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)cap);
        return ntohs(s4->sin_port);
    }
    snprintf(ip, cap, "unix");
    return 0;
}

void addr_format(const struct net_addr *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    int port = addr_ip_port((const struct sockaddr *)&a->ss, ip, sizeof(ip));
    if (a->ss.ss_family == AF_INET6)
        snprintf(out, cap, "[%s]:%d", ip, port);
    else
        snprintf(out, cap, "%s:%d", ip, port);
}
