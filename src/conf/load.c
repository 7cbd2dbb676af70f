/* Loading a configuration: walk the tree against the directive table, then merge inherited
 * settings, resolve proxy_pass targets and upstreams, build TLS contexts, locations and
 * server names per listen address, and lint. */
#include "conf/load_int.h"

#include "conf/vars.h"
#include "obs/log.h"
#include "proxy/balancer.h"
#include "proxy/http_vars.h"
#include "proxy/upstream.h"
#include "route/location.h"
#include "route/server_name.h"
#include "tls/tls_ctx.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- messages ---- */

static void add_line(struct load_result *res, const char *line)
{
    char **w = realloc(res->warnings, (res->nwarnings + 1) * sizeof(*w));
    if (!w)
        return;
    res->warnings = w;
    res->warnings[res->nwarnings] = strdup(line);
    if (res->warnings[res->nwarnings])
        res->nwarnings++;
}

int load_error(struct load *ld, const struct conf_node *n, const char *fmt, ...)
{
    if (ld->failed)
        return -1;
    ld->failed = true;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n)
        snprintf(ld->res->error, sizeof(ld->res->error), "%s:%u: %s", n->file, n->line, msg);
    else
        snprintf(ld->res->error, sizeof(ld->res->error), "%s", msg);
    return -1;
}

