/* Appending to an HTTP head under construction. */
#include "http/h1_write.h"

#include "http/h1_parse.h"

void h1w_mem(struct h1_writer *w, const char *p, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

void h1w_uint(struct h1_writer *w, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    h1w_mem(w, tmp + i, sizeof(tmp) - i);
}

void h1w_status(struct h1_writer *w, int status)
{
    h1w_uint(w, (unsigned)status);
    h1w_mem(w, " ", 1);
    h1w_cstr(w, h1_status_text(status));
}

void h1w_header(struct h1_writer *w, struct str name, struct str value)
{
    h1w_str(w, name);
    h1w_mem(w, ": ", 2);
    h1w_str(w, value);
    h1w_mem(w, "\r\n", 2);
}

void h1w_html_escaped(struct h1_writer *w, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            h1w_cstr(w, "&amp;");
            break;
        case '<':
            h1w_cstr(w, "&lt;");
            break;
        case '>':
            h1w_cstr(w, "&gt;");
            break;
        case '"':
            h1w_cstr(w, "&quot;");
            break;
        default:
            h1w_mem(w, s, 1);
        }
    }
}
