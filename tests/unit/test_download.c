/* Download policy: backoff schedule, Retry-After, X-Robots-Tag, outcome
 * mapping and names, retry decisions, host keys, the journal, SHA-256, and
 * the multi loop's ordering over file:// URLs (no server needed). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "ingest/download.h"
#include "ingest/download_internal.h"
#include "ingest/host_limits.h"
#include "tests/harness.h"

static char tmpdir[512];

static void test_backoff_deterministic(void) {
    ts_download_options o;
    ts_download_options_default(&o);
    o.seed = 42;
    CHECK_EQ(ts_backoff_ms(&o, "http://a/x", 1), 0);
    for (int a = 2; a <= 12; a++) {
        long d = ts_backoff_ms(&o, "http://a/x", a);
        CHECK_EQ(d, ts_backoff_ms(&o, "http://a/x", a)); /* same inputs, same delay */
        double full = 500.0;
        for (int i = 2; i < a; i++) full *= 2;
        if (full > 30000) full = 30000;
        CHECK(d >= (long)(full * 0.5) && d < (long)full);
    }
    /* The jitter depends on the seed and the URL. */
    int differ_seed = 0, differ_url = 0;
    for (int a = 2; a <= 6; a++) {
        ts_download_options p = o;
        p.seed = 43;
        differ_seed += ts_backoff_ms(&o, "http://a/x", a) != ts_backoff_ms(&p, "http://a/x", a);
        differ_url += ts_backoff_ms(&o, "http://a/x", a) != ts_backoff_ms(&o, "http://a/y", a);
    }
    CHECK(differ_seed >= 4);
    CHECK(differ_url >= 4);
}

static void test_retry_after(void) {
    time_t now = 1445412470; /* Wed, 21 Oct 2015 07:27:50 GMT */
    CHECK_EQ(ts_retry_after_ms("120", now), 120000);
    CHECK_EQ(ts_retry_after_ms(" 5 \r\n", now), 5000);
    CHECK_EQ(ts_retry_after_ms("0", now), 0);
    CHECK_EQ(ts_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now), 10000);
    CHECK_EQ(ts_retry_after_ms("Wednesday, 21-Oct-15 07:28:00 GMT", now), 10000);
    CHECK_EQ(ts_retry_after_ms("Wed Oct 21 07:28:00 2015", now), 10000);
    CHECK_EQ(ts_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now), 0); /* in the past */
    CHECK(ts_retry_after_ms("99999999999", now) > 86400000L);
    CHECK_EQ(ts_retry_after_ms("", now), -1);
    CHECK_EQ(ts_retry_after_ms("-5", now), -1);
    CHECK_EQ(ts_retry_after_ms("soon", now), -1);
    CHECK_EQ(ts_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT trailing", now), -1);
}

static void test_robots(void) {
    CHECK(ts_robots_forbids("noai", NULL));
    CHECK(ts_robots_forbids("NoImageAI", NULL));
    CHECK(ts_robots_forbids("noarchive, noindex", NULL));
    CHECK(ts_robots_forbids("noimageindex", NULL));
    CHECK(ts_robots_forbids("none", NULL));
    CHECK(!ts_robots_forbids("noarchive, nofollow", NULL));
    CHECK(!ts_robots_forbids("", NULL));
    CHECK(!ts_robots_forbids("all", NULL));
    CHECK(!ts_robots_forbids("noaix", NULL));
    /* User-agent prefixes: honoured whatever the agent unless a token is set. */
    CHECK(ts_robots_forbids("otherbot: noai", NULL));
    CHECK(!ts_robots_forbids("otherbot: noai", "tessera"));
    CHECK(ts_robots_forbids("tessera: noimageai", "tessera"));
    CHECK(ts_robots_forbids("TESSERA: noai", "tessera"));
    CHECK(!ts_robots_forbids("googlebot: nofollow, otherbot: noindex", "googlebot"));
    CHECK(ts_robots_forbids("otherbot: nofollow, noai", NULL)); /* noai belongs to otherbot */
    CHECK(!ts_robots_forbids("otherbot: nofollow, noai", "tessera"));
    /* Directives with values are not agents. */
    CHECK(!ts_robots_forbids("unavailable_after: 25 Jun 2010 15:00:00 PST", NULL));
    CHECK(!ts_robots_forbids("max-image-preview: none", NULL));
    CHECK(ts_robots_forbids("max-image-preview: large, noai", "tessera"));
}

