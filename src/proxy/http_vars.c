/* Request variables: name → id at load time, id → value while a request is served. */
#include "proxy/http_vars.h"

#include "conf/vars.h"
#include "proxy/conn.h"
#include "proxy/gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

static const struct str builtin_names[HV_NBUILTIN] = {
    [HV_HOST] = STR_LIT("host"),
    [HV_REMOTE_ADDR] = STR_LIT("remote_addr"),
    [HV_REMOTE_PORT] = STR_LIT("remote_port"),
    [HV_PROXY_ADD_XFF] = STR_LIT("proxy_add_x_forwarded_for"),
    [HV_SCHEME] = STR_LIT("scheme"),
    [HV_REQUEST_URI] = STR_LIT("request_uri"),
    [HV_URI] = STR_LIT("uri"),
    [HV_DOCUMENT_URI] = STR_LIT("document_uri"),
    [HV_ARGS] = STR_LIT("args"),
    [HV_QUERY_STRING] = STR_LIT("query_string"),
    [HV_IS_ARGS] = STR_LIT("is_args"),
    [HV_REQUEST_METHOD] = STR_LIT("request_method"),
    [HV_SERVER_NAME] = STR_LIT("server_name"),
    [HV_SERVER_PORT] = STR_LIT("server_port"),
    [HV_SERVER_PROTOCOL] = STR_LIT("server_protocol"),
    [HV_DOCUMENT_ROOT] = STR_LIT("document_root"),
    [HV_FASTCGI_SCRIPT_NAME] = STR_LIT("fastcgi_script_name"),
    [HV_HTTP_HOST] = STR_LIT("http_host"),
    [HV_REQUEST] = STR_LIT("request"),
    [HV_CONTENT_LENGTH] = STR_LIT("content_length"),
    [HV_CONTENT_TYPE] = STR_LIT("content_type"),
    [HV_HTTPS] = STR_LIT("https"),
    [HV_NGINX_VERSION] = STR_LIT("nginx_version"),
    [HV_REMOTE_USER] = STR_LIT("remote_user"),
    [HV_SERVER_ADDR] = STR_LIT("server_addr"),
    [HV_REQUEST_PORT] = STR_LIT("request_port"),
    [HV_IS_REQUEST_PORT] = STR_LIT("is_request_port"),
    [HV_REQUEST_SCHEME] = STR_LIT("request_scheme"),
};

int http_var_lookup(struct gen *g, struct str name)
{
    for (int i = 0; i < HV_NBUILTIN; i++)
        if (str_eq(name, builtin_names[i]))
            return i;
    for (size_t i = 0; i < g->nmaps; i++)
        if (str_eq(name, g->map_names[i]))
            return HV_MAP_BASE + (int)i;
    static const struct str http = STR_LIT("http_");
    if (str_starts_with(name, http) && name.len > http.len) {
        struct str h = { name.p + http.len, name.len - http.len };
        for (size_t i = 0; i < g->nhttp_vars; i++)
            if (str_eq(h, g->http_var_names[i]))
                return HV_HTTP_BASE + (int)i;
        if (g->nhttp_vars >= 900)
            return -1;
        g->http_var_names = arena_grow(&g->arena, g->http_var_names, g->nhttp_vars,
                                       sizeof(struct str));
        g->http_var_names[g->nhttp_vars] = (struct str){
            arena_strndup(&g->arena, h.p, h.len), h.len };
        return HV_HTTP_BASE + (int)g->nhttp_vars++;
    }
    return -1;
}

/* Room for a computed value in the request's scratch area. */
static char *scratch(struct req_vars *rv, size_t n)
{
    if (rv->scratch_used + n > sizeof(rv->scratch))
        return NULL;
    char *p = rv->scratch + rv->scratch_used;
    rv->scratch_used += n;
    return p;
}

static struct str printed(struct req_vars *rv, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct str printed(struct req_vars *rv, size_t n, const char *fmt, ...)
{
    char *p = scratch(rv, n);
    if (!p)
        return STR_NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(p, n, fmt, ap);
    va_end(ap);
    return str_make(p, len < 0 ? 0 : ((size_t)len < n ? (size_t)len : n - 1));
}

/* "$http_x_forwarded_for" names: '_' stands for '-', compared case-insensitively. */
static struct str request_header(const struct h1_request *req, struct str var)
{
    if (!req || !req->headers)
        return STR_NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        struct str n = req->headers[i].name;
        if (n.len != var.len)
            continue;
        size_t k = 0;
        while (k < n.len && (str_lower_ascii(n.p[k]) == var.p[k] ||
                             (n.p[k] == '-' && var.p[k] == '_')))
            k++;
        if (k == n.len)
            return req->headers[i].value;
    }
    return STR_NULL;
}

static char *scratch(struct req_vars *rv, size_t n);

/* nginx's $host: the Host without its port, lowercased, without a trailing dot; else the
 * server's first name. */
static struct str host_value(struct req_vars *rv)
{
    struct str h = rv->req ? rv->req->host : STR_NULL;
    if (!h.len)
        return str_from_cstr(rv->srv && rv->srv->first_name ? rv->srv->first_name : "");
    const char *colon = memrchr(h.p, ':', h.len);
    const char *bracket = memrchr(h.p, ']', h.len);
    if (colon && (!bracket || colon > bracket))
        h.len = (size_t)(colon - h.p);
    if (h.len && h.p[h.len - 1] == '.')
        h.len--;
    char *p = scratch(rv, h.len + 1);
    if (!p)
        return h;
    for (size_t i = 0; i < h.len; i++)
        p[i] = str_lower_ascii(h.p[i]);
    return str_make(p, h.len);
}

