/* Parsing backend URLs. */
#include "proxy/upstream.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int upstream_target_parse(const char *url, struct upstream_target *t, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        bool tls;
        int port;
    } schemes[] = { { "ws://", false, 80 }, { "http://", false, 80 },
                    { "wss://", true, 443 }, { "https://", true, 443 } };
    memset(t, 0, sizeof(*t));
    if (strlen(url) >= sizeof(t->url)) {
        snprintf(err, errlen, "backend URL too long");
        return -1;
    }
    snprintf(t->url, sizeof(t->url), "%s", url);
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            rest = url + n;
            t->tls = schemes[i].tls;
            t->port = schemes[i].port;
            break;
        }
    }
    if (!rest) {
        snprintf(err, errlen, "backend \"%s\" must start with ws://, wss://, http:// or https://",
                 url);
        return -1;
    }
    const char *slash = strpbrk(rest, "/?");
    size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
    char authority[300];
    if (alen == 0 || alen >= sizeof(authority)) {
        snprintf(err, errlen, "backend \"%s\" has no host; write it as ws://127.0.0.1:9502", url);
        return -1;
    }
    memcpy(authority, rest, alen);
    authority[alen] = '\0';
    const char *why = NULL;
    if (addr_split(authority, t->host, sizeof(t->host), &t->port, t->port, &why) < 0) {
        snprintf(err, errlen, "backend \"%s\": %s", url, why);
        return -1;
    }
    if (slash) {
        if (*slash == '?') {
            snprintf(err, errlen, "backend \"%s\": a query string is not allowed here", url);
            return -1;
        }
        if (strlen(slash) >= sizeof(t->path)) {
            snprintf(err, errlen, "backend \"%s\": path too long", url);
            return -1;
        }
        snprintf(t->path, sizeof(t->path), "%s", slash);
    }
    char rerr[256];
    if (addr_resolve(t->host, t->port, &t->addr, rerr, sizeof(rerr)) < 0) {
        snprintf(err, errlen, "backend \"%s\": %s", url, rerr);
        return -1;
    }
    return 0;
}
