/* proxy/balancer: nginx's round robin, least_conn, ip_hash, hash and consistent hash (checked
 * against a zlib model of nginx's formulas), max_fails on a fake clock, backups, threads. */
#include "tap.h"
#include "proxy/balancer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static char err[256];

#define PEER(n, w)                                                                                 \
    {                                                                                              \
        .name = (n), .weight = (w), .max_fails = 1, .fail_timeout_ms = 10000                       \
    }

/* One request: pick, report success; returns the letters of n such requests. */
static const char *sequence(struct lb_group *g, int n, struct str key)
{
    static char out[64];
    for (int i = 0; i < n; i++) {
        struct lb_tried t = {0};
        int p = lb_pick(g, key, &t, 1000);
        out[i] = p < 0 ? '-' : (char)('a' + p);
        if (p >= 0)
            lb_done(g, p, false, 1000);
    }
    out[n] = '\0';
    return out;
}

static void is_seq(struct lb_group *g, int n, const char *want, const char *name)
{
    const char *got = sequence(g, n, STR_NULL);
    if (!ok(strcmp(got, want) == 0, name))
        printf("#   got %s, want %s\n", got, want);
}

static void round_robin(void)
{
    struct lb_peer w511[] = {PEER("a:1", 5), PEER("b:1", 1), PEER("c:1", 1)};
    struct lb_group *g = lb_group_new(LB_ROUND_ROBIN, w511, 3, err, sizeof(err));
    is_seq(g, 14, "aabacaaaabacaa", "weights 5,1,1: a a b a c a a, twice (nginx's example)");
    lb_group_free(g);

    struct lb_peer eq[] = {PEER("a:1", 1), PEER("b:1", 1), PEER("c:1", 1)};
    g = lb_group_new(LB_ROUND_ROBIN, eq, 3, err, sizeof(err));
    is_seq(g, 6, "abcabc", "equal weights take turns");
    /* a retry skips what this request already tried */
    struct lb_tried t = {0};
    int p1 = lb_pick(g, STR_NULL, &t, 1000);
    lb_done(g, p1, false, 1000); /* e.g. the backend answered 502 and next_upstream retries */
    int p2 = lb_pick(g, STR_NULL, &t, 1000);
    lb_done(g, p2, false, 1000);
    int p3 = lb_pick(g, STR_NULL, &t, 1000);
    lb_done(g, p3, false, 1000);
    ok(p1 != p2 && p2 != p3 && p1 != p3 && lb_tried_has(&t, p1), "retries go to the next peer");
    is_int(lb_pick(g, STR_NULL, &t, 1000), -1, "every peer tried: -1");
    lb_group_free(g);

    struct lb_peer down[] = {PEER("a:1", 1), PEER("b:1", 1)};
    down[0].down = true;
    g = lb_group_new(LB_ROUND_ROBIN, down, 2, err, sizeof(err));
    is_seq(g, 3, "bbb", "a down peer is never picked");
    lb_group_free(g);
    down[1].down = true;
    g = lb_group_new(LB_ROUND_ROBIN, down, 2, err, sizeof(err));
    is_seq(g, 2, "--", "all down: no live upstreams");
    lb_group_free(g);
}

/* Serves requests at time now (reporting success) until peer want is picked, at most 3;
 * returns whether it was, and leaves that attempt open for the caller's lb_done. */
static bool pick_until(struct lb_group *g, int want, uint64_t now)
{
    for (int i = 0; i < 3; i++) {
        struct lb_tried t = {0};
        int p = lb_pick(g, STR_NULL, &t, now);
        if (p == want)
            return true;
        lb_done(g, p, false, now);
    }
    return false;
}

