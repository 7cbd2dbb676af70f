/* Unit tests for tls/tls_record: RFC 8448 known answers; two record layers over a socketpair
 * per suite (transfers, held and partial I/O, alerts, KeyUpdate, bad records), many, threads. */
#include "core/buf.h"
#include "tap.h"
#include "tls/tls_record.h"
#include "tls_test_util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

/* ---- two record layers over a socketpair ------------------------------------------------- */

struct pair {
    const struct suite *su;
    struct tls_rec srv, peer;
    int fd[2]; /* fd[0] the server's end, fd[1] the peer's */
    struct end es, ep;
};

static bool pair_open(struct pair *p, const struct suite *su)
{
    uint8_t cs[48], ss[48];
    memset(p, 0, sizeof *p);
    p->su = su;
    for (int i = 0; i < 48; i++) {
        cs[i] = (uint8_t)(i * 13 + 5);
        ss[i] = (uint8_t)(i * 29 + 11);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fd) < 0) {
        p->fd[0] = p->fd[1] = -1;
        return false;
    }
    memcpy(p->srv.rd.secret, cs, su->secret_len);
    memcpy(p->srv.wr.secret, ss, su->secret_len);
    memcpy(p->peer.rd.secret, ss, su->secret_len);
    memcpy(p->peer.wr.secret, cs, su->secret_len);
    p->es = (struct end){.name = "server", .rec = &p->srv, .fd = p->fd[0]};
    p->ep = (struct end){.name = "peer", .rec = &p->peer, .fd = p->fd[1]};
    return tls_rec_init(&p->srv, su->id, su->secret_len, 0, 0) == 0 &&
           tls_rec_init(&p->peer, su->id, su->secret_len, 0, 0) == 0;
}

static void pair_close(struct pair *p)
{
    tls_rec_fini(&p->srv);
    tls_rec_fini(&p->peer);
    if (p->fd[0] >= 0)
        close(p->fd[0]);
    if (p->fd[1] >= 0)
        close(p->fd[1]);
}

/* Seals one record with the peer's keys and writes it to the server. */
static bool peer_send(struct pair *p, uint8_t type, const void *body, size_t n)
{
    static uint8_t rec[TLS_REC_MAX_WIRE + 64];
    size_t k = tls_rec_seal(&p->peer, type, body, n, rec);
    return k == n + TLS_REC_OVERHEAD && put(p->fd[1], rec, k);
}

static bool idle_rec(const struct tls_rec *r)
{
    return r->rx == NULL && r->plain == NULL && r->tx == NULL;
}

/* ---- RFC 8448 §3: known keys and records -------------------------------------------------- */

static void test_rfc8448(void)
{
    static const char c_secret[] =
        "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
    static const char s_secret[] =
        "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
    static const char c_rec[] =
        "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a"
        "20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";
    static const char s_rec[] =
        "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb"
        "501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d";
    /* Next application secrets of the same trace (botan's test_tls_cipher_state.cpp). */
    static const char c_next[] = "fcdfcc72725aaee48bf64e4fd8b749cdbdbab39d90da0b26e2245ca6ea167207";
    static const char s_next[] = "51921b8aa3001976eb401d0a4319a8516416a6c56001a357e5d162031e84f916";
    uint8_t want[128], got[128], rec[128];
    struct tls_rec r = {0};
    hex(c_secret, r.rd.secret, 32);
    hex(s_secret, r.wr.secret, 32);
    is_int(tls_rec_init(&r, 0x1301, 32, 0, 1), 0, "RFC 8448: init with the trace's secrets");
    hex("9f02283b6c9c07efc26bb9f2ac92e356", want, 16);
    ok(memcmp(r.wr.key, want, 16) == 0, "RFC 8448: server write key");
    hex("cf782b88dd83549aadf1e984", want, 12);
    ok(memcmp(r.wr.iv, want, 12) == 0, "RFC 8448: server write iv");
    hex("17422dda596ed5d9acd890e3c63f5051", want, 16);
    ok(memcmp(r.rd.key, want, 16) == 0, "RFC 8448: client write key (our read key)");
    hex("5b78923dee08579033e523d9", want, 12);
    ok(memcmp(r.rd.iv, want, 12) == 0, "RFC 8448: client write iv (our read iv)");
    ok(r.rd.seq == 0 && r.wr.seq == 1, "RFC 8448: sequence numbers as given");

    uint8_t msg[50];
    for (int i = 0; i < 50; i++)
        msg[i] = (uint8_t)i;
    size_t n = tls_rec_seal(&r, 23, msg, 50, rec);
    size_t wn = hex(s_rec, want, sizeof want);
    ok(wn == 72 && n == wn && memcmp(rec, want, wn) == 0,
       "RFC 8448: the server's application record (sequence 1), byte for byte");
    is_int(r.wr.seq, 2, "RFC 8448: sealing advanced the write sequence");

    int fd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0) {
        wn = hex(c_rec, want, sizeof want);
        put(fd[1], want, wn);
        ssize_t k = tls_rec_read(&r, fd[0], got, sizeof got);
        ok(k == 50 && memcmp(got, msg, 50) == 0, "RFC 8448: the client's record opens");
        is_int(tls_rec_read(&r, fd[0], got, sizeof got), STREAM_AGAIN, "RFC 8448: then nothing");
        close(fd[0]);
        close(fd[1]);
    }
    tls_rec_fini(&r);

    /* The test's own HKDF-Expand-Label agrees with the trace and with botan's next secrets. */
    uint8_t s[32], out[32];
    hex(s_secret, s, 32);
    hex("9f02283b6c9c07efc26bb9f2ac92e356", want, 16);
    ok(expand_label("SHA256", s, 32, "key", out, 16) && memcmp(out, want, 16) == 0,
       "test helper: HKDF-Expand-Label gives the trace's key");
    next_secret(&suites[0], s, out);
    hex(s_next, want, 32);
    ok(memcmp(out, want, 32) == 0, "test helper: the server's next traffic secret");
    hex(c_secret, s, 32);
    next_secret(&suites[0], s, out);
    hex(c_next, want, 32);
    ok(memcmp(out, want, 32) == 0, "test helper: the client's next traffic secret");

    struct tls_rec bad = {0};
    ok(tls_rec_init(&bad, 0x1304, 32, 0, 0) < 0, "init refuses TLS_AES_128_CCM_SHA256");
    tls_rec_fini(&bad);
    memset(&bad, 0, sizeof bad);
    ok(tls_rec_init(&bad, 0xc02f, 32, 0, 0) < 0, "init refuses a TLS 1.2 suite");
    tls_rec_fini(&bad);
}