static void test_outcome_names(void) {
    for (int i = 0; i < TS_OUT_COUNT; i++) {
        ts_outcome o;
        CHECK_EQ(ts_outcome_parse(ts_outcome_name((ts_outcome)i), &o), TS_OK);
        CHECK_EQ(o, i);
    }
    const char *fixed[] = {"ok", "dns", "connect", "tls", "timeout", "http_4xx", "http_429", "http_5xx",
                           "too_large", "opt_out", "not_image", "decode", "dup"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) CHECK_STR(ts_outcome_name((ts_outcome)i), fixed[i]);
    ts_outcome o;
    CHECK_EQ(ts_outcome_parse("bogus", &o), TS_ENOTFOUND);
    int retryable = 0;
    for (int i = 0; i < TS_OUT_COUNT; i++) retryable += ts_outcome_is_retryable((ts_outcome)i);
    CHECK_EQ(retryable, 6);
    CHECK(ts_outcome_is_retryable(TS_OUT_DNS) && ts_outcome_is_retryable(TS_OUT_CONNECT));
    CHECK(ts_outcome_is_retryable(TS_OUT_HTTP_429) && ts_outcome_is_retryable(TS_OUT_NETWORK));
    CHECK(!ts_outcome_is_retryable(TS_OUT_HTTP_4XX) && !ts_outcome_is_retryable(TS_OUT_OPT_OUT));
    CHECK(!ts_outcome_retry_now(TS_OUT_DNS) && ts_outcome_retry_now(TS_OUT_TIMEOUT));
}

static void test_outcome_classify(void) {
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 200), TS_OUT_OK);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 206), TS_OUT_OK);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 0), TS_OUT_OK);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 404), TS_OUT_HTTP_4XX);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 403), TS_OUT_HTTP_4XX);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 429), TS_OUT_HTTP_429);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 500), TS_OUT_HTTP_5XX);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 503), TS_OUT_HTTP_5XX);
    CHECK_EQ(ts_outcome_classify(CURLE_OK, 302), TS_OUT_REDIRECT);
    CHECK_EQ(ts_outcome_classify(CURLE_COULDNT_RESOLVE_HOST, 0), TS_OUT_DNS);
    CHECK_EQ(ts_outcome_classify(CURLE_COULDNT_CONNECT, 0), TS_OUT_CONNECT);
    CHECK_EQ(ts_outcome_classify(CURLE_OPERATION_TIMEDOUT, 200), TS_OUT_TIMEOUT);
    CHECK_EQ(ts_outcome_classify(CURLE_SSL_CONNECT_ERROR, 0), TS_OUT_TLS);
    CHECK_EQ(ts_outcome_classify(CURLE_PEER_FAILED_VERIFICATION, 0), TS_OUT_TLS);
    CHECK_EQ(ts_outcome_classify(CURLE_PARTIAL_FILE, 200), TS_OUT_NETWORK);
    CHECK_EQ(ts_outcome_classify(CURLE_RECV_ERROR, 0), TS_OUT_NETWORK);
    CHECK_EQ(ts_outcome_classify(CURLE_GOT_NOTHING, 0), TS_OUT_NETWORK);
    CHECK_EQ(ts_outcome_classify(CURLE_TOO_MANY_REDIRECTS, 302), TS_OUT_REDIRECT);
    CHECK_EQ(ts_outcome_classify(CURLE_UNSUPPORTED_PROTOCOL, 0), TS_OUT_BAD_URL);
    CHECK_EQ(ts_outcome_classify(CURLE_URL_MALFORMAT, 0), TS_OUT_BAD_URL);
    CHECK_EQ(ts_outcome_classify(CURLE_FILE_COULDNT_READ_FILE, 0), TS_OUT_IO);
    CHECK_EQ(ts_outcome_classify(CURLE_OUT_OF_MEMORY, 0), TS_OUT_OTHER);
}

static void test_retry_decision(void) {
    ts_download_options o;
    ts_download_options_default(&o);
    char why[160];
    long d = ts_dl_retry_delay(&o, "u", TS_OUT_HTTP_5XX, 2, -1, 0, why, sizeof why);
    CHECK(d >= 250 && d < 500);
    CHECK_EQ(ts_dl_retry_delay(&o, "u", TS_OUT_HTTP_429, 2, 7000, 0, why, sizeof why), 7000);
    CHECK_EQ(ts_dl_retry_delay(&o, "u", TS_OUT_HTTP_429, 2, 61000, 0, why, sizeof why), -1);
    CHECK(strstr(why, "cap") != NULL);
    CHECK_EQ(ts_dl_retry_delay(&o, "u", TS_OUT_HTTP_4XX, 2, -1, 0, why, sizeof why), -1);
    CHECK_EQ(ts_dl_retry_delay(&o, "u", TS_OUT_DNS, 2, -1, 0, why, sizeof why), -1);
    CHECK_EQ(ts_dl_retry_delay(&o, "u", TS_OUT_TIMEOUT, 4, -1, 0, why, sizeof why), -1);
    CHECK(strstr(why, "3 attempts") != NULL);
    CHECK_EQ(ts_dl_retry_delay(&o, "u", TS_OUT_NETWORK, 2, -1, 179900, why, sizeof why), -1);
    CHECK(strstr(why, "deadline") != NULL);
}