static void max_fails(void)
{
    struct lb_peer ps[] = {PEER("a:1", 1), PEER("b:1", 1)};
    ps[0].max_fails = 2;
    struct lb_group *g = lb_group_new(LB_ROUND_ROBIN, ps, 2, err, sizeof(err));
    ok(pick_until(g, 0, 1000), "t=1s: a");
    lb_done(g, 0, true, 1000); /* failure 1 of 2 */
    ok(pick_until(g, 0, 2000), "t=2s: a still live after one failure");
    lb_done(g, 0, true, 2000); /* failure 2 of 2: out for fail_timeout from now */
    is_seq(g, 3, "bbb", "a is unavailable");
    ok(!pick_until(g, 0, 12000), "t=12s, exactly fail_timeout later: still out");
    ok(pick_until(g, 0, 12001), "t=12.001s: a is tried again");
    lb_done(g, 0, true, 12001); /* the probe fails: out for another window */
    ok(!pick_until(g, 0, 22001), "the failed probe closed a for a new window");
    ok(pick_until(g, 0, 22002), "t=22.002s: probe again");
    lb_done(g, 0, false, 22002); /* success after the window: the count is cleared */
    ok(pick_until(g, 0, 22003), "a back in the turn");
    lb_done(g, 0, true, 22003); /* one failure of two allowed */
    ok(pick_until(g, 0, 22004), "after recovery one failure does not close a");
    lb_done(g, 0, false, 22004);
    ok(pick_until(g, 0, 23000), "a success inside the window…");
    lb_done(g, 0, false, 23000);
    ok(pick_until(g, 0, 23001), "… does not clear the count (nginx): one more failure…");
    lb_done(g, 0, true, 23001);
    ok(!pick_until(g, 0, 23002), "… closes a");
    lb_group_free(g);

    /* max_fails=0 disables the accounting */
    struct lb_tried t;
    ps[0].max_fails = 0;
    g = lb_group_new(LB_ROUND_ROBIN, ps, 2, err, sizeof(err));
    for (int i = 0; i < 5; i++) {
        memset(&t, 0, sizeof(t));
        int p = lb_pick(g, STR_NULL, &t, 1000);
        lb_done(g, p, p == 0, 1000);
    }
    const char *s0 = sequence(g, 2, STR_NULL);
    ok(strchr(s0, 'a') && strchr(s0, 'b'), "max_fails=0: failures never close a peer");
    lb_group_free(g);

    /* one server alone is never unavailable (nginx ignores max_fails then) */
    struct lb_peer one[] = {PEER("solo:1", 1)};
    g = lb_group_new(LB_ROUND_ROBIN, one, 1, err, sizeof(err));
    for (int i = 0; i < 3; i++) {
        memset(&t, 0, sizeof(t));
        is_int(lb_pick(g, STR_NULL, &t, 1000), 0, "single peer picked despite failures");
        lb_done(g, 0, true, 1000);
        is_int(lb_pick(g, STR_NULL, &t, 1000), -1, "… but only once per request");
    }
    lb_group_free(g);
}

static void all_failed_reset(void)
{
    struct lb_peer ps[] = {PEER("a:1", 1), PEER("b:1", 1), PEER("c:1", 1)};
    struct lb_group *g = lb_group_new(LB_ROUND_ROBIN, ps, 3, err, sizeof(err));
    struct lb_tried t = {0};
    for (int i = 0; i < 3; i++) {
        int p = lb_pick(g, STR_NULL, &t, 1000);
        lb_done(g, p, true, 1000);
    }
    is_int(lb_pick(g, STR_NULL, &t, 1000), -1, "all three failed in one request: -1");
    struct lb_tried t2 = {0};
    is_int(lb_pick(g, STR_NULL, &t2, 2000), -1,
           "next request: all unavailable: -1 (and the counts are reset)");
    struct lb_tried t3 = {0};
    ok(lb_pick(g, STR_NULL, &t3, 2000) >= 0, "the request after that is served again");
    lb_group_free(g);
}

