/* nginx-dialect configuration text → a generic tree of directives and blocks, with "include"
 * expanded in place; it knows no other directive (meaning is conf/load.c's business). */
#ifndef WSSGATE_CONF_CONF_TREE_H
#define WSSGATE_CONF_CONF_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf/conf_lex.h" /* struct conf_error */

/* Limits; going past any of them is an error that names it. */
#define CONF_MAX_FILE          (4u << 20)  /* bytes in one file */
#define CONF_MAX_TOTAL         (64u << 20) /* bytes of all files read for one tree */
#define CONF_MAX_DEPTH         32          /* blocks open at once, across includes */
#define CONF_MAX_INCLUDE_DEPTH 16          /* files included inside each other below the main one */
#define CONF_MAX_ARGS          256         /* arguments of one directive, its name not counted */
#define CONF_MAX_DIRECTIVES    1000000     /* directives in one tree */

struct conf_arg {
    char *s; /* escapes decoded; NUL-terminated (s[len] == 0, no NUL inside) */
    size_t len;
    bool quoted; /* written "..." or '...': never split further; "$var" inside still counts */
};

/* One directive: `name args... ;` or `name args... { children }`. */
struct conf_node {
    char *name; /* NUL-terminated, escapes decoded */
    struct conf_arg *args;
    size_t nargs;
    struct conf_node *children; /* NULL/0 when not a block (or an empty one) */
    size_t nchildren;
    bool is_block;
    const char *file; /* the file the directive is written in (an included one for included
                         directives), as opened: main path, or base dir joined with the pattern */
    unsigned line;    /* line of the directive's name */
};

struct conf_chunk;

/* A parsed configuration. root is a block without a name whose children are the top-level
 * directives (root.file is the main file, root.line 0). Everything — nodes, argument arrays,
 * strings, file names — lives in one arena owned by the tree: callers keep pointers into it
 * only while the tree lives, and never free them. Immutable after parsing, so it may be read
 * from several threads. */
struct conf_tree {
    struct conf_node root;
    struct conf_chunk *chunks; /* the arena; private */
};

/* Parses the file at path (opened as given, relative to the working directory).
 * Relative include patterns resolve against the directory of this main file, at every include
 * depth — what nginx does with its conf prefix when started with -c FILE. Returns a tree to be
 * freed with conf_tree_free, or NULL with err->msg set to "FILE:LINE: what; how to fix" (for
 * a main file that cannot be read at all: "PATH: what; how to fix"). */
struct conf_tree *conf_parse_file(const char *path, struct conf_error *err);

/* Parses text[0..len) (no terminator needed; at most CONF_MAX_FILE bytes). name is used for
 * messages and as the nodes' file (copied). Relative include patterns resolve against base_dir;
 * with base_dir NULL any include is an error. Returns a tree, or NULL with err set. */
struct conf_tree *conf_parse_string(const char *text, size_t len, const char *name,
                                    const char *base_dir, struct conf_error *err);

/* Frees the tree and everything in it. NULL is allowed. */
void conf_tree_free(struct conf_tree *t);

/* Options of conf_tree_print. */
#define CONF_PRINT_ORIGIN 1u /* end each directive's line with "# FILE:LINE" */

/* Writes the tree as configuration text, one directive per line, blocks indented by 4 spaces,
 * includes already expanded. Parsing the output gives a tree that conf_node_same calls equal
 * (names, arguments, quoting, blocks; lines and files differ). Returns 0, or -1 if f failed. */
int conf_tree_print(const struct conf_tree *t, FILE *f, unsigned flags);

/* Whether two nodes have the same name, arguments (bytes and quoting), block-ness and children,
 * recursively; file and line are ignored. */
bool conf_node_same(const struct conf_node *a, const struct conf_node *b);

#endif
