/* TLS for the doctor: handshake failures told apart (a plain port, an alert, silence), then the
 * certificate judged with chain_check and reported with the browser's priority:
 * authority > name > dates (Chromium's MapCertStatusToNetError). */
#include "doctor/probe_tls.h"

#include <stdio.h>
#include <string.h>

#include "doctor/chain_check.h"
#include "tls/trust.h"

/* A description of bytes that are not TLS: "plain HTTP (\"HTTP/1.1 400 Bad Request\")". */
static void describe_plain(const unsigned char *p, size_t n, char *out, size_t cap)
{
    char line[64];
    size_t k = 0;

    while (k < n && k + 1 < sizeof line && p[k] != '\r' && p[k] != '\n') {
        line[k] = (p[k] >= 0x20 && p[k] < 0x7f) ? (char)p[k] : '?';
        k++;
    }
    line[k] = '\0';
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        snprintf(out, cap, "plain HTTP (\"%s\")", line);
    else
        snprintf(out, cap, "bytes that are not TLS (\"%s\")", line);
}

static bool looks_like_tls(const unsigned char *p, size_t n)
{
    /* a TLS record: content type 20..23, then version major 3 */
    return n >= 1 && p[0] >= 20 && p[0] <= 23 && (n < 2 || p[1] == 3);
}

static int handshake(struct dconn *c, const struct wsurl *u, const struct probe_tls_opts *o,
                     struct report *r)
{
    char why[256], plain[128];
    int alert = -1;
    int rc = dconn_tls(c, u->ip ? NULL : u->host, o->timeout_ms, why, sizeof why, &alert);

    if (rc == 0)
        return 0;
    if (rc == DCONN_TIMEOUT) {
        report_step(r, "tls", STEP_FAIL, "no answer to the TLS ClientHello in %d ms",
                    o->timeout_ms);
        report_fail(r, "no-response",
                    "The server accepted the TCP connection but never answered the TLS "
                    "handshake: the port probably speaks plain ws:// or HTTP and waits for a "
                    "request (try ws:// instead of wss://, or put TLS in front of it).");
        return -1;
    }
    if (c->first_len > 0 && !looks_like_tls(c->first, c->first_len)) {
        dconn_more_first(c, 300);
        describe_plain(c->first, c->first_len, plain, sizeof plain);
        report_step(r, "tls", STEP_FAIL, "the port answered the TLS handshake with %s", plain);
        report_fail(r, "not-tls", "Port %d answered the TLS ClientHello with %s.", u->port, plain);
        return -1;
    }
    if (rc == DCONN_EOF) {
        report_step(r, "tls", STEP_FAIL,
                    "the server closed the connection during the TLS "
                    "handshake");
        snprintf(r->detail, sizeof r->detail, "ERR_CONNECTION_CLOSED");
        r->args.detail = r->detail;
        report_fail(r, "tls-failed",
                    "The server closed the connection on the TLS ClientHello without a word "
                    "(a TLS server without a certificate for this name, or not a TLS port).");
        return -1;
    }
    if (alert == 40 || alert == 70 || alert == 71) {
        report_step(r, "tls", STEP_FAIL, "the server refused the handshake: alert %s (%s)",
                    SSL_alert_desc_string_long(alert), why);
        snprintf(r->detail, sizeof r->detail, "ERR_SSL_VERSION_OR_CIPHER_MISMATCH");
        r->args.detail = r->detail;
        report_fail(r, "tls-failed",
                    "The server and the browser share no TLS version or cipher (the server sent "
                    "the alert \"%s\"): browsers need TLS 1.2 or 1.3 with an AEAD cipher.",
                    SSL_alert_desc_string_long(alert));
        return -1;
    }
    report_step(r, "tls", STEP_FAIL, "the TLS handshake failed: %s%s%s", why,
                alert >= 0 ? ", alert " : "", alert >= 0 ? SSL_alert_desc_string_long(alert) : "");
    report_fail(r, "tls-failed", "OpenSSL says: %s.", why);
    return -1;
}

/* Whether the browsers of this machine trust wssgate's local CA (some NSS database of
 * Chromium holds it). *where gets the Chromium database path. */
static bool local_ca_trusted(const char *ca, char *where, size_t cap)
{
    struct trust_list l;
    char err[256];

    where[0] = '\0';
    if (trust_show(ca, NULL, &l, err, sizeof err) != 0)
        return false;
    for (size_t i = 0; i < l.n; i++) {
        if (l.place[i].kind == TRUST_NSS_CHROME && where[0] == '\0')
            snprintf(where, cap, "%s", l.place[i].where);
        if (l.place[i].kind == TRUST_NSS_CHROME && l.place[i].state == TRUST_PRESENT)
            return true;
    }
    return false;
}

