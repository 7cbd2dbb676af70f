/* Compiled value templates (ngx_http_script_compile's parsing of $name, ${name}, $1..$9) and
 * `map` (ngx_http_map_find), on route/'s PCRE2 wrapper and nginx-style name table. */
#include "conf/vars.h"

#include "route/location.h"
#include "route/server_name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- templates ---------------------------------------------------------------------------- */

struct part {
    int id;          /* -1: literal text */
    size_t off, len; /* literal: a slice of the template's text */
};

struct var_template {
    char *text;
    struct part *parts;
    size_t nparts, cap;
    bool constant;
};

static int push_part(struct var_template *t, int id, size_t off, size_t len)
{
    if (t->nparts == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct part *v = realloc(t->parts, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        t->parts = v;
        t->cap = cap;
    }
    t->parts[t->nparts++] = (struct part){id, off, len};
    if (id >= 0)
        t->constant = false;
    return 0;
}

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Resolves the name at s[start, end) through lookup; lowercases it first, as nginx does. */
static int resolve(const char *s, size_t start, size_t end, var_lookup_fn *lookup, void *ctx,
                   char *err, size_t errlen)
{
    size_t len = end - start;
    char small[128];
    char *low = len < sizeof(small) ? small : malloc(len + 1);
    if (low == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        low[i] = str_lower_ascii(s[start + i]);
    low[len] = '\0';
    int id = lookup ? lookup(ctx, str_make(low, len)) : -1;
    if (id < 0 || id >= VAR_CAPTURE_BASE)
        snprintf(err, errlen, "unknown variable \"$%.*s\"", (int)len, s + start);
    if (low != small)
        free(low);
    return id < 0 || id >= VAR_CAPTURE_BASE ? -1 : id;
}

/* One "$..." at s[*i] (the '$'): appends its part and moves *i past it. */
static int compile_var(struct var_template *t, size_t *i, var_lookup_fn *lookup, void *ctx,
                       char *err, size_t errlen)
{
    const char *s = t->text;
    size_t len = strlen(s), p = *i + 1;
    if (p == len)
        goto invalid;
    if (s[p] >= '1' && s[p] <= '9') {
        *i = p + 1;
        return push_part(t, VAR_CAPTURE_BASE + (s[p] - '0'), 0, 0);
    }
    bool bracket = s[p] == '{';
    if (bracket && ++p == len)
        goto invalid;
    size_t start = p, end;
    for (; p < len && is_name_char(s[p]); p++)
        ;
    end = p;
    if (bracket) {
        if (p == len || s[p] != '}') {
            snprintf(err, errlen, "the closing bracket in \"%.*s\" variable is missing",
                     (int)(end - start), s + start);
            return -1;
        }
        p++;
    }
    if (end == start)
        goto invalid;
    int id = resolve(s, start, end, lookup, ctx, err, errlen);
    if (id < 0)
        return -1;
    *i = p;
    return push_part(t, id, 0, 0);
invalid:
    snprintf(err, errlen, "invalid variable name in \"%s\"", s);
    return -1;
}

struct var_template *var_compile(const char *text, var_lookup_fn *lookup, void *ctx, char *err,
                                 size_t errlen)
{
    struct var_template *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->text = strdup(text)) == NULL) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->constant = true;
    size_t len = strlen(text), i = 0;
    while (i < len) {
        int rc;
        if (text[i] == '$') {
            rc = compile_var(t, &i, lookup, ctx, err, errlen);
        } else {
            size_t start = i;
            while (i < len && text[i] != '$')
                i++;
            rc = push_part(t, -1, start, i - start);
            if (rc < 0)
                snprintf(err, errlen, "out of memory");
        }
        if (rc < 0) {
            var_free(t);
            return NULL;
        }
    }
    return t;
}

bool var_is_constant(const struct var_template *t)
{
    return t->constant;
}

struct str var_constant(const struct var_template *t)
{
    return str_from_cstr(t->text);
}

static struct str part_value(const struct var_template *t, const struct part *p, var_get_fn *get,
                             void *ctx)
{
    if (p->id < 0)
        return str_make(t->text + p->off, p->len);
    struct str v = get ? get(ctx, p->id) : STR_NULL;
    return v.p ? v : STR_LIT("");
}

size_t var_eval_len(const struct var_template *t, var_get_fn *get, void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nparts; i++)
        n += part_value(t, &t->parts[i], get, ctx).len;
    return n;
}

long var_eval(const struct var_template *t, var_get_fn *get, void *ctx, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nparts; i++) {
        struct str v = part_value(t, &t->parts[i], get, ctx);
        if (v.len > cap - n) {
            if (cap > n)
                memcpy(out + n, v.p, cap - n);
            return -1;
        }
        if (v.len)
            memcpy(out + n, v.p, v.len);
        n += v.len;
    }
    return (long)n;
}

void var_free(struct var_template *t)
{
    if (t == NULL)
        return;
    free(t->text);
    free(t->parts);
    free(t);
}

/* ---- map ---------------------------------------------------------------------------------- */

struct map_regex {
    struct location_regex *re;
    struct var_template *value;
};

