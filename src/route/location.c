/* nginx location matching (ngx_http_core_find_location and its static tree, done with sorted
 * arrays), nginx's location nesting rules, and the PCRE2 wrapper shared by route/ and conf/. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "route/location.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- regular expressions ------------------------------------------------------------------ */

struct location_regex {
    pcre2_code *code;
    char *pattern;
    int ncaptures;
};

/* nginx compiles with no options but PCRE2_CASELESS for ~* (ngx_regex_compile); no UTF mode. */
struct location_regex *location_regex_compile(const char *pattern, bool caseless, char *err,
                                              size_t errlen)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     caseless ? PCRE2_CASELESS : 0, &errcode, &erroff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        snprintf(err, errlen, "invalid regex \"%s\": %s at offset %zu", pattern, (char *)msg,
                 (size_t)erroff);
        return NULL;
    }
    struct location_regex *re = calloc(1, sizeof(*re));
    char *copy = strdup(pattern);
    if (re == NULL || copy == NULL) {
        pcre2_code_free(code);
        free(re);
        free(copy);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* JIT is an optimisation only: a machine without it matches with the interpreter. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    uint32_t count = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
    re->code = code;
    re->pattern = copy;
    re->ncaptures = (int)count;
    return re;
}

/* One match_data per call keeps matching thread-safe with shared compiled patterns; ten pairs
 * hold $0..$9 (PCRE returns 0 when a pattern has more groups, and still fills those ten). */
static int regex_match_md(const struct location_regex *re, struct str s, pcre2_match_data *md,
                          struct loc_captures *caps)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)(s.p ? s.p : ""), s.len, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0)
        return -1;
    if (caps == NULL)
        return 1;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    int n = rc == 0 ? 10 : (rc > 10 ? 10 : rc);
    caps->n = rc == 0 ? 10 : rc;
    for (int i = 0; i < 10; i++) {
        bool set = i < n && ov[2 * i] != PCRE2_UNSET;
        caps->start[i] = set ? ov[2 * i] : 0;
        caps->end[i] = set ? ov[2 * i + 1] : 0;
    }
    caps->re = re;
    return 1;
}

int location_regex_match(const struct location_regex *re, struct str subject,
                         struct loc_captures *caps)
{
    pcre2_match_data *md = pcre2_match_data_create(10, NULL);
    if (md == NULL)
        return -1;
    int rc = regex_match_md(re, subject, md, caps);
    pcre2_match_data_free(md);
    return rc;
}

int location_regex_group(const struct location_regex *re, struct str name)
{
    char buf[128];
    if (name.len == 0 || name.len >= sizeof(buf))
        return -1;
    memcpy(buf, name.p, name.len);
    buf[name.len] = '\0';
    int n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)buf);
    return n > 0 ? n : -1;
}

int location_regex_name_count(const struct location_regex *re)
{
    uint32_t count = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    return (int)count;
}

const char *location_regex_name(const struct location_regex *re, int i, int *group)
{
    uint32_t size = 0;
    PCRE2_SPTR table = NULL;
    if (i < 0 || i >= location_regex_name_count(re))
        return NULL;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    PCRE2_SPTR entry = table + (size_t)i * size;
    if (group)
        *group = (entry[0] << 8) | entry[1];
    return (const char *)entry + 2;
}

int location_regex_capture_count(const struct location_regex *re)
{
    return re->ncaptures;
}

void location_regex_free(struct location_regex *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    free(re->pattern);
    free(re);
}

/* ---- location sets ------------------------------------------------------------------------ */

struct loc_array {
    struct location **v;
    size_t n, cap;
};

struct location_set {
    const struct location *owner; /* the enclosing location, NULL at the server level */
    struct loc_array all;         /* config order */
    /* built by location_set_finish */
    struct loc_array exact;     /* sorted by (length, bytes) for bsearch */
    struct loc_array inclusive; /* prefix and ^~, longest first: the first hit is the longest */
    struct loc_array regex;     /* config order, as nginx tests them */
    struct loc_array named;     /* config order: the first of duplicate names wins, as nginx */
};

