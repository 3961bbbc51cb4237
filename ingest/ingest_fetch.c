/* The ingest pipeline's downloader: one ts_download_run for the whole run,
 * on a thread of its own, fed the URLs of the submitted batches in order.
 * Its connections and its window of transfers in flight carry over from one
 * batch to the next, so a batch's slowest URL no longer stalls the next
 * batch's downloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"

#define FETCH_QUEUE 8 /* batches submitted and not yet waited for */

typedef struct queued {
    ts_ingest_batch *b;
    uint64_t first;      /* the run's index of the batch's first URL */
    size_t handed, done; /* URLs handed to the run / with their outcome */
} queued;

struct ts_ingest_fetcher {
    ts_download_options o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    queued q[FETCH_QUEUE]; /* in submission order from head */
    size_t head, n;
    uint64_t next_index;   /* the run's index of the next URL handed out */
    int stop, ended;
    ts_status status;      /* the run's, once ended */
    ts_error err;
};

static queued *at(ts_ingest_fetcher *f, size_t i) { return &f->q[(f->head + i) % FETCH_QUEUE]; }

static int next_url(void *ctx, ts_download_item *item, ts_error *err) {
    (void)err;
    ts_ingest_fetcher *f = ctx;
    int got = TS_DOWNLOAD_NONE_YET;
    pthread_mutex_lock(&f->mu);
    if (f->stop) got = 0;
    for (size_t i = 0; got == TS_DOWNLOAD_NONE_YET && i < f->n; i++) {
        queued *e = at(f, i);
        if (e->handed == e->b->n_urls) continue;
        if (!e->handed) e->first = f->next_index;
        item->url = e->b->urls[e->handed].url;
        item->tag = e->handed++;
        f->next_index++;
        got = 1;
    }
    pthread_mutex_unlock(&f->mu);
    return got;
}

static ts_status url_done(void *ctx, const ts_download_result *r, ts_error *err) {
    ts_ingest_fetcher *f = ctx;
    pthread_mutex_lock(&f->mu);
    queued *e = NULL;
    for (size_t i = 0; i < f->n && !e; i++) {
        queued *c = at(f, i);
        if (c->handed && r->index >= c->first && r->index < c->first + c->handed) e = c;
    }
    pthread_mutex_unlock(&f->mu);
    if (!e) return ts_fail(err, TS_EINVAL, "download: a result for no submitted batch (%s)", r->url);
    /* Only this thread writes the batch's URL slots until the batch is
     * complete; the driver reads them after _wait. */
    ts_ingest_url *u = &e->b->urls[r->tag];
    u->outcome = r->outcome;
    u->http_status = r->http_status;
    u->attempts = r->attempts;
    u->bytes = r->bytes;
    snprintf(u->message, sizeof u->message, "%s", r->message ? r->message : "");
    if (r->outcome == TS_OUT_OK) {
        /* Take the body without a copy: swap in this slot's spare buffer. */
        ts_buf spare = u->body;
        u->body = *r->body;
        *r->body = spare;
    }
    pthread_mutex_lock(&f->mu);
    e->done++;
    if (e->done == e->b->n_urls) pthread_cond_broadcast(&f->cv);
    int stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    /* After a failure elsewhere the driver is waiting to free the batches. */
    return stop ? ts_fail(err, TS_EINVAL, "download stopped") : TS_OK;
}

static void *fetch_main(void *arg) {
    ts_ingest_fetcher *f = arg;
    ts_error e = {0};
    ts_status st = ts_download_run(&f->o, next_url, f, url_done, f, &e);
    pthread_mutex_lock(&f->mu);
    f->status = st;
    f->err = e;
    f->ended = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

ts_status ts_ingest_fetcher_start(ts_ingest_fetcher **out, const ts_download_options *o, ts_error *err) {
    ts_ingest_fetcher *f = calloc(1, sizeof *f);
    if (!f) return ts_fail(err, TS_ENOMEM, "out of memory");
    f->o = *o;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, fetch_main, f)) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
        return ts_fail(err, TS_EIO, "cannot start the download thread");
    }
    *out = f;
    return TS_OK;
}

ts_status ts_ingest_fetcher_submit(ts_ingest_fetcher *f, ts_ingest_batch *b, ts_error *err) {
    pthread_mutex_lock(&f->mu);
    ts_status st = TS_OK;
    if (f->n == FETCH_QUEUE) {
        st = ts_fail(err, TS_EINVAL, "download: more than %d batches submitted", FETCH_QUEUE);
    } else {
        *at(f, f->n++) = (queued){.b = b};
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

ts_status ts_ingest_fetcher_wait(ts_ingest_fetcher *f, ts_ingest_batch *b, ts_error *err) {
    pthread_mutex_lock(&f->mu);
    ts_status st = TS_OK;
    if (!f->n || at(f, 0)->b != b) {
        st = ts_fail(err, TS_EINVAL, "download: batches must be waited for in submission order");
    } else {
        queued *e = at(f, 0);
        while (!f->ended && e->done < b->n_urls) pthread_cond_wait(&f->cv, &f->mu);
        if (e->done < b->n_urls) {
            st = f->status;
            if (st) *err = f->err;
            else st = ts_fail(err, TS_EINVAL, "download: the run ended before the batch's URLs");
        } else {
            f->head = (f->head + 1) % FETCH_QUEUE;
            f->n--;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

ts_status ts_ingest_fetcher_stop(ts_ingest_fetcher *f, ts_error *err) {
    if (!f) return TS_OK;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    ts_status st = f->n ? TS_OK : f->status;
    if (st && err) *err = f->err;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
    return st;
}