static struct str builtin(struct req_vars *rv, int id)
{
    const struct conn *c = rv->c;
    const struct h1_request *req = rv->req;
    switch (id) {
    case HV_HOST:
        return host_value(rv);
    case HV_HTTP_HOST:
        return req ? req->host : STR_NULL;
    case HV_REMOTE_ADDR:
        return str_from_cstr(c->peer_ip);
    case HV_REMOTE_PORT: {
        char ip[64];
        int port = addr_ip_port((const struct sockaddr *)&c->peer.ss, ip, sizeof(ip));
        return printed(rv, 8, "%d", port);
    }
    case HV_PROXY_ADD_XFF: {
        struct str xff = request_header(req, STR_LIT("x_forwarded_for"));
        if (!xff.p)
            return str_from_cstr(c->peer_ip);
        return printed(rv, xff.len + 64, "%.*s, %s", (int)xff.len, xff.p, c->peer_ip);
    }
    case HV_SCHEME:
        return c->lst->tls ? STR_LIT("https") : STR_LIT("http");
    case HV_REQUEST_URI:
        return req ? req->target : STR_NULL;
    case HV_URI:
    case HV_DOCUMENT_URI:
    case HV_FASTCGI_SCRIPT_NAME:
        return rv->uri;
    case HV_ARGS:
    case HV_QUERY_STRING:
        return c->args ? str_make(c->args, c->args_len) : STR_NULL;
    case HV_IS_ARGS:
        return c->args ? STR_LIT("?") : STR_NULL;
    case HV_REQUEST_METHOD:
        return req ? req->method : STR_NULL;
    case HV_SERVER_NAME:
        return str_from_cstr(rv->srv && rv->srv->first_name ? rv->srv->first_name : "");
    case HV_SERVER_PORT:
        return printed(rv, 8, "%d", c->lst->port);
    case HV_SERVER_PROTOCOL:
        return req && req->minor == 0 ? STR_LIT("HTTP/1.0") : STR_LIT("HTTP/1.1");
    case HV_DOCUMENT_ROOT: {
        if (!rv->lc || !rv->lc->root)
            return STR_NULL;
        char *p = scratch(rv, 1024);
        if (!p || rv->depth > 4)
            return STR_NULL;
        rv->depth++;
        long n = var_eval(rv->lc->root, http_var_get, rv, p, 1024);
        rv->depth--;
        return n < 0 ? STR_NULL : str_make(p, (size_t)n);
    }
    case HV_REQUEST:
        return c->req_line ? str_from_cstr(c->req_line) : STR_NULL;
    case HV_CONTENT_LENGTH:
        return request_header(req, STR_LIT("content_length"));
    case HV_CONTENT_TYPE:
        return request_header(req, STR_LIT("content_type"));
    case HV_HTTPS:
        return c->lst->tls ? STR_LIT("on") : STR_NULL;
    case HV_NGINX_VERSION:
        return STR_LIT("1.22.1"); /* what scripts that test it expect; SERVER_SOFTWARE says nginx */
    case HV_REMOTE_USER:
        return STR_NULL; /* no auth_basic */
    case HV_SERVER_ADDR: {
        struct net_addr local = { .len = sizeof(local.ss) };
        char *ip = scratch(rv, 64);
        if (!ip || getsockname(c->s.fd, (struct sockaddr *)&local.ss, &local.len) < 0)
            return STR_NULL;
        addr_ip_port((const struct sockaddr *)&local.ss, ip, 64);
        return str_from_cstr(ip);
    }
    case HV_REQUEST_PORT:
    case HV_IS_REQUEST_PORT:
        return STR_NULL; /* nginx 1.25's $request_port: the port of an absolute-form target */
    case HV_REQUEST_SCHEME:
        return c->lst->tls ? STR_LIT("https") : STR_LIT("http");
    }
    return STR_NULL;
}

struct str http_var_get(void *ctx, int id)
{
    struct req_vars *rv = ctx;
    if (id >= VAR_CAPTURE_BASE) {
        int n = id - VAR_CAPTURE_BASE;
        if (n >= rv->caps.n || n > 9 || !rv->capture_subject.p)
            return STR_NULL;
        return str_make(rv->capture_subject.p + rv->caps.start[n],
                        rv->caps.end[n] - rv->caps.start[n]);
    }
    if (id < HV_NBUILTIN)
        return builtin(rv, id);
    if (id >= HV_HTTP_BASE && id < HV_MAP_BASE) {
        size_t i = (size_t)(id - HV_HTTP_BASE);
        if (i >= rv->g->nhttp_vars)
            return STR_NULL;
        return request_header(rv->req, rv->g->http_var_names[i]);
    }
    if (id >= HV_MAP_BASE && id < HV_MAP_BASE + 1000) {
        size_t i = (size_t)(id - HV_MAP_BASE);
        if (i >= rv->g->nmaps || rv->depth > 8)
            return STR_NULL;
        char *p = scratch(rv, 1024);
        if (!p)
            return STR_NULL;
        rv->depth++;
        long n = var_map_eval(rv->g->maps[i], http_var_get, rv, p, 1024);
        rv->depth--;
        return n < 0 ? STR_NULL : str_make(p, (size_t)n);
    }
    return STR_NULL;
}
