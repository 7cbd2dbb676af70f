/* Virtual server selection by Host/SNI among the servers of one listen address, as nginx does:
 * exact name, longest "*.x"/".x", longest "x.*", first regex, else the default server. */
#ifndef WSSGATE_ROUTE_SERVER_NAME_H
#define WSSGATE_ROUTE_SERVER_NAME_H

#include "core/str.h"
#include "route/location.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- the exact + wildcard name table (ngx_hash_add_key, ngx_hash_find_combined) ------------
 * Shared with `map { hostnames; }` (conf/vars). Names are stored lowercased. */

struct server_names_table;

enum {
    SN_TABLE_OK = 0,
    SN_TABLE_CONFLICT = 1, /* nginx's NGX_BUSY: the name (or what it implies) is already taken */
    SN_TABLE_INVALID = -1, /* nginx's NGX_DECLINED: "www.*.com", "a..b", two '*' */
    SN_TABLE_NOMEM = -2,
};

/* A new empty table, owned by the caller (server_names_table_free). NULL when out of memory. */
struct server_names_table *server_names_table_new(void);

/* Adds name → value. With wildcards, "*.example.com", ".example.com" (= example.com and
 * *.example.com) and "www.example.*" are patterns; without, every name is literal. name is
 * copied and lowercased. The first of two conflicting names stays. Returns SN_TABLE_*. Note the
 * nginx quirk kept here: ".example.com" reserves "example.com" even when it then conflicts. */
int server_names_table_add(struct server_names_table *t, struct str name, bool wildcards,
                           void *value);

/* The value for name (already lowercased): exact first; then, when name is not empty, the
 * longest matching leading wildcard, then the longest matching trailing wildcard; else NULL. */
void *server_names_table_find(const struct server_names_table *t, struct str name);

void server_names_table_free(struct server_names_table *t);

/* ---- server names of one listen address -------------------------------------------------- */

struct server_names; /* the names of all servers on one listen address:port */

/* A new empty set, owned by the caller (server_names_free). NULL when out of memory. */
struct server_names *server_names_new(void);

/* Adds one server_name argument for server (the caller's pointer, never dereferenced). name:
 * "example.com", "*.example.com", ".example.com", "www.example.*", "~regex" (compiled
 * case-insensitively when it contains an uppercase letter, as nginx does, since hosts are
 * lowercased), "" (requests without Host; nginx gives a server without server_name this name,
 * so the caller adds "" for such a server), "_" (an ordinary name no real host has). The
 * caller substitutes "$hostname" first. Returns 0; 1 with a warning in err (the config still
 * loads): "conflicting server name \"x\"" (nginx adds " on ADDR, ignored": the first server
 * keeps the name) or "server name \"a/b\" has suspicious symbols" (still added); -1 with an
 * error in err: "server name \"*x\" is invalid", "invalid server name or wildcard \"w.*.com\"",
 * "empty regex in server name \"~\"", a regex error. nginx checks wildcards only when two or
 * more servers share the address; this function always does. */
int server_names_add(struct server_names *sn, const char *name, void *server, char *err,
                     size_t errlen);

/* The server of requests that match no name: the listen's default_server, else the first
 * server on the address (the caller decides and calls this). Without a call, the server of the
 * first server_names_add is the default. */
void server_names_set_default(struct server_names *sn, void *server);

/* Freezes sn; call after the last add. Returns 0 (-1 with err only when out of memory). */
int server_names_finish(struct server_names *sn, char *err, size_t errlen);

/* Checks and normalises a Host header value or SNI name as ngx_http_validate_host does: cuts a
 * ":port" (after "[v6]" for a literal), drops one trailing dot, lowercases into buf. Returns 0
 * with *out = the host in buf, -1 when the host is invalid (empty, "..", '/', NUL: nginx answers
 * 400), -2 when buf is too small. */
int server_names_normalize_host(struct str host, char *buf, size_t cap, struct str *out);

/* The server for host (raw Host value or SNI; normalised here as above; an empty host means
 * "no Host": an HTTP/1.0 request without one, or TLS without SNI). Order as nginx:
 * exact, longest leading wildcard, longest trailing wildcard, first regex in config order
 * (wildcards and regexes are skipped for an empty host), else the default server. An invalid
 * host gets the default server (the caller answers 400 first, see normalize_host).
 * Thread-safe after finish. */
void *server_names_find(const struct server_names *sn, struct str host);

/* As server_names_find, and caps (not NULL) gets the captures of a matching server_name regex
 * (n = 0 otherwise); offsets index host itself (normalisation only lowercases and cuts the
 * tail), so the caller takes them from its own copy of the lowercased host. */
void *server_names_match(const struct server_names *sn, struct str host, struct loc_captures *caps);

/* Frees sn and its regexes; never the server pointers. NULL ok. */
void server_names_free(struct server_names *sn);

#endif
