/* Building HTTP/1.1 heads into a bounded memory area, with truncation detected once at the end
 * instead of after every append. */
#ifndef WSSGATE_HTTP_H1_WRITE_H
#define WSSGATE_HTTP_H1_WRITE_H

#include "core/str.h"

#include <stdbool.h>
#include <stddef.h>

struct h1_writer {
    char *p;
    size_t len, cap;
    bool overflow;
};

static inline void h1w_init(struct h1_writer *w, char *p, size_t cap)
{
    *w = (struct h1_writer){ .p = p, .cap = cap };
}

void h1w_mem(struct h1_writer *w, const char *p, size_t n);
static inline void h1w_str(struct h1_writer *w, struct str s)
{
    h1w_mem(w, s.p, s.len);
}
static inline void h1w_cstr(struct h1_writer *w, const char *s)
{
    h1w_mem(w, s, strlen(s));
}
void h1w_uint(struct h1_writer *w, unsigned long long v);
/* "404 Not Found" */
void h1w_status(struct h1_writer *w, int status);
/* "Name: value\r\n" */
void h1w_header(struct h1_writer *w, struct str name, struct str value);
/* Appends s with &, <, >, " escaped (for error pages that quote a request detail). */
void h1w_html_escaped(struct h1_writer *w, const char *s);

#endif
