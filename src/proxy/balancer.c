/* nginx's upstream balancers: ngx_http_upstream_round_robin.c (get_peer, free_peer) and the
 * least_conn, ip_hash and hash (consistent) modules, over one mutex-guarded group state. */
#include "proxy/balancer.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct peer {
    char *name;
    int weight, max_fails;
    int64_t fail_timeout;
    bool backup, down;
    int name_id; /* hash consistent: the first primary with the same name */
    /* mutable, under the group mutex */
    int effective_weight, current_weight;
    unsigned conns, fails;
    uint64_t accessed, checked; /* ms: last failure, last check */
};

struct tier {
    int *idx; /* peers of the tier in config order */
    int n;
    int total_weight;
    bool single; /* one primary and no backup: failures are not counted */
};

struct point {
    uint32_t hash;
    int name_id;
    int order; /* creation order, to make the sort deterministic */
};

struct lb_group {
    enum lb_method method;
    pthread_mutex_t mu;
    struct peer *p;
    int n;
    struct tier prim, back;
    struct point *points; /* hash consistent: the ring, sorted, distinct hashes */
    size_t npoints;
};

/* ---- crc32 (ngx_crc32: IEEE 802.3, reflected) --------------------------------------------- */

static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

/* crc is the running state (start 0xffffffff, finish with ^ 0xffffffff), as ngx_crc32_update. */
static uint32_t crc_update(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return crc;
}

static uint32_t crc32_of(const void *data, size_t len)
{
    return crc_update(0xffffffffu, data, len) ^ 0xffffffffu;
}

/* ---- group construction ------------------------------------------------------------------- */

static int build_tier(struct lb_group *g, struct tier *t, bool backup)
{
    t->idx = calloc((size_t)g->n, sizeof(int));
    if (t->idx == NULL)
        return -1;
    for (int i = 0; i < g->n; i++) {
        if (g->p[i].backup == backup) {
            t->idx[t->n++] = i;
            t->total_weight += g->p[i].weight;
        }
    }
    return 0;
}

static int cmp_points(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->order - y->order;
}

/* Splits "host:port" as ngx_http_upstream_update_chash does: a run of digits after the last
 * ':' is the port; "unix:" names have none. */
static void split_host_port(const char *s, struct str *host, struct str *port)
{
    size_t len = strlen(s);
    *port = str_make("", 0);
    if (len >= 5 && strncasecmp(s, "unix:", 5) == 0) {
        *host = str_make(s + 5, len - 5);
        return;
    }
    *host = str_make(s, len);
    for (size_t j = 0; j < len; j++) {
        char c = s[len - j - 1];
        if (c == ':') {
            *host = str_make(s, len - j - 1);
            *port = str_make(s + len - j, j);
            return;
        }
        if (c < '0' || c > '9')
            return;
    }
}

/* The ring: weight * 160 points per primary, crc32(HOST \0 PORT PREV_HASH), as
 * Cache::Memcached::Fast and nginx; PREV_HASH is the previous point, 4 bytes little-endian. */
static int build_points(struct lb_group *g)
{
    size_t total = (size_t)g->prim.total_weight * 160, k = 0;
    g->points = calloc(total, sizeof(*g->points));
    if (g->points == NULL)
        return -1;
    for (int t = 0; t < g->prim.n; t++) {
        const struct peer *p = &g->p[g->prim.idx[t]];
        struct str host, port;
        split_host_port(p->name, &host, &port);
        uint32_t base = crc_update(0xffffffffu, host.p, host.len);
        base = crc_update(base, "", 1);
        base = crc_update(base, port.p, port.len);
        uint32_t prev = 0;
        for (int j = 0; j < p->weight * 160; j++) {
            unsigned char le[4] = {prev & 0xff, (prev >> 8) & 0xff, (prev >> 16) & 0xff,
                                   (prev >> 24) & 0xff};
            uint32_t h = crc_update(base, le, 4) ^ 0xffffffffu;
            g->points[k] = (struct point){h, p->name_id, (int)k};
            k++;
            prev = h;
        }
    }
    qsort(g->points, k, sizeof(*g->points), cmp_points);
    size_t i = 0; /* of equal hashes the first stays */
    for (size_t j = 1; j < k; j++)
        if (g->points[i].hash != g->points[j].hash)
            g->points[++i] = g->points[j];
    g->npoints = k ? i + 1 : 0;
    return 0;
}

