/* libFuzzer target for the nginx-dialect lexer and parser: any bytes parse or fail with a
 * "FILE:LINE: what; fix" message; a parsed tree printed and parsed again is the same tree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void check_nodes(const struct conf_node *n, size_t count, const char *file, unsigned lines,
                        unsigned depth)
{
    check(depth <= CONF_MAX_DEPTH);
    for (size_t i = 0; i < count; i++, n++) {
        check(n->file == file);
        check(n->line >= 1 && n->line <= lines);
        check(n->nargs <= CONF_MAX_ARGS);
        check((n->nargs == 0) == (n->args == NULL));
        check((n->nchildren == 0) == (n->children == NULL));
        check(n->is_block || n->nchildren == 0);
        check(strcmp(n->name, "include") != 0); /* expanded, or an error without a base dir */
        for (size_t a = 0; a < n->nargs; a++) {
            check(n->args[a].s[n->args[a].len] == '\0');
            check(strlen(n->args[a].s) == n->args[a].len);
        }
        check_nodes(n->children, n->nchildren, file, lines, depth + 1);
    }
}

/* "NAME:LINE: what; fix" with 1 <= LINE <= lines. */
static void check_error(const char *msg, const char *name, unsigned lines)
{
    size_t nl = strlen(name);
    check(strncmp(msg, name, nl) == 0 && msg[nl] == ':');
    char *end;
    unsigned long line = strtoul(msg + nl + 1, &end, 10);
    check(end > msg + nl + 1 && *end == ':');
    check(line >= 1 && line <= lines);
    check(strstr(end, "; ") != NULL);
}

static char *print(const struct conf_tree *t, unsigned flags, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    check(f != NULL);
    check(conf_tree_print(t, f, flags) == 0);
    check(fclose(f) == 0);
    return text;
}

/* Printed text parses back to the same tree, and (without origins) prints the same again. */
static void check_round_trip(const struct conf_tree *t, unsigned flags)
{
    struct conf_error err;
    size_t len, len2;
    char *text = print(t, flags, &len);
    struct conf_tree *again = conf_parse_string(text, len, "printed.conf", NULL, &err);
    if (!again)
        fprintf(stderr, "reparse failed: %s\n--- printed:\n%s\n", err.msg, text);
    check(again != NULL);
    check(conf_node_same(&t->root, &again->root));
    char *text2 = print(again, flags, &len2);
    check(flags != 0 || (len == len2 && memcmp(text, text2, len) == 0));
    free(text2);
    free(text);
    conf_tree_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any read past the end */
    memcpy(copy, data, size);
    unsigned lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += copy[i] == '\n';

    struct conf_error err;
    struct conf_tree *t = conf_parse_string(copy, size, "fuzz.conf", NULL, &err);
    if (!t) {
        check_error(err.msg, "fuzz.conf", lines);
    } else {
        check(t->root.is_block && t->root.name[0] == '\0');
        check_nodes(t->root.children, t->root.nchildren, t->root.file, lines, 0);
        check_round_trip(t, 0);
        check_round_trip(t, CONF_PRINT_ORIGIN);
        conf_tree_free(t);
    }
    free(copy);
    return 0;
}
