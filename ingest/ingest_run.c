/* The ingest pipeline's driver: state restore, the batch loop (read; download
 * on one thread, decode-check on another, write on this one, up to four
 * batches in flight), per-record settlement, checkpoints and the final summary. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "ingest/ingest_internal.h"

#define BATCH_MAX_RECORDS 4096
#define BATCH_MAX_CARRIED_BYTES ((uint64_t)256 << 20)

void ts_ingest_options_default(ts_ingest_options *o) {
    memset(o, 0, sizeof *o);
    ts_download_options_default(&o->download);
    ts_dedup_options_default(&o->dedup);
    o->shard_bytes = TS_ENERGON_DEFAULT_SHARD_BYTES;
    o->prefix = "shard";
    o->progress = 1;
}

typedef struct run {
    const ts_ingest_options *o;
    const char *dir;
    char ckpt_path[4200], drop_path[4200], state_dir[4096];
    ts_source_reader *reader;
    uint64_t next_ordinal; /* of the next raw record the reader yields */
    int eof;
    ts_energon_writer *w;
    ts_dedup *dedup;
    ts_journal *journal;
    FILE *drops;
    ts_pool *pool;
    ts_ingest_checker checker;
    ts_download_options download; /* the fetch stage's */
    ts_ingest_fetcher *fetch;
    ts_ingest_stage *check;
    ts_ingest_checkpoint ck;
    ts_ingest_retry_set retry;
    ts_progress *progress;
    ts_ingest_stats *stats;
    ts_buf text;
    int lock_fd;
    int fresh; /* no checkpoint existed: this run starts the dataset */
} run;

static ts_status checkpoint(run *r, uint64_t scan_next, ts_error *err) {
    char old[64], path[4200];
    snprintf(old, sizeof old, "%s", r->ck.dedup_file);
    ts_energon_counts c;
    ts_energon_get_counts(r->w, &c);
    snprintf(r->ck.dedup_file, sizeof r->ck.dedup_file, "dedup-%06llu%s.idx", (unsigned long long)c.shards,
             r->ck.finished ? "-final" : "");
    snprintf(path, sizeof path, "%s/%s", r->state_dir, r->ck.dedup_file);
    ts_status st = ts_dedup_save(r->dedup, path, err);
    if (!st) st = ts_ingest_drop_log_sync(r->drops, &r->ck.drop_log_bytes, err);
    if (!st) st = ts_journal_sync(r->journal, err);
    if (st) return st;
    r->ck.scan_next = scan_next;
    r->ck.shards = c.shards;
    r->ck.written = c.written;
    if ((st = ts_ingest_checkpoint_save(r->ckpt_path, &r->ck, r->w, err))) return st;
    /* The previous index is no longer referenced once the new checkpoint is in place. */
    if (old[0] && strcmp(old, r->ck.dedup_file)) {
        snprintf(path, sizeof path, "%s/%s", r->state_dir, old);
        unlink(path);
    }
    return TS_OK;
}

static ts_status journal_urls(run *r, const ts_ingest_rec *rec, const ts_ingest_batch *b, ts_error *err) {
    for (size_t i = 0; i < rec->n_urls; i++) {
        const ts_ingest_url *u = &b->urls[rec->url0 + i];
        ts_download_result res = {0};
        res.url = res.final_url = u->url;
        res.outcome = u->outcome;
        res.http_status = u->http_status;
        res.attempts = u->attempts;
        res.bytes = u->bytes;
        res.message = u->message;
        ts_status st = ts_journal_append(r->journal, &res, err);
        if (st) return st;
        r->stats->urls++;
        if (u->outcome == TS_OUT_OK) {
            r->stats->urls_ok++;
            r->stats->url_bytes += u->bytes;
        }
    }
    return TS_OK;
}

/* Dedup: every image joins the image index. A captioning or OCR record
 * whose images all were seen before is dup_image; then the record's text key
 * (ts_ingest_text_key: for VQA and multi-turn records it holds the image
 * hashes, so only the same images with the same turns are a duplicate). */
