/* Static files: root/alias mapping, what static_open makes of files, dirs, FIFOs, symlinks and
 * unreadable files, MIME lookups (checked against nginx's own mime.types), conditional GET, dates.
 */
#include "rm_tree.h"
#include "tap.h"
#include "site/mime.h"
#include "site/static.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static void in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static struct str cstr(const char *s)
{
    return str_from_cstr(s);
}

/* ---- path mapping ---- */

static void map_ok(const char *root, bool alias, const char *loc, const char *uri, const char *want)
{
    char out[256], name[400];
    snprintf(name, sizeof(name), "%s %s (location %s) + %s -> %s", alias ? "alias" : "root", root,
             loc, uri, want);
    long n = static_map_path(cstr(root), alias, cstr(loc), cstr(uri), out, sizeof(out));
    tap_is_mem(n < 0 ? "" : out, n < 0 ? 0 : (size_t)n, want, strlen(want), __FILE__, __LINE__,
               name);
    ok(n < 0 || out[n] == '\0', "  and NUL-terminated");
}

static void map_err(const char *root, bool alias, const char *loc, struct str uri, int want_errno,
                    const char *name)
{
    char out[256];
    errno = 0;
    long n = static_map_path(cstr(root), alias, cstr(loc), uri, out, sizeof(out));
    is_int(n, -1, name);
    is_int(errno, want_errno, "  errno");
}

static void test_map_path(void)
{
    map_ok("/var/www", false, "/", "/a/b.html", "/var/www/a/b.html");
    map_ok("/var/www/", false, "/", "/a/b.html", "/var/www/a/b.html");
    map_ok("/var/www", false, "/", "/", "/var/www/");
    map_ok("/", false, "/", "/x", "/x");
    map_ok("html", false, "/", "/x", "html/x");
    map_ok("/data/w/", true, "/i/", "/i/a.png", "/data/w/a.png");
    map_ok("/data/w/", true, "/i/", "/i/", "/data/w/");
    map_ok("/data/w/", true, "/i/", "/i/sub/a.png", "/data/w/sub/a.png");
    map_ok("/data/w", true, "/i/", "/i/a.png", "/data/wa.png");
    map_ok("/data/w/", true, "/i", "/i/a.png", "/data/w//a.png");
    map_ok("/data/w", true, "/i", "/i/a.png", "/data/w/a.png");
    map_ok("/data/w", true, "/i", "/i", "/data/w");
    map_ok("/data/w", true, "/i", "/i..", "/data/w..");
    map_ok("/data/w/", true, "/i", "/i...", "/data/w/...");
    map_ok("/data/f.txt", true, "/f.txt", "/f.txt", "/data/f.txt");
    /* regex location: the caller substitutes captures and passes the whole uri as the prefix */
    map_ok("/data/img/a.png", true, "/i/a.png", "/i/a.png", "/data/img/a.png");

    map_err("/data/w/", true, "/i", cstr("/i../etc/passwd"), EACCES,
            "alias traversal /i../ refused");
    map_err("/data/w/", true, "/i", cstr("/i.."), EACCES, "alias traversal /i.. refused");
    map_err("/data/w/.", true, "/i", cstr("/i./x"), EACCES, "alias \"/.\" + \".\" refused");
    map_err("/data/w/", true, "/i", cstr("/i."), EACCES, "alias + \".\" refused");
    map_err("/data/w/", true, "/i/", cstr("/j/a"), EINVAL, "uri outside the location");
    map_err("/data/w/", true, "/i/", cstr("/i"), EINVAL, "uri shorter than the location");
    map_err("/var/www", false, "/", cstr("x"), EINVAL, "root: uri without '/'");
    map_err("/var/www", false, "/", cstr(""), EINVAL, "root: empty uri");
    map_err("/var/www", false, "/", str_make("/a\0.png", 7), EINVAL, "NUL byte in uri");

    /* long paths: exactly fitting, one byte short, far too long */
    static char root[4001], out[4100];
    memset(root, 'r', 4000);
    root[0] = '/';
    long n = static_map_path(str_make(root, 4000), false, STR_NULL, cstr("/x"), out, 4003);
    is_int(n, 4002, "4002-byte path fits cap 4003");
    ok(n == 4002 && out[4000] == '/' && out[4001] == 'x' && out[4002] == '\0', "  bytes and NUL");
    errno = 0;
    is_int(static_map_path(str_make(root, 4000), false, STR_NULL, cstr("/x"), out, 4002), -1,
           "4002-byte path does not fit cap 4002");
    is_int(errno, ENAMETOOLONG, "  ENAMETOOLONG");
    is_int(static_map_path(cstr("/r"), false, STR_NULL, cstr("/x"), out, 0), -1, "cap 0");
    is_int(static_map_path(cstr("/data/"), true, cstr("/i/"), cstr("/i/abc"), out, 9), -1,
           "alias path one byte over");
    is_int(static_map_path(cstr("/data/"), true, cstr("/i/"), cstr("/i/abc"), out, 10), 9,
           "alias path exactly fits");
}

