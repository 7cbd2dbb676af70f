/* conf_tree/conf_lex: every token rule of nginx's grammar, every error with its line, includes
 * (glob, missing, cycle, depth), limits, the seeds' five configs and Debian's, printing back. */
#include "rm_tree.h"
#include "tap.h"
#include "conf/conf_tree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/unit/fixtures/conf/"

#define is_cstr(got, want, name)                                                                   \
    tap_is_mem((got), strlen(got), (want), strlen(want), __FILE__, __LINE__, (name))

static struct conf_error err;
static char tmp[256]; /* the include tests' directory */

/* Parses an exact-size heap copy (no terminator), so ASan sees any read past the end. */
static struct conf_tree *parse_len(const char *text, size_t len, const char *base)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    err.msg[0] = '\0';
    struct conf_tree *t = conf_parse_string(copy, len, "t.conf", base, &err);
    free(copy);
    return t;
}

static struct conf_tree *parse(const char *text)
{
    return parse_len(text, strlen(text), NULL);
}

static const struct conf_node *kid(const struct conf_node *n, size_t i)
{
    return i < n->nchildren ? &n->children[i] : NULL;
}

static const struct conf_node *top(const struct conf_tree *t, size_t i)
{
    return t ? kid(&t->root, i) : NULL;
}

static int arg_is(const struct conf_node *n, size_t i, const char *want, bool quoted)
{
    return n && i < n->nargs && n->args[i].len == strlen(want) &&
           memcmp(n->args[i].s, want, n->args[i].len) == 0 && n->args[i].quoted == quoted;
}

static int name_is(const struct conf_node *n, const char *want)
{
    return n && strcmp(n->name, want) == 0;
}

static void fails_with(const char *text, const char *want, const char *what)
{
    struct conf_tree *t = parse(text);
    ok(t == NULL, what);
    is_cstr(err.msg, want, what);
    conf_tree_free(t);
}

/* ---- token rules ------------------------------------------------------------------------- */

static void test_words(void)
{
    struct conf_tree *t = parse("a b c;");
    const struct conf_node *n = top(t, 0);
    ok(t && t->root.nchildren == 1 && name_is(n, "a") && n->nargs == 2, "a b c;");
    ok(arg_is(n, 0, "b", false) && arg_is(n, 1, "c", false) && n->line == 1 && !n->is_block,
       "args, line, not a block");
    ok(n && n->children == NULL && n->nchildren == 0 && strcmp(n->file, "t.conf") == 0,
       "no children; file is the name given");
    conf_tree_free(t);

    t = parse("  a\tb\r\n c ;");
    n = top(t, 0);
    ok(n && n->nargs == 2 && arg_is(n, 1, "c", false) && n->line == 1, "space, tab, CR, LF");
    conf_tree_free(t);

    t = parse("a b;c d;");
    ok(t && t->root.nchildren == 2 && name_is(top(t, 1), "c"), "; ends a word");
    conf_tree_free(t);

    t = parse("a b{c;}");
    n = top(t, 0);
    ok(n && n->is_block && arg_is(n, 0, "b", false) && name_is(kid(n, 0), "c"),
       "{ ends a word and opens a block");
    conf_tree_free(t);

    t = parse("a x{ y; }");
    n = top(t, 0);
    ok(n && n->is_block && n->nargs == 1 && arg_is(n, 0, "x", false), "x{ is x then {");
    conf_tree_free(t);

    t = parse("a b}c d#e;");
    n = top(t, 0);
    ok(arg_is(n, 0, "b}c", false) && arg_is(n, 1, "d#e", false),
       "} and # inside a word are plain characters");
    conf_tree_free(t);

    t = parse("# x ; {\n a; # tail ; }\nb;#c\n#d");
    ok(t && t->root.nchildren == 2 && top(t, 0)->line == 2 && name_is(top(t, 1), "b") &&
           top(t, 1)->line == 3,
       "# at a word's start comments to the end of the line");
    conf_tree_free(t);

    t = parse("");
    ok(t && t->root.nchildren == 0 && t->root.children == NULL && t->root.is_block &&
           strcmp(t->root.name, "") == 0,
       "empty text: empty root block");
    conf_tree_free(t);
    t = parse("  # only a comment");
    ok(t && t->root.nchildren == 0, "comment only");
    conf_tree_free(t);

    t = parse("server_name 例子.中国 \xff\xfe;");
    ok(arg_is(top(t, 0), 0, "例子.中国", false) && arg_is(top(t, 0), 1, "\xff\xfe", false),
       "bytes >= 0x80 are word bytes");
    conf_tree_free(t);
}