static ts_status dedup_record(run *r, ts_ingest_rec *rec, ts_error *err) {
    ts_status st = TS_OK;
    int by_image = rec->s.task == TS_TASK_CAPTION || rec->s.task == TS_TASK_OCR;
    if (rec->s.n_images) {
        size_t dups = 0;
        for (size_t i = 0; i < rec->s.n_images && !st; i++) {
            ts_dedup_verdict v;
            st = ts_dedup_image_key(r->dedup, rec->s.images[i].xxh3, &v, err); /* hashed as it joined the sample */
            dups += v == TS_DEDUP_DUPLICATE;
        }
        if (st) return st;
        if (by_image && dups == rec->s.n_images) {
            ts_ingest_rec_drop(rec, ts_dedup_reason(TS_DEDUP_IMAGE), "every image of the record was seen before");
            return TS_OK;
        }
    }
    int has_text;
    if ((st = ts_ingest_text_key(&rec->s, &r->text, &has_text, err)) || !has_text) return st;
    ts_dedup_verdict v;
    if ((st = ts_dedup_text(r->dedup, (const char *)r->text.data, r->text.len, &v, NULL, err))) return st;
    if (v == TS_DEDUP_DUPLICATE) ts_ingest_rec_drop(rec, ts_dedup_reason(TS_DEDUP_TEXT), "the text was seen before");
    return TS_OK;
}

static ts_status settle(run *r, ts_ingest_rec *rec, const ts_ingest_batch *b, ts_error *err) {
    ts_status st = TS_OK;
    int counted = 0; /* the writer counted the drop itself */
    if (!rec->reason) {
        int rotated;
        if ((st = ts_energon_reserve(r->w, &rec->s, &rotated, err))) return st;
        if (rotated && (st = checkpoint(r, rec->ordinal, err))) return st;
        if ((st = dedup_record(r, rec, err))) return st;
    }
    if (rec->retry) ts_energon_undrop(r->w, ts_outcome_name(rec->old_outcome), 1);
    if (!rec->reason) {
        const char *dropped;
        ts_error why = {0};
        if ((st = ts_energon_write(r->w, &rec->s, &dropped, &why))) return ts_fail(err, st, "%s", why.msg);
        if (dropped) {
            ts_ingest_rec_drop(rec, dropped, "%s", why.msg);
            counted = 1;
        }
    }
    if (rec->reason && !counted) ts_energon_drop(r->w, rec->reason, 1);
    if ((st = journal_urls(r, rec, b, err))) return st;
    if ((rec->reason || rec->retry) && (st = ts_ingest_drop_log_write(r->drops, rec, b, r->ck.pass, err)))
        return st;
    r->stats->processed++;
    if (rec->retry) {
        r->stats->retried++;
        r->stats->recovered += !rec->reason;
    }
    if (rec->ordinal + 1 > r->ck.frontier) r->ck.frontier = rec->ordinal + 1;
    uint64_t bytes = 0;
    for (size_t i = 0; i < rec->s.n_images; i++) bytes += rec->s.images[i].bytes.len;
    if (rec->reason) ts_progress_add_failed(r->progress, 1);
    else ts_progress_add(r->progress, 1, bytes);
    return TS_OK;
}

/* Read records into `b` until it holds a batch's worth of URLs, records or
 * carried bytes, or the input ends. Records the checkpoint or an earlier
 * pass settled are skipped here. */