/* ---- static_open ---- */

static void write_file(const char *path, const char *content, int64_t mtime)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
        perror(path);
        exit(2);
    }
    close(fd);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    if (utimensat(AT_FDCWD, path, ts, 0) != 0) {
        perror("utimensat");
        exit(2);
    }
}

static void test_open_file(void)
{
    char p[128], buf[16];
    struct static_file f;
    in_tmp(p, sizeof(p), "hello.txt");
    write_file(p, "hello", 1700000000);

    is_int(static_open(p, &f), STATIC_FILE, "regular file is STATIC_FILE");
    is_int(f.kind, STATIC_FILE, "  kind stored");
    ok(f.fd >= 0, "  fd open");
    is_int(f.size, 5, "  size");
    is_int(f.mtime, 1700000000, "  mtime");
    is_str(cstr(f.etag), "\"6553f100-5\"", "  nginx ETag \"mtime-size\" in hex");
    is_int(read(f.fd, buf, sizeof(buf)), 5, "  readable");
    int fl = fcntl(f.fd, F_GETFL), fdfl = fcntl(f.fd, F_GETFD);
    ok(fl >= 0 && !(fl & O_NONBLOCK), "  O_NONBLOCK cleared");
    ok(fdfl >= 0 && (fdfl & FD_CLOEXEC), "  close-on-exec");
    ok((fl & O_ACCMODE) == O_RDONLY, "  read-only");
    static_close(&f);
    is_int(f.fd, -1, "static_close resets fd");
    static_close(&f);
    ok(1, "static_close twice is harmless");

    in_tmp(p, sizeof(p), "empty");
    write_file(p, "", 0x10);
    is_int(static_open(p, &f), STATIC_FILE, "empty file");
    is_str(cstr(f.etag), "\"10-0\"", "  ETag of an empty file");
    static_close(&f);
}

static void test_open_kinds(void)
{
    char p[128], q[128];
    struct static_file f;

    is_int(static_open(tmpdir, &f), STATIC_DIR, "directory is STATIC_DIR");
    ok(f.fd == -1 && f.etag[0] == '\0' && f.mtime > 0, "  no fd, no ETag, has mtime");

    in_tmp(p, sizeof(p), "nope.html");
    errno = 0;
    is_int(static_open(p, &f), STATIC_MISSING, "missing file");
    ok(f.fd == -1 && errno == ENOENT, "  fd -1, errno ENOENT");
    in_tmp(p, sizeof(p), "hello.txt/child");
    is_int(static_open(p, &f), STATIC_MISSING, "path through a file (ENOTDIR) is missing");

    in_tmp(p, sizeof(p), "fifo");
    if (mkfifo(p, 0644) != 0) {
        perror("mkfifo");
        exit(2);
    }
    alarm(10); /* a blocking open would hang here; SIGALRM then fails the run */
    errno = 0;
    is_int(static_open(p, &f), STATIC_FORBIDDEN, "FIFO is forbidden, without blocking");
    ok(f.fd == -1 && errno == EPERM, "  fd -1, errno EPERM");
    alarm(0);
    if (access("/dev/null", F_OK) == 0)
        is_int(static_open("/dev/null", &f), STATIC_FORBIDDEN, "character device is forbidden");

    in_tmp(p, sizeof(p), "link.txt");
    if (symlink("hello.txt", p) != 0)
        exit(2);
    is_int(static_open(p, &f), STATIC_FILE, "symlink to a file is followed");
    is_int(f.size, 5, "  target's size");
    static_close(&f);
    in_tmp(p, sizeof(p), "linkdir");
    if (symlink(".", p) != 0)
        exit(2);
    is_int(static_open(p, &f), STATIC_DIR, "symlink to a dir is a dir");
    in_tmp(p, sizeof(p), "dangling");
    if (symlink("no-such-target", p) != 0)
        exit(2);
    is_int(static_open(p, &f), STATIC_MISSING, "dangling symlink is missing");
    in_tmp(p, sizeof(p), "loop1");
    in_tmp(q, sizeof(q), "loop2");
    if (symlink("loop2", p) != 0 || symlink("loop1", q) != 0)
        exit(2);
    is_int(static_open(p, &f), STATIC_FORBIDDEN, "symlink loop (ELOOP) is forbidden");
}