/* ---- record-layer pairs ------------------------------------------------------------------ */

static void test_transfers(const struct suite *su)
{
    struct pair p;
    ok(pair_open(&p, su), name_of("pair set up", su));
    ok(pump(&p.es, &p.ep, (const uint8_t *)"hello", 5, 5, 100),
       name_of("5 bytes server to peer", su));
    ok(pump(&p.ep, &p.es, pat + 7, 1000, 1000, 4096), name_of("1000 bytes peer to server", su));
    ok(pump(&p.es, &p.ep, pat + 11, TLS_REC_MAX_PLAIN, TLS_REC_MAX_PLAIN, 65536),
       name_of("one full record", su));
    ok(pump(&p.es, &p.ep, pat + 13, TLS_REC_MAX_PLAIN + 1, 1 << 20, 65536),
       name_of("a full record and one byte", su));

    /* 1 MiB each way at once, offered whole. */
    struct flow f[2] = {
        flow(&p.es, &p.ep, pat, 1u << 20, 1u << 20, 65536),
        flow(&p.ep, &p.es, pat + 3, 1u << 20, 1u << 20, 16384),
    };
    ok(run_flows(f, 2), name_of("1 MiB both ways at once, byte-exact", su));
    ok(p.srv.wr.seq == p.peer.rd.seq && p.peer.wr.seq == p.srv.rd.seq,
       name_of("both ends agree on the sequence numbers", su));
    uint8_t b[16];
    is_int(tls_rec_read(&p.srv, p.fd[0], b, sizeof b), STREAM_AGAIN, name_of("server idle", su));
    is_int(tls_rec_read(&p.peer, p.fd[1], b, sizeof b), STREAM_AGAIN, name_of("peer idle", su));
    ok(idle_rec(&p.srv) && idle_rec(&p.peer), name_of("idle ends hold no buffers", su));
    ok(!tls_rec_pending(&p.srv) && !tls_rec_pending(&p.peer), name_of("nothing pending", su));

    /* Many small writes, read in 100-byte pieces. */
    bool all = true;
    for (size_t i = 0; i < 200 && all; i++)
        all = pump(&p.ep, &p.es, pat + i * 31, 1 + i * 37 % 3000, 4096, 100);
    ok(all, name_of("200 messages of 1..3000 bytes read in 100-byte pieces", su));
    pair_close(&p);
}

static void test_small_reads(const struct suite *su)
{
    struct pair p;
    uint8_t b[16];
    pair_open(&p, su);
    ok(peer_send(&p, 23, pat, 1000), name_of("peer sealed 1000 bytes", su));
    ssize_t k = tls_rec_read(&p.srv, p.fd[0], b, 1);
    ok(k == 1 && b[0] == pat[0], name_of("a 1-byte read gets the first byte", su));
    ok(tls_rec_pending(&p.srv), name_of("the rest is pending", su));
    bool same = true, pending_ok = true;
    size_t off = 1;
    while (off < 1000 && same) {
        pending_ok &= tls_rec_pending(&p.srv);
        k = tls_rec_read(&p.srv, p.fd[0], b, 1);
        same = k == 1 && b[0] == pat[off];
        off++;
    }
    ok(same && off == 1000, name_of("999 more 1-byte reads, each the next byte", su));
    ok(pending_ok, name_of("pending before each of them", su));
    ok(!tls_rec_pending(&p.srv), name_of("nothing pending after the last byte", su));
    is_int(tls_rec_read(&p.srv, p.fd[0], b, 1), STREAM_AGAIN, name_of("then STREAM_AGAIN", su));

    /* Three records in one socket read, taken 7 bytes at a time. */
    ok(peer_send(&p, 23, pat + 1000, 20) && peer_send(&p, 23, pat + 1020, 1) &&
           peer_send(&p, 23, pat + 1021, 300),
       name_of("peer sealed 20, 1 and 300 bytes", su));
    uint8_t got[400];
    size_t n = 0;
    bool drained_ok = true;
    for (int i = 0; i < 400 && n < 321; i++) {
        k = tls_rec_read(&p.srv, p.fd[0], got + n, n + 7 <= sizeof got ? 7 : 1);
        if (k <= 0 || k > 7)
            break;
        n += (size_t)k;
        /* Bytes still to come and none left in the socket: epoll will not say, pending must. */
        if (n < 321 && readable(p.fd[0]) == 0 && !tls_rec_pending(&p.srv))
            drained_ok = false;
    }
    ok(n == 321 && memcmp(got, pat + 1000, 321) == 0, name_of("7-byte reads over 3 records", su));
    ok(drained_ok, name_of("pending whenever bytes wait above an empty socket", su));

    /* Data and close_notify in one flight. */
    ok(peer_send(&p, 23, "bye", 3) && peer_send(&p, 21, "\x01\x00", 2),
       name_of("peer sealed data and close_notify", su));
    k = tls_rec_read(&p.srv, p.fd[0], got, 1);
    ok(k == 1 && got[0] == 'b', name_of("first byte before close_notify", su));
    k = tls_rec_read(&p.srv, p.fd[0], got, sizeof got);
    ok(k == 2 && memcmp(got, "ye", 2) == 0, name_of("the rest before close_notify", su));
    ok(tls_rec_pending(&p.srv) || readable(p.fd[0]) > 0,
       name_of("close_notify is visible (pending or in the socket)", su));
    is_int(tls_rec_read(&p.srv, p.fd[0], got, sizeof got), 0, name_of("then 0", su));
    is_int(tls_rec_read(&p.srv, p.fd[0], got, sizeof got), 0, name_of("and 0 again", su));
    pair_close(&p);
}

