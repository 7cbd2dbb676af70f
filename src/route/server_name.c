/* Server name tables with nginx's wildcard rules (ngx_hash.c's add_key/find_combined, done with
 * plain hash maps and a longest-suffix/prefix walk) and virtual server selection over them. */
#include "route/server_name.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small string → value map (open addressing, keys owned) ----------------------------- */

struct smap_entry {
    char *key; /* NULL = empty slot */
    size_t len;
    void *value;
    bool bare; /* leading wildcards: ".x" also matches x itself */
};

struct smap {
    struct smap_entry *v;
    size_t n, cap; /* cap is a power of two, kept at most half full */
};

static uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct smap_entry *smap_slot(const struct smap *m, const char *p, size_t len)
{
    if (m->cap == 0)
        return NULL;
    size_t i = (size_t)hash_bytes(p, len) & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        struct smap_entry *e = &m->v[i];
        if (e->key == NULL || (e->len == len && memcmp(e->key, p, len) == 0))
            return e;
    }
}

static const struct smap_entry *smap_get(const struct smap *m, const char *p, size_t len)
{
    const struct smap_entry *e = smap_slot(m, p, len);
    return e && e->key ? e : NULL;
}

static int smap_grow(struct smap *m)
{
    struct smap old = *m;
    size_t cap = old.cap ? old.cap * 2 : 16;
    m->v = calloc(cap, sizeof(*m->v));
    if (m->v == NULL) {
        *m = old;
        return -1;
    }
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.v[i].key)
            *smap_slot(m, old.v[i].key, old.v[i].len) = old.v[i];
    free(old.v);
    return 0;
}

/* Inserts a key known to be absent. */
static int smap_put(struct smap *m, const char *p, size_t len, void *value, bool bare)
{
    if ((m->n + 1) * 2 > m->cap && smap_grow(m) < 0)
        return -1;
    char *key = malloc(len + 1);
    if (key == NULL)
        return -1;
    memcpy(key, p, len);
    key[len] = '\0';
    *smap_slot(m, p, len) = (struct smap_entry){key, len, value, bare};
    m->n++;
    return 0;
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->v[i].key);
    free(m->v);
}

/* ---- the name table ----------------------------------------------------------------------- */

struct server_names_table {
    struct smap exact;      /* name → value */
    struct smap exact_busy; /* names taken for exact matching, incl. x of ".x" (keys_hash) */
    struct smap head;       /* x of "*.x" / ".x" → value (dns_wc_head) */
    struct smap tail;       /* x of "x.*" → value (dns_wc_tail) */
};

struct server_names_table *server_names_table_new(void)
{
    return calloc(1, sizeof(struct server_names_table));
}

void server_names_table_free(struct server_names_table *t)
{
    if (t == NULL)
        return;
    smap_free(&t->exact);
    smap_free(&t->exact_busy);
    smap_free(&t->head);
    smap_free(&t->tail);
    free(t);
}

static int add_exact(struct server_names_table *t, const char *p, size_t len, void *value)
{
    if (smap_get(&t->exact_busy, p, len))
        return SN_TABLE_CONFLICT;
    if (smap_put(&t->exact_busy, p, len, NULL, false) < 0 ||
        smap_put(&t->exact, p, len, value, false) < 0)
        return SN_TABLE_NOMEM;
    return SN_TABLE_OK;
}

/* ".x": x is reserved for exact matching first, and stays reserved even when the wildcard part
 * then conflicts (ngx_hash_add_key pushes it before its wildcard check). */
static int add_head(struct server_names_table *t, const char *p, size_t len, bool bare, void *value)
{
    if (bare) {
        if (smap_get(&t->exact_busy, p, len))
            return SN_TABLE_CONFLICT;
        if (smap_put(&t->exact_busy, p, len, NULL, false) < 0)
            return SN_TABLE_NOMEM;
    }
    if (smap_get(&t->head, p, len))
        return SN_TABLE_CONFLICT;
    return smap_put(&t->head, p, len, value, bare) < 0 ? SN_TABLE_NOMEM : SN_TABLE_OK;
}

static int add_tail(struct server_names_table *t, const char *p, size_t len, void *value)
{
    if (smap_get(&t->tail, p, len))
        return SN_TABLE_CONFLICT;
    return smap_put(&t->tail, p, len, value, false) < 0 ? SN_TABLE_NOMEM : SN_TABLE_OK;
}

