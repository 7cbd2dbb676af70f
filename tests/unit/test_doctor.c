/* Unit tests for the doctor's pure parts: WebSocket URLs as Chromium reads and prints them,
 * mixed-content exemptions, restricted ports, the problem table and its rendering, how a
 * handshake response is judged, and the JSON report. */
#include "doctor/ports.h"
#include "doctor/probe_ws.h"
#include "doctor/problems.h"
#include "doctor/report.h"
#include "doctor/wsurl.h"
#include "http/h1_parse.h"
#include "tap.h"
#include "ws/ws_handshake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has(const char *haystack, const char *needle)
{
    bool r = strstr(haystack, needle) != NULL;
    if (!r)
        printf("#   \"%s\" lacks \"%s\"\n", haystack, needle);
    return r;
}

/* Parses in and checks the printed form (or the SyntaxError words when want starts with '!'). */
static void url_is(const char *in, const char *want, const char *name)
{
    struct wsurl u;
    char why[512];
    int rc = wsurl_parse_ws(in, NULL, &u, why, sizeof why);

    if (want[0] == '!')
        ok(rc == -1 && has(why, want + 1), name);
    else if (!ok(rc == 0 && strcmp(u.href, want) == 0, name))
        printf("#   got rc %d href '%s' why '%s'\n", rc, rc == 0 ? u.href : "", rc ? why : "");
}

static void test_urls(void)
{
    struct wsurl u, page;
    char why[512];

    url_is("ws://localhost:8080", "ws://localhost:8080/", "url: empty path is /");
    url_is("WS://LocalHost:80", "ws://localhost/",
           "url: scheme and host lowercased, port 80 dropped");
    url_is("wss://example.com:443/a", "wss://example.com/a", "url: wss default port dropped");
    url_is("wss://example.com:80/a", "wss://example.com:80/a", "url: non-default port kept");
    url_is("http://localhost:18081/", "ws://localhost:18081/", "url: http:// means ws://");
    url_is("https://chat.example.com/ws?room=1", "wss://chat.example.com/ws?room=1",
           "url: https:// means wss://, query kept");
    url_is("ws://[::1]:9502/x", "ws://[::1]:9502/x", "url: IPv6 in brackets");
    url_is("ws://h/a b", "ws://h/a%20b", "url: space in the path percent-encoded");
    url_is("ws://h/a/./b/../c", "ws://h/a/c", "url: dot segments removed");
    url_is("ws://h/a/..", "ws://h/", "url: trailing .. leaves a slash");
    url_is("ws://h/?q=a b'", "ws://h/?q=a%20b%27", "url: query encoded as a special URL's");
    url_is(
        "ftp://x/",
        "!The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. 'ftp' is not allowed.",
        "url: other schemes refused with Chromium's words");
    url_is("wss://localhost:443/a b?c#d",
           "!The URL contains a fragment identifier ('d'). Fragment identifiers are not allowed in "
           "WebSocket URLs.",
           "url: fragment refused with Chromium's words");
    url_is("ws://h:99999/", "!The URL 'ws://h:99999/' is invalid.", "url: port out of range");
    url_is("ws://", "!is invalid", "url: no host");
    url_is("localhost:8080", "!'localhost' is not allowed", "url: no scheme reads as a scheme");
    url_is("ws://user:pw@h/", "!not supported", "url: credentials refused");

    ok(wsurl_parse_ws("ws://h:9502/chat", NULL, &u, why, sizeof why) == 0 && u.port == 9502 &&
           !u.tls && strcmp(u.hostport, "h:9502") == 0 && strcmp(u.path, "/chat") == 0,
       "url: parts");
    ok(wsurl_parse_page("https://App.Example.com/chat#x", &page, why, sizeof why) == 0 &&
           strcmp(page.origin, "https://app.example.com") == 0 &&
           strcmp(page.href, "https://app.example.com/chat") == 0,
       "page: origin and href (fragment dropped)");
    ok(wsurl_parse_page("ws://x/", &page, why, sizeof why) == -1 && has(why, "http"),
       "page: must be http(s)");
    ok(wsurl_parse_page("https://app.test:8443", &page, why, sizeof why) == 0 &&
           wsurl_parse_ws("/websocket/", &page, &u, why, sizeof why) == 0 &&
           strcmp(u.href, "wss://app.test:8443/websocket/") == 0,
       "url: a path alone is resolved against the page");

    wsurl_parse_ws("ws://localhost/", NULL, &u, why, sizeof why);
    ok(wsurl_host_is_loopback(&u), "loopback: localhost");
    wsurl_parse_ws("ws://chat.localhost/", NULL, &u, why, sizeof why);
    ok(wsurl_host_is_loopback(&u), "loopback: *.localhost");
    wsurl_parse_ws("ws://127.8.9.1/", NULL, &u, why, sizeof why);
    ok(wsurl_host_is_loopback(&u), "loopback: 127.0.0.0/8");
    wsurl_parse_ws("ws://[::1]/", NULL, &u, why, sizeof why);
    ok(wsurl_host_is_loopback(&u), "loopback: ::1");
    wsurl_parse_ws("ws://chat.test/", NULL, &u, why, sizeof why);
    ok(!wsurl_host_is_loopback(&u), "loopback: not a real name");
    wsurl_parse_ws("ws://notlocalhost/", NULL, &u, why, sizeof why);
    ok(!wsurl_host_is_loopback(&u), "loopback: not a name ending in localhost");
    wsurl_parse_ws("ws://10.0.0.1/", NULL, &u, why, sizeof why);
    ok(!wsurl_host_is_loopback(&u), "loopback: not a private address");
}