void load_warn_at(struct load *ld, const char *file, unsigned line, const char *fmt, ...)
{
    char msg[900], full[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s:%u: warning: %s", file, line, msg);
    add_line(ld->res, full);
}

void load_warn(struct load *ld, const struct conf_node *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    load_warn_at(ld, n->file, n->line, "%s", msg);
}

void load_result_free(struct load_result *res)
{
    for (size_t i = 0; i < res->nwarnings; i++)
        free(res->warnings[i]);
    free(res->warnings);
    res->warnings = NULL;
    res->nwarnings = 0;
}

/* ---- the walk ---- */

static const char *ctx_name(unsigned ctx)
{
    switch (ctx) {
    case CTX_MAIN:
        return "the main context";
    case CTX_EVENTS:
        return "events";
    case CTX_HTTP:
        return "http";
    case CTX_SERVER:
        return "server";
    case CTX_LOCATION:
        return "location";
    case CTX_UPSTREAM:
        return "upstream";
    }
    return "?";
}

static void ctx_list(unsigned ctx, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = 0;
    for (unsigned bit = 1; bit <= CTX_UPSTREAM; bit <<= 1)
        if (ctx & bit)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", ctx_name(bit));
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static bool in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

static int unknown_directive(struct load *ld, const struct conf_node *n)
{
    if (in_list(conf_unsupported, n->name))
        return load_error(ld, n, "\"%s\" is an nginx directive that wssgate does not implement; "
                                 "remove it (docs/config.md lists what is supported)", n->name);
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < conf_ndirectives; i++) {
        size_t d = edit_distance(n->name, conf_directives[i].name);
        if (d < bestd) {
            bestd = d;
            best = conf_directives[i].name;
        }
    }
    if (best)
        return load_error(ld, n, "unknown directive \"%s\"; did you mean \"%s\"?", n->name, best);
    return load_error(ld, n, "unknown directive \"%s\"; see docs/config.md for the directives "
                             "wssgate reads", n->name);
}

static int run_directive(struct load *ld, const struct conf_node *n, unsigned ctx)
{
    const struct directive *found = NULL, *named = NULL;
    for (size_t i = 0; i < conf_ndirectives; i++) {
        if (strcmp(conf_directives[i].name, n->name) != 0)
            continue;
        named = &conf_directives[i];
        if (conf_directives[i].contexts & ctx) {
            found = named;
            break;
        }
    }
    if (!named) {
        if (in_list(conf_harmless, n->name))
            return 0;
        return unknown_directive(ld, n);
    }
    if (!found) {
        char where[128];
        ctx_list(named->contexts, where, sizeof(where));
        return load_error(ld, n, "\"%s\" is not allowed in %s; it belongs in %s", n->name,
                          ctx_name(ctx), where);
    }
    if (found->block != n->is_block)
        return load_error(ld, n, found->block ? "\"%s\" needs a block: %s %s"
                                              : "\"%s\" takes no block; end it with \";\" (%s %s)",
                          n->name, n->name, found->syntax);
    if ((int)n->nargs < found->min_args || (found->max_args >= 0 && (int)n->nargs > found->max_args))
        return load_error(ld, n, "wrong number of arguments in \"%s\"; syntax: %s %s", n->name,
                          n->name, found->syntax);
    ld->node = n;
    return found->set(ld, n);
}

int load_block(struct load *ld, const struct conf_node *n, unsigned ctx)
{
    unsigned saved = ld->ctx;
    ld->ctx = ctx;
    for (size_t i = 0; i < n->nchildren && !ld->failed; i++) {
        /* At the top level, http's directives are read as if an http block held them. */
        unsigned c = ctx == CTX_MAIN ? (CTX_MAIN | CTX_HTTP) : ctx;
        const struct conf_node *child = &n->children[i];
        if (ctx == CTX_MAIN) {
            bool main_only = false;
            for (size_t k = 0; k < conf_ndirectives; k++)
                if (strcmp(conf_directives[k].name, child->name) == 0 &&
                    (conf_directives[k].contexts & CTX_MAIN))
                    main_only = true;
            ld->ctx = main_only ? CTX_MAIN : CTX_HTTP;
            c = ld->ctx;
        }
        if (run_directive(ld, child, c) < 0)
            ld->failed = true;
        ld->ctx = ctx;
    }
    ld->ctx = saved;
    return ld->failed ? -1 : 0;
}

/* ---- merging: an inner level inherits each setting group it does not set ---- */

#define INHERIT(bit, ...)                         \
    if (!(c->set & (1ull << (bit)))) {            \
        __VA_ARGS__;                              \
    }

static void merge(struct loc_conf *c, const struct loc_conf *p)
{
    INHERIT(SET_SET_HEADERS, c->proxy.set_headers = p->proxy.set_headers;
            c->proxy.nset_headers = p->proxy.nset_headers)
    INHERIT(SET_HIDE_HEADERS, c->proxy.hide_headers = p->proxy.hide_headers;
            c->proxy.nhide_headers = p->proxy.nhide_headers)
    INHERIT(SET_HTTP_VERSION, c->proxy.http_minor = p->proxy.http_minor)
    INHERIT(SET_CONNECT_T, c->proxy.connect_ms = p->proxy.connect_ms)
    INHERIT(SET_READ_T, c->proxy.read_ms = p->proxy.read_ms; c->proxy.read_set = p->proxy.read_set)
    INHERIT(SET_SEND_T, c->proxy.send_ms = p->proxy.send_ms)
    INHERIT(SET_TUNNEL_IDLE, c->proxy.tunnel_idle_ms = p->proxy.tunnel_idle_ms)
    INHERIT(SET_TLS_OFFLOAD, c->proxy.tls_offload_off = p->proxy.tls_offload_off)
    INHERIT(SET_NEXT_UPSTREAM, c->proxy.next_upstream = p->proxy.next_upstream)
    INHERIT(SET_ROOT, c->root = p->root; c->alias = false)
    INHERIT(SET_INDEX, c->index = p->index; c->nindex = p->nindex)
    INHERIT(SET_EXPIRES, c->expires_set = p->expires_set; c->expires_s = p->expires_s)
    INHERIT(SET_DEFAULT_TYPE, c->default_type = p->default_type)
    INHERIT(SET_ADD_HEADERS, c->add_headers = p->add_headers; c->nadd_headers = p->nadd_headers)
    INHERIT(SET_CHARSET, c->charset = p->charset)
    INHERIT(SET_MAX_BODY, c->client_max_body_size = p->client_max_body_size)
    INHERIT(SET_ACCESS_LOG, c->access_log_off = p->access_log_off; c->access_log = p->access_log)
    INHERIT(SET_ERROR_PAGES, c->error_pages = p->error_pages; c->nerror_pages = p->nerror_pages)
    INHERIT(SET_ACCESS, c->access = p->access; c->naccess = p->naccess)
}

static void http_defaults(struct loc_conf *lc)
{
    lc->proxy.http_minor = 1;
    lc->proxy.connect_ms = 60000;
    lc->proxy.read_ms = 60000;
    lc->proxy.send_ms = 60000;
    lc->proxy.next_upstream = NEXT_UPSTREAM_ERROR | NEXT_UPSTREAM_TIMEOUT;
    lc->client_max_body_size = 1024 * 1024;
    lc->default_type = "text/plain";
    lc->access_log = -1;
    static struct str index_html = { "index.html", 10 };
    lc->index = &index_html;
    lc->nindex = 1;
}

/* ---- proxy_pass ---- */

static struct upstream_group *find_upstream(struct load *ld, const char *name, size_t len)
{
    for (size_t i = 0; i < ld->nupstreams; i++) {
        struct ups_build *ub = ld->upstreams[i];
        if (strlen(ub->grp->name) == len && strncmp(ub->grp->name, name, len) == 0)
            return ub->grp;
    }
    return NULL;
}

static struct upstream_group *implicit_group(struct load *ld, const char *url, const char *authority,
                                             bool tls, char *err, size_t errlen)
{
    struct upstream_group *g = arena_alloc(ld->a, sizeof(*g));
    g->targets = arena_alloc(ld->a, sizeof(struct upstream_target));
    char u[400];
    snprintf(u, sizeof(u), "%s://%s", tls ? "https" : "http", authority);
    if (upstream_target_parse(u, &g->targets[0], err, errlen) < 0)
        return NULL;
    snprintf(g->targets[0].url, sizeof(g->targets[0].url), "%s", url);
    g->ntargets = 1;
    g->name = arena_strdup(ld->a, url);
    g->host_header = arena_strdup(ld->a, authority);
    struct lb_peer peer = { .name = g->name, .weight = 1, .max_fails = 1,
                            .fail_timeout_ms = 10000, .data = &g->targets[0] };
    g->lb = lb_group_new(LB_ROUND_ROBIN, &peer, 1, err, errlen);
    if (!g->lb)
        return NULL;
    gen_on_free(ld->g, (void (*)(void *))lb_group_free, g->lb);
    ld->g->groups = arena_grow(ld->a, ld->g->groups, ld->g->ngroups, sizeof(*ld->g->groups));
    ld->g->groups[ld->g->ngroups++] = g;
    return g;
}

static int resolve_proxy_pass(struct load *ld, struct loc_build *lb)
{
    struct conf_node at = { .file = lb->proxy_pass_file, .line = lb->proxy_pass_line };
    const char *url = lb->proxy_pass;
    struct proxy_conf *pc = &lb->lc->proxy;
    const char *rest = NULL;
    static const struct {
        const char *scheme;
        bool tls;
    } schemes[] = { { "http://", false }, { "https://", true }, { "ws://", false },
                    { "wss://", true } };
    for (size_t i = 0; i < 4 && !rest; i++) {
        size_t n = strlen(schemes[i].scheme);
        if (strncasecmp(url, schemes[i].scheme, n) == 0) {
            rest = url + n;
            pc->tls = schemes[i].tls;
        }
    }
    if (!rest)
        return load_error(ld, &at, "invalid URL prefix in \"proxy_pass %s\"; write it as "
                                   "http://127.0.0.1:9502 or http://UPSTREAM_NAME", url);
    if (strchr(url, '$'))
        return load_error(ld, &at, "variables in proxy_pass are not supported; use an upstream "
                                   "block or a fixed URL");
    const char *slash = strchr(rest, '/');
    size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (slash) {
        pc->has_uri = true;
        pc->uri = (struct str){ arena_strdup(ld->a, slash), strlen(slash) };
        if (lb->kind == LOC_REGEX || lb->kind == LOC_REGEX_ICASE || lb->kind == LOC_NAMED)
            return load_error(ld, &at, "\"proxy_pass\" cannot have a URI part in a location given "
                                       "by a regular expression or a named location; remove "
                                       "\"%s\" from the URL", slash);
    }
    pc->pass_text = url;
    pc->group = find_upstream(ld, rest, alen);
    if (!pc->group) {
        char authority[300], err[400];
        if (alen == 0 || alen >= sizeof(authority))
            return load_error(ld, &at, "no host in \"proxy_pass %s\"", url);
        memcpy(authority, rest, alen);
        authority[alen] = '\0';
        if (!strchr(authority, ':') && !strchr(authority, '.') && strcmp(authority, "localhost"))
            return load_error(ld, &at, "no upstream \"%s\" is defined, and it is not a host:port; "
                                       "add \"upstream %s { server 127.0.0.1:9502; }\" or fix the "
                                       "name", authority, authority);
        pc->group = implicit_group(ld, url, authority, pc->tls, err, sizeof(err));
        if (!pc->group)
            return load_error(ld, &at, "%s", err);
    }
    lb->lc->handler = HANDLER_PROXY;
    return 0;
}

/* ---- upstream groups ---- */

static int build_upstream(struct load *ld, struct ups_build *ub)
{
    struct upstream_group *g = ub->grp;
    g->targets = arena_alloc(ld->a, ub->nservers * sizeof(struct upstream_target));
    struct lb_peer *peers = arena_alloc(ld->a, ub->nservers * sizeof(*peers));
    for (size_t i = 0; i < ub->nservers; i++) {
        struct ups_server *s = &ub->servers[i];
        struct conf_node at = { .file = s->file, .line = s->line };
        char u[400], err[400];
        snprintf(u, sizeof(u), "http://%s", s->addr_text);
        if (strchr(s->addr_text, '/'))
            return load_error(ld, &at, "invalid server \"%s\" in upstream; write host:port",
                              s->addr_text);
        if (upstream_target_parse(u, &g->targets[i], err, sizeof(err)) < 0)
            return load_error(ld, &at, "%s", err);
        snprintf(g->targets[i].url, sizeof(g->targets[i].url), "http://%s (upstream %s)",
                 s->addr_text, g->name);
        peers[i] = (struct lb_peer){ .name = s->addr_text, .weight = s->weight,
                                     .max_fails = s->max_fails,
                                     .fail_timeout_ms = s->fail_timeout_ms, .backup = s->backup,
                                     .down = s->down, .data = &g->targets[i] };
    }
    g->ntargets = ub->nservers;
    g->host_header = g->name;
    char err[300];
    g->lb = lb_group_new((enum lb_method)ub->method, peers, ub->nservers, err, sizeof(err));
    if (!g->lb) {
        struct conf_node at = { .file = ub->file, .line = ub->line };
        return load_error(ld, &at, "upstream \"%s\": %s", g->name, err);
    }
    gen_on_free(ld->g, (void (*)(void *))lb_group_free, g->lb);
    ld->g->groups = arena_grow(ld->a, ld->g->groups, ld->g->ngroups, sizeof(*ld->g->groups));
    ld->g->groups[ld->g->ngroups++] = g;
    return 0;
}

/* ---- locations ---- */

static int add_locations(struct load *ld, struct srv_build *sb, struct location_set *set,
                         struct loc_build **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct loc_build *lb = list[i];
        struct conf_node at = { .file = lb->file, .line = lb->line };
        char err[400];
        lb->loc = location_add(set, (enum loc_kind)lb->kind, lb->pattern, lb->lc, err, sizeof(err));
        if (!lb->loc)
            return load_error(ld, &at, "%s", err);
        size_t plen = strlen(lb->pattern);
        if (lb->lc->handler == HANDLER_PROXY && plen > 1 && lb->pattern[plen - 1] == '/' &&
            (lb->kind == LOC_PREFIX || lb->kind == LOC_PREFIX_STOP || lb->kind == LOC_EXACT))
            lb->loc->auto_redirect = true;
        if (lb->nchildren) {
            struct location_set *nested = location_nested(lb->loc);
            if (!nested || add_locations(ld, sb, nested, lb->children, lb->nchildren) < 0)
                return ld->failed ? -1 : load_error(ld, &at, "out of memory");
        }
    }
    return 0;
}

