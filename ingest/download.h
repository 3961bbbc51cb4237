/* Downloading sources and images over http, https and file (libcurl multi).
 *
 * Contract (docs/DOWNLOAD.md has the policy in full):
 *  - Every item ends with exactly one outcome from the fixed taxonomy below,
 *    delivered once through the completion callback.
 *  - Nothing hangs: each attempt has a connect timeout, a low-speed limit and
 *    a total deadline; each URL has an overall deadline across its retries.
 *  - Retries (timeout, 429, 5xx, connection reset/truncation) use exponential
 *    backoff with jitter drawn from (seed, URL, attempt): the schedule is
 *    deterministic given the seed, whatever the completion order.
 *    Retry-After (delta-seconds or HTTP-date) is honoured up to a cap; a
 *    server asking for longer than the cap ends the item with its status.
 *  - Redirects: at most max_redirects, only http->http, http->https and
 *    https->https; never to file:// or any other scheme.
 *  - Bodies are held in memory up to max_body_bytes: a larger Content-Length
 *    is refused at the headers, a longer stream is aborted as it passes the
 *    limit (both: too_large).
 *  - X-Robots-Tag opt-outs (noai, noimageai, noindex, noimageindex, with or
 *    without a user-agent prefix) end the item as opt_out by default.
 *  - With expect_image, a body whose magic bytes are no known image format is
 *    not_image; a caller hook can then run a full decode (decode outcome).
 *  - Completions come in input order (ordered = 1, bounded reorder window)
 *    or as they finish. Memory is bounded by queue + window bodies.
 */
#ifndef TS_INGEST_DOWNLOAD_H
#define TS_INGEST_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"

/* The fixed outcome taxonomy. The first thirteen are the ingest issue's;
 * the rest name failures that fit none of them (see docs/DOWNLOAD.md). */
typedef enum ts_outcome {
    TS_OUT_OK = 0,
    TS_OUT_DNS,       /* host name did not resolve */
    TS_OUT_CONNECT,   /* TCP connect refused / unreachable */
    TS_OUT_TLS,       /* handshake or certificate failure */
    TS_OUT_TIMEOUT,   /* connect, low-speed or total deadline passed */
    TS_OUT_HTTP_4XX,  /* final status 4xx other than 429 */
    TS_OUT_HTTP_429,  /* too many requests, after retries */
    TS_OUT_HTTP_5XX,  /* server error, after retries */
    TS_OUT_TOO_LARGE, /* body over max_body_bytes */
    TS_OUT_OPT_OUT,   /* X-Robots-Tag forbids AI use */
    TS_OUT_NOT_IMAGE, /* body is not a known image format */
    TS_OUT_DECODE,    /* the caller's full decode check failed */
    TS_OUT_DUP,       /* exact duplicate (set by the dedup stage, never here) */
    TS_OUT_NETWORK,   /* connection reset, truncated body, empty reply */
    TS_OUT_REDIRECT,  /* too many redirects, or a redirect to a refused scheme */
    TS_OUT_BAD_URL,   /* malformed URL or unsupported scheme */
    TS_OUT_CHECKSUM,  /* size or sha256 differs from the expected value */
    TS_OUT_IO,        /* local file error (file:// missing, disk write failed) */
    TS_OUT_OTHER,     /* any libcurl failure not listed above (message says which) */
    TS_OUT_COUNT
} ts_outcome;

/* Stable lower-case name ("http_429"), used in JSON and the journal. */
const char *ts_outcome_name(ts_outcome o);
/* Inverse of ts_outcome_name; TS_ENOTFOUND for an unknown name. */
ts_status ts_outcome_parse(const char *name, ts_outcome *out);
/* Worth another try in a later run: dns, connect, timeout, http_429,
 * http_5xx, network. (The in-run retry set is narrower: it leaves out dns and
 * connect, which rarely heal within seconds.) */
int ts_outcome_is_retryable(ts_outcome o);
/* The outcome of a finished transfer from its libcurl result code (a
 * CURLcode) and final HTTP status (0 for file://): CURLE_OK with 2xx is ok. */