static int array_push(struct loc_array *a, struct location *l)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct location **v = realloc(a->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = l;
    return 0;
}

struct location_set *location_set_new(void)
{
    return calloc(1, sizeof(struct location_set));
}

struct location_set *location_nested(struct location *parent)
{
    if (parent->nested == NULL) {
        parent->nested = location_set_new();
        if (parent->nested)
            parent->nested->owner = parent;
    }
    return parent->nested;
}

int location_parse_args(const char *arg1, const char *arg2, enum loc_kind *kind,
                        const char **pattern, char *err, size_t errlen)
{
    if (arg2 != NULL) {
        static const struct {
            const char *mod;
            enum loc_kind kind;
        } mods[] = {
            {"=", LOC_EXACT}, {"^~", LOC_PREFIX_STOP}, {"~", LOC_REGEX}, {"~*", LOC_REGEX_ICASE}};
        for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
            if (strcmp(arg1, mods[i].mod) == 0) {
                *kind = mods[i].kind;
                *pattern = arg2;
                return 0;
            }
        }
        snprintf(err, errlen, "invalid location modifier \"%s\"", arg1);
        return -1;
    }
    /* One argument: the modifier may be glued to the name ("=/x", "~*\.gif$"), as in nginx. */
    if (arg1[0] == '=') {
        *kind = LOC_EXACT;
        *pattern = arg1 + 1;
    } else if (arg1[0] == '^' && arg1[1] == '~') {
        *kind = LOC_PREFIX_STOP;
        *pattern = arg1 + 2;
    } else if (arg1[0] == '~' && arg1[1] == '*') {
        *kind = LOC_REGEX_ICASE;
        *pattern = arg1 + 2;
    } else if (arg1[0] == '~') {
        *kind = LOC_REGEX;
        *pattern = arg1 + 1;
    } else {
        *kind = arg1[0] == '@' ? LOC_NAMED : LOC_PREFIX;
        *pattern = arg1;
    }
    return 0;
}

static bool is_regex(enum loc_kind k)
{
    return k == LOC_REGEX || k == LOC_REGEX_ICASE;
}

static bool is_inclusive(enum loc_kind k)
{
    return k == LOC_PREFIX || k == LOC_PREFIX_STOP;
}

/* The checks of ngx_http_core_location, in its order, for a location inside parent. */
static int check_nesting(const struct location *parent, enum loc_kind kind, const char *pattern,
                         char *err, size_t errlen)
{
    if (parent->kind == LOC_EXACT) {
        snprintf(err, errlen, "location \"%s\" cannot be inside the exact location \"%s\"", pattern,
                 parent->pattern);
        return -1;
    }
    if (parent->kind == LOC_NAMED) {
        snprintf(err, errlen, "location \"%s\" cannot be inside the named location \"%s\"", pattern,
                 parent->pattern);
        return -1;
    }
    if (kind == LOC_NAMED) {
        snprintf(err, errlen, "named location \"%s\" can be on the server level only", pattern);
        return -1;
    }
    /* nginx compares with the parent's name whatever the parent is, so a prefix inside a regex
     * location must literally begin with the regex text. */
    if (!is_regex(kind) && strncmp(pattern, parent->pattern, strlen(parent->pattern)) != 0) {
        snprintf(err, errlen, "location \"%s\" is outside location \"%s\"", pattern,
                 parent->pattern);
        return -1;
    }
    return 0;
}

/* nginx joins an exact and a prefix location of the same name but refuses two exact or two
 * inclusive ones (ngx_http_join_exact_locations); regexes and named ones are never compared. */
static int check_duplicate(const struct location_set *set, enum loc_kind kind, const char *pattern,
                           char *err, size_t errlen)
{
    if (kind != LOC_EXACT && !is_inclusive(kind))
        return 0;
    for (size_t i = 0; i < set->all.n; i++) {
        const struct location *l = set->all.v[i];
        bool same_class = (kind == LOC_EXACT) ? l->kind == LOC_EXACT : is_inclusive(l->kind);
        if (same_class && strcmp(l->pattern, pattern) == 0) {
            snprintf(err, errlen, "duplicate location \"%s\"", pattern);
            return -1;
        }
    }
    return 0;
}

