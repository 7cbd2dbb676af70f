/* Internal to the configuration loader (conf/load.c, conf/directives.c, conf/lint.c): the state
 * of one load, and the table of directives. Not included by anything else. */
#ifndef WSSGATE_CONF_LOAD_INT_H
#define WSSGATE_CONF_LOAD_INT_H

#include "conf/conf_tree.h"
#include "conf/load.h"
#include "proxy/gen.h"

#include <stdarg.h>
#include <stdbool.h>

enum {
    CTX_MAIN = 1u << 0,
    CTX_EVENTS = 1u << 1,
    CTX_HTTP = 1u << 2,
    CTX_SERVER = 1u << 3,
    CTX_LOCATION = 1u << 4,
    CTX_UPSTREAM = 1u << 5,
};
#define CTX_HSL (CTX_HTTP | CTX_SERVER | CTX_LOCATION)
#define CTX_SL (CTX_SERVER | CTX_LOCATION)

/* Setting groups of struct loc_conf, inherited as units (nginx merges per directive). */
enum {
    SET_SET_HEADERS = 0, SET_HIDE_HEADERS, SET_HTTP_VERSION, SET_CONNECT_T, SET_READ_T, SET_SEND_T,
    SET_NEXT_UPSTREAM, SET_ROOT, SET_INDEX, SET_EXPIRES, SET_DEFAULT_TYPE, SET_ADD_HEADERS,
    SET_CHARSET, SET_MAX_BODY, SET_ACCESS_LOG, SET_ERROR_PAGES, SET_ACCESS, SET_FASTCGI_PARAMS,
    SET_TUNNEL_IDLE, SET_TLS_OFFLOAD,
};

struct listen_build {
    struct net_addr addr;
    char text[80];
    bool ssl, default_server, reuseport;
    int backlog;
    const char *file;
    unsigned line;
};

struct loc_build {
    int kind;                  /* enum loc_kind */
    const char *pattern;
    struct loc_conf *lc;
    struct loc_build *parent;
    struct loc_build **children;
    size_t nchildren;
    const char *file;
    unsigned line;
    struct location *loc;      /* after building */
    const char *proxy_pass;    /* the URL as written */
    const char *proxy_pass_file;
    unsigned proxy_pass_line;
    bool denies_all;
    bool sets_upgrade;         /* proxy_set_header Upgrade ... */
};

/* A directive's argument and where it was written, for the messages that point at it. */
struct conf_value {
    const char *text; /* NULL: not set */
    const char *file;
    unsigned line;
};

struct srv_build {
    struct srv_conf *sc;
    struct loc_conf *lc;       /* server-level settings */
    struct listen_build *listens;
    size_t nlistens;
    const char **names;
    const char **names_file;   /* where each name was written */
    unsigned *names_line;
    size_t nnames;
    struct conf_value cert, key, ciphers;
    bool ssl_on, ssl_on_set;
    bool prefer_server_ciphers, prefer_set;
    unsigned session_timeout_s; /* 0: not set here */
    bool cert_inherited, ciphers_inherited; /* from the http level (merge_tls) */
    bool tickets_off, tickets_set;  /* ssl_session_tickets */
    bool cache_off, cache_set;      /* ssl_session_cache off | none */
    struct conf_value curves;       /* ssl_ecdh_curve (unset or "auto": OpenSSL's groups) */
    struct loc_build **locs;   /* top-level locations */
    size_t nlocs;
    struct loc_build **all_locs; /* every location of this server, in config order */
    size_t nall_locs;
    const char *file;
    unsigned line;
};

struct ups_server {
    const char *addr_text;
    int weight, max_fails;
    unsigned fail_timeout_ms;
    bool backup, down;
    const char *file;
    unsigned line;
};

struct ups_build {
    struct upstream_group *grp;
    struct ups_server *servers;
    size_t nservers;
    int method;                /* enum lb_method */
    const char *hash_key;
    const char *file;
    unsigned line;
};

struct load {
    struct gen *g;
    struct arena *a;
    struct load_result *res;
    const char *base_dir;
    unsigned ctx;
    const struct conf_node *node;  /* the directive being handled */
    struct loc_conf *http_lc;      /* http-level settings */
    struct srv_build *srv;
    struct srv_build http_tls;     /* http-level ssl_* settings: what servers inherit */
    bool http_ciphers_warned;      /* its ssl_ciphers warnings are given once, not per server */
    struct loc_build *loc;
    struct ups_build *ups;
    struct srv_build **servers;
    size_t nservers;
    struct ups_build **upstreams;
    size_t nupstreams;
    bool failed;
};

typedef int directive_fn(struct load *ld, const struct conf_node *n);

struct directive {
    const char *name;
    unsigned contexts;
    int min_args, max_args;    /* max -1: any */
    bool block;
    directive_fn *set;
    const char *syntax;        /* for docs/config.md and arity errors */
    const char *dflt;
    const char *doc;           /* what it does, and how it differs from nginx */
};

extern const struct directive conf_directives[];
extern const size_t conf_ndirectives;
/* nginx directives wssgate accepts and ignores because ignoring them changes nothing a client
 * can observe (listed in docs/config.md). */
extern const char *const conf_harmless[];
/* nginx directives known not to be implemented: an error that names them. */
extern const char *const conf_unsupported[];

/* Records an error at n's file:line (only the first is kept). Returns -1. */
int load_error(struct load *ld, const struct conf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a warning at n's file:line. */
void load_warn(struct load *ld, const struct conf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void load_warn_at(struct load *ld, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Walks children of a block node in context ctx. */
int load_block(struct load *ld, const struct conf_node *n, unsigned ctx);
/* The variable lookup used when compiling templates of this load. */
int load_var_lookup(void *ctx, struct str name);

/* Builds a `map` block into a var_map (conf/load.c). */
struct var_map *map_build_from_node(struct load *ld, const struct conf_node *n, char *err,
                                    size_t errlen);

/* Lint after the whole configuration is built (conf/lint.c). */
void lint_servers(struct load *ld);

#endif
