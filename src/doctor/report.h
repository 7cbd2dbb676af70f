/* The doctor's findings: one line per step (ok / warn / fail), and at most one problem with the
 * browser's words, the cause and the fix; printed as text for people or as one JSON object. */
#ifndef WSSGATE_DOCTOR_REPORT_H
#define WSSGATE_DOCTOR_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/str.h"
#include "doctor/problems.h"
#include "doctor/wsurl.h"

enum step_status { STEP_OK, STEP_WARN, STEP_FAIL, STEP_SKIP };

#define REPORT_MAX_STEPS 64
#define REPORT_TEXT_MAX  4096

struct report_step {
    const char *name; /* static: "url", "page", "port", "dns", "tcp", "tls", "upgrade", "message" */
    enum step_status status;
    char detail[1024];
};

/* Filled by the doctor's steps; zero it before use. Large: keep it off small stacks. */
struct report {
    char url[WSURL_HREF_MAX]; /* the URL as the browser prints it ("" if it did not parse) */
    struct report_step steps[REPORT_MAX_STEPS];
    size_t nsteps;
    const struct problem *problem; /* NULL while nothing failed */
    char browser_error[REPORT_TEXT_MAX];
    char cause[REPORT_TEXT_MAX];
    char fix[REPORT_TEXT_MAX];
    struct problem_args args; /* what the problem texts are rendered with; its strings point
                                 into the buffers below or to static strings */
    char host[WSURL_HOST_MAX];
    char path[WSURL_PATH_MAX];
    char origin[WSURL_HOST_MAX + 24];
    char page[WSURL_HREF_MAX];
    char detail[WSURL_HREF_MAX + 256];
};

/* Adds a step line. The detail is printf-formatted and cut to fit. */
void report_step(struct report *r, const char *name, enum step_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the problem code (which must be in the table) for the step that failed: renders the
 * browser's words from r->args, and the cause as the specific sentence (printf format, may be
 * NULL) followed by the table's generic cause; the fix is the table's. Only the first problem
 * counts: later calls are ignored. */
void report_fail(struct report *r, const char *code, const char *cause_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replaces the fix of the recorded problem (printf format), e.g. with the exact path to use. */
void report_set_fix(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when no step failed. */
bool report_ok(const struct report *r);

/* The report for people: the steps, then the verdict (browser's words, cause, fix). */
void report_print_text(const struct report *r, FILE *f);

/* The report as one JSON object on one line: {"ok", "problem", "browser_error", "cause", "fix",
 * "url", "steps": [{"step", "status", "detail"}]}; problem, browser_error, cause and fix are null
 * when ok. */
void report_print_json(const struct report *r, FILE *f);

/* Writes s as a JSON string (with the quotes) to f. */
void report_json_string(FILE *f, const char *s);

/* Copies bytes a peer sent into out[cap] as printable ASCII ('?' for anything else), cut to
 * fit: safe to quote in a step or a cause. */
void report_printable(struct str s, char *out, size_t cap);

#endif
