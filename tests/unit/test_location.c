/* route/location: nginx's matching order (docs table, the seed config, nesting), captures,
 * auto-redirect, named locations and every configuration error nginx reports. */
#include "tap.h"
#include "route/location.h"

#include <stdio.h>
#include <string.h>

static char err[256];

/* Adds a location from nginx-style arguments and tags it with its own text. */
static struct location *add(struct location_set *set, const char *a1, const char *a2)
{
    enum loc_kind kind;
    const char *pattern;
    if (location_parse_args(a1, a2, &kind, &pattern, err, sizeof(err)) < 0)
        return NULL;
    return location_add(set, kind, pattern, (void *)(a2 ? a2 : a1), err, sizeof(err));
}

static const char *find(const struct location_set *set, const char *uri)
{
    const struct location *l = location_find(set, str_from_cstr(uri), NULL, NULL);
    return l ? (const char *)l->data : "(none)";
}

static void is_loc(const struct location_set *set, const char *uri, const char *want)
{
    char name[300];
    snprintf(name, sizeof(name), "%s → %s", uri, want);
    const char *got = find(set, uri);
    if (!ok(strcmp(got, want) == 0, name))
        printf("#   got %s\n", got);
}

static void docs_table(void)
{
    /* https://nginx.org/en/docs/http/ngx_http_core_module.html#location */
    struct location_set *s = location_set_new();
    ok(add(s, "=", "/") && add(s, "/", NULL) && add(s, "/documents/", NULL) &&
           add(s, "^~", "/images/") && add(s, "~*", "\\.(gif|jpg|jpeg)$"),
       "docs: locations added");
    ok(location_set_finish(s, err, sizeof(err)) == 0, "docs: finish");
    is_loc(s, "/", "/"); /* configuration A: the exact one (its data is its name "/") */
    ok(location_find(s, STR_LIT("/"), NULL, NULL)->kind == LOC_EXACT, "docs: / is A (exact)");
    ok(location_find(s, STR_LIT("/index.html"), NULL, NULL)->kind == LOC_PREFIX,
       "docs: /index.html is B");
    is_loc(s, "/documents/document.html", "/documents/");
    is_loc(s, "/images/1.gif", "/images/");
    is_loc(s, "/documents/1.jpg", "\\.(gif|jpg|jpeg)$");
    is_loc(s, "/documents/1.JPG", "\\.(gif|jpg|jpeg)$");
    location_set_free(s);
}

static struct location_set *seed_set(bool redirect)
{
    /* The locations of the seed article's www.joshua317.com server, in its order. */
    struct location_set *s = location_set_new();
    add(s, "/", NULL);
    struct location *ws = add(s, "/websocket/", NULL);
    ws->auto_redirect = redirect; /* it holds proxy_pass */
    add(s, "~", ".*\\.(gif|jpg|jpeg|png|bmp|swf|txt)$");
    add(s, "~", ".*\\.(js|css)?$");
    add(s, "~", "/\\.");
    add(s, "~", "\\.php$");
    add(s, "/index.php", NULL);
    add(s, "=", "/index.html");
    location_set_finish(s, err, sizeof(err));
    return s;
}