int server_names_table_add(struct server_names_table *t, struct str name, bool wildcards,
                           void *value)
{
    char small[256];
    char *low = name.len < sizeof(small) ? small : malloc(name.len + 1);
    if (low == NULL)
        return SN_TABLE_NOMEM;
    size_t stars = 0;
    bool dots = false;
    for (size_t i = 0; i < name.len; i++) {
        low[i] = str_lower_ascii(name.p[i]);
        stars += name.p[i] == '*';
        dots = dots || (name.p[i] == '.' && i + 1 < name.len && name.p[i + 1] == '.');
    }
    const char *p = low;
    size_t len = name.len;
    int rc;
    if (!wildcards)
        rc = add_exact(t, p, len, value);
    else if (stars > 1 || dots)
        rc = SN_TABLE_INVALID;
    else if (len > 1 && p[0] == '.')
        rc = add_head(t, p + 1, len - 1, true, value);
    else if (len > 2 && p[0] == '*' && p[1] == '.')
        rc = add_head(t, p + 2, len - 2, false, value);
    else if (len > 2 && p[len - 2] == '.' && p[len - 1] == '*')
        rc = add_tail(t, p, len - 2, value);
    else
        rc = stars ? SN_TABLE_INVALID : add_exact(t, p, len, value);
    if (low != small)
        free(low);
    return rc;
}

/* Longest leading wildcard: name itself for ".name", then each suffix after a dot. */
static void *find_head(const struct smap *head, struct str name)
{
    const struct smap_entry *e = smap_get(head, name.p, name.len);
    if (e && e->bare)
        return e->value;
    for (size_t i = 0; i < name.len; i++) {
        if (name.p[i] != '.')
            continue;
        e = smap_get(head, name.p + i + 1, name.len - i - 1);
        if (e)
            return e->value;
    }
    return NULL;
}

/* Longest trailing wildcard "x.*": x must be followed by a dot in name. */
static void *find_tail(const struct smap *tail, struct str name)
{
    for (size_t i = name.len; i-- > 0;) {
        if (name.p[i] != '.')
            continue;
        const struct smap_entry *e = smap_get(tail, name.p, i);
        if (e)
            return e->value;
    }
    return NULL;
}

void *server_names_table_find(const struct server_names_table *t, struct str name)
{
    if (name.p == NULL)
        name.p = "";
    const struct smap_entry *e = smap_get(&t->exact, name.p, name.len);
    if (e)
        return e->value;
    if (name.len == 0)
        return NULL;
    void *v = find_head(&t->head, name);
    return v ? v : find_tail(&t->tail, name);
}

/* ---- server names ------------------------------------------------------------------------- */

struct sn_regex {
    struct location_regex *re;
    void *server;
};

struct server_names {
    struct server_names_table *table;
    struct sn_regex *regex; /* config order */
    size_t nregex, cap;
    void *default_server;
    void *first;
};

struct server_names *server_names_new(void)
{
    struct server_names *sn = calloc(1, sizeof(*sn));
    if (sn == NULL)
        return NULL;
    sn->table = server_names_table_new();
    if (sn->table == NULL) {
        free(sn);
        return NULL;
    }
    return sn;
}