static void backups(void)
{
    struct lb_peer ps[] = {PEER("a:1", 1), PEER("bk:1", 1), PEER("b:1", 1)};
    ps[1].backup = true;
    struct lb_group *g = lb_group_new(LB_ROUND_ROBIN, ps, 3, err, sizeof(err));
    is_seq(g, 4, "acac", "the backup idles while primaries live");
    struct lb_tried t = {0};
    int p = lb_pick(g, STR_NULL, &t, 1000);
    lb_done(g, p, true, 1000);
    p = lb_pick(g, STR_NULL, &t, 1000);
    lb_done(g, p, true, 1000);
    is_int(lb_pick(g, STR_NULL, &t, 1000), 1, "both primaries failed: the backup");
    ok(t.backup, "the request is now in the backup phase");
    lb_done(g, 1, false, 1000);
    is_seq(g, 2, "bb", "new requests go to the backup while primaries are out");
    struct lb_tried t2 = {0};
    p = lb_pick(g, STR_NULL, &t2, 11001);
    ok(p == 0 || p == 2, "fail_timeout passed: primaries again");
    lb_done(g, p, false, 11001);
    lb_group_free(g);

    ps[0].backup = ps[2].backup = true;
    ok(lb_group_new(LB_ROUND_ROBIN, ps, 3, err, sizeof(err)) == NULL &&
           strcmp(err, "no servers in upstream") == 0,
       "only backups: error");
    ps[0].backup = ps[2].backup = false;
    ok(lb_group_new(LB_IP_HASH, ps, 3, err, sizeof(err)) == NULL &&
           strcmp(err, "balancing method does not support parameter \"backup\"") == 0,
       "ip_hash refuses backups");
    ok(lb_group_new(LB_ROUND_ROBIN, ps, 0, err, sizeof(err)) == NULL &&
           strcmp(err, "no servers in upstream") == 0,
       "no servers");
    ps[1].backup = false;
    ps[1].weight = 0;
    ok(lb_group_new(LB_ROUND_ROBIN, ps, 3, err, sizeof(err)) == NULL &&
           strcmp(err, "invalid weight \"0\" of server \"bk:1\"") == 0,
       "weight 0");
}

static void least_conn(void)
{
    struct lb_peer w511[] = {PEER("a:1", 5), PEER("b:1", 1), PEER("c:1", 1)};
    struct lb_group *g = lb_group_new(LB_LEAST_CONN, w511, 3, err, sizeof(err));
    is_seq(g, 7, "aabacaa", "all idle: ties are weighted round robin");
    lb_group_free(g);

    struct lb_peer eq[] = {PEER("a:1", 1), PEER("b:1", 1), PEER("c:1", 1)};
    g = lb_group_new(LB_LEAST_CONN, eq, 3, err, sizeof(err));
    struct lb_tried t[6] = {0};
    int a = lb_pick(g, STR_NULL, &t[0], 1000);
    int b = lb_pick(g, STR_NULL, &t[1], 1000);
    int c = lb_pick(g, STR_NULL, &t[2], 1000);
    ok(a == 0 && b == 1 && c == 2, "open connections spread: a b c");
    lb_done(g, b, false, 1000);
    is_int(lb_pick(g, STR_NULL, &t[3], 1000), 1, "b finished first: b has the fewest");
    is_int(lb_active(g, 1), 1, "lb_active counts open attempts");
    lb_group_free(g);

    struct lb_peer w21[] = {PEER("a:1", 2), PEER("b:1", 1)};
    g = lb_group_new(LB_LEAST_CONN, w21, 2, err, sizeof(err));
    struct lb_tried u[6] = {0};
    char seq[7] = "";
    for (int i = 0; i < 6; i++)
        seq[i] = (char)('a' + lb_pick(g, STR_NULL, &u[i], 1000));
    ok(strcmp(seq, "ababaa") == 0 && lb_active(g, 0) == 4 && lb_active(g, 1) == 2,
       "connections per weight: a (weight 2) carries twice b's");
    if (strcmp(seq, "ababaa") != 0)
        printf("#   got %s\n", seq);
    lb_group_free(g);
}

static struct str addr4(unsigned char a, unsigned char b, unsigned char c, unsigned char d)
{
    static unsigned char buf[4];
    buf[0] = a, buf[1] = b, buf[2] = c, buf[3] = d;
    return str_make((const char *)buf, 4);
}

static int pick1(struct lb_group *g, struct str key)
{
    struct lb_tried t = {0};
    int p = lb_pick(g, key, &t, 1000);
    if (p >= 0)
        lb_done(g, p, false, 1000);
    return p;
}