static void test_byte_at_a_time(const struct suite *su)
{
    static uint8_t wire[2 * (300 + TLS_REC_OVERHEAD)];
    struct pair p;
    uint8_t b[1024];
    pair_open(&p, su);
    size_t n1 = tls_rec_seal(&p.peer, 23, pat, 300, wire);
    size_t n2 = tls_rec_seal(&p.peer, 23, pat + 300, 200, wire + n1);
    bool again = true, not_pending = true;
    size_t got = 0;
    bool same = true, in_place = true;
    const uint8_t *held = NULL;
    for (size_t i = 0; i < n1 + n2; i++) {
        put(p.fd[1], wire + i, 1);
        ssize_t k = tls_rec_read(&p.srv, p.fd[0], b, sizeof b);
        /* Once the first header is in, the record is completed in one buffer of its size:
         * each further byte is received into place, not copied with all held before it. */
        if (i + 1 == TLS_REC_HEADER + 1)
            held = p.srv.rx;
        if (i + 1 > TLS_REC_HEADER && i + 1 < n1)
            in_place &= p.srv.rx == held && p.srv.rx_cap == n1 && p.srv.rx_len == i + 1;
        if (i + 1 == n1 || i + 1 == n1 + n2) {
            size_t want = i + 1 == n1 ? 300 : 200;
            same &= k == (ssize_t)want && memcmp(b, pat + got, want) == 0;
            got += k > 0 ? (size_t)k : 0;
        } else {
            again &= k == STREAM_AGAIN;
            not_pending &= !tls_rec_pending(&p.srv);
        }
    }
    ok(again, name_of("one byte at a time: STREAM_AGAIN until a record is whole", su));
    ok(not_pending, name_of("a partial record is not pending", su));
    ok(same && got == 500, name_of("each record's bytes once it is whole", su));
    ok(in_place, name_of("a trickled record grows its buffer once and fills it in place", su));
    pair_close(&p);
}

/* A record the reader had no room for keeps the next header unopened; when that header will be
 * refused, the read says so at once instead of waiting for bytes that may never come. */
