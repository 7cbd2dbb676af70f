/* Static-file helpers: root/alias path mapping, a stat-then-open that never blocks, nginx's ETag,
 * If-None-Match/If-Modified-Since, and HTTP-date formatting and parsing in plain arithmetic. */
#include "site/static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- path mapping ---- */

/* True when the segment spanning the join of head and tail is "." or ".." and tail contributes
 * to it: only then can a request walk out of the alias directory. */
static bool join_makes_dot_segment(struct str head, struct str tail)
{
    size_t a = head.len, b = 0;
    while (a > 0 && head.p[a - 1] != '/')
        a--;
    while (b < tail.len && tail.p[b] != '/')
        b++;
    size_t n = (head.len - a) + b;
    if (b == 0 || n > 2)
        return false;
    for (size_t i = a; i < head.len; i++)
        if (head.p[i] != '.')
            return false;
    for (size_t i = 0; i < b; i++)
        if (tail.p[i] != '.')
            return false;
    return true;
}

static bool has_nul(struct str s)
{
    return s.len > 0 && memchr(s.p, '\0', s.len) != NULL;
}

long static_map_path(struct str root, bool alias, struct str loc_prefix, struct str uri, char *out,
                     size_t cap)
{
    struct str tail = uri;
    if (alias) {
        if (!str_starts_with(uri, loc_prefix)) {
            errno = EINVAL;
            return -1;
        }
        tail = str_make(uri.p + loc_prefix.len, uri.len - loc_prefix.len);
    } else {
        if (uri.len == 0 || uri.p[0] != '/') {
            errno = EINVAL;
            return -1;
        }
        /* nginx drops it when reading `root`, so "/var/www/" never makes "//". */
        if (root.len > 0 && root.p[root.len - 1] == '/')
            root.len--;
    }
    if (has_nul(root) || has_nul(tail)) {
        errno = EINVAL;
        return -1;
    }
    if (alias && join_makes_dot_segment(root, tail)) {
        errno = EACCES;
        return -1;
    }
    if (cap == 0 || root.len > cap - 1 || tail.len > cap - 1 - root.len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (root.len)
        memcpy(out, root.p, root.len);
    if (tail.len)
        memcpy(out + root.len, tail.p, tail.len);
    out[root.len + tail.len] = '\0';
    return (long)(root.len + tail.len);
}

/* ---- opening ---- */

/* nginx's mapping of open errors to 404/403/500 (ngx_http_static_handler). */
static enum static_kind kind_of_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return STATIC_MISSING;
    case EACCES:
    case EPERM:
    case ELOOP:
        return STATIC_FORBIDDEN;
    default:
        return STATIC_ERROR;
    }
}

static enum static_kind set_kind(struct static_file *f, enum static_kind kind)
{
    f->kind = kind;
    return kind;
}

static enum static_kind set_stat(struct static_file *f, const struct stat *st,
                                 enum static_kind kind)
{
    f->size = (uint64_t)st->st_size;
    f->mtime = (int64_t)st->st_mtim.tv_sec;
    return set_kind(f, kind);
}

static enum static_kind fail_close(struct static_file *f, int fd, enum static_kind kind)
{
    int e = errno;
    close(fd);
    errno = e;
    return set_kind(f, kind);
}

/* fd was opened O_NONBLOCK after a stat said "regular file"; confirm on the fd itself (the
 * name may have been swapped meanwhile), then make reads blocking again. */