static ts_status fill(run *r, ts_ingest_batch *b, ts_error *err) {
    size_t max_urls = r->o->batch_urls ? r->o->batch_urls : 4 * (size_t)r->o->download.max_concurrency;
    while (!r->eof && b->n_urls < max_urls && b->n < BATCH_MAX_RECORDS && b->carried_bytes < BATCH_MAX_CARRIED_BYTES) {
        /* Records this pass need not see are passed without being mapped. */
        uint64_t target = r->next_ordinal;
        if (target < r->ck.scan_next) target = r->ck.scan_next;
        if (target < r->ck.pass_frontier) {
            uint64_t retry = ts_ingest_retry_set_next(&r->retry, target);
            target = retry < r->ck.pass_frontier ? retry : r->ck.pass_frontier;
        }
        if (r->o->max_records && target > r->o->max_records) target = r->o->max_records;
        ts_status st;
        if (target > r->next_ordinal) {
            uint64_t skipped = 0;
            if ((st = ts_source_reader_skip(r->reader, target - r->next_ordinal, &skipped, err))) return st;
            r->next_ordinal += skipped;
            r->stats->read += skipped;
            if (r->next_ordinal < target) {
                r->eof = 1;
                break;
            }
        }
        ts_source_record *rec;
        st = ts_source_reader_next(r->reader, &rec, err);
        if (st == TS_ENOTFOUND) {
            ts_error_clear(err);
            r->eof = 1;
            break;
        }
        if (st) return st;
        if (r->o->max_records && rec->ordinal >= r->o->max_records) {
            r->eof = 1;
            break;
        }
        r->next_ordinal = rec->ordinal + 1;
        r->stats->read++;
        if (rec->ordinal < r->ck.scan_next) continue;
        ts_outcome old = TS_OUT_OK;
        int retry = 0;
        if (rec->ordinal < r->ck.pass_frontier) {
            if (!ts_ingest_retry_set_find(&r->retry, rec->ordinal, &old)) continue;
            retry = 1;
        }
        ts_ingest_rec *added;
        if ((st = ts_ingest_batch_add(b, rec, &added, err)))
            return ts_error_context(err, "%s", rec->location ? rec->location : "record");
        added->retry = retry;
        added->old_outcome = old;
    }
    return TS_OK;
}

/* The batch came back downloaded and checked: settle its records in order. */
static ts_status process(run *r, ts_ingest_batch *b, ts_error *err) {
    ts_status st = TS_OK;
    for (size_t i = 0; i < b->n && !st; i++) st = settle(r, &b->recs[i], b, err);
    return st;
}

/* Batches in the downloader at once: while this thread writes one batch
 * the downloader still holds FETCH_AHEAD - 1 others, so its transfers never
 * drain (ingest_fetch.c). */
#define FETCH_AHEAD 3

/* The slot not held by a stage. */
static ts_ingest_batch *free_slot(ts_ingest_batch *slots, ts_ingest_batch *const *fetching, size_t n_fetching,
                                  const ts_ingest_batch *checking) {
    for (size_t i = 0; i < FETCH_AHEAD + 1; i++) {
        int used = &slots[i] == checking;
        for (size_t k = 0; k < n_fetching; k++) used |= &slots[i] == fetching[k];
        if (!used) return &slots[i];
    }
    return NULL;
}

/* Batches in flight: while this thread writes batch k (then reads more),
 * the check stage decode-checks k+1 and the downloader fetches k+2.. as one
 * stream of URLs. Batches move through the stages in read order and records
 * settle in order here, so the output does not depend on timing or thread
 * counts. */
static ts_status batch_loop(run *r, ts_error *err) {
    ts_ingest_batch slots[FETCH_AHEAD + 1];
    memset(slots, 0, sizeof slots);
    ts_ingest_batch *fetching[FETCH_AHEAD], *checking = NULL;
    size_t n_fetching = 0;
    ts_status st = TS_OK;
    for (;;) {
        while (!r->eof && n_fetching < FETCH_AHEAD) {
            ts_ingest_batch *b = free_slot(slots, fetching, n_fetching, checking);
            ts_ingest_batch_reset(b);
            if ((st = fill(r, b, err)) || !b->n) break;
            if ((st = ts_ingest_fetcher_submit(r->fetch, b, err))) break;
            fetching[n_fetching++] = b;
        }
        if (st) break;
        ts_error cerr = {0};
        if ((st = ts_ingest_stage_wait(r->check, &cerr))) {
            *err = cerr;
            break;
        }
        ts_ingest_batch *done = checking;
        checking = NULL;
        if (n_fetching) {
            if ((st = ts_ingest_fetcher_wait(r->fetch, fetching[0], err))) break;
            checking = fetching[0];
            memmove(fetching, fetching + 1, --n_fetching * sizeof *fetching);
            ts_ingest_stage_submit(r->check, checking);
        }
        if (!done && !checking) break;
        if (done) {
            st = process(r, done, err);
            ts_ingest_batch_reset(done);
            if (st) break;
        }
    }
    /* After a failure the stages may still hold batches: stop them first. */
    ts_error ferr = {0};
    ts_status fst = ts_ingest_fetcher_stop(r->fetch, &ferr);
    if (!st && fst) {
        st = fst;
        *err = ferr;
    }
    ts_ingest_stage_stop(r->check);
    r->fetch = NULL;
    r->check = NULL;
    for (size_t i = 0; i < FETCH_AHEAD + 1; i++) ts_ingest_batch_free(&slots[i]);
    return st;
}