static void test_ports(void)
{
    static const int bad[] = {1, 21, 22, 25, 6000, 6665, 6669, 6697, 10080};
    static const int good[] = {80,   443,  8080, 8443, 9502,  3000,
                               4190, 6664, 6670, 6679, 10081, 65535};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(ports_unsafe(bad[i]), "ports: restricted");
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ok(!ports_unsafe(good[i]), "ports: allowed");
    ok(strcmp(ports_unsafe_name(6000), "X11") == 0, "ports: 6000 is X11");
}

static void test_problems(void)
{
    static const char *const issue_codes[] = {
        "mixed-content",     "cert-name-mismatch",     "cert-untrusted",
        "cert-expired",      "connection-refused",     "not-tls",
        "unsafe-port",       "not-websocket",          "not-found",
        "redirect",          "upgrade-not-forwarded",  "forbidden",
        "backend-down",      "backend-timeout",        "bad-accept",
        "no-upgrade-header", "closed-before-response", "no-response",
        "no-echo",
    };
    struct problem_args a = {.url = "wss://localhost:8443/ws",
                             .host = "localhost",
                             .port = 8443,
                             .path = "/ws",
                             .page = "https://app.test/",
                             .status = 404};
    char out[2048];
    bool complete = true;

    for (size_t i = 0; i < sizeof issue_codes / sizeof issue_codes[0]; i++)
        ok(problem_find(issue_codes[i]) != NULL, issue_codes[i]);
    for (size_t i = 0; i < problem_count; i++) {
        const struct problem *p = &problem_table[i];
        if (p->cause == NULL || p->fix == NULL || p->title == NULL || p->cause[0] == '\0' ||
            (p->says == PROBLEM_SAYS_NET && p->words == NULL)) {
            printf("#   incomplete: %s\n", p->code);
            complete = false;
        }
        for (size_t j = 0; j < i; j++)
            complete = complete && strcmp(problem_table[j].code, p->code) != 0;
    }
    ok(complete, "problems: every entry has words, cause and fix; codes unique");
    ok(problem_find("nope") == NULL, "problems: unknown code");
    ok(problem_find("config-error") != NULL && problem_find("bad-url") != NULL
           && problem_find("name-not-resolved") != NULL,
       "problems: the codes doctor adds");

    problem_browser_error(problem_find("cert-name-mismatch"), &a, out, sizeof out);
    is_str(str_from_cstr(out),
           "WebSocket connection to 'wss://localhost:8443/ws' failed: Error in connection "
           "establishment: net::ERR_CERT_COMMON_NAME_INVALID",
           "words: net error");
    problem_browser_error(problem_find("not-found"), &a, out, sizeof out);
    is_str(str_from_cstr(out),
           "WebSocket connection to 'wss://localhost:8443/ws' failed: Error during WebSocket "
           "handshake: Unexpected response code: 404",
           "words: status");
    a.detail = "Incorrect 'Sec-WebSocket-Accept' header value";
    problem_browser_error(problem_find("bad-accept"), &a, out, sizeof out);
    is_str(str_from_cstr(out),
           "WebSocket connection to 'wss://localhost:8443/ws' failed: Error during WebSocket "
           "handshake: Incorrect 'Sec-WebSocket-Accept' header value",
           "words: handshake detail");
    a.detail = NULL;
    problem_browser_error(problem_find("no-response"), &a, out, sizeof out);
    is_str(str_from_cstr(out),
           "WebSocket connection to 'wss://localhost:8443/ws' failed: WebSocket is closed before "
           "the connection is established.",
           "words: no-response");
    problem_browser_error(problem_find("closed-before-response"), &a, out, sizeof out);
    is_str(str_from_cstr(out),
           "WebSocket connection to 'wss://localhost:8443/ws' failed: Connection closed before "
           "receiving a handshake response",
           "words: closed before response");
    a.url = "ws://chat.test/";
    problem_browser_error(problem_find("mixed-content"), &a, out, sizeof out);
    is_str(str_from_cstr(out),
           "Mixed Content: The page at 'https://app.test/' was loaded over HTTPS, but attempted to "
           "connect to the insecure WebSocket endpoint 'ws://chat.test/'. This request has been "
           "blocked; this endpoint must be available over WSS.",
           "words: mixed content");
    problem_browser_error(problem_find("no-echo"), &a, out, sizeof out);
    is_str(str_from_cstr(out), "", "words: no-echo is silent");

    problem_render("x {host}:{port}{path} {unknown} {scheme}", &a, out, sizeof out);
    is_str(str_from_cstr(out), "x localhost:8443/ws {unknown} ws", "render: placeholders");
    problem_render("{url}", &a, out, 5);
    is_str(str_from_cstr(out), "ws:/", "render: cut to fit");
    ok(has(problem_find("cert-name-mismatch")->cause, "12038"), "cause: IE's error 12038");
    ok(has(problem_find("mixed-content")->cause, "localhost"), "cause: the localhost exemption");
    ok(has(problem_find("upgrade-not-forwarded")->fix, "proxy_set_header Upgrade $http_upgrade;"),
       "fix: the nginx lines");
}