/* ---- TLS ---- */

static const char *const weak_cipher_words[] = { "RC4", "EXP", "NULL", "MD5", "DES", "ADH",
                                                 "AECDH", "LOW", "SSLv2", "aNULL", "eNULL",
                                                 "PSK", "SRP", "IDEA", "SEED", NULL };

/* What a server does not set of the ssl_* directives it takes from the http level. */
static void merge_tls(struct srv_build *sb, const struct srv_build *http)
{
    /* A server with a key of its own does not take the http level's certificate. */
    if (!sb->cert.text && !sb->key.text && http->cert.text) {
        sb->cert = http->cert;
        sb->cert_inherited = true;
    }
    if (!sb->key.text)
        sb->key = http->key;
    if (!sb->ciphers.text && http->ciphers.text) {
        sb->ciphers = http->ciphers;
        sb->ciphers_inherited = true;
    }
    if (!sb->ssl_on_set)
        sb->ssl_on = http->ssl_on;
    if (!sb->prefer_set)
        sb->prefer_server_ciphers = http->prefer_server_ciphers;
    if (!sb->session_timeout_s)
        sb->session_timeout_s = http->session_timeout_s ? http->session_timeout_s : 300;
    if (!sb->tickets_set)
        sb->tickets_off = http->tickets_off;
    if (!sb->cache_set)
        sb->cache_off = http->cache_off;
    if (!sb->curves.text)
        sb->curves = http->curves;
}

