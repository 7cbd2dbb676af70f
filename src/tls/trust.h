/* Trust stores: adding wssgate's local CA to the system store (update-ca-certificates) and to
 * the NSS databases Chromium and Firefox read (through certutil), removing it, and telling where
 * it is trusted. Runs external programs and blocks: for the command line only. */
#ifndef WSSGATE_TLS_TRUST_H
#define WSSGATE_TLS_TRUST_H

#include <stdbool.h>
#include <stddef.h>

/* Name of the CA in NSS databases and of its file in the system store directory. */
#define TRUST_NICKNAME "wssgate-local-ca"
#define TRUST_FILE     "wssgate-local-ca.crt"
/* Debian's directory of locally added CAs, read by update-ca-certificates. */
#define TRUST_DEFAULT_DIR "/usr/local/share/ca-certificates"
/* Environment variable that redirects the system-store part (tests, containers). */
#define TRUST_DIR_ENV "WSSGATE_TRUST_DIR"

struct trust_opts {
    /* System store directory. NULL: $WSSGATE_TRUST_DIR when set and not empty, else
     * TRUST_DEFAULT_DIR. update-ca-certificates runs only for TRUST_DEFAULT_DIR. */
    const char *dir;
    /* Home whose NSS databases are used (~/.pki/nssdb, Firefox profiles). NULL: $HOME. */
    const char *home;
};

enum trust_kind {
    TRUST_SYSTEM,      /* the system store (curl, python, openssl, ...) */
    TRUST_NSS_CHROME,  /* ~/.pki/nssdb: Chromium and Chrome on Linux */
    TRUST_NSS_FIREFOX, /* a Firefox profile */
};

enum trust_state {
    TRUST_ABSENT,  /* not there */
    TRUST_PRESENT, /* this very CA is there */
    TRUST_OTHER,   /* another certificate under our name */
    TRUST_UNKNOWN, /* cannot tell (no certutil, unreadable) */
};

/* One store and what happened to it. */
struct trust_place {
    enum trust_kind kind;
    char where[1024];       /* directory or "sql:..." database */
    enum trust_state state; /* after the operation */
    bool changed;           /* the operation changed this store */
    bool failed;            /* the operation could not be done here; note says why and how */
    char note[512];         /* what was done, or why not */
};

#define TRUST_MAX_PLACES 16

struct trust_list {
    struct trust_place place[TRUST_MAX_PLACES];
    size_t n;
};

/* Resolves the system store directory of o into out[cap]. Returns 0, or -1 when it does not fit. */
int trust_dir(const struct trust_opts *o, char *out, size_t cap);

/* Where the CA in ca_path (PEM) is trusted: the system store directory and every NSS database
 * found (a missing ~/.pki/nssdb is listed as absent). Returns 0 with *out filled, or -1 with err
 * (ca_path unreadable). */
int trust_show(const char *ca_path, const struct trust_opts *o, struct trust_list *out, char *err,
               size_t errlen);

/* Adds the CA in ca_path to the system store directory (then runs update-ca-certificates when
 * that is Debian's directory) and to every NSS database (creating ~/.pki/nssdb when missing),
 * replacing an older wssgate CA of the same name. Goes on after a failure in one store.
 * Returns 0 when every store now trusts the CA, 1 when some store failed (see each place's
 * note), -1 with err when nothing could be tried (ca_path unreadable). */
int trust_install(const char *ca_path, const struct trust_opts *o, struct trust_list *out,
                  char *err, size_t errlen);

/* Removes wssgate's CA from the same stores (only a certificate equal to ca_path's from the
 * system directory; the NSS entry by name). Same return values as trust_install. */
int trust_uninstall(const char *ca_path, const struct trust_opts *o, struct trust_list *out,
                    char *err, size_t errlen);


#endif