static void seed_config(void)
{
    struct location_set *s = seed_set(false);
    is_loc(s, "/", "/");
    is_loc(s, "/chat/room", "/");
    is_loc(s, "/websocket/", "/websocket/");
    is_loc(s, "/websocket/x", "/websocket/");
    is_loc(s, "/websocket", "/"); /* no auto redirect without a proxy_pass */
    is_loc(s, "/img/a.png", ".*\\.(gif|jpg|jpeg|png|bmp|swf|txt)$");
    /* nginx serves the dotfile: the .txt regex comes before the deny-dotfiles one */
    is_loc(s, "/.secret.txt", ".*\\.(gif|jpg|jpeg|png|bmp|swf|txt)$");
    is_loc(s, "/.htaccess", "/\\.");
    is_loc(s, "/.git/config", "/\\.");
    is_loc(s, "/app.js", ".*\\.(js|css)?$");
    is_loc(s, "/websocket/app.css", ".*\\.(js|css)?$");
    is_loc(s, "/trailing.", ".*\\.(js|css)?$"); /* (js|css)? is optional */
    is_loc(s, "/index.php", "\\.php$");         /* a plain prefix loses to a regex */
    is_loc(s, "/index.phpx", "/index.php");
    is_loc(s, "/x/y.php", "\\.php$");
    is_loc(s, "/index.html", "/index.html");
    is_loc(s, "/index.html5", "/");
    ok(location_find(s, STR_LIT("/index.html"), NULL, NULL)->kind == LOC_EXACT,
       "seed: = /index.html is exact");
    location_set_free(s);

    s = seed_set(true);
    bool redirect = false;
    const struct location *l = location_find(s, STR_LIT("/websocket"), NULL, &redirect);
    ok(l && strcmp(l->pattern, "/websocket/") == 0 && redirect,
       "seed: /websocket → 301 to /websocket/ when it proxies");
    l = location_find(s, STR_LIT("/websocket/"), NULL, &redirect);
    ok(l && !redirect, "seed: /websocket/ itself is no redirect");
    l = location_find(s, STR_LIT("/websocke"), NULL, &redirect);
    ok(l && strcmp(l->pattern, "/") == 0 && !redirect, "seed: /websocke is just /");
    location_set_free(s);
}

static void nesting(void)
{
    struct location_set *s = location_set_new();
    struct location *a = add(s, "/a", NULL);
    struct location_set *in_a = location_nested(a);
    struct location *ab = add(in_a, "/a/b", NULL);
    ok(ab != NULL, "nested prefix inside its parent");
    ok(add(in_a, "~", "\\.x$") != NULL, "nested regex");
    struct location *ac = add(in_a, "^~", "/a/c");
    ok(ac != NULL, "nested ^~");
    add(location_nested(ab), "=", "/a/b/exact");
    add(s, "~", "\\.x$|\\.y$");
    add(s, "~", "^/r");
    struct location *api = add(s, "~", "^/api");
    add(location_nested(api), "~", "\\.json$");
    ok(location_set_finish(s, err, sizeof(err)) == 0, "nested: finish");
    ok(location_find(s, STR_LIT("/a/b/1.x"), NULL, NULL)->pattern[0] == '\\',
       "nested regex before the server's regexes");
    is_loc(s, "/a/b/1.x", "\\.x$"); /* the nested one */
    is_loc(s, "/a/b/1.y", "\\.x$|\\.y$");
    is_loc(s, "/a/b/z", "/a/b");
    is_loc(s, "/a/b/exact", "/a/b/exact");
    is_loc(s, "/a", "/a");
    is_loc(s, "/ab", "/a");
    /* ^~ skips the regexes of its own level only: the enclosing level's still run (nginx) */
    is_loc(s, "/a/c/1.x", "\\.x$|\\.y$");
    is_loc(s, "/a/c/1.z", "/a/c");
    is_loc(s, "/api/x", "^/api");
    is_loc(s, "/api/x.json", "\\.json$");
    is_loc(s, "/r", "^/r");
    is_loc(s, "/nothing", "(none)");
    location_set_free(s);

    /* ^~ at the top level stops the top-level regexes */
    s = location_set_new();
    struct location *st = add(s, "^~", "/static/");
    add(location_nested(st), "~", "\\.css$");
    add(s, "~", "\\.(css|js)$");
    location_set_finish(s, err, sizeof(err));
    is_loc(s, "/static/a.js", "/static/");
    is_loc(s, "/static/a.css", "\\.css$"); /* regexes nested in a ^~ location still run */
    is_loc(s, "/other/a.js", "\\.(css|js)$");
    location_set_free(s);
}