ts_outcome ts_outcome_classify(int curl_code, long http_status);
/* Retried within the same run: timeout, http_429, http_5xx, network. */
int ts_outcome_retry_now(ts_outcome o);

typedef struct ts_download_item {
    const char *url;
    uint64_t tag;            /* the caller's, returned untouched */
    int64_t expected_size;   /* -1: unknown */
    const char *sha256_hex;  /* NULL or 64 hex digits */
} ts_download_item;

typedef struct ts_download_result {
    uint64_t index;          /* 0-based input position */
    uint64_t tag;
    const char *url;         /* as given */
    const char *final_url;   /* after redirects (may equal url) */
    long http_status;        /* 0 for file:// and when no response came */
    const char *content_type; /* NULL when absent */
    ts_outcome outcome;
    const char *message;     /* "" on ok; why otherwise */
    int attempts;
    uint64_t bytes;          /* body bytes received in the last attempt */
    double seconds;          /* from first attempt start to the end */
    ts_buf *body;            /* the body on ok (and for validation); valid only during the
                                completion callback, which may take the bytes by moving
                                the struct out and leaving *body empty or swapped for
                                another buffer (whose contents are discarded) */
    int image_format;        /* ts_image_format from sniffing (0 unknown) */
} ts_download_result;

/* Optional full check of a sniffed body (e.g. decode the image). Return
 * TS_OUT_OK to keep it, another outcome (normally TS_OUT_DECODE) to drop it,
 * with a message in msg (msg_cap bytes). Called from the download thread. */
typedef ts_outcome (*ts_download_validate_fn)(void *ctx, const ts_download_result *r, char *msg,
                                              size_t msg_cap);

/* Pull the next item; return 1 with *item filled, 0 at the end of input.
 * The strings in *item are copied before the next call. A
 * non-zero *err code from inside stops the run with that error. */
typedef int (*ts_download_next_fn)(void *ctx, ts_download_item *item, ts_error *err);
/* One completion per item. Return TS_OK to continue; an error stops the run. */
/* A ready validate hook: full decode with tiler/decode.h (Pillow's limits);
 * a failure is TS_OUT_DECODE. ctx is unused. */
ts_outcome ts_download_validate_decode(void *ctx, const ts_download_result *r, char *msg,
                                       size_t msg_cap);

typedef ts_status (*ts_download_done_fn)(void *ctx, const ts_download_result *r, ts_error *err);

typedef struct ts_download_options {
    int max_concurrency;       /* transfers in flight, all hosts (default 64) */
    int max_per_host;          /* in flight per scheme://host:port (default 16) */
    long connect_timeout_ms;   /* default 10000 */
    long low_speed_bytes;      /* abort below this many bytes/s ... (default 1024) */
    long low_speed_time_s;     /* ... sustained this long (default 10) */
    long attempt_timeout_ms;   /* total per attempt (default 60000) */
    long url_deadline_ms;      /* per URL across attempts and waits (default 180000) */
    int max_attempts;          /* including the first (default 3) */
    long backoff_base_ms;      /* first retry waits base * [0.5, 1) (default 500) */
    long backoff_max_ms;       /* cap of the exponential (default 30000) */
    long retry_after_cap_ms;   /* longest Retry-After honoured (default 60000) */
    uint64_t seed;             /* jitter seed (default 0) */
    int max_redirects;         /* default 5 */
    size_t max_body_bytes;     /* default 64 MiB */
    int honour_robots;         /* default 1 */
    const char *robots_token;  /* NULL: a user-agent-prefixed directive applies whatever the
                                  prefix; else only when the prefix equals this token */
    int expect_image;          /* sniff magic bytes -> not_image (default 1) */
    ts_download_validate_fn validate; /* optional, after sniffing, on ok bodies */
    void *validate_ctx;
    const char *user_agent;    /* default "tessera/<version> (+https://github.com/tessera)" */
    int ordered;               /* deliver in input order (default 1) */
    size_t window;             /* ordered: most items between oldest undelivered and newest
                                  pulled (default 4 * max_concurrency) */
    size_t queue_capacity;     /* unordered: items pulled but not started (default 4 * max_concurrency) */
    const char *ca_file;       /* optional CA bundle for https */
    const char *bearer_token;  /* NULL (default), or sent as "Authorization: Bearer ..." through
                                  libcurl's own bearer support, to the URL's host only: libcurl
                                  withholds it after a redirect to another host, port or scheme
                                  (CURLOPT_UNRESTRICTED_AUTH stays off). Never logged. The source
                                  reader sets it per input from the manifest's "auth"; image
                                  downloads never carry one. */
} ts_download_options;

