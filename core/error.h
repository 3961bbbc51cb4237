/* Errors that carry their context up to the one place that reports them.
 *
 * Contract: a fallible function returns ts_status (TS_OK == 0) and, when it
 * fails, fills the caller's ts_error (which may be NULL when the caller does
 * not care about the message). Callers that add context (the file name, the
 * record index) prefix it with ts_error_context() on the way up, so the final
 * message reads "photos.tar: record 17 (img_0017.jpg): jpeg: premature end".
 */
#ifndef TS_CORE_ERROR_H
#define TS_CORE_ERROR_H

#include <stddef.h>

typedef enum ts_status {
    TS_OK = 0,
    TS_EINVAL,       /* bad argument or option from the caller */
    TS_EIO,          /* the operating system failed a read/write/open */
    TS_ENOMEM,       /* allocation failed */
    TS_EFORMAT,      /* input bytes are not what they claim (corrupt, truncated) */
    TS_EUNSUPPORTED, /* valid input that uses a feature tessera does not handle */
    TS_ELIMIT,       /* input exceeds a configured limit (pixel bomb, size cap) */
    TS_ECHECKSUM,    /* stored checksum does not match the data */
    TS_ENOTFOUND,    /* a key, file or member that was asked for is absent */
    TS_ENET,         /* network failure */
    TS_ECUDA,        /* CUDA or cuBLAS failure */
} ts_status;

#define TS_ERROR_MSG_MAX 1024

typedef struct ts_error {
    ts_status code;
    char msg[TS_ERROR_MSG_MAX];
} ts_error;

/* Record a failure; returns `code` so callers can `return ts_fail(...)`.
 * `err` may be NULL. */
ts_status ts_fail(ts_error *err, ts_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like ts_fail, appending ": strerror(errno)" of the current errno. */
ts_status ts_fail_errno(ts_error *err, ts_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in `err` with more context ("file.tar: ").
 * Returns err->code (TS_OK if err is NULL). */
ts_status ts_error_context(ts_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void ts_error_clear(ts_error *err);

/* Short stable name of a status ("format", "limit", ...), for JSON and logs. */
const char *ts_status_name(ts_status code);

#endif
