/* conf/vars: $name / ${name} / $1..$9 parsing as ngx_http_script_compile, nginx's error
 * messages, evaluation, and `map` (exact, hostnames wildcards, regexes with captures, default). */
#include "tap.h"
#include "conf/vars.h"

#include <stdio.h>
#include <string.h>

static char err[256];

/* A request with a few variables; the ids are the table index. */
static const char *names[] = {"scheme", "host", "request_uri", "http_upgrade", "uri", "empty"};
static const char *values[] = {"https",     "chat.example.com", "/ws?room=1",
                               "websocket", "/Old/Path/x.html", NULL};
static char captured[32] = "from-location"; /* what the caller's $1 is */

static int lookup(void *ctx, struct str name)
{
    (void)ctx;
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (str_eq(name, str_from_cstr(names[i])))
            return i;
    return -1;
}

static struct str get(void *ctx, int id)
{
    (void)ctx;
    if (id == VAR_CAPTURE_BASE + 1)
        return str_from_cstr(captured);
    if (id >= VAR_CAPTURE_BASE)
        return STR_NULL;
    return values[id] ? str_from_cstr(values[id]) : STR_NULL;
}

static struct var_template *compile(const char *text)
{
    err[0] = '\0';
    return var_compile(text, lookup, NULL, err, sizeof(err));
}

static void is_eval(const char *text, const char *want)
{
    char out[256], name[300];
    snprintf(name, sizeof(name), "\"%s\" → \"%s\"", text, want);
    struct var_template *t = compile(text);
    long n = t ? var_eval(t, get, NULL, out, sizeof(out)) : -1;
    tap_is_mem(n < 0 ? "" : out, n < 0 ? 0 : (size_t)n, want, strlen(want), __FILE__, __LINE__,
               name);
    if (t == NULL)
        printf("#   compile error: %s\n", err);
    var_free(t);
}

static void is_error(const char *text, const char *want)
{
    char name[300];
    snprintf(name, sizeof(name), "error for \"%s\"", text);
    struct var_template *t = compile(text);
    ok(t == NULL && strcmp(err, want) == 0, name);
    if (t || strcmp(err, want) != 0)
        printf("#   got \"%s\"\n", t ? "(compiled)" : err);
    var_free(t);
}

static void templates(void)
{
    struct var_template *t = compile("upgrade");
    ok(t && var_is_constant(t) && str_eq(var_constant(t), STR_LIT("upgrade")), "constant");
    char out[16];
    is_int(var_eval(t, NULL, NULL, out, sizeof(out)), 7, "constant evaluates without get");
    var_free(t);
    t = compile("");
    ok(t && var_is_constant(t) && var_eval(t, get, NULL, out, 0) == 0, "empty constant");
    var_free(t);
    t = compile("$host");
    ok(t && !var_is_constant(t), "a variable is not constant");
    is_int(var_eval_len(t, get, NULL), 16, "eval_len");
    is_int(var_eval(t, get, NULL, out, 15), -1, "one byte short: -1");
    is_int(var_eval(t, get, NULL, out, 16), 16, "exact fit");
    var_free(t);

    is_eval("$scheme://$host$request_uri", "https://chat.example.com/ws?room=1");
    is_eval("${http_upgrade}x", "websocketx");
    is_eval("a${scheme}b$scheme-c", "ahttpsbhttps-c");
    is_eval("$HOST", "chat.example.com"); /* names are case-insensitive */
    is_eval("[$empty]", "[]");            /* not found renders empty */
    is_eval("$1", "from-location");
    is_eval("$10", "from-location0"); /* one digit only */
    is_eval("$2", "");
    is_eval("100%", "100%");
    is_eval("${host}.", "chat.example.com.");

    is_error("abc$", "invalid variable name in \"abc$\"");
    is_error("$", "invalid variable name in \"$\"");
    is_error("${", "invalid variable name in \"${\"");
    is_error("${}", "invalid variable name in \"${}\"");
    is_error("$-x", "invalid variable name in \"$-x\"");
    is_error("$ x", "invalid variable name in \"$ x\"");
    is_error("${host", "the closing bracket in \"host\" variable is missing");
    is_error("${a-b}", "the closing bracket in \"a\" variable is missing");
    is_error("$foo", "unknown variable \"$foo\"");
    is_error("$hostx", "unknown variable \"$hostx\""); /* longest name run */
    is_error("$0", "unknown variable \"$0\"");         /* $0 is no capture in nginx */
    is_error("${1}", "unknown variable \"$1\"");
}