static void test_quotes(void)
{
    struct conf_tree *t = parse("a \"b c\" 'd e' \"\" 'it\"s' \"it's\";");
    const struct conf_node *n = top(t, 0);
    ok(n && n->nargs == 5 && arg_is(n, 0, "b c", true) && arg_is(n, 1, "d e", true),
       "double and single quotes keep blanks");
    ok(arg_is(n, 2, "", true), "empty quoted string");
    ok(arg_is(n, 3, "it\"s", true) && arg_is(n, 4, "it's", true), "the other quote is plain");
    conf_tree_free(t);

    t = parse("a \"x\\\"y\\'z\\\\w\\n\\r\\t\\q\";");
    ok(arg_is(top(t, 0), 0, "x\"y'z\\w\n\r\t\\q", true),
       "\\\" \\' \\\\ \\n \\r \\t decoded, \\q kept as both bytes");
    conf_tree_free(t);

    t = parse("a 'x\\'y';");
    ok(arg_is(top(t, 0), 0, "x'y", true), "\\' inside single quotes");
    conf_tree_free(t);

    t = parse("a x\\ y \\\"z w\\;v \\n;");
    n = top(t, 0);
    ok(n && n->nargs == 4 && arg_is(n, 0, "x\\ y", false), "\\ + blank joins, both bytes kept");
    ok(arg_is(n, 1, "\"z", false), "\\\" at a word's start: a quote, not a quoted string");
    ok(arg_is(n, 2, "w\\;v", false) && arg_is(n, 3, "\n", false), "\\; kept, \\n decoded");
    conf_tree_free(t);

    t = parse("\"a b\" c;");
    ok(name_is(top(t, 0), "a b"), "a quoted directive name");
    conf_tree_free(t);

    t = parse("a \"b\";c \"d\"{}e 'f'\n;");
    ok(t && t->root.nchildren == 3 && arg_is(top(t, 0), 0, "b", true), "quote then ;");
    n = top(t, 1);
    ok(n && n->is_block && n->nchildren == 0 && n->children == NULL && arg_is(n, 0, "d", true),
       "quote then {: an empty block");
    ok(arg_is(top(t, 2), 0, "f", true) && top(t, 2)->line == 1, "quote then newline");
    conf_tree_free(t);

    t = parse("a\nb\n\"c\nd\"\ne;\nf;");
    n = top(t, 0);
    ok(n && n->line == 1 && arg_is(n, 1, "c\nd", true) && arg_is(n, 2, "e", false),
       "a directive over several lines has its name's line");
    ok(top(t, 1) && top(t, 1)->line == 6, "lines counted inside quotes");
    conf_tree_free(t);
}

static void test_variables(void)
{
    struct conf_tree *t = parse("a ${host}x $${y} b${c}{d;}");
    const struct conf_node *n = top(t, 0);
    ok(n && n->nargs == 3 && arg_is(n, 0, "${host}x", false), "${var} kept verbatim");
    ok(arg_is(n, 1, "$${y}", false), "$${y}");
    ok(arg_is(n, 2, "b${c}", false) && n->is_block && name_is(kid(n, 0), "d"),
       "after ${c} a { opens the block again");
    conf_tree_free(t);

    t = parse("set $a ${{x};");
    ok(arg_is(top(t, 0), 1, "${{x}", false), "several { after $ stay in the word");
    conf_tree_free(t);

    t = parse("a \"${x}\" '$y';");
    ok(arg_is(top(t, 0), 0, "${x}", true) && arg_is(top(t, 0), 1, "$y", true),
       "variables in quotes stay");
    conf_tree_free(t);

    t = parse("if ($http_upgrade = \"websocket\") { return 200; }");
    n = top(t, 0);
    ok(n && n->nargs == 4 && arg_is(n, 0, "($http_upgrade", false) && arg_is(n, 1, "=", false),
       "if (...): words");
    ok(arg_is(n, 2, "websocket", true) && arg_is(n, 3, ")", false) && n->is_block,
       "\")\" right after a closing quote starts the next word (nginx's if rule)");
    conf_tree_free(t);

    t = parse("a \"b\")c;");
    ok(arg_is(top(t, 0), 1, ")c", false), "\")c\" after a quote");
    conf_tree_free(t);
}

