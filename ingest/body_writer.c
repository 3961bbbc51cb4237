/* Background file writing for downloaded bodies (see body_writer.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/body_writer.h"

#include "core/io.h"

#define SPARE_MAX 128
#define SPARE_BYTES_MAX ((size_t)8 << 20)

typedef struct item {
    struct item *next;
    ts_buf body;
    ts_download_result r; /* url points into `url` below; body unused */
    char *url;
    char path[];
} item;

struct ts_body_writer {
    pthread_mutex_t lock;
    pthread_cond_t has_work, has_room;
    item *head, *tail;
    size_t queued, cap;
    int closing;
    pthread_t *threads;
    int nthreads;
    ts_journal *journal;
    /* Written bodies' buffers, handed back on submit so that allocations
     * (and their page faults) are not repeated for every file. */
    ts_buf spare[SPARE_MAX];
    size_t nspare;
    ts_error first_err; /* code != TS_OK once anything failed */
};

static void *worker(void *arg) {
    ts_body_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->closing) pthread_cond_wait(&w->has_work, &w->lock);
        if (!w->head) break;
        item *it = w->head;
        w->head = it->next;
        if (!w->head) w->tail = NULL;
        w->queued--;
        pthread_cond_signal(&w->has_room);
        pthread_mutex_unlock(&w->lock);
        ts_error e = {0};
        ts_status st = ts_write_file_atomic(it->path, it->body.data, it->body.len, 0, &e);
        pthread_mutex_lock(&w->lock);
        if (st == TS_OK && w->journal) st = ts_journal_append(w->journal, &it->r, &e);
        if (st != TS_OK && w->first_err.code == TS_OK) w->first_err = e;
        if (w->nspare < SPARE_MAX && it->body.cap <= SPARE_BYTES_MAX) {
            ts_buf_reset(&it->body);
            w->spare[w->nspare++] = it->body;
        } else
            ts_buf_free(&it->body);
        free(it->url);
        free(it);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

ts_status ts_body_writer_open(ts_body_writer **out, int threads, size_t queue_cap, ts_journal *journal,
                              ts_error *err) {
    *out = NULL;
    ts_body_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->threads = calloc((size_t)threads, sizeof *w->threads))) {
        free(w);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->has_work, NULL);
    pthread_cond_init(&w->has_room, NULL);
    w->cap = queue_cap ? queue_cap : 64;
    w->journal = journal;
    for (; w->nthreads < threads; w->nthreads++)
        if (pthread_create(&w->threads[w->nthreads], NULL, worker, w) != 0) {
            ts_body_writer_close(w, NULL);
            return ts_fail(err, TS_ENOMEM, "cannot start writer threads");
        }
    *out = w;
    return TS_OK;
}

ts_status ts_body_writer_submit(ts_body_writer *w, const char *path, ts_buf *body,
                                const ts_download_result *r, ts_error *err) {
    size_t plen = strlen(path);
    item *it = calloc(1, sizeof *it + plen + 1);
    if (!it || !(it->url = strdup(r->url))) {
        free(it);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    memcpy(it->path, path, plen + 1);
    it->r = *r;
    it->r.url = it->url;
    it->r.final_url = it->r.content_type = it->r.message = NULL;
    it->r.body = NULL;
    it->body = *body;
    *body = (ts_buf)TS_BUF_INIT;
    pthread_mutex_lock(&w->lock);
    if (w->nspare) *body = w->spare[--w->nspare];
    while (w->queued >= w->cap && w->first_err.code == TS_OK) pthread_cond_wait(&w->has_room, &w->lock);
    ts_status st = w->first_err.code;
    if (st != TS_OK) {
        if (err) *err = w->first_err;
        pthread_mutex_unlock(&w->lock);
        ts_buf_free(&it->body);
        free(it->url);
        free(it);
        return st;
    }
    if (w->tail) w->tail->next = it;
    else w->head = it;
    w->tail = it;
    w->queued++;
    pthread_cond_signal(&w->has_work);
    pthread_mutex_unlock(&w->lock);
    return TS_OK;
}

ts_status ts_body_writer_journal(ts_body_writer *w, const ts_download_result *r, ts_error *err) {
    if (!w->journal) return TS_OK;
    pthread_mutex_lock(&w->lock);
    ts_status st = ts_journal_append(w->journal, r, err);
    pthread_mutex_unlock(&w->lock);
    return st;
}

ts_status ts_body_writer_close(ts_body_writer *w, ts_error *err) {
    if (!w) return TS_OK;
    pthread_mutex_lock(&w->lock);
    w->closing = 1;
    pthread_cond_broadcast(&w->has_work);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
    ts_status st = w->first_err.code;
    if (st != TS_OK && err) *err = w->first_err;
    pthread_cond_destroy(&w->has_work);
    pthread_cond_destroy(&w->has_room);
    pthread_mutex_destroy(&w->lock);
    for (size_t i = 0; i < w->nspare; i++) ts_buf_free(&w->spare[i]);
    free(w->threads);
    free(w);
    return st;
}