/* Drops the weak parts of an ssl_ciphers list and returns what is kept (or NULL: the default).
 * A list inherited from the http level is warned about once, not once per server. */
static const char *filter_ciphers(struct load *ld, struct srv_build *sb)
{
    if (!sb->ciphers.text)
        return NULL;
    bool warn = !sb->ciphers_inherited || !ld->http_ciphers_warned;
    if (sb->ciphers_inherited)
        ld->http_ciphers_warned = true;
    char kept[1024] = "", dropped[512] = "";
    char *list = arena_strdup(ld->a, sb->ciphers.text), *save = NULL;
    for (char *tok = strtok_r(list, ":, ", &save); tok; tok = strtok_r(NULL, ":, ", &save)) {
        bool weak = false;
        for (size_t i = 0; weak_cipher_words[i]; i++)
            weak |= tok[0] != '!' && tok[0] != '-' && strstr(tok, weak_cipher_words[i]) != NULL;
        char *dst = weak ? dropped : kept;
        size_t cap = weak ? sizeof(dropped) : sizeof(kept), len = strlen(dst);
        snprintf(dst + len, cap - len, "%s%s", len ? ":" : "", tok);
    }
    if (dropped[0] && warn)
        load_warn_at(ld, sb->ciphers.file, sb->ciphers.line,
                     "weak ciphers dropped from ssl_ciphers: %s (RC4, EXPORT, NULL, MD5, "
                     "DES/3DES and anonymous suites are broken or refused by browsers); remove "
                     "them or delete ssl_ciphers to use wssgate's modern default", dropped);
    if (!kept[0])
        return NULL;
    size_t len = strlen(kept);
    snprintf(kept + len, sizeof(kept) - len, ":!aNULL:!eNULL:!EXPORT:!DES:!3DES:!RC4:!MD5:!LOW");
    return arena_strdup(ld->a, kept);
}

