/* `wssgate cert NAME...` issues a certificate (local CA or --self-signed); `--install` and
 * `--uninstall` put the local CA into or out of the trust stores; `--show` tells where it is. */
#include "cli/cmd.h"

#include "tls/cert.h"
#include "tls/trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PATH_CAP 1200

static void usage(FILE *f)
{
    fputs("usage: wssgate cert NAME... [--rsa] [--self-signed] [--force] [--days N]\n"
          "                            [--dir DIR | --cert-file FILE --key-file FILE]\n"
          "       wssgate cert --install | --uninstall | --show [--trust-dir DIR]\n"
          "NAME is a DNS name (chat.example.com, localhost), a wildcard (*.example.com) or an\n"
          "IP address (127.0.0.1, ::1); every NAME goes into the certificate's subjectAltName.\n"
          "  --rsa             RSA 2048 key (default ECDSA P-256)\n"
          "  --self-signed     one self-signed certificate instead of one signed by the local CA\n"
          "  --days N          validity, 1 to 397 days (default 397)\n"
          "  --dir DIR         write the files there (default: the current directory)\n"
          "  --cert-file FILE  --key-file FILE   exact file names\n"
          "  --force           replace existing files\n"
          "  --install         trust the local CA: system store (update-ca-certificates) and the\n"
          "                    NSS databases of Chromium (~/.pki/nssdb) and Firefox (certutil)\n"
          "  --uninstall       remove it from those stores\n"
          "  --show            the CA and where it is trusted\n"
          "  --trust-dir DIR   system store directory (default " TRUST_DEFAULT_DIR
          ", or $" TRUST_DIR_ENV ")\n"
          "The local CA lives in $WSSGATE_HOME (default ~/.local/share/wssgate).\n",
          f);
}

struct cert_args {
    const char *names[CERT_MAX_NAMES];
    size_t n;
    bool rsa, self_signed, force, install, uninstall, show;
    int days;
    const char *dir, *cert_file, *key_file, *trust_dir;
};

static int parse_days(const char *v, int *days)
{
    char *end;
    long d;

    errno = 0;
    d = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || d < 1 || d > CERT_MAX_DAYS) {
        fprintf(stderr, "wssgate cert: --days %s: expected 1 to %d (browsers refuse longer)\n", v,
                CERT_MAX_DAYS);
        return -1;
    }
    *days = (int)d;
    return 0;
}

/* Returns 0, or 2 for a usage error (message printed), or -1 for --help (printed). */
static int parse_args(int argc, char **argv, struct cert_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char *eq = strncmp(s, "--", 2) == 0 ? strchr(s, '=') : NULL;
        size_t n = eq != NULL ? (size_t)(eq - s) : strlen(s);
        const char *v = NULL;
#define IS(name) (n == sizeof(name) - 1 && strncmp(s, name, n) == 0)
        if (IS("--dir") || IS("--cert-file") || IS("--key-file") || IS("--days") ||
            IS("--trust-dir")) {
            if (eq != NULL) {
                v = eq + 1;
            } else if (i + 1 < argc) {
                v = argv[++i];
            } else {
                fprintf(stderr, "wssgate cert: %s needs a value\n", s);
                return 2;
            }
        }
        if (IS("--help") || IS("-h")) {
            usage(stdout);
            return -1;
        } else if (IS("--rsa")) {
            a->rsa = true;
        } else if (IS("--self-signed")) {
            a->self_signed = true;
        } else if (IS("--force")) {
            a->force = true;
        } else if (IS("--install")) {
            a->install = true;
        } else if (IS("--uninstall")) {
            a->uninstall = true;
        } else if (IS("--show")) {
            a->show = true;
        } else if (IS("--dir")) {
            a->dir = v;
        } else if (IS("--cert-file")) {
            a->cert_file = v;
        } else if (IS("--key-file")) {
            a->key_file = v;
        } else if (IS("--trust-dir")) {
            a->trust_dir = v;
        } else if (IS("--days")) {
            if (parse_days(v, &a->days) != 0)
                return 2;
        } else if (s[0] == '-' && s[1] == '-') {
            fprintf(stderr, "wssgate cert: unknown option %s\n", s);
            return 2;
        } else if (a->n >= CERT_MAX_NAMES) {
            fprintf(stderr, "wssgate cert: at most %d names in one certificate\n", CERT_MAX_NAMES);
            return 2;
        } else {
            a->names[a->n++] = s;
        }
#undef IS
    }
    if (a->install + a->uninstall + a->show > 1) {
        fprintf(stderr, "wssgate cert: --install, --uninstall and --show go one at a time\n");
        return 2;
    }
    if ((a->uninstall || a->show) && a->n > 0) {
        fprintf(stderr, "wssgate cert: --%s takes no NAME\n", a->show ? "show" : "uninstall");
        return 2;
    }
    if (a->n == 0 && !a->install && !a->uninstall && !a->show) {
        fprintf(stderr, "wssgate cert: name the certificate, e.g. wssgate cert localhost "
                        "127.0.0.1, or give --install, --uninstall or --show\n");
        return 2;
    }
    if ((a->cert_file == NULL) != (a->key_file == NULL)) {
        fprintf(stderr, "wssgate cert: --cert-file and --key-file go together\n");
        return 2;
    }
    if (a->cert_file != NULL && a->dir != NULL) {
        fprintf(stderr, "wssgate cert: --dir or --cert-file/--key-file, not both\n");
        return 2;
    }
    if (a->self_signed && a->install) {
        fprintf(stderr, "wssgate cert: --install trusts the local CA; a --self-signed "
                        "certificate is not signed by it (import that certificate itself)\n");
        return 2;
    }
    return 0;
}

