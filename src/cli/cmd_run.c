/* `wssgate -c FILE` (also `wssgate run -c FILE`): serve an nginx-dialect configuration;
 * `-t` tests and lints it without starting anything, `-T` also prints it; `-s reload|stop`
 * signals the running instance through the configuration's pid file. */
#include "cli/cmd.h"

#include "cli/options.h"
#include "conf/load.h"
#include "obs/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct run_cmd {
    const char *conf, *signal;
    bool test, dump;
    struct cli_settings cs;
};

static void usage(void)
{
    fputs("usage: wssgate -c FILE [-t | -T | -s reload|stop] [options]\n"
          "  -c FILE        the configuration (nginx's language; docs/config.md)\n"
          "  -t             test the configuration: errors and warnings, nothing started\n"
          "  -T             test, then print the configuration as read (includes expanded)\n"
          "  -s SIGNAL      reload or stop the running instance (needs \"pid FILE;\")\n",
          stderr);
    opt_common_help();
}

static int parse_args(int argc, char **argv, struct run_cmd *rc)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            rc->conf = argv[++i];
        } else if (strcmp(a, "-s") == 0 && i + 1 < argc) {
            rc->signal = argv[++i];
        } else if (strcmp(a, "-t") == 0) {
            rc->test = true;
        } else if (strcmp(a, "-T") == 0) {
            rc->test = rc->dump = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strncmp(a, "--", 2) == 0) {
            const char *eq = strchr(a, '=');
            char name[64];
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (n >= sizeof(name)) {
                fprintf(stderr, "wssgate: unknown option %s\n", a);
                return 2;
            }
            memcpy(name, a + 2, n);
            name[n] = '\0';
            const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
            if (!eq && opt_common_takes_value(name))
                i++;
            int r = value ? opt_common(&rc->cs, name, value) : 0;
            if (r < 0)
                return 2;
            if (r == 0) {
                fprintf(stderr, "wssgate: unknown option %s\n", a);
                usage();
                return 2;
            }
        } else {
            fprintf(stderr, "wssgate: unexpected argument \"%s\"\n", a);
            usage();
            return 2;
        }
    }
    if (!rc->conf) {
        fprintf(stderr, "wssgate: -c FILE is required\n");
        usage();
        return 2;
    }
    return -1;
}

/* The configuration's error_log, at start and on every reload, unless the command line gave
 * the file or the level: those win, as nginx's -e wins over its error_log. A configuration
 * without error_log logs to stderr at notice. */
static void apply_error_log(const struct load_result *res, const struct cli_settings *cs)
{
    if (!cs->error_log_set && log_switch_error(res->error_log) < 0)
        log_error("cannot open error_log \"%s\": %s; the error log stays where it was",
                  res->error_log, strerror(errno));
    if (!cs->log_level_set) {
        enum log_level level = LOG_NOTICE;
        /* `error_log FILE LEVEL`: nginx's crit, alert and emerg are wssgate's error. */
        if (res->error_level && log_level_parse(res->error_level, &level) < 0)
            level = LOG_ERROR;
        log_min_level = level;
    }
}

static void apply_error_log_fn(const struct load_result *res, void *cs)
{
    apply_error_log(res, cs);
}

/* Loads path; to_stderr: messages go to stderr and the error_log is not applied (-t, -s). */
static struct gen *load(const char *path, bool to_stderr, const struct cli_settings *cs)
{
    struct load_result res;
    struct gen *g = conf_load_file(path, &res);
    for (size_t i = 0; i < res.nwarnings; i++) {
        if (to_stderr)
            fprintf(stderr, "wssgate: %s\n", res.warnings[i]);
        else
            log_warn("%s", res.warnings[i]);
    }
    if (!g)
        fprintf(stderr, "wssgate: %s\n", res.error);
    if (g && !to_stderr)
        apply_error_log(&res, cs);
    load_result_free(&res);
    return g;
}

static int send_signal(const struct run_cmd *rc)
{
    int sig = strcmp(rc->signal, "reload") == 0 ? SIGHUP
              : strcmp(rc->signal, "stop") == 0 || strcmp(rc->signal, "quit") == 0 ? SIGTERM
                                                                                   : 0;
    if (!sig) {
        fprintf(stderr, "wssgate: -s %s: use reload or stop\n", rc->signal);
        return 2;
    }
    struct gen *g = load(rc->conf, true, &rc->cs);
    if (!g)
        return 1;
    if (!g->pid_path) {
        fprintf(stderr, "wssgate: %s has no \"pid FILE;\" line, so the running instance cannot "
                        "be found; add one (e.g. pid /run/wssgate.pid;) and restart it\n",
                rc->conf);
        gen_unref(g);
        return 1;
    }
    FILE *f = fopen(g->pid_path, "re");
    long pid = 0;
    if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
        fprintf(stderr, "wssgate: cannot read a pid from \"%s\": is wssgate running with this "
                        "configuration?\n", g->pid_path);
        if (f)
            fclose(f);
        gen_unref(g);
        return 1;
    }
    fclose(f);
    gen_unref(g);
    if (kill((pid_t)pid, sig) < 0) {
        fprintf(stderr, "wssgate: cannot signal process %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    return 0;
}

static void print_ready(void *arg)
{
    const struct gen *g = arg;
    for (size_t i = 0; i < g->nlistens; i++)
        log_notice("listening on %s://%s", g->listens[i].ssl ? "https" : "http",
                   g->listens[i].text);
}

int cmd_run(int argc, char **argv)
{
    struct run_cmd rc = { 0 };
    cli_settings_defaults(&rc.cs);
    int r = parse_args(argc, argv, &rc);
    if (r >= 0)
        return r;
    if (rc.signal)
        return send_signal(&rc);
    if (rc.test) {
        struct gen *g = load(rc.conf, true, &rc.cs);
        if (!g) {
            fprintf(stderr, "wssgate: configuration file %s test failed\n", rc.conf);
            return 1;
        }
        gen_unref(g);
        if (rc.dump && conf_print_file(rc.conf, stdout) < 0)
            return 1;
        fprintf(stderr, "wssgate: the configuration file %s syntax is ok\n"
                        "wssgate: configuration file %s test is successful\n",
                rc.conf, rc.conf);
        return 0;
    }
    struct gen *g = load(rc.conf, false, &rc.cs);
    if (!g)
        return 1;
    cli_settings_apply(g, &rc.cs);
    char *pid_path = g->pid_path ? strdup(g->pid_path) : NULL;
    if (pid_path) {
        FILE *f = fopen(pid_path, "we");
        if (!f) {
            fprintf(stderr, "wssgate: cannot write pid file \"%s\": %s\n", pid_path,
                    strerror(errno));
            free(pid_path);
            gen_unref(g);
            return 1;
        }
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    }
    struct app_run_opts opts = { .conf_path = rc.conf, .adjust = cli_settings_apply_fn,
                                 .adjust_arg = &rc.cs, .loaded = apply_error_log_fn,
                                 .ready = print_ready, .ready_arg = g,
                                 .workers = rc.cs.workers };
    char err[512];
    int status = app_run(g, &opts, err, sizeof(err));
    if (status)
        fprintf(stderr, "wssgate: %s\n", err);
    if (pid_path)
        unlink(pid_path);
    free(pid_path);
    return status;
}
