/* File extension → MIME type, as nginx's `types { ... }` block and its default mime.types file.
 * Tables are sorted by extension, so a lookup is a binary search with no allocation. */
#ifndef WSSGATE_SITE_MIME_H
#define WSSGATE_SITE_MIME_H

#include "core/str.h"

/* An extension → type map. Built once per config generation, then read-only: lookups on a
 * table nobody adds to any more are safe from any thread. */
struct mime_table;

/* Returns an empty table owned by the caller (free with mime_table_free), or NULL on ENOMEM. */
struct mime_table *mime_table_new(void);

/* Maps ext (without the dot; ASCII case-insensitive, stored lowercase) to type. Both are copied.
 * A later add for the same extension replaces the earlier type, as nginx does (nginx also warns
 * "duplicate extension"; that is the config layer's job). Returns 0, or -1 with errno EINVAL when
 * ext is empty or contains '.' or '/' (nginx accepts those, but they can never match a request:
 * only the text after the last dot is looked up), or ENOMEM. */
int mime_table_add(struct mime_table *t, struct str ext, const char *type);

/* The content of nginx's default conf/mime.types (1.22, the Debian package the differential
 * tests run: js is application/javascript). A static table: never free it. Note that nginx
 * itself knows only html, gif and jpg when a config has no `types`/`include mime.types`; which
 * table applies is the config layer's decision. */
const struct mime_table *mime_builtin(void);

/* Returns the type for path's extension — the text after the last '.' of the last '/'-separated
 * segment — or NULL when the table has none, the segment has no dot, or its only dot starts it
 * (".bashrc", as nginx). "a.tar.gz" looks up "gz". The result lives as long as the table.
 * t may be NULL (→ NULL). */
const char *mime_lookup(const struct mime_table *t, struct str path);

/* Frees a table from mime_table_new and every string it copied. NULL is a no-op; never pass
 * mime_builtin(). */
void mime_table_free(struct mime_table *t);

#endif
