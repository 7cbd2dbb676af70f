/* Static files as nginx serves them: URI → path (root/alias), opening without ever blocking on a
 * FIFO or device, ETag/Last-Modified and conditional GET. File-system calls only, no sockets. */
#ifndef WSSGATE_SITE_STATIC_H
#define WSSGATE_SITE_STATIC_H

#include "core/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL. */
#define STATIC_HTTP_DATE_LEN 30

/* Writes the file-system path for uri into out as a NUL-terminated string and returns its length,
 * exactly as nginx's ngx_http_map_uri_to_path:
 *  - root (alias false): root + uri. A trailing '/' of root is dropped first, as nginx does when
 *    it reads `root` ("/var/www/" + "/a" → "/var/www/a"). loc_prefix is unused.
 *  - alias: alias + (uri minus its first loc_prefix.len bytes), alias kept as written: alias
 *    "/data/w/" in location "/i/" maps "/i/a.png" to "/data/w/a.png"; alias "/data/w" there maps
 *    it to "/data/wa.png" (nginx does too; a config lint should flag the mismatched slash). For a
 *    regex location pass the alias after capture substitution and loc_prefix = uri.
 * uri must be normalized (uri_normalize: decoded, no "."/".." segments, starts with '/').
 * Returns -1 with errno:
 *  - ENAMETOOLONG: the path and its NUL do not fit in cap (→ 414 or 500);
 *  - EINVAL: uri does not start with loc_prefix (alias) or with '/' (root), or a NUL byte;
 *  - EACCES: the alias join makes a "." or ".." segment — location "/i" with alias "/data/w/"
 *    maps "/i../etc" to "/data/w/../etc", the classic nginx alias traversal; nginx would serve
 *    it, wssgate refuses (→ 403). */
long static_map_path(struct str root, bool alias, struct str loc_prefix, struct str uri, char *out,
                     size_t cap);

enum static_kind {
    STATIC_FILE,      /* a regular file, open (→ 200/304) */
    STATIC_DIR,       /* a directory (→ index, or 301 to add the '/') */
    STATIC_MISSING,   /* ENOENT, ENOTDIR, ENAMETOOLONG, dangling symlink (→ 404) */
    STATIC_FORBIDDEN, /* EACCES/EPERM, ELOOP, or not a regular file/dir: FIFO, device (→ 403) */
    STATIC_ERROR,     /* anything else: EMFILE, ENFILE, EIO, ENOMEM… (→ 500, log errno) */
};

struct static_file {
    int fd;        /* open read-only (blocking, close-on-exec) when STATIC_FILE, else -1 */
    uint64_t size; /* st_size for FILE and DIR, else 0 */
    int64_t mtime; /* st_mtime in seconds for FILE and DIR, else 0 */
    enum static_kind kind;
    char etag[48]; /* FILE: "\"<mtime hex>-<size hex>\"" as nginx, quotes included; else "" */
};

/* Classifies path and, for a regular file, opens it. Symlinks are followed (nginx's default,
 * disable_symlinks off). Anything that is not a regular file or directory is never opened, so a
 * FIFO, socket or device cannot block or be touched; the file is opened O_NONBLOCK (a file
 * swapped for a FIFO after the stat cannot block either), checked again with fstat, then
 * O_NONBLOCK is cleared. A directory is only stat'ed (search permission suffices, as nginx).
 * Fills *f entirely; on STATIC_FILE the caller owns f->fd and releases it with static_close.
 * For MISSING, FORBIDDEN and ERROR errno tells why, for the error log (EPERM for a FIFO, socket
 * or device). Returns f->kind. */
enum static_kind static_open(const char *path, struct static_file *f);

/* Closes f->fd if open and sets it to -1. Safe to call twice or on any kind. */
void static_close(struct static_file *f);

/* Conditional GET (RFC 9110 §13.1.2–3) for a STATIC_FILE; false for any other kind.
 * With an If-None-Match value (several header lines joined with ", "): true when it is "*" or a
 * listed entity-tag equals f->etag under weak comparison ("W/" ignored); a malformed list is no
 * match. If-Modified-Since is then ignored, as RFC 9110 says (nginx checks both).
 * Without it: true when If-Modified-Since is a valid HTTP-date (any of the three forms) and
 * not earlier than f->mtime (nginx's default `if_modified_since exact` wants equality; ≥ is
 * `before` and the RFC). An invalid date is ignored (→ false). Empty slices mean absent.
 * The caller applies it to GET/HEAD only and answers 304 when true. */
bool static_not_modified(const struct static_file *f, struct str if_none_match,
                         struct str if_modified_since);

/* Writes t (seconds since the epoch) as an RFC 1123 HTTP-date, "Sun, 06 Nov 1994 08:49:37 GMT",
 * into out; cap must be ≥ STATIC_HTTP_DATE_LEN, else out gets "" (when cap > 0). t is clamped
 * to years 0000–9999 so the output is always 29 bytes. */
void static_http_date(int64_t t, char *out, size_t cap);

/* Parses an HTTP-date in IMF-fixdate (RFC 1123), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT";
 * two-digit years < 70 are 20xx, as nginx) or asctime ("Sun Nov  6 08:49:37 1994") form,
 * surrounding spaces allowed, names case-sensitive as the RFC grammar. Stores seconds since the
 * epoch in *out and returns 0, or returns -1 when s is not a valid date (day beyond the month's
 * end, hour 24, trailing bytes…). No I/O, no time zone. */
int static_http_date_parse(struct str s, int64_t *out);

#endif