static void untrusted_cause(struct report *r, const struct chain_verdict *v,
                            const struct probe_tls_opts *o, const char *nssdb)
{
    const char *also = !v->name_ok ? " It does not name the host either."
                       : (v->expired || v->not_yet_valid)
                           ? " It is also outside its validity dates."
                           : "";

    if (v->trust == CHAIN_TRUSTED_LOCAL_CA) {
        report_fail(r, "cert-untrusted",
                    "The certificate is signed by wssgate's local CA (%s), which the browsers "
                    "of this machine do not trust yet (it is not in %s).%s",
                    o->local_ca, nssdb[0] ? nssdb : "~/.pki/nssdb", also);
        report_set_fix(r,
                       "Make this machine's browsers (and curl, python, ...) trust wssgate's "
                       "local CA, then restart the browser:\n"
                       "    wssgate cert --install\n"
                       "On other machines, import %s the same way (or use a certificate from a "
                       "public CA for a public site). To check with doctor alone: --ca %s.",
                       o->local_ca, o->local_ca);
    } else if (v->self_signed) {
        report_fail(r, "cert-untrusted",
                    "The certificate is self-signed (issued by itself, for %s): browsers trust "
                    "it only where it was imported by hand.%s",
                    v->names, also);
    } else if (v->incomplete) {
        report_fail(r, "cert-untrusted",
                    "The server sends its certificate alone, without the intermediate "
                    "certificate that links it to a trusted root (issuer: \"%s\").%s",
                    v->issuer, also);
        report_set_fix(r, "Serve the full chain: the certificate file must hold the server's "
                          "certificate followed by its intermediates (Let's Encrypt's "
                          "fullchain.pem, not cert.pem), as ssl_certificate or --cert.");
    } else {
        report_fail(r, "cert-untrusted",
                    "The certificate is issued by \"%s\", which is not a CA this machine trusts "
                    "(not in the system store%s; OpenSSL: %s).%s",
                    v->issuer, o->ca_file ? " nor in --ca" : "", v->untrusted_why, also);
    }
}

static void name_cause(struct report *r, const struct chain_verdict *v, const struct wsurl *u)
{
    if (v->no_san && v->cn_matches)
        report_fail(r, "cert-name-mismatch",
                    "The certificate names %s only in its subject CN and has no subjectAltName "
                    "(openssl req without -addext \"subjectAltName=...\" makes such "
                    "certificates).",
                    u->host);
    else if (v->ip_as_dns)
        report_fail(r, "cert-name-mismatch",
                    "The certificate lists %s as a DNS name; an IP address must be an IP "
                    "subjectAltName entry (IP:%s).",
                    u->host, u->host);
    else
        report_fail(r, "cert-name-mismatch", "The certificate is for %s, not for %s.", v->names,
                    u->host);
}

static void date_cause(struct report *r, const struct chain_verdict *v)
{
    if (v->date_depth > 0)
        report_fail(r, "cert-expired",
                    "A certificate of the chain (depth %d, an issuer of the "
                    "server's certificate) %s.",
                    v->date_depth, v->expired ? "has expired" : "is not valid yet");
    else if (v->expired)
        report_fail(r, "cert-expired", "The certificate expired on %s.", v->not_after);
    else
        report_fail(r, "cert-expired",
                    "The certificate is not valid yet (check the clocks of "
                    "the server that made it and of this machine).");
}

int probe_tls(struct dconn *c, const struct wsurl *u, const struct probe_tls_opts *o,
              struct report *r)
{
    struct chain_opts co = {.system_store = true, .ca_file = o->ca_file, .local_ca = o->local_ca};
    struct chain_verdict v;
    char err[512], nssdb[1024] = "", trust[1400];
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    bool authority, name, date;
    enum step_status st;

    if (handshake(c, u, o, r) != 0)
        return -1;
    if (chain_check(SSL_get_peer_cert_chain(c->ssl), u->host, &co, &v, err, sizeof err) != 0) {
        report_step(r, "tls", STEP_FAIL, "%s", err);
        report_fail(r, "tls-failed", "%s.", err);
        return -1;
    }
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    authority = v.trust == CHAIN_UNTRUSTED;
    if (v.trust == CHAIN_TRUSTED_LOCAL_CA && !local_ca_trusted(o->local_ca, nssdb, sizeof nssdb))
        authority = true;
    name = !v.name_ok;
    date = v.expired || v.not_yet_valid;
    if (v.trust == CHAIN_UNTRUSTED)
        snprintf(trust, sizeof trust, "NOT trusted: %s",
                 v.self_signed  ? "self-signed"
                 : v.incomplete ? "chain incomplete"
                                : v.untrusted_why);
    else if (v.trust == CHAIN_TRUSTED_LOCAL_CA)
        snprintf(trust, sizeof trust, "signed by wssgate's local CA, %s",
                 authority ? "which this machine's browsers do NOT trust yet"
                           : "trusted by Chromium here (NSS database)");
    else
        snprintf(trust, sizeof trust, "trusted (root: %s)", v.root);
    st = authority || name || date ? STEP_FAIL : (v.days_left < 14 ? STEP_WARN : STEP_OK);
    report_step(
        r, "tls", st,
        "%s, %s%s%.*s\ncertificate for %s%s\nissued by %s; %s\nvalid until %s "
        "(%ld days)%s",
        SSL_get_version(c->ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)),
        alpn_len ? ", ALPN " : "", (int)alpn_len, alpn ? (const char *)alpn : "", v.names,
        name ? " — does NOT cover this host" : "", v.issuer, trust, v.not_after, v.days_left,
        date ? " — EXPIRED or not yet valid" : (v.days_left < 14 ? " — renew it soon" : ""));
    if (authority)
        untrusted_cause(r, &v, o, nssdb);
    else if (name)
        name_cause(r, &v, u);
    else if (date)
        date_cause(r, &v);
    return authority || name || date ? -1 : 0;
}
