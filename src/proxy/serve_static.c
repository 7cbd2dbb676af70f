/* Serving files for a location with root/alias: index files and try_files (internal redirects,
 * as nginx does, so "index index.php" reaches the PHP location), directories redirected to their
 * slash form, conditional GETs, and the body streamed from the file through the out buffer. */
#include "proxy/request.h"

#include "conf/vars.h"
#include "http/h1_write.h"
#include "obs/log.h"
#include "proxy/gen.h"
#include "proxy/http_vars.h"
#include "route/location.h"
#include "site/mime.h"
#include "site/static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void serve_path(struct conn *c, const struct h1_request *req, struct req_vars *rv);

static long map_path(struct conn *c, struct req_vars *rv, struct str uri, char *out, size_t cap)
{
    const struct loc_conf *lc = c->lc;
    char root[4096];
    rv->scratch_used = 0;
    long rl = var_eval(lc->root, http_var_get, rv, root, sizeof(root));
    if (rl < 0)
        return -1;
    return static_map_path(str_make(root, (size_t)rl), lc->alias, lc->prefix, uri, out, cap);
}

static const char *content_type(struct conn *c, struct str path, char *buf, size_t cap)
{
    const struct loc_conf *lc = c->lc;
    const struct gen *g = c->lst->gen;
    const char *type = mime_lookup(g->types ? g->types : mime_builtin(), path);
    if (!type)
        type = lc->default_type ? lc->default_type : "text/plain";
    if (lc->charset && (strncmp(type, "text/html", 9) == 0 || strncmp(type, "text/plain", 10) == 0))
        snprintf(buf, cap, "%s; charset=%s", type, lc->charset);
    else
        snprintf(buf, cap, "%s", type);
    return buf;
}

static void send_file(struct conn *c, const struct h1_request *req, struct static_file *f,
                      struct str path)
{
    char type[160], date[40], extra[256];
    content_type(c, path, type, sizeof(type));
    static_http_date(f->mtime, date, sizeof(date));
    snprintf(extra, sizeof(extra), "Last-Modified: %s\r\nETag: %s\r\n", date, f->etag);
    struct str inm = h1_find_header(req->headers, req->nheaders, STR_LIT("If-None-Match"));
    struct str ims = h1_find_header(req->headers, req->nheaders, STR_LIT("If-Modified-Since"));
    if (static_not_modified(f, inm, ims)) {
        close(f->fd);
        conn_respond(c, 304, NULL, NULL, 0, extra, false);
        return;
    }
    c->file_fd = f->fd;
    c->file_left = c->is_head ? 0 : f->size;
    conn_respond_file(c, 200, type, f->size, extra);
}

/* Tries try_files' arguments; the last one is the fallback (URI, =CODE or @named). */
static void try_files(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    const struct loc_conf *lc = c->lc;
    for (size_t i = 0; i + 1 < lc->ntry_files; i++) {
        char val[4096], path[8192];
        rv->scratch_used = 0;
        long n = var_eval(lc->try_files[i], http_var_get, rv, val, sizeof(val));
        if (n <= 0)
            continue;
        bool want_dir = val[n - 1] == '/';
        long pl = map_path(c, rv, str_make(val, (size_t)n), path, sizeof(path));
        if (pl < 0)
            continue;
        struct static_file f;
        enum static_kind k = static_open(path, &f);
        if (k == STATIC_FILE && !want_dir) {
            send_file(c, req, &f, str_make(path, (size_t)pl));
            return;
        }
        if (k == STATIC_FILE)
            close(f.fd);
        if (k == STATIC_DIR && want_dir) {
            /* nginx: the URI becomes "dir/" and the index module serves it in this location,
             * without matching locations again. */
            if (request_set_uri(c, rv, str_make(val, (size_t)n)) < 0) {
                conn_fail(c, 400, NULL);
                return;
            }
            serve_path(c, req, rv);
            return;
        }
    }
    char last[4096];
    rv->scratch_used = 0;
    long n = var_eval(lc->try_files[lc->ntry_files - 1], http_var_get, rv, last, sizeof(last));
    if (n <= 0) {
        conn_fail(c, 500, "try_files fallback evaluated to nothing");
        return;
    }
    if (last[0] == '=') {
        conn_fail(c, (int)strtol(last + 1, NULL, 10), NULL);
        return;
    }
    if (last[0] == '@') {
        last[n] = '\0';
        const struct location *named = location_find_named(c->srv->locs, last);
        if (!named) {
            conn_fail(c, 500, "try_files names a location that does not exist");
            return;
        }
        request_enter_location(c, req, rv, named->data);
        return;
    }
    request_internal_redirect(c, req, rv, str_make(last, (size_t)n));
}

void static_serve(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    if (!c->is_head && !str_eq(req->method, STR_LIT("GET"))) {
        conn_fail(c, 405, "static files only answer GET and HEAD");
        return;
    }
    if (c->lc->ntry_files) {
        try_files(c, req, rv);
        return;
    }
    serve_path(c, req, rv);
}

/* Serves rv->uri from the location's root or alias: a file, an index file (by internal
 * redirect, as nginx), or a directory redirected to its slash form. */
static void serve_path(struct conn *c, const struct h1_request *req, struct req_vars *rv)
{
    const struct loc_conf *lc = c->lc;
    if (!lc->root) {
        conn_fail(c, 404, NULL);
        return;
    }
    char path[8192];
    long pl = map_path(c, rv, rv->uri, path, sizeof(path));
    if (pl < 0) {
        conn_fail(c, 414, NULL);
        return;
    }
    bool dir_uri = rv->uri.len && rv->uri.p[rv->uri.len - 1] == '/';
    if (dir_uri) {
        for (size_t i = 0; i < lc->nindex; i++) {
            char ipath[8400];
            snprintf(ipath, sizeof(ipath), "%s%.*s", path, (int)lc->index[i].len, lc->index[i].p);
            struct static_file f;
            enum static_kind k = static_open(ipath, &f);
            if (k == STATIC_FILE) {
                close(f.fd);
                char next[4096];
                snprintf(next, sizeof(next), "%.*s%.*s", (int)rv->uri.len, rv->uri.p,
                         (int)lc->index[i].len, lc->index[i].p);
                request_internal_redirect(c, req, rv, str_from_cstr(next));
                return;
            }
        }
        struct static_file f;
        conn_fail(c, static_open(path, &f) == STATIC_DIR ? 403 : 404, NULL);
        return;
    }
    struct static_file f;
    switch (static_open(path, &f)) {
    case STATIC_FILE:
        send_file(c, req, &f, str_make(path, (size_t)pl));
        return;
    case STATIC_DIR: {
        size_t cap = rv->uri.len + c->args_len + 4;
        char *to = malloc(cap);
        if (!to) {
            conn_abort(c, "out of memory");
            return;
        }
        snprintf(to, cap, "%.*s/%s%s", (int)rv->uri.len, rv->uri.p, c->args ? "?" : "",
                 c->args ? c->args : "");
        request_redirect(c, 301, to);
        free(to);
        return;
    }
    case STATIC_FORBIDDEN:
        conn_fail(c, 403, NULL);
        return;
    case STATIC_MISSING:
        conn_fail(c, 404, NULL);
        return;
    case STATIC_ERROR:
        log_error("client %s: cannot open \"%s\": %s", c->peer_ip, path, strerror(errno));
        conn_fail(c, 500, NULL);
        return;
    }
}
