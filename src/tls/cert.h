/* Local certificate authority and leaf certificates: a CA kept in the state dir, and leaves
 * issued by it (or self-signed) with proper SANs, written as PEM files atomically. May block. */
#ifndef WSSGATE_TLS_CERT_H
#define WSSGATE_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>

/* Every function here returns its error as text in err[errlen] (always NUL-terminated when
 * errlen > 0; err may be NULL when errlen is 0). Messages name the file or name involved and say
 * what to do, ready for main/cmd_* to print. Nothing is logged, nothing exits. Functions touch no
 * global state except OpenSSL's error queue, which they leave empty: they are safe to call from
 * any one thread at a time per state dir (the CA and host files are additionally guarded by a
 * flock on dir/.lock, so two wssgate processes sharing a state dir do not race). */

/* Names of the files in a state dir. */
#define CERT_CA_FILE     "ca.pem"
#define CERT_CA_KEY_FILE "ca-key.pem"
#define CERT_HOSTS_DIR   "hosts"

/* Most names one certificate can carry; the longest name is 253 bytes (RFC 1035). */
#define CERT_MAX_NAMES    100
#define CERT_MAX_NAME_LEN 253
/* Leaf validity: browsers refuse TLS server certificates valid for more than 398 days. */
#define CERT_MAX_DAYS     397
/* cert_ensure_host reissues a leaf that expires in fewer than this many days. */
#define CERT_RENEW_DAYS   30

/* A CA certificate and its private key loaded in memory. Opaque; made by cert_ca_load_or_create,
 * released by cert_ca_free. Read-only after load: may be shared by threads for cert_issue. */
struct cert_ca;

/* Writes the default state dir into out[cap]: $WSSGATE_HOME if set and not empty, else
 * $HOME/.local/share/wssgate (the passwd entry's home when $HOME is unset). Does not create it.
 * Returns 0, or -1 with err filled (no home, or the path does not fit in cap). */
int cert_state_dir(char *out, size_t cap, char *err, size_t errlen);

/* Writes "dir/ca.pem" into out[cap]. Returns 0, or -1 when it does not fit. */
int cert_ca_path(const char *dir, char *out, size_t cap);

/* Loads dir/ca.pem and dir/ca-key.pem. When neither exists, first creates dir (mode 0700, parents
 * too) and a new CA: ECDSA P-256, CN "wssgate local CA <hostname> <YYYY-MM-DD>", basicConstraints
 * critical CA:TRUE pathlen:0, keyUsage critical keyCertSign+cRLSign, subjectKeyIdentifier, valid
 * 10 years from one hour ago; the key is written mode 0600, the certificate 0644, each atomically
 * (temp file + fsync + rename). *created (may be NULL) is set to true when the CA was made by this
 * call, false when loaded.
 * Refuses, with an err that names the missing file and what to do: one of the two files without
 * the other. Also refuses a CA whose key does not match its certificate, a certificate that is not
 * a CA, an expired CA, and an encrypted key (never prompts for a passphrase).
 * Returns a new cert_ca owned by the caller (release with cert_ca_free), or NULL with err. */
struct cert_ca *cert_ca_load_or_create(const char *dir, bool *created, char *err, size_t errlen);

/* Releases ca and its key. NULL is allowed. */
void cert_ca_free(struct cert_ca *ca);

enum cert_key_type { CERT_KEY_EC_P256, CERT_KEY_RSA_2048 };

/* Options of a leaf. A NULL opts pointer means { CERT_KEY_EC_P256, CERT_MAX_DAYS }. */
struct cert_issue_opts {
    enum cert_key_type key_type;
    int days; /* 1..CERT_MAX_DAYS; 0 means CERT_MAX_DAYS; counted from notBefore */
};

/* Issues a TLS server certificate for names[0..n) signed by ca, with a new key.
 * Each name is a DNS name ("example.com", "localhost"), a wildcard whose "*" is the whole leftmost
 * label of at least three ("*.example.com"), an IPv4 address, or an IPv6 address (brackets
 * allowed: "[::1]"). DNS names are lowercased; IPs become iPAddress SANs, others dNSName SANs.
 * Refused with an err naming the name and why: empty, longer than 253 bytes, a label longer than
 * 63, empty labels, characters other than letters, digits, '-', '_' (spaces, '/', non-ASCII: IDNs
 * must be given in their xn-- form), a misplaced '*', a wildcard over a single label ("*.com"), a
 * name ending in a numeric label that is not a valid IPv4 address; n == 0 or n > CERT_MAX_NAMES.
 * The certificate: subject O "wssgate development certificate" + CN names[0] (when it fits in 64
 * bytes; browsers read only the SAN), SAN of all names, basicConstraints critical CA:FALSE,
 * keyUsage critical digitalSignature (+keyEncipherment for RSA), extendedKeyUsage serverAuth,
 * subject and authority key identifiers, random positive 128-bit serial, notBefore one hour ago
 * (clock skew), notAfter notBefore + days but never past the CA's notAfter, SHA-256 signature.
 * Writes cert_path (mode 0644: the leaf, then the CA certificate: the chain a server sends) and
 * key_path (mode 0600, unencrypted PKCS#8), each atomically; the directories must exist.
 * Returns 0, or -1 with err (no file is left half-written; on a failure between the two renames the
 * old key may sit next to the new certificate, which cert_ensure_host detects and repairs). */
int cert_issue(const struct cert_ca *ca, const char *const *names, size_t n,
               const struct cert_issue_opts *opts, const char *cert_path, const char *key_path,
               char *err, size_t errlen);

/* As cert_issue without a CA: one self-signed certificate (signed by its own new key) with the same
 * names, SAN and extensions, basicConstraints CA:FALSE; cert_path holds that certificate alone.
 * For clients that are told to trust this very certificate. Returns 0, or -1 with err. */
int cert_issue_self_signed(const char *const *names, size_t n, const struct cert_issue_opts *opts,
                           const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Ensures dir/hosts/<host>.pem + dir/hosts/<host>-key.pem hold a leaf for host that the current ca
 * signed, that covers host, whose key matches, and that stays valid for CERT_RENEW_DAYS more days;
 * otherwise (missing, unreadable, expiring, other CA, other name) issues a new one with default
 * options. dir/hosts is created (0700) when missing. <host> is the normalized name (lowercase DNS
 * name, canonical IP text, "*" spelled "_wildcard"), so host is validated as in cert_issue.
 * Writes the file paths into cert_out[cert_cap] and key_out[key_cap].
 * Returns 0, or -1 with err. */
int cert_ensure_host(const struct cert_ca *ca, const char *dir, const char *host, char *cert_out,
                     size_t cert_cap, char *key_out, size_t key_cap, char *err, size_t errlen);

/* What cert_describe reports about the first certificate of a PEM file, for printing. */
struct cert_info {
    char names[512];   /* SANs joined by ", " (CN when there is no SAN); ends in "..." if cut */
    char not_after[32]; /* "YYYY-MM-DD" (UTC) */
    char sha256[96];   /* "AB:CD:..." 32 bytes of the DER's SHA-256 */
};

/* Fills *info from the first certificate in cert_path. Returns 0, or -1 with err. */
int cert_describe(const char *cert_path, struct cert_info *info, char *err, size_t errlen);

#endif