static enum static_kind finish_open(struct static_file *f, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail_close(f, fd, STATIC_ERROR);
    if (!S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            close(fd);
            return set_stat(f, &st, STATIC_DIR);
        }
        errno = EPERM;
        return fail_close(f, fd, STATIC_FORBIDDEN);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return fail_close(f, fd, STATIC_ERROR);
    f->fd = fd;
    set_stat(f, &st, STATIC_FILE);
    snprintf(f->etag, sizeof(f->etag), "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)f->mtime, f->size);
    return STATIC_FILE;
}

enum static_kind static_open(const char *path, struct static_file *f)
{
    struct stat st;
    *f = (struct static_file){.fd = -1, .kind = STATIC_ERROR};
    if (stat(path, &st) != 0)
        return set_kind(f, kind_of_errno(errno));
    if (S_ISDIR(st.st_mode))
        return set_stat(f, &st, STATIC_DIR);
    if (!S_ISREG(st.st_mode)) {
        /* Never open a FIFO, socket or device: that could block, or have side effects. */
        errno = EPERM;
        return set_kind(f, STATIC_FORBIDDEN);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return set_kind(f, kind_of_errno(errno));
    return finish_open(f, fd);
}

void static_close(struct static_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* ---- conditional GET ---- */

static size_t skip_ows(struct str v, size_t i)
{
    while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
        i++;
    return i;
}

/* If-None-Match = "*" / #entity-tag, entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE. Weak
 * comparison: the W/ prefix is ignored on both sides (ours is strong). */
static bool etag_list_matches(struct str v, struct str etag)
{
    if (v.len == 1 && v.p[0] == '*')
        return true;
    size_t i = 0;
    for (;;) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        if (i == v.len)
            return false;
        if (v.len - i >= 2 && v.p[i] == 'W' && v.p[i + 1] == '/')
            i += 2;
        if (i == v.len || v.p[i] != '"')
            return false;
        size_t start = i++;
        while (i < v.len && v.p[i] != '"')
            i++;
        if (i == v.len)
            return false;
        i++;
        if (etag.len > 0 && str_eq(str_make(v.p + start, i - start), etag))
            return true;
        i = skip_ows(v, i);
        if (i < v.len && v.p[i] != ',')
            return false;
    }
}

bool static_not_modified(const struct static_file *f, struct str if_none_match,
                         struct str if_modified_since)
{
    if (f->kind != STATIC_FILE)
        return false;
    if_none_match = if_none_match.p ? str_trim_ows(if_none_match) : STR_NULL;
    if (if_none_match.len > 0)
        return etag_list_matches(if_none_match, str_from_cstr(f->etag));
    if (if_modified_since.p == NULL || if_modified_since.len == 0)
        return false;
    int64_t since;
    if (static_http_date_parse(if_modified_since, &since) != 0)
        return false;
    return since >= f->mtime;
}

/* ---- HTTP dates ---- */

static const char *const wday_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* 0000-01-01T00:00:00 and 9999-12-31T23:59:59: the years a 4-digit field can show. */
#define DATE_MIN INT64_C(-62167219200)
#define DATE_MAX INT64_C(253402300799)

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms):
 * no libc, no time zone, valid for any year here. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void static_http_date(int64_t t, char *out, size_t cap)
{
    if (cap < STATIC_HTTP_DATE_LEN) {
        if (cap > 0)
            out[0] = '\0';
        return;
    }
    t = t < DATE_MIN ? DATE_MIN : t > DATE_MAX ? DATE_MAX : t;
    int64_t days = (t >= 0 ? t : t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday_short[wd], d, month_names[m - 1],
             (int)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

struct cursor {
    const char *p;
    size_t len;
    size_t i;
};

struct hdate {
    int year, mon, day, hour, min, sec;
};

static bool lit(struct cursor *c, char ch)
{
    if (c->i < c->len && c->p[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

/* Exactly n digits. */
static bool digits(struct cursor *c, size_t n, int *v)
{
    if (c->len - c->i < n)
        return false;
    int x = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = c->p[c->i + k];
        if (ch < '0' || ch > '9')
            return false;
        x = x * 10 + (ch - '0');
    }
    c->i += n;
    *v = x;
    return true;
}

/* Matches one of names (case-sensitive) and stores its index + base. */
static bool name(struct cursor *c, const char *const *names, int count, int base, int *v)
{
    for (int k = 0; k < count; k++) {
        size_t n = strlen(names[k]);
        if (c->len - c->i >= n && memcmp(c->p + c->i, names[k], n) == 0) {
            c->i += n;
            *v = k + base;
            return true;
        }
    }
    return false;
}

static bool clock_gmt(struct cursor *c, struct hdate *d, bool gmt)
{
    if (!(digits(c, 2, &d->hour) && lit(c, ':') && digits(c, 2, &d->min) && lit(c, ':') &&
          digits(c, 2, &d->sec)))
        return false;
    return !gmt || (lit(c, ' ') && lit(c, 'G') && lit(c, 'M') && lit(c, 'T'));
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf(struct cursor *c, struct hdate *d)
{
    int wd;
    return name(c, wday_short, 7, 0, &wd) && lit(c, ',') && lit(c, ' ') && digits(c, 2, &d->day) &&
           lit(c, ' ') && name(c, month_names, 12, 1, &d->mon) && lit(c, ' ') &&
           digits(c, 4, &d->year) && lit(c, ' ') && clock_gmt(c, d, true);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool parse_rfc850(struct cursor *c, struct hdate *d)
{
    int wd;
    if (!(name(c, wday_long, 7, 0, &wd) && lit(c, ',') && lit(c, ' ') && digits(c, 2, &d->day) &&
          lit(c, '-') && name(c, month_names, 12, 1, &d->mon) && lit(c, '-') &&
          digits(c, 2, &d->year) && lit(c, ' ') && clock_gmt(c, d, true)))
        return false;
    d->year += d->year < 70 ? 2000 : 1900;
    return true;
}

/* "Sun Nov  6 08:49:37 1994" (the day is space- or zero-padded) */
static bool parse_asctime(struct cursor *c, struct hdate *d)
{
    int wd;
    if (!(name(c, wday_short, 7, 0, &wd) && lit(c, ' ') && name(c, month_names, 12, 1, &d->mon) &&
          lit(c, ' ')))
        return false;
    bool day = lit(c, ' ') ? digits(c, 1, &d->day) : digits(c, 2, &d->day);
    return day && lit(c, ' ') && clock_gmt(c, d, false) && lit(c, ' ') && digits(c, 4, &d->year);
}

static int to_epoch(const struct hdate *d, int64_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (d->year % 4 == 0 && d->year % 100 != 0) || d->year % 400 == 0;
    int dim = mdays[d->mon - 1] + (d->mon == 2 && leap);
    /* second 60 is a leap second in the grammar; it counts as the next minute's :00 */
    if (d->day < 1 || d->day > dim || d->hour > 23 || d->min > 59 || d->sec > 60)
        return -1;
    *out = days_from_civil(d->year, d->mon, d->day) * 86400 + d->hour * 3600 + d->min * 60 + d->sec;
    return 0;
}

int static_http_date_parse(struct str s, int64_t *out)
{
    if (s.p == NULL)
        return -1;
    s = str_trim_ows(s);
    struct cursor c = {s.p, s.len, 0};
    struct hdate d = {0, 0, 0, 0, 0, 0};
    bool parsed;
    if (s.len > 3 && s.p[3] == ',')
        parsed = parse_imf(&c, &d);
    else if (s.len > 3 && s.p[3] == ' ')
        parsed = parse_asctime(&c, &d);
    else
        parsed = parse_rfc850(&c, &d);
    if (!parsed || c.i != c.len)
        return -1;
    return to_epoch(&d, out);
}
