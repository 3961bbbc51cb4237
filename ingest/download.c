/* The multi downloader: pulls items, runs up to max_concurrency transfers on
 * one libcurl multi handle (max_per_host per host), retries with backoff, and
 * delivers one completion per item, in input order when asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/download_internal.h"
#include "ingest/host_limits.h"
#include "tiler/decode.h"

#define POOL_MAX 256
#define POOL_BODY_MAX ((size_t)8 << 20)

typedef struct job {
    struct job *next; /* pending list */
    struct job *active_prev, *active_next; /* transfers in flight */
    uint64_t index, tag;
    char *url;
    char *sha256;
    int64_t expected_size;
    char host[256];
    int attempts;
    double t_start, due;
    CURL *easy;
    ts_host_entry *host_entry;
    ts_buf body;
    ts_dl_headers hdr;
    ts_outcome abort_outcome; /* set by a callback that stopped the transfer */
    const ts_download_options *o;
    /* the final state */
    int done;
    ts_outcome outcome;
    long status;
    int image_format;
    double seconds;
    uint64_t bytes;
    char *final_url;
    char content_type[128];
    char message[512];
    char errbuf[CURL_ERROR_SIZE];
} job;

typedef struct dl {
    const ts_download_options *o;
    CURLM *multi;
    CURLSH *share;
    ts_host_limits *hosts;
    job *pending_head, *pending_tail;
    size_t pending_n;
    int active_n;
    job *active_head;
    job **ring; /* ordered: slot index % window */
    size_t window;
    uint64_t next_index, deliver_next;
    ts_download_done_fn done;
    void *done_ctx;
    /* Recycled body buffers and easy handles: fresh ones cost page faults
     * and allocations on every transfer. */
    ts_buf bodies[POOL_MAX];
    size_t nbodies;
    CURL *easies[POOL_MAX];
    size_t neasies;
} dl;

static void give_body(dl *d, ts_buf *b) {
    if (b->data && d->nbodies < POOL_MAX && b->cap <= POOL_BODY_MAX) {
        ts_buf_reset(b);
        d->bodies[d->nbodies++] = *b;
        *b = (ts_buf)TS_BUF_INIT;
    }
    ts_buf_free(b);
}

static void give_easy(dl *d, CURL *easy) {
    /* No curl_easy_reset: start() sets every option again. */
    if (d->neasies < POOL_MAX) {
        d->easies[d->neasies++] = easy;
    } else
        curl_easy_cleanup(easy);
}

static void job_free(job *j) {
    if (!j) return;
    free(j->url);
    free(j->sha256);
    free(j->final_url);
    ts_buf_free(&j->body);
    free(j);
}