static void test_bad_header_held(const struct suite *su)
{
    static uint8_t wire[300 + TLS_REC_OVERHEAD + TLS_REC_HEADER];
    struct pair p;
    uint8_t b[100];
    pair_open(&p, su);
    size_t n = tls_rec_seal(&p.peer, 23, pat, 300, wire);
    memcpy(wire + n, "\x17\x03\x03\xff\xff", TLS_REC_HEADER); /* announces 65,535 bytes */
    put(p.fd[1], wire, n + TLS_REC_HEADER);
    size_t got = 0;
    while (got < 300) {
        ssize_t k = tls_rec_read(&p.srv, p.fd[0], b, sizeof b);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    is_int((long)got, 300, name_of("the record before a bad header is delivered", su));
    ok(tls_rec_pending(&p.srv), name_of("a held header that will be refused is pending", su));
    is_int(tls_rec_read(&p.srv, p.fd[0], b, sizeof b), STREAM_ERR,
           name_of("and the next read refuses it without more bytes", su));
    pair_close(&p);
}

static void shrink(int fd)
{
    int v = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

static void test_partial_writes(const struct suite *su)
{
    struct pair p;
    pair_open(&p, su);
    shrink(p.fd[0]);
    shrink(p.fd[1]);
    ok(pump(&p.es, &p.ep, pat + 5, 300000, 40000, 3000),
       name_of("300 kB through small socket buffers, server to peer", su));
    ok(p.es.again + p.es.short_writes > 0, name_of("the server's writes were cut short", su));
    ok(pump(&p.ep, &p.es, pat + 9, 300000, 70000, 5000),
       name_of("300 kB through small socket buffers, peer to server", su));
    ok(p.ep.again + p.ep.short_writes > 0, name_of("the peer's writes were cut short", su));
    /* Both ways at once, odd sizes. */
    struct flow f[2] = {
        flow(&p.es, &p.ep, pat + 17, 200003, 16385, 999),
        flow(&p.ep, &p.es, pat + 19, 150001, 33333, 7),
    };
    ok(run_flows(f, 2), name_of("both ways at once through small buffers", su));
    uint8_t b[8];
    tls_rec_read(&p.srv, p.fd[0], b, sizeof b);
    tls_rec_read(&p.peer, p.fd[1], b, sizeof b);
    ok(idle_rec(&p.srv) && idle_rec(&p.peer), name_of("no buffers held afterwards", su));

    /* A record cut short, then close_notify: the rest goes first. */
    size_t sent = 0;
    ssize_t k = 0;
    for (int i = 0; i < 100 && k != STREAM_AGAIN; i++) {
        k = tls_rec_write(&p.srv, p.fd[0], pat + sent, 20000);
        sent += k > 0 ? (size_t)k : 0;
    }
    int sr = STREAM_AGAIN;
    static uint8_t big[65536];
    size_t got = 0;
    bool same = true;
    ssize_t last = STREAM_AGAIN;
    for (int i = 0; i < 10000 && last != 0 && last != STREAM_ERR; i++) {
        if (sr == STREAM_AGAIN)
            sr = tls_rec_shutdown(&p.srv, p.fd[0]);
        last = tls_rec_read(&p.peer, p.fd[1], big, sizeof big);
        if (last > 0) {
            same &= memcmp(big, pat + got, (size_t)last) == 0;
            got += (size_t)last;
        }
    }
    is_int(sr, 0, name_of("shutdown completes once the socket drains", su));
    /* The record cut short was never acknowledged; the shutdown may still send its rest. */
    ok(last == 0 && same && got >= sent && got <= sent + TLS_REC_MAX_PLAIN,
       name_of("the peer gets every byte accepted, then close_notify", su));
    printf("#   accepted %zu, delivered %zu\n", sent, got);
    pair_close(&p);
}

/* A socket with no room at a record boundary: the write seals, sends nothing, reports
 * STREAM_AGAIN, and the same bytes offered again go out under the same sequence numbers. */
static void test_write_blocked(const struct suite *su)
{
    static uint8_t rec[100 + TLS_REC_OVERHEAD], got[65536];
    for (int variant = 0; variant < 2; variant++) {
        struct pair p;
        pair_open(&p, su);
        size_t filled = 0;
        bool wall = false, whole = true;
        for (int i = 0; i < 100000 && !wall && whole; i++) {
            size_t n = tls_rec_seal(&p.srv, 23, pat + filled, 100, rec);
            ssize_t w = send(p.fd[0], rec, n, MSG_NOSIGNAL);
            if (w < 0) {
                p.srv.wr.seq--; /* that record never left: unseal it */
                wall = true;
            } else {
                whole = (size_t)w == n;
                filled += 100;
            }
        }
        ok(wall && whole, name_of("socket filled with whole records", su));
        p.srv.key_update_due = variant == 1;
        uint64_t seq = p.srv.wr.seq;
        is_int(tls_rec_write(&p.srv, p.fd[0], pat + filled, 30000), STREAM_AGAIN,
               name_of(variant ? "KeyUpdate due, no room: STREAM_AGAIN" : "no room: STREAM_AGAIN",
                       su));
        ok(p.srv.wr.seq == seq && p.srv.key_update_due == (variant == 1),
           name_of("nothing sent, nothing counted", su));
        size_t have = 0;
        for (int i = 0; i < 100000 && have < filled; i++) {
            ssize_t k = tls_rec_read(&p.peer, p.fd[1], got, sizeof got);
            if (k <= 0 || memcmp(got, pat + have, (size_t)k) != 0)
                break;
            have += (size_t)k;
        }
        is_int(have, filled, name_of("the peer drains the wall", su));
        ok(pump(&p.es, &p.ep, pat + filled, 30000, 30000, 65536),
           name_of("the same bytes again arrive intact", su));
        pair_close(&p);
    }
}

static void test_close(const struct suite *su)
{
    struct pair p;
    uint8_t b[64];
    pair_open(&p, su);
    ok(pump(&p.es, &p.ep, pat, 100, 100, 100), name_of("data before close", su));
    is_int(tls_rec_shutdown(&p.srv, p.fd[0]), 0, name_of("server shutdown", su));
    ok(p.srv.close_notify_sent, name_of("close_notify_sent", su));
    is_int(read_settled(&p.ep, b, sizeof b), 0, name_of("peer reads 0 after close_notify", su));
    ok(p.peer.eof, name_of("peer saw close_notify (not just FIN)", su));
    is_int(tls_rec_read(&p.peer, p.fd[1], b, sizeof b), 0, name_of("and 0 again", su));
    is_int(tls_rec_write(&p.srv, p.fd[0], "x", 1), STREAM_ERR,
           name_of("no data after our close_notify", su));
    ok(pump(&p.ep, &p.es, pat + 1, 5000, 5000, 100),
       name_of("the other direction still flows (half close)", su));
    is_int(tls_rec_shutdown(&p.peer, p.fd[1]), 0, name_of("peer shutdown", su));
    is_int(read_settled(&p.es, b, sizeof b), 0, name_of("server reads 0", su));
    pair_close(&p);

    pair_open(&p, su);
    ok(pump(&p.ep, &p.es, pat, 10, 10, 100), name_of("data, then a bare FIN", su));
    shutdown(p.fd[1], SHUT_WR);
    is_int(read_settled(&p.es, b, sizeof b), 0, name_of("EOF without close_notify is 0", su));
    ok(!p.srv.eof, name_of("and is not taken for close_notify", su));
    pair_close(&p);

    static uint8_t rec[200 + TLS_REC_OVERHEAD];
    pair_open(&p, su);
    size_t n = tls_rec_seal(&p.peer, 23, pat, 200, rec);
    put(p.fd[1], rec, n / 2);
    is_int(tls_rec_read(&p.srv, p.fd[0], b, sizeof b), STREAM_AGAIN, name_of("half a record", su));
    shutdown(p.fd[1], SHUT_WR);
    is_int(read_settled(&p.es, b, sizeof b), STREAM_ERR, name_of("EOF inside a record", su));
    ok(p.srv.err != NULL, name_of("with a reason", su));
    printf("#   reason: %s\n", p.srv.err ? p.srv.err : "(none)");
    is_int(tls_rec_read(&p.srv, p.fd[0], b, sizeof b), STREAM_ERR, name_of("stays failed", su));
    pair_close(&p);

    pair_open(&p, su);
    put(p.fd[1], "\x17\x03\x03", 3);
    shutdown(p.fd[1], SHUT_WR);
    is_int(read_settled(&p.es, b, sizeof b), STREAM_ERR, name_of("EOF inside a header", su));
    pair_close(&p);
}

/* The alert the server sent, opened by hand (EVP, the peer's read key and sequence): its
 * description, ALERT_NONE when the socket holds nothing, ALERT_BAD when it is not one alert. */
enum { ALERT_ANY = -3, ALERT_BAD = -2, ALERT_NONE = -1 };

static int sent_alert(struct pair *p)
{
    uint8_t rec[512], out[512];
    ssize_t n = recv(p->fd[1], rec, sizeof rec, 0);
    if (n <= 0)
        return ALERT_NONE;
    size_t blen = (size_t)rec[3] << 8 | rec[4];
    if (n < TLS_REC_HEADER + 17 || rec[0] != 23 || blen + TLS_REC_HEADER != (size_t)n)
        return ALERT_BAD;
    const char *cn = p->su->id == 0x1301   ? "AES-128-GCM"
                     : p->su->id == 0x1302 ? "AES-256-GCM"
                                           : "ChaCha20-Poly1305";
    uint8_t nonce[12];
    memcpy(nonce, p->peer.rd.iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(p->peer.rd.seq >> (8 * i));
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cn, NULL);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0, l3 = 0;
    size_t clen = blen - TLS_REC_TAG;
    bool opened = c && x && EVP_DecryptInit_ex2(x, c, p->peer.rd.key, nonce, NULL) == 1 &&
                  EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TLS_REC_TAG,
                                      rec + TLS_REC_HEADER + clen) == 1 &&
                  EVP_DecryptUpdate(x, NULL, &l1, rec, TLS_REC_HEADER) == 1 &&
                  EVP_DecryptUpdate(x, out, &l2, rec + TLS_REC_HEADER, (int)clen) == 1 &&
                  EVP_DecryptFinal_ex(x, out + l2, &l3) == 1;
    EVP_CIPHER_CTX_free(x);
    EVP_CIPHER_free(c);
    if (!opened || clen != 3 || out[2] != 21 || out[0] != 2)
        return ALERT_BAD;
    return out[1];
}

/* The server meets a bad record: STREAM_ERR with a reason, the alert RFC 8446 names sent to
 * the peer (or none, or any), and then every call fails. */
static void expect_fatal(struct pair *p, const char *what, int alert)
{
    uint8_t b[64];
    char nm[200];
    snprintf(nm, sizeof nm, "%s: STREAM_ERR", what);
    is_int(read_settled(&p->es, b, sizeof b), STREAM_ERR, name_of(nm, p->su));
    printf("#   reason: %s\n", p->srv.err ? p->srv.err : "(none)");
    snprintf(nm, sizeof nm, "%s: a reason", what);
    ok(p->srv.err && p->srv.err[0], name_of(nm, p->su));
    int got = sent_alert(p);
    if (alert == ALERT_NONE)
        snprintf(nm, sizeof nm, "%s: no alert back", what);
    else if (alert == ALERT_ANY)
        snprintf(nm, sizeof nm, "%s: an alert to the peer", what);
    else
        snprintf(nm, sizeof nm, "%s: alert %d to the peer", what, alert);
    if (!ok(alert == ALERT_ANY ? got >= 0 : got == alert, name_of(nm, p->su)))
        printf("#   alert sent: %d\n", got);
    snprintf(nm, sizeof nm, "%s: every later call fails", what);
    ok(tls_rec_read(&p->srv, p->fd[0], b, sizeof b) == STREAM_ERR &&
           tls_rec_write(&p->srv, p->fd[0], "x", 1) == STREAM_ERR,
       name_of(nm, p->su));
}

static void test_bad_records(const struct suite *su)
{
    static uint8_t rec[TLS_REC_MAX_WIRE + 64];
    struct pair p;
    uint8_t b[64];
    size_t n;

    /* A flipped bit in the ciphertext, then in the tag. */
    for (int where = 0; where < 2; where++) {
        pair_open(&p, su);
        n = tls_rec_seal(&p.peer, 23, pat, 100, rec);
        rec[where == 0 ? TLS_REC_HEADER + 10 : n - 1] ^= 0x04;
        put(p.fd[1], rec, n);
        expect_fatal(&p, where == 0 ? "flipped ciphertext bit" : "flipped tag bit", 20);
        ok(p.srv.err && strstr(p.srv.err, "MAC"), name_of("the reason says MAC", su));
        pair_close(&p);
    }

    /* Data, then a fatal alert in the same flight: the data is not lost. */
    pair_open(&p, su);
    n = tls_rec_seal(&p.peer, 23, pat, 50, rec);
    n += tls_rec_seal(&p.peer, 21, "\x02\x50", 2, rec + n);
    put(p.fd[1], rec, n);
    ssize_t k = tls_rec_read(&p.srv, p.fd[0], b, sizeof b);
    ok(k == 50 && memcmp(b, pat, 50) == 0,
       name_of("data in front of a fatal alert is delivered first", su));
    if (k == STREAM_ERR)
        printf("#   the 50 bytes were lost: the read returned STREAM_ERR (%s)\n", p.srv.err);
    is_int(read_settled(&p.es, b, sizeof b), STREAM_ERR, name_of("then the alert fails", su));
    pair_close(&p);

    /* Outer content type other than application_data. */
    pair_open(&p, su);
    n = tls_rec_seal(&p.peer, 23, pat, 100, rec);
    rec[0] = 22;
    put(p.fd[1], rec, n);
    expect_fatal(&p, "outer type handshake", 10);
    pair_close(&p);

    pair_open(&p, su);
    put(p.fd[1], "\x14\x03\x03\x00\x01\x01", 6);
    expect_fatal(&p, "change_cipher_spec after the handshake", 10);
    pair_close(&p);

    pair_open(&p, su);
    put(p.fd[1], "\x15\x03\x03\x00\x02\x01\x00", 7);
    expect_fatal(&p, "plaintext alert after the handshake", 10);
    pair_close(&p);

    /* Lengths. */
    pair_open(&p, su);
    size_t over = TLS_REC_MAX_WIRE - TLS_REC_HEADER + 1;
    uint8_t hdr[5] = {23, 3, 3, (uint8_t)(over >> 8), (uint8_t)over};
    put(p.fd[1], hdr, 5);
    expect_fatal(&p, "length 16641, told by the header alone", 22);
    pair_close(&p);

    pair_open(&p, su);
    size_t max = TLS_REC_MAX_WIRE - TLS_REC_HEADER;
    uint8_t mhdr[5] = {23, 3, 3, (uint8_t)(max >> 8), (uint8_t)max};
    put(p.fd[1], mhdr, 5);
    is_int(tls_rec_read(&p.srv, p.fd[0], b, sizeof b), STREAM_AGAIN,
           name_of("length 16640 is allowed: waits for the body", su));
    memset(rec, 0x5a, max);
    size_t sent = 0;
    ssize_t r = STREAM_AGAIN;
    for (int i = 0; i < 1000 && r == STREAM_AGAIN; i++) {
        ssize_t w = send(p.fd[1], rec + sent, max - sent, MSG_NOSIGNAL);
        sent += w > 0 ? (size_t)w : 0;
        r = tls_rec_read(&p.srv, p.fd[0], b, sizeof b);
    }
    is_int(r, STREAM_ERR, name_of("a 16640-byte garbage body fails authentication", su));
    pair_close(&p);

    pair_open(&p, su);
    put(p.fd[1], "\x17\x03\x03\x00\x00", 5);
    expect_fatal(&p, "empty record (no tag)", ALERT_ANY);
    pair_close(&p);

    pair_open(&p, su);
    memcpy(rec, "\x17\x03\x03\x00\x10", 5);
    memset(rec + 5, 0, 16);
    put(p.fd[1], rec, 21);
    expect_fatal(&p, "a record of a tag only", ALERT_ANY);
    pair_close(&p);

    /* More plaintext than a record may hold. */
    pair_open(&p, su);
    ok(peer_send(&p, 23, pat, TLS_REC_MAX_PLAIN + 100), name_of("sealed 16484 bytes", su));
    expect_fatal(&p, "16484 bytes of plaintext", 22);
    pair_close(&p);

    /* A replayed record (same sequence number twice). */
    pair_open(&p, su);
    n = tls_rec_seal(&p.peer, 23, pat, 40, rec);
    put(p.fd[1], rec, n);
    ok(read_settled(&p.es, b, sizeof b) == 40, name_of("a record", su));
    put(p.fd[1], rec, n);
    expect_fatal(&p, "the same record again", 20);
    pair_close(&p);
}

static void test_inner(const struct suite *su)
{
    static uint8_t big[TLS_REC_MAX_PLAIN + 512];
    struct pair p;
    uint8_t b[512];

    /* Zero-length application records are skipped, never read as EOF. */
    pair_open(&p, su);
    ok(peer_send(&p, 23, "", 0), name_of("peer sealed an empty record", su));
    is_int(read_settled(&p.es, b, sizeof b), STREAM_AGAIN,
           name_of("empty record: STREAM_AGAIN", su));
    ok(!p.srv.eof && !p.srv.failed, name_of("empty record: no EOF, no failure", su));
    ok(peer_send(&p, 23, "", 0) && peer_send(&p, 23, "", 0) && peer_send(&p, 23, "xy", 2),
       name_of("two more empty records and data", su));
    ssize_t k = read_settled(&p.es, b, sizeof b);
    ok(k == 2 && memcmp(b, "xy", 2) == 0, name_of("the data behind empty records", su));

    /* Padding: the content type is the last non-zero byte. tls_rec_seal appends the type it is
     * given, so type 0 after "…\x17\0\0" makes a padded application record. */
    ok(peer_send(&p, 0, "hello\x17\x00\x00", 8), name_of("sealed \"hello\" with padding", su));
    k = read_settled(&p.es, b, sizeof b);
    ok(k == 5 && memcmp(b, "hello", 5) == 0, name_of("padded record: \"hello\"", su));
    memcpy(big, pat, 100);
    big[100] = 23;
    memset(big + 101, 0, 200);
    ok(peer_send(&p, 0, big, 301), name_of("100 bytes with 201 bytes of padding", su));
    k = read_settled(&p.es, b, sizeof b);
    ok(k == 100 && memcmp(b, pat, 100) == 0, name_of("long padding removed", su));
    memcpy(big, pat, TLS_REC_MAX_PLAIN);
    big[TLS_REC_MAX_PLAIN] = 23;
    memset(big + TLS_REC_MAX_PLAIN + 1, 0, 200);
    ok(peer_send(&p, 0, big, TLS_REC_MAX_PLAIN + 201), name_of("a full record with padding", su));
    static uint8_t all[TLS_REC_MAX_PLAIN];
    size_t got = 0;
    for (int i = 0; i < 100 && got < TLS_REC_MAX_PLAIN; i++) {
        k = tls_rec_read(&p.srv, p.fd[0], all + got,
                         1000 < TLS_REC_MAX_PLAIN - got ? 1000 : TLS_REC_MAX_PLAIN - got);
        if (k == STREAM_ERR || k == 0)
            break;
        got += k > 0 ? (size_t)k : 0;
    }
    /* RFC 8446 §5.4 bounds what a sender pads to; a receiver may take or refuse this record. */
    ok((got == TLS_REC_MAX_PLAIN && memcmp(all, pat, got) == 0) || (got == 0 && k == STREAM_ERR),
       name_of("a padded full record: all its bytes, or refused", su));
    printf("#   padded full record: %s\n", got ? "accepted" : "refused");
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 0, "\x00\x00\x00", 3), name_of("sealed only zeros (no content type)", su));
    expect_fatal(&p, "inner plaintext of zeros", 10);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 99, "abc", 3), name_of("sealed content type 99", su));
    expect_fatal(&p, "unknown inner content type", 10);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 20, "\x01", 1), name_of("sealed change_cipher_spec", su));
    expect_fatal(&p, "encrypted change_cipher_spec", 10);
    pair_close(&p);

    /* Alerts. */
    pair_open(&p, su);
    ok(peer_send(&p, 21, "\x02\x28", 2), name_of("sealed alert handshake_failure", su));
    expect_fatal(&p, "a fatal alert", ALERT_NONE);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 21, "\x01\x00\x00", 3), name_of("sealed a 3-byte alert", su));
    expect_fatal(&p, "a malformed alert", 50);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 21, "\x01\x00", 2), name_of("sealed close_notify", su));
    is_int(read_settled(&p.es, b, sizeof b), 0, name_of("inner close_notify: 0", su));
    ok(p.srv.eof && !p.srv.failed, name_of("eof, not failed", su));
    pair_close(&p);

    /* Handshake messages after the handshake. */
    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x04\x00\x00\x04\x00\x00\x00\x00", 8),
       name_of("sealed a NewSessionTicket from the client", su));
    expect_fatal(&p, "NewSessionTicket from a client", 10);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x18\x00\x00\x01\x02", 5), name_of("sealed KeyUpdate with value 2", su));
    expect_fatal(&p, "KeyUpdate request_update 2", 47);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x18\x00\x00\x02\x00\x00", 6), name_of("sealed a 2-byte KeyUpdate", su));
    expect_fatal(&p, "KeyUpdate of length 2", 50);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x18\x00\x00\x01\x00\x18\x00\x00\x01\x00", 10),
       name_of("sealed two KeyUpdates in one record", su));
    expect_fatal(&p, "KeyUpdate not at the end of its record", 10);
    pair_close(&p);
}