static void test_crlf(void)
{
    const char *text = "http {\r\n    server {\r\n        listen 80;\r\n"
                       "        return 200 \"a\r\nb\";\r\n    }\r\n}\r\n";
    struct conf_tree *t = parse(text);
    const struct conf_node *srv = t ? kid(top(t, 0), 0) : NULL;
    ok(srv && srv->line == 2 && kid(srv, 0)->line == 3, "CRLF: lines");
    ok(srv && arg_is(kid(srv, 0), 0, "80", false), "CRLF: no CR in words");
    ok(srv && arg_is(kid(srv, 1), 1, "a\r\nb", true) && kid(srv, 1)->line == 4,
       "CRLF inside quotes is kept");
    conf_tree_free(t);
    fails_with("a {\r\n b;\r\n",
               "t.conf:2: unexpected end of file, expecting \"}\"; the \"a\" "
               "block opened on line 1 is not closed: add the missing \"}\"",
               "CRLF: error line");
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_errors(void)
{
    fails_with("a \"b\"c;",
               "t.conf:1: unexpected \"c\" right after a quoted string; put a space "
               "after the closing quote",
               "quote followed by a letter");
    fails_with("a;\nb 'c'#d;",
               "t.conf:2: unexpected \"#\" right after a quoted string; put a "
               "space after the closing quote",
               "quote followed by #");
    fails_with("a \"b\"\"c\";",
               "t.conf:1: unexpected \"\"\" right after a quoted string; put a "
               "space after the closing quote",
               "two quoted strings touching");
    fails_with("\n\na \"b\n\nc;\n",
               "t.conf:3: unterminated quoted string: the \" opened here is "
               "never closed; add the closing \" (write \\\" for a quote "
               "inside the string)",
               "unterminated \" (line of the opening quote)");
    fails_with("a 'b;",
               "t.conf:1: unterminated quoted string: the ' opened here is never "
               "closed; add the closing ' (write \\' for a quote inside the string)",
               "unterminated '");
    fails_with("a \"b\\\";",
               "t.conf:1: unterminated quoted string: the \" opened here is never "
               "closed; add the closing \" (write \\\" for a quote inside the "
               "string)",
               "an escaped quote does not close");
    fails_with("a;\n;",
               "t.conf:2: unexpected \";\": there is no directive before it; remove the "
               "extra \";\"",
               "; without a directive");
    fails_with("a;;",
               "t.conf:1: unexpected \";\": there is no directive before it; remove the "
               "extra \";\"",
               ";;");
    fails_with("\n{ a; }",
               "t.conf:2: unexpected \"{\": a block needs a directive name before it "
               "(as in \"server {\"); add the name or remove the \"{\"",
               "{ without a name");
    fails_with("a;\n}\n",
               "t.conf:2: unexpected \"}\": no block is open here; remove it, or add "
               "the \"{\" it was meant to close",
               "} with no block open");
    fails_with("server {\n listen 80\n}\n",
               "t.conf:3: unexpected \"}\": directive \"listen\" "
               "(line 2) is not terminated; end it with \";\"",
               "} after an unterminated directive");
    fails_with("a \"b\"}",
               "t.conf:1: unexpected \"}\": directive \"a\" (line 1) is not "
               "terminated; end it with \";\"",
               "} right after a quote");
    fails_with("http {\n server {\n  listen 80;\n }\n",
               "t.conf:4: unexpected end of file, expecting \"}\"; the \"http\" block opened on "
               "line 1 is not closed: add the missing \"}\"",
               "end of file inside a block");
    fails_with("server {\n  location /x {\n",
               "t.conf:2: unexpected end of file, expecting "
               "\"}\"; the \"location /x\" block opened on line 2 "
               "is not closed: add the missing \"}\"",
               "the innermost open block is named with its first argument");
    fails_with("a;\nlisten 80",
               "t.conf:2: unexpected end of file, expecting \";\" or \"}\"; "
               "directive \"listen\" (line 2) is not terminated: end it with "
               "\";\"",
               "end of file inside a directive");
    fails_with("a \"b\"\n\n",
               "t.conf:2: unexpected end of file, expecting \";\" or \"}\"; "
               "directive \"a\" (line 1) is not terminated: end it with \";\"",
               "end of file after a quote");
    fails_with("a b\\",
               "t.conf:1: unexpected end of file, expecting \";\" or \"}\"; directive "
               "\"a\" (line 1) is not terminated: end it with \";\"",
               "end of file after a backslash");
    struct conf_tree *t = parse_len("a;\nb\0;", 6, NULL);
    ok(!t, "NUL in a word");
    is_cstr(err.msg,
            "t.conf:2: NUL byte in the file; a configuration file is text: check that "
            "this is the right file and that it is not damaged",
            "NUL: message");
    t = parse_len("# x\0\n", 5, NULL);
    ok(!t && strncmp(err.msg, "t.conf:1: NUL byte", 18) == 0, "NUL in a comment");
    t = parse_len("a \"\0\";", 6, NULL);
    ok(!t && strncmp(err.msg, "t.conf:1: NUL byte", 18) == 0, "NUL in a quoted string");
    t = parse_len("a \"b\"\0", 6, NULL);
    ok(!t && strncmp(err.msg, "t.conf:1: NUL byte", 18) == 0, "NUL after a quote");
    fails_with("a;\n\"c\nd\" 'e",
               "t.conf:3: unterminated quoted string: the ' opened here is "
               "never closed; add the closing ' (write \\' for a quote inside "
               "the string)",
               "line of a quote after a multi-line string");
}

static void test_include_errors_in_text(void)
{
    fails_with("a;\ninclude x.conf;",
               "t.conf:2: include is not available for this text (it has "
               "no directory to resolve files from); paste the included "
               "directives instead",
               "include without a base directory");
    fails_with("include;",
               "t.conf:1: \"include\" takes exactly one argument, a file name or "
               "glob pattern; write \"include FILE;\"",
               "include without argument");
    fails_with("http {\n include a b;\n}",
               "t.conf:2: \"include\" takes exactly one argument, a "
               "file name or glob pattern; write \"include FILE;\"",
               "include with two arguments");
    fails_with("include x {\n}",
               "t.conf:1: \"include\" cannot open a block; write \"include "
               "FILE;\"",
               "include with a block");
    struct conf_tree *t = parse_len("include \"\";", 11, "/tmp");
    ok(!t, "include \"\"");
    is_cstr(err.msg, "t.conf:1: include of an empty file name; write \"include FILE;\"",
            "include \"\": message");
}

/* ---- limits ------------------------------------------------------------------------------ */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void test_limits(void)
{
    char *s = repeat("a", " x", CONF_MAX_ARGS, ";");
    struct conf_tree *t = parse(s);
    ok(t && top(t, 0)->nargs == CONF_MAX_ARGS, "256 arguments");
    conf_tree_free(t);
    free(s);
    s = repeat("\na", " x", CONF_MAX_ARGS + 1, ";");
    fails_with(s,
               "t.conf:2: directive \"a\" has more than 256 arguments; split it into several "
               "directives",
               "257 arguments");
    free(s);

    char *open = repeat("", "a {\n", CONF_MAX_DEPTH, "");
    char *close = repeat(open, "}\n", CONF_MAX_DEPTH, "");
    t = parse(close);
    const struct conf_node *n = top(t, 0);
    for (int i = 1; n && i < CONF_MAX_DEPTH; i++)
        n = kid(n, 0);
    ok(n && n->is_block && n->line == CONF_MAX_DEPTH && n->nchildren == 0, "32 nested blocks");
    conf_tree_free(t);
    free(close);
    free(open);
    open = repeat("", "a {\n", CONF_MAX_DEPTH + 1, "");
    fails_with(open,
               "t.conf:33: block \"a\" is nested more than 32 blocks deep; flatten the "
               "configuration",
               "33 nested blocks");
    free(open);

    s = repeat("a ", "x", CONF_MAX_TOKEN, ";");
    t = parse(s);
    ok(t && top(t, 0)->args[0].len == CONF_MAX_TOKEN, "a 64 KiB word");
    conf_tree_free(t);
    free(s);
    s = repeat("a\n", "x", CONF_MAX_TOKEN + 1, ";");
    fails_with(s,
               "t.conf:2: parameter \"xxxxxxxxxx...\" is longer than 65536 bytes; shorten it "
               "(or close the quote that swallowed it)",
               "a word over 64 KiB");
    free(s);
    s = repeat("a \"", "y", CONF_MAX_TOKEN, "\";");
    t = parse(s);
    ok(t && top(t, 0)->args[0].len == CONF_MAX_TOKEN, "a 64 KiB quoted string");
    conf_tree_free(t);
    free(s);
    s = repeat("a \"", "y", CONF_MAX_TOKEN + 1, "\";");
    fails_with(s,
               "t.conf:1: parameter \"yyyyyyyyyy...\" is longer than 65536 bytes; shorten it "
               "(or close the quote that swallowed it)",
               "a quoted string over 64 KiB");
    free(s);

    s = repeat("", " ", CONF_MAX_FILE, "");
    t = parse(s);
    ok(t && t->root.nchildren == 0, "4 MiB of text");
    conf_tree_free(t);
    free(s);
    s = repeat("", " ", CONF_MAX_FILE + 1, "");
    fails_with(s, "t.conf: 4194305 bytes, over the 4 MiB limit of one file; split it with include",
               "text over 4 MiB");
    free(s);
}

static void test_thousand(void)
{
    size_t cap = 1000 * 32, len = 0;
    char *s = malloc(cap);
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(s + len, cap - len, "directive_%d %d \"v %d\";\n", i, i, i);
    struct conf_tree *t = parse_len(s, len, NULL);
    ok(t && t->root.nchildren == 1000, "1000 directives");
    const struct conf_node *n = top(t, 999);
    ok(name_is(n, "directive_999") && n->line == 1000 && arg_is(n, 0, "999", false) &&
           arg_is(n, 1, "v 999", true),
       "the 1000th: name, line, args");
    ok(name_is(top(t, 500), "directive_500") && top(t, 500)->line == 501, "the 501st");
    conf_tree_free(t);
    free(s);
}

/* ---- includes ---------------------------------------------------------------------------- */

static void put_file(const char *rel, const char *fmt, ...)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    FILE *f = fopen(path, "w");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static void put_dir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    mkdir(path, 0755);
}