static void ip_hash(void)
{
    struct lb_peer eq[] = {PEER("a:1", 1), PEER("b:1", 1), PEER("c:1", 1)};
    struct lb_group *g = lb_group_new(LB_IP_HASH, eq, 3, err, sizeof(err));
    /* expected values from a model of ngx_http_upstream_get_ip_hash_peer */
    is_int(pick1(g, addr4(192, 168, 1, 10)), 1, "192.168.1.10 → b");
    is_int(pick1(g, addr4(10, 0, 0, 1)), 0, "10.0.0.1 → a");
    is_int(pick1(g, addr4(172, 16, 5, 4)), 1, "172.16.5.4 → b");
    is_int(pick1(g, addr4(8, 8, 8, 8)), 2, "8.8.8.8 → c");
    is_int(pick1(g, STR_LIT("8.8.8.8")), 2, "the same address as text");
    is_int(pick1(g, STR_LIT("192.168.1.10")), 1, "192.168.1.10 as text → b");
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    v6[15] = 1;
    is_int(pick1(g, str_make((const char *)v6, 16)), pick1(g, STR_LIT("2001:db8::1")),
           "IPv6 raw and text agree");
    int first = pick1(g, addr4(192, 168, 1, 10));
    bool stable = true;
    for (int i = 0; i < 20; i++)
        stable = stable && pick1(g, addr4(192, 168, 1, (unsigned char)i)) == first;
    ok(stable, "the whole /24 sticks to one peer");
    struct lb_tried t = {0};
    int p = lb_pick(g, addr4(10, 0, 0, 1), &t, 1000);
    lb_done(g, p, true, 1000); /* it fails: the client moves, deterministically */
    int q = lb_pick(g, addr4(10, 0, 0, 1), &t, 1000);
    lb_done(g, q, false, 1000);
    ok(p == 0 && q >= 0 && q != 0, "retry rehashes to another peer");
    is_int(pick1(g, addr4(10, 0, 0, 1)), q, "while a is out, 10.0.0.x stays on its second");
    lb_group_free(g);

    struct lb_peer w311[] = {PEER("a:1", 3), PEER("b:1", 1), PEER("c:1", 1)};
    g = lb_group_new(LB_IP_HASH, w311, 3, err, sizeof(err));
    is_int(pick1(g, addr4(192, 168, 1, 10)), 2, "weighted: 192.168.1.10 → c");
    is_int(pick1(g, addr4(8, 8, 8, 8)), 1, "weighted: 8.8.8.8 → b");
    lb_group_free(g);
}

static void hash(void)
{
    struct lb_peer eq[] = {PEER("a:1", 1), PEER("b:1", 1), PEER("c:1", 1)};
    struct lb_group *g = lb_group_new(LB_HASH, eq, 3, err, sizeof(err));
    is_int(pick1(g, STR_LIT("/a")), 1, "hash /a → b (crc32 model)");
    is_int(pick1(g, STR_LIT("/index.html")), 2, "hash /index.html → c");
    is_int(pick1(g, STR_LIT("user42")), 0, "hash user42 → a");
    is_int(pick1(g, STR_LIT("user42")), 0, "… every time");
    int count[3] = {0};
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "/item/%d", i);
        count[pick1(g, str_from_cstr(key))]++;
    }
    ok(count[0] > 850 && count[1] > 850 && count[2] > 850, "3000 keys spread over 3 peers");
    printf("# hash spread: %d %d %d\n", count[0], count[1], count[2]);
    lb_group_free(g);

    struct lb_peer w211[] = {PEER("a:1", 2), PEER("b:1", 1), PEER("c:1", 1)};
    g = lb_group_new(LB_HASH, w211, 3, err, sizeof(err));
    is_int(pick1(g, STR_LIT("user42")), 2, "weighted hash user42 → c");
    is_int(pick1(g, STR_LIT("/a")), 0, "weighted hash /a → a");
    lb_group_free(g);
}