struct var_map {
    struct var_template *source;
    struct server_names_table *table; /* exact keys (and wildcards with hostnames) → value */
    struct map_regex *regex;          /* config order */
    size_t nregex, rcap;
    struct var_template **owned; /* every value taken over */
    size_t nowned, ocap;
    struct var_template *def;
    bool hostnames;
};

struct var_map *var_map_new(struct var_template *source)
{
    struct var_map *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->table = server_names_table_new()) == NULL) {
        free(m);
        var_free(source);
        return NULL;
    }
    m->source = source;
    return m;
}

void var_map_set_hostnames(struct var_map *m)
{
    m->hostnames = true;
}

static int own(struct var_map *m, struct var_template *value)
{
    if (m->nowned == m->ocap) {
        size_t cap = m->ocap ? m->ocap * 2 : 8;
        struct var_template **v = realloc(m->owned, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        m->owned = v;
        m->ocap = cap;
    }
    m->owned[m->nowned++] = value;
    return 0;
}

static int add_regex(struct var_map *m, const char *key, struct var_template *value, char *err,
                     size_t errlen)
{
    bool caseless = key[1] == '*';
    if (m->nregex == m->rcap) {
        size_t cap = m->rcap ? m->rcap * 2 : 4;
        struct map_regex *v = realloc(m->regex, cap * sizeof(*v));
        if (v == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->regex = v;
        m->rcap = cap;
    }
    struct location_regex *re = location_regex_compile(key + 1 + caseless, caseless, err, errlen);
    if (re == NULL)
        return -1;
    m->regex[m->nregex++] = (struct map_regex){re, value};
    return 0;
}

int var_map_add(struct var_map *m, const char *key, struct var_template *value, char *err,
                size_t errlen)
{
    if (own(m, value) < 0) {
        var_free(value);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strcmp(key, "default") == 0) {
        if (m->def) {
            snprintf(err, errlen, "duplicate default map parameter");
            return -1;
        }
        m->def = value;
        return 0;
    }
    if (key[0] == '~')
        return add_regex(m, key, value, err, errlen);
    if (key[0] == '\\')
        key++;
    switch (server_names_table_add(m->table, str_from_cstr(key), m->hostnames, value)) {
    case SN_TABLE_OK:
        return 0;
    case SN_TABLE_CONFLICT:
        snprintf(err, errlen, "conflicting parameter \"%s\"", key);
        return -1;
    case SN_TABLE_INVALID:
        snprintf(err, errlen, "invalid hostname or wildcard \"%s\"", key);
        return -1;
    default:
        snprintf(err, errlen, "out of memory");
        return -1;
    }
}

/* Serves a matching regex key's captures from the source value, the rest from the caller. */
struct capture_ctx {
    var_get_fn *get;
    void *ctx;
    const struct loc_captures *caps;
    struct str subject;
};

static struct str capture_get(void *p, int id)
{
    const struct capture_ctx *c = p;
    if (id > VAR_CAPTURE_BASE && id <= VAR_CAPTURE_BASE + 9) {
        int n = id - VAR_CAPTURE_BASE;
        if (n >= c->caps->n)
            return STR_LIT("");
        return str_make(c->subject.p + c->caps->start[n], c->caps->end[n] - c->caps->start[n]);
    }
    return c->get ? c->get(c->ctx, id) : STR_NULL;
}

/* Finds the value for the source value src (low is its lowercased copy). */
static const struct var_template *map_find(const struct var_map *m, struct str src, struct str low,
                                           struct loc_captures *caps, bool *captured)
{
    const struct var_template *v = server_names_table_find(m->table, low);
    if (v)
        return v;
    for (size_t i = 0; src.len && i < m->nregex; i++) {
        if (location_regex_match(m->regex[i].re, src, caps) == 1) {
            *captured = true;
            return m->regex[i].value;
        }
    }
    return m->def;
}

long var_map_eval(const struct var_map *m, var_get_fn *get, void *ctx, char *out, size_t cap)
{
    char small[512];
    size_t n = var_eval_len(m->source, get, ctx);
    char *buf = 2 * n <= sizeof(small) ? small : malloc(2 * n);
    if (buf == NULL)
        return -1;
    long sl = var_eval(m->source, get, ctx, buf, n);
    struct str src = str_make(buf, sl < 0 ? 0 : (size_t)sl);
    if (m->hostnames && src.len && src.p[src.len - 1] == '.')
        src.len--;
    char *low = buf + n;
    for (size_t i = 0; i < src.len; i++)
        low[i] = str_lower_ascii(src.p[i]);
    struct loc_captures caps;
    bool captured = false;
    const struct var_template *v = map_find(m, src, str_make(low, src.len), &caps, &captured);
    long rc = 0;
    if (v && captured) {
        struct capture_ctx cc = {get, ctx, &caps, src};
        rc = var_eval(v, capture_get, &cc, out, cap);
    } else if (v) {
        rc = var_eval(v, get, ctx, out, cap);
    }
    if (buf != small)
        free(buf);
    return rc;
}

void var_map_free(struct var_map *m)
{
    if (m == NULL)
        return;
    var_free(m->source);
    server_names_table_free(m->table);
    for (size_t i = 0; i < m->nregex; i++)
        location_regex_free(m->regex[i].re);
    free(m->regex);
    for (size_t i = 0; i < m->nowned; i++)
        var_free(m->owned[i]);
    free(m->owned);
    free(m);
}
