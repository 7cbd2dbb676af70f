/* The doctor's walk, step by step:
 *   url → page (mixed content) → port (browsers' restricted ports) → dns → tcp → tls (wss only)
 *   → upgrade → message
 * Each step adds one line to the report; the first failure records the problem and ends the
 * walk, because the browser stops there too. */
#include "doctor/doctor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "doctor/config_check.h"
#include "doctor/dconn.h"
#include "doctor/ports.h"
#include "doctor/probe_msg.h"
#include "doctor/probe_net.h"
#include "doctor/probe_tls.h"
#include "doctor/probe_ws.h"
#include "doctor/wsurl.h"
#include "tls/cert.h"

/* Frames that arrived right behind the 101. */
#define REST_MAX 65536

static void set_args(struct report *r, const struct wsurl *u, const struct wsurl *page)
{
    snprintf(r->url, sizeof r->url, "%s", u->href);
    snprintf(r->host, sizeof r->host, "%s", u->host);
    snprintf(r->path, sizeof r->path, "%s", u->path);
    if (page != NULL) {
        snprintf(r->page, sizeof r->page, "%s", page->href);
        snprintf(r->origin, sizeof r->origin, "%s", page->origin);
    } else {
        /* a page on the same host, over the matching scheme */
        snprintf(r->origin, sizeof r->origin, "%s://%s", u->tls ? "https" : "http", u->hostport);
    }
    r->args.url = r->url;
    r->args.host = r->host;
    r->args.port = u->port;
    r->args.path = r->path;
    r->args.origin = r->origin;
    r->args.page = page != NULL ? r->page : NULL;
}

/* Mixed content: Chromium blocks ws:// from an https:// page unless the host is loopback. */
static int step_page(const struct wsurl *u, const struct wsurl *page, struct report *r)
{
    if (page == NULL) {
        if (!u->tls && !wsurl_host_is_loopback(u))
            report_step(r, "page", STEP_WARN,
                        "no --page given; note that a page served over https:// cannot use "
                        "this ws:// URL (mixed content): it needs wss://");
        else
            report_step(r, "page", STEP_SKIP,
                        "no --page given (--page https://SITE checks mixed content); Origin "
                        "sent: %s",
                        r->origin);
        return 0;
    }
    if (!page->tls || u->tls) {
        report_step(r, "page", STEP_OK, "%s opening %s:// is not mixed content", page->origin,
                    u->scheme);
        return 0;
    }
    if (wsurl_host_is_loopback(u)) {
        report_step(r, "page", STEP_WARN,
                    "%s opens ws://%s: Chromium allows ws:// to localhost and 127.0.0.1 from an "
                    "https:// page, so this works on this machine, but the same page breaks once "
                    "deployed (a real host name over ws:// is blocked as mixed content): use "
                    "wss:// and derive the scheme from location.protocol",
                    page->origin, u->hostport);
        return 0;
    }
    report_step(r, "page", STEP_FAIL,
                "%s is https:// and the WebSocket is ws://%s: blocked as "
                "mixed content",
                page->origin, u->hostport);
    report_fail(r, "mixed-content", NULL);
    return -1;
}

static int step_port(const struct wsurl *u, struct report *r)
{
    const char *name = ports_unsafe_name(u->port);

    if (!ports_unsafe(u->port)) {
        report_step(r, "port", STEP_OK, "%d is a port browsers allow", u->port);
        return 0;
    }
    report_step(r, "port", STEP_FAIL, "%d is on Chromium's list of restricted ports%s%s%s", u->port,
                name ? " (" : "", name ? name : "", name ? ")" : "");
    report_fail(r, "unsafe-port", NULL);
    return -1;
}

/* The local CA file, when the state dir has one. */
static const char *local_ca(char *buf, size_t cap)
{
    char dir[1024], err[256];

    if (cert_state_dir(dir, sizeof dir, err, sizeof err) != 0 || cert_ca_path(dir, buf, cap) != 0 ||
        access(buf, R_OK) != 0)
        return NULL;
    return buf;
}

static int walk(const struct doctor_opts *o, const struct wsurl *u, struct report *r)
{
    static unsigned char rest[REST_MAX];
    struct dconn c = {.fd = -1};
    char ca[1200];
    size_t rest_len = 0;
    int rc = -1;

    if (probe_net_connect(u, o->timeout_ms, r, &c) != 0)
        return -1;
    if (u->tls) {
        struct probe_tls_opts to = {.ca_file = o->ca_file,
                                    .local_ca = local_ca(ca, sizeof ca),
                                    .timeout_ms = o->timeout_ms};
        if (probe_tls(&c, u, &to, r) != 0)
            goto out;
    }
    if (probe_ws_upgrade(&c, u, r->origin, o->timeout_ms, r, rest, sizeof rest, &rest_len) != 0)
        goto out;
    if (o->no_send) {
        report_step(r, "message", STEP_SKIP, "--no-send: the WebSocket is open; no message sent");
        rc = 0;
        goto out;
    }
    rc = probe_msg_echo(&c, o->timeout_ms, r, rest, rest_len);
out:
    dconn_close(&c);
    return rc;
}

/* The walk for o->url: url, page, port, then the network steps. */
static int walk_url(const struct doctor_opts *o, struct wsurl *u, const struct wsurl *page,
                    struct report *r)
{
    char why[WSURL_HREF_MAX + 200];

    if (wsurl_parse_ws(o->url, page, u, why, sizeof why) != 0) {
        report_step(r, "url", STEP_FAIL, "%s", why);
        snprintf(r->detail, sizeof r->detail, "%s", why);
        r->args.detail = r->detail;
        r->args.url = o->url;
        report_fail(r, "bad-url", NULL);
        return -1;
    }
    set_args(r, u, page);
    report_step(r, "url", STEP_OK, "%s: %s to %s port %d, path %s", u->href,
                u->tls ? "TLS (wss)" : "plain (ws)", u->host, u->port, u->path);
    if (step_page(u, page, r) != 0 || step_port(u, r) != 0 || walk(o, u, r) != 0)
        return -1;
    return 0;
}

int doctor_run(const struct doctor_opts *o, struct report *r, char *err, size_t errlen)
{
    static struct wsurl u, page;
    char why[WSURL_HREF_MAX + 200];

    memset(r, 0, sizeof *r);
    if (o->page != NULL && wsurl_parse_page(o->page, &page, why, sizeof why) != 0) {
        snprintf(err, errlen, "--page %s: %s", o->page, why);
        return 2;
    }
    if (o->ca_file != NULL && access(o->ca_file, R_OK) != 0) {
        snprintf(err, errlen, "--ca %s: cannot read it (give the CA certificate as a PEM file)",
                 o->ca_file);
        return 2;
    }
    if (o->config != NULL && access(o->config, R_OK) != 0) {
        snprintf(err, errlen, "-c %s: cannot read it: %s", o->config, strerror(errno));
        return 2;
    }
    if (o->url != NULL)
        (void)walk_url(o, &u, o->page != NULL ? &page : NULL, r);
    if (o->config != NULL) {
        char ca[1200];
        (void)config_check(o->config, local_ca(ca, sizeof ca), o->timeout_ms, r);
    }
    return report_ok(r) ? 0 : 1;
}
