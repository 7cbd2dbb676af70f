/* Error and access logs: one write(2)-sized line at a time under a mutex, so lines from
 * worker threads never interleave. */
#include "obs/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Atomic enum log_level log_min_level = LOG_NOTICE;

static FILE *error_fp;
static FILE *access_fp;
static int access_off;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

#define MAX_ACCESS_FILES 64

static struct {
    char *path;
    FILE *fp;
} access_files[MAX_ACCESS_FILES];
static int naccess_files;

static const char *const level_names[] = { "debug", "info", "notice", "warn", "error" };

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

static int open_log(const char *path, FILE **fp)
{
    if (!path || strcmp(path, "-") == 0)
        return 0;
    FILE *f = fopen(path, "ae");
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    *fp = f;
    return 0;
}

int log_switch_error(const char *path)
{
    FILE *f = NULL;
    if (path && strcmp(path, "-") != 0 && open_log(path, &f) < 0)
        return -1;
    pthread_mutex_lock(&log_lock);
    FILE *old = error_fp;
    error_fp = f;
    pthread_mutex_unlock(&log_lock);
    if (old)
        fclose(old);
    return 0;
}

int log_open_access(const char *path)
{
    if (path && strcmp(path, "off") == 0) {
        access_off = 1;
        return 0;
    }
    return open_log(path, &access_fp);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S ", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s] ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += (size_t)m < sizeof(line) - n - 1 ? (size_t)m : sizeof(line) - n - 2;
    line[n++] = '\n';
    pthread_mutex_lock(&log_lock);
    FILE *f = error_fp ? error_fp : stderr;
    fwrite(line, 1, n, f);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}

int log_access_enabled(void)
{
    return !access_off;
}

void log_access_line(const char *line, size_t len)
{
    if (access_off)
        return;
    pthread_mutex_lock(&log_lock);
    FILE *f = access_fp ? access_fp : stdout;
    fwrite(line, 1, len, f);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}

int log_access_register(const char *path)
{
    pthread_mutex_lock(&log_lock);
    int h = -1;
    for (int i = 0; i < naccess_files; i++)
        if (strcmp(access_files[i].path, path) == 0)
            h = i;
    if (h < 0 && naccess_files < MAX_ACCESS_FILES) {
        FILE *f = fopen(path, "ae");
        char *p = f ? strdup(path) : NULL;
        if (f && p) {
            setvbuf(f, NULL, _IOLBF, 0);
            access_files[naccess_files].path = p;
            access_files[naccess_files].fp = f;
            h = naccess_files++;
        } else if (f) {
            fclose(f);
            errno = ENOMEM;
        }
    } else if (h < 0) {
        errno = EMFILE;
    }
    pthread_mutex_unlock(&log_lock);
    return h;
}

void log_access_line_to(int handle, const char *line, size_t len)
{
    if (handle < 0 || handle >= naccess_files) {
        log_access_line(line, len);
        return;
    }
    pthread_mutex_lock(&log_lock);
    FILE *f = access_files[handle].fp;
    fwrite(line, 1, len, f);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}

void log_time_local(char *out, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, cap, "%d/%b/%Y:%H:%M:%S %z", &tm);
}
