/* Values with $variables ("$scheme://$host$request_uri"), compiled once and evaluated per
 * request, and nginx's `map` over them; parsed as ngx_http_script_compile does. */
#ifndef WSSGATE_CONF_VARS_H
#define WSSGATE_CONF_VARS_H

#include "core/str.h"

#include <stdbool.h>
#include <stddef.h>

/* $1..$9 (regex captures) get the ids VAR_CAPTURE_BASE + 1..9; lookup ids must stay below. */
#define VAR_CAPTURE_BASE (1 << 24)

/* Resolves a variable name at compile time: its id (>= 0, < VAR_CAPTURE_BASE) or -1 when
 * unknown. name is lowercased (nginx variable names are case-insensitive) and valid only
 * during the call. */
typedef int var_lookup_fn(void *ctx, struct str name);

/* Returns the value of variable id for the request in ctx; STR_NULL (not found) renders as "".
 * The bytes must stay valid until the var_eval/var_map_eval call returns. It may be called more
 * than once for one variable during one evaluation and must answer the same each time. */
typedef struct str var_get_fn(void *ctx, int id);

struct var_template; /* immutable after compile: share it between threads freely */

/* Compiles text (NUL-terminated, copied). "$name" takes the longest run of [A-Za-z0-9_];
 * "${name}" may be followed by any character; "$1".."$9" are captures (one digit: "$10" is
 * $1 then "0"). There is no escape for '$'. Returns the template (the caller's, var_free) or
 * NULL with err: "invalid variable name in \"...\"" (a '$' at the end or before a non-name
 * character, "${}"), "the closing bracket in \"name\" variable is missing",
 * "unknown variable \"$foo\"". */
struct var_template *var_compile(const char *text, var_lookup_fn *lookup, void *ctx, char *err,
                                 size_t errlen);

/* True when t has no variables; its value is then var_constant(t). */
bool var_is_constant(const struct var_template *t);
struct str var_constant(const struct var_template *t); /* the literal text, if constant */

/* The length var_eval would produce (calls get for every variable). */
size_t var_eval_len(const struct var_template *t, var_get_fn *get, void *ctx);

/* Writes t's value into out (not NUL-terminated) and returns its length, or -1 if it does not
 * fit in cap (out then holds a truncated prefix). get may be NULL for a constant template. */
long var_eval(const struct var_template *t, var_get_fn *get, void *ctx, char *out, size_t cap);

void var_free(struct var_template *t); /* NULL ok */

/* ---- map ------------------------------------------------------------------------------------
 * map SOURCE $name { hostnames; default VALUE; KEY VALUE; ~REGEX VALUE; ~*REGEX VALUE; }
 * Matching as ngx_http_map_find: the source value lowercased against the exact keys
 * (case-insensitive), then (with hostnames) the longest "*.x"/".x" and "x.*" keys, then, for a
 * non-empty source only, the regexes in config order on the source as is; else the default
 * (or "" without one). With hostnames a trailing dot of the source is dropped first. */

struct var_map;

/* A new map over source (a compiled SOURCE, taken over: freed with the map). NULL on ENOMEM. */
struct var_map *var_map_new(struct var_template *source);

/* The `hostnames` line: keys added after it may be wildcards, and the source loses a trailing
 * dot when evaluated. */
void var_map_set_hostnames(struct var_map *m);

/* One `KEY VALUE;` line in config order. key: "default"; "~regex" / "~*regex" (caseless);
 * "\\default" or "\\~x" to use such text literally (one leading backslash is dropped); any other
 * string is an exact key ("" included). value is compiled by the caller (it may use $1.. of a
 * regex key's captures) and taken over, even on error. Returns 0 or -1 with err:
 * "duplicate default map parameter", "conflicting parameter \"k\"",
 * "invalid hostname or wildcard \"k\"", or a regex error. */
int var_map_add(struct var_map *m, const char *key, struct var_template *value, char *err,
                size_t errlen);

/* Evaluates the map as var_eval does a template. A regex key's captures ($1..$9 in its value)
 * are taken from the source value; other values see the caller's captures through get. Unlike
 * nginx, a map's captures do not replace the request's captures for later directives. */
long var_map_eval(const struct var_map *m, var_get_fn *get, void *ctx, char *out, size_t cap);

void var_map_free(struct var_map *m); /* frees the templates it took over; NULL ok */

#endif
