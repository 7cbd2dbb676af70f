/* Command-line parsing shared by the subcommands: "--name value" / "--name=value" options,
 * durations ("10s", "500ms", "1h") and sizes ("1m", "16k"), and the common server flags. */
#ifndef WSSGATE_CLI_OPTIONS_H
#define WSSGATE_CLI_OPTIONS_H

#include "app/server.h"
#include "proxy/gen.h"

#include <stdbool.h>
#include <stdint.h>

/* Parses "1500ms", "10s", "5m", "1h" or a bare number of seconds into milliseconds. */
int opt_duration_ms(const char *s, unsigned *ms);
/* Parses "1048576", "16k", "1m", "1g" into bytes. */
int opt_size(const char *s, uint64_t *bytes);

/* Iterates over argv: *name gets the option name without dashes, *value its value (from
 * "=value" or the next argument) or NULL for a flag. Returns 1 for an option, 0 at the end,
 * -1 for a positional argument or a missing value (message printed). */
struct opt_iter {
    int argc, i;
    char **argv;
};
int opt_next(struct opt_iter *it, const char **name, const char **value, bool takes_value(const char *));

/* The server flags every subcommand has: timeouts, limits, logs, workers. `set` remembers which
 * were given, so that they override a configuration file only where given. */
struct cli_settings {
    struct proxy_settings ps;
    int workers;
    unsigned set; /* bit per duration option, in the order of opt_common's table */
    bool error_log_set, log_level_set; /* given: they win over the configuration's error_log */
};
void cli_settings_defaults(struct cli_settings *cs);
/* Returns 1 when name was one of the common options (applied), 0 when not, -1 on a bad value
 * (message printed). */
int opt_common(struct cli_settings *cs, const char *name, const char *value);
bool opt_common_takes_value(const char *name);
void opt_common_help(void);
/* Copies the given timeouts into g (the ones that have no directive: handshake, drain, tunnel
 * idle, keep-alive, head). */
void cli_settings_apply(struct gen *g, const struct cli_settings *cs);
void cli_settings_apply_fn(struct gen *g, void *cs);

#endif
