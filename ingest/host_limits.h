/* Per-host count of transfers in flight (internal to the downloader). */
#ifndef TS_INGEST_HOST_LIMITS_H
#define TS_INGEST_HOST_LIMITS_H

#include <stddef.h>

typedef struct ts_host_limits ts_host_limits;
typedef struct ts_host_entry ts_host_entry;

ts_host_limits *ts_host_limits_new(void);
void ts_host_limits_free(ts_host_limits *h);
/* "scheme://host:port" of a URL, lower-cased, userinfo dropped; returns its
 * length (0 when the URL has no scheme). Truncates to cap - 1. */
size_t ts_host_key(const char *url, char *out, size_t cap);
int ts_host_limits_active(ts_host_limits *h, const char *key);
/* Count one more transfer on `key`; NULL on allocation failure. */
ts_host_entry *ts_host_limits_acquire(ts_host_limits *h, const char *key);
void ts_host_limits_release(ts_host_limits *h, ts_host_entry *e);

#endif
