/* DNS and TCP for the doctor: getaddrinfo, then one connection attempt per address with a
 * deadline, remembering why each failed. */
#include "doctor/probe_net.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "net/addr.h"

#define MAX_ADDRS 8

int probe_net_connect(const struct wsurl *u, int timeout_ms, struct report *r, struct dconn *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *ai;
    char port[8], list[512] = "", tried[1024] = "";
    size_t llen = 0, tlen = 0;
    int rc, n = 0, refused = 0, timeouts = 0, other = 0, other_errno = 0;
    int64_t t0;

    snprintf(port, sizeof port, "%d", u->port);
    t0 = dconn_now_ms();
    rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0) {
        report_step(r, "dns", STEP_FAIL, "%s does not resolve: %s", u->host, gai_strerror(rc));
        report_fail(r, "name-not-resolved", "The resolver says: %s.", gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && n < MAX_ADDRS; ai = ai->ai_next, n++) {
        char ip[64];
        struct net_addr a;
        memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        addr_ip_port((const struct sockaddr *)&a.ss, ip, sizeof ip);
        if (llen + strlen(ip) + 3 < sizeof list)
            llen += (size_t)snprintf(list + llen, sizeof list - llen, "%s%s", llen ? ", " : "", ip);
    }
    if (u->ip != 0)
        report_step(r, "dns", STEP_SKIP, "%s is an address: nothing to resolve", u->host);
    else
        report_step(r, "dns", STEP_OK, "%s → %s (%lld ms)", u->host, list,
                    (long long)(dconn_now_ms() - t0));

    for (ai = res, n = 0; ai != NULL && n < MAX_ADDRS; ai = ai->ai_next, n++) {
        struct net_addr a;
        char where[80];
        int64_t t1 = dconn_now_ms();
        memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        addr_format(&a, where, sizeof where);
        memset(c, 0, sizeof *c);
        rc = dconn_connect(c, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (rc == 0) {
            report_step(r, "tcp", STEP_OK, "connected to %s in %lld ms%s%s", where,
                        (long long)(dconn_now_ms() - t1), tlen ? " (before: " : "", tried);
            if (tlen) {
                struct report_step *s = &r->steps[r->nsteps - 1];
                size_t sl = strlen(s->detail);
                snprintf(s->detail + sl, sizeof s->detail - sl, ")");
            }
            freeaddrinfo(res);
            return 0;
        }
        if (rc == DCONN_TIMEOUT)
            timeouts++;
        else if (c->last_errno == ECONNREFUSED)
            refused++;
        else {
            other++;
            other_errno = c->last_errno;
        }
        if (tlen + 100 < sizeof tried)
            tlen += (size_t)snprintf(tried + tlen, sizeof tried - tlen, "%s%s %s", tlen ? "; " : "",
                                     where,
                                     rc == DCONN_TIMEOUT ? "timed out" : strerror(c->last_errno));
    }
    freeaddrinfo(res);
    report_step(r, "tcp", STEP_FAIL, "%s", tried);
    if (refused > 0 && timeouts == 0 && other == 0) {
        report_fail(r, "connection-refused", NULL);
    } else if (timeouts > 0) {
        report_fail(r, "connect-timeout", "No answer within %d ms.", timeout_ms);
    } else {
        r->args.detail = other_errno == ENETUNREACH || other_errno == EHOSTUNREACH
                             ? "ERR_ADDRESS_UNREACHABLE"
                             : "ERR_CONNECTION_FAILED";
        report_fail(r, "connect-timeout", "The connection failed: %s.", strerror(other_errno));
    }
    return -1;
}
