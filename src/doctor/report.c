/* Building and printing the doctor's report: step lines, the one problem, text and JSON. */
#include "doctor/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void report_step(struct report *r, const char *name, enum step_status st, const char *fmt, ...)
{
    struct report_step *s;
    va_list ap;

    if (r->nsteps >= REPORT_MAX_STEPS)
        return;
    s = &r->steps[r->nsteps++];
    s->name = name;
    s->status = st;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
}

void report_fail(struct report *r, const char *code, const char *cause_fmt, ...)
{
    const struct problem *p = problem_find(code);
    char generic[REPORT_TEXT_MAX];
    size_t len = 0;
    va_list ap;

    if (p == NULL) { /* a code missing from the table is a bug in the doctor */
        fprintf(stderr, "wssgate doctor: internal error: unknown problem code \"%s\"\n", code);
        abort();
    }
    if (r->problem != NULL)
        return;
    r->problem = p;
    problem_browser_error(p, &r->args, r->browser_error, sizeof r->browser_error);
    r->cause[0] = '\0';
    if (cause_fmt != NULL) {
        va_start(ap, cause_fmt);
        vsnprintf(r->cause, sizeof r->cause, cause_fmt, ap);
        va_end(ap);
        len = strlen(r->cause);
    }
    problem_render(p->cause, &r->args, generic, sizeof generic);
    if (len > 0 && len + 2 < sizeof r->cause)
        r->cause[len++] = ' ';
    for (size_t i = 0; generic[i] != '\0' && len + 1 < sizeof r->cause; i++)
        r->cause[len++] = generic[i];
    r->cause[len] = '\0';
    problem_render(p->fix, &r->args, r->fix, sizeof r->fix);
}

void report_set_fix(struct report *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->fix, sizeof r->fix, fmt, ap);
    va_end(ap);
}

bool report_ok(const struct report *r)
{
    return r->problem == NULL;
}

static const char *status_word(enum step_status st)
{
    switch (st) {
    case STEP_OK:
        return "ok";
    case STEP_WARN:
        return "warn";
    case STEP_FAIL:
        return "fail";
    case STEP_SKIP:
    default:
        return "skip";
    }
}

/* Prints text with every line after the first indented by ind spaces. */
static void print_indented(FILE *f, const char *text, int ind)
{
    for (const char *p = text; *p != '\0'; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1] != '\0')
            fprintf(f, "%*s", ind, "");
    }
    fputc('\n', f);
}

void report_print_text(const struct report *r, FILE *f)
{
    fprintf(f, "wssgate doctor %s\n", r->url[0] ? r->url : "(no valid URL)");
    for (size_t i = 0; i < r->nsteps; i++) {
        const struct report_step *s = &r->steps[i];
        fprintf(f, "  %-4s  %-8s ", status_word(s->status), s->name);
        print_indented(f, s->detail, 17);
    }
    if (r->problem == NULL) {
        fputs("\nverdict: the WebSocket works.\n", f);
        return;
    }
    fprintf(f, "\nproblem: %s (%s)\n", r->problem->code, r->problem->title);
    if (r->browser_error[0] != '\0')
        fprintf(f, "the browser says:\n  %s\n", r->browser_error);
    else
        fputs("the browser says: nothing (no console message)\n", f);
    fputs("cause:\n  ", f);
    print_indented(f, r->cause, 2);
    fputs("fix:\n  ", f);
    print_indented(f, r->fix, 2);
}

void report_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f); /* UTF-8 passes through; invalid bytes were never written here */
        }
    }
    fputc('"', f);
}

static void json_or_null(FILE *f, const char *key, const char *s, bool present)
{
    fprintf(f, ", \"%s\": ", key);
    if (present)
        report_json_string(f, s);
    else
        fputs("null", f);
}

void report_print_json(const struct report *r, FILE *f)
{
    bool bad = r->problem != NULL;

    fprintf(f, "{\"ok\": %s", bad ? "false" : "true");
    json_or_null(f, "problem", bad ? r->problem->code : "", bad);
    json_or_null(f, "browser_error", r->browser_error, bad);
    json_or_null(f, "cause", r->cause, bad);
    json_or_null(f, "fix", r->fix, bad);
    fputs(", \"url\": ", f);
    report_json_string(f, r->url);
    fputs(", \"steps\": [", f);
    for (size_t i = 0; i < r->nsteps; i++) {
        fprintf(f, "%s{\"step\": ", i ? ", " : "");
        report_json_string(f, r->steps[i].name);
        fprintf(f, ", \"status\": \"%s\", \"detail\": ", status_word(r->steps[i].status));
        report_json_string(f, r->steps[i].detail);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

void report_printable(struct str s, char *out, size_t cap)
{
    size_t i = 0;

    for (; i < s.len && i + 1 < cap; i++)
        out[i] = (s.p[i] >= 0x20 && s.p[i] < 0x7f) ? s.p[i] : '?';
    if (cap > 0)
        out[i] = '\0';
}
