/* The doctor's table of problems: for each code, the exact words Chromium shows in the console,
 * the usual cause and the fix (with the nginx-dialect lines when that is the fix). Data only. */
#ifndef WSSGATE_DOCTOR_PROBLEMS_H
#define WSSGATE_DOCTOR_PROBLEMS_H

#include <stddef.h>

/* How Chromium words a problem in the console. Every kind but PROBLEM_SAYS_MIXED and
 * PROBLEM_SAYS_SYNTAX and PROBLEM_SAYS_NOTHING starts with "WebSocket connection to 'URL' failed:
 * ". */
enum problem_says {
    PROBLEM_SAYS_NET,       /* "Error in connection establishment: net::" + words (or detail) */
    PROBLEM_SAYS_STATUS,    /* "Error during WebSocket handshake: Unexpected response code: N" */
    PROBLEM_SAYS_HANDSHAKE, /* "Error during WebSocket handshake: " + the detail the step found */
    PROBLEM_SAYS_TEXT,      /* the text in `words` (or detail) after the prefix */
    PROBLEM_SAYS_MIXED,     /* the "Mixed Content: The page at '…'" line, no prefix */
    PROBLEM_SAYS_SYNTAX, /* the SyntaxError that new WebSocket() throws: "SyntaxError: " + detail */
    PROBLEM_SAYS_NOTHING, /* the console stays silent: "" */
};

struct problem {
    const char *code;  /* "cert-name-mismatch": stable, used in --json */
    const char *title; /* a few words for the text report */
    enum problem_says says;
    const char *words; /* net error name (NET), or the text (TEXT), or NULL */
    /* Generic cause and fix. They may hold placeholders filled by problem_render: {url} (the
     * WebSocket URL), {host}, {port}, {path}, {origin}, {page}, {scheme} ("ws"/"wss"). */
    const char *cause;
    const char *fix;
};

/* Every problem doctor knows, in the order of the walk. */
extern const struct problem problem_table[];
extern const size_t problem_count;

/* The entry for code, or NULL when there is none. */
const struct problem *problem_find(const char *code);

/* What fills the placeholders and the variable part of the browser's words. Strings may be NULL
 * (a NULL placeholder renders as ""). */
struct problem_args {
    const char *url;  /* normalized as Chromium prints it: "wss://localhost:8443/websocket/" */
    const char *host; /* host as in the URL (IPv6 without brackets) */
    int port;
    const char *path;   /* path and query: "/websocket/?a=1" */
    const char *origin; /* Origin sent in the handshake */
    const char *page;   /* the --page URL, normalized (PROBLEM_SAYS_MIXED) */
    int status;         /* HTTP status (PROBLEM_SAYS_STATUS) */
    const char *detail; /* handshake or syntax detail (PROBLEM_SAYS_HANDSHAKE / _SYNTAX) */
};

/* Writes the exact console text Chromium shows for p into out[cap] ("" for
 * PROBLEM_SAYS_NOTHING). Cut to fit; always NUL-terminated when cap > 0. */
void problem_browser_error(const struct problem *p, const struct problem_args *a, char *out,
                           size_t cap);

/* Copies tmpl into out[cap] with the placeholders above replaced from a. Unknown placeholders
 * are copied as they are. Cut to fit; always NUL-terminated when cap > 0. */
void problem_render(const char *tmpl, const struct problem_args *a, char *out, size_t cap);

#endif
