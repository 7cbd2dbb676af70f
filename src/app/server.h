/* The server: worker threads (one epoll loop and one SO_REUSEPORT listener per address each),
 * the control thread (signals, reload), and graceful stop. */
#ifndef WSSGATE_APP_SERVER_H
#define WSSGATE_APP_SERVER_H

#include "proxy/gen.h"

#include <stddef.h>

/* Called once every listener is open and the workers run (print the banner there). */
typedef void app_ready_fn(void *arg);

/* Applied to every generation this run loads (command-line settings that override the file). */
typedef void app_adjust_fn(struct gen *g, void *arg);

/* Called with what a reload loaded, before its generation serves (its error_log). */
struct load_result;
typedef void app_loaded_fn(const struct load_result *res, void *arg);

struct app_run_opts {
    const char *conf_path;   /* reloaded on SIGHUP; NULL: reload is refused with a notice */
    app_adjust_fn *adjust;
    void *adjust_arg;
    app_loaded_fn *loaded;   /* with adjust_arg too */
    app_ready_fn *ready;
    void *ready_arg;
    int workers;             /* 0: the generation's worker_processes, else one per CPU */
};

/* Serves g (takes over the caller's reference) until SIGTERM/SIGINT, then stops gracefully
 * (drain_ms for tunnels; a second signal stops at once). SIGHUP loads opts->conf_path into a new
 * generation: on error the old one keeps serving. Returns the exit status: 0 after a clean
 * stop, 1 when the listeners could not be opened (err says why). */
int app_run(struct gen *g, const struct app_run_opts *opts, char *err, size_t errlen);

/* The default number of workers: the CPUs this process may run on. */
int app_default_workers(void);

#endif
