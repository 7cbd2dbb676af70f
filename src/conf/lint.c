/* Warnings for configurations that load but will hurt: the seed articles' mistakes and their
 * cousins (TLS certificates without TLS, names the certificate does not cover, WebSocket
 * locations that time out or redirect, a dotfile deny that an earlier regex shadows). */
#include "conf/load_int.h"

#include "route/location.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static bool is_ws_location(const struct loc_build *lb)
{
    return lb->lc->handler == HANDLER_PROXY &&
           (lb->sets_upgrade || strstr(lb->pattern, "websocket") || strstr(lb->pattern, "/ws"));
}

static void lint_tls_disabled(struct load *ld, struct srv_build *sb)
{
    bool ssl = sb->ssl_on;
    for (size_t i = 0; i < sb->nlistens; i++)
        ssl |= sb->listens[i].ssl;
    if (sb->cert.text && !sb->cert_inherited && !ssl) /* http-level ones serve ssl servers */
        load_warn_at(ld, sb->cert.file, sb->cert.line,
                     "TLS is not enabled on this server: it has a certificate but no \"listen ... "
                     "ssl\", so it speaks plain HTTP (and https pages will be blocked from ws:// "
                     "as mixed content). Write \"listen 443 ssl;\"");
}

static void lint_cert_names(struct load *ld, struct srv_build *sb)
{
    if (!sb->sc->ssl_ctx)
        return;
    X509 *cert = SSL_CTX_get0_certificate(sb->sc->ssl_ctx);
    for (size_t i = 0; cert && i < sb->nnames; i++) {
        const char *name = sb->names[i];
        if (!name[0] || name[0] == '~' || strcmp(name, "_") == 0 || strchr(name + 1, '*'))
            continue;
        char probe[300];
        if (name[0] == '*')
            snprintf(probe, sizeof(probe), "wssgate-probe%s", name + 1);
        else if (name[0] == '.')
            snprintf(probe, sizeof(probe), "%s", name + 1);
        else
            snprintf(probe, sizeof(probe), "%s", name);
        bool ip = strspn(probe, "0123456789.") == strlen(probe) || strchr(probe, ':');
        int ok = ip ? X509_check_ip_asc(cert, probe, 0) : X509_check_host(cert, probe, 0, 0, NULL);
        if (ok != 1)
            load_warn_at(ld, sb->cert.file, sb->cert.line,
                         "certificate \"%s\" does not cover server_name \"%s\": browsers will "
                         "show NET::ERR_CERT_COMMON_NAME_INVALID. Issue one that names it "
                         "(wssgate cert %s%s%s)", sb->cert.text, name,
                         name[0] == '.' ? name + 1 : name, name[0] == '.' ? " '*" : "",
                         name[0] == '.' ? name : "");
    }
}

static void lint_locations(struct load *ld, struct srv_build *sb)
{
    for (size_t i = 0; i < sb->nall_locs; i++) {
        struct loc_build *lb = sb->all_locs[i];
        if (is_ws_location(lb) && (lb->lc->set & (1ull << SET_READ_T)) &&
            lb->lc->proxy.read_ms < 60000)
            load_warn_at(ld, lb->file, lb->line,
                         "WebSocket location \"%s\" has proxy_read_timeout %us: an idle chat is "
                         "cut after that; use 1h or more", lb->pattern,
                         lb->lc->proxy.read_ms / 1000);
        size_t plen = strlen(lb->pattern);
        if (is_ws_location(lb) && lb->kind == LOC_PREFIX && plen > 1 &&
            lb->pattern[plen - 1] == '/') {
            char bare[300];
            snprintf(bare, sizeof(bare), "%.*s", (int)(plen - 1), lb->pattern);
            bool redirect = false;
            const struct location *hit = location_find(sb->sc->locs, str_from_cstr(bare), NULL,
                                                       &redirect);
            if (redirect || !hit)
                load_warn_at(ld, lb->file, lb->line,
                             "a page connecting to \"%s\" (without the slash) gets a 301, and "
                             "browsers never follow redirects in a WebSocket handshake "
                             "(\"Unexpected response code: 301\"). Connect to \"%s\" or add "
                             "\"location = %s { proxy_pass ...; }\"", bare, lb->pattern, bare);
        }
        if (lb->denies_all && (lb->kind == LOC_REGEX || lb->kind == LOC_REGEX_ICASE)) {
            static const char *const probes[] = { "/.secret.txt", "/.env", "/.git/config",
                                                  "/.htaccess", "/.user.ini", NULL };
            for (size_t k = 0; probes[k]; k++) {
                const struct location *hit = location_find(sb->sc->locs,
                                                           str_from_cstr(probes[k]), NULL, NULL);
                if (!hit || hit->data == lb->lc)
                    continue;
                struct loc_conf *other = hit->data;
                if (!location_regex_match(lb->loc->regex, str_from_cstr(probes[k]), NULL))
                    continue;
                load_warn_at(ld, lb->file, lb->line,
                             "this deny is shadowed: \"%s\" is served by %s, because regex "
                             "locations are tried in order and that one comes first. Move this "
                             "location above it", probes[k], other->where);
                break;
            }
        }
    }
}

void lint_servers(struct load *ld)
{
    for (size_t s = 0; s < ld->nservers; s++) {
        struct srv_build *sb = ld->servers[s];
        lint_tls_disabled(ld, sb);
        lint_cert_names(ld, sb);
        lint_locations(ld, sb);
    }
}