static int build_tls(struct load *ld, struct srv_build *sb)
{
    struct conf_node at = { .file = sb->file, .line = sb->line };
    if (!sb->cert.text || !sb->key.text)
        return load_error(ld, &at, "this server listens with ssl but has no %s; add "
                                   "\"ssl_certificate FILE;\" and \"ssl_certificate_key FILE;\" "
                                   "(wssgate cert NAME makes them)",
                          sb->cert.text ? "ssl_certificate_key" : "ssl_certificate");
    char err[600];
    SSL_CTX *ctx = tls_ctx_new_server(sb->cert.text, sb->key.text, err, sizeof(err));
    if (!ctx) {
        bool key_problem = strstr(err, "cannot load key") || strstr(err, "does not match");
        const struct conf_value *bad = key_problem ? &sb->key : &sb->cert;
        struct conf_node cat = { .file = bad->file, .line = bad->line };
        return load_error(ld, &cat, "%s; check the paths and that the key belongs to the "
                                    "certificate", err);
    }
    ld->g->ctxs = arena_grow(ld->a, ld->g->ctxs, ld->g->nctxs, sizeof(*ld->g->ctxs));
    ld->g->ctxs[ld->g->nctxs++] = ctx;
    const char *ciphers = filter_ciphers(ld, sb);
    if (ciphers && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        ERR_clear_error();
        SSL_CTX_set_cipher_list(ctx, TLS_DEFAULT_CIPHERS);
        load_warn_at(ld, sb->ciphers.file, sb->ciphers.line,
                     "no usable cipher in ssl_ciphers \"%s\"; wssgate's modern default list "
                     "is used", sb->ciphers.text);
    }
    if (!sb->prefer_server_ciphers && sb->ciphers.text)
        SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_timeout(ctx, (long)sb->session_timeout_s);
    if (sb->tickets_off)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (sb->cache_off)
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (sb->curves.text && strcmp(sb->curves.text, "auto") != 0 &&
        SSL_CTX_set1_groups_list(ctx, sb->curves.text) != 1) {
        ERR_clear_error();
        struct conf_node cat = { .file = sb->curves.file, .line = sb->curves.line };
        return load_error(ld, &cat, "unknown curve in ssl_ecdh_curve \"%s\"; use names like "
                                    "X25519:prime256v1:secp384r1, or auto", sb->curves.text);
    }
    sb->sc->ssl_ctx = ctx;
    return 0;
}

/* ---- listen addresses ---- */

static struct gen_listen *listen_for(struct load *ld, const struct listen_build *lb)
{
    struct gen *g = ld->g;
    for (size_t i = 0; i < g->nlistens; i++)
        if (strcmp(g->listens[i].text, lb->text) == 0)
            return &g->listens[i];
    return NULL;
}