static struct conf_tree *parse_tmp_file(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    err.msg[0] = '\0';
    return conf_parse_file(path, &err);
}

static void is_tmp_msg(const char *fmt, const char *what)
{
    char want[1024];
    /* fmt has %1$s for the temp directory (several times) */
    snprintf(want, sizeof(want), fmt, tmp);
    is_cstr(err.msg, want, what);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

static void test_include_glob(void)
{
    put_dir("conf.d");
    put_dir("inc");
    put_file("main.conf", "top 1;\ninclude conf.d/*.conf;\nhttp {\n    include inc/one.conf;\n"
                          "    include nothing/*.conf;\n    include conf.d/*.none;\n"
                          "    after 1;\n}\n");
    put_file("conf.d/b.conf", "b 2;\n");
    put_file("conf.d/a.conf", "\n  a 1;\n");
    put_file("conf.d/c.txt", "c;\n");
    put_file("inc/one.conf", "one {\n    include inc/leaf.conf;\n}\n");
    put_file("inc/leaf.conf", "# leaf\nleaf;\n");

    struct conf_tree *t = parse_tmp_file("main.conf");
    ok(t != NULL, "main.conf with includes parses");
    if (!t) {
        printf("# %s\n", err.msg);
        return;
    }
    ok(t->root.nchildren == 4 && name_is(top(t, 0), "top") && name_is(top(t, 1), "a") &&
           name_is(top(t, 2), "b") && name_is(top(t, 3), "http"),
       "glob expands in place, sorted; *.conf only");
    const struct conf_node *a = top(t, 1), *http = top(t, 3);
    ok(ends_with(a->file, "/conf.d/a.conf") && a->line == 2, "included node: its own file:line");
    ok(ends_with(top(t, 0)->file, "/main.conf") && http->line == 3, "main file nodes");
    ok(http->nchildren == 2 && name_is(kid(http, 0), "one") && name_is(kid(http, 1), "after"),
       "include inside a block; a wildcard matching nothing (or no directory) adds nothing");
    const struct conf_node *leaf = kid(kid(http, 0), 0);
    ok(name_is(leaf, "leaf") && leaf->line == 2 && ends_with(leaf->file, "/inc/leaf.conf"),
       "nested include resolves against the main file's directory");
    ok(top(t, 0)->file == http->file && top(t, 0)->file == t->root.file,
       "one file name string per file");
    conf_tree_free(t);

    /* The same through conf_parse_string with a base directory (whose name has a glob char). */
    put_dir("we[i]rd");
    put_file("we[i]rd/x.conf", "x;\n");
    char base[512];
    snprintf(base, sizeof(base), "%s/we[i]rd", tmp);
    t = parse_len("include *.conf;\ninclude x.conf;", 31, base);
    ok(t && t->root.nchildren == 2 && name_is(top(t, 0), "x") &&
           ends_with(top(t, 0)->file, "we[i]rd/x.conf"),
       "base directory with [ ] in its name");
    if (!t)
        printf("# %s\n", err.msg);
    conf_tree_free(t);
}

static void test_include_errors(void)
{
    put_file("missing.conf", "x;\ninclude nothere.conf;\n");
    struct conf_tree *t = parse_tmp_file("missing.conf");
    ok(!t, "missing include");
    is_tmp_msg("%1$s/missing.conf:2: include \"nothere.conf\": No such file (looked for "
               "%1$s/nothere.conf); fix the path (relative paths start from %1$s)",
               "missing include: message");

    put_file("dir.conf", "include conf.d;\n");
    t = parse_tmp_file("dir.conf");
    ok(!t, "include of a directory");
    is_tmp_msg("%1$s/dir.conf:1: include \"conf.d\": %1$s/conf.d is not a regular file; include "
               "files (for a directory use a pattern such as dir/*.conf)",
               "include of a directory: message");

    put_file("cyc_a.conf", "include cyc_b.conf;\n");
    put_file("cyc_b.conf", "x;\ninclude cyc_a.conf;\n");
    t = parse_tmp_file("cyc_a.conf");
    ok(!t, "include cycle");
    is_tmp_msg("%1$s/cyc_b.conf:2: include cycle: cyc_a.conf > cyc_b.conf > cyc_a.conf; remove "
               "the include that leads back",
               "include cycle: message names the chain");
    put_file("self.conf", "http {\n include self.conf;\n}\n");
    t = parse_tmp_file("self.conf");
    ok(!t, "a file including itself");
    is_tmp_msg("%1$s/self.conf:2: include cycle: self.conf > self.conf; remove the include that "
               "leads back",
               "self include: message");

    put_file("brace.conf", "http {\n include close.conf;\n}\n");
    put_file("close.conf", "a;\n}\n");
    t = parse_tmp_file("brace.conf");
    ok(!t, "a } in an included file cannot close the includer's block");
    is_tmp_msg("%1$s/close.conf:2: unexpected \"}\": no block is open in this file (a block must "
               "be closed in the file that opened it); remove it",
               "} in an included file: message");
    put_file("open.conf", "x {\n include half.conf;\n}\n");
    put_file("half.conf", "y {\n");
    t = parse_tmp_file("open.conf");
    ok(!t, "an included file must close its blocks");
    is_tmp_msg("%1$s/half.conf:1: unexpected end of file, expecting \"}\"; the \"y\" block opened "
               "on line 1 is not closed: add the missing \"}\"",
               "unclosed block in an included file: message");

    t = conf_parse_file("/nonexistent/wssgate.conf", &err);
    ok(!t, "main file missing");
    is_cstr(err.msg,
            "/nonexistent/wssgate.conf: cannot open: No such file or directory; check "
            "the path",
            "main file missing: message");
    t = conf_parse_file(tmp, &err);
    ok(!t, "main file is a directory");
    is_tmp_msg("%1$s: not a regular file; give the path of the configuration file itself",
               "main file is a directory: message");
}

static void test_include_depth(void)
{
    char name[32];
    /* d0 includes d1 ... d15 includes d16: 16 levels below the main file. */
    for (int i = 0; i < CONF_MAX_INCLUDE_DEPTH; i++) {
        snprintf(name, sizeof(name), "d%d.conf", i);
        put_file(name, "level%d;\ninclude d%d.conf;\n", i, i + 1);
    }
    put_file("d16.conf", "deepest;\n");
    struct conf_tree *t = parse_tmp_file("d0.conf");
    ok(t && t->root.nchildren == 17 && name_is(top(t, 16), "deepest") &&
           ends_with(top(t, 16)->file, "/d16.conf"),
       "16 nested includes");
    conf_tree_free(t);
    put_file("d16.conf", "include d17.conf;\n");
    put_file("d17.conf", "too_deep;\n");
    t = parse_tmp_file("d0.conf");
    ok(!t, "17 nested includes");
    is_tmp_msg("%1$s/d16.conf:1: includes nested more than 16 deep (d0.conf > d1.conf > d2.conf > "
               "d3.conf > d4.conf > d5.conf > d6.conf > d7.conf > d8.conf > d9.conf > d10.conf > "
               "d11.conf > d12.conf > d13.conf > d14.conf > d15.conf > d16.conf > d17.conf); "
               "flatten them",
               "17 nested includes: message names the chain");

    /* Over 4 MiB: one included file. */
    char path[512];
    snprintf(path, sizeof(path), "%s/big.conf", tmp);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i <= CONF_MAX_FILE; i++)
        fputc(' ', f);
    fclose(f);
    put_file("inc_big.conf", "a;\ninclude big.conf;\n");
    t = parse_tmp_file("inc_big.conf");
    ok(!t, "include of a file over 4 MiB");
    is_tmp_msg("%1$s/inc_big.conf:2: include \"big.conf\": %1$s/big.conf is 4194305 bytes, over "
               "the 4 MiB limit; split it",
               "include over 4 MiB: message");
    t = parse_tmp_file("big.conf");
    ok(!t, "a main file over 4 MiB");
    is_tmp_msg("%1$s/big.conf: 4194305 bytes, over the 4 MiB limit of one file; split it with "
               "include",
               "main file over 4 MiB: message");
}

