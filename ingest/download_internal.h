/* Pieces shared by the multi downloader (download.c) and the resumable file
 * downloader (download_file.c). Internal to ingest/. */
#ifndef TS_INGEST_DOWNLOAD_INTERNAL_H
#define TS_INGEST_DOWNLOAD_INTERNAL_H

#include <curl/curl.h>

#include "ingest/download.h"

/* curl_global_init once per process. */
void ts_dl_global_init(void);
/* Monotonic milliseconds. */
double ts_dl_now_ms(void);

/* What the header callback learned about the current response. A new status
 * line (each redirect hop) resets it. */
typedef struct ts_dl_headers {
    long status;
    int robots_forbid;
    long retry_after_ms;   /* -1: absent or malformed */
    int64_t content_length; /* -1: absent */
    int saw_redirect;
    char content_type[128];
} ts_dl_headers;

void ts_dl_headers_reset(ts_dl_headers *h);
/* Feed one raw header line (with its CRLF). Returns 1 at the blank line that
 * ends a header block. */
int ts_dl_headers_line(ts_dl_headers *h, const ts_download_options *o, const char *line, size_t n);

/* curl_easy_init plus the options a handle keeps for its whole life. */
CURL *ts_dl_new_easy(void);

/* Options common to every attempt: URL, allowed schemes and redirects,
 * timeouts, user agent, error buffer. */
ts_status ts_dl_setup_easy(CURL *easy, const ts_download_options *o, const char *url,
                           long timeout_ms, char *errbuf, ts_error *err);

/* Whether and how long to wait before attempt `next_attempt`; returns -1 when
 * the failure must not be retried (not retryable, attempts used up, a
 * Retry-After above the cap, or past the URL deadline). */
long ts_dl_retry_delay(const ts_download_options *o, const char *url, ts_outcome out,
                       int next_attempt, long retry_after_ms, double elapsed_ms, char *why,
                       size_t why_cap);

#endif