void ts_download_options_default(ts_download_options *o);

/* Run until the input ends and every item has completed, or a callback
 * fails. Runs in the calling thread. */
ts_status ts_download_run(const ts_download_options *opts, ts_download_next_fn next, void *next_ctx,
                          ts_download_done_fn done, void *done_ctx, ts_error *err);

/* Resumable download of one large file to `path`: bytes go to "<path>.part";
 * an existing .part is continued with a Range request (a server that ignores
 * Range restarts it); the finished file is checked against expected_size
 * (-1: unchecked) and sha256_hex (NULL: unchecked) and renamed to `path`.
 * Retries as the multi downloader does (max_body_bytes is ignored here).
 * Fills *outcome and returns TS_OK when the file is complete and correct;
 * otherwise returns an error whose message says why. */
ts_status ts_download_file(const ts_download_options *opts, const char *url, const char *path,
                           int64_t expected_size, const char *sha256_hex, ts_outcome *outcome,
                           ts_error *err);

/* ---- policy pieces, public for the tests and for other stages ---- */

/* Delay before attempt `attempt` (2 = first retry): min(max, base*2^(attempt-2))
 * scaled by a jitter factor in [0.5, 1) drawn from (seed, url, attempt). */
long ts_backoff_ms(const ts_download_options *o, const char *url, int attempt);

/* Parse a Retry-After value (delta-seconds or HTTP-date in any of the three
 * RFC 9110 forms) into milliseconds from `now`; a past date gives 0.
 * Returns -1 when the value is malformed. */
long ts_retry_after_ms(const char *value, time_t now);

/* 1 when one X-Robots-Tag header value forbids use (see robots_token). */
int ts_robots_forbids(const char *value, const char *robots_token);

/* Lower-case hex SHA-256 (65 bytes with NUL) of a whole file. */
ts_status ts_sha256_file(const char *path, char hex[65], ts_error *err);
ts_status ts_sha256_hex(const void *data, size_t len, char hex[65], ts_error *err);

/* ---- journal: what a previous run already settled ---- */

/* Append-only JSONL, one line per finished URL:
 *   {"url":"...","outcome":"ok","http":200,"attempts":1,"bytes":1234,"time":1764345600}
 * On open, existing lines are loaded (the last line for a URL wins; a torn
 * final line from a crash is ignored and cut off). Each append is flushed to
 * the kernel at once (kill -9 loses nothing); fsync runs every `sync_every`
 * lines and on close. */
typedef struct ts_journal ts_journal;
ts_status ts_journal_open(ts_journal **out, const char *path, size_t sync_every, ts_error *err);
/* 1 when the URL has no entry, or its last outcome is retryable. */
int ts_journal_needs_fetch(const ts_journal *j, const char *url);
/* The recorded outcome of `url`; 0 when absent. */
int ts_journal_lookup(const ts_journal *j, const char *url, ts_outcome *out);
size_t ts_journal_count(const ts_journal *j);
ts_status ts_journal_append(ts_journal *j, const ts_download_result *r, ts_error *err);
ts_status ts_journal_sync(ts_journal *j, ts_error *err);
/* Syncs, closes, frees. NULL is fine. */
ts_status ts_journal_close(ts_journal *j, ts_error *err);

#endif