static void test_includes(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/wssgate-conf-XXXXXX");
    if (!mkdtemp(tmp)) {
        ok(0, "mkdtemp");
        return;
    }
    test_include_glob();
    test_include_errors();
    test_include_depth();
    rm_tree(tmp);
}

/* ---- the seeds' configs and Debian's ------------------------------------------------------- */

static struct conf_tree *fixture(const char *name)
{
    struct conf_tree *t = conf_parse_file(name, &err);
    if (!ok(t != NULL, name))
        printf("# %s\n", err.msg);
    return t;
}

static void test_seed1(void)
{
    struct conf_tree *t = fixture(FIX "seed1_http.conf");
    if (!t)
        return;
    const struct conf_node *up = top(t, 0), *srv = top(t, 1);
    ok(t->root.nchildren == 2 && name_is(up, "upstream") && arg_is(up, 0, "im-app", false),
       "seed 1: upstream im-app, server");
    ok(up->nchildren == 1 && kid(up, 0)->nargs == 3 &&
           arg_is(kid(up, 0), 2, "fail_timeout=10s", false),
       "seed 1: upstream server line");
    ok(name_is(srv, "server") && srv->line == 4 && srv->nchildren == 12, "seed 1: server");
    const struct conf_node *loc = kid(srv, 11);
    ok(name_is(loc, "location") && arg_is(loc, 0, "/", false) && loc->line == 16 &&
           loc->nchildren == 12,
       "seed 1: location /");
    ok(arg_is(kid(loc, 1), 1, "$host", false) && kid(loc, 1)->line == 18, "seed 1: Host $host");
    ok(arg_is(kid(loc, 4), 1, "$http_host", false) && kid(loc, 4)->line == 21,
       "seed 1: the second Host line");
    ok(arg_is(kid(loc, 8), 1, "upgrade", true) && kid(loc, 8)->line == 26,
       "seed 1: Connection \"upgrade\" (the comment line skipped)");
    conf_tree_free(t);
}