static void pending_push(dl *d, job *j) {
    j->next = NULL;
    if (d->pending_tail) d->pending_tail->next = j;
    else d->pending_head = j;
    d->pending_tail = j;
    d->pending_n++;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
    job *j = ud;
    size_t len = size * n;
    if (!ts_dl_headers_line(&j->hdr, j->o, line, len)) return len;
    long st = j->hdr.status;
    if (st >= 300 && st < 400) return len; /* a redirect hop: its headers do not count */
    if (st >= 200 && st < 300) {
        if (j->hdr.robots_forbid) {
            j->abort_outcome = TS_OUT_OPT_OUT;
            return 0;
        }
        if (j->hdr.content_length > 0 && (uint64_t)j->hdr.content_length > j->o->max_body_bytes) {
            j->abort_outcome = TS_OUT_TOO_LARGE;
            snprintf(j->message, sizeof j->message, "Content-Length %lld exceeds the %zu-byte limit",
                     (long long)j->hdr.content_length, j->o->max_body_bytes);
            return 0;
        }
        /* Room for the whole body at once. */
        if (j->hdr.content_length > 0 && (size_t)j->hdr.content_length > j->body.cap &&
            ts_buf_reserve(&j->body, (size_t)j->hdr.content_length - j->body.len, NULL) != TS_OK) {
            j->abort_outcome = TS_OUT_IO;
            snprintf(j->message, sizeof j->message, "out of memory holding the body");
            return 0;
        }
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    job *j = ud;
    size_t len = size * n;
    if (j->hdr.status >= 300) return len; /* error bodies are not kept */
    if (j->body.len + len > j->o->max_body_bytes) {
        j->abort_outcome = TS_OUT_TOO_LARGE;
        snprintf(j->message, sizeof j->message, "body passed the %zu-byte limit", j->o->max_body_bytes);
        return 0;
    }
    if (ts_buf_append(&j->body, data, len, NULL) != TS_OK) {
        j->abort_outcome = TS_OUT_IO;
        snprintf(j->message, sizeof j->message, "out of memory holding the body");
        return 0;
    }
    return len;
}

static ts_status deliver(dl *d, job *j, ts_error *err) {
    ts_download_result r = {
        .index = j->index,
        .tag = j->tag,
        .url = j->url,
        .final_url = j->final_url ? j->final_url : j->url,
        .http_status = j->status,
        .content_type = j->content_type[0] ? j->content_type : NULL,
        .outcome = j->outcome,
        .message = j->message,
        .attempts = j->attempts,
        .bytes = j->bytes,
        .seconds = j->seconds,
        .body = &j->body,
        .image_format = j->image_format,
    };
    return d->done(d->done_ctx, &r, err);
}

/* An item reached its outcome: deliver it now, or when its turn comes. */
static ts_status complete(dl *d, job *j, ts_error *err) {
    j->done = 1;
    j->seconds = (ts_dl_now_ms() - j->t_start) / 1e3;
    if (!d->o->ordered) {
        ts_status st = deliver(d, j, err);
        give_body(d, &j->body);
        job_free(j);
        return st;
    }
    while (d->deliver_next < d->next_index) {
        job **slot = &d->ring[d->deliver_next % d->window];
        if (!*slot || !(*slot)->done) break;
        ts_status st = deliver(d, *slot, err);
        give_body(d, &(*slot)->body);
        job_free(*slot);
        *slot = NULL;
        d->deliver_next++;
        if (st != TS_OK) return st;
    }
    return TS_OK;
}

/* The checks on a body that arrived whole: expected size/sha256, magic
 * bytes, the caller's hook. */
static ts_outcome check_body(dl *d, job *j) {
    if (j->expected_size >= 0 && (int64_t)j->body.len != j->expected_size) {
        snprintf(j->message, sizeof j->message, "size %zu, expected %lld", j->body.len,
                 (long long)j->expected_size);
        return TS_OUT_CHECKSUM;
    }
    if (j->sha256) {
        char hex[65];
        if (ts_sha256_hex(j->body.data, j->body.len, hex, NULL) != TS_OK || strcasecmp(hex, j->sha256)) {
            snprintf(j->message, sizeof j->message, "sha256 %s, expected %s", hex, j->sha256);
            return TS_OUT_CHECKSUM;
        }
    }
    j->image_format = ts_sniff_format(j->body.data, j->body.len);
    if (d->o->expect_image && j->image_format == TS_FMT_UNKNOWN) {
        snprintf(j->message, sizeof j->message, "%zu bytes of %s are no known image format", j->body.len,
                 j->content_type[0] ? j->content_type : "unknown type");
        return TS_OUT_NOT_IMAGE;
    }
    if (d->o->validate) {
        ts_download_result r = {
            .index = j->index, .tag = j->tag, .url = j->url,
            .final_url = j->final_url ? j->final_url : j->url, .http_status = j->status,
            .content_type = j->content_type[0] ? j->content_type : NULL, .outcome = TS_OUT_OK,
            .message = "", .attempts = j->attempts, .bytes = j->body.len,
            .body = &j->body, .image_format = j->image_format,
        };
        return d->o->validate(d->o->validate_ctx, &r, j->message, sizeof j->message);
    }
    return TS_OUT_OK;
}

/* Take a transfer off the multi handle and the active list. */
static void detach(dl *d, job *j) {
    curl_multi_remove_handle(d->multi, j->easy);
    give_easy(d, j->easy);
    j->easy = NULL;
    ts_host_limits_release(d->hosts, j->host_entry);
    j->host_entry = NULL;
    if (j->active_prev) j->active_prev->active_next = j->active_next;
    else d->active_head = j->active_next;
    if (j->active_next) j->active_next->active_prev = j->active_prev;
    j->active_prev = j->active_next = NULL;
    d->active_n--;
}

static ts_status start(dl *d, job *j, ts_error *err) {
    j->attempts++;
    ts_buf_reset(&j->body);
    ts_dl_headers_reset(&j->hdr);
    j->abort_outcome = TS_OUT_OK;
    j->message[0] = 0;
    double elapsed = ts_dl_now_ms() - j->t_start;
    long timeout = d->o->attempt_timeout_ms;
    if ((double)d->o->url_deadline_ms - elapsed < (double)timeout)
        timeout = (long)((double)d->o->url_deadline_ms - elapsed);
    j->easy = d->neasies ? d->easies[--d->neasies] : ts_dl_new_easy();
    if (!j->body.data && d->nbodies) j->body = d->bodies[--d->nbodies];
    ts_error e = {0};
    if (!j->easy || ts_dl_setup_easy(j->easy, d->o, j->url, timeout, j->errbuf, &e) != TS_OK ||
        curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j) != CURLE_OK ||
        curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j) != CURLE_OK ||
        curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j) != CURLE_OK ||
        curl_easy_setopt(j->easy, CURLOPT_SHARE, d->share) != CURLE_OK) {
        if (j->easy) curl_easy_cleanup(j->easy);
        j->easy = NULL;
        j->outcome = TS_OUT_OTHER;
        snprintf(j->message, sizeof j->message, "cannot set up the transfer: %.400s",
                 e.msg[0] ? e.msg : "libcurl init failed");
        return complete(d, j, err);
    }
    j->host_entry = ts_host_limits_acquire(d->hosts, j->host);
    if (!j->host_entry || curl_multi_add_handle(d->multi, j->easy) != CURLM_OK) {
        if (j->host_entry) ts_host_limits_release(d->hosts, j->host_entry);
        j->host_entry = NULL;
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
        j->outcome = TS_OUT_OTHER;
        snprintf(j->message, sizeof j->message, "cannot add the transfer (out of memory)");
        return complete(d, j, err);
    }
    j->active_prev = NULL;
    j->active_next = d->active_head;
    if (d->active_head) d->active_head->active_prev = j;
    d->active_head = j;
    d->active_n++;
    return TS_OK;
}

