/* The doctor's problem table (codes, Chromium's words, causes, fixes) and the renderer that fills
 * in the URL, host and status. The words were observed in Chromium 156's console. */
#include "doctor/problems.h"

#include <stdio.h>
#include <string.h>

#define NGINX_WS_LOCATION                                                                          \
    "    location /websocket/ {\n"                                                                 \
    "        proxy_pass http://127.0.0.1:9502;\n"                                                  \
    "        proxy_http_version 1.1;\n"                                                            \
    "        proxy_set_header Upgrade $http_upgrade;\n"                                            \
    "        proxy_set_header Connection \"upgrade\";\n"                                           \
    "    }"

const struct problem problem_table[] = {
    {"bad-url", "the URL is not a valid WebSocket URL", PROBLEM_SAYS_SYNTAX, NULL,
     "new WebSocket() refuses this URL before anything reaches the network.",
     "Write it as ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH (http:// and https:// are "
     "accepted and mean ws:// and wss://), without a #fragment."},
    {"mixed-content", "ws:// from an https:// page is blocked", PROBLEM_SAYS_MIXED, NULL,
     "The page {page} was loaded over HTTPS and opens the insecure WebSocket {url}: browsers "
     "block it before connecting (Chromium also throws \"SecurityError: Failed to construct "
     "'WebSocket': An insecure WebSocket connection may not be initiated from a page loaded over "
     "HTTPS.\"). Chromium exempts ws://localhost and ws://127.0.0.1, so such a page works on the "
     "developer's machine and breaks once deployed.",
     "Serve the WebSocket over wss:// and let the page follow its own scheme instead of "
     "hard-coding ws://:\n"
     "    new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + "
     "'/websocket/')\n"
     "wssgate puts wss:// in front of the ws:// service in one line:\n"
     "    wssgate proxy --from https://{host} --to ws://127.0.0.1:{port}\n"
     "or, in the config of the https server (listen 443 ssl;):\n" NGINX_WS_LOCATION},
    {"name-not-resolved", "the host name does not resolve", PROBLEM_SAYS_NET,
     "ERR_NAME_NOT_RESOLVED", "DNS has no address for {host}.",
     "Check the spelling of the host in the URL, and that its DNS record (or /etc/hosts entry) "
     "exists where the browser runs."},
    {"unsafe-port", "browsers refuse this port", PROBLEM_SAYS_NET, "ERR_UNSAFE_PORT",
     "Port {port} is on Chromium's list of restricted ports (ports of other protocols, such as "
     "6000 for X11, 6665-6669 for IRC, 10080 for Amanda): the browser refuses it without "
     "connecting, whatever listens there.",
     "Serve the WebSocket on another port (443 for wss://, or 8443, 9502, ...) and change the "
     "URL: for example `wssgate proxy --from https://{host}:8443 --to ws://127.0.0.1:{port}`, "
     "or `listen 8443 ssl;` in the config."},
    {"connection-refused", "nothing listens on that port", PROBLEM_SAYS_NET,
     "ERR_CONNECTION_REFUSED",
     "Nothing accepts connections on {host} port {port} (the server is not running, listens on "
     "another port or address, or a firewall rejects the connection).",
     "Start the service, or correct the port in the URL. A server bound to 127.0.0.1 cannot be "
     "reached from other machines: listen on 0.0.0.0 (`listen 0.0.0.0:{port};`, or `wssgate "
     "proxy --listen 0.0.0.0:{port} ...`)."},
    {"connect-timeout", "the connection attempt timed out", PROBLEM_SAYS_NET,
     "ERR_CONNECTION_TIMED_OUT",
     "Nothing answered the connection attempt to {host} port {port}: a firewall drops the "
     "packets, or the address is wrong.",
     "Open the port in the firewall (and the cloud provider's security group), or correct the "
     "address."},
    {"not-tls", "wss:// to a port that does not speak TLS", PROBLEM_SAYS_NET,
     "ERR_SSL_PROTOCOL_ERROR",
     "The URL says wss:// but port {port} does not speak TLS (a plain ws:// or http:// "
     "service answered the TLS handshake).",
     "Put TLS in front of the service and connect to the TLS port:\n"
     "    wssgate proxy --from https://{host}:8443 --to ws://127.0.0.1:{port}\n"
     "(then the URL is wss://{host}:8443{path}), or add `ssl` to that server's listen line "
     "(`listen {port} ssl;` with ssl_certificate and ssl_certificate_key)."},
    {"tls-failed", "the TLS handshake failed", PROBLEM_SAYS_NET, "ERR_SSL_PROTOCOL_ERROR",
     "The TLS handshake with {host} port {port} failed.",
     "Browsers need TLS 1.2 or 1.3 with a modern AEAD cipher: enable them on the server "
     "(`ssl_protocols TLSv1.2 TLSv1.3;`); wssgate's defaults already are."},
    {"cert-untrusted", "the certificate is not trusted", PROBLEM_SAYS_NET,
     "ERR_CERT_AUTHORITY_INVALID",
     "The certificate does not chain to a certificate authority the browser trusts.",
     "For development, let wssgate's local CA sign the certificate and make this machine's "
     "browsers trust it:\n"
     "    wssgate cert {host}\n"
     "    wssgate cert --install\n"
     "For a public site, use a certificate from a public CA (e.g. Let's Encrypt) and send the "
     "whole chain (`ssl_certificate` names the file with the certificate followed by its "
     "intermediates)."},
    {"cert-name-mismatch", "the certificate is for another name", PROBLEM_SAYS_NET,
     "ERR_CERT_COMMON_NAME_INVALID",
     "Browsers match the host only against the certificate's subjectAltName entries (the "
     "subject CN has been ignored since Chrome 58); a wildcard covers exactly one label "
     "(*.example.com covers chat.example.com, not example.com nor a.chat.example.com), and an "
     "IP address needs an IP entry. (Internet Explorer and legacy Edge show this as Network "
     "Error 12038.)",
     "Issue a certificate that names {host} and serve it:\n"
     "    wssgate cert {host}\n"
     "then `wssgate proxy --cert {host}.pem --key {host}-key.pem ...`, or in the config:\n"
     "    ssl_certificate     {host}.pem;\n"
     "    ssl_certificate_key {host}-key.pem;"},
    {"cert-expired", "the certificate is expired or not yet valid", PROBLEM_SAYS_NET,
     "ERR_CERT_DATE_INVALID",
     "The certificate is outside its validity period (or this machine's clock is wrong).",
     "Renew the certificate (`wssgate cert {host}` for a local one, or your CA's renewal, e.g. "
     "certbot renew) and reload the server; check the clock with `date -u`."},
    {"no-response", "the server never answered", PROBLEM_SAYS_TEXT,
     "WebSocket is closed before the connection is established.",
     "The connection was accepted but no handshake response came back. Chromium waits up to 4 "
     "minutes; a page that gives up first by calling close() gets this console warning.",
     "Check that the service behind the port is alive and speaks HTTP/WebSocket (not a stuck "
     "process or a TLS port reached with ws://). If a gateway in front waits for a slow "
     "backend, doctor may have given up first: try a longer --timeout."},
    {"closed-before-response", "the server closed the connection without answering",
     PROBLEM_SAYS_TEXT, "Connection closed before receiving a handshake response",
     "The server accepted the connection and closed it without sending any HTTP response: it "
     "is not a WebSocket server, it crashed, or it refused the request silently (a "
     "ws:// client reaching a TLS-only port looks like this too).",
     "Look at the server's log for this connection. Check that the URL points to the WebSocket "
     "service (scheme, port and path)."},
    {"not-websocket", "the path is served as a page", PROBLEM_SAYS_STATUS, NULL,
     "The path is served as an ordinary page or file, not forwarded to the WebSocket service "
     "(the classic case: wss:// to the site's own https:// address); or a proxy forwarded it "
     "without the Upgrade headers and the service answered a plain GET with a page.",
     "Give the WebSocket its own location that forwards to the service, and connect to that "
     "path (here wss://{host}/websocket/):\n" NGINX_WS_LOCATION "\n"
     "or with wssgate alone: `wssgate proxy --from https://{host}/websocket/ --to "
     "ws://127.0.0.1:9502/`."},
    {"not-found", "no location serves this path", PROBLEM_SAYS_STATUS, NULL,
     "No location matches {path} (a typo in the page's URL or in the location, or the location "
     "is missing).",
     "Make the page's URL and the location agree, letter for letter:\n" NGINX_WS_LOCATION},
    {"redirect", "the server redirects the handshake", PROBLEM_SAYS_STATUS, NULL,
     "Browsers never follow redirects in a WebSocket "
     "handshake. A common case: the page connects to /websocket while the location is "
     "/websocket/, and nginx answers 301 to add the slash; an http-to-https redirect is another.",
     "Use the final URL in the page (the one in Location), or add an exact location for the "
     "path the page uses:\n"
     "    location = /websocket {\n"
     "        proxy_pass http://127.0.0.1:9502;\n"
     "        proxy_http_version 1.1;\n"
     "        proxy_set_header Upgrade $http_upgrade;\n"
     "        proxy_set_header Connection \"upgrade\";\n"
     "    }"},
    {"upgrade-not-forwarded", "a proxy drops the Upgrade headers", PROBLEM_SAYS_STATUS, NULL,
     "The WebSocket service saw a request without the Upgrade/Connection headers (or as "
     "HTTP/1.0): a proxy in between forwards the handshake as an ordinary request. nginx does "
     "that unless told otherwise, because Upgrade and Connection are hop-by-hop headers.",
     "Tell the proxy to forward the upgrade, over HTTP/1.1:\n" NGINX_WS_LOCATION "\n"
     "(wssgate forwards genuine WebSocket upgrades by itself.)"},
    {"forbidden", "the server refused the handshake", PROBLEM_SAYS_STATUS, NULL,
     "The service checks the Origin header "
     "(doctor sent {origin}), a token or a cookie, or an access rule denies it.",
     "Allow the page's origin in the WebSocket service (or the `allow`/`deny` rules of the "
     "location), and send the credentials the service expects."},
    {"backend-down", "the gateway is up, the service behind it is not", PROBLEM_SAYS_STATUS, NULL,
     "A gateway could not reach the WebSocket service behind it "
     "(not running, wrong port in proxy_pass/--to, or it answered garbage).",
     "Start the service, or correct the backend address in the gateway (`proxy_pass`, "
     "`wssgate proxy --to`). The gateway's error log names the backend it tried."},
    {"backend-timeout", "the service behind the gateway does not answer", PROBLEM_SAYS_STATUS, NULL,
     "A gateway's WebSocket service accepted the connection "
     "but did not answer the handshake in time (it is stuck or overloaded).",
     "Check the service (is it blocked? its log?). If it is merely slow to answer the "
     "handshake, raise the gateway's timeout (`proxy_read_timeout 300s;`, or `wssgate proxy "
     "--read-timeout 300s`)."},
    {"unexpected-status", "the server answered with an unexpected status", PROBLEM_SAYS_STATUS,
     NULL, "A WebSocket handshake succeeds only with 101 Switching Protocols.",
     "Look at the server's log for this request; the URL must reach the WebSocket service."},
    {"bad-accept", "the 101 carries a wrong Sec-WebSocket-Accept", PROBLEM_SAYS_HANDSHAKE, NULL,
     "The server answered 101 but its Sec-WebSocket-Accept is missing or does not answer the "
     "client's Sec-WebSocket-Key: a proxy rewrote the key, or the server computes the accept "
     "value wrongly (base64 of SHA-1 of the key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11).",
     "Do not let a proxy change Sec-WebSocket-Key or Sec-WebSocket-Accept; fix the server's "
     "handshake code, or use a maintained WebSocket library."},
    {"no-upgrade-header", "the 101 lacks Upgrade/Connection", PROBLEM_SAYS_HANDSHAKE, NULL,
     "The server answered 101 without a valid 'Upgrade: websocket' (or 'Connection: Upgrade') "
     "header: a proxy removed it, or the server's handshake is incomplete.",
     "The 101 must carry 'Upgrade: websocket' and 'Connection: Upgrade'. Behind "
     "nginx:\n" NGINX_WS_LOCATION},
    {"bad-handshake", "the handshake response is invalid", PROBLEM_SAYS_HANDSHAKE, NULL,
     "The server's handshake response is not a valid WebSocket response.",
     "Fix the server's handshake, or use a maintained WebSocket library."},
    {"bad-frame", "the server sent an invalid frame", PROBLEM_SAYS_TEXT, "Invalid frame header",
     "The handshake worked, but the server's first frame breaks RFC 6455 (a masked frame, "
     "reserved bits or opcode, a bad control frame), so the browser fails the connection.",
     "Fix the server's framing code, or use a maintained WebSocket library; a proxy must relay "
     "frames unchanged."},
    {"config-error", "the configuration does not work", PROBLEM_SAYS_NOTHING, NULL,
     "wssgate refuses to start with this configuration (then the browser sees "
     "net::ERR_CONNECTION_REFUSED; after a reload, the old configuration keeps running).",
     "Correct the line the message names; `wssgate -c FILE -t` checks a file without starting "
     "anything."},
    {"closed-after-open", "the server closed the WebSocket at once", PROBLEM_SAYS_NOTHING, NULL,
     "The handshake worked, then the server closed the WebSocket before answering the test "
     "message: the console shows nothing, the page's onclose gets the close code.",
     "Look at the service's log: it refused the connection after accepting it (authentication, "
     "subprotocol, or a crash in its open handler)."},
    {"no-echo", "the socket opens but nothing comes back", PROBLEM_SAYS_NOTHING, NULL,
     "The WebSocket opened and doctor sent one text message, but no message came back in time. "
     "The browser shows nothing: onopen fires and onmessage never does. (A ping would not tell: "
     "WebSocket stacks answer pings even when the application is stuck.)",
     "Check the application behind the socket (is its message handler running? does it answer "
     "this kind of message?). For a service that never answers messages, run doctor with "
     "--no-send."},
};