static void test_seed2_3(void)
{
    struct conf_tree *t = fixture(FIX "seed2_certs_no_ssl.conf");
    if (t) {
        const struct conf_node *srv = top(t, 1);
        ok(srv && srv->nchildren == 17 && arg_is(kid(srv, 0), 0, "80", false), "seed 2: listen 80");
        ok(name_is(kid(srv, 2), "ssl_certificate") && kid(srv, 2)->line == 8,
           "seed 2: ssl_certificate on line 8");
        conf_tree_free(t);
    }
    t = fixture(FIX "seed3_https.conf");
    if (!t)
        return;
    const struct conf_node *srv = top(t, 0);
    ok(t->root.nchildren == 1 && srv->nchildren == 24, "seed 3: one server, 24 directives");
    ok(arg_is(kid(srv, 0), 1, "ssl", false) && arg_is(kid(srv, 15), 2, "index.htm", false),
       "seed 3: listen 443 ssl; index");
    const struct conf_node *rx = kid(srv, 17);
    ok(arg_is(rx, 0, "~", false) && arg_is(rx, 1, ".*\\.(gif|jpg|jpeg|png|bmp|swf|txt)$", false) &&
           rx->line == 23,
       "seed 3: regex location, backslash kept");
    const struct conf_node *php = kid(srv, 20);
    ok(arg_is(php, 1, "\\.php$", false) && php->nchildren == 2 + 21 + 1,
       "seed 3: fastcgi_params included in the php location");
    const struct conf_node *p0 = kid(php, 2), *last = kid(php, 23);
    ok(name_is(p0, "fastcgi_param") && ends_with(p0->file, "fixtures/conf/fastcgi_params") &&
           p0->line == 2 && arg_is(p0, 1, "$query_string", false),
       "seed 3: included fastcgi_param with its file:line");
    ok(arg_is(last, 1, "$document_root$fastcgi_script_name", false) && last->line == 39 &&
           ends_with(last->file, "seed3_https.conf"),
       "seed 3: the directive after the include");
    ok(arg_is(kid(kid(srv, 22), 0), 1, "no-cache, no-store", true), "seed 3: quoted header value");
    ok(name_is(kid(srv, 23), "error_page") && kid(srv, 23)->line == 49, "seed 3: error_page");
    conf_tree_free(t);
}