/* Parses a response head written with "\n" for CRLF, then classifies it for key. */
static struct ws_verdict judge(const char *head, const char *key)
{
    static char buf[4096];
    struct h1_header hdrs[32];
    struct h1_response resp;
    struct h1_error err;
    struct ws_verdict v;
    size_t n = 0;

    for (const char *p = head; *p != '\0' && n + 2 < sizeof buf; p++) {
        if (*p == '\n')
            buf[n++] = '\r';
        buf[n++] = *p;
    }
    memset(&v, 0, sizeof v);
    if (h1_parse_response(buf, n, NULL, hdrs, 32, false, &resp, &err) <= 0) {
        v.code = "unparsed";
        return v;
    }
    probe_ws_classify(&resp, key, &v);
    return v;
}

static bool code_is(const struct ws_verdict *v, const char *code)
{
    bool r = (v->code == NULL && code == NULL) ||
             (v->code != NULL && code != NULL && strcmp(v->code, code) == 0);
    if (!r)
        printf("#   code %s, want %s\n", v->code ? v->code : "NULL", code ? code : "NULL");
    return r;
}

static void test_classify(void)
{
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    char head[1024];
    struct ws_verdict v;
    static const struct {
        int status;
        const char *code;
    } statuses[] = {
        {200, "not-websocket"},
        {404, "not-found"},
        {301, "redirect"},
        {302, "redirect"},
        {307, "redirect"},
        {308, "redirect"},
        {400, "upgrade-not-forwarded"},
        {426, "upgrade-not-forwarded"},
        {403, "forbidden"},
        {401, "forbidden"},
        {502, "backend-down"},
        {504, "backend-timeout"},
        {500, "unexpected-status"},
        {503, "unexpected-status"},
    };

    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n",
              key);
    ok(code_is(&v, NULL), "101: good");
    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: WebSocket\nConnection: keep-alive, "
              "upgrade\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n",
              key);
    ok(code_is(&v, NULL), "101: case and token lists as Chromium accepts them");
    v = judge("HTTP/1.1 101 Switching Protocols\nConnection: Upgrade\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n",
              key);
    ok(code_is(&v, "no-upgrade-header") && strcmp(v.detail, "'Upgrade' header is missing") == 0,
       "101: no Upgrade");
    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: h2c\nConnection: Upgrade\n\n", key);
    ok(code_is(&v, "no-upgrade-header") &&
           strcmp(v.detail, "'Upgrade' header value is not 'WebSocket': h2c") == 0,
       "101: other Upgrade");
    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n",
              key);
    ok(code_is(&v, "no-upgrade-header") && strcmp(v.detail, "'Connection' header is missing") == 0,
       "101: no Connection");
    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: keep-alive\n\n",
              key);
    ok(code_is(&v, "no-upgrade-header") &&
           strcmp(v.detail, "'Connection' header value must contain 'Upgrade'") == 0,
       "101: Connection without upgrade");
    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n"
              "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
              key);
    ok(code_is(&v, "bad-accept") &&
           strcmp(v.detail, "Incorrect 'Sec-WebSocket-Accept' header value") == 0,
       "101: wrong accept");
    v = judge("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\n", key);
    ok(code_is(&v, "bad-accept") &&
           strcmp(v.detail, "'Sec-WebSocket-Accept' header is missing") == 0,
       "101: no accept");
    v = judge(
        "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\nSec-WebSocket-Protocol: chat\n\n",
        key);
    ok(code_is(&v, "bad-handshake") && has(v.detail, "'Sec-WebSocket-Protocol'"),
       "101: subprotocol not asked for");
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        snprintf(head, sizeof head, "HTTP/1.1 %d X\nContent-Length: 0\n\n", statuses[i].status);
        v = judge(head, key);
        ok(code_is(&v, statuses[i].code) && v.status == statuses[i].status, "status: its code");
    }
    v = judge("HTTP/1.1 301 Moved Permanently\nLocation: https://h/websocket/\n"
              "Content-Length: 0\n\n",
              key);
    ok(code_is(&v, "redirect") && strcmp(v.location, "https://h/websocket/") == 0,
       "redirect: Location kept");
}