static ts_status write_summary(run *r, const ts_source *src, ts_error *err) {
    ts_energon_counts c;
    ts_energon_get_counts(r->w, &c);
    ts_ingest_stats *s = r->stats;
    s->records_in = r->ck.frontier;
    s->written = c.written;
    s->dropped = c.dropped;
    s->shards = c.shards;
    s->pass = r->ck.pass;
    if (c.records_in != r->ck.frontier)
        return ts_fail(err, TS_EFORMAT, "accounting: %llu records settled but the dataset counts %llu",
                       (unsigned long long)r->ck.frontier, (unsigned long long)c.records_in);
    cJSON *o = cJSON_CreateObject(), *drops = cJSON_CreateObject(), *now = cJSON_CreateObject();
    if (!o || !drops || !now) {
        cJSON_Delete(o);
        cJSON_Delete(drops);
        cJSON_Delete(now);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    const char *names[64];
    uint64_t counts[64];
    size_t n = ts_energon_drop_reasons(r->w, names, counts, 64);
    for (size_t i = 0; i < n && i < 64; i++) cJSON_AddNumberToObject(drops, names[i], (double)counts[i]);
    cJSON_AddStringToObject(o, "summary", "ingest");
    cJSON_AddStringToObject(o, "source", ts_source_name(src));
    cJSON_AddStringToObject(o, "dataset", r->dir);
    cJSON_AddNumberToObject(o, "pass", (double)s->pass);
    cJSON_AddNumberToObject(o, "records_in", (double)s->records_in);
    cJSON_AddNumberToObject(o, "written", (double)s->written);
    cJSON_AddNumberToObject(o, "dropped", (double)s->dropped);
    cJSON_AddItemToObject(o, "dropped_by_reason", drops);
    cJSON_AddNumberToObject(o, "shards", (double)s->shards);
    cJSON_AddNumberToObject(now, "read", (double)s->read);
    cJSON_AddNumberToObject(now, "processed", (double)s->processed);
    cJSON_AddNumberToObject(now, "retried", (double)s->retried);
    cJSON_AddNumberToObject(now, "recovered", (double)s->recovered);
    cJSON_AddNumberToObject(now, "urls", (double)s->urls);
    cJSON_AddNumberToObject(now, "urls_ok", (double)s->urls_ok);
    cJSON_AddNumberToObject(now, "url_bytes", (double)s->url_bytes);
    cJSON_AddBoolToObject(now, "resumed", s->resumed);
    cJSON_AddNumberToObject(now, "seconds", s->seconds);
    cJSON_AddItemToObject(o, "this_run", now);
    char *text = cJSON_Print(o);
    ts_status st = text ? TS_OK : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) {
        char path[4200];
        snprintf(path, sizeof path, "%s/stats/ingest.json", r->dir);
        st = ts_write_file_atomic(path, text, strlen(text), 1, err);
    }
    if (!st && r->o->report) st = ts_json_write_line(r->o->report, o, err);
    free(text);
    cJSON_Delete(o);
    return st;
}

/* Load the checkpoint (or start fresh) and check that the run's options
 * match the ones the dataset was started with. */