static int build_listens(struct load *ld)
{
    struct gen *g = ld->g;
    /* Pass 1: one gen_listen per address; ssl if any server says so. */
    for (size_t s = 0; s < ld->nservers; s++) {
        struct srv_build *sb = ld->servers[s];
        if (!sb->nlistens) {
            struct listen_build dflt = { .backlog = 511, .file = sb->file, .line = sb->line };
            char err[200];
            addr_resolve("0.0.0.0", 80, &dflt.addr, err, sizeof(err));
            addr_format(&dflt.addr, dflt.text, sizeof(dflt.text));
            sb->listens = arena_grow(ld->a, sb->listens, 0, sizeof(dflt));
            sb->listens[0] = dflt;
            sb->nlistens = 1;
        }
        for (size_t i = 0; i < sb->nlistens; i++) {
            struct listen_build *lb = &sb->listens[i];
            if (sb->ssl_on)
                lb->ssl = true;
            struct gen_listen *gl = listen_for(ld, lb);
            if (!gl) {
                g->listens = arena_grow(ld->a, g->listens, g->nlistens, sizeof(*g->listens));
                gl = &g->listens[g->nlistens++];
                gl->addr = lb->addr;
                snprintf(gl->text, sizeof(gl->text), "%s", lb->text);
                gl->backlog = lb->backlog;
            }
            gl->ssl |= lb->ssl;
            gl->reuseport |= lb->reuseport;
        }
    }
    /* Pass 2: server names and the default server of each address. */
    for (size_t i = 0; i < g->nlistens; i++) {
        struct gen_listen *gl = &g->listens[i];
        gl->names = server_names_new();
        gen_on_free(g, (void (*)(void *))server_names_free, gl->names);
        const struct listen_build *dflt_at = NULL;
        for (size_t s = 0; s < ld->nservers; s++) {
            struct srv_build *sb = ld->servers[s];
            for (size_t k = 0; k < sb->nlistens; k++) {
                const struct listen_build *lb = &sb->listens[k];
                if (strcmp(lb->text, gl->text) != 0)
                    continue;
                struct conf_node at = { .file = lb->file, .line = lb->line };
                if (lb->default_server) {
                    if (dflt_at)
                        return load_error(ld, &at, "a duplicate default server for %s (the "
                                                   "first is at %s:%u); keep one default_server",
                                          gl->text, dflt_at->file, dflt_at->line);
                    dflt_at = lb;
                    gl->default_srv = sb->sc;
                }
                if (!gl->default_srv)
                    gl->default_srv = sb->sc;
                if (gl->ssl && !sb->sc->ssl_ctx && build_tls(ld, sb) < 0)
                    return -1;
                for (size_t n = 0; n < sb->nnames; n++) {
                    char err[300];
                    int r = server_names_add(gl->names, sb->names[n], sb->sc, err, sizeof(err));
                    struct conf_node nat = { .file = sb->names_file[n],
                                             .line = sb->names_line[n] };
                    if (r < 0)
                        return load_error(ld, &nat, "%s", err);
                    if (r > 0)
                        load_warn_at(ld, nat.file, nat.line, "%s on %s, ignored", err, gl->text);
                }
            }
        }
        server_names_set_default(gl->names, gl->default_srv);
        char err[300];
        if (server_names_finish(gl->names, err, sizeof(err)) < 0)
            return load_error(ld, NULL, "%s", err);
        gl->cl.tls = gl->ssl;
        gl->cl.ssl_ctx = gl->ssl ? gl->default_srv->ssl_ctx : NULL;
        gl->cl.gl = gl;
        gl->cl.gen = g;
        int port = 0;
        char ip[64];
        port = addr_ip_port((const struct sockaddr *)&gl->addr.ss, ip, sizeof(ip));
        gl->cl.port = port;
    }
    return 0;
}

/* SNI: every TLS server on an address, by its exact and wildcard names. */
static void build_sni(struct load *ld)
{
    struct gen *g = ld->g;
    for (size_t i = 0; i < g->nlistens; i++) {
        struct gen_listen *gl = &g->listens[i];
        if (!gl->ssl)
            continue;
        size_t n = 1;
        struct tls_sni_entry *e = arena_alloc(ld->a, sizeof(*e));
        e[0] = (struct tls_sni_entry){ "", gl->default_srv->ssl_ctx };
        for (size_t s = 0; s < ld->nservers; s++) {
            struct srv_build *sb = ld->servers[s];
            if (!sb->sc->ssl_ctx)
                continue;
            bool here = false;
            for (size_t k = 0; k < sb->nlistens; k++)
                here |= strcmp(sb->listens[k].text, gl->text) == 0;
            for (size_t k = 0; here && k < sb->nnames; k++) {
                const char *name = sb->names[k];
                if (!name[0] || name[0] == '~' || strchr(name + 1, '*'))
                    continue;
                e = arena_grow(ld->a, e, n, sizeof(*e));
                e[n++] = (struct tls_sni_entry){ name[0] == '.' ? name + 1 : name,
                                                 sb->sc->ssl_ctx };
            }
        }
        gl->sni.entries = e;
        gl->sni.n = n;
        tls_sni_install(&gl->sni);
    }
}

/* ---- cleanup of what lives outside the arena ---- */

void gen_on_free(struct gen *g, void (*fn)(void *), void *p)
{
    if (!p)
        return;
    g->cleanups = arena_grow(&g->arena, g->cleanups, g->ncleanups, sizeof(*g->cleanups));
    g->cleanups[g->ncleanups].fn = fn;
    g->cleanups[g->ncleanups].p = p;
    g->ncleanups++;
}

void gen_unref(struct gen *g)
{
    if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = g->ncleanups; i-- > 0;)
        g->cleanups[i].fn(g->cleanups[i].p);
    for (size_t i = 0; i < g->nctxs; i++)
        SSL_CTX_free(g->ctxs[i]);
    SSL_CTX_free(g->upstream_ssl);
    arena_free(&g->arena);
    free(g);
}

/* ---- map blocks (a pre-pass: maps may be used before they are defined, as in nginx) ---- */