/* File base name for the names: the first one ("*" spelled "_wildcard", brackets and case
 * dropped), "+N" when there are N more. */
static void base_name(const struct cert_args *a, char *out, size_t cap)
{
    const char *first = a->names[0];
    size_t len = strlen(first), k = 0;
    int w = 0;

    if (len >= 2 && first[0] == '[' && first[len - 1] == ']') {
        first++;
        len -= 2;
    }
    if (first[0] == '*') {
        w = snprintf(out, cap, "_wildcard");
        first++;
        len--;
    }
    k = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        char c = first[i];
        out[k++] = (c == '/' || c == '\0') ? '_' : (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    out[k] = '\0';
    if (a->n > 1 && k + 8 < cap)
        snprintf(out + k, cap - k, "+%zu", a->n - 1);
}

static int paths(const struct cert_args *a, char *cp, char *kp)
{
    char base[300];
    const char *dir = a->dir != NULL ? a->dir : ".";
    int x, y;

    if (a->cert_file != NULL) {
        x = snprintf(cp, PATH_CAP, "%s", a->cert_file);
        y = snprintf(kp, PATH_CAP, "%s", a->key_file);
    } else {
        base_name(a, base, sizeof base);
        x = snprintf(cp, PATH_CAP, "%s/%s.pem", dir, base);
        y = snprintf(kp, PATH_CAP, "%s/%s-key.pem", dir, base);
    }
    if (x < 0 || x >= PATH_CAP || y < 0 || y >= PATH_CAP) {
        fprintf(stderr, "wssgate cert: file path too long\n");
        return -1;
    }
    return 0;
}

/* Loads (or creates, saying so) the local CA. */
static struct cert_ca *open_ca(char *dir, size_t dcap, char *ca_path, size_t ccap)
{
    char err[1024];
    bool created = false;
    struct cert_ca *ca;

    if (cert_state_dir(dir, dcap, err, sizeof err) != 0) {
        fprintf(stderr, "wssgate cert: %s\n", err);
        return NULL;
    }
    ca = cert_ca_load_or_create(dir, &created, err, sizeof err);
    if (ca == NULL) {
        fprintf(stderr, "wssgate cert: %s\n", err);
        return NULL;
    }
    cert_ca_path(dir, ca_path, ccap);
    if (created)
        printf("created a local certificate authority: %s\n", ca_path);
    return ca;
}

static void print_issued(const struct cert_args *a, const char *cp, const char *kp,
                         const char *ca_path)
{
    struct cert_info info;
    char err[512], acp[PATH_MAX], akp[PATH_MAX];
    const char *host = a->names[0];

    if (cert_describe(cp, &info, err, sizeof err) != 0) {
        fprintf(stderr, "wssgate cert: %s\n", err);
        return;
    }
    if (realpath(cp, acp) == NULL)
        snprintf(acp, sizeof acp, "%s", cp);
    if (realpath(kp, akp) == NULL)
        snprintf(akp, sizeof akp, "%s", kp);
    printf("certificate: %s%s\n", cp,
           a->self_signed ? "" : "  (the certificate, then the CA's: the chain a server sends)");
    printf("key:         %s  (mode 0600)\n", kp);
    printf("names:       %s\n", info.names);
    printf("key type:    %s\n", a->rsa ? "RSA 2048" : "ECDSA P-256");
    printf("expires:     %s\n", info.not_after);
    printf("sha256:      %s\n", info.sha256);
    if (a->self_signed)
        printf("signed by:   itself (self-signed): a browser trusts it only where this very "
               "certificate was imported, e.g.\n"
               "             certutil -d sql:$HOME/.pki/nssdb -A -t \"P,,\" -n %s -i %s\n",
               host, acp);
    else
        printf("signed by:   wssgate's local CA %s\n"
               "             browsers trust it once that CA is installed: wssgate cert "
               "--install\n",
               ca_path);
    printf("use it:      wssgate proxy --from https://%s:8443 --to ws://127.0.0.1:9502 --cert %s "
           "--key %s\n"
           "             or in a config: ssl_certificate %s; ssl_certificate_key %s;\n",
           host[0] == '*' ? "localhost" : host, acp, akp, acp, akp);
}

static int issue(const struct cert_args *a, char *ca_path, size_t ccap)
{
    char cp[PATH_CAP], kp[PATH_CAP], dir[1024], err[1024];
    struct cert_issue_opts opts = {a->rsa ? CERT_KEY_RSA_2048 : CERT_KEY_EC_P256, a->days};
    struct cert_ca *ca = NULL;
    int rc;

    if (paths(a, cp, kp) != 0)
        return 2;
    if (!a->force && (access(cp, F_OK) == 0 || access(kp, F_OK) == 0)) {
        fprintf(stderr,
                "wssgate cert: %s already exists: pass --force to replace it (or choose "
                "another --dir)\n",
                access(cp, F_OK) == 0 ? cp : kp);
        return 1;
    }
    if (a->self_signed) {
        rc = cert_issue_self_signed(a->names, a->n, &opts, cp, kp, err, sizeof err);
    } else {
        ca = open_ca(dir, sizeof dir, ca_path, ccap);
        if (ca == NULL)
            return 1;
        rc = cert_issue(ca, a->names, a->n, &opts, cp, kp, err, sizeof err);
        cert_ca_free(ca);
    }
    if (rc != 0) {
        fprintf(stderr, "wssgate cert: %s\n", err);
        /* a NAME that is not a name is a usage error */
        return strncmp(err, "invalid name", 12) == 0 ? 2 : 1;
    }
    print_issued(a, cp, kp, ca_path);
    return 0;
}

static const char *kind_name(enum trust_kind k)
{
    switch (k) {
    case TRUST_SYSTEM:
        return "system store";
    case TRUST_NSS_CHROME:
        return "Chromium (NSS)";
    case TRUST_NSS_FIREFOX:
    default:
        return "Firefox (NSS)";
    }
}

static const char *state_name(enum trust_state s)
{
    switch (s) {
    case TRUST_PRESENT:
        return "trusts it";
    case TRUST_ABSENT:
        return "does not trust it";
    case TRUST_OTHER:
        return "holds ANOTHER wssgate CA under that name";
    case TRUST_UNKNOWN:
    default:
        return "unknown";
    }
}

static void print_places(const struct trust_list *l, bool notes)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct trust_place *p = &l->place[i];
        printf("  %-15s %s: %s%s%s\n", kind_name(p->kind), p->where,
               notes ? (p->failed ? "FAILED: " : "") : state_name(p->state),
               notes ? p->note : (p->note[0] ? " — " : ""), notes ? "" : p->note);
    }
}

