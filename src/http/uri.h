/* Request path normalization as nginx does before location matching: percent-decoding, merging
 * "//" and resolving "." and ".." segments, so "/a/../b" and "/%61/b" match what they mean. */
#ifndef WSSGATE_HTTP_URI_H
#define WSSGATE_HTTP_URI_H

#include "core/str.h"

#include <stddef.h>

/* Normalizes path (origin-form, starting with '/') into out (cap ≥ path.len + 1 always
 * suffices). Returns the length, or -1 when the path is invalid: it climbs above the root,
 * decodes to a NUL byte, or has a malformed %-escape (→ 400). "%2F" decodes to '/' and takes part
 * in merging, as in nginx. */
long uri_normalize(struct str path, char *out, size_t cap);

#endif