/* The peer continues with its next write keys, computed by this test (its KeyUpdate went out);
 * its rd side is kept. */
static bool peer_switch_keys(struct pair *p)
{
    struct tls_rec next = {0};
    memcpy(next.rd.secret, p->peer.rd.secret, p->su->secret_len);
    next_secret(p->su, p->peer.wr.secret, next.wr.secret);
    if (tls_rec_init(&next, p->su->id, p->su->secret_len, p->peer.rd.seq, 0) < 0)
        return false;
    if (!idle_rec(&p->peer))
        return false;
    tls_rec_fini(&p->peer);
    p->peer = next;
    return true;
}

/* The peer sends KeyUpdate(request) by hand, then continues with its next keys. */
static bool peer_manual_key_update(struct pair *p, uint8_t request)
{
    uint8_t ku[5] = {24, 0, 0, 1, request};
    return peer_send(p, 22, ku, 5) && peer_switch_keys(p);
}

/* Our client side (a wss:// backend's server sends tickets): dropped, even several in one
 * record, before a KeyUpdate, or spread over records; one cut by data is refused. */
static void test_client_tickets(const struct suite *su)
{
    struct pair p;
    uint8_t b[64];
    pair_open(&p, su);
    p.srv.client = true;
    ok(peer_send(&p, 22, "\x04\x00\x00\x04\x01\x02\x03\x04\x04\x00\x00\x00", 12) &&
           peer_send(&p, 23, "after", 5),
       name_of("client side: sealed two NewSessionTickets, then data", su));
    is_int(read_settled(&p.es, b, sizeof b), 5,
           name_of("client side: the data, tickets dropped", su));
    ok(peer_send(&p, 22, "\x04\x00\x00\x01\x09\x18\x00\x00\x01\x00", 10) && !p.srv.failed,
       name_of("client side: sealed a ticket and a KeyUpdate in one record", su));
    ok(peer_switch_keys(&p) && peer_send(&p, 23, "new key", 7) &&
           read_settled(&p.es, b, sizeof b) == 7 && memcmp(b, "new key", 7) == 0,
       name_of("client side: data under the updated keys", su));
    pair_close(&p);

    pair_open(&p, su);
    p.srv.client = true;
    static uint8_t body[300];
    memset(body, 7, sizeof body);
    ok(peer_send(&p, 22, "\x04\x00", 2) && peer_send(&p, 22, "\x01\x2c", 2) &&
           peer_send(&p, 22, body, 100) && peer_send(&p, 22, body, 200) &&
           peer_send(&p, 23, "after", 5),
       name_of("client side: sealed a 300-byte ticket over four records, then data", su));
    ok(read_settled(&p.es, b, sizeof b) == 5 && memcmp(b, "after", 5) == 0 && !p.srv.failed,
       name_of("client side: the data, the split ticket dropped", su));
    pair_close(&p);

    pair_open(&p, su);
    p.srv.client = true;
    ok(peer_send(&p, 22, "\x04\x00\x01\x00\x01\x02", 6) && peer_send(&p, 23, "cut", 3),
       name_of("client side: sealed a ticket longer than its record, then data", su));
    expect_fatal(&p, "NewSessionTicket cut by a data record", 10);
    pair_close(&p);
}

