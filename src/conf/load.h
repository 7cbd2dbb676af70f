/* Loading an nginx-dialect configuration file into a configuration generation: parse, check
 * every directive against the table, merge inherited settings, build TLS contexts, locations,
 * server names and upstream groups, and lint for the mistakes the seeds made. */
#ifndef WSSGATE_CONF_LOAD_H
#define WSSGATE_CONF_LOAD_H

#include "proxy/gen.h"

#include <stddef.h>
#include <stdio.h>

struct load_result {
    const char *name;      /* the file name used in messages */
    char error[1024];      /* "FILE:LINE: what is wrong; how to fix it" when the load failed */
    const char *error_log; /* main-level error_log path (in the generation's arena), or NULL */
    const char *error_level;
    char **warnings;       /* "FILE:LINE: warning: …" lines (malloc'd array of malloc'd strings) */
    size_t nwarnings;
};

/* Loads path into a new generation (refs = 1). Returns NULL with res->error on failure; warnings
 * are collected either way. Blocking (file I/O, DNS): call it on the control thread only. */
struct gen *conf_load_file(const char *path, struct load_result *res);

/* The same from text (quick mode and the demo build their configuration as text). */
struct gen *conf_load_string(const char *text, const char *name, struct load_result *res);

void load_result_free(struct load_result *res);

/* Prints the configuration as read (includes expanded, each line with its FILE:LINE), for -T.
 * Returns 0, or -1 with the error printed. */
int conf_print_file(const char *path, FILE *out);

/* Writes docs/config.md's content (every directive: contexts, syntax, default, notes). */
void conf_write_directive_docs(FILE *out);

#endif
