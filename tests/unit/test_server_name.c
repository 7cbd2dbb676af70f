/* route/server_name: nginx's order (exact, *.x, x.*, regex, default), host normalisation,
 * the wildcard table's conflicts and quirks, and every server_name error and warning. */
#include "tap.h"
#include "route/server_name.h"

#include <stdio.h>
#include <string.h>

static char err[256];

static void is_server(const struct server_names *sn, const char *host, const char *want)
{
    char name[300];
    snprintf(name, sizeof(name), "\"%s\" → %s", host, want);
    const char *got = server_names_find(sn, str_from_cstr(host));
    if (!ok(got && strcmp(got, want) == 0, name))
        printf("#   got %s\n", got ? got : "NULL");
}

static int add(struct server_names *sn, const char *name, const char *server)
{
    err[0] = '\0';
    return server_names_add(sn, name, (void *)server, err, sizeof(err));
}

static void order(void)
{
    struct server_names *sn = server_names_new();
    add(sn, "default.test", "D"); /* the first server: default unless told otherwise */
    ok(add(sn, "www.example.com", "exact") == 0, "exact added");
    ok(add(sn, "*.example.com", "head") == 0, "*.x added");
    ok(add(sn, "www.example.*", "tail") == 0, "x.* added");
    ok(add(sn, "~^www\\.", "regex1") == 0, "regex added");
    ok(add(sn, "~^w", "regex2") == 0, "second regex added");
    ok(server_names_finish(sn, err, sizeof(err)) == 0, "finish");
    is_server(sn, "www.example.com", "exact");
    is_server(sn, "WWW.Example.COM:8443", "exact");
    is_server(sn, "www.example.com.", "exact");
    is_server(sn, "x.example.com", "head");
    is_server(sn, "a.b.example.com", "head");
    is_server(sn, "www.example.org", "tail");
    is_server(sn, "www.example.co.uk", "tail");
    is_server(sn, "www.other.net", "regex1");
    is_server(sn, "web.other.net", "regex2");
    is_server(sn, "example.com", "D");      /* *.x needs a label before it */
    is_server(sn, "www.example", "regex1"); /* x.* needs a label after it */
    is_server(sn, "unknown.test", "D");
    server_names_set_default(sn, (void *)"explicit");
    is_server(sn, "unknown.test", "explicit");
    is_server(sn, "", "explicit");     /* no Host: only a "" name could match */
    is_server(sn, "a..b", "explicit"); /* invalid Host: default (caller answers 400) */
    server_names_free(sn);
}

static void wildcards(void)
{
    struct server_names *sn = server_names_new();
    add(sn, "x.test", "default");
    ok(add(sn, ".example.com", "dot") == 0, ".x added");
    ok(add(sn, "*.b.example.com", "deep") == 0, "deeper *.x added");
    ok(add(sn, "www.*", "www") == 0, "www.* added");
    ok(add(sn, "www.example.*", "wwwex") == 0, "longer x.* added");
    ok(add(sn, ".b.c.d", "bcd") == 0, ".b.c.d added");
    server_names_finish(sn, err, sizeof(err));
    is_server(sn, "example.com", "dot"); /* .x covers x itself */
    is_server(sn, "a.example.com", "dot");
    is_server(sn, "b.example.com", "dot");    /* *.b.… needs a label before b */
    is_server(sn, "a.b.example.com", "deep"); /* the longest leading wildcard */
    is_server(sn, "z.a.b.example.com", "deep");
    is_server(sn, "www.example.net", "wwwex"); /* the longest trailing wildcard */
    is_server(sn, "www.examplex.net", "www");  /* labels, not characters */
    is_server(sn, "www.example", "www");
    is_server(sn, "www", "default");
    is_server(sn, "www.example.com", "dot"); /* leading wildcards before trailing ones */
    is_server(sn, "b.c.d", "bcd");
    is_server(sn, "xb.c.d", "default");
    server_names_free(sn);
}

static void special_names(void)
{
    struct server_names *sn = server_names_new();
    add(sn, "_", "catchall"); /* nginx convention: an invalid name that no real host has */
    add(sn, "", "nohost");
    add(sn, "~.*", "any");
    server_names_set_default(sn, (void *)"catchall");
    server_names_finish(sn, err, sizeof(err));
    is_server(sn, "", "nohost");
    is_server(sn, "site.test", "any");
    server_names_free(sn);

    sn = server_names_new();
    add(sn, "a.test", "A");
    add(sn, "~^(?<user>[a-z]+)\\.example\\.net$", "users");
    add(sn, "~^APP\\d+\\.test$", "apps"); /* capitals: compiled caselessly, as nginx */
    server_names_finish(sn, err, sizeof(err));
    struct loc_captures c;
    struct str host = STR_LIT("Alice.Example.NET:443");
    const char *s = server_names_match(sn, host, &c);
    ok(s && strcmp(s, "users") == 0, "regex server");
    ok(c.n == 2 && c.re != NULL, "regex captures");
    int g = location_regex_group(c.re, STR_LIT("user"));
    ok(g == 1 && c.start[g] == 0 && c.end[g] == 5, "(?<user>) is the host's first 5 bytes");
    is_server(sn, "app7.test", "apps");
    is_server(sn, "alice.example.net.evil", "A"); /* anchored: the default */
    s = server_names_match(sn, STR_LIT("a.test"), &c);
    ok(s && strcmp(s, "A") == 0 && c.n == 0, "exact name: no captures");
    char longhost[600];
    memset(longhost, 'a', 590);
    memcpy(longhost + 590, ".test", 6);
    s = server_names_find(sn, str_from_cstr(longhost));
    ok(s && strcmp(s, "A") == 0, "a 595-byte host goes to the default");
    add(sn, "~^a+\\.test$", "many-a");
    s = server_names_find(sn, str_from_cstr(longhost));
    ok(s && strcmp(s, "many-a") == 0, "a long host is matched by regexes too");
    server_names_free(sn);
}

