#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = -1; /* -1: not yet decided, read TESSERA_LOG once */

static ts_log_level level_from_env(void) {
    const char *s = getenv("TESSERA_LOG");
    if (!s) return TS_LOG_WARN;
    if (!strcmp(s, "error")) return TS_LOG_ERROR;
    if (!strcmp(s, "info")) return TS_LOG_INFO;
    if (!strcmp(s, "debug")) return TS_LOG_DEBUG;
    return TS_LOG_WARN;
}

void ts_log_set_level(ts_log_level level) {
    pthread_mutex_lock(&log_lock);
    log_level = (int)level;
    pthread_mutex_unlock(&log_lock);
}

ts_log_level ts_log_get_level(void) {
    pthread_mutex_lock(&log_lock);
    if (log_level < 0) log_level = (int)level_from_env();
    int l = log_level;
    pthread_mutex_unlock(&log_lock);
    return (ts_log_level)l;
}

int ts_log_enabled(ts_log_level level) { return (int)level <= (int)ts_log_get_level(); }

void ts_log(ts_log_level level, const char *fmt, ...) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (!ts_log_enabled(level)) return;
    /* Format first, then write with one call so lines from threads never mix. */
    char line[2048];
    int n = snprintf(line, sizeof line, "tessera: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&log_lock);
}