/* Opens the 0000 file and the file in a 0000 dir; returns a bit per FORBIDDEN result. */
static int unreadable_checks(void)
{
    char p[128];
    struct static_file f;
    int r = 0;
    in_tmp(p, sizeof(p), "secret");
    if (static_open(p, &f) == STATIC_FORBIDDEN && errno == EACCES && f.fd == -1)
        r |= 1;
    in_tmp(p, sizeof(p), "closed/inner.txt");
    if (static_open(p, &f) == STATIC_FORBIDDEN)
        r |= 2;
    return r;
}

static void test_open_unreadable(void)
{
    char p[128];
    in_tmp(p, sizeof(p), "secret");
    write_file(p, "x", 1);
    chmod(p, 0);
    in_tmp(p, sizeof(p), "closed");
    mkdir(p, 0755);
    in_tmp(p, sizeof(p), "closed/inner.txt");
    write_file(p, "x", 1);
    in_tmp(p, sizeof(p), "closed");
    chmod(p, 0);

    int r;
    if (geteuid() != 0) {
        r = unreadable_checks();
    } else {
        /* root reads everything: check as nobody in a child instead of skipping */
        chmod(tmpdir, 0755);
        pid_t pid = fork();
        if (pid == 0)
            _exit(setgid(65534) == 0 && setuid(65534) == 0 ? unreadable_checks() : 100);
        int st = 0;
        waitpid(pid, &st, 0);
        r = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    if (r == 100) {
        ok(1, "0000-mode file is forbidden # SKIP root and cannot become nobody");
        ok(1, "file in a 0000 dir is forbidden # SKIP root and cannot become nobody");
        return;
    }
    ok(r >= 0 && (r & 1), "0000-mode file is forbidden (EACCES)");
    ok(r >= 0 && (r & 2), "file in a 0000 dir is forbidden");
}

/* ---- MIME ---- */

static void mime_is(const struct mime_table *t, const char *path, const char *want)
{
    const char *got = mime_lookup(t, cstr(path));
    char name[200];
    snprintf(name, sizeof(name), "mime %s -> %s", path, want ? want : "NULL");
    if (want == NULL) {
        ok(got == NULL, name);
        if (got)
            printf("#   got %s\n", got);
        return;
    }
    is_str(cstr(got ? got : ""), want, name);
}

/* Every pair in the installed nginx's mime.types must be what mime_builtin says. */
static void test_mime_vs_nginx(void)
{
    FILE *fp = fopen("/etc/nginx/mime.types", "r");
    if (fp == NULL) {
        ok(1, "builtin matches /etc/nginx/mime.types # SKIP nginx not installed");
        return;
    }
    char line[512], type[256], path[128];
    int pairs = 0, bad = 0;
    while (fgets(line, sizeof(line), fp)) {
        char *semi = strchr(line, ';');
        if (semi == NULL)
            continue;
        *semi = '\0';
        char *s = line + strspn(line, " \t");
        size_t n = strcspn(s, " \t");
        snprintf(type, sizeof(type), "%.*s", (int)n, s);
        for (s += n; *(s += strspn(s, " \t")); s += n) {
            n = strcspn(s, " \t");
            snprintf(path, sizeof(path), "/d/f.%.*s", (int)n, s);
            const char *got = mime_lookup(mime_builtin(), cstr(path));
            pairs++;
            if (got == NULL || strcmp(got, type) != 0) {
                bad++;
                printf("# %s: got %s, nginx says %s\n", path, got ? got : "NULL", type);
            }
        }
    }
    fclose(fp);
    ok(pairs > 100 && bad == 0, "builtin table matches every pair of /etc/nginx/mime.types");
}

static void test_mime(void)
{
    const struct mime_table *b = mime_builtin();
    mime_is(b, "/index.html", "text/html");
    mime_is(b, "/INDEX.HTML", "text/html");
    mime_is(b, "/img/photo.JpG", "image/jpeg");
    mime_is(b, "/a/app.js", "application/javascript");
    mime_is(b, "/a.json", "application/json");
    mime_is(b, "/m.wasm", "application/wasm");
    mime_is(b, "/f.woff2", "font/woff2");
    mime_is(b, "/v.mp4", "video/mp4");
    mime_is(b, "/README", NULL);
    mime_is(b, "/.bashrc", NULL);
    mime_is(b, ".bashrc", NULL);
    mime_is(b, "/dir/.htaccess", NULL);
    mime_is(b, "/.hidden.txt", "text/plain");
    mime_is(b, "/a.html/readme", NULL);
    mime_is(b, "/a.", NULL);
    mime_is(b, "/a.tar.gz", NULL); /* nginx's list has no gz; "tar" must not be tried */
    mime_is(b, "/a.unknownext", NULL);
    mime_is(b, "/a.htmlx", NULL);
    mime_is(b, "/a.ht", NULL);
    mime_is(b, "", NULL);
    ok(mime_lookup(NULL, cstr("/a.html")) == NULL, "NULL table -> NULL");
    test_mime_vs_nginx();

    struct mime_table *t = mime_table_new();
    ok(t != NULL, "mime_table_new");
    mime_is(t, "/a.html", NULL);
    is_int(mime_table_add(t, cstr("gz"), "application/gzip"), 0, "add gz");
    is_int(mime_table_add(t, cstr("HTML"), "text/html"), 0, "add HTML");
    is_int(mime_table_add(t, cstr("zz"), "x/zz"), 0, "add zz");
    is_int(mime_table_add(t, cstr("aa"), "x/aa"), 0, "add aa");
    mime_is(t, "/a.tar.gz", "application/gzip");
    mime_is(t, "/A.HTML", "text/html");
    mime_is(t, "/a.html", "text/html");
    mime_is(t, "/a.zz", "x/zz");
    mime_is(t, "/a.aa", "x/aa");
    is_int(mime_table_add(t, cstr("Html"), "application/xhtml+xml"), 0, "re-add html");
    mime_is(t, "/a.html", "application/xhtml+xml");
    errno = 0;
    is_int(mime_table_add(t, cstr(""), "x/y"), -1, "empty extension refused");
    is_int(errno, EINVAL, "  EINVAL");
    is_int(mime_table_add(t, cstr("tar.gz"), "x/y"), -1, "extension with a dot refused");
    char type[32];
    snprintf(type, sizeof(type), "x/mutable");
    is_int(mime_table_add(t, cstr("mut"), type), 0, "type is copied");
    type[0] = 'Z';
    mime_is(t, "/a.mut", "x/mutable");
    /* many adds, out of order: the table stays sorted and findable */
    char ext[16], want[32];
    int bad = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(ext, sizeof(ext), "e%d", (i * 7919) % 300);
        snprintf(want, sizeof(want), "t/%s", ext);
        if (mime_table_add(t, cstr(ext), want) != 0)
            bad++;
    }
    for (int i = 0; i < 300 && !bad; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/p.E%d", i);
        snprintf(want, sizeof(want), "t/e%d", i);
        const char *got = mime_lookup(t, cstr(path));
        bad += got == NULL || strcmp(got, want) != 0;
    }
    is_int(bad, 0, "300 shuffled adds all found");
    mime_is(t, "/a.gz", "application/gzip");
    mime_table_free(t);
    mime_table_free(NULL);
}