static int prepass_maps(struct load *ld, const struct conf_node *block)
{
    for (size_t i = 0; i < block->nchildren; i++) {
        const struct conf_node *n = &block->children[i];
        if (strcmp(n->name, "http") == 0 && n->is_block) {
            if (prepass_maps(ld, n) < 0)
                return -1;
            continue;
        }
        if (strcmp(n->name, "map") != 0 || !n->is_block)
            continue;
        if (n->nargs != 2 || n->args[1].s[0] != '$')
            return load_error(ld, n, "syntax: map $SOURCE $VARIABLE { ... }");
        struct str name = { n->args[1].s + 1, n->args[1].len - 1 };
        if (http_var_lookup(ld->g, name) >= 0)
            return load_error(ld, n, "variable \"$%.*s\" already exists; choose another name for "
                                     "the map", (int)name.len, name.p);
        ld->g->map_names = arena_grow(ld->a, ld->g->map_names, ld->g->nmaps,
                                      sizeof(*ld->g->map_names));
        ld->g->maps = arena_grow(ld->a, ld->g->maps, ld->g->nmaps, sizeof(*ld->g->maps));
        ld->g->map_names[ld->g->nmaps] = (struct str){ arena_strndup(ld->a, name.p, name.len),
                                                       name.len };
        ld->g->map_nodes = arena_grow(ld->a, ld->g->map_nodes, ld->g->nmaps,
                                      sizeof(*ld->g->map_nodes));
        ld->g->map_nodes[ld->g->nmaps] = n;
        ld->g->nmaps++;
    }
    return 0;
}

int load_var_lookup(void *ctx, struct str name)
{
    struct load *ld = ctx;
    return http_var_lookup(ld->g, name);
}

struct var_map *map_build_from_node(struct load *ld, const struct conf_node *n, char *err,
                                    size_t errlen)
{
    struct var_template *src = var_compile(n->args[0].s, load_var_lookup, ld, err, errlen);
    if (!src)
        return NULL;
    struct var_map *m = var_map_new(src);
    if (!m) {
        var_free(src);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    gen_on_free(ld->g, (void (*)(void *))var_map_free, m);
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct conf_node *e = &n->children[i];
        if (strcmp(e->name, "hostnames") == 0 && e->nargs == 0) {
            var_map_set_hostnames(m);
            continue;
        }
        if (strcmp(e->name, "volatile") == 0 && e->nargs == 0)
            continue;
        if (e->is_block || e->nargs != 1) {
            load_error(ld, e, "invalid map entry; write it as KEY VALUE;");
            return NULL;
        }
        char verr[300];
        struct var_template *v = var_compile(e->args[0].s, load_var_lookup, ld, verr, sizeof(verr));
        if (!v) {
            load_error(ld, e, "%s", verr);
            return NULL;
        }
        if (var_map_add(m, e->name, v, verr, sizeof(verr)) < 0) {
            load_error(ld, e, "%s", verr);
            return NULL;
        }
    }
    return m;
}

static int build_maps(struct load *ld)
{
    for (size_t m = 0; m < ld->g->nmaps; m++) {
        const struct conf_node *n = ld->g->map_nodes[m];
        char err[400];
        struct var_map *map = map_build_from_node(ld, n, err, sizeof(err));
        if (!map)
            return ld->failed ? -1 : load_error(ld, n, "%s", err);
        ld->g->maps[m] = map;
    }
    return 0;
}

/* ---- the whole load ---- */

static int build(struct load *ld)
{
    struct gen *g = ld->g;
    if (build_maps(ld) < 0)
        return -1;
    for (size_t i = 0; i < ld->nupstreams; i++)
        if (build_upstream(ld, ld->upstreams[i]) < 0)
            return -1;
    if (!ld->nservers)
        return load_error(ld, NULL, "%s: no server block; add one, e.g. server { listen 8443 ssl; "
                                    "... }", ld->res->name);
    for (size_t s = 0; s < ld->nservers; s++)
        merge_tls(ld->servers[s], &ld->http_tls);
    for (size_t s = 0; s < ld->nservers; s++) {
        struct srv_build *sb = ld->servers[s];
        merge(sb->lc, ld->http_lc);
        sb->sc->top = sb->lc;
        for (size_t i = 0; i < sb->nall_locs; i++) {
            struct loc_build *lb = sb->all_locs[i];
            merge(lb->lc, lb->parent ? lb->parent->lc : sb->lc);
            if (lb->proxy_pass && resolve_proxy_pass(ld, lb) < 0)
                return -1;
        }
        sb->sc->locs = location_set_new();
        gen_on_free(g, (void (*)(void *))location_set_free, sb->sc->locs);
        if (add_locations(ld, sb, sb->sc->locs, sb->locs, sb->nlocs) < 0)
            return -1;
        char err[300];
        if (location_set_finish(sb->sc->locs, err, sizeof(err)) < 0)
            return load_error(ld, NULL, "%s", err);
        g->servers = arena_grow(ld->a, g->servers, g->nservers, sizeof(*g->servers));
        g->servers[g->nservers++] = sb->sc;
        bool any_ssl = sb->ssl_on;
        for (size_t k = 0; k < sb->nlistens; k++)
            any_ssl |= sb->listens[k].ssl;
        if (any_ssl && build_tls(ld, sb) < 0)
            return -1;
    }
    if (build_listens(ld) < 0)
        return -1;
    build_sni(ld);
    char err[300];
    g->upstream_ssl = tls_ctx_new_client(err, sizeof(err));
    lint_servers(ld);
    return ld->failed ? -1 : 0;
}