/* RFC 8446 §5.1 lets a handshake message span records, as long as nothing comes between its
 * pieces and a KeyUpdate ends the record that completes it. (Such a KeyUpdate was refused.) */
static void test_split_key_update(const struct suite *su)
{
    struct pair p;
    uint8_t b[64];
    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x18\x00\x00\x01", 4) && peer_send(&p, 22, "\x00", 1) &&
           !p.srv.failed,
       name_of("sealed a KeyUpdate as header, then body", su));
    ok(peer_switch_keys(&p) && peer_send(&p, 23, "new key", 7) &&
           read_settled(&p.es, b, sizeof b) == 7 && memcmp(b, "new key", 7) == 0,
       name_of("split KeyUpdate: data under the updated keys", su));
    ok(peer_send(&p, 22, "\x18\x00", 2) && peer_send(&p, 22, "\x00\x01\x01", 3) &&
           peer_switch_keys(&p) && peer_send(&p, 23, "again", 5) &&
           read_settled(&p.es, b, sizeof b) == 5 && memcmp(b, "again", 5) == 0,
       name_of("a KeyUpdate(update_requested) split inside its header", su));
    ok(p.srv.key_update_due, name_of("split KeyUpdate: the requested answer is due", su));
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x18\x00\x00\x01", 4) && peer_send(&p, 23, "cut", 3),
       name_of("sealed a KeyUpdate header, then data", su));
    expect_fatal(&p, "KeyUpdate cut by a data record", 10);
    pair_close(&p);

    pair_open(&p, su);
    ok(peer_send(&p, 22, "\x18\x00\x00\x01", 4) && peer_send(&p, 22, "\x00\x18", 2),
       name_of("sealed a KeyUpdate whose body's record goes on", su));
    expect_fatal(&p, "KeyUpdate completed mid-record", 10);
    pair_close(&p);
}

