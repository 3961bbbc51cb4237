/* Levelled logging to stderr, safe to call from any thread.
 *
 * The level comes from ts_log_set_level() (the CLI maps -q/-v to it) or, when
 * never set, from the TESSERA_LOG environment variable (error|warn|info|debug).
 * Machine-readable output never goes through here: stdout is for data. */
#ifndef TS_CORE_LOG_H
#define TS_CORE_LOG_H

typedef enum ts_log_level {
    TS_LOG_ERROR = 0,
    TS_LOG_WARN,
    TS_LOG_INFO,
    TS_LOG_DEBUG,
} ts_log_level;

void ts_log_set_level(ts_log_level level);
ts_log_level ts_log_get_level(void);
int ts_log_enabled(ts_log_level level);

void ts_log(ts_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ts_error_log(...) ts_log(TS_LOG_ERROR, __VA_ARGS__)
#define ts_warn(...) ts_log(TS_LOG_WARN, __VA_ARGS__)
#define ts_info(...) ts_log(TS_LOG_INFO, __VA_ARGS__)
#define ts_debug(...) ts_log(TS_LOG_DEBUG, __VA_ARGS__)

#endif