static int check_peers(enum lb_method m, const struct lb_peer *peers, size_t n, char *err,
                       size_t errlen)
{
    size_t primaries = 0;
    if (n > LB_MAX_PEERS) {
        snprintf(err, errlen, "too many servers in upstream (at most %d)", LB_MAX_PEERS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (peers[i].weight < 1 || peers[i].weight > 1000000) {
            snprintf(err, errlen, "invalid weight \"%d\" of server \"%s\"", peers[i].weight,
                     peers[i].name);
            return -1;
        }
        if (peers[i].backup && (m == LB_IP_HASH || m == LB_HASH || m == LB_HASH_CONSISTENT)) {
            snprintf(err, errlen, "balancing method does not support parameter \"backup\"");
            return -1;
        }
        primaries += !peers[i].backup;
    }
    if (primaries == 0) {
        snprintf(err, errlen, "no servers in upstream");
        return -1;
    }
    return 0;
}

static void fill_peers(struct lb_group *g, const struct lb_peer *peers)
{
    for (int i = 0; i < g->n; i++) {
        struct peer *p = &g->p[i];
        p->weight = peers[i].weight;
        p->max_fails = peers[i].max_fails;
        p->fail_timeout = (int64_t)peers[i].fail_timeout_ms;
        p->backup = peers[i].backup;
        p->down = peers[i].down;
        p->effective_weight = p->weight;
        p->name_id = i;
        for (int j = 0; j < i; j++) {
            if (!g->p[j].backup && !p->backup && strcmp(g->p[j].name, p->name) == 0) {
                p->name_id = g->p[j].name_id;
                break;
            }
        }
    }
}

struct lb_group *lb_group_new(enum lb_method m, const struct lb_peer *peers, size_t n, char *err,
                              size_t errlen)
{
    if (check_peers(m, peers, n, err, errlen) < 0)
        return NULL;
    struct lb_group *g = calloc(1, sizeof(*g));
    if (g == NULL || (g->p = calloc(n, sizeof(*g->p))) == NULL)
        goto nomem;
    g->method = m;
    g->n = (int)n;
    pthread_mutex_init(&g->mu, NULL);
    for (size_t i = 0; i < n; i++)
        if ((g->p[i].name = strdup(peers[i].name ? peers[i].name : "")) == NULL)
            goto nomem;
    fill_peers(g, peers);
    if (build_tier(g, &g->prim, false) < 0 || build_tier(g, &g->back, true) < 0)
        goto nomem;
    g->prim.single = g->prim.n == 1 && g->back.n == 0;
    if (m == LB_HASH_CONSISTENT && build_points(g) < 0)
        goto nomem;
    return g;
nomem:
    lb_group_free(g);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void lb_group_free(struct lb_group *g)
{
    if (g == NULL)
        return;
    if (g->p) {
        pthread_mutex_destroy(&g->mu);
        for (int i = 0; i < g->n; i++)
            free(g->p[i].name);
    }
    free(g->p);
    free(g->prim.idx);
    free(g->back.idx);
    free(g->points);
    free(g);
}

/* ---- shared helpers ----------------------------------------------------------------------- */

static void mark(struct lb_tried *t, int i)
{
    t->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool failed_now(const struct peer *p, uint64_t now)
{
    return p->max_fails && p->fails >= (unsigned)p->max_fails &&
           (int64_t)(now - p->checked) <= p->fail_timeout;
}

static bool usable(const struct lb_group *g, const struct lb_tried *t, int i, uint64_t now)
{
    return !lb_tried_has(t, i) && !g->p[i].down && !failed_now(&g->p[i], now);
}

/* What every method does with its choice (conns, tried, the check time). */
static int take(struct lb_group *g, struct lb_tried *t, int i, uint64_t now)
{
    struct peer *p = &g->p[i];
    if ((int64_t)(now - p->checked) > p->fail_timeout)
        p->checked = now;
    p->conns++;
    mark(t, i);
    return i;
}

static bool all_tried(const struct lb_group *g, const struct lb_tried *t)
{
    for (int i = 0; i < g->n; i++)
        if (!lb_tried_has(t, i))
            return false;
    return true;
}

static void reset_fails(struct lb_group *g, const struct tier *tier)
{
    for (int k = 0; k < tier->n; k++)
        g->p[tier->idx[k]].fails = 0;
}

/* ---- round robin -------------------------------------------------------------------------- */

/* ngx_http_upstream_get_peer: smooth weighted round robin over the usable peers of a tier. */
static int rr_tier(struct lb_group *g, const struct tier *tier, struct lb_tried *t, uint64_t now)
{
    int best = -1, total = 0;
    for (int k = 0; k < tier->n; k++) {
        int i = tier->idx[k];
        struct peer *p = &g->p[i];
        if (!usable(g, t, i, now))
            continue;
        p->current_weight += p->effective_weight;
        total += p->effective_weight;
        if (p->effective_weight < p->weight)
            p->effective_weight++;
        if (best < 0 || p->current_weight > g->p[best].current_weight)
            best = i;
    }
    if (best < 0)
        return -1;
    g->p[best].current_weight -= total;
    return take(g, t, best, now);
}

/* ngx_http_upstream_get_round_robin_peer, with tier_pick the method's choice within a tier. */
static int pick_tiers(struct lb_group *g, struct lb_tried *t, uint64_t now,
                      int (*tier_pick)(struct lb_group *, const struct tier *, struct lb_tried *,
                                       uint64_t))
{
    int i = -1;
    if (!t->backup) {
        if (g->prim.single) {
            int only = g->prim.idx[0]; /* never unavailable but for `down` */
            if (!g->p[only].down && !lb_tried_has(t, only))
                return take(g, t, only, now);
        } else {
            i = tier_pick(g, &g->prim, t, now);
        }
        if (i >= 0)
            return i;
        if (g->back.n == 0) {
            reset_fails(g, &g->prim);
            return -1;
        }
        t->backup = true;
        i = tier_pick(g, &g->back, t, now);
        if (i >= 0)
            return i;
        reset_fails(g, &g->back);
        reset_fails(g, &g->prim);
        return -1;
    }
    i = tier_pick(g, &g->back, t, now);
    if (i < 0)
        reset_fails(g, &g->back);
    return i;
}

/* ---- least_conn --------------------------------------------------------------------------- */

/* Fewest active connections per weight; ties go to weighted round robin among them, starting
 * at the first of them (ngx_http_upstream_get_least_conn_peer). */
static int lc_tier(struct lb_group *g, const struct tier *tier, struct lb_tried *t, uint64_t now)
{
    int best = -1, first = 0, total = 0;
    bool many = false;
    for (int k = 0; k < tier->n; k++) {
        int i = tier->idx[k];
        if (!usable(g, t, i, now))
            continue;
        const struct peer *p = &g->p[i], *b = best >= 0 ? &g->p[best] : NULL;
        if (b == NULL || (uint64_t)p->conns * b->weight < (uint64_t)b->conns * p->weight) {
            best = i;
            first = k;
            many = false;
        } else if ((uint64_t)p->conns * b->weight == (uint64_t)b->conns * p->weight) {
            many = true;
        }
    }
    if (best < 0)
        return -1;
    for (int k = first; many && k < tier->n; k++) {
        int i = tier->idx[k];
        struct peer *p = &g->p[i];
        const struct peer *b = &g->p[best];
        if (!usable(g, t, i, now) ||
            (uint64_t)p->conns * b->weight != (uint64_t)b->conns * p->weight)
            continue;
        p->current_weight += p->effective_weight;
        total += p->effective_weight;
        if (p->effective_weight < p->weight)
            p->effective_weight++;
        if (p->current_weight > g->p[best].current_weight)
            best = i;
    }
    g->p[best].current_weight -= total;
    return take(g, t, best, now);
}

/* ---- ip_hash and hash --------------------------------------------------------------------- */

/* The primary that owns w in [0, total_weight): weights laid end to end in config order. */
static int by_weight(const struct lb_group *g, uint32_t w)
{
    int k = 0;
    while (w >= (uint32_t)g->p[g->prim.idx[k]].weight) {
        w -= (uint32_t)g->p[g->prim.idx[k]].weight;
        k++;
    }
    return g->prim.idx[k];
}

/* The bytes ip_hash hashes: raw 4 (IPv4: the first 3 count) or 16 (IPv6) bytes, or the same
 * address as text; anything else is nginx's pseudo-address of 3 zero bytes (unix sockets). */
static size_t ip_key(struct str key, unsigned char out[16])
{
    char text[64];
    memset(out, 0, 16);
    if (key.len == 4 || key.len == 16) {
        memcpy(out, key.p, key.len);
        return key.len == 4 ? 3 : 16;
    }
    if (key.len == 0 || key.len >= sizeof(text))
        return 3;
    memcpy(text, key.p, key.len);
    text[key.len] = '\0';
    if (inet_pton(AF_INET, text, out) == 1)
        return 3;
    if (inet_pton(AF_INET6, text, out) == 1)
        return 16;
    memset(out, 0, 16);
    return 3;
}

/* ngx_http_upstream_get_ip_hash_peer. */
static int ip_hash_pick(struct lb_group *g, struct str key, struct lb_tried *t, uint64_t now)
{
    unsigned char addr[16];
    size_t len = ip_key(key, addr);
    if (t->tries > 20 || g->prim.n < 2)
        return pick_tiers(g, t, now, rr_tier);
    uint32_t hash = t->started ? t->hash : 89;
    for (;;) {
        for (size_t i = 0; i < len; i++)
            hash = (hash * 113 + addr[i]) % 6271;
        int i = by_weight(g, hash % (uint32_t)g->prim.total_weight);
        if (usable(g, t, i, now)) {
            t->hash = hash;
            t->started = true;
            return take(g, t, i, now);
        }
        if (++t->tries > 20)
            return pick_tiers(g, t, now, rr_tier);
    }
}

/* ngx_http_upstream_get_hash_peer: ((crc32([REHASH] KEY) >> 16) & 0x7fff) + PREV_HASH, the
 * Cache::Memcached formula; REHASH is the attempt number in decimal, absent at first. */
static int hash_pick(struct lb_group *g, struct str key, struct lb_tried *t, uint64_t now)
{
    if (t->tries > 20 || g->prim.n < 2 || key.len == 0)
        return pick_tiers(g, t, now, rr_tier);
    for (;;) {
        uint32_t crc = 0xffffffffu;
        if (t->rehash > 0) {
            char buf[16];
            int n = snprintf(buf, sizeof(buf), "%u", (unsigned)t->rehash);
            crc = crc_update(crc, buf, (size_t)n);
        }
        crc = crc_update(crc, key.p, key.len) ^ 0xffffffffu;
        t->hash += (crc >> 16) & 0x7fff;
        t->rehash++;
        int i = by_weight(g, t->hash % (uint32_t)g->prim.total_weight);
        if (usable(g, t, i, now))
            return take(g, t, i, now);
        if (++t->tries > 20)
            return pick_tiers(g, t, now, rr_tier);
    }
}

/* The first point at or after hash (may be npoints: the ring wraps with %). */
static uint32_t find_point(const struct lb_group *g, uint32_t hash)
{
    size_t i = 0, j = g->npoints;
    while (i < j) {
        size_t k = (i + j) / 2;
        if (hash > g->points[k].hash)
            i = k + 1;
        else if (hash < g->points[k].hash)
            j = k;
        else
            return (uint32_t)k;
    }
    return (uint32_t)i;
}

/* ngx_http_upstream_get_chash_peer: walk the ring from crc32(key); at each point, weighted
 * round robin among the usable primaries carrying that point's name. */
static int chash_pick(struct lb_group *g, struct str key, struct lb_tried *t, uint64_t now)
{
    if (t->tries > 20 || g->prim.single || key.len == 0 || g->npoints == 0)
        return pick_tiers(g, t, now, rr_tier);
    if (!t->started) {
        t->hash = find_point(g, crc32_of(key.p, key.len));
        t->started = true;
    }
    for (;;) {
        int name_id = g->points[t->hash % g->npoints].name_id, best = -1, total = 0;
        for (int k = 0; k < g->prim.n; k++) {
            int i = g->prim.idx[k];
            struct peer *p = &g->p[i];
            if (p->name_id != name_id || !usable(g, t, i, now))
                continue;
            p->current_weight += p->effective_weight;
            total += p->effective_weight;
            if (p->effective_weight < p->weight)
                p->effective_weight++;
            if (best < 0 || p->current_weight > g->p[best].current_weight)
                best = i;
        }
        if (best >= 0) {
            g->p[best].current_weight -= total;
            return take(g, t, best, now);
        }
        t->hash++;
        if (++t->tries > 20)
            return pick_tiers(g, t, now, rr_tier);
    }
}

/* ---- public ------------------------------------------------------------------------------- */

int lb_pick(struct lb_group *g, struct str key, struct lb_tried *tried, uint64_t now_ms)
{
    int i;
    pthread_mutex_lock(&g->mu);
    if (all_tried(g, tried)) {
        i = -1; /* nginx's tries are used up: it would not ask, and resets nothing */
    } else if (g->method == LB_LEAST_CONN && !g->prim.single) {
        i = pick_tiers(g, tried, now_ms, lc_tier);
    } else if (g->method == LB_IP_HASH) {
        i = ip_hash_pick(g, key, tried, now_ms);
    } else if (g->method == LB_HASH) {
        i = hash_pick(g, key, tried, now_ms);
    } else if (g->method == LB_HASH_CONSISTENT) {
        i = chash_pick(g, key, tried, now_ms);
    } else {
        i = pick_tiers(g, tried, now_ms, rr_tier);
    }
    pthread_mutex_unlock(&g->mu);
    return i;
}

/* ngx_http_upstream_free_round_robin_peer. */
void lb_done(struct lb_group *g, int peer, bool failed, uint64_t now_ms)
{
    if (peer < 0 || peer >= g->n)
        return;
    pthread_mutex_lock(&g->mu);
    struct peer *p = &g->p[peer];
    if (p->conns > 0)
        p->conns--;
    if (!(g->prim.single && !p->backup)) {
        if (failed) {
            p->fails++;
            p->accessed = now_ms;
            p->checked = now_ms;
            if (p->max_fails)
                p->effective_weight -= p->weight / p->max_fails;
            if (p->effective_weight < 0)
                p->effective_weight = 0;
        } else if (p->accessed < p->checked) {
            p->fails = 0; /* the check after the window passed: the peer is live again */
        }
    }
    pthread_mutex_unlock(&g->mu);
}

unsigned lb_active(struct lb_group *g, int peer)
{
    if (peer < 0 || peer >= g->n)
        return 0;
    pthread_mutex_lock(&g->mu);
    unsigned n = g->p[peer].conns;
    pthread_mutex_unlock(&g->mu);
    return n;
}
