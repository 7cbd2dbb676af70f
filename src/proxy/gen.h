/* A configuration generation as the data path sees it: listeners, servers, locations with their
 * merged settings, upstream groups. Built once by conf/load.c, immutable afterwards, shared by
 * all workers and freed when the last connection using it ends (reload drops nothing). */
#ifndef WSSGATE_PROXY_GEN_H
#define WSSGATE_PROXY_GEN_H

#include "core/arena.h"
#include "core/str.h"
#include "net/addr.h"
#include "proxy/conn.h"
#include "tls/tls_ctx.h"

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct var_template;
struct var_map;
struct location;
struct location_set;
struct server_names;
struct lb_group;
struct upstream_target;
struct conf_node;
struct mime_table;

/* What a location does with a request once rewrites and access checks have passed. */
enum loc_handler {
    HANDLER_STATIC,   /* root/alias, index, try_files (the default, as in nginx) */
    HANDLER_PROXY,    /* proxy_pass: HTTP and WebSocket */
    HANDLER_RETURN,   /* return CODE [TEXT|URL] */
    HANDLER_FASTCGI,  /* fastcgi_pass: parsed and checked, answered with 501 until built */
};

struct hdr_set {
    struct str name;
    struct var_template *value;
    bool always; /* add_header ... always */
};

/* One backend group: an `upstream` block, or the implicit group of `proxy_pass http://host:port`. */
struct upstream_group {
    const char *name;                  /* "im-app", or the URL for an implicit group */
    const char *host_header;           /* nginx's $proxy_host: the Host sent by default */
    struct upstream_target *targets;   /* resolved addresses, one per `server` line */
    size_t ntargets;
    struct lb_group *lb;
    struct var_template *hash_key;     /* `hash KEY` */
    unsigned keepalive;                /* accepted; upstream keep-alive is not built yet */
};

enum { NEXT_UPSTREAM_ERROR = 1, NEXT_UPSTREAM_TIMEOUT = 2 };

struct proxy_conf {
    struct upstream_group *group;
    const char *pass_text;     /* "http://im-app" for messages */
    bool tls;                  /* https:// or wss:// */
    bool has_uri;              /* proxy_pass with a URI part: replaces the location prefix */
    struct str uri;
    int http_minor;            /* proxy_http_version: 0 or 1 (WebSocket always uses 1.1) */
    struct hdr_set *set_headers;
    size_t nset_headers;
    struct str *hide_headers;
    size_t nhide_headers;
    unsigned connect_ms, read_ms, send_ms;
    bool read_set;             /* proxy_read_timeout written: it also bounds idle tunnels */
    unsigned tunnel_idle_ms;   /* websocket_idle_timeout (wssgate); 0: not set */
    bool tls_offload_off;      /* websocket_tls_offload off (wssgate): tunnels stay on OpenSSL */
    unsigned next_upstream;    /* NEXT_UPSTREAM_* bits; 0 = off */
    unsigned next_tries;       /* 0 = no limit */
};

struct access_rule {
    bool allow;
    bool all;
    int family;
    uint8_t addr[16];
    int prefix;
};

enum rewrite_flag { REWRITE_NONE, REWRITE_LAST, REWRITE_BREAK, REWRITE_REDIRECT, REWRITE_PERMANENT };

struct location_regex;

struct rewrite_rule {
    struct location_regex *re;
    struct var_template *replacement;
    enum rewrite_flag flag;
};

struct error_page {
    int codes[16];
    int ncodes;
    int response_code;         /* "=404" / "=" (0: keep) */
    struct var_template *uri;  /* "/404.html", "@fallback" or a URL for a redirect */
};

/* The merged settings of one location (or of a server's implicit top level). Inherited from
 * http → server → location in nginx's way: a directive set in an inner level replaces the
 * whole inherited value. */
struct loc_conf {
    uint64_t set;              /* which setting groups were written at this level (loader only) */
    const char *where;         /* "FILE:LINE location /x" for messages */
    struct str prefix;         /* the location's prefix pattern (for URI replacement / alias) */
    bool regex;                /* the location is a regex one */
    enum loc_handler handler;
    struct proxy_conf proxy;
    int return_code;
    struct var_template *return_text;
    struct rewrite_rule *rewrites;
    size_t nrewrites;
    struct access_rule *access;
    size_t naccess;
    struct error_page *error_pages;
    size_t nerror_pages;
    struct var_template *root;
    bool alias;
    struct str *index;
    size_t nindex;
    struct var_template **try_files;
    size_t ntry_files;
    bool expires_set;
    long expires_s;            /* seconds; <0: "epoch"-like no-cache */
    const char *default_type;
    struct hdr_set *add_headers;
    size_t nadd_headers;
    const char *charset;       /* NULL: off */
    uint64_t client_max_body_size;
    bool access_log_off;
    int access_log;            /* obs/log handle; -1: the main access log */
    const char *fastcgi_pass;  /* what the 501 names */
};

struct srv_conf {
    const char *where;
    const char *first_name;    /* for $server_name */
    struct loc_conf *top;      /* server-level settings: used when no location matches */
    struct location_set *locs;
    struct rewrite_rule *rewrites;  /* server-level rewrites run before location matching */
    size_t nrewrites;
    SSL_CTX *ssl_ctx;
};

struct gen_listen {
    struct net_addr addr;
    char text[80];             /* "127.0.0.1:8443" */
    bool ssl;
    bool reuseport;
    int backlog;
    struct server_names *names;
    struct srv_conf *default_srv;
    struct tls_sni_table sni;
    struct conn_listener cl;   /* what conn.c sees */
};

struct gen {
    atomic_int refs;
    struct arena arena;
    unsigned long serial;      /* 1, 2, … per reload, for logs */
    int workers;
    unsigned worker_connections;
    const char *pid_path;
    struct proxy_settings ps;  /* timeouts and limits of this generation */
    struct gen_listen *listens;
    size_t nlistens;
    struct srv_conf **servers;
    size_t nservers;
    struct upstream_group **groups;
    size_t ngroups;
    struct var_map **maps;
    size_t nmaps;
    struct str *http_var_names; /* $http_NAME variables used, indexed by id - VAR_HTTP_BASE */
    size_t nhttp_vars;
    struct str *map_names;      /* $name of each map, indexed like maps */
    const struct conf_node **map_nodes; /* load time only */
    const struct mime_table *types; /* `types` blocks; NULL: the built-in table */
    struct gen_cleanup {
        void (*fn)(void *);
        void *p;
    } *cleanups;                /* what lives outside the arena (regexes, matchers, groups) */
    size_t ncleanups;
    SSL_CTX **ctxs;             /* every TLS context this generation owns */
    size_t nctxs;
    SSL_CTX *upstream_ssl;
};

/* Takes a reference (a connection, a worker). */
static inline void gen_ref(struct gen *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

/* Drops a reference; the last one frees the generation. NULL is allowed. */
void gen_unref(struct gen *g);

/* Registers fn(p) to run when the generation is freed (load time only). */
void gen_on_free(struct gen *g, void (*fn)(void *), void *p);

#endif