static void test_host_key(void) {
    char k[256];
    ts_host_key("HTTP://User:pw@Example.COM:8080/a?b", k, sizeof k);
    CHECK_STR(k, "http://example.com:8080");
    ts_host_key("https://x.org", k, sizeof k);
    CHECK_STR(k, "https://x.org");
    ts_host_key("https://x.org?q#f", k, sizeof k);
    CHECK_STR(k, "https://x.org");
    CHECK_EQ(ts_host_key("no scheme", k, sizeof k), 0);
    ts_host_limits *h = ts_host_limits_new();
    ts_host_entry *a = ts_host_limits_acquire(h, "http://a"), *b = ts_host_limits_acquire(h, "http://a");
    CHECK_EQ(ts_host_limits_active(h, "http://a"), 2);
    ts_host_limits_release(h, a);
    ts_host_limits_release(h, b);
    CHECK_EQ(ts_host_limits_active(h, "http://a"), 0);
    ts_host_limits_free(h);
}

static void test_sha256(void) {
    char hex[65];
    ts_error err = {0};
    CHECK_OK(ts_sha256_hex("abc", 3, hex, &err), &err);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char path[600];
    snprintf(path, sizeof path, "%s/abc.txt", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK_OK(ts_sha256_file(path, hex, &err), &err);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_journal(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/journal.jsonl", tmpdir);
    unlink(path);
    ts_error err = {0};
    ts_journal *j;
    CHECK_OK(ts_journal_open(&j, path, 2, &err), &err);
    ts_download_result r = {.url = "http://a/1", .outcome = TS_OUT_OK, .http_status = 200, .attempts = 1};
    CHECK_OK(ts_journal_append(j, &r, &err), &err);
    r.url = "http://a/2";
    r.outcome = TS_OUT_HTTP_5XX;
    CHECK_OK(ts_journal_append(j, &r, &err), &err);
    r.url = "http://a/3";
    r.outcome = TS_OUT_HTTP_4XX;
    CHECK_OK(ts_journal_append(j, &r, &err), &err);
    CHECK_OK(ts_journal_close(j, &err), &err);
    /* A crash mid-append leaves a torn last line. */
    FILE *f = fopen(path, "ab");
    fputs("{\"url\":\"http://a/4\",\"outc", f);
    fclose(f);
    CHECK_OK(ts_journal_open(&j, path, 2, &err), &err);
    CHECK_EQ(ts_journal_count(j), 3);
    ts_outcome o;
    CHECK(ts_journal_lookup(j, "http://a/3", &o) && o == TS_OUT_HTTP_4XX);
    CHECK(!ts_journal_needs_fetch(j, "http://a/1"));
    CHECK(ts_journal_needs_fetch(j, "http://a/2"));
    CHECK(!ts_journal_needs_fetch(j, "http://a/3"));
    CHECK(ts_journal_needs_fetch(j, "http://a/4"));
    r.url = "http://a/2"; /* the retry succeeded: the last line wins */
    r.outcome = TS_OUT_OK;
    CHECK_OK(ts_journal_append(j, &r, &err), &err);
    CHECK_OK(ts_journal_close(j, &err), &err);
    CHECK_OK(ts_journal_open(&j, path, 2, &err), &err);
    CHECK(!ts_journal_needs_fetch(j, "http://a/2"));
    CHECK_EQ(ts_journal_count(j), 3);
    CHECK_OK(ts_journal_close(j, &err), &err);
    /* A bad line that is not the last is an error, not silently dropped. */
    f = fopen(path, "ab");
    fputs("garbage\n{\"url\":\"http://a/5\",\"outcome\":\"ok\"}\n", f);
    fclose(f);
    CHECK_EQ(ts_journal_open(&j, path, 2, &err), TS_EFORMAT);
}

/* ---- the multi loop over file:// URLs ---- */
typedef struct feed {
    char urls[40][700];
    int n, next;
    uint64_t seen[40];
    int delivered;
    int in_order;
    ts_outcome outcomes[40];
    int stutter, calls, none_yet; /* stutter: every third call has no item yet */
} feed;

static int feed_next(void *ctx, ts_download_item *it, ts_error *err) {
    (void)err;
    feed *f = ctx;
    if (f->stutter && ++f->calls % 3 == 0) {
        f->none_yet++;
        return TS_DOWNLOAD_NONE_YET;
    }
    if (f->next == f->n) return 0;
    it->url = f->urls[f->next];
    it->tag = 1000 + (uint64_t)f->next;
    f->next++;
    return 1;
}

static ts_status feed_done(void *ctx, const ts_download_result *r, ts_error *err) {
    (void)err;
    feed *f = ctx;
    if (r->index != (uint64_t)f->delivered) f->in_order = 0;
    CHECK_EQ(r->tag, 1000 + r->index);
    f->outcomes[r->index] = r->outcome;
    if (r->outcome == TS_OUT_OTHER) fprintf(stderr, "  %s: %s\n", r->url, r->message);
    f->seen[r->index]++;
    f->delivered++;
    return TS_OK;
}

static void run_feed(int ordered, size_t window, int stutter) {
    /* Files of 1 to 40 KB, PNG-signed except every fifth (not_image) and
     * every seventh (missing: io). */
    feed f = {.in_order = 1, .stutter = stutter};
    f.n = 40;
    for (int i = 0; i < f.n; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/f%02d", tmpdir, i);
        snprintf(f.urls[i], sizeof f.urls[i], "file://%s", p);
        if (i % 7 == 3) continue;
        FILE *fp = fopen(p, "wb");
        static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
        fwrite(i % 5 == 1 ? (const unsigned char *)"textfile" : png, 1, 8, fp);
        for (int k = 0; k < (i + 1) * 1000; k++) fputc(k & 0xff, fp);
        fclose(fp);
    }
    ts_download_options o;
    ts_download_options_default(&o);
    o.ordered = ordered;
    o.window = window;
    o.max_concurrency = 5;
    ts_error err = {0};
    CHECK_OK(ts_download_run(&o, feed_next, &f, feed_done, &f, &err), &err);
    CHECK_EQ(f.delivered, f.n);
    if (ordered) CHECK(f.in_order);
    if (stutter) CHECK(f.none_yet >= f.n / 2);
    for (int i = 0; i < f.n; i++) {
        CHECK_EQ(f.seen[i], 1);
        ts_outcome want = i % 7 == 3 ? TS_OUT_IO : i % 5 == 1 ? TS_OUT_NOT_IMAGE : TS_OUT_OK;
        CHECK_EQ(f.outcomes[i], want);
    }
}

static void test_ordered_window(void) { run_feed(1, 3, 0); }
static void test_unordered(void) { run_feed(0, 0, 0); }
/* A feeder with no item ready at times (another thread fills it): the run
 * keeps going and still delivers every item once, in order. */
static void test_none_yet(void) {
    run_feed(1, 3, 1);
    run_feed(0, 0, 1);
}

static ts_status stop_at_third(void *ctx, const ts_download_result *r, ts_error *err) {
    (void)ctx;
    if (r->index == 2) return ts_fail(err, TS_EIO, "stop");
    return TS_OK;
}

static void test_callback_failure_stops_cleanly(void) {
    /* The run ends with the callback's error and frees everything in flight
     * (the sanitizer build checks the leaks). */
    for (int ordered = 0; ordered <= 1; ordered++) {
        feed f = {.in_order = 1};
        f.n = 30;
        for (int i = 0; i < f.n; i++) snprintf(f.urls[i], sizeof f.urls[i], "file://%s/f%02d", tmpdir, i);
        ts_download_options o;
        ts_download_options_default(&o);
        o.ordered = ordered;
        ts_error err = {0};
        CHECK_EQ(ts_download_run(&o, feed_next, &f, stop_at_third, NULL, &err), TS_EIO);
        CHECK_STR(err.msg, "stop");
    }
}

int main(void) {
    const char *base = getenv("TS_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_download.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_backoff_deterministic);
    RUN(test_retry_after);
    RUN(test_robots);
    RUN(test_outcome_names);
    RUN(test_outcome_classify);
    RUN(test_retry_decision);
    RUN(test_host_key);
    RUN(test_sha256);
    RUN(test_journal);
    RUN(test_ordered_window);
    RUN(test_unordered);
    RUN(test_none_yet);
    RUN(test_callback_failure_stops_cleanly);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return harness_report();
}