static void expect(int rc, int want_rc, const char *want_err, const char *name)
{
    ok(rc == want_rc && strcmp(err, want_err) == 0, name);
    if (rc != want_rc || strcmp(err, want_err) != 0)
        printf("#   got %d \"%s\"\n", rc, err);
}

static void errors_and_conflicts(void)
{
    struct server_names *sn = server_names_new();
    expect(add(sn, "*", "x"), -1, "server name \"*\" is invalid", "* alone");
    expect(add(sn, "*x.com", "x"), -1, "server name \"*x.com\" is invalid", "*x.com");
    expect(add(sn, ".", "x"), -1, "server name \".\" is invalid", ". alone");
    expect(add(sn, "www.*.com", "x"), -1, "invalid server name or wildcard \"www.*.com\"",
           "* in the middle");
    expect(add(sn, "a..b", "x"), -1, "invalid server name or wildcard \"a..b\"", "..");
    expect(add(sn, "*.a.*", "x"), -1, "invalid server name or wildcard \"*.a.*\"", "two *");
    expect(add(sn, "~", "x"), -1, "empty regex in server name \"~\"", "empty regex");
    expect(add(sn, "~(", "x"), -1, "invalid regex \"(\": missing closing parenthesis at offset 1",
           "bad regex");
    expect(add(sn, "a/b", "x"), 1, "server name \"a/b\" has suspicious symbols", "suspicious /");
    is_server(sn, "a/b", "x"); /* still added, but '/' makes the Host invalid: default */

    expect(add(sn, "example.com", "first"), 0, "", "example.com");
    expect(add(sn, "Example.COM", "second"), 1, "conflicting server name \"Example.COM\"",
           "exact duplicate, any case, is a warning");
    is_server(sn, "example.com", "first");
    expect(add(sn, ".example.com", "dot"), 1, "conflicting server name \".example.com\"",
           ".x after x conflicts");
    is_server(sn, "w.example.com", "x"); /* and its *.x part was dropped too, as nginx */
    expect(add(sn, "*.example.org", "star"), 0, "", "*.example.org");
    expect(add(sn, ".example.org", "dot"), 1, "conflicting server name \".example.org\"",
           ".x after *.x conflicts");
    expect(add(sn, "example.org", "bare"), 1, "conflicting server name \"example.org\"",
           "… and has reserved x anyway (nginx quirk)");
    is_server(sn, "example.org", "x");
    is_server(sn, "a.example.org", "star");
    expect(add(sn, "w.*", "t1"), 0, "", "w.*");
    expect(add(sn, "W.*", "t2"), 1, "conflicting server name \"W.*\"", "duplicate x.*");
    server_names_free(sn);
}

static void normalize(void)
{
    char buf[64];
    struct str out;
    ok(server_names_normalize_host(STR_LIT("Example.COM:8080"), buf, sizeof(buf), &out) == 0 &&
           str_eq(out, STR_LIT("example.com")),
       "port cut, lowercased");
    ok(server_names_normalize_host(STR_LIT("[::1]:443"), buf, sizeof(buf), &out) == 0 &&
           str_eq(out, STR_LIT("[::1]")),
       "IPv6 literal kept with its brackets");
    ok(server_names_normalize_host(STR_LIT("example.com.:80"), buf, sizeof(buf), &out) == 0 &&
           str_eq(out, STR_LIT("example.com")),
       "one trailing dot dropped");
    ok(server_names_normalize_host(STR_LIT(".example.com"), buf, sizeof(buf), &out) == 0,
       "a leading dot is allowed (nginx)");
    is_int(server_names_normalize_host(STR_LIT(""), buf, sizeof(buf), &out), -1, "empty");
    is_int(server_names_normalize_host(STR_LIT(":80"), buf, sizeof(buf), &out), -1, "only port");
    is_int(server_names_normalize_host(STR_LIT("."), buf, sizeof(buf), &out), -1, "only a dot");
    is_int(server_names_normalize_host(STR_LIT("a..b"), buf, sizeof(buf), &out), -1, "..");
    is_int(server_names_normalize_host(STR_LIT("a/b"), buf, sizeof(buf), &out), -1, "slash");
    is_int(server_names_normalize_host(str_make("a\0b", 3), buf, sizeof(buf), &out), -1, "NUL");
    is_int(server_names_normalize_host(STR_LIT("abcdef"), buf, 3, &out), -2, "buffer too small");
}

static void table(void)
{
    struct server_names_table *t = server_names_table_new();
    ok(server_names_table_add(t, STR_LIT("*.Literal"), false, (void *)"lit") == SN_TABLE_OK,
       "without wildcards * is literal");
    ok(server_names_table_add(t, STR_LIT("*.literal"), false, (void *)"x") == SN_TABLE_CONFLICT,
       "… and case-insensitive");
    const char *v = server_names_table_find(t, STR_LIT("*.literal"));
    ok(v && strcmp(v, "lit") == 0, "literal found");
    ok(server_names_table_find(t, STR_LIT("a.literal")) == NULL, "not a pattern");
    ok(server_names_table_add(t, STR_LIT(""), false, (void *)"empty") == SN_TABLE_OK, "\"\" key");
    v = server_names_table_find(t, STR_LIT(""));
    ok(v && strcmp(v, "empty") == 0, "\"\" found");
    server_names_table_free(t);
}

int main(void)
{
    order();
    wildcards();
    special_names();
    errors_and_conflicts();
    normalize();
    table();
    return tap_done();
}