static void test_request(void)
{
    struct wsurl u;
    char why[256], req[2048], key[WS_KEY_LEN + 1];

    wsurl_parse_ws("wss://[::1]:8443/chat?x=1", NULL, &u, why, sizeof why);
    ok(ws_key_generate(key) == 0, "request: key");
    ok(probe_ws_request(req, sizeof req, &u, "https://app.test", key) > 0, "request: built");
    ok(has(req, "GET /chat?x=1 HTTP/1.1\r\nHost: [::1]:8443\r\n"), "request: line and Host");
    ok(has(req, "\r\nUpgrade: websocket\r\n") && has(req, "\r\nConnection: Upgrade\r\n") &&
           has(req, "\r\nSec-WebSocket-Version: 13\r\n") &&
           has(req, "\r\nOrigin: https://app.test\r\n") && has(req, key),
       "request: the upgrade headers");
    ok(probe_ws_request(req, 40, &u, "https://app.test", key) == -1, "request: too small");
}

static void test_json(void)
{
    struct report *r = calloc(1, sizeof *r);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    r->args.url = "ws://h/";
    snprintf(r->url, sizeof r->url, "ws://h/");
    report_step(r, "url", STEP_OK, "quote \" backslash \\ newline \n tab \t ctl \x01");
    report_fail(r, "no-echo", "Specific %d.", 1);
    report_print_json(r, f);
    fclose(f);
    ok(has(buf, "{\"ok\": false, \"problem\": \"no-echo\", \"browser_error\": \"\", \"cause\": "
                "\"Specific 1. The WebSocket opened"),
       "json: head");
    ok(has(buf, "quote \\\" backslash \\\\ newline \\n tab \\t ctl \\u0001"), "json: escapes");
    ok(has(buf, "\"steps\": [{\"step\": \"url\", \"status\": \"ok\""), "json: steps");
    report_fail(r, "bad-url", NULL);
    ok(strcmp(r->problem->code, "no-echo") == 0, "report: the first problem stays");
    free(buf);

    memset(r, 0, sizeof *r);
    buf = NULL;
    f = open_memstream(&buf, &len);
    report_step(r, "message", STEP_OK, "fine");
    report_print_json(r, f);
    fclose(f);
    ok(has(buf, "{\"ok\": true, \"problem\": null, \"browser_error\": null, \"cause\": null, "
                "\"fix\": null"),
       "json: ok report");
    ok(report_ok(r), "report: ok");
    free(buf);
    free(r);
}

int main(void)
{
    test_urls();
    test_ports();
    test_problems();
    test_classify();
    test_request();
    test_json();
    return tap_done();
}