/* A peer sending records without data (empty, or KeyUpdates) keeps the proxy busy for nothing:
 * 32 in a row are accepted, as OpenSSL does, the 33rd is fatal; data resets the count. */
static void test_records_without_data(const struct suite *su)
{
    struct pair p;
    uint8_t b[64];

    pair_open(&p, su);
    bool sent = true;
    for (int i = 0; i < 32; i++)
        sent &= peer_send(&p, 23, "", 0);
    sent &= peer_send(&p, 23, "ok", 2);
    ok(sent, name_of("32 empty records, then data", su));
    ssize_t k = read_settled(&p.es, b, sizeof b);
    ok(k == 2 && memcmp(b, "ok", 2) == 0, name_of("32 empty records: the data arrives", su));
    sent = true;
    for (int i = 0; i < 20; i++)
        sent &= peer_send(&p, 23, "", 0);
    for (int i = 0; i < 13 && sent; i++)
        sent &= peer_manual_key_update(&p, 0);
    ok(sent, name_of("then 20 empty records and 13 KeyUpdates", su));
    expect_fatal(&p, "33 records without data", 10);
    pair_close(&p);
}

static void test_key_update(const struct suite *su)
{
    struct pair p;
    uint8_t want[48], old[48];
    size_t sl = su->secret_len;
    pair_open(&p, su);

    /* The peer updates its keys the way tls_rec_write does. */
    next_secret(su, p.peer.wr.secret, want);
    p.peer.key_update_due = true;
    ok(pump(&p.ep, &p.es, pat, 100, 100, 1000), name_of("data after the peer's KeyUpdate", su));
    ok(!p.peer.key_update_due, name_of("the peer's KeyUpdate went out", su));
    ok(memcmp(p.peer.wr.secret, want, sl) == 0, name_of("peer wr secret is the next one", su));
    ok(memcmp(p.srv.rd.secret, want, sl) == 0, name_of("server rd secret followed", su));
    ok(p.srv.rd.seq == 1 && p.peer.wr.seq == 1, name_of("sequence restarted at 0", su));
    ok(!p.srv.key_update_due, name_of("update_not_requested: no answer due", su));
    memcpy(old, p.srv.wr.secret, sl);
    ok(pump(&p.es, &p.ep, pat + 1, 100, 100, 1000), name_of("server data afterwards", su));
    ok(memcmp(p.srv.wr.secret, old, sl) == 0, name_of("the server kept its write keys", su));

    /* update_requested, by hand: the server answers before its next data. */
    ok(peer_manual_key_update(&p, 1), name_of("peer sent KeyUpdate(update_requested)", su));
    ok(pump(&p.ep, &p.es, pat + 2, 50, 50, 1000), name_of("peer data under its next keys", su));
    ok(p.srv.key_update_due, name_of("the server owes a KeyUpdate", su));
    next_secret(su, p.srv.wr.secret, want);
    ok(pump(&p.es, &p.ep, pat + 3, 3000, 3000, 1000), name_of("server data after its answer", su));
    ok(memcmp(p.srv.wr.secret, want, sl) == 0 && memcmp(p.peer.rd.secret, want, sl) == 0,
       name_of("the server moved to its next write secret, the peer followed", su));
    ok(!p.peer.key_update_due, name_of("the answer did not request an update back", su));

    /* Two requests while the server is silent: one answer. */
    ok(peer_manual_key_update(&p, 1) && peer_manual_key_update(&p, 1),
       name_of("two requests in a row", su));
    ok(pump(&p.ep, &p.es, pat + 4, 10, 10, 1000), name_of("peer data after both", su));
    next_secret(su, p.srv.wr.secret, want);
    ok(pump(&p.es, &p.ep, pat + 5, 10, 10, 1000), name_of("server data after one answer", su));
    ok(memcmp(p.srv.wr.secret, want, sl) == 0, name_of("exactly one update of ours", su));

    /* Many updates both ways, interleaved with data. */
    bool all = true;
    for (int i = 0; i < 60 && all; i++) {
        p.peer.key_update_due = i % 2 == 0;
        p.srv.key_update_due = i % 3 == 0;
        struct flow f[2] = {
            flow(&p.es, &p.ep, pat + i, 20000, 20000, 7000),
            flow(&p.ep, &p.es, pat + 2 * i, 5000, 5000, 3000),
        };
        all = run_flows(f, 2);
    }
    ok(all, name_of("60 rounds of updates both ways with data", su));
    pair_close(&p);

    /* Key-usage limit: close to 2^24 records the writer updates by itself. */
    pair_open(&p, su);
    uint64_t near = (UINT64_C(1) << 24) - 3;
    p.srv.wr.seq = p.peer.rd.seq = near;
    memcpy(old, p.srv.wr.secret, sl);
    ok(pump(&p.es, &p.ep, pat, 10 * TLS_REC_MAX_PLAIN, 10 * TLS_REC_MAX_PLAIN, 65536),
       name_of("ten records across sequence 2^24", su));
    ok(memcmp(p.srv.wr.secret, old, sl) != 0 && p.srv.wr.seq < 16,
       name_of("the writer updated its keys on its own", su));
    ok(memcmp(p.peer.rd.secret, p.srv.wr.secret, sl) == 0, name_of("the reader followed", su));
    p.peer.wr.seq = p.srv.rd.seq = near;
    ok(pump(&p.ep, &p.es, pat + 1, 10 * TLS_REC_MAX_PLAIN, 100000, 65536),
       name_of("the same from the peer's side", su));
    pair_close(&p);
}

