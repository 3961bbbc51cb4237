/* Pieces of the ingest pipeline shared between its files. */
#ifndef TS_INGEST_INGEST_INTERNAL_H
#define TS_INGEST_INGEST_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "core/pool.h"
#include "ingest/ingest.h"

/* ---- a batch of records (ingest_batch.c) ---- */

typedef struct ts_ingest_url {
    char *url;
    size_t record;      /* index of its record in the batch */
    ts_outcome outcome;
    char message[256];
    long http_status;
    int attempts;
    uint64_t bytes;
    ts_buf body;        /* on ok */
} ts_ingest_url;

typedef struct ts_ingest_rec {
    uint64_t ordinal;
    int retry;               /* an earlier pass dropped it with a retryable outcome */
    ts_outcome old_outcome;  /* ... this one */
    const char *reason;      /* NULL while kept */
    char reason_buf[48];
    ts_buf message;          /* why it was dropped */
    ts_buf location;
    ts_sample s;
    size_t url0, n_urls;     /* its URLs in the batch's url array */
} ts_ingest_rec;

/* One image to decode-check: a carried image of a record or a downloaded body. */
typedef struct ts_ingest_check {
    size_t record;
    const uint8_t *data;
    size_t len;
    ts_ingest_image_check mode;
    ts_status status;
    char message[200];
} ts_ingest_check;

typedef struct ts_ingest_batch {
    ts_ingest_rec *recs;
    size_t n, cap;
    ts_ingest_url *urls;
    size_t n_urls, cap_urls;
    ts_ingest_check *checks;
    size_t n_checks, cap_checks;
    uint64_t carried_bytes;
} ts_ingest_batch;

void ts_ingest_batch_reset(ts_ingest_batch *b);
void ts_ingest_batch_free(ts_ingest_batch *b);
/* Append a copy of a source record (mapped or dropped); it owns its copy. */
ts_status ts_ingest_batch_add(ts_ingest_batch *b, const ts_source_record *r, ts_ingest_rec **out,
                              ts_error *err);
/* Mark a record dropped (the first reason sticks). */
void ts_ingest_rec_drop(ts_ingest_rec *r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A pipeline stage on a thread of its own: it runs fn(ctx, batch) on one
 * submitted batch at a time (the decode check). */
typedef ts_status (*ts_ingest_stage_fn)(void *ctx, ts_ingest_batch *b, ts_error *err);
typedef struct ts_ingest_stage ts_ingest_stage;
ts_status ts_ingest_stage_start(ts_ingest_stage **out, ts_ingest_stage_fn fn, void *ctx, ts_error *err);
/* Start fn on b; b must not be touched until _wait returns. */
void ts_ingest_stage_submit(ts_ingest_stage *s, ts_ingest_batch *b);
/* Wait for the submitted batch (at once when none); fn's error comes back here. */
ts_status ts_ingest_stage_wait(ts_ingest_stage *s, ts_error *err);
/* Waits for the batch in progress, then ends the thread. NULL is fine. */
void ts_ingest_stage_stop(ts_ingest_stage *s);

/* ---- the downloader (ingest_fetch.c) ---- */

/* One ts_download_run for the whole ingest run, on its own thread, fed the
 * URLs of the submitted batches in submission order: the connections and
 * the transfers in flight carry over from batch to batch. */
typedef struct ts_ingest_fetcher ts_ingest_fetcher;
ts_status ts_ingest_fetcher_start(ts_ingest_fetcher **out, const ts_download_options *o, ts_error *err);
/* Queue b's URLs after those of the batches submitted before it (at most 8
 * outstanding); b must not be touched until _wait(b) returns. */
ts_status ts_ingest_fetcher_submit(ts_ingest_fetcher *f, ts_ingest_batch *b, ts_error *err);
/* Wait until every URL of b, the oldest outstanding batch, has its outcome
 * in b->urls; a failure of the download run comes back here. */
ts_status ts_ingest_fetcher_wait(ts_ingest_fetcher *f, ts_ingest_batch *b, ts_error *err);
/* End the run and the thread: with batches still outstanding (after a
 * failure elsewhere) the run stops at its next completion and their URL
 * slots are left as they are. Returns the run's error. NULL is fine. */
ts_status ts_ingest_fetcher_stop(ts_ingest_fetcher *f, ts_error *err);

/* ---- checks (ingest_check.c) ---- */

/* The check stage's context. */
typedef struct ts_ingest_checker {
    ts_pool *pool;
    ts_ingest_image_check mode;
} ts_ingest_checker;

/* Stage function (ctx: a ts_ingest_checker): check every image of the
 * batch's kept records on the pool and drop the records with a failed image
 * ("decode"); downloaded bodies are then added to their samples. */
ts_status ts_ingest_check_batch(void *pool, ts_ingest_batch *b, ts_error *err);

/* ---- persisted state (ingest_state.c) ---- */

typedef struct ts_ingest_checkpoint {
    uint64_t pass;          /* 1.. */
    uint64_t scan_next;     /* records below it are settled for this pass */
    uint64_t pass_frontier; /* records below it were settled by an earlier pass */
    uint64_t frontier;      /* records below it were settled by some pass */
    int finished;           /* the pass ran to its end */
    uint64_t shards, written;
    uint64_t drop_log_bytes;
    char source_hash[33];
    char type[16];
    char prefix[48];
    uint64_t shard_bytes;
    unsigned val_every, test_every;
    char dedup_file[64];    /* in DIR/state; "" none */
    /* dropped records by reason */
    char (*reasons)[48];
    uint64_t *counts;
    size_t n_reasons;
} ts_ingest_checkpoint;

void ts_ingest_checkpoint_free(ts_ingest_checkpoint *c);
/* TS_ENOTFOUND when DIR has none. */
ts_status ts_ingest_checkpoint_load(const char *path, ts_ingest_checkpoint *c, ts_error *err);
ts_status ts_ingest_checkpoint_save(const char *path, const ts_ingest_checkpoint *c,
                                    const ts_energon_writer *w, ts_error *err);

/* Records an earlier pass dropped with a retryable outcome, from the drop
 * log (the last line for an ordinal wins), sorted by ordinal. */
typedef struct ts_ingest_retry_set {
    uint64_t *ordinals;
    ts_outcome *outcomes;
    size_t n, cap;
} ts_ingest_retry_set;
ts_status ts_ingest_retry_set_load(const char *drop_log, uint64_t below, ts_ingest_retry_set *s,
                                   ts_error *err);
/* 1 and *outcome when `ordinal` is in the set. */
int ts_ingest_retry_set_find(const ts_ingest_retry_set *s, uint64_t ordinal, ts_outcome *outcome);
/* The smallest ordinal in the set that is >= from; UINT64_MAX when none. */
uint64_t ts_ingest_retry_set_next(const ts_ingest_retry_set *s, uint64_t from);
void ts_ingest_retry_set_free(ts_ingest_retry_set *s);

/* The drop log: one JSON line per drop (and per record a retry kept). */
ts_status ts_ingest_drop_log_open(FILE **out, const char *path, uint64_t truncate_to, ts_error *err);
ts_status ts_ingest_drop_log_write(FILE *f, const ts_ingest_rec *r, const ts_ingest_batch *b,
                                   uint64_t pass, ts_error *err);
/* Flush and fsync; *bytes receives the log's length. */
ts_status ts_ingest_drop_log_sync(FILE *f, uint64_t *bytes, ts_error *err);

#endif
