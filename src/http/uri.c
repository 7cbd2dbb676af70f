/* Path normalization in one pass: each decoded segment is appended, then kept, dropped (".",
 * empty) or removes its predecessor (".."). */
#include "http/uri.h"

#include <stdbool.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the byte at path[*i] (a %XX escape or a plain byte) and advances *i. */
static int next_byte(struct str path, size_t *i, char *ch)
{
    char c = path.p[*i];
    if (c != '%') {
        *ch = c;
        (*i)++;
        return 0;
    }
    if (*i + 2 >= path.len)
        return -1;
    int a = hexval(path.p[*i + 1]), b = hexval(path.p[*i + 2]);
    if (a < 0 || b < 0 || (a == 0 && b == 0))
        return -1;
    *ch = (char)(a * 16 + b);
    *i += 3;
    return 0;
}

long uri_normalize(struct str path, char *out, size_t cap)
{
    if (path.len == 0 || path.p[0] != '/' || cap < path.len + 1)
        return -1;
    size_t n = 0, i = 1;
    out[n++] = '/'; /* out always ends with '/' between segments */
    while (i < path.len) {
        size_t seg = n;
        bool slash = false;
        while (i < path.len) {
            char ch;
            if (next_byte(path, &i, &ch) < 0)
                return -1;
            if (ch == '/') {
                slash = true;
                break;
            }
            out[n++] = ch;
        }
        size_t len = n - seg;
        if (len == 1 && out[seg] == '.') {
            n = seg;
        } else if (len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg <= 1)
                return -1; /* above the root */
            size_t j = seg - 1;
            while (j > 0 && out[j - 1] != '/')
                j--;
            n = j;
        } else if (len > 0 && slash) {
            out[n++] = '/';
        }
    }
    out[n] = '\0';
    return (long)n;
}