/* Many connections in one thread, suites mixed, used in turn: more keys than any per-thread
 * cache of expanded keys can hold at once. */
static void test_many_pairs(void)
{
    enum { N = 200 };
    static struct pair ps[N];
    bool opened = true, all = true;
    for (int i = 0; i < N; i++)
        opened &= pair_open(&ps[i], &suites[i % 3]);
    ok(opened, "200 pairs, suites mixed: set up");
    for (int round = 0; round < 3 && all; round++) {
        for (int i = 0; i < N && all; i++) {
            struct pair *p = &ps[(i * 7 + round * 31) % N];
            p->srv.key_update_due = (i + round) % 5 == 0;
            all = pump(&p->ep, &p->es, pat + i, 100 + (size_t)i, 4096, 4096) &&
                  pump(&p->es, &p->ep, pat + 2 * i, 1 + (size_t)round * 5000, 8192, 4096);
        }
    }
    ok(all, "200 pairs: 3 rounds of messages both ways, in turn");
    for (int i = 0; i < N; i++)
        pair_close(&ps[i]);
}

/* A record layer used on another thread, which frees its cipher contexts at exit. */
struct thread_job {
    struct pair p;
    bool passed;
};

static void *thread_main(void *arg)
{
    struct thread_job *j = arg;
    j->passed = pump(&j->p.es, &j->p.ep, pat, 200000, 65536, 65536) &&
                pump(&j->p.ep, &j->p.es, pat + 1, 200000, 65536, 65536);
    tls_rec_thread_fini();
    return NULL;
}

static void test_thread(void)
{
    struct thread_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    pair_open(&j->p, &suites[2]);
    ok(pump(&j->p.es, &j->p.ep, pat, 1000, 1000, 1000), "thread: data on the main thread first");
    pthread_t th;
    bool started = pthread_create(&th, NULL, thread_main, j) == 0;
    if (started)
        pthread_join(th, NULL);
    ok(started && j->passed, "thread: the same pair on another thread, 200 kB each way");
    ok(pump(&j->p.ep, &j->p.es, pat, 1000, 1000, 1000), "thread: and back on the main thread");
    pair_close(&j->p);
    free(j);
}

/* ---- main ------------------------------------------------------------------------------- */

int main(void)
{
    fill_pattern();
    test_rfc8448();
    for (int i = 0; i < 3; i++) {
        const struct suite *su = &suites[i];
        test_transfers(su);
        test_small_reads(su);
        test_byte_at_a_time(su);
        test_bad_header_held(su);
        test_client_tickets(su);
        test_split_key_update(su);
        test_partial_writes(su);
        test_write_blocked(su);
        test_close(su);
        test_bad_records(su);
        test_inner(su);
        test_records_without_data(su);
        test_key_update(su);
    }

    test_many_pairs();
    test_thread();
    tls_rec_thread_fini();
    buf_pool_drain();
    return tap_done();
}
