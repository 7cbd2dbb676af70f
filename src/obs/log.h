/* Error log with levels and the access log; both line-buffered, safe from any thread.
 * The level check happens before the arguments are evaluated (the macros below). */
#ifndef WSSGATE_OBS_LOG_H
#define WSSGATE_OBS_LOG_H

#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARN, LOG_ERROR };

/* Atomic: a reload changes it on the control thread while workers log. */
extern _Atomic enum log_level log_min_level;

/* Parses "debug", "info", "notice", "warn", "error". Returns 0, or -1 for another word. */
int log_level_parse(const char *name, enum log_level *out);

/* Where the access log goes: NULL or "-" keeps stdout, "off" disables it. Returns 0, or -1 with
 * errno when the file cannot be opened. */
int log_open_access(const char *path);

/* Moves the error log to path (NULL or "-": stderr), from any thread, at start or on a reload:
 * lines being written finish in the old file, which is then closed. Returns 0, or -1 with errno
 * (the error log stays where it was). */
int log_switch_error(const char *path);

/* Writes "YYYY/MM/DD HH:MM:SS [level] message" to the error log. Use the macros. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                    \
    do {                                    \
        if ((lvl) >= log_min_level)         \
            log_write((lvl), __VA_ARGS__);  \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_at(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

/* True when an access log is open. */
int log_access_enabled(void);

/* Writes one preformatted access-log line (a newline is added) to the main access log, or to
 * the file of a handle from log_access_register (handle < 0: the main one). */
void log_access_line(const char *line, size_t len);
void log_access_line_to(int handle, const char *line, size_t len);

/* Opens (once per path, for the life of the process) an access log named by a configuration.
 * Returns a handle, or -1 with errno. Reloads reuse the open file of a path. */
int log_access_register(const char *path);

/* Formats the current time as nginx's $time_local: "22/Nov/2026:16:04:05 +0000" into out (≥ 32). */
void log_time_local(char *out, size_t cap);

#endif
