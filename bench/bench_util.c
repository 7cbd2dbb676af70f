/* Helpers shared by the benchmark programs: clock, file limit, loopback addresses, socket
 * options, a growable buffer, TLS contexts. */
#include "bench_util.h"

#include "tls/tls_handover.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

uint64_t bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bu_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

int bu_parse_loopback(const char *s, struct sockaddr_in *sa, const char *what)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1]) {
        fprintf(stderr, "%s %s: expected 127.0.0.1:PORT\n", what, s);
        return -1;
    }
    char host[64];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(host)) {
        fprintf(stderr, "%s %s: host too long\n", what, s);
        return -1;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port == 0 || port > 65535) {
        fprintf(stderr, "%s %s: bad port\n", what, s);
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || (ntohl(sa->sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "%s %s: only loopback IPv4 addresses (127.x.x.x) are allowed\n", what, s);
        return -1;
    }
    return 0;
}

void bu_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int bu_buf_reserve(struct bu_buf *b, size_t n)
{
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->cap - b->len >= n)
        return 0;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int bu_buf_append(struct bu_buf *b, const void *p, size_t n)
{
    if (bu_buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void bu_buf_consume(struct bu_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        bu_buf_free(b);
}

void bu_buf_free(struct bu_buf *b)
{
    free(b->p);
    *b = (struct bu_buf){0};
}

static void print_ssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    fprintf(stderr, "%s: %s\n", what, buf);
    ERR_clear_error();
}

SSL_CTX *bu_tls_server_ctx(const char *cert, const char *key, bool handover)
{
    SSL_CTX *ctx = handover ? tls_handover_ctx_new(TLS_server_method())
                            : SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        print_ssl_error("SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        print_ssl_error(cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        print_ssl_error(key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *bu_tls_client_ctx(bool handover)
{
    SSL_CTX *ctx = handover ? tls_handover_ctx_new(TLS_client_method())
                            : SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        print_ssl_error("SSL_CTX_new");
        return NULL;
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
        print_ssl_error("client TLS context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

ssize_t bu_ssl_read(SSL *ssl, void *p, size_t n, const char **why)
{
    size_t got = 0;
    errno = 0;
    int r = SSL_read_ex(ssl, p, n, &got);
    if (r == 1)
        return (ssize_t)got;
    int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -1;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
        return 0;
    if (why)
        *why = e == SSL_ERROR_SYSCALL ? strerror(errno) : "TLS error";
    return -2;
}

ssize_t bu_ssl_write(SSL *ssl, const void *p, size_t n)
{
    size_t put = 0;
    int r = SSL_write_ex(ssl, p, n, &put);
    if (r == 1)
        return (ssize_t)put;
    int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? -1 : -2;
}
