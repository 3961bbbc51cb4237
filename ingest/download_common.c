/* Attempt setup, header parsing and the retry decision shared by both
 * downloaders. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/version.h"
#include "ingest/download_internal.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void ts_dl_global_init(void) { pthread_once(&global_once, global_init); }

double ts_dl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ts_dl_headers_reset(ts_dl_headers *h) {
    memset(h, 0, sizeof *h);
    h->retry_after_ms = -1;
    h->content_length = -1;
}

/* Copy a header's value (after "name:") trimmed into out. */
static void header_value(const char *line, size_t n, size_t name_len, char *out, size_t cap) {
    const char *v = line + name_len + 1;
    size_t vn = n - name_len - 1;
    while (vn && isspace((unsigned char)*v)) v++, vn--;
    while (vn && isspace((unsigned char)v[vn - 1])) vn--;
    if (vn >= cap) vn = cap - 1;
    memcpy(out, v, vn);
    out[vn] = 0;
}

static int is_header(const char *line, size_t n, const char *name) {
    size_t k = strlen(name);
    return n > k && line[k] == ':' && !strncasecmp(line, name, k);
}

int ts_dl_headers_line(ts_dl_headers *h, const ts_download_options *o, const char *line, size_t n) {
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        int saw = h->saw_redirect;
        ts_dl_headers_reset(h);
        h->saw_redirect = saw;
        const char *sp = memchr(line, ' ', n);
        if (sp && (size_t)(sp - line) + 4 <= n && isdigit((unsigned char)sp[1]))
            h->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        if (h->status >= 300 && h->status < 400) h->saw_redirect = 1;
        return 0;
    }
    if (n <= 2 && (n == 0 || line[0] == '\r' || line[0] == '\n')) return 1;
    char v[1024];
    if (is_header(line, n, "x-robots-tag")) {
        header_value(line, n, 12, v, sizeof v);
        if (o->honour_robots && ts_robots_forbids(v, o->robots_token)) h->robots_forbid = 1;
    } else if (is_header(line, n, "retry-after")) {
        header_value(line, n, 11, v, sizeof v);
        h->retry_after_ms = ts_retry_after_ms(v, time(NULL));
    } else if (is_header(line, n, "content-length")) {
        header_value(line, n, 14, v, sizeof v);
        char *end;
        long long cl = strtoll(v, &end, 10);
        if (end != v && *end == 0 && cl >= 0) h->content_length = cl;
    } else if (is_header(line, n, "content-type")) {
        header_value(line, n, 12, h->content_type, sizeof h->content_type);
    }
    return 0;
}

CURL *ts_dl_new_easy(void) {
    CURL *easy = curl_easy_init();
    /* Fewer recv calls (curl's own tool uses 100 KB); under glibc's 128 KB
     * mmap threshold, or every transfer faults in a fresh buffer. Set once per handle:
     * libcurl refuses to resize the buffer of a handle that has run. */
    if (easy) curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 96L * 1024);
    return easy;
}

ts_status ts_dl_setup_easy(CURL *easy, const ts_download_options *o, const char *url,
                           long timeout_ms, char *errbuf, ts_error *err) {
    int is_file = !strncasecmp(url, "file:", 5);
    int is_https = !strncasecmp(url, "https:", 6);
    char ua[128];
    if (!o->user_agent) snprintf(ua, sizeof ua, "tessera/%s", TS_VERSION);
    CURLcode rc = CURLE_OK;
    CURLoption failed = 0;
#define SET(opt, val) \
    if (rc == CURLE_OK && (rc = curl_easy_setopt(easy, opt, val)) != CURLE_OK) failed = opt
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
    /* Redirects keep the scheme or upgrade http to https; file never redirects. */
    SET(CURLOPT_FOLLOWLOCATION, is_file ? 0L : 1L);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, is_https ? "https" : "http,https");
    SET(CURLOPT_MAXREDIRS, (long)o->max_redirects);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms < 0 ? 0L : timeout_ms > 0 ? timeout_ms : 1L); /* <0: none */
    SET(CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
    SET(CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    SET(CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    if (o->ca_file) SET(CURLOPT_CAINFO, o->ca_file);
    if (o->bearer_token) {
        /* libcurl's bearer auth, not a hand-made header: libcurl sends it to
         * the first host only and drops it on a redirect elsewhere (a custom
         * header would follow the redirect to the CDN). */
        SET(CURLOPT_XOAUTH2_BEARER, o->bearer_token);
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
    }
#undef SET
    if (rc != CURLE_OK)
        return ts_fail(err, TS_EINVAL, "%s: libcurl option %d: %s", url, (int)failed, curl_easy_strerror(rc));
    errbuf[0] = 0;
    return TS_OK;
}

long ts_dl_retry_delay(const ts_download_options *o, const char *url, ts_outcome out,
                       int next_attempt, long retry_after_ms, double elapsed_ms, char *why,
                       size_t why_cap) {
    why[0] = 0;
    if (!ts_outcome_retry_now(out)) return -1;
    if (next_attempt > o->max_attempts) {
        snprintf(why, why_cap, "after %d attempts", next_attempt - 1);
        return -1;
    }
    long delay = ts_backoff_ms(o, url, next_attempt);
    if (retry_after_ms >= 0) {
        if (retry_after_ms > o->retry_after_cap_ms) {
            snprintf(why, why_cap, "Retry-After %ld ms exceeds the cap of %ld ms", retry_after_ms,
                     o->retry_after_cap_ms);
            return -1;
        }
        if (retry_after_ms > delay) delay = retry_after_ms;
    }
    if (elapsed_ms + (double)delay >= (double)o->url_deadline_ms) {
        snprintf(why, why_cap, "URL deadline of %ld ms would pass before the retry", o->url_deadline_ms);
        return -1;
    }
    return delay;
}
