/* Adding wssgate's local CA to trust stores and removing it: a file in the system store
 * directory plus update-ca-certificates, and certutil on each NSS database in the home. */
#include "tls/trust.h"

#include "core/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

enum { PATH_CAP = 1024, OUT_CAP = 16384 };


/* Notes are filled like errors. */
static void note_set(char *note, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note_set(char *note, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(note, cap, fmt, ap);
    va_end(ap);
}

/* ---- programs ---- */

/* Full path of program prog in $PATH or the sbin directories (root's tools), or NULL. */
static const char *find_program(const char *prog, char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    const char *d = dirs;

    snprintf(dirs, sizeof dirs, "%s:/usr/local/sbin:/usr/sbin:/sbin",
             path != NULL ? path : "/usr/bin:/bin");
    while (*d != '\0') {
        size_t len = strcspn(d, ":");
        int n = snprintf(buf, cap, "%.*s/%s", (int)len, len ? d : ".", prog);
        if (n > 0 && (size_t)n < cap && access(buf, X_OK) == 0)
            return buf;
        d += len;
        if (*d == ':')
            d++;
    }
    return NULL;
}

/* Runs argv (argv[0] a full path) with stdin from /dev/null, stdout and stderr into out[cap]
 * (NUL-terminated, cut to fit). Returns the exit status, or -1 when it could not run. */
static int run(char *const argv[], char *out, size_t cap)
{
    int fds[2], status = 0;
    size_t len = 0;
    pid_t pid;

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        char tmp[4096];
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (len + 1 < cap) {
            size_t k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
            memcpy(out + len, tmp, k);
            len += k;
            out[len] = '\0';
        }
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The first line of a program's output, for a note. */
static const char *first_line(char *out)
{
    char *nl = strchr(out, '\n');

    if (nl != NULL)
        *nl = '\0';
    return out[0] ? out : "no output";
}

/* ---- certificates ---- */

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *x;

    if (f == NULL)
        return NULL;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    return x;
}

static X509 *cert_from_text(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    ERR_clear_error();
    return x;
}

/* State of path in the system directory relative to ca. */
static enum trust_state file_state(const char *path, X509 *ca)
{
    X509 *x;
    enum trust_state st;

    if (access(path, F_OK) != 0)
        return TRUST_ABSENT;
    x = read_cert(path);
    if (x == NULL)
        return TRUST_OTHER;
    st = X509_cmp(x, ca) == 0 ? TRUST_PRESENT : TRUST_OTHER;
    X509_free(x);
    return st;
}

static int write_pem_atomic(const char *path, X509 *ca, char *why, size_t cap)
{
    char tmp[PATH_CAP + 16];
    FILE *f;
    int fd, n = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);

    if (n < 0 || (size_t)n >= sizeof tmp) {
        note_set(why, cap, "path too long");
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        note_set(why, cap, "%s", strerror(errno));
        return -1;
    }
    f = fdopen(fd, "w");
    if (f == NULL || fchmod(fd, 0644) != 0 || PEM_write_X509(f, ca) != 1 || fflush(f) != 0 ||
        fsync(fd) != 0) {
        note_set(why, cap, "%s", strerror(errno ? errno : EIO));
        if (f != NULL)
            fclose(f);
        else
            close(fd);
        unlink(tmp);
        ERR_clear_error();
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        note_set(why, cap, "%s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- places ---- */

int trust_dir(const struct trust_opts *o, char *out, size_t cap)
{
    const char *d = o != NULL ? o->dir : NULL;
    const char *env = getenv(TRUST_DIR_ENV);
    int n;

    if (d == NULL || d[0] == '\0')
        d = env != NULL && env[0] != '\0' ? env : TRUST_DEFAULT_DIR;
    n = snprintf(out, cap, "%s", d);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static const char *home_of(const struct trust_opts *o)
{
    const char *h = o != NULL && o->home != NULL ? o->home : getenv("HOME");
    return h != NULL && h[0] != '\0' ? h : NULL;
}

static struct trust_place *add_place(struct trust_list *l, enum trust_kind kind, const char *fmt,
                                     ...) __attribute__((format(printf, 3, 4)));

static struct trust_place *add_place(struct trust_list *l, enum trust_kind kind, const char *fmt,
                                     ...)
{
    struct trust_place *p;
    va_list ap;

    if (l->n >= TRUST_MAX_PLACES)
        return NULL;
    p = &l->place[l->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    va_start(ap, fmt);
    vsnprintf(p->where, sizeof p->where, fmt, ap);
    va_end(ap);
    return p;
}

/* The system directory, then ~/.pki/nssdb (listed even when missing), Chromium's snap database,
 * and every Firefox profile with a cert9.db. */
static void list_places(const struct trust_opts *o, struct trust_list *l)
{
    static const char *const firefox[] = {"%s/.mozilla/firefox/*/cert9.db",
                                          "%s/snap/firefox/common/.mozilla/firefox/*/cert9.db"};
    char dir[PATH_CAP];
    const char *home = home_of(o);
    struct stat st;

    memset(l, 0, sizeof *l);
    if (trust_dir(o, dir, sizeof dir) == 0)
        add_place(l, TRUST_SYSTEM, "%s", dir);
    if (home == NULL)
        return;
    add_place(l, TRUST_NSS_CHROME, "%s/.pki/nssdb", home);
    snprintf(dir, sizeof dir, "%s/snap/chromium/current/.pki/nssdb", home);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        add_place(l, TRUST_NSS_CHROME, "%s", dir);
    for (size_t i = 0; i < sizeof firefox / sizeof firefox[0]; i++) {
        char pat[PATH_CAP];
        glob_t g;
        snprintf(pat, sizeof pat, firefox[i], home);
        if (glob(pat, 0, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            char *slash = strrchr(g.gl_pathv[k], '/');
            if (slash != NULL) {
                *slash = '\0';
                add_place(l, TRUST_NSS_FIREFOX, "%s", g.gl_pathv[k]);
            }
        }
        globfree(&g);
    }
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* State of the CA in an NSS database (by nickname, compared with ca). */
static enum trust_state nss_state(const char *certutil, const char *db, X509 *ca)
{
    char sql[PATH_CAP + 8], out[OUT_CAP];
    char *argv[] = {(char *)certutil, "-L", "-d", sql, "-n", TRUST_NICKNAME, "-a", NULL};
    X509 *x;
    enum trust_state st;
    int rc;

    if (!is_dir(db))
        return TRUST_ABSENT;
    if (certutil == NULL)
        return TRUST_UNKNOWN;
    snprintf(sql, sizeof sql, "sql:%s", db);
    rc = run(argv, out, sizeof out);
    if (rc < 0)
        return TRUST_UNKNOWN;
    if (rc != 0)
        return TRUST_ABSENT;
    x = cert_from_text(out);
    if (x == NULL)
        return TRUST_OTHER;
    st = X509_cmp(x, ca) == 0 ? TRUST_PRESENT : TRUST_OTHER;
    X509_free(x);
    return st;
}

static void fill_states(struct trust_list *l, X509 *ca, const char *certutil)
{
    for (size_t i = 0; i < l->n; i++) {
        struct trust_place *p = &l->place[i];
        if (p->kind == TRUST_SYSTEM) {
            char path[PATH_CAP + 32];
            snprintf(path, sizeof path, "%s/%s", p->where, TRUST_FILE);
            p->state = file_state(path, ca);
        } else {
            p->state = nss_state(certutil, p->where, ca);
        }
    }
}

static X509 *load_ca(const char *ca_path, char *err, size_t errlen)
{
    X509 *ca = read_cert(ca_path);

    if (ca == NULL)
        errbuf_set(err, errlen,
                "cannot read the CA certificate %s: run `wssgate cert NAME` or "
                "`wssgate cert --install` to create it",
                ca_path);
    return ca;
}

int trust_show(const char *ca_path, const struct trust_opts *o, struct trust_list *out, char *err,
               size_t errlen)
{
    char buf[PATH_CAP];
    X509 *ca = load_ca(ca_path, err, errlen);

    if (ca == NULL)
        return -1;
    list_places(o, out);
    fill_states(out, ca, find_program("certutil", buf, sizeof buf));
    for (size_t i = 0; i < out->n; i++)
        if (out->place[i].state == TRUST_UNKNOWN)
            note_set(out->place[i].note, sizeof out->place[i].note,
                     "certutil not found (apt-get install libnss3-tools)");
    X509_free(ca);
    return 0;
}

/* Runs update-ca-certificates when dir is Debian's directory; says what happened in p->note. */
static void update_system(struct trust_place *p, bool adding)
{
    char prog[PATH_CAP], out[OUT_CAP];
    char *argv[] = {prog, NULL};
    size_t len = strlen(p->note);

    if (strcmp(p->where, TRUST_DEFAULT_DIR) != 0) {
        snprintf(p->note + len, sizeof p->note - len,
                 "; update-ca-certificates not run (the directory is not %s: %s is set)",
                 TRUST_DEFAULT_DIR, TRUST_DIR_ENV);
        return;
    }
    if (find_program("update-ca-certificates", prog, sizeof prog) == NULL) {
        p->failed = true;
        snprintf(p->note + len, sizeof p->note - len,
                 "; update-ca-certificates not found: apt-get install ca-certificates, then run "
                 "it");
        return;
    }
    if (run(argv, out, sizeof out) != 0) {
        p->failed = true;
        snprintf(p->note + len, sizeof p->note - len, "; update-ca-certificates failed: %s",
                 first_line(out));
        return;
    }
    snprintf(p->note + len, sizeof p->note - len, "; update-ca-certificates %s /etc/ssl/certs",
             adding ? "added it to" : "removed it from");
}

static void system_install(struct trust_place *p, X509 *ca)
{
    char path[PATH_CAP + 32], why[256];

    snprintf(path, sizeof path, "%s/%s", p->where, TRUST_FILE);
    if (p->state == TRUST_PRESENT) {
        note_set(p->note, sizeof p->note, "already there (%s)", path);
        return;
    }
    if (!is_dir(p->where) && mkdir(p->where, 0755) != 0) {
        p->failed = true;
        note_set(p->note, sizeof p->note, "cannot create %s: %s%s", p->where, strerror(errno),
                 errno == EACCES ? " (run as root: sudo wssgate cert --install)" : "");
        return;
    }
    if (write_pem_atomic(path, ca, why, sizeof why) != 0) {
        p->failed = true;
        note_set(p->note, sizeof p->note, "cannot write %s: %s%s", path, why,
                 access(p->where, W_OK) != 0 ? " (run as root: sudo wssgate cert --install)" : "");
        return;
    }
    p->changed = true;
    p->state = TRUST_PRESENT;
    note_set(p->note, sizeof p->note, "wrote %s", path);
    update_system(p, true);
}

static void system_uninstall(struct trust_place *p)
{
    char path[PATH_CAP + 32];

    snprintf(path, sizeof path, "%s/%s", p->where, TRUST_FILE);
    if (p->state == TRUST_ABSENT) {
        note_set(p->note, sizeof p->note, "not there");
        return;
    }
    if (p->state == TRUST_OTHER) {
        note_set(p->note, sizeof p->note,
                 "%s holds another certificate (another wssgate CA?): left alone; delete it by "
                 "hand if it is yours",
                 path);
        return;
    }
    if (unlink(path) != 0) {
        p->failed = true;
        note_set(p->note, sizeof p->note, "cannot remove %s: %s%s", path, strerror(errno),
                 errno == EACCES ? " (run as root: sudo wssgate cert --uninstall)" : "");
        return;
    }
    p->changed = true;
    p->state = TRUST_ABSENT;
    note_set(p->note, sizeof p->note, "removed %s", path);
    update_system(p, false);
}

static int certutil_do(const char *certutil, const char *db, char *const extra[], char *out,
                       size_t cap)
{
    char sql[PATH_CAP + 8];
    char *argv[16];
    int n = 0;

    snprintf(sql, sizeof sql, "sql:%s", db);
    argv[n++] = (char *)certutil;
    for (int i = 0; extra[i] != NULL && n < 12; i++)
        argv[n++] = extra[i];
    argv[n++] = "-d";
    argv[n++] = sql;
    argv[n] = NULL;
    return run(argv, out, cap);
}

/* Deletes every entry named TRUST_NICKNAME (several may exist). */
static void nss_delete(const char *certutil, const char *db, char *out, size_t cap)
{
    char *del[] = {"-D", "-n", TRUST_NICKNAME, NULL};

    for (int i = 0; i < 8; i++)
        if (certutil_do(certutil, db, del, out, cap) != 0)
            break;
}

static void nss_install(struct trust_place *p, const char *certutil, const char *ca_path, X509 *ca)
{
    char out[OUT_CAP];
    char *create[] = {"-N", "--empty-password", NULL};
    char *add[] = {"-A", "-t", "C,,", "-n", TRUST_NICKNAME, "-i", (char *)ca_path, NULL};

    if (certutil == NULL) {
        p->failed = true;
        note_set(p->note, sizeof p->note,
                 "certutil not found: apt-get install libnss3-tools, then run this again");
        return;
    }
    if (p->state == TRUST_PRESENT) {
        note_set(p->note, sizeof p->note, "already there");
        return;
    }
    if (!is_dir(p->where)) {
        char parent[PATH_CAP];
        char *slash;
        snprintf(parent, sizeof parent, "%s", p->where);
        slash = strrchr(parent, '/');
        if (slash != NULL) {
            *slash = '\0';
            (void)mkdir(parent, 0700);
        }
        if (mkdir(p->where, 0700) != 0 ||
            certutil_do(certutil, p->where, create, out, sizeof out) != 0) {
            p->failed = true;
            note_set(p->note, sizeof p->note, "cannot create the NSS database: %s",
                     out[0] ? first_line(out) : strerror(errno));
            return;
        }
    }
    if (p->state == TRUST_OTHER)
        nss_delete(certutil, p->where, out, sizeof out);
    if (certutil_do(certutil, p->where, add, out, sizeof out) != 0) {
        p->failed = true;
        note_set(p->note, sizeof p->note, "certutil -A failed: %s", first_line(out));
        return;
    }
    p->state = nss_state(certutil, p->where, ca);
    p->changed = true;
    note_set(p->note, sizeof p->note, "added as \"%s\" (trusted for TLS servers)%s", TRUST_NICKNAME,
             p->kind == TRUST_NSS_CHROME ? "; restart Chromium/Chrome" : "; restart Firefox");
}

static void nss_uninstall(struct trust_place *p, const char *certutil, X509 *ca)
{
    char out[OUT_CAP];

    if (p->state == TRUST_ABSENT) {
        note_set(p->note, sizeof p->note, "not there");
        return;
    }
    if (certutil == NULL) {
        p->failed = true;
        note_set(p->note, sizeof p->note,
                 "certutil not found: apt-get install libnss3-tools, then run this again");
        return;
    }
    nss_delete(certutil, p->where, out, sizeof out);
    p->state = nss_state(certutil, p->where, ca);
    if (p->state != TRUST_ABSENT) {
        p->failed = true;
        note_set(p->note, sizeof p->note, "certutil -D did not remove it: %s", first_line(out));
        return;
    }
    p->changed = true;
    note_set(p->note, sizeof p->note, "removed \"%s\"", TRUST_NICKNAME);
}

static int change(const char *ca_path, const struct trust_opts *o, struct trust_list *out,
                  bool install, char *err, size_t errlen)
{
    char buf[PATH_CAP];
    const char *certutil = find_program("certutil", buf, sizeof buf);
    X509 *ca = load_ca(ca_path, err, errlen);
    int rc = 0;

    if (ca == NULL)
        return -1;
    list_places(o, out);
    fill_states(out, ca, certutil);
    for (size_t i = 0; i < out->n; i++) {
        struct trust_place *p = &out->place[i];
        if (p->kind == TRUST_SYSTEM && install)
            system_install(p, ca);
        else if (p->kind == TRUST_SYSTEM)
            system_uninstall(p);
        else if (install)
            nss_install(p, certutil, ca_path, ca);
        else
            nss_uninstall(p, certutil, ca);
        if (p->failed)
            rc = 1;
    }
    X509_free(ca);
    return rc;
}

int trust_install(const char *ca_path, const struct trust_opts *o, struct trust_list *out,
                  char *err, size_t errlen)
{
    return change(ca_path, o, out, true, err, errlen);
}

int trust_uninstall(const char *ca_path, const struct trust_opts *o, struct trust_list *out,
                    char *err, size_t errlen)
{
    return change(ca_path, o, out, false, err, errlen);
}