static int trust_cmd(const struct cert_args *a, char *ca_path, size_t ccap)
{
    struct trust_opts to = {.dir = a->trust_dir, .home = NULL};
    struct trust_list l;
    struct cert_info info;
    char dir[1024], err[1024];
    int rc;

    if (a->install && ca_path[0] == '\0') {
        struct cert_ca *ca = open_ca(dir, sizeof dir, ca_path, ccap);
        if (ca == NULL)
            return 1;
        cert_ca_free(ca);
    } else if (ca_path[0] == '\0') {
        if (cert_state_dir(dir, sizeof dir, err, sizeof err) != 0) {
            fprintf(stderr, "wssgate cert: %s\n", err);
            return 1;
        }
        cert_ca_path(dir, ca_path, ccap);
        if (access(ca_path, F_OK) != 0) {
            printf("no local CA yet (%s): `wssgate cert NAME`, `wssgate cert --install`, "
                   "`wssgate proxy` and `wssgate demo` create it\n",
                   ca_path);
            return 0;
        }
    }
    if (a->show) {
        if (cert_describe(ca_path, &info, err, sizeof err) != 0 ||
            trust_show(ca_path, &to, &l, err, sizeof err) != 0) {
            fprintf(stderr, "wssgate cert: %s\n", err);
            return 1;
        }
        printf("local CA:   %s\nsubject:    %s\nexpires:    %s\nsha256:     %s\nwhere it is "
               "trusted:\n",
               ca_path, info.names, info.not_after, info.sha256);
        print_places(&l, false);
        return 0;
    }
    rc = a->install ? trust_install(ca_path, &to, &l, err, sizeof err)
                    : trust_uninstall(ca_path, &to, &l, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "wssgate cert: %s\n", err);
        return 1;
    }
    printf("%s wssgate's local CA %s:\n", a->install ? "trusting" : "removing", ca_path);
    print_places(&l, true);
    if (rc != 0)
        fprintf(stderr, "wssgate cert: some stores could not be changed (see FAILED above)\n");
    return rc == 0 ? 0 : 1;
}

int cmd_cert(int argc, char **argv)
{
    struct cert_args a = {.days = 0};
    char ca_path[PATH_CAP] = "";
    int rc = parse_args(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (a.n > 0) {
        rc = issue(&a, ca_path, sizeof ca_path);
        if (rc != 0 || (!a.install))
            return rc;
        putchar('\n');
    }
    return trust_cmd(&a, ca_path, sizeof ca_path);
}