const size_t problem_count = sizeof problem_table / sizeof problem_table[0];

const struct problem *problem_find(const char *code)
{
    for (size_t i = 0; code != NULL && i < problem_count; i++)
        if (strcmp(problem_table[i].code, code) == 0)
            return &problem_table[i];
    return NULL;
}

/* Appends s to out[cap] at *len, cutting it to fit. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

static int is_name(const char *p, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(p, name, len) == 0;
}

void problem_render(const char *tmpl, const struct problem_args *a, char *out, size_t cap)
{
    size_t len = 0;
    char num[16];

    if (cap == 0)
        return;
    out[0] = '\0';
    while (tmpl != NULL && *tmpl != '\0') {
        const char *open = strchr(tmpl, '{');
        const char *close = open != NULL ? strchr(open, '}') : NULL;
        const char *val = NULL;
        size_t name_len;

        if (open == NULL || close == NULL) {
            put(out, cap, &len, tmpl, strlen(tmpl));
            break;
        }
        put(out, cap, &len, tmpl, (size_t)(open - tmpl));
        name_len = (size_t)(close - open - 1);
        if (is_name(open + 1, name_len, "url"))
            val = a->url;
        else if (is_name(open + 1, name_len, "host"))
            val = a->host;
        else if (is_name(open + 1, name_len, "path"))
            val = a->path;
        else if (is_name(open + 1, name_len, "origin"))
            val = a->origin;
        else if (is_name(open + 1, name_len, "page"))
            val = a->page;
        else if (is_name(open + 1, name_len, "scheme"))
            val = a->url != NULL && strncmp(a->url, "wss:", 4) == 0 ? "wss" : "ws";
        else if (is_name(open + 1, name_len, "port")) {
            snprintf(num, sizeof num, "%d", a->port);
            val = num;
        } else {
            put(out, cap, &len, open, (size_t)(close - open + 1));
            tmpl = close + 1;
            continue;
        }
        if (val != NULL)
            put(out, cap, &len, val, strlen(val));
        tmpl = close + 1;
    }
}

void problem_browser_error(const struct problem *p, const struct problem_args *a, char *out,
                           size_t cap)
{
    const char *url = a->url != NULL ? a->url : "";
    const char *detail = a->detail != NULL ? a->detail : "";

    if (cap == 0)
        return;
    switch (p->says) {
    case PROBLEM_SAYS_NET:
        snprintf(out, cap,
                 "WebSocket connection to '%s' failed: Error in connection establishment: net::%s",
                 url, a->detail != NULL ? a->detail : p->words);
        break;
    case PROBLEM_SAYS_STATUS:
        snprintf(out, cap,
                 "WebSocket connection to '%s' failed: Error during WebSocket handshake: "
                 "Unexpected response code: %d",
                 url, a->status);
        break;
    case PROBLEM_SAYS_HANDSHAKE:
        snprintf(out, cap,
                 "WebSocket connection to '%s' failed: Error during WebSocket handshake: %s", url,
                 detail);
        break;
    case PROBLEM_SAYS_TEXT:
        snprintf(out, cap, "WebSocket connection to '%s' failed: %s", url,
                 a->detail != NULL ? a->detail : p->words);
        break;
    case PROBLEM_SAYS_MIXED:
        snprintf(out, cap,
                 "Mixed Content: The page at '%s' was loaded over HTTPS, but attempted to connect "
                 "to the insecure WebSocket endpoint '%s'. This request has been blocked; this "
                 "endpoint must be available over WSS.",
                 a->page != NULL ? a->page : "", url);
        break;
    case PROBLEM_SAYS_SYNTAX:
        snprintf(out, cap, "SyntaxError: Failed to construct 'WebSocket': %s", detail);
        break;
    case PROBLEM_SAYS_NOTHING:
    default:
        out[0] = '\0';
        break;
    }
}
