/* Extension → MIME type tables: nginx's default list as sorted static data, and tables built from
 * config `types` blocks kept sorted on insert, both searched by binary search. */
#include "site/mime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mime_entry {
    const char *ext; /* lowercase, no dot */
    const char *type;
};

/* v is what lookups read; heap is the same array when the table owns it (NULL for the builtin
 * one), so the static data can stay const and still share the lookup code. Each owned entry is
 * one allocation "ext\0type\0" whose address is entry.ext. */
struct mime_table {
    const struct mime_entry *v;
    struct mime_entry *heap;
    size_t len;
    size_t cap;
};

/* nginx 1.22 conf/mime.types, one row per extension, sorted bytewise by extension (the unit test
 * checks every row against /etc/nginx/mime.types when nginx is installed). */
static const struct mime_entry builtin_entries[] = {
    {"3gp", "video/3gpp"},
    {"3gpp", "video/3gpp"},
    {"7z", "application/x-7z-compressed"},
    {"ai", "application/postscript"},
    {"asf", "video/x-ms-asf"},
    {"asx", "video/x-ms-asf"},
    {"atom", "application/atom+xml"},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/x-ms-bmp"},
    {"cco", "application/x-cocoa"},
    {"crt", "application/x-x509-ca-cert"},
    {"css", "text/css"},
    {"deb", "application/octet-stream"},
    {"der", "application/x-x509-ca-cert"},
    {"dll", "application/octet-stream"},
    {"dmg", "application/octet-stream"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"ear", "application/java-archive"},
    {"eot", "application/vnd.ms-fontobject"},
    {"eps", "application/postscript"},
    {"exe", "application/octet-stream"},
    {"flv", "video/x-flv"},
    {"gif", "image/gif"},
    {"hqx", "application/mac-binhex40"},
    {"htc", "text/x-component"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/x-icon"},
    {"img", "application/octet-stream"},
    {"iso", "application/octet-stream"},
    {"jad", "text/vnd.sun.j2me.app-descriptor"},
    {"jar", "application/java-archive"},
    {"jardiff", "application/x-java-archive-diff"},
    {"jng", "image/x-jng"},
    {"jnlp", "application/x-java-jnlp-file"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "application/javascript"},
    {"json", "application/json"},
    {"kar", "audio/midi"},
    {"kml", "application/vnd.google-earth.kml+xml"},
    {"kmz", "application/vnd.google-earth.kmz"},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"m4a", "audio/x-m4a"},
    {"m4v", "video/x-m4v"},
    {"mid", "audio/midi"},
    {"midi", "audio/midi"},
    {"mml", "text/mathml"},
    {"mng", "video/x-mng"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"msi", "application/octet-stream"},
    {"msm", "application/octet-stream"},
    {"msp", "application/octet-stream"},
    {"odg", "application/vnd.oasis.opendocument.graphics"},
    {"odp", "application/vnd.oasis.opendocument.presentation"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ogg", "audio/ogg"},
    {"pdb", "application/x-pilot"},
    {"pdf", "application/pdf"},
    {"pem", "application/x-x509-ca-cert"},
    {"pl", "application/x-perl"},
    {"pm", "application/x-perl"},
    {"png", "image/png"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"prc", "application/x-pilot"},
    {"ps", "application/postscript"},
    {"ra", "audio/x-realaudio"},
    {"rar", "application/x-rar-compressed"},
    {"rpm", "application/x-redhat-package-manager"},
    {"rss", "application/rss+xml"},
    {"rtf", "application/rtf"},
    {"run", "application/x-makeself"},
    {"sea", "application/x-sea"},
    {"shtml", "text/html"},
    {"sit", "application/x-stuffit"},
    {"svg", "image/svg+xml"},
    {"svgz", "image/svg+xml"},
    {"swf", "application/x-shockwave-flash"},
    {"tcl", "application/x-tcl"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"tk", "application/x-tcl"},
    {"ts", "video/mp2t"},
    {"txt", "text/plain"},
    {"war", "application/java-archive"},
    {"wasm", "application/wasm"},
    {"wbmp", "image/vnd.wap.wbmp"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"wml", "text/vnd.wap.wml"},
    {"wmlc", "application/vnd.wap.wmlc"},
    {"wmv", "video/x-ms-wmv"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "text/xml"},
    {"xpi", "application/x-xpinstall"},
    {"xspf", "application/xspf+xml"},
    {"zip", "application/zip"},
    {"{", "types"},
};

static const struct mime_table builtin_table = {
    builtin_entries,
    NULL,
    sizeof(builtin_entries) / sizeof(builtin_entries[0]),
    0,
};

const struct mime_table *mime_builtin(void)
{
    return &builtin_table;
}

struct mime_table *mime_table_new(void)
{
    return calloc(1, sizeof(struct mime_table));
}

void mime_table_free(struct mime_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->len; i++)
        free((void *)t->heap[i].ext);
    free(t->heap);
    free(t);
}