/* ---- conditional GET ---- */

static void nm(const struct static_file *f, const char *inm, const char *ims, bool want,
               const char *name)
{
    ok(static_not_modified(f, inm ? cstr(inm) : STR_NULL, ims ? cstr(ims) : STR_NULL) == want,
       name);
}

static void test_conditional(void)
{
    char p[128];
    struct static_file f;
    in_tmp(p, sizeof(p), "hello.txt");
    if (static_open(p, &f) != STATIC_FILE)
        exit(2);
    /* mtime 1700000000 = Tue, 14 Nov 2023 22:13:20 GMT, ETag "6553f100-5" */
    nm(&f, "\"6553f100-5\"", NULL, true, "INM exact");
    nm(&f, "W/\"6553f100-5\"", NULL, true, "INM weak form matches (weak comparison)");
    nm(&f, "\"a\", W/\"b\",\"6553f100-5\"", NULL, true, "INM list");
    nm(&f, " \"a\" ,  \"6553f100-5\" ", NULL, true, "INM list with spaces");
    nm(&f, "\"a\", \"b\"", NULL, false, "INM list without ours");
    nm(&f, "*", NULL, true, "INM *");
    nm(&f, "  *  ", NULL, true, "INM * with spaces");
    nm(&f, "\"6553f100-6\"", NULL, false, "INM other size");
    nm(&f, "6553f100-5", NULL, false, "INM unquoted is malformed");
    nm(&f, "\"a\" junk, \"6553f100-5\"", NULL, false, "INM malformed list stops");
    nm(&f, "\"6553f100-5", NULL, false, "INM unterminated");
    nm(&f, "\"a\"", "Wed, 15 Nov 2023 00:00:00 GMT", false, "INM no match wins over IMS");
    nm(&f, "\"6553f100-5\"", "Mon, 01 Jan 1990 00:00:00 GMT", true, "INM match wins over IMS");
    nm(&f, NULL, "Tue, 14 Nov 2023 22:13:20 GMT", true, "IMS equal");
    nm(&f, "", "Tue, 14 Nov 2023 22:13:20 GMT", true, "empty INM is absent");
    nm(&f, NULL, "Tue, 14 Nov 2023 22:13:21 GMT", true, "IMS later");
    nm(&f, NULL, "Tue, 14 Nov 2023 22:13:19 GMT", false, "IMS one second earlier");
    nm(&f, NULL, "Tuesday, 14-Nov-23 22:13:20 GMT", true, "IMS RFC 850");
    nm(&f, NULL, "Tue Nov 14 22:13:20 2023", true, "IMS asctime");
    nm(&f, NULL, "yesterday", false, "IMS invalid is ignored");
    nm(&f, NULL, "Tue, 14 Nov 2023 22:13:20 GMT; length=5", false, "IMS with junk is invalid");
    nm(&f, NULL, NULL, false, "no conditions");
    nm(&f, "", "", false, "empty conditions");
    static_close(&f);
    struct static_file d;
    static_open(tmpdir, &d);
    nm(&d, "*", "Fri, 31 Dec 9999 23:59:59 GMT", false, "only files are ever not modified");
}