static ts_status restore(run *r, const ts_source *src, ts_energon_options *eo, ts_error *err) {
    char hash[33];
    ts_hash128_hex(ts_source_hash(src), hash);
    ts_status st = ts_ingest_checkpoint_load(r->ckpt_path, &r->ck, err);
    ts_ingest_checkpoint *ck = &r->ck;
    if (st == TS_ENOTFOUND) {
        ts_error_clear(err);
        char info[4200];
        snprintf(info, sizeof info, "%s/.nv-meta/.info.yaml", r->dir);
        if (!access(info, F_OK))
            return ts_fail(err, TS_EIO, "%s holds an Energon dataset that tessera ingest did not start", r->dir);
        memset(ck, 0, sizeof *ck);
        ck->pass = 1;
        snprintf(ck->source_hash, sizeof ck->source_hash, "%s", hash);
        snprintf(ck->type, sizeof ck->type, "%s", ts_energon_type_name(eo->type));
        snprintf(ck->prefix, sizeof ck->prefix, "%s", eo->prefix);
        ck->shard_bytes = eo->shard_bytes;
        ck->val_every = eo->val_every;
        ck->test_every = eo->test_every;
        r->fresh = 1;
        return ts_energon_resume(&r->w, r->dir, eo, 0, 0, NULL, NULL, 0, err);
    }
    if (st) return st;
    if (strcmp(ck->source_hash, hash))
        return ts_fail(err, TS_EINVAL, "%s was made from another manifest (hash %s, this one %s)", r->dir,
                       ck->source_hash, hash);
    if (strcmp(ck->type, ts_energon_type_name(eo->type)) || strcmp(ck->prefix, eo->prefix) ||
        ck->shard_bytes != eo->shard_bytes || ck->val_every != eo->val_every || ck->test_every != eo->test_every)
        return ts_fail(err, TS_EINVAL,
                       "%s was started with other dataset options (type %s, prefix %s, shard size %llu, "
                       "val/test every %u/%u); re-run with the same ones",
                       r->dir, ck->type, ck->prefix, (unsigned long long)ck->shard_bytes, ck->val_every,
                       ck->test_every);
    if (ck->finished) {
        /* A new pass: retry the retryable drops, read on past the frontier. */
        ck->pass++;
        ck->scan_next = 0;
        ck->pass_frontier = ck->frontier;
        ck->finished = 0;
    } else {
        r->stats->resumed = 1;
    }
    const char *names[64];
    for (size_t i = 0; i < ck->n_reasons && i < 64; i++) names[i] = ck->reasons[i];
    return ts_energon_resume(&r->w, r->dir, eo, (size_t)ck->shards, ck->written, names, ck->counts,
                             ck->n_reasons < 64 ? ck->n_reasons : 64, err);
}

