/* Upstream peer selection as nginx's balancers do (smooth weighted round robin, least_conn,
 * ip_hash, hash, hash consistent) with passive health: max_fails within fail_timeout, backups. */
#ifndef WSSGATE_PROXY_BALANCER_H
#define WSSGATE_PROXY_BALANCER_H

#include "core/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lb_method { LB_ROUND_ROBIN, LB_LEAST_CONN, LB_IP_HASH, LB_HASH, LB_HASH_CONSISTENT };

#define LB_MAX_PEERS 256

/* One `server` line of an upstream block (one per resolved address: a name that resolves to two
 * addresses is two peers with the same name, as nginx does). */
struct lb_peer {
    const char *name; /* the server's address as written, "127.0.0.1:9502": `hash consistent`
                         places its points by it (crc32 of host \0 port), so it must be the
                         config text for the distribution to match nginx's; copied */
    int weight;       /* >= 1 */
    int max_fails;    /* 0 disables failure accounting */
    unsigned fail_timeout_ms;
    bool backup, down;
    void *data; /* the caller's (its address); never touched */
};

/* An upstream's peers and their shared, mutable state: one mutex per group guards it, so all
 * worker threads share one round-robin position and one failure count per peer, like nginx
 * with a `zone` (without one, each nginx worker process balances on its own). */
struct lb_group;

/* Per-request state: zero it (`struct lb_tried t = {0};`) before the first lb_pick of a request
 * and pass the same struct to every retry. bits holds the peers already tried (the caller's
 * indexes); the rest is the hash methods' position, as nginx keeps it per request. */
struct lb_tried {
    uint64_t bits[4]; /* up to LB_MAX_PEERS */
    uint32_t hash;
    uint32_t rehash;
    uint16_t tries;
    bool started;
    bool backup; /* the primaries failed: this request now uses the backups, as nginx */
};

static inline bool lb_tried_has(const struct lb_tried *t, int i)
{
    return (t->bits[i / 64] >> (i % 64)) & 1;
}

/* Builds a group from n peers in config order (copied; peers[i].data kept). Returns NULL with
 * err: "no servers in upstream" (none, or only backups), "too many servers in upstream (at most
 * 256)", "invalid weight \"0\" of server \"x\"", or, for ip_hash and hash, "balancing method
 * does not support parameter \"backup\"". The caller owns the group (lb_group_free). */
struct lb_group *lb_group_new(enum lb_method m, const struct lb_peer *peers, size_t n, char *err,
                              size_t errlen);

/* Picks a peer for one attempt and returns its index in the array given to lb_group_new, or -1
 * ("no live upstreams", nginx's 502). key: for LB_IP_HASH the client address as raw bytes (4 for
 * IPv4, of which the first 3 count, or 16 for IPv6: sin_addr/sin6_addr), or as text ("1.2.3.4",
 * "::1") when it is not 4 or 16 bytes long; anything else hashes as 3 zero bytes, as nginx does
 * for a unix socket; for LB_HASH* the evaluated `hash` key; ignored otherwise. now_ms is a
 * monotonic clock. Never returns a peer already in tried; marks the chosen one there. The
 * caller must report every pick with lb_done. Thread-safe. As nginx:
 *   - a peer is unavailable while down, or while fails >= max_fails (max_fails > 0) and less
 *     than fail_timeout has passed since it was last checked;
 *   - backups are used only when no primary can be picked; a group of exactly one primary and
 *     no backup ignores max_fails (that peer is never unavailable unless down);
 *   - when no peer can be picked although some were not tried yet, every peer's failure count
 *     is reset ("all peers failed, mark them as live for quick recovery") and -1 is returned:
 *     this request fails, the next ones try again; when every peer was tried already, -1 is
 *     returned without reset (nginx has run out of tries and never asks);
 *   - ip_hash and hash fall back to round robin after 20 unavailable candidates, or with fewer
 *     than two primaries (hash consistent: with one primary); hash also with an empty key. */
int lb_pick(struct lb_group *g, struct str key, struct lb_tried *tried, uint64_t now_ms);

/* Reports the end of an attempt on peer (from lb_pick). failed: the connect failed or timed out
 * (proxy_next_upstream's errors): it counts toward max_fails, sets the fail_timeout window and
 * lowers the peer's round-robin weight for a while (nginx's effective_weight). A success after
 * the window reopened clears the count. Also ends the connection for least_conn. Thread-safe. */
void lb_done(struct lb_group *g, int peer, bool failed, uint64_t now_ms);

/* The number of attempts on peer still open (picked, not yet done). */
unsigned lb_active(struct lb_group *g, int peer);

void lb_group_free(struct lb_group *g); /* NULL ok; no lb_pick/lb_done may be running */

#endif