/* A transfer ended: decide the outcome, requeue for a retry or complete. */
static ts_status finished(dl *d, job *j, CURLcode rc, ts_error *err) {
    long status = 0;
    char *eff = NULL;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(j->easy, CURLINFO_EFFECTIVE_URL, &eff);
    free(j->final_url);
    j->final_url = eff ? strdup(eff) : NULL;
    detach(d, j);
    j->status = status;
    snprintf(j->content_type, sizeof j->content_type, "%s", j->hdr.content_type);

    ts_outcome out;
    if (j->abort_outcome != TS_OUT_OK) {
        out = j->abort_outcome;
        if (out == TS_OUT_OPT_OUT) snprintf(j->message, sizeof j->message, "X-Robots-Tag forbids AI use");
    } else {
        out = ts_outcome_classify(rc, status);
        if (out == TS_OUT_BAD_URL && j->hdr.saw_redirect) out = TS_OUT_REDIRECT;
        if (rc != CURLE_OK)
            snprintf(j->message, sizeof j->message, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
        else if (out != TS_OUT_OK)
            snprintf(j->message, sizeof j->message, "HTTP %ld", status);
        else if (j->hdr.robots_forbid) {
            out = TS_OUT_OPT_OUT;
            snprintf(j->message, sizeof j->message, "X-Robots-Tag forbids AI use");
        } else
            out = check_body(d, j);
    }
    char why[160];
    long delay = ts_dl_retry_delay(d->o, j->url, out, j->attempts + 1, j->hdr.retry_after_ms,
                                   ts_dl_now_ms() - j->t_start, why, sizeof why);
    if (delay >= 0) {
        j->due = ts_dl_now_ms() + (double)delay;
        pending_push(d, j);
        return TS_OK;
    }
    if (why[0]) {
        size_t n = strlen(j->message);
        snprintf(j->message + n, sizeof j->message - n, "%s%s", n ? "; " : "", why);
    }
    j->outcome = out;
    j->bytes = j->body.len;
    if (out != TS_OUT_OK) give_body(d, &j->body);
    return complete(d, j, err);
}

/* Pull items while the queue and the reorder window have room; *starved
 * when the caller had none ready yet. */
static ts_status pull(dl *d, ts_download_next_fn next, void *ctx, int *eof, int *starved, ts_error *err) {
    size_t qcap = d->o->queue_capacity ? d->o->queue_capacity : 4 * (size_t)d->o->max_concurrency;
    *starved = 0;
    while (!*eof && d->pending_n < qcap && (!d->o->ordered || d->next_index - d->deliver_next < d->window)) {
        ts_download_item it = {0};
        it.expected_size = -1;
        ts_error e = {0};
        int got = next(ctx, &it, &e);
        if (got == TS_DOWNLOAD_NONE_YET) {
            *starved = 1;
            break;
        }
        if (!got) {
            if (e.code != TS_OK) {
                if (err) *err = e;
                return e.code;
            }
            *eof = 1;
            break;
        }
        job *j = calloc(1, sizeof *j);
        if (!j || !(j->url = strdup(it.url ? it.url : "")) || (it.sha256_hex && !(j->sha256 = strdup(it.sha256_hex)))) {
            job_free(j);
            return ts_fail(err, TS_ENOMEM, "out of memory queueing %s", it.url ? it.url : "");
        }
        j->o = d->o;
        j->index = d->next_index++;
        j->tag = it.tag;
        j->expected_size = it.expected_size;
        j->t_start = j->due = ts_dl_now_ms();
        ts_host_key(j->url, j->host, sizeof j->host);
        if (d->o->ordered) d->ring[j->index % d->window] = j;
        pending_push(d, j);
    }
    return TS_OK;
}

/* Start due items whose host has room; returns ms until the next due item. */
static ts_status start_due(dl *d, long *wait_ms, ts_error *err) {
    double now = ts_dl_now_ms(), next_due = now + 1000;
    job **pp = &d->pending_head, *prev = NULL;
    while (*pp && d->active_n < d->o->max_concurrency) {
        job *j = *pp;
        if (j->due > now) {
            if (j->due < next_due) next_due = j->due;
        } else if (ts_host_limits_active(d->hosts, j->host) < d->o->max_per_host) {
            *pp = j->next;
            if (d->pending_tail == j) d->pending_tail = prev;
            d->pending_n--;
            j->next = NULL;
            ts_status st = start(d, j, err); /* on failure the job is already completed */
            if (st != TS_OK) return st;
            continue;
        }
        prev = j;
        pp = &j->next;
    }
    *wait_ms = next_due > now ? (long)(next_due - now) + 1 : 0;
    return TS_OK;
}

static void dl_cleanup(dl *d) {
    /* Only after a failure are transfers still in flight or queued. The ring
     * owns every undelivered job in ordered mode; otherwise the two lists do. */
    while (d->active_head) {
        job *j = d->active_head;
        detach(d, j);
        if (!d->o->ordered) job_free(j);
    }
    for (job *j = d->pending_head, *n; j; j = n) {
        n = j->next;
        if (!d->o->ordered) job_free(j);
    }
    if (d->ring)
        for (size_t i = 0; i < d->window; i++) job_free(d->ring[i]);
    free(d->ring);
    if (d->multi) curl_multi_cleanup(d->multi);
    for (size_t i = 0; i < d->nbodies; i++) ts_buf_free(&d->bodies[i]);
    for (size_t i = 0; i < d->neasies; i++) curl_easy_cleanup(d->easies[i]);
    if (d->share) curl_share_cleanup(d->share);
    ts_host_limits_free(d->hosts);
}

ts_status ts_download_run(const ts_download_options *opts, ts_download_next_fn next, void *next_ctx,
                          ts_download_done_fn done, void *done_ctx, ts_error *err) {
    if (opts->max_concurrency < 1 || opts->max_per_host < 1 || opts->max_attempts < 1)
        return ts_fail(err, TS_EINVAL, "download: concurrency, per-host limit and attempts must be >= 1");
    ts_dl_global_init();
    dl d = {.o = opts, .done = done, .done_ctx = done_ctx};
    d.window = opts->window ? opts->window : 4 * (size_t)opts->max_concurrency;
    d.multi = curl_multi_init();
    d.share = curl_share_init();
    d.hosts = ts_host_limits_new();
    if (opts->ordered) d.ring = calloc(d.window, sizeof *d.ring);
    ts_status st = TS_OK;
    if (!d.multi || !d.share || !d.hosts || (opts->ordered && !d.ring)) {
        st = ts_fail(err, TS_ENOMEM, "download: cannot allocate the transfer state");
        goto out;
    }
    /* One DNS and TLS session cache for every transfer of the run (the multi
     * handle already pools connections). */
    curl_share_setopt(d.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(d.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, (long)opts->max_concurrency * 2);
    int eof = 0, starved = 0;
    for (;;) {
        if ((st = pull(&d, next, next_ctx, &eof, &starved, err)) != TS_OK) goto out;
        long wait_ms = 0;
        if ((st = start_due(&d, &wait_ms, err)) != TS_OK) goto out;
        if (eof && d.active_n == 0 && d.pending_n == 0) break;
        int running = 0;
        if (curl_multi_perform(d.multi, &running) != CURLM_OK) {
            st = ts_fail(err, TS_ENET, "download: curl_multi_perform failed");
            goto out;
        }
        CURLMsg *m;
        int left;
        int finished_any = 0;
        while ((m = curl_multi_info_read(d.multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode rc = m->data.result;
            if ((st = finished(&d, j, rc, err)) != TS_OK) goto out;
            finished_any = 1;
        }
        if (finished_any) continue; /* refill and start before waiting */
        /* Wakes on socket activity and curl's own timers; wait_ms covers
         * retries that come due, and a starved caller is asked again soon. */
        if (starved && wait_ms > TS_DOWNLOAD_NONE_YET_MS) wait_ms = TS_DOWNLOAD_NONE_YET_MS;
        curl_multi_poll(d.multi, NULL, 0, (int)(wait_ms > 1000 ? 1000 : wait_ms), NULL);
    }
out:
    dl_cleanup(&d);
    return st;
}