static ts_status run_all(run *r, const ts_source *src, ts_error *err) {
    const ts_ingest_options *o = r->o;
    ts_energon_options eo;
    ts_energon_options_default(&eo);
    eo.type = ts_energon_type_for_task(ts_source_task(src));
    eo.shard_bytes = o->shard_bytes;
    if (o->prefix) eo.prefix = o->prefix;
    eo.val_every = o->val_every;
    eo.test_every = o->test_every;
    eo.report = o->report;
    char path[4200];
    if (strlen(r->dir) > 3900) return ts_fail(err, TS_EINVAL, "%s: path too long", r->dir);
    snprintf(r->state_dir, sizeof r->state_dir, "%s/state", r->dir);
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/checkpoint.json", r->state_dir);
    snprintf(r->drop_path, sizeof r->drop_path, "%s/stats/drops.jsonl", r->dir);
    ts_status st = ts_mkdirs(r->state_dir, err);
    if (st) return st;
    /* One run per dataset at a time; the kernel drops the lock when a run dies. */
    snprintf(path, sizeof path, "%s/lock", r->state_dir);
    if ((r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
        return ts_fail_errno(err, TS_EIO, "cannot open %s", path);
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB))
        return ts_fail(err, TS_EIO, "another tessera ingest is running on %s", r->dir);
    st = restore(r, src, &eo, err);
    if (st) return st;
    if (r->ck.dedup_file[0]) {
        snprintf(path, sizeof path, "%s/%s", r->state_dir, r->ck.dedup_file);
        st = ts_dedup_open(&r->dedup, path, &o->dedup, err);
    } else {
        st = ts_dedup_open(&r->dedup, o->dedup_index, &o->dedup, err);
    }
    if (!st) st = ts_ingest_drop_log_open(&r->drops, r->drop_path, r->ck.drop_log_bytes, err);
    if (!st && r->ck.pass > 1) st = ts_ingest_retry_set_load(r->drop_path, r->ck.pass_frontier, &r->retry, err);
    snprintf(path, sizeof path, "%s/journal.jsonl", r->state_dir);
    /* The journal is for tracing: it is synced with each checkpoint (and at
     * close), not every so many lines, which would fsync while the shard
     * being written holds hundreds of MB of dirty pages. */
    if (!st) st = ts_journal_open(&r->journal, path, SIZE_MAX, err);
    if (st) return st;
    if (!(r->pool = ts_pool_new(o->jobs))) return ts_fail(err, TS_ENOMEM, "cannot start %d threads", o->jobs);
    r->checker = (ts_ingest_checker){.pool = r->pool, .mode = o->image_check};
    r->download = o->download;
    r->download.expect_image = 1;
    r->download.validate = NULL; /* decode checks run on the pool, not the download thread */
    if ((st = ts_ingest_fetcher_start(&r->fetch, &r->download, err)) ||
        (st = ts_ingest_stage_start(&r->check, ts_ingest_check_batch, &r->checker, err)))
        return st;
    ts_source_open_options so = {.use_local = o->use_local, .cache_dir = o->cache_dir, .download = &o->download};
    char cache[4200];
    if (!so.cache_dir) {
        snprintf(cache, sizeof cache, "%s/cache", r->dir);
        so.cache_dir = cache;
    }
    if ((st = ts_source_reader_open(src, &so, &r->reader, err))) return st;
    if (o->progress) r->progress = ts_progress_new("ingest", o->max_records, "records");
    /* A fresh run checkpoints before anything: a dataset without a
     * checkpoint is one tessera ingest did not start, so a run killed before
     * its first shard boundary must not leave one (its .info.yaml included). */
    if (r->fresh && (st = checkpoint(r, 0, err))) return st;
    if ((st = batch_loop(r, err))) return st;
    if ((st = ts_energon_finish(r->w, err))) return st;
    r->ck.finished = 1;
    if ((st = checkpoint(r, r->ck.frontier, err))) return st;
    if (o->dedup_index && (st = ts_dedup_save(r->dedup, o->dedup_index, err))) return st;
    return TS_OK;
}

ts_status ts_ingest_source(const ts_source *src, const char *dir, const ts_ingest_options *o,
                           ts_ingest_stats *stats, ts_error *err) {
    memset(stats, 0, sizeof *stats);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run r = {.o = o, .dir = dir, .stats = stats, .lock_fd = -1};
    ts_status st = run_all(&r, src, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stats->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (!st) st = write_summary(&r, src, err);
    ts_progress_finish(r.progress);
    ts_ingest_fetcher_stop(r.fetch, NULL);
    ts_ingest_stage_stop(r.check);
    if (r.reader) ts_source_reader_close(r.reader);
    ts_error scratch;
    ts_journal_close(r.journal, &scratch);
    if (r.drops) fclose(r.drops);
    ts_pool_free(r.pool);
    ts_dedup_close(r.dedup);
    ts_energon_close(r.w);
    ts_ingest_retry_set_free(&r.retry);
    ts_ingest_checkpoint_free(&r.ck);
    ts_buf_free(&r.text);
    if (r.lock_fd >= 0) close(r.lock_fd);
    return st ? ts_error_context(err, "ingest %s", dir) : TS_OK;
}

ts_status ts_ingest_run(const char *manifest, const char *dir, const ts_ingest_options *o,
                        ts_ingest_stats *stats, ts_error *err) {
    ts_source *src;
    ts_status st = ts_source_load(manifest, &src, err);
    if (st) return st;
    st = ts_ingest_source(src, dir, o, stats, err);
    ts_source_free(src);
    return st;
}