static struct var_map *map_of(const char *source)
{
    return var_map_new(compile(source));
}

static int madd(struct var_map *m, const char *key, const char *value)
{
    err[0] = '\0';
    return var_map_add(m, key, compile(value), err, sizeof(err));
}

static void is_map(struct var_map *m, const char *src_value, const char *want)
{
    char out[128], name[300];
    values[4] = src_value; /* the maps below read $uri */
    snprintf(name, sizeof(name), "map(\"%s\") → \"%s\"", src_value ? src_value : "(null)", want);
    long n = var_map_eval(m, get, NULL, out, sizeof(out));
    tap_is_mem(n < 0 ? "" : out, n < 0 ? 0 : (size_t)n, want, strlen(want), __FILE__, __LINE__,
               name);
}

static void maps(void)
{
    /* map $http_upgrade $connection_upgrade { default upgrade; '' close; } */
    struct var_map *m = map_of("$uri");
    ok(madd(m, "default", "upgrade") == 0 && madd(m, "", "close") == 0, "the usual map");
    is_map(m, "websocket", "upgrade");
    is_map(m, "", "close");
    is_map(m, NULL, "close"); /* header absent */
    var_map_free(m);

    m = map_of("$uri");
    madd(m, "/Exact", "exact");
    madd(m, "~^/old/(\\w+)/(.*)$", "/new/$1/$2");
    madd(m, "~*\\.HTML$", "html:$host");
    madd(m, "~^$", "never"); /* regexes are not tried on an empty value */
    madd(m, "\\default", "literal-default");
    madd(m, "\\~tilde", "literal-tilde");
    madd(m, "~^/cap", "$1");      /* a regex without groups: $1 is empty */
    madd(m, "static", "$1");      /* no regex matched: $1 is the caller's */
    is_map(m, "/exact", "exact"); /* exact keys are case-insensitive */
    is_map(m, "/EXACT", "exact");
    is_map(m, "/old/abc/def.txt", "/new/abc/def.txt");
    is_map(m, "/Old/abc/x.html", "html:chat.example.com"); /* first regex is case-sensitive */
    is_map(m, "", "");                                     /* no default: empty */
    is_map(m, "default", "literal-default");
    is_map(m, "~tilde", "literal-tilde");
    is_map(m, "/capture", "");
    is_map(m, "STATIC", "from-location");
    is_map(m, "/nothing", "");
    ok(madd(m, "default", "a") == 0 && madd(m, "default", "b") == -1 &&
           strcmp(err, "duplicate default map parameter") == 0,
       "duplicate default");
    ok(madd(m, "/EXACT", "again") == -1 && strcmp(err, "conflicting parameter \"/EXACT\"") == 0,
       "conflicting exact key");
    ok(madd(m, "~(", "x") == -1 &&
           strcmp(err, "invalid regex \"(\": missing closing parenthesis at offset 1") == 0,
       "bad regex key");
    is_map(m, "/nothing", "a");
    var_map_free(m);

    m = map_of("$uri");
    madd(m, "*.example.com", "not-a-pattern");
    var_map_set_hostnames(m);
    madd(m, ".example.org", "org");
    madd(m, "www.example.*", "www");
    madd(m, "~^api\\.", "api");
    ok(madd(m, "a.*.b", "x") == -1 && strcmp(err, "invalid hostname or wildcard \"a.*.b\"") == 0,
       "invalid wildcard with hostnames");
    is_map(m, "*.example.com", "not-a-pattern"); /* added before `hostnames` */
    is_map(m, "a.example.com", "");
    is_map(m, "example.org", "org");
    is_map(m, "A.Example.Org.", "org"); /* hostnames: trailing dot dropped, any case */
    is_map(m, "www.example.net", "www");
    is_map(m, "api.test", "api");
    var_map_free(m);
}

int main(void)
{
    templates();
    maps();
    return tap_done();
}