static void case_and_captures(void)
{
    struct location_set *s = location_set_new();
    add(s, "/Images/", NULL);
    add(s, "~", "\\.png$");
    add(s, "~*", "\\.GIF$");
    add(s, "~", "^/user/(?<id>\\d+)(/(\\w+))?");
    add(s, "~", "^/(a)|(b)$");
    location_set_finish(s, err, sizeof(err));
    is_loc(s, "/images/x", "(none)"); /* prefixes are case-sensitive on Linux */
    is_loc(s, "/Images/x", "/Images/");
    is_loc(s, "/x.PNG", "(none)");
    is_loc(s, "/x.png", "\\.png$");
    is_loc(s, "/x.gif", "\\.GIF$");
    is_loc(s, "/x.GiF", "\\.GIF$");

    struct loc_captures c;
    struct str uri = STR_LIT("/user/42/edit");
    const struct location *l = location_find(s, uri, &c, NULL);
    ok(l && l->kind == LOC_REGEX && c.n == 4, "captures: 3 groups + $0");
    is_str(str_make(uri.p + c.start[0], c.end[0] - c.start[0]), "/user/42/edit", "$0");
    is_str(str_make(uri.p + c.start[1], c.end[1] - c.start[1]), "42", "$1");
    is_str(str_make(uri.p + c.start[3], c.end[3] - c.start[3]), "edit", "$3");
    is_int(location_regex_group(c.re, STR_LIT("id")), 1, "named group id is $1");
    is_int(location_regex_group(c.re, STR_LIT("nope")), -1, "unknown group name");
    is_int(location_regex_name_count(c.re), 1, "one named group");
    int g = 0;
    ok(strcmp(location_regex_name(c.re, 0, &g), "id") == 0 && g == 1, "named group listed");
    is_int(location_regex_capture_count(c.re), 3, "capture count");
    uri = STR_LIT("/user/7");
    l = location_find(s, uri, &c, NULL);
    ok(l && c.n == 2 && c.start[3] == c.end[3], "unmatched optional groups read empty");
    uri = STR_LIT("/b");
    l = location_find(s, uri, &c, NULL);
    ok(l && c.n == 3 && c.start[1] == c.end[1] && c.end[2] - c.start[2] == 1,
       "a group that did not take part is empty");
    location_find(s, STR_LIT("/Images/x"), &c, NULL);
    ok(c.n == 0, "no regex matched: no captures");
    location_set_free(s);
}

static void exact_and_prefix_pair(void)
{
    struct location_set *s = location_set_new();
    struct location *e = add(s, "=", "/x/");
    struct location *p = add(s, "/x/", NULL);
    add(s, "/", NULL);
    ok(e && p, "= /x/ and /x/ may coexist (nginx joins them)");
    p->auto_redirect = true;
    location_set_finish(s, err, sizeof(err));
    ok(location_find(s, STR_LIT("/x/"), NULL, NULL) == e, "exact of the pair for /x/");
    ok(location_find(s, STR_LIT("/x/y"), NULL, NULL) == p, "prefix of the pair below it");
    bool r = false;
    ok(location_find(s, STR_LIT("/x"), NULL, &r) == e && r,
       "redirect reports the exact one of the pair, as nginx's node->exact");
    location_set_free(s);

    s = location_set_new();
    e = add(s, "=", "/ws");
    p = add(s, "/ws/", NULL);
    p->auto_redirect = true;
    location_set_finish(s, err, sizeof(err));
    ok(location_find(s, STR_LIT("/ws"), NULL, &r) == e && !r, "an exact /ws beats the redirect");
    location_set_free(s);
}

static void named(void)
{
    struct location_set *s = location_set_new();
    struct location *f = add(s, "@fallback", NULL);
    add(s, "@fallback", NULL); /* nginx does not compare named locations: the first wins */
    add(s, "/", NULL);
    location_set_finish(s, err, sizeof(err));
    ok(f && f->kind == LOC_NAMED, "@fallback is named");
    ok(location_find_named(s, "@fallback") == f, "find_named");
    ok(location_find_named(s, "@other") == NULL, "unknown name");
    is_loc(s, "@fallback", "(none)"); /* never reached by URI */
    location_set_free(s);
}

static void expect_err(struct location *l, const char *want, const char *name)
{
    ok(l == NULL && strcmp(err, want) == 0, name);
    if (l != NULL || strcmp(err, want) != 0)
        printf("#   got \"%s\"\n", l ? "(added)" : err);
}