/* ---- dates ---- */

static void date_is(int64_t t, const char *want)
{
    char out[STATIC_HTTP_DATE_LEN], name[80];
    static_http_date(t, out, sizeof(out));
    snprintf(name, sizeof(name), "date %lld", (long long)t);
    is_str(cstr(out), want, name);
}

static void parse_is(const char *s, int64_t want)
{
    int64_t got = -12345;
    char name[120];
    snprintf(name, sizeof(name), "parse '%s'", s);
    int r = static_http_date_parse(cstr(s), &got);
    if (want == -1) {
        is_int(r, -1, name);
        return;
    }
    ok(r == 0 && got == want, name);
    if (r != 0 || got != want)
        printf("#   r %d, got %lld, want %lld\n", r, (long long)got, (long long)want);
}

static void test_dates(void)
{
    date_is(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    date_is(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    date_is(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    date_is(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    date_is(1700000000, "Tue, 14 Nov 2023 22:13:20 GMT");
    date_is(INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT");
    date_is(INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT");
    char small[29] = "x";
    static_http_date(0, small, sizeof(small));
    is_int(small[0], 0, "cap 29 gives an empty string");

    parse_is("Sun, 06 Nov 1994 08:49:37 GMT", 784111777);
    parse_is("Sunday, 06-Nov-94 08:49:37 GMT", 784111777);
    parse_is("Sun Nov  6 08:49:37 1994", 784111777);
    parse_is("Sun Nov 06 08:49:37 1994", 784111777);
    parse_is("  Sun, 06 Nov 1994 08:49:37 GMT\t", 784111777);
    parse_is("Thursday, 01-Jan-04 00:00:00 GMT", 1072915200);
    parse_is("Tue, 29 Feb 2000 00:00:00 GMT", 951782400);
    parse_is("Wed, 31 Dec 1969 23:59:60 GMT", 0);
    parse_is("Fri, 31 Dec 9999 23:59:59 GMT", INT64_C(253402300799));
    parse_is("Mon, 29 Feb 1900 00:00:00 GMT", -1);
    parse_is("Sun, 31 Feb 1994 08:49:37 GMT", -1);
    parse_is("Sun, 00 Nov 1994 08:49:37 GMT", -1);
    parse_is("Sun, 06 Nov 1994 24:00:00 GMT", -1);
    parse_is("Sun, 06 Nov 1994 08:60:00 GMT", -1);
    parse_is("Sun, 06 Nov 1994 08:49:37 UTC", -1);
    parse_is("Sun, 06 Nov 1994 08:49:37 GMTx", -1);
    parse_is("Sun, 06 Nov 1994 08:49:37", -1);
    parse_is("Sun, 6 Nov 1994 08:49:37 GMT", -1);
    parse_is("sun, 06 nov 1994 08:49:37 GMT", -1);
    parse_is("Sun, 06 Nov 94 08:49:37 GMT", -1);
    parse_is("Sunday, 06-Nov-1994 08:49:37 GMT", -1);
    parse_is("Sun Nov  6 08:49:37 1994 GMT", -1);
    parse_is("Sun Nov 6 08:49:37 1994", -1);
    parse_is("Sun, 06 Nov 1994 8:49:37 GMT", -1);
    parse_is("", -1);
    parse_is("Sun", -1);
    parse_is("Sun,", -1);
    is_int(static_http_date_parse(STR_NULL, &(int64_t){0}), -1, "parse NULL slice");
    /* every prefix of a valid date is invalid (no reads past the slice under ASan) */
    const char *full = "Sun, 06 Nov 1994 08:49:37 GMT";
    int bad = 0;
    for (size_t n = 0; n < strlen(full); n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, full, n);
        int64_t t;
        bad += static_http_date_parse(str_make(copy, n), &t) != -1;
        free(copy);
    }
    is_int(bad, 0, "every proper prefix is invalid");
}

/* Format against gmtime_r/strftime and parse back, from 1900 to 9999. */
static void test_date_round_trip(void)
{
    int bad = 0, n = 0;
    for (int64_t t = INT64_C(-2208988800); t <= INT64_C(253402300799); t += 9876543, n++) {
        char got[STATIC_HTTP_DATE_LEN], want[64];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        static_http_date(t, got, sizeof(got));
        int64_t back = 0;
        if (strcmp(got, want) != 0 || static_http_date_parse(cstr(got), &back) != 0 || back != t) {
            if (bad++ < 3)
                printf("# %lld: got '%s' want '%s' back %lld\n", (long long)t, got, want,
                       (long long)back);
        }
    }
    ok(n > 20000 && bad == 0, "format matches gmtime/strftime and parses back (1900-9999)");
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/wssgate-test-static-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_map_path();
    test_open_file();
    test_open_kinds();
    test_open_unreadable();
    test_mime();
    test_conditional();
    test_dates();
    test_date_round_trip();

    char p[128];
    in_tmp(p, sizeof(p), "closed");
    chmod(p, 0755);
    if (rm_tree(tmpdir) != 0)
        printf("# could not remove %s\n", tmpdir);
    return tap_done();
}