static void consistent(void)
{
    struct lb_peer ps[] = {PEER("127.0.0.1:9501", 1), PEER("127.0.0.1:9502", 1),
                           PEER("127.0.0.1:9503", 1), PEER("127.0.0.1:9504", 1)};
    struct lb_group *g3 = lb_group_new(LB_HASH_CONSISTENT, ps, 3, err, sizeof(err));
    is_int(pick1(g3, STR_LIT("/a")), 2, "chash /a → :9503 (ketama model)");
    is_int(pick1(g3, STR_LIT("10.0.0.1")), 0, "chash 10.0.0.1 → :9501");
    is_int(pick1(g3, STR_LIT("x")), 0, "chash x → :9501");
    ps[1].weight = 2;
    struct lb_group *gw = lb_group_new(LB_HASH_CONSISTENT, ps, 3, err, sizeof(err));
    is_int(pick1(gw, STR_LIT("/a")), 1, "weighted chash /a → :9502");
    is_int(pick1(gw, STR_LIT("10.0.0.1")), 1, "weighted chash 10.0.0.1 → :9502");
    lb_group_free(gw);
    ps[1].weight = 1;

    struct lb_group *g4 = lb_group_new(LB_HASH_CONSISTENT, ps, 4, err, sizeof(err));
    int count[4] = {0}, moved = 0, wrongly_moved = 0;
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "/session/%d", i);
        int p4 = pick1(g4, str_from_cstr(key)), p3 = pick1(g3, str_from_cstr(key));
        count[p4]++;
        moved += p4 != p3;
        wrongly_moved += p4 != p3 && p4 != 3;
    }
    printf("# chash spread: %d %d %d %d, moved %d\n", count[0], count[1], count[2], count[3],
           moved);
    ok(count[0] > 1500 && count[1] > 1500 && count[2] > 1500 && count[3] > 1500,
       "10000 keys spread over 4 peers");
    is_int(wrongly_moved, 0, "removing a peer moves only the keys it had");
    ok(moved == count[3] && moved > 1500 && moved < 3500, "about 1/4 of the keys move");

    struct lb_tried t = {0};
    int p = lb_pick(g4, STR_LIT("/a"), &t, 1000);
    lb_done(g4, p, true, 1000);
    int q = lb_pick(g4, STR_LIT("/a"), &t, 1000);
    lb_done(g4, q, false, 1000);
    ok(q >= 0 && q != p, "retry walks the ring to the next peer");
    lb_group_free(g3);
    lb_group_free(g4);
}

struct worker_arg {
    struct lb_group *g;
    int count[3];
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    for (int i = 0; i < 100000; i++) {
        struct lb_tried t = {0};
        int k = lb_pick(a->g, STR_NULL, &t, 1000);
        a->count[k]++;
        lb_done(a->g, k, false, 1000);
    }
    return NULL;
}

/* Two threads hammer one group. Round robin's shared position gives an exact spread whatever
 * the interleaving (least_conn's would depend on timing), so any lost update shows; least_conn
 * then checks that active counts return to zero. */
static void threads_method(enum lb_method m)
{
    struct lb_peer eq[] = {PEER("a:1", 1), PEER("b:1", 1), PEER("c:1", 1)};
    struct lb_group *g = lb_group_new(m, eq, 3, err, sizeof(err));
    struct worker_arg a = {.g = g}, b = {.g = g};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, worker, &a);
    pthread_create(&tb, NULL, worker, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    int total[3], sum = 0;
    for (int i = 0; i < 3; i++) {
        total[i] = a.count[i] + b.count[i];
        sum += total[i];
    }
    printf("# two threads: %d %d %d\n", total[0], total[1], total[2]);
    if (m == LB_ROUND_ROBIN)
        ok(sum == 200000 && total[0] >= 66666 && total[1] >= 66666 && total[2] >= 66666,
           "two threads share one round-robin group: every pick counted, exact spread");
    else
        ok(sum == 200000 && lb_active(g, 0) == 0 && lb_active(g, 1) == 0 &&
               lb_active(g, 2) == 0,
           "two threads share one least_conn group: every connection count back to zero");
    lb_group_free(g);
}

static void threads(void)
{
    threads_method(LB_ROUND_ROBIN);
    threads_method(LB_LEAST_CONN);
}

int main(void)
{
    round_robin();
    max_fails();
    all_failed_reset();
    backups();
    least_conn();
    ip_hash();
    hash();
    consistent();
    threads();
    return tap_done();
}