static void test_seed4_5(void)
{
    struct conf_tree *t = fixture(FIX "seed4_https_ws.conf");
    if (t) {
        const struct conf_node *srv = top(t, 1), *ws = srv ? kid(srv, 17) : NULL;
        ok(t->root.nchildren == 2 && srv->nchildren == 25, "seed 4: upstream + server (25)");
        ok(arg_is(ws, 0, "/websocket/", false) && ws->line == 27 && ws->nchildren == 4,
           "seed 4: location /websocket/");
        ok(arg_is(kid(ws, 0), 0, "http://im-app", false), "seed 4: proxy_pass");
        conf_tree_free(t);
    }
    t = fixture(FIX "seed5_ssl_on.conf");
    if (!t)
        return;
    const struct conf_node *srv = top(t, 0);
    ok(t->root.nchildren == 1 && srv->nchildren == 10, "seed 5: one server, 10 directives");
    ok(arg_is(kid(srv, 1), 0, "your.domain.com", false) && kid(srv, 1)->line == 3,
       "seed 5: ;# after a directive is a comment");
    ok(name_is(kid(srv, 2), "ssl") && arg_is(kid(srv, 2), 0, "on", false), "seed 5: ssl on");
    ok(arg_is(kid(srv, 3), 0, "your.domain.com.pem", false) && kid(srv, 3)->line == 7,
       "seed 5: commented-out certificate lines skipped");
    const struct conf_node *pr = kid(srv, 7);
    ok(name_is(pr, "ssl_protocols") && pr->nargs == 5 && arg_is(pr, 1, "SSLv2", false) &&
           pr->line == 11,
       "seed 5: ssl_protocols");
    const struct conf_node *loc = kid(srv, 9);
    ok(loc && loc->line == 14 && loc->nchildren == 5 &&
           arg_is(kid(loc, 0), 0, "http://127.0.0.1:19808", false) && kid(loc, 0)->line == 15,
       "seed 5: location /");
    conf_tree_free(t);
}

