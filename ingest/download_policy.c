/* Retry policy: backoff with deterministic jitter, Retry-After parsing,
 * defaults. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/version.h"
#include "ingest/download.h"

void ts_download_options_default(ts_download_options *o) {
    memset(o, 0, sizeof *o);
    o->max_concurrency = 64;
    o->max_per_host = 16;
    o->connect_timeout_ms = 10000;
    o->low_speed_bytes = 1024;
    o->low_speed_time_s = 10;
    o->attempt_timeout_ms = 60000;
    o->url_deadline_ms = 180000;
    o->max_attempts = 3;
    o->backoff_base_ms = 500;
    o->backoff_max_ms = 30000;
    o->retry_after_cap_ms = 60000;
    o->max_redirects = 5;
    o->max_body_bytes = (size_t)64 << 20;
    o->honour_robots = 1;
    o->expect_image = 1;
    o->ordered = 1;
}

/* splitmix64 finalizer: a well-mixed 64-bit value from any 64-bit input. */
static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

long ts_backoff_ms(const ts_download_options *o, const char *url, int attempt) {
    if (attempt < 2) return 0;
    double d = (double)o->backoff_base_ms;
    for (int i = 2; i < attempt && d < (double)o->backoff_max_ms; i++) d *= 2;
    if (d > (double)o->backoff_max_ms) d = (double)o->backoff_max_ms;
    /* Jitter from (seed, url, attempt) only, so the schedule of one URL does
     * not depend on which other transfers finished first. */
    uint64_t r = mix64(o->seed ^ mix64(ts_xxh3_64(url, strlen(url)) ^ (uint64_t)attempt));
    double u = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
    return (long)(d * (0.5 + 0.5 * u));
}

/* HTTP-date forms of RFC 9110 5.6.7: IMF-fixdate, obsolete RFC 850, asctime. */
static const char *const date_formats[] = {
    "%a, %d %b %Y %H:%M:%S GMT",
    "%A, %d-%b-%y %H:%M:%S GMT",
    "%a %b %e %H:%M:%S %Y",
};

long ts_retry_after_ms(const char *value, time_t now) {
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' ||
                 value[n - 1] == '\n'))
        n--;
    if (n == 0 || n > 64) return -1;
    char v[65];
    memcpy(v, value, n);
    v[n] = 0;
    int all_digits = 1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i])) all_digits = 0;
    if (all_digits) {
        if (n > 9) return LONG_MAX / 2; /* absurdly long: above any cap */
        return strtol(v, NULL, 10) * 1000;
    }
    for (size_t f = 0; f < sizeof date_formats / sizeof date_formats[0]; f++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(v, date_formats[f], &tm);
        if (!end || *end) continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1) return -1;
        if (t <= now) return 0;
        double ms = difftime(t, now) * 1000.0;
        return ms > (double)(LONG_MAX / 2) ? LONG_MAX / 2 : (long)ms;
    }
    return -1;
}
