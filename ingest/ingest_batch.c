/* Batches of records and the threads that run pipeline stages on them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"

void ts_ingest_batch_reset(ts_ingest_batch *b) {
    /* Samples and bodies are freed, not kept for reuse: a slot that kept
     * its buffers would grow to the largest image it ever held, and the
     * batches' memory with it. */
    for (size_t i = 0; i < b->n; i++) {
        ts_ingest_rec *r = &b->recs[i];
        ts_sample_free(&r->s);
        ts_sample_init(&r->s);
        ts_buf_reset(&r->message);
        ts_buf_reset(&r->location);
        r->reason = NULL;
        r->retry = 0;
    }
    for (size_t i = 0; i < b->n_urls; i++) {
        free(b->urls[i].url);
        b->urls[i].url = NULL;
        ts_buf_free(&b->urls[i].body);
    }
    b->n = b->n_urls = b->n_checks = 0;
    b->carried_bytes = 0;
}

void ts_ingest_batch_free(ts_ingest_batch *b) {
    ts_ingest_batch_reset(b);
    for (size_t i = 0; i < b->cap; i++) {
        ts_sample_free(&b->recs[i].s);
        ts_buf_free(&b->recs[i].message);
        ts_buf_free(&b->recs[i].location);
    }
    for (size_t i = 0; i < b->cap_urls; i++) ts_buf_free(&b->urls[i].body);
    free(b->recs);
    free(b->urls);
    free(b->checks);
    memset(b, 0, sizeof *b);
}

void ts_ingest_rec_drop(ts_ingest_rec *r, const char *reason, const char *fmt, ...) {
    if (r->reason) return;
    snprintf(r->reason_buf, sizeof r->reason_buf, "%s", reason);
    r->reason = r->reason_buf;
    char msg[TS_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ts_buf_reset(&r->message);
    if (ts_buf_append(&r->message, msg, strlen(msg) + 1, NULL)) ts_buf_reset(&r->message);
}

static ts_status copy_sample(ts_sample *d, const ts_sample *s, ts_error *err) {
    ts_status st = TS_OK;
    const ts_buf *from[] = {&s->key, &s->source, &s->text, &s->url, &s->row, &s->license};
    ts_buf *to[] = {&d->key, &d->source, &d->text, &d->url, &d->row, &d->license};
    for (size_t i = 0; i < 6 && !st; i++)
        if (from[i]->len) st = ts_sample_set(to[i], (const char *)from[i]->data, from[i]->len, err);
    d->stage = s->stage;
    d->task = s->task;
    for (size_t i = 0; i < s->n_images && !st; i++) {
        const ts_sample_image *im = &s->images[i];
        st = ts_sample_add_image_known(d, im->format, im->width, im->height, im->xxh3, im->bytes.data,
                                       im->bytes.len, err);
    }
    for (size_t i = 0; i < s->n_turns && !st; i++)
        st = ts_sample_add_turn(d, s->turns[i].role, (const char *)s->turns[i].content.data,
                                s->turns[i].content.len, err);
    for (size_t i = 0; i < s->n_answers && !st; i++)
        st = ts_sample_add_answer(d, (const char *)s->answers[i].text.data, s->answers[i].text.len,
                                  s->answers[i].weight, err);
    return st;
}

static ts_status grow(void **p, size_t *cap, size_t need, size_t size, ts_error *err) {
    if (need <= *cap) return TS_OK;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) cap2 *= 2;
    void *q = realloc(*p, cap2 * size);
    if (!q) return ts_fail(err, TS_ENOMEM, "out of memory");
    memset((char *)q + *cap * size, 0, (cap2 - *cap) * size);
    *p = q;
    *cap = cap2;
    return TS_OK;
}

ts_status ts_ingest_batch_add(ts_ingest_batch *b, const ts_source_record *r, ts_ingest_rec **out,
                              ts_error *err) {
    ts_status st = grow((void **)&b->recs, &b->cap, b->n + 1, sizeof *b->recs, err);
    if (!st) st = grow((void **)&b->urls, &b->cap_urls, b->n_urls + r->n_image_urls, sizeof *b->urls, err);
    if (st) return st;
    ts_ingest_rec *rec = &b->recs[b->n++];
    rec->ordinal = r->ordinal;
    rec->reason = NULL;
    rec->retry = 0;
    rec->url0 = b->n_urls;
    rec->n_urls = 0;
    const char *loc = r->location ? r->location : "";
    if ((st = ts_buf_append(&rec->location, loc, strlen(loc) + 1, err))) return st;
    *out = rec;
    if (r->drop_reason) {
        ts_ingest_rec_drop(rec, r->drop_reason, "%s", r->message ? r->message : "");
        return TS_OK;
    }
    if ((st = copy_sample(&rec->s, &r->sample, err))) return st;
    for (size_t i = 0; i < rec->s.n_images; i++) b->carried_bytes += rec->s.images[i].bytes.len;
    for (size_t i = 0; i < r->n_image_urls; i++) {
        ts_ingest_url *u = &b->urls[b->n_urls];
        if (!(u->url = strdup(r->image_urls[i]))) return ts_fail(err, TS_ENOMEM, "out of memory");
        u->record = b->n - 1;
        u->outcome = TS_OUT_OTHER;
        u->message[0] = 0;
        b->n_urls++;
        rec->n_urls++;
    }
    return TS_OK;
}

/* ---- the stage threads ---- */

struct ts_ingest_stage {
    ts_ingest_stage_fn fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ts_ingest_batch *job; /* submitted, not yet done */
    int busy, stop;
    ts_status status;
    ts_error err;
};

static void *stage_main(void *arg) {
    ts_ingest_stage *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && !(f->job && f->busy)) pthread_cond_wait(&f->cv, &f->mu);
        if (f->stop) break;
        pthread_mutex_unlock(&f->mu);
        ts_error e = {0};
        ts_status st = f->fn(f->ctx, f->job, &e);
        pthread_mutex_lock(&f->mu);
        f->status = st;
        f->err = e;
        f->busy = 0;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

ts_status ts_ingest_stage_start(ts_ingest_stage **out, ts_ingest_stage_fn fn, void *ctx, ts_error *err) {
    ts_ingest_stage *f = calloc(1, sizeof *f);
    if (!f) return ts_fail(err, TS_ENOMEM, "out of memory");
    f->fn = fn;
    f->ctx = ctx;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, stage_main, f)) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
        return ts_fail(err, TS_EIO, "cannot start an ingest thread");
    }
    *out = f;
    return TS_OK;
}

void ts_ingest_stage_submit(ts_ingest_stage *f, ts_ingest_batch *b) {
    pthread_mutex_lock(&f->mu);
    f->job = b;
    f->busy = 1;
    f->status = TS_OK;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

ts_status ts_ingest_stage_wait(ts_ingest_stage *f, ts_error *err) {
    if (!f) return TS_OK;
    pthread_mutex_lock(&f->mu);
    while (f->busy) pthread_cond_wait(&f->cv, &f->mu);
    ts_status st = f->status;
    if (st && err) *err = f->err;
    f->status = TS_OK;
    f->job = NULL;
    pthread_mutex_unlock(&f->mu);
    return st;
}

void ts_ingest_stage_stop(ts_ingest_stage *f) {
    if (!f) return;
    pthread_mutex_lock(&f->mu);
    while (f->busy) pthread_cond_wait(&f->cv, &f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