struct location *location_add(struct location_set *set, enum loc_kind kind, const char *pattern,
                              void *data, char *err, size_t errlen)
{
    struct location_regex *re = NULL;
    if (is_regex(kind)) {
        re = location_regex_compile(pattern, kind == LOC_REGEX_ICASE, err, errlen);
        if (re == NULL)
            return NULL;
    }
    if ((set->owner && check_nesting(set->owner, kind, pattern, err, errlen) < 0) ||
        check_duplicate(set, kind, pattern, err, errlen) < 0) {
        location_regex_free(re);
        return NULL;
    }
    struct location *l = calloc(1, sizeof(*l));
    char *copy = strdup(pattern);
    if (l == NULL || copy == NULL || array_push(&set->all, l) < 0) {
        free(l);
        free(copy);
        location_regex_free(re);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->kind = kind;
    l->pattern = copy;
    l->regex = re;
    l->data = data;
    return l;
}

static int cmp_exact(const void *a, const void *b)
{
    const struct location *x = *(struct location *const *)a, *y = *(struct location *const *)b;
    size_t lx = strlen(x->pattern), ly = strlen(y->pattern);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return memcmp(x->pattern, y->pattern, lx);
}

static int cmp_longest_first(const void *a, const void *b)
{
    const struct location *x = *(struct location *const *)a, *y = *(struct location *const *)b;
    size_t lx = strlen(x->pattern), ly = strlen(y->pattern);
    return lx == ly ? 0 : (lx > ly ? -1 : 1);
}

int location_set_finish(struct location_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->all.n; i++) {
        struct location *l = set->all.v[i];
        struct loc_array *dst = l->kind == LOC_EXACT    ? &set->exact
                                : is_inclusive(l->kind) ? &set->inclusive
                                : is_regex(l->kind)     ? &set->regex
                                                        : &set->named;
        if (array_push(dst, l) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (l->nested && location_set_finish(l->nested, err, errlen) < 0)
            return -1;
    }
    if (set->exact.n)
        qsort(set->exact.v, set->exact.n, sizeof(set->exact.v[0]), cmp_exact);
    if (set->inclusive.n) /* names are distinct (duplicates refused), so order is total */
        qsort(set->inclusive.v, set->inclusive.n, sizeof(set->inclusive.v[0]), cmp_longest_first);
    return 0;
}

/* ---- matching ----------------------------------------------------------------------------- */

enum { FIND_NONE, FIND_EXACT, FIND_REDIRECT, FIND_INCLUSIVE }; /* DECLINED, OK, DONE, AGAIN */

struct find_ctx {
    struct str uri;
    struct loc_captures *caps;
    pcre2_match_data *md; /* created on the first regex test */
};

static const struct location *find_exact(const struct loc_array *a, const char *p, size_t len)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *name = a->v[mid]->pattern;
        size_t nlen = strlen(name);
        int c = nlen != len ? (nlen < len ? -1 : 1) : memcmp(name, p, len);
        if (c == 0)
            return a->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A location named uri + "/" whose handler asked for nginx's auto redirect; the exact one of an
 * exact/prefix pair of that name is reported, as nginx's tree node prefers node->exact. */
static const struct location *find_redirect(const struct location_set *set, struct str uri)
{
    const struct location *incl = NULL, *exact = NULL;
    for (size_t i = 0; i < set->inclusive.n && !incl; i++) {
        const struct location *l = set->inclusive.v[i];
        if (strlen(l->pattern) == uri.len + 1 && l->pattern[uri.len] == '/' &&
            memcmp(l->pattern, uri.p, uri.len) == 0)
            incl = l;
    }
    for (size_t i = 0; i < set->exact.n && !exact; i++) {
        const struct location *l = set->exact.v[i];
        if (strlen(l->pattern) == uri.len + 1 && l->pattern[uri.len] == '/' &&
            memcmp(l->pattern, uri.p, uri.len) == 0)
            exact = l;
    }
    if (!(incl && incl->auto_redirect) && !(exact && exact->auto_redirect))
        return NULL;
    return exact ? exact : incl;
}

/* ngx_http_core_find_static_location over one level. */
static int find_static(const struct location_set *set, struct str uri, const struct location **out)
{
    const struct location *l = find_exact(&set->exact, uri.p, uri.len);
    if (l) {
        *out = l;
        return FIND_EXACT;
    }
    const struct location *longest = NULL;
    for (size_t i = 0; i < set->inclusive.n && !longest; i++) {
        const char *name = set->inclusive.v[i]->pattern;
        size_t len = strlen(name);
        if (len <= uri.len && memcmp(name, uri.p, len) == 0)
            longest = set->inclusive.v[i];
    }
    /* The tree returns at once when the name is the whole URI; otherwise the node one "/"
     * longer, met on the way down, turns the answer into a redirect. */
    if (!(longest && strlen(longest->pattern) == uri.len)) {
        l = find_redirect(set, uri);
        if (l) {
            *out = l;
            return FIND_REDIRECT;
        }
    }
    if (longest == NULL)
        return FIND_NONE;
    *out = longest;
    return FIND_INCLUSIVE;
}

static int regex_test(struct find_ctx *fx, const struct location *l)
{
    if (fx->md == NULL) {
        fx->md = pcre2_match_data_create(10, NULL);
        if (fx->md == NULL)
            return -1;
    }
    return regex_match_md(l->regex, fx->uri, fx->md, fx->caps);
}

/* ngx_http_core_find_location: *out is replaced only by what matches, so a level that finds
 * nothing leaves the enclosing level's longest prefix in place. */
static int find_level(struct find_ctx *fx, const struct location_set *set,
                      const struct location **out)
{
    bool noregex = false;
    int rc = find_static(set, fx->uri, out);
    if (rc == FIND_INCLUSIVE) {
        noregex = (*out)->kind == LOC_PREFIX_STOP;
        rc = (*out)->nested ? find_level(fx, (*out)->nested, out) : FIND_NONE;
    }
    if (rc == FIND_EXACT || rc == FIND_REDIRECT)
        return rc;
    for (size_t i = 0; !noregex && i < set->regex.n; i++) {
        const struct location *l = set->regex.v[i];
        int m = regex_test(fx, l);
        if (m <= 0) /* a PCRE failure (match limit) counts as no match; nginx answers 500 */
            continue;
        *out = l;
        if (l->nested)
            (void)find_level(fx, l->nested, out);
        return FIND_EXACT;
    }
    return rc;
}

const struct location *location_find(const struct location_set *set, struct str uri,
                                     struct loc_captures *caps, bool *redirect)
{
    struct find_ctx fx = {.uri = uri, .caps = caps};
    const struct location *out = NULL;
    if (caps)
        memset(caps, 0, sizeof(*caps));
    if (fx.uri.p == NULL)
        fx.uri.p = "";
    int rc = find_level(&fx, set, &out);
    if (fx.md)
        pcre2_match_data_free(fx.md);
    if (redirect)
        *redirect = rc == FIND_REDIRECT;
    return out;
}

const struct location *location_find_named(const struct location_set *set, const char *name)
{
    for (size_t i = 0; i < set->named.n; i++)
        if (strcmp(set->named.v[i]->pattern, name) == 0)
            return set->named.v[i];
    return NULL;
}

void location_set_free(struct location_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->all.n; i++) {
        struct location *l = set->all.v[i];
        location_set_free(l->nested);
        location_regex_free(l->regex);
        free((char *)l->pattern);
        free(l);
    }
    free(set->all.v);
    free(set->exact.v);
    free(set->inclusive.v);
    free(set->regex.v);
    free(set->named.v);
    free(set);
}
