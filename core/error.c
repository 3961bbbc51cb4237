#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(ts_error *err, const char *fmt, va_list ap) {
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

ts_status ts_fail(ts_error *err, ts_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vset(err, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

ts_status ts_fail_errno(ts_error *err, ts_status code, const char *fmt, ...) {
    int saved = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vset(err, fmt, ap);
        va_end(ap);
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
        err->code = code;
    }
    return code;
}

ts_status ts_error_context(ts_error *err, const char *fmt, ...) {
    if (!err) return TS_OK;
    char prefix[TS_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* prefix + ": " + old message, truncated to the buffer. */
    char joined[TS_ERROR_MSG_MAX];
    size_t n = strlen(prefix);
    memcpy(joined, prefix, n);
    if (n + 2 < sizeof joined) {
        memcpy(joined + n, ": ", 2);
        n += 2;
    }
    size_t rest = strlen(err->msg);
    if (rest > sizeof joined - 1 - n) rest = sizeof joined - 1 - n;
    memcpy(joined + n, err->msg, rest);
    joined[n + rest] = '\0';
    memcpy(err->msg, joined, n + rest + 1);
    return err->code;
}

void ts_error_clear(ts_error *err) {
    if (!err) return;
    err->code = TS_OK;
    err->msg[0] = '\0';
}

const char *ts_status_name(ts_status code) {
    switch (code) {
    case TS_OK: return "ok";
    case TS_EINVAL: return "invalid";
    case TS_EIO: return "io";
    case TS_ENOMEM: return "nomem";
    case TS_EFORMAT: return "format";
    case TS_EUNSUPPORTED: return "unsupported";
    case TS_ELIMIT: return "limit";
    case TS_ECHECKSUM: return "checksum";
    case TS_ENOTFOUND: return "notfound";
    case TS_ENET: return "net";
    case TS_ECUDA: return "cuda";
    }
    return "unknown";
}
