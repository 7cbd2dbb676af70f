/* What a browser would think of a server's certificate chain: trust (system store, --ca, the
 * local CA), the host against the SAN (wildcard and IP rules, CN ignored), validity dates. */
#ifndef WSSGATE_DOCTOR_CHAIN_CHECK_H
#define WSSGATE_DOCTOR_CHAIN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct chain_opts {
    bool system_store;   /* trust OpenSSL's default CA locations (/etc/ssl/certs) */
    const char *ca_file; /* one more trusted CA file (PEM, may hold several), or NULL */
    const char
        *local_ca; /* wssgate's local CA file, or NULL: tried only when nothing else trusts */
    time_t at;     /* check validity at this time; 0 means now */
};

enum chain_trust {
    CHAIN_TRUSTED,          /* chains to the system store or the ca_file */
    CHAIN_TRUSTED_LOCAL_CA, /* chains only to the local CA */
    CHAIN_UNTRUSTED,
};

struct chain_verdict {
    enum chain_trust trust;
    bool self_signed;        /* the leaf signs itself */
    bool incomplete;         /* the issuer is missing and the server sent the leaf alone */
    char untrusted_why[160]; /* OpenSSL's words for the trust failure ("" when trusted) */
    char root[256];          /* subject CN (or the whole subject) of the anchor, when trusted */
    bool name_ok;            /* the host is in the SAN, by the browsers' rules */
    bool no_san;             /* the leaf has no DNS or IP subjectAltName at all */
    bool cn_matches;         /* the subject CN names the host (what old clients checked) */
    bool ip_as_dns;          /* the host is an IP written in the SAN as a DNS name */
    bool expired;            /* a certificate of the chain has expired (at o->at) */
    bool not_yet_valid;
    int date_depth;     /* 0: the leaf; 1..: the chain certificate with the date problem */
    long days_left;     /* of the leaf, negative when expired */
    char names[512];    /* the leaf's SANs, ", "-joined ("CN=x (no subjectAltName)" if none) */
    char issuer[256];   /* the leaf's issuer CN (or whole issuer name) */
    char not_after[32]; /* the leaf's notAfter, "YYYY-MM-DD" */
};

/* Examines chain (the leaf first, then what the server sent with it, as
 * SSL_get_peer_cert_chain on a client gives it; not modified) for host (a DNS name, or an IP
 * address without brackets). Returns 0 with *v filled, or -1 with err (ca_file unreadable, empty
 * chain, out of memory). Clears OpenSSL's error queue. */
int chain_check(STACK_OF(X509) * chain, const char *host, const struct chain_opts *o,
                struct chain_verdict *v, char *err, size_t errlen);

#endif
