/* Pieces the quick-mode and demo commands share: a certificate for a host (given, or issued by
 * the local CA), configuration text built safely (quoting, listen lines for every address of a
 * host), loading it, and the banner that says how to trust the local CA. */
#ifndef WSSGATE_CLI_SETUP_H
#define WSSGATE_CLI_SETUP_H

#include "app/server.h"

#include <stdbool.h>
#include <stddef.h>

/* A growing text buffer; out of memory sets `failed`. */
struct text {
    char *p;
    size_t len, cap;
    bool failed;
};
void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a double-quoted configuration argument ('"' and '\' escaped). */
void text_quoted(struct text *t, const char *s);
/* "    listen ADDR:PORT[ ssl];\n" for every address host resolves to. Returns 0 or -1 (printed). */
int text_listen_lines(struct text *t, const char *host, int port, bool ssl);
void text_free(struct text *t);

/* Certificate and key for host: the given files, or a leaf from the local CA in the state dir
 * (created on first use). ca_path gets the CA file ("" when cert/key were given). Returns 0, or
 * -1 with the reason printed. */
int setup_cert(const char *host, const char *cert, const char *key, char *cert_out,
               size_t cert_cap, char *key_out, size_t key_cap, char *ca_path, size_t ca_cap);

/* Loads configuration text built by a command; prints the error (a bug if it happens). */
struct gen *setup_load(const char *text, const char *name);

/* Prints how to make browsers and tools trust the local CA at ca_path. */
void setup_print_trust(const char *ca_path, const char *example_url);

#endif