static int add_regex(struct server_names *sn, const char *name, void *server, char *err,
                     size_t errlen)
{
    if (name[1] == '\0') {
        snprintf(err, errlen, "empty regex in server name \"%s\"", name);
        return -1;
    }
    /* hosts are lowercased before matching, so a pattern written with capitals would never
     * match: nginx compiles such a pattern caselessly */
    bool caseless = false;
    for (const char *c = name + 1; *c; c++)
        caseless = caseless || (*c >= 'A' && *c <= 'Z');
    if (sn->nregex == sn->cap) {
        size_t cap = sn->cap ? sn->cap * 2 : 4;
        struct sn_regex *v = realloc(sn->regex, cap * sizeof(*v));
        if (v == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        sn->regex = v;
        sn->cap = cap;
    }
    struct location_regex *re = location_regex_compile(name + 1, caseless, err, errlen);
    if (re == NULL)
        return -1;
    sn->regex[sn->nregex++] = (struct sn_regex){re, server};
    return 0;
}

int server_names_add(struct server_names *sn, const char *name, void *server, char *err,
                     size_t errlen)
{
    size_t len = strlen(name);
    if ((name[0] == '*' && (len < 3 || name[1] != '.')) || (name[0] == '.' && len < 2)) {
        snprintf(err, errlen, "server name \"%s\" is invalid", name);
        return -1;
    }
    int warn = 0;
    if (strchr(name, '/')) {
        snprintf(err, errlen, "server name \"%s\" has suspicious symbols", name);
        warn = 1;
    }
    if (sn->first == NULL)
        sn->first = server;
    if (name[0] == '~')
        return add_regex(sn, name, server, err, errlen) < 0 ? -1 : warn;
    switch (server_names_table_add(sn->table, str_make(name, len), true, server)) {
    case SN_TABLE_OK:
        return warn;
    case SN_TABLE_CONFLICT:
        snprintf(err, errlen, "conflicting server name \"%s\"", name);
        return 1;
    case SN_TABLE_INVALID:
        snprintf(err, errlen, "invalid server name or wildcard \"%s\"", name);
        return -1;
    default:
        snprintf(err, errlen, "out of memory");
        return -1;
    }
}

void server_names_set_default(struct server_names *sn, void *server)
{
    sn->default_server = server;
}

int server_names_finish(struct server_names *sn, char *err, size_t errlen)
{
    (void)sn;
    (void)err;
    (void)errlen;
    return 0;
}

int server_names_normalize_host(struct str host, char *buf, size_t cap, struct str *out)
{
    enum { USUAL, LITERAL, REST } state = USUAL;
    size_t host_len = host.len, dot_pos = host.len;
    for (size_t i = 0; i < host.len; i++) {
        char ch = host.p[i];
        if (ch == '.') {
            if (i > 0 && dot_pos == i - 1)
                return -1; /* ".." */
            dot_pos = i;
        } else if (ch == ':') {
            if (state == USUAL) {
                host_len = i;
                state = REST;
            }
        } else if (ch == '[') {
            if (i == 0)
                state = LITERAL;
        } else if (ch == ']') {
            if (state == LITERAL) {
                host_len = i + 1;
                state = REST;
            }
        } else if (ch == '\0' || ch == '/') {
            return -1;
        }
    }
    if (host_len > 0 && dot_pos == host_len - 1)
        host_len--;
    if (host_len == 0)
        return -1;
    if (host_len > cap)
        return -2;
    for (size_t i = 0; i < host_len; i++)
        buf[i] = str_lower_ascii(host.p[i]);
    *out = str_make(buf, host_len);
    return 0;
}

static void *fallback(const struct server_names *sn)
{
    return sn->default_server ? sn->default_server : sn->first;
}

static void *lookup(const struct server_names *sn, struct str h, struct loc_captures *caps)
{
    void *s = server_names_table_find(sn->table, h);
    if (s)
        return s;
    for (size_t i = 0; h.len && i < sn->nregex; i++)
        if (location_regex_match(sn->regex[i].re, h, caps) == 1)
            return sn->regex[i].server;
    return fallback(sn);
}

void *server_names_match(const struct server_names *sn, struct str host, struct loc_captures *caps)
{
    char small[256];
    struct str h;
    if (caps)
        memset(caps, 0, sizeof(*caps));
    if (host.p == NULL || host.len == 0) /* no Host at all: only the "" name can match */
        return lookup(sn, STR_LIT(""), caps);
    int rc = server_names_normalize_host(host, small, sizeof(small), &h);
    if (rc == -1)
        return fallback(sn);
    if (rc == 0)
        return lookup(sn, h, caps);
    char *big = malloc(host.len);
    if (big == NULL || server_names_normalize_host(host, big, host.len, &h) != 0) {
        free(big);
        return fallback(sn);
    }
    void *s = lookup(sn, h, caps);
    free(big);
    return s;
}

void *server_names_find(const struct server_names *sn, struct str host)
{
    return server_names_match(sn, host, NULL);
}

void server_names_free(struct server_names *sn)
{
    if (sn == NULL)
        return;
    for (size_t i = 0; i < sn->nregex; i++)
        location_regex_free(sn->regex[i].re);
    free(sn->regex);
    server_names_table_free(sn->table);
    free(sn);
}