static void errors(void)
{
    struct location_set *s = location_set_new();
    add(s, "/x", NULL);
    add(s, "=", "/e");
    expect_err(add(s, "/x", NULL), "duplicate location \"/x\"", "duplicate prefix");
    expect_err(add(s, "^~", "/x"), "duplicate location \"/x\"", "^~ duplicates a prefix");
    expect_err(add(s, "=/e", NULL), "duplicate location \"/e\"", "duplicate exact");
    ok(add(s, "~", "/x") && add(s, "~", "/x"), "duplicate regexes are not compared (nginx)");
    expect_err(add(s, "~", "("), "invalid regex \"(\": missing closing parenthesis at offset 1",
               "bad regex");
    expect_err(add(s, "~*", "a{2,1}"),
               "invalid regex \"a{2,1}\": numbers out of order in {} quantifier at offset 5",
               "bad ~* regex");
    expect_err(add(s, "!", "/y"), "invalid location modifier \"!\"", "bad modifier");

    struct location *e = add(s, "=", "/exact");
    expect_err(add(location_nested(e), "/exact/x", NULL),
               "location \"/exact/x\" cannot be inside the exact location \"/exact\"",
               "nothing inside an exact location");
    struct location *n = add(s, "@n", NULL);
    expect_err(add(location_nested(n), "/y", NULL),
               "location \"/y\" cannot be inside the named location \"@n\"",
               "nothing inside a named location");
    struct location *a = add(s, "/a", NULL);
    expect_err(add(location_nested(a), "@in", NULL),
               "named location \"@in\" can be on the server level only",
               "named only at server level");
    expect_err(add(location_nested(a), "/b", NULL), "location \"/b\" is outside location \"/a\"",
               "nested prefix outside its parent");
    expect_err(add(location_nested(a), "=", "/"), "location \"/\" is outside location \"/a\"",
               "nested exact shorter than its parent");
    ok(add(location_nested(a), "/a", NULL) != NULL, "nested location with the parent's name");
    ok(add(location_nested(a), "~", "^/b") != NULL, "nested regex need not start with /a");
    struct location *r = add(s, "~", "\\.php$");
    expect_err(add(location_nested(r), "/x", NULL),
               "location \"/x\" is outside location \"\\.php$\"",
               "prefix inside a regex is compared with the regex text");
    location_set_free(s);
}

static void parse_args(void)
{
    enum loc_kind k;
    const char *p;
    ok(location_parse_args("=/x", NULL, &k, &p, err, sizeof(err)) == 0 && k == LOC_EXACT &&
           strcmp(p, "/x") == 0,
       "=/x glued");
    ok(location_parse_args("^~/i/", NULL, &k, &p, err, sizeof(err)) == 0 && k == LOC_PREFIX_STOP &&
           strcmp(p, "/i/") == 0,
       "^~/i/ glued");
    ok(location_parse_args("~*\\.gif$", NULL, &k, &p, err, sizeof(err)) == 0 &&
           k == LOC_REGEX_ICASE && strcmp(p, "\\.gif$") == 0,
       "~* glued");
    ok(location_parse_args("~\\.php$", NULL, &k, &p, err, sizeof(err)) == 0 && k == LOC_REGEX &&
           strcmp(p, "\\.php$") == 0,
       "~ glued");
    ok(location_parse_args("@x", NULL, &k, &p, err, sizeof(err)) == 0 && k == LOC_NAMED,
       "@x named");
    ok(location_parse_args("=", "@x", &k, &p, err, sizeof(err)) == 0 && k == LOC_EXACT,
       "= @x is an exact location, not a named one");
    ok(location_parse_args("^", NULL, &k, &p, err, sizeof(err)) == 0 && k == LOC_PREFIX,
       "^ alone is a prefix");
}

int main(void)
{
    docs_table();
    seed_config();
    nesting();
    case_and_captures();
    exact_and_prefix_pair();
    named();
    errors();
    parse_args();
    struct location_set *empty = location_set_new();
    location_set_finish(empty, err, sizeof(err));
    ok(location_find(empty, STR_LIT("/"), NULL, NULL) == NULL, "empty set finds nothing");
    location_set_free(empty);
    return tap_done();
}
