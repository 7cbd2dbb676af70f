/* nginx `location` matching (exact, longest prefix, ^~, regexes in order, nesting, @names) as
 * ngx_http_core_find_location does; also the PCRE2 wrapper that route/ and conf/ share. */
#ifndef WSSGATE_ROUTE_LOCATION_H
#define WSSGATE_ROUTE_LOCATION_H

#include "core/str.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- regular expressions (PCRE2, compiled as nginx's ngx_regex_compile does) ---------------- */

struct location_regex; /* opaque: compiled pattern, JIT'd when the machine allows */

/* Captures of the last successful match: group i is [start[i], end[i]) in the matched subject.
 * n is PCRE's count: the highest group that took part, plus one (0 = none recorded); groups at
 * or past n, past 9, or that did not take part read as empty (start == end). `re` is the regex
 * that matched, for named groups (location_regex_group). Offsets stay valid only while the
 * subject does. */
struct loc_captures {
    int n;
    size_t start[10], end[10];
    const struct location_regex *re;
};

/* Compiles pattern (NUL-terminated; copied). caseless is `~*`. Returns NULL and writes
 * "invalid regex \"(\": missing closing parenthesis at offset 1" into err on a bad pattern.
 * The result is the caller's, freed with location_regex_free; it is immutable and may be
 * matched from any number of threads at once. */
struct location_regex *location_regex_compile(const char *pattern, bool caseless, char *err,
                                              size_t errlen);

/* Matches subject; fills caps (may be NULL) only on a match. Returns 1 on a match, 0 on none,
 * -1 when PCRE fails (e.g. its match limit; nginx answers 500 then). Thread-safe. */
int location_regex_match(const struct location_regex *re, struct str subject,
                         struct loc_captures *caps);

/* The group number of a named group ((?<user>...)), or -1. name need not be NUL-terminated. */
int location_regex_group(const struct location_regex *re, struct str name);

/* Named groups: how many, and the i-th name (NUL-terminated, owned by re) and its number. nginx
 * turns each into a variable ($user); the config layer registers them through these. */
int location_regex_name_count(const struct location_regex *re);
const char *location_regex_name(const struct location_regex *re, int i, int *group);

/* The number of capture groups in the pattern ((a)(b) → 2). */
int location_regex_capture_count(const struct location_regex *re);


void location_regex_free(struct location_regex *re);

/* ---- locations --------------------------------------------------------------------------- */

enum loc_kind {
    LOC_PREFIX,      /* location /path */
    LOC_PREFIX_STOP, /* location ^~ /path: when it is the longest prefix, regexes are skipped */
    LOC_EXACT,       /* location = /path */
    LOC_REGEX,       /* location ~ re */
    LOC_REGEX_ICASE, /* location ~* re */
    LOC_NAMED,       /* location @name: reached only by name (try_files, error_page) */
};

struct location_set; /* the locations of one server, or of one enclosing location */

struct location {
    enum loc_kind kind;
    const char *pattern;          /* path, regex text or "@name"; owned by the location */
    struct location_regex *regex; /* for LOC_REGEX*, else NULL; owned by the location */
    struct location_set *nested;  /* locations inside this one; NULL until the first is added */
    /* Set by the caller before location_set_finish when a proxy_pass/fastcgi_pass-like handler
     * lives here and the name ends in "/" (nginx modules set clcf->auto_redirect that way):
     * then "/name" without the slash is answered by a 301 to "/name/" (see location_find). */
    bool auto_redirect;
    void *data; /* the caller's per-location config; never touched or freed here */
};

/* A new, empty set. The caller owns it (location_set_free). NULL when out of memory. */
struct location_set *location_set_new(void);

/* Parses nginx's location arguments: (mod, name) for "location = /x", or (arg, NULL) for
 * "location =/x" / "location /x" / "location ~\.php$" / "location @x". *pattern points into
 * the argument. Returns 0, or -1 with "invalid location modifier \"~~\"" in err. */
int location_parse_args(const char *arg1, const char *arg2, enum loc_kind *kind,
                        const char **pattern, char *err, size_t errlen);

/* Adds a location in config order and returns it (owned by the set), or NULL with err filled:
 * "duplicate location \"/x\"", a regex error, or one of nginx's nesting errors. For a
 * server-level location pass the server's set; for a nested one pass location_nested(parent).
 * pattern is copied; data is stored as is. Nesting rules (ngx_http_core_location):
 *   - nothing inside an exact or a named location;
 *   - named locations only at the server level;
 *   - a nested non-regex location must begin with the parent's name, whatever the parent is
 *     ("location \"/b\" is outside location \"/a\""). */
struct location *location_add(struct location_set *set, enum loc_kind kind, const char *pattern,
                              void *data, char *err, size_t errlen);

/* The set of locations nested in parent, created (empty) on first use; owned by parent.
 * NULL only when out of memory. */
struct location_set *location_nested(struct location *parent);

/* Freezes set and every nested set: indexes prefixes. Call once after all adds, before any find.
 * Returns 0 (-1 with err only when out of memory). */
int location_set_finish(struct location_set *set, char *err, size_t errlen);

/* Matches a decoded, normalized URI path exactly as nginx does:
 *   1. at this level: an exact location equal to uri wins outright; else the longest prefix
 *      (LOC_PREFIX or ^~) — or, when a location named uri + "/" has auto_redirect, that one,
 *      reported through *redirect (nginx's NGX_DONE: answer 301 to its name, keeping ?args);
 *   2. the longest prefix's nested locations are searched the same way, recursively;
 *   3. unless the longest prefix of this level is ^~, this level's regexes are tried in config
 *      order (after the nested ones, which ran in step 2); the first match wins, and its own
 *      nested locations are searched the same way (a match there replaces it);
 *   4. else the longest prefix found on the way; NULL when nothing matched (nginx then uses the
 *      server's own configuration).
 * caps (may be NULL) gets the captures of the last successful regex match (n = 0 if none).
 * redirect (may be NULL) is set true only in the auto-redirect case. A regex that PCRE cannot
 * finish (its match limit) counts as not matching (nginx answers 500). Thread-safe after finish. */
const struct location *location_find(const struct location_set *set, struct str uri,
                                     struct loc_captures *caps, bool *redirect);

/* The server-level named location "@fallback", or NULL. */
const struct location *location_find_named(const struct location_set *set, const char *name);

/* Frees set, its locations, their nested sets and regexes; never the data pointers. NULL ok. */
void location_set_free(struct location_set *set);

#endif