/* Compares ext (any case) with a stored lowercase extension, as strcmp would order them. */
static int ext_cmp(struct str ext, const char *stored)
{
    size_t i = 0;
    for (; i < ext.len && stored[i] != '\0'; i++) {
        unsigned char a = (unsigned char)str_lower_ascii(ext.p[i]);
        unsigned char b = (unsigned char)stored[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (i < ext.len)
        return 1;
    return stored[i] == '\0' ? 0 : -1;
}

/* Returns the index of ext, or of where it would be inserted with *found false. */
static size_t find(const struct mime_table *t, struct str ext, bool *found)
{
    size_t lo = 0, hi = t->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ext_cmp(ext, t->v[mid].ext);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

/* One block "ext\0type\0", ext lowercased. */
static char *entry_block(struct str ext, const char *type)
{
    size_t tlen = strlen(type);
    char *b = malloc(ext.len + 1 + tlen + 1);
    if (b == NULL)
        return NULL;
    for (size_t i = 0; i < ext.len; i++)
        b[i] = str_lower_ascii(ext.p[i]);
    b[ext.len] = '\0';
    memcpy(b + ext.len + 1, type, tlen + 1);
    return b;
}

static int grow(struct mime_table *t)
{
    if (t->len < t->cap)
        return 0;
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct mime_entry *v = realloc(t->heap, cap * sizeof(*v));
    if (v == NULL)
        return -1;
    t->heap = v;
    t->v = v;
    t->cap = cap;
    return 0;
}

int mime_table_add(struct mime_table *t, struct str ext, const char *type)
{
    if (ext.len == 0 || memchr(ext.p, '.', ext.len) || memchr(ext.p, '/', ext.len) ||
        memchr(ext.p, '\0', ext.len)) {
        errno = EINVAL;
        return -1;
    }
    char *b = entry_block(ext, type);
    if (b == NULL)
        return -1;
    bool found;
    size_t at = find(t, ext, &found);
    if (found) {
        free((void *)t->heap[at].ext);
    } else {
        if (grow(t) != 0) {
            free(b);
            return -1;
        }
        memmove(&t->heap[at + 1], &t->heap[at], (t->len - at) * sizeof(t->heap[0]));
        t->len++;
    }
    t->heap[at].ext = b;
    t->heap[at].type = b + ext.len + 1;
    return 0;
}

/* nginx (ngx_http_set_exten): scan back from the end to the segment's start; a dot that opens
 * the segment marks a hidden file, not an extension. */
static struct str path_ext(struct str path)
{
    for (size_t i = path.len; i > 0; i--) {
        char c = path.p[i - 1];
        if (c == '/')
            break;
        if (c != '.')
            continue;
        if (i - 1 == 0 || path.p[i - 2] == '/')
            break;
        return str_make(path.p + i, path.len - i);
    }
    return STR_NULL;
}

const char *mime_lookup(const struct mime_table *t, struct str path)
{
    if (t == NULL || path.p == NULL)
        return NULL;
    struct str ext = path_ext(path);
    if (ext.len == 0)
        return NULL;
    bool found;
    size_t at = find(t, ext, &found);
    return found ? t->v[at].type : NULL;
}
