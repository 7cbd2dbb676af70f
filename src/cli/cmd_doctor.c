/* `wssgate doctor URL [--page ORIGIN] [--ca FILE] [--json] [--no-send] [--timeout D] [-c FILE]`:
 * options in, doctor_run, the report out (text or JSON). Exit 0 when the WebSocket works. */
#include "cli/cmd.h"

#include "cli/options.h"
#include "doctor/doctor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: wssgate doctor URL [options]\n"
          "       wssgate doctor -c FILE [URL] [options]\n"
          "Acts like a browser opening new WebSocket(URL) and walks the whole path: URL, mixed\n"
          "content, port, DNS, TCP, TLS (trust, name, dates), the HTTP upgrade, one message.\n"
          "For a failure it prints the browser's exact console words, the cause and the fix.\n"
          "  --page URL      the page that opens the socket (https://SITE): checks mixed content\n"
          "                  and sends its origin (default: the same host's origin)\n"
          "  --ca FILE       trust this CA too, as curl's --cacert\n"
          "  --json          print one JSON object\n"
          "  --no-send       stop once the socket is open (for services that never answer)\n"
          "  --timeout D     each wait: connect, TLS, handshake, answer (default 10s)\n"
          "  -c FILE         also check a configuration: load and lint, each server's\n"
          "                  certificate, listening ports, upstreams (the URL is then optional)\n"
          "exit status: 0 the WebSocket works, 1 it does not, 2 usage error\n",
          f);
}

/* The value of option argv[*i] (from "--x=v" or the next argument), or NULL (message printed). */
static const char *value_of(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL)
        return eq + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "wssgate doctor: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cmd_doctor(int argc, char **argv)
{
    struct doctor_opts o = {.timeout_ms = DOCTOR_DEFAULT_TIMEOUT_MS};
    const char *config = NULL;
    bool json = false;
    char err[1024];
    struct report *r;
    int rc;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const char *v;
#define OPT(name) (n == sizeof(name) - 1 && strncmp(a, name, n) == 0)
        if (OPT("--help") || OPT("-h")) {
            usage(stdout);
            return 0;
        } else if (OPT("--json")) {
            json = true;
        } else if (OPT("--no-send")) {
            o.no_send = true;
        } else if (OPT("--page") || OPT("--ca") || OPT("--timeout") || OPT("-c") ||
                   OPT("--config")) {
            if ((v = value_of(argc, argv, &i, eq)) == NULL)
                return 2;
            if (OPT("--page")) {
                o.page = v;
            } else if (OPT("--ca")) {
                o.ca_file = v;
            } else if (OPT("--timeout")) {
                unsigned ms;
                if (opt_duration_ms(v, &ms) != 0 || ms == 0 || ms > 600000) {
                    fprintf(stderr,
                            "wssgate doctor: --timeout %s: expected a duration such as "
                            "10s or 500ms (at most 10m)\n",
                            v);
                    return 2;
                }
                o.timeout_ms = (int)ms;
            } else {
                config = v;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "wssgate doctor: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (o.url == NULL) {
            o.url = a;
        } else {
            fprintf(stderr, "wssgate doctor: one URL at a time (got \"%s\" and \"%s\")\n", o.url,
                    a);
            return 2;
        }
#undef OPT
    }
    o.config = config;
    if (o.url == NULL && o.config == NULL) {
        fprintf(stderr, "wssgate doctor: which URL? e.g. wssgate doctor "
                        "wss://localhost:8443/websocket/ (or -c FILE to check a configuration)\n");
        usage(stderr);
        return 2;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        fprintf(stderr, "wssgate doctor: out of memory\n");
        return 1;
    }
    rc = doctor_run(&o, r, err, sizeof err);
    if (rc == 2)
        fprintf(stderr, "wssgate doctor: %s\n", err);
    else if (json)
        report_print_json(r, stdout);
    else
        report_print_text(r, stdout);
    free(r);
    return rc;
}