static struct gen *load_tree(struct conf_tree *tree, const char *name, struct load_result *res)
{
    struct gen *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return NULL;
    }
    atomic_init(&g->refs, 1);
    g->worker_connections = 1024;
    struct load ld = { .g = g, .a = &g->arena, .res = res };
    res->name = name;
    ld.http_lc = arena_alloc(ld.a, sizeof(*ld.http_lc));
    http_defaults(ld.http_lc);
    g->ps = (struct proxy_settings){ .handshake_ms = 10000, .header_ms = 60000,
                                     .keepalive_ms = 75000, .connect_ms = 60000,
                                     .read_ms = 60000, .send_ms = 60000,
                                     .tunnel_idle_ms = 3600000, .drain_ms = 10000,
                                     .max_body = 1024 * 1024, .limits = h1_default_limits };
    int rc = prepass_maps(&ld, &tree->root) < 0 || load_block(&ld, &tree->root, CTX_MAIN) < 0 ||
             build(&ld) < 0 ? -1 : 0;
    conf_tree_free(tree); /* nothing in the generation points into the tree */
    g->map_nodes = NULL;
    if (rc < 0) {
        gen_unref(g);
        return NULL;
    }
    return g;
}

struct gen *conf_load_file(const char *path, struct load_result *res)
{
    memset(res, 0, sizeof(*res));
    struct conf_error err;
    struct conf_tree *tree = conf_parse_file(path, &err);
    if (!tree) {
        snprintf(res->error, sizeof(res->error), "%s", err.msg);
        return NULL;
    }
    return load_tree(tree, path, res);
}

struct gen *conf_load_string(const char *text, const char *name, struct load_result *res)
{
    memset(res, 0, sizeof(*res));
    struct conf_error err;
    struct conf_tree *tree = conf_parse_string(text, strlen(text), name, NULL, &err);
    if (!tree) {
        snprintf(res->error, sizeof(res->error), "%s", err.msg);
        return NULL;
    }
    return load_tree(tree, name, res);
}

int conf_print_file(const char *path, FILE *out)
{
    struct conf_error err;
    struct conf_tree *tree = conf_parse_file(path, &err);
    if (!tree) {
        fprintf(stderr, "wssgate: %s\n", err.msg);
        return -1;
    }
    int r = conf_tree_print(tree, out, CONF_PRINT_ORIGIN);
    conf_tree_free(tree);
    return r;
}

/* Writes s for a Markdown table cell ('|' escaped). */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void conf_write_directive_docs(FILE *out)
{
    fprintf(out, "# wssgate configuration directives\n\n"
                 "Generated from the directive table (`src/conf/directives.c`) by "
                 "`wssgate --directives`. wssgate reads nginx's configuration language; this is "
                 "every directive it knows, where it may stand, and how it differs from nginx.\n\n"
                 "| directive | contexts | syntax | default | notes |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < conf_ndirectives; i++) {
        const struct directive *d = &conf_directives[i];
        char ctx[128];
        ctx_list(d->contexts, ctx, sizeof(ctx));
        fprintf(out, "| `%s` | %s | `%s ", d->name, ctx, d->name);
        md_cell(out, d->syntax);
        fprintf(out, "` | ");
        md_cell(out, d->dflt);
        fprintf(out, " | ");
        md_cell(out, d->doc);
        fprintf(out, " |\n");
    }
    fprintf(out, "\n## Accepted and ignored (ignoring them changes nothing a client sees)\n\n");
    for (size_t i = 0; conf_harmless[i]; i++)
        fprintf(out, "%s`%s`", i ? ", " : "", conf_harmless[i]);
    fprintf(out, "\n\n## nginx directives that are an error (not implemented)\n\n");
    for (size_t i = 0; conf_unsupported[i]; i++)
        fprintf(out, "%s`%s`", i ? ", " : "", conf_unsupported[i]);
    fprintf(out, "\n\nAny other unknown directive is an error too, with a \"did you mean\".\n");
}