/* Debian's nginx.conf with its /etc/nginx/ includes pointed at the fixture copies. */
static void test_debian(void)
{
    FILE *f = fopen(FIX "debian/nginx.conf", "r");
    char text[8192], out[8192];
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0, m = 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    for (const char *p = text; *p;)
        if (strncmp(p, "/etc/nginx/", 11) == 0)
            p += 11;
        else
            out[m++] = *p++;
    struct conf_tree *t = parse_len(out, m, FIX "debian");
    if (!ok(t != NULL, "Debian nginx.conf"))
        printf("# %s\n", err.msg);
    const struct conf_node *http = top(t, 5);
    ok(t && t->root.nchildren == 6 && name_is(top(t, 4), "events") && name_is(http, "http") &&
           http->line == 12,
       "Debian: 6 top-level directives; modules-enabled/*.conf matches nothing");
    const struct conf_node *types = http ? kid(http, 3) : NULL;
    ok(http && http->nchildren == 9 && name_is(types, "types") && types->line == 2 &&
           ends_with(types->file, "debian/mime.types") && types->nchildren == 86,
       "Debian: mime.types included in http");
    ok(http && name_is(kid(http, 5), "ssl_protocols") && kid(http, 5)->nargs == 4 &&
           kid(http, 5)->line == 33,
       "Debian: ssl_protocols with its trailing comment");
    conf_tree_free(t);

    t = conf_parse_file(FIX "debian/fastcgi_params", &err);
    ok(t && t->root.nchildren == 21, "Debian fastcgi_params: 21 directives");
    conf_tree_free(t);

    if (access("/etc/nginx/nginx.conf", R_OK) != 0) {
        ok(1, "# SKIP no /etc/nginx/nginx.conf here");
        return;
    }
    t = conf_parse_file("/etc/nginx/nginx.conf", &err);
    if (!ok(t != NULL, "the installed /etc/nginx/nginx.conf with its includes"))
        printf("# %s\n", err.msg);
    conf_tree_free(t);
}

/* ---- printing ---------------------------------------------------------------------------- */

static char *print(const struct conf_tree *t, unsigned flags)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    conf_tree_print(t, f, flags);
    fclose(f);
    return text;
}

static void round_trip(const struct conf_tree *t, const char *what)
{
    char *text = print(t, 0);
    struct conf_tree *again = parse(text);
    ok(again && conf_node_same(&t->root, &again->root), what);
    conf_tree_free(again);
    free(text);
}

static void test_print(void)
{
    struct conf_tree *t = parse("http{server {listen 80;location ~ \\.php$ {}}}\n"
                                "a \"b c\" d\\ e 'f\"g' \"\" $x ${y}z \\\"q \"h\\\\i\\n\";");
    char *text = print(t, 0);
    is_cstr(text ? text : "",
            "http {\n    server {\n        listen 80;\n"
            "        location ~ \\.php$ {\n        }\n    }\n}\n"
            "a \"b c\" d\\ e \"f\\\"g\" \"\" $x ${y}z \\\"q \"h\\i\\n\";\n",
            "printed text");
    free(text);
    round_trip(t, "printed text parses back to the same tree");
    text = print(t, CONF_PRINT_ORIGIN);
    ok(text && strstr(text, "listen 80;  # t.conf:1\n") != NULL, "CONF_PRINT_ORIGIN");
    free(text);
    conf_tree_free(t);

    t = parse("a \\; \\{ x\\ y \\\\ \\n \"\\\\q\" '\\t' \\#a \\}b ${{x} \"a\")b c\\\\\\ d"
              " \\\\${x} \\$a;");
    ok(t != NULL, "tricky words parse");
    if (t)
        round_trip(t, "tricky words survive printing");
    conf_tree_free(t);

    const char *fixtures[] = {"seed1_http.conf",   "seed2_certs_no_ssl.conf",
                              "seed3_https.conf",  "seed4_https_ws.conf",
                              "seed5_ssl_on.conf", "debian/mime.types"};
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(*fixtures); i++) {
        char path[256];
        snprintf(path, sizeof(path), FIX "%s", fixtures[i]);
        t = conf_parse_file(path, &err);
        if (t)
            round_trip(t, fixtures[i]);
        else
            ok(0, err.msg);
        conf_tree_free(t);
    }
}

int main(void)
{
    test_words();
    test_quotes();
    test_variables();
    test_crlf();
    test_errors();
    test_include_errors_in_text();
    test_limits();
    test_thousand();
    test_includes();
    test_seed1();
    test_seed2_3();
    test_seed4_5();
    test_debian();
    test_print();
    return tap_done();
}
