/* nginx-dialect configuration → generic tree: the statement grammar over conf_lex's tokens,
 * include expansion (glob, depth, cycles), the arena that owns the tree, and the printer. */
#include "conf/conf_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SIZE (64 * 1024)

/* ---- the arena: every byte of a tree, freed at once ----------------------------------------- */

struct conf_chunk {
    struct conf_chunk *next;
    size_t cap, used;
    max_align_t data[];
};

static void *arena_alloc(struct conf_tree *t, size_t n)
{
    const size_t a = alignof(max_align_t);
    if (n > SIZE_MAX / 2)
        return NULL;
    n = n ? (n + a - 1) / a * a : a;
    struct conf_chunk *c = t->chunks;
    if (c && c->cap - c->used >= n) {
        void *r = (char *)c->data + c->used;
        c->used += n;
        return r;
    }
    size_t cap = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
    struct conf_chunk *nc = malloc(sizeof(*nc) + cap);
    if (!nc)
        return NULL;
    nc->cap = cap;
    nc->used = n;
    if (c && cap == n) { /* a big block of its own: keep filling the current chunk */
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        t->chunks = nc;
    }
    return nc->data;
}

static char *arena_strdup(struct conf_tree *t, const char *s)
{
    size_t n = strlen(s);
    char *d = arena_alloc(t, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

void conf_tree_free(struct conf_tree *t)
{
    if (!t)
        return;
    struct conf_chunk *c = t->chunks;
    while (c) {
        struct conf_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(t);
}

/* ---- parser state and errors ---------------------------------------------------------------- */

/* A file being parsed: the main one, then each include inside it (for depth and cycles). */
struct chain_link {
    const char *file;
    dev_t dev;
    ino_t ino;
    bool on_disk; /* conf_parse_string's text has no inode */
};

struct parser {
    struct conf_tree *t;
    struct conf_error *err;
    const char *base_dir; /* NULL: include is refused */
    struct chain_link chain[CONF_MAX_INCLUDE_DEPTH + 1];
    size_t nchain;
    unsigned depth; /* blocks open */
    size_t total;   /* bytes read from all files */
    size_t ndirectives;
    struct conf_token *words; /* the directive being read; point into the current file */
    size_t nwords, cap;
    const char **files; /* interned file names (in the arena) */
    size_t nfiles;
};

struct vec {
    struct conf_node *v;
    size_t len, cap;
};

__attribute__((format(printf, 4, 5))) static int fail(struct parser *p, const char *file,
                                                      unsigned line, const char *fmt, ...)
{
    int n = line ? snprintf(p->err->msg, sizeof(p->err->msg), "%s:%u: ", file, line)
                 : snprintf(p->err->msg, sizeof(p->err->msg), "%s: ", file);
    if (n < 0 || (size_t)n >= sizeof(p->err->msg))
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg + n, sizeof(p->err->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_oom(struct parser *p, const char *file, unsigned line)
{
    return fail(p, file, line, "out of memory while reading the configuration; free some memory");
}

/* At most 40 bytes of s for a message, control bytes as "?". */
static const char *clip(char out[48], const char *s, size_t len)
{
    size_t n = len > 40 ? 40 : len;
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    memcpy(out + n, len > 40 ? "..." : "", len > 40 ? 4 : 1);
    return out;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* The same file name string for every node of a file, allocated once. */
static const char *intern(struct parser *p, const char *name)
{
    for (size_t i = 0; i < p->nfiles; i++)
        if (strcmp(p->files[i], name) == 0)
            return p->files[i];
    const char **grown = realloc(p->files, (p->nfiles + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    p->files = grown;
    char *s = arena_strdup(p->t, name);
    if (s)
        p->files[p->nfiles++] = s;
    return s;
}

/* ---- directives --------------------------------------------------------------------------- */

static char *decode_word(struct parser *p, const struct conf_token *w, size_t *len)
{
    char *s = arena_alloc(p->t, w->len + 1);
    if (!s)
        return NULL;
    *len = conf_lex_unescape(s, w->p, w->len);
    s[*len] = '\0';
    return s;
}

static int push_word(struct parser *p, const struct conf_lex *lx, const struct conf_token *w)
{
    char b[48];
    if (p->nwords == CONF_MAX_ARGS + 1)
        return fail(p, lx->name, p->words[0].line,
                    "directive \"%s\" has more than %d arguments; split it into several "
                    "directives",
                    clip(b, p->words[0].p, p->words[0].len), CONF_MAX_ARGS);
    if (p->nwords == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct conf_token *grown = realloc(p->words, cap * sizeof(*grown));
        if (!grown)
            return fail_oom(p, lx->name, w->line);
        p->words = grown;
        p->cap = cap;
    }
    p->words[p->nwords++] = *w;
    return 0;
}

/* The directive in p->words as a node (strings decoded into the arena); empties p->words. */
static int build_node(struct parser *p, const char *file, struct conf_node *n)
{
    size_t len;
    memset(n, 0, sizeof(*n));
    n->file = file;
    n->line = p->words[0].line;
    n->nargs = p->nwords - 1;
    n->name = decode_word(p, &p->words[0], &len);
    if (n->nargs)
        n->args = arena_alloc(p->t, n->nargs * sizeof(*n->args));
    if (!n->name || (n->nargs && !n->args))
        return fail_oom(p, file, n->line);
    for (size_t i = 0; i < n->nargs; i++) {
        n->args[i].quoted = p->words[i + 1].quoted;
        n->args[i].s = decode_word(p, &p->words[i + 1], &n->args[i].len);
        if (!n->args[i].s)
            return fail_oom(p, file, n->line);
    }
    p->nwords = 0;
    return 0;
}

static int vec_push(struct parser *p, struct vec *v, const struct conf_node *n)
{
    if (++p->ndirectives > CONF_MAX_DIRECTIVES)
        return fail(p, n->file, n->line,
                    "more than %d directives in the configuration; it is probably generated "
                    "wrong, or includes the same files many times",
                    CONF_MAX_DIRECTIVES);
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct conf_node *grown = realloc(v->v, cap * sizeof(*grown));
        if (!grown)
            return fail_oom(p, n->file, n->line);
        v->v = grown;
        v->cap = cap;
    }
    v->v[v->len++] = *n;
    return 0;
}

/* Moves a block's collected children into the arena. */
static int settle_children(struct parser *p, const struct vec *v, struct conf_node *n)
{
    if (v->len == 0)
        return 0;
    n->children = arena_alloc(p->t, v->len * sizeof(*n->children));
    if (!n->children)
        return fail_oom(p, n->file, n->line);
    memcpy(n->children, v->v, v->len * sizeof(*n->children));
    n->nchildren = v->len;
    return 0;
}

static int parse_items(struct parser *p, struct conf_lex *lx, struct vec *out,
                       const struct conf_node *open);
static int include(struct parser *p, const struct conf_node *inc, struct vec *out);

static int on_semi(struct parser *p, struct conf_lex *lx, const struct conf_token *tok,
                   struct vec *out)
{
    struct conf_node n;
    if (p->nwords == 0)
        return fail(p, lx->name, tok->line,
                    "unexpected \";\": there is no directive before it; remove the extra \";\"");
    if (build_node(p, lx->name, &n) < 0)
        return -1;
    if (strcmp(n.name, "include") == 0)
        return include(p, &n, out);
    return vec_push(p, out, &n);
}

static int on_open(struct parser *p, struct conf_lex *lx, const struct conf_token *tok,
                   struct vec *out)
{
    struct conf_node n;
    char b[48];
    if (p->nwords == 0)
        return fail(p, lx->name, tok->line,
                    "unexpected \"{\": a block needs a directive name before it (as in "
                    "\"server {\"); add the name or remove the \"{\"");
    if (p->depth >= CONF_MAX_DEPTH)
        return fail(p, lx->name, p->words[0].line,
                    "block \"%s\" is nested more than %d blocks deep; flatten the configuration",
                    clip(b, p->words[0].p, p->words[0].len), CONF_MAX_DEPTH);
    if (build_node(p, lx->name, &n) < 0)
        return -1;
    if (strcmp(n.name, "include") == 0)
        return fail(p, n.file, n.line, "\"include\" cannot open a block; write \"include FILE;\"");
    n.is_block = true;
    struct vec sub = {NULL, 0, 0};
    p->depth++;
    int r = parse_items(p, lx, &sub, &n);
    p->depth--;
    if (r == 0)
        r = settle_children(p, &sub, &n);
    free(sub.v);
    return r < 0 ? -1 : vec_push(p, out, &n);
}

/* "}": 1 when it closes the open block, -1 (error) otherwise. */
static int on_close(struct parser *p, struct conf_lex *lx, const struct conf_token *tok,
                    const struct conf_node *open)
{
    char b[48];
    if (p->nwords)
        return fail(p, lx->name, tok->line,
                    "unexpected \"}\": directive \"%s\" (line %u) is not terminated; end it "
                    "with \";\"",
                    clip(b, p->words[0].p, p->words[0].len), p->words[0].line);
    if (open)
        return 1;
    if (p->nchain > 1)
        return fail(p, lx->name, tok->line,
                    "unexpected \"}\": no block is open in this file (a block must be closed "
                    "in the file that opened it); remove it");
    return fail(p, lx->name, tok->line,
                "unexpected \"}\": no block is open here; remove it, or add the \"{\" it was "
                "meant to close");
}

static int on_eof(struct parser *p, struct conf_lex *lx, const struct conf_token *tok,
                  const struct conf_node *open)
{
    char b[48], b2[48];
    if (p->nwords)
        return fail(p, lx->name, tok->line,
                    "unexpected end of file, expecting \";\" or \"}\"; directive \"%s\" (line "
                    "%u) is not terminated: end it with \";\"",
                    clip(b, p->words[0].p, p->words[0].len), p->words[0].line);
    if (open) /* the innermost open block; the missing "}" may belong to one inside it */
        return fail(p, lx->name, tok->line,
                    "unexpected end of file, expecting \"}\"; the \"%s%s%s\" block opened on "
                    "line %u is not closed: add the missing \"}\"",
                    clip(b, open->name, strlen(open->name)), open->nargs ? " " : "",
                    open->nargs ? clip(b2, open->args[0].s, open->args[0].len) : "", open->line);
    return 1;
}

/* Directives up to the "}" closing open, or to the end of the file when open is NULL.
 * Returns 0 when that end was reached as expected, -1 on error. */
static int parse_items(struct parser *p, struct conf_lex *lx, struct vec *out,
                       const struct conf_node *open)
{
    struct conf_token tok;
    int r = 0;
    while (r == 0) {
        switch (conf_lex_next(lx, &tok, p->err)) {
        case CONF_TOK_WORD:
            r = push_word(p, lx, &tok);
            break;
        case CONF_TOK_SEMI:
            r = on_semi(p, lx, &tok, out);
            break;
        case CONF_TOK_OPEN:
            r = on_open(p, lx, &tok, out);
            break;
        case CONF_TOK_CLOSE:
            r = on_close(p, lx, &tok, open);
            break;
        case CONF_TOK_EOF:
            r = on_eof(p, lx, &tok, open);
            break;
        case CONF_TOK_ERROR:
        default:
            r = -1;
        }
    }
    return r < 0 ? -1 : 0;
}

/* Parses one file's text into out (the block, or top level, where it is included). */
static int parse_text(struct parser *p, const char *buf, size_t len, const char *name,
                      struct vec *out)
{
    struct conf_lex lx;
    conf_lex_init(&lx, buf, len, name);
    return parse_items(p, &lx, out, NULL);
}

/* ---- include ------------------------------------------------------------------------------ */

/* Reads a whole regular file. Returns 0, or an errno value: EISDIR / ENODEV for a directory /
 * anything not a regular file, EFBIG past CONF_MAX_FILE (*len then holds its size). */
static int read_whole(const char *path, char **out, size_t *len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0)
        return errno;
    int e = 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (fstat(fd, st) < 0)
        e = errno;
    else if (!S_ISREG(st->st_mode))
        e = S_ISDIR(st->st_mode) ? EISDIR : ENODEV;
    else if (st->st_size > (off_t)CONF_MAX_FILE)
        e = EFBIG;
    cap = e ? 0 : (size_t)st->st_size + 1; /* +1: a file that grew is noticed */
    while (!e) {
        if (n == cap) {
            cap = cap * 2 > CONF_MAX_FILE + 1 ? CONF_MAX_FILE + 1 : cap * 2;
            if (n == cap) {
                e = EFBIG;
                break;
            }
        }
        char *grown = realloc(buf, cap);
        if (!grown) {
            e = ENOMEM;
            break;
        }
        buf = grown;
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno != EINTR)
            e = errno;
        if (r == 0)
            break;
        n += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    if (e) {
        free(buf);
        *len = e == EFBIG ? (size_t)st->st_size : 0;
        return e;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* base_dir + "/" + pattern for a relative pattern; for glob (escape) the base's own wildcard
 * characters are escaped so that only the pattern's are live. malloc'd. */
static char *join_path(const char *base, const char *pattern, bool escape)
{
    if (pattern[0] == '/' || base[0] == '\0')
        return strdup(pattern);
    size_t bl = strlen(base), pl = strlen(pattern);
    char *s = malloc(bl * 2 + 1 + pl + 1);
    if (!s)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < bl; i++) {
        if (escape && strchr("*?[\\", base[i]))
            s[n++] = '\\';
        s[n++] = base[i];
    }
    if (base[bl - 1] != '/')
        s[n++] = '/';
    memcpy(s + n, pattern, pl + 1);
    return s;
}

/* "nginx.conf > a.conf > b.conf" for messages (base names; bounded). */
static const char *chain_text(const struct parser *p, const char *last, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i <= p->nchain; i++) {
        const char *name = base_name(i < p->nchain ? p->chain[i].file : last);
        int w = snprintf(buf + n, size - n, "%s%s", i ? " > " : "", name);
        if (w < 0 || (size_t)w >= size - n) {
            if (size > 4)
                memcpy(buf + size - 4, "...", 4);
            break;
        }
        n += (size_t)w;
    }
    return buf;
}

static int include_error(struct parser *p, const struct conf_node *inc, const char *path, int e,
                         size_t size)
{
    const char *pat = inc->args[0].s;
    if (e == ENOENT)
        return fail(p, inc->file, inc->line,
                    "include \"%s\": No such file (looked for %s); fix the path (relative paths "
                    "start from %s)",
                    pat, path, p->base_dir[0] ? p->base_dir : "the working directory");
    if (e == EISDIR || e == ENODEV)
        return fail(p, inc->file, inc->line,
                    "include \"%s\": %s is not a regular file; include files (for a directory "
                    "use a pattern such as dir/*.conf)",
                    pat, path);
    if (e == EFBIG)
        return fail(p, inc->file, inc->line,
                    "include \"%s\": %s is %zu bytes, over the %u MiB limit; split it", pat, path,
                    size, CONF_MAX_FILE >> 20);
    return fail(p, inc->file, inc->line, "include \"%s\": cannot read %s: %s; check the file", pat,
                path, strerror(e));
}

/* Parses the file at path where inc stands. */
static int include_file(struct parser *p, const struct conf_node *inc, const char *path,
                        struct vec *out)
{
    char chain[300];
    if (p->nchain > CONF_MAX_INCLUDE_DEPTH)
        return fail(p, inc->file, inc->line, "includes nested more than %d deep (%s); flatten them",
                    CONF_MAX_INCLUDE_DEPTH, chain_text(p, path, chain, sizeof(chain)));
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int e = read_whole(path, &buf, &len, &st);
    if (e)
        return include_error(p, inc, path, e, len);
    for (size_t i = 0; i < p->nchain; i++) {
        if (p->chain[i].on_disk && p->chain[i].dev == st.st_dev && p->chain[i].ino == st.st_ino) {
            free(buf);
            return fail(p, inc->file, inc->line,
                        "include cycle: %s; remove the include that leads back",
                        chain_text(p, path, chain, sizeof(chain)));
        }
    }
    p->total += len;
    const char *name = intern(p, path);
    int r;
    if (p->total > CONF_MAX_TOTAL)
        r = fail(p, inc->file, inc->line,
                 "include \"%s\": the configuration exceeds %u MiB in all its files; include "
                 "fewer or smaller files",
                 inc->args[0].s, CONF_MAX_TOTAL >> 20);
    else if (!name)
        r = fail_oom(p, inc->file, inc->line);
    else {
        p->chain[p->nchain++] = (struct chain_link){name, st.st_dev, st.st_ino, true};
        r = parse_text(p, buf, len, name, out);
        p->nchain--;
    }
    free(buf);
    return r;
}

/* glob(3) reports unreadable directories here; thread-local because glob passes no context. */
static _Thread_local int glob_errno;
static _Thread_local char glob_errpath[256];

static int on_glob_error(const char *epath, int eerrno)
{
    /* A directory that does not exist matches nothing, as in nginx; any other failure (a
     * directory we may not read) stops the glob instead of silently dropping files. */
    if (eerrno == ENOENT || eerrno == ENOTDIR)
        return 0;
    glob_errno = eerrno;
    snprintf(glob_errpath, sizeof(glob_errpath), "%s", epath);
    return 1;
}

static int include_glob(struct parser *p, const struct conf_node *inc, struct vec *out)
{
    char *pattern = join_path(p->base_dir, inc->args[0].s, true);
    if (!pattern)
        return fail_oom(p, inc->file, inc->line);
    glob_t g;
    glob_errno = 0;
    int r = glob(pattern, 0, on_glob_error, &g); /* sorted, as nginx includes them */
    free(pattern);
    if (r == GLOB_NOMATCH)
        return 0;
    if (r == GLOB_ABORTED)
        r = fail(p, inc->file, inc->line, "include \"%s\": cannot read directory %s: %s; check it",
                 inc->args[0].s, glob_errpath, strerror(glob_errno ? glob_errno : EIO));
    else if (r != 0)
        r = fail_oom(p, inc->file, inc->line);
    for (size_t i = 0; r == 0 && i < g.gl_pathc; i++)
        r = include_file(p, inc, g.gl_pathv[i], out);
    globfree(&g);
    return r;
}

/* "include PATTERN;": the files' directives take its place in out. */
static int include(struct parser *p, const struct conf_node *inc, struct vec *out)
{
    if (inc->nargs != 1)
        return fail(p, inc->file, inc->line,
                    "\"include\" takes exactly one argument, a file name or glob pattern; write "
                    "\"include FILE;\"");
    if (!p->base_dir)
        return fail(p, inc->file, inc->line,
                    "include is not available for this text (it has no directory to resolve "
                    "files from); paste the included directives instead");
    const char *pat = inc->args[0].s;
    if (pat[0] == '\0')
        return fail(p, inc->file, inc->line,
                    "include of an empty file name; write \"include FILE;\"");
    if (strpbrk(pat, "*?["))
        return include_glob(p, inc, out);
    char *path = join_path(p->base_dir, pat, false);
    if (!path)
        return fail_oom(p, inc->file, inc->line);
    int r = include_file(p, inc, path, out);
    free(path);
    return r;
}

/* ---- entry points ------------------------------------------------------------------------- */

static struct conf_tree *parse_main(const char *text, size_t len, const char *name,
                                    const char *base_dir, const struct stat *st,
                                    struct conf_error *err)
{
    struct conf_tree *t = calloc(1, sizeof(*t));
    struct parser p = {.t = t, .err = err, .base_dir = base_dir, .total = len};
    if (!t) {
        snprintf(err->msg, sizeof(err->msg), "%s: out of memory; free some memory", name);
        return NULL;
    }
    struct vec top = {NULL, 0, 0};
    const char *file = intern(&p, name);
    t->root.name = arena_strdup(t, "");
    t->root.file = file;
    t->root.is_block = true;
    int r;
    if (!file || !t->root.name)
        r = fail_oom(&p, name, 0);
    else if (len > CONF_MAX_FILE)
        r = fail(&p, name, 0, "%zu bytes, over the %u MiB limit of one file; split it with include",
                 len, CONF_MAX_FILE >> 20);
    else {
        p.chain[0] = (struct chain_link){file, st ? st->st_dev : 0, st ? st->st_ino : 0, !!st};
        p.nchain = 1;
        r = parse_text(&p, text, len, file, &top);
    }
    if (r == 0)
        r = settle_children(&p, &top, &t->root);
    free(top.v);
    free(p.words);
    free(p.files);
    if (r < 0) {
        conf_tree_free(t);
        return NULL;
    }
    return t;
}

struct conf_tree *conf_parse_string(const char *text, size_t len, const char *name,
                                    const char *base_dir, struct conf_error *err)
{
    return parse_main(text, len, name ? name : "<string>", base_dir, NULL, err);
}

struct conf_tree *conf_parse_file(const char *path, struct conf_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int e = read_whole(path, &buf, &len, &st);
    if (e == EFBIG)
        snprintf(err->msg, sizeof(err->msg),
                 "%s: %zu bytes, over the %u MiB limit of one file; split it with include", path,
                 len, CONF_MAX_FILE >> 20);
    else if (e == EISDIR || e == ENODEV)
        snprintf(err->msg, sizeof(err->msg),
                 "%s: not a regular file; give the path of the configuration file itself", path);
    else if (e)
        snprintf(err->msg, sizeof(err->msg), "%s: cannot open: %s; check the path", path,
                 strerror(e));
    if (e)
        return NULL;
    /* Includes resolve against the main file's directory, as nginx's conf prefix with -c. */
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + (slash == path) : 0;
    char *dir = strndup(path, dl);
    struct conf_tree *t = NULL;
    if (dir)
        t = parse_main(buf, len, path, dir, &st, err);
    else
        snprintf(err->msg, sizeof(err->msg), "%s: out of memory; free some memory", path);
    free(dir);
    free(buf);
    return t;
}

/* ---- printing and comparing --------------------------------------------------------------- */

/* A "\" the lexer will keep with its successor (nginx keeps "\x" for any x it does not
 * decode), so it can be written as it is: regexes like "\.php$" print as written. Not before
 * "$": an escaped "$" would no longer let a following "{" stay in the word. */
static bool raw_pair(const char *s, size_t len, size_t i)
{
    return s[i] == '\\' && i + 1 < len && s[i + 1] != '\0' && !strchr("\"'\\trn\n\r\t$", s[i + 1]);
}

/* Whether a word can be written unquoted so that the lexer gives back exactly these bytes,
 * unquoted: quotes, backslashes and control characters can be escaped, but a bare blank or
 * ";", a "{" not after "$", or a leading "#" or "}" has no unquoted spelling. */
static bool bare_ok(const char *s, size_t len)
{
    bool variable = false;
    if (len == 0 || s[0] == '#' || s[0] == '}')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\') {
            i += raw_pair(s, len, i);
            variable = false;
        } else if (c == '{') {
            if (!variable)
                return false;
        } else if (c == ' ' || c == ';') {
            return false;
        } else {
            variable = c == '$';
        }
    }
    return true;
}

static void put_escaped(FILE *f, char c)
{
    switch (c) {
    case '\n':
        fputs("\\n", f);
        break;
    case '\r':
        fputs("\\r", f);
        break;
    case '\t':
        fputs("\\t", f);
        break;
    case '\\':
    case '"':
    case '\'':
        fputc('\\', f);
        fputc(c, f);
        break;
    default:
        fputc(c, f);
    }
}

static void put_word(FILE *f, const char *s, size_t len, bool quoted)
{
    bool bare = !quoted && bare_ok(s, len);
    if (!bare)
        fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (raw_pair(s, len, i)) {
            fputc(s[i], f);
            fputc(s[++i], f);
        } else {
            put_escaped(f, s[i]);
        }
    }
    if (!bare)
        fputc('"', f);
}

static void put_origin(FILE *f, const struct conf_node *n)
{
    fputs("  # ", f);
    for (const char *c = n->file; *c; c++)
        fputc((unsigned char)*c < 0x20 ? '?' : *c, f);
    fprintf(f, ":%u", n->line);
}

static void print_nodes(FILE *f, const struct conf_node *n, size_t count, unsigned indent,
                        unsigned flags)
{
    for (size_t i = 0; i < count; i++, n++) {
        for (unsigned k = 0; k < indent; k++)
            fputs("    ", f);
        put_word(f, n->name, strlen(n->name), false);
        for (size_t a = 0; a < n->nargs; a++) {
            fputc(' ', f);
            put_word(f, n->args[a].s, n->args[a].len, n->args[a].quoted);
        }
        fputs(n->is_block ? " {" : ";", f);
        if (flags & CONF_PRINT_ORIGIN)
            put_origin(f, n);
        fputc('\n', f);
        if (!n->is_block)
            continue;
        print_nodes(f, n->children, n->nchildren, indent + 1, flags);
        for (unsigned k = 0; k < indent; k++)
            fputs("    ", f);
        fputs("}\n", f);
    }
}

int conf_tree_print(const struct conf_tree *t, FILE *f, unsigned flags)
{
    print_nodes(f, t->root.children, t->root.nchildren, 0, flags);
    return ferror(f) ? -1 : 0;
}

bool conf_node_same(const struct conf_node *a, const struct conf_node *b)
{
    if (strcmp(a->name, b->name) != 0 || a->nargs != b->nargs || a->is_block != b->is_block ||
        a->nchildren != b->nchildren)
        return false;
    for (size_t i = 0; i < a->nargs; i++) {
        const struct conf_arg *x = &a->args[i], *y = &b->args[i];
        if (x->len != y->len || x->quoted != y->quoted || memcmp(x->s, y->s, x->len) != 0)
            return false;
    }
    for (size_t i = 0; i < a->nchildren; i++)
        if (!conf_node_same(&a->children[i], &b->children[i]))
            return false;
    return true;
}
