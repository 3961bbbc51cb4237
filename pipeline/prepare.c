/* The prepare stage (contract in prepare.h): batches of samples are read in
 * order, converted and tokenized in parallel, planned serially (which
 * images are new), tiled in parallel, and written in input order. */
#include "pipeline/prepare.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/hash_set.h"
#include "core/io.h"
#include "core/json.h"
#include "core/pool.h"
#include "core/progress.h"
#include "ingest/energon_reader.h"
#include "tiler/tile_run.h"
#include "tiler/tile_shard.h"
#include "tokenize/tokfile.h"

void ts_prepare_options_default(ts_prepare_options *o) {
    memset(o, 0, sizeof *o);
    o->layout = TS_LAYOUT_D;
    o->form = TS_FORM_MEGATRON;
    o->image_token_id = 151646;
    ts_sample_chat_options_default(&o->chat);
    o->splits = TS_SPLIT_TRAIN;
    o->dtype = TS_PIXEL_U8;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- input: an Energon folder or a records file ---- */

typedef struct input {
    ts_energon_reader *energon;
    ts_sample_reader *records;
} input;

static ts_status input_open(input *in, const char *path, unsigned splits, ts_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return ts_fail_errno(err, TS_EIO, "%s", path);
    if (S_ISDIR(sb.st_mode)) {
        ts_energon_read_options ro = {splits, NULL};
        return ts_energon_reader_open(&in->energon, path, &ro, err);
    }
    return ts_sample_reader_open(&in->records, path, err);
}

static ts_status input_next(input *in, ts_sample *s, ts_error *err) {
    return in->energon ? ts_energon_reader_next(in->energon, s, err) : ts_sample_reader_next(in->records, s, err);
}

/* 1 when the last error concerned one sample and reading can go on. */
static int input_skippable(const input *in) { return in->energon && !ts_energon_reader_failed(in->energon); }

static void input_close(input *in) {
    ts_energon_reader_close(in->energon);
    if (in->records) ts_sample_reader_close(in->records);
}

/* ---- batch state ---- */

#define KEPT (-1)

typedef struct item {
    ts_sample sample;
    uint64_t ordinal;
    ts_sample_chat chat;
    ts_chat_result result;
    int drop;      /* KEPT or a ts_prepare_drop */
    ts_status fatal; /* out of memory in a worker */
    ts_error err;
} item;

/* One tiling to make: sample image `image` of item `item` with at most
 * `cap` grid tiles; `variant` 0 is the "<hex>" record, 1 "<hex>-<N>". */
typedef struct job {
    size_t item, image;
    int cap, expect, variant;
    ts_status status;
    ts_error err;
    ts_tiled_image out;
} job;

typedef struct run {
    const ts_prepare_options *o;
    ts_chat_options chat;
    ts_tile_run_options tile;
    item *items;
    size_t n_items, cap_items;
    job *jobs;
    size_t n_jobs, cap_jobs;
    ts_tok_scratch **scratch; /* per worker */
    ts_buf *tile_scratch;     /* per worker */
    ts_hash_set seen, variants, failed;
} run;

static void work_tokenize(void *ctxp, size_t i, int worker) {
    run *r = ctxp;
    item *it = &r->items[i];
    it->fatal = TS_OK;
    if (it->drop != KEPT) return; /* unreadable */
    ts_status st = ts_sample_to_chat(&it->sample, &r->o->chat, &it->chat, &it->err);
    if (st) {
        if (st == TS_ENOMEM || st == TS_EINVAL) it->fatal = st;
        it->drop = TS_PREP_DROP_RULE;
        return;
    }
    st = ts_chat_tokenize(r->o->tokenizer, r->scratch[worker], &r->chat, &it->chat.chat, &it->result, &it->err);
    if (st == TS_ENOMEM) it->fatal = st;
    if (st) it->drop = st == TS_ELIMIT ? TS_PREP_DROP_LIMIT : TS_PREP_DROP_TOKENIZE;
}

static void work_tile(void *ctxp, size_t i, int worker) {
    run *r = ctxp;
    job *j = &r->jobs[i];
    const ts_sample_image *im = &r->items[j->item].sample.images[j->image];
    ts_tile_run_options o = r->tile;
    o.tiler.max_tiles = j->cap;
    ts_error_clear(&j->err);
    j->status = ts_tile_encoded(im->bytes.data, im->bytes.len, &o, NULL, &r->tile_scratch[worker], &j->out, &j->err);
    if (!j->status && j->out.tiles != j->expect)
        j->status = ts_fail(&j->err, TS_EFORMAT, "tiled into %d tiles where the size in the header gives %d",
                            j->out.tiles, j->expect);
}

/* The set key of a re-tiled variant: the content hash mixed with the count. */
static ts_hash128 variant_key(ts_hash128 h, int tiles) {
    uint8_t b[17];
    ts_put_u64le(b, h.hi);
    ts_put_u64le(b + 8, h.lo);
    b[16] = (uint8_t)tiles;
    return ts_xxh3_128(b, sizeof b);
}

static ts_status add_job(run *r, size_t item_i, size_t image, int cap, int expect, int variant, ts_error *err) {
    if (r->n_jobs == r->cap_jobs) {
        size_t cap_jobs = r->cap_jobs ? 2 * r->cap_jobs : 64;
        job *p = realloc(r->jobs, cap_jobs * sizeof *p);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        memset(p + r->cap_jobs, 0, (cap_jobs - r->cap_jobs) * sizeof *p);
        r->jobs = p;
        r->cap_jobs = cap_jobs;
    }
    job *j = &r->jobs[r->n_jobs++];
    j->item = item_i;
    j->image = image;
    j->cap = cap;
    j->expect = expect;
    j->variant = variant;
    return TS_OK;
}

static size_t image_index(const ts_sample *s, ts_hash128 h) {
    for (size_t i = 0; i < s->n_images; i++)
        if (ts_hash128_equal(s->images[i].xxh3, h)) return i;
    return 0; /* not reached: every chat image comes from the sample */
}

static int uses_failed(const run *r, const item *it) {
    for (size_t k = 0; k < it->result.n_images; k++)
        if (ts_hash_set_contains(&r->failed, it->result.images[k].content_hash)) return 1;
    return 0;
}

/* Decide, in input order, which tilings the batch needs. */
static ts_status plan_tiles(run *r, ts_error *err) {
    r->n_jobs = 0;
    int max_tiles = r->o->chat.max_tiles;
    for (size_t i = 0; i < r->n_items; i++) {
        item *it = &r->items[i];
        if (it->drop != KEPT) continue;
        if (uses_failed(r, it)) {
            it->drop = TS_PREP_DROP_IMAGE;
            ts_fail(&it->err, TS_EFORMAT, "an image of this sample failed to tile earlier");
            continue;
        }
        for (size_t k = 0; k < it->result.n_images; k++) {
            const ts_chat_slot *slot = &it->result.images[k];
            ts_hash128 h = slot->content_hash;
            size_t im = image_index(&it->sample, h);
            int base_tiles = it->chat.images[k].tiles[TS_CHAT_MAX_CAP];
            int rc = ts_hash_set_insert(&r->seen, h);
            if (rc < 0) return ts_fail(err, TS_ENOMEM, "out of memory");
            if (rc == 1 && add_job(r, i, im, max_tiles, base_tiles, 0, err)) return err->code;
            if (slot->tiles != base_tiles) {
                rc = ts_hash_set_insert(&r->variants, variant_key(h, slot->tiles));
                if (rc < 0) return ts_fail(err, TS_ENOMEM, "out of memory");
                int cap = slot->cap < max_tiles ? slot->cap : max_tiles;
                if (rc == 1 && add_job(r, i, im, cap, slot->tiles, 1, err)) return err->code;
            }
        }
    }
    return TS_OK;
}

static ts_status write_tiles(run *r, ts_tile_shard_writer *shard, ts_prepare_stats *st, ts_error *err) {
    for (size_t i = 0; i < r->n_jobs; i++) {
        job *j = &r->jobs[i];
        const ts_sample_image *im = &r->items[j->item].sample.images[j->image];
        if (j->status) {
            if (j->status == TS_ENOMEM) return ts_fail(err, TS_ENOMEM, "%s", j->err.msg);
            if (ts_hash_set_insert(&r->failed, im->xxh3) < 0) return ts_fail(err, TS_ENOMEM, "out of memory");
            item *it = &r->items[j->item];
            it->drop = TS_PREP_DROP_IMAGE;
            it->err = j->err;
            ts_error_context(&it->err, "image %zu", j->image);
            continue;
        }
        char key[48];
        ts_hash128_hex(im->xxh3, key);
        if (j->variant) snprintf(key + 32, sizeof key - 32, "-%d", j->out.tiles);
        ts_tile_record rec = {key, j->out.content, j->out.info.width, j->out.info.height,
                              j->out.grid, j->out.tiles, j->out.payload_bytes};
        ts_status s = ts_tile_shard_add_compressed(shard, &rec, j->out.payload_xxh3, j->out.zframe.data,
                                                   j->out.zframe.len, err);
        if (s) return s;
        st->tile_records++;
        st->distinct_images += !j->variant;
        st->tiles += (uint64_t)j->out.tiles;
    }
    return TS_OK;
}

static ts_status report_drop(FILE *f, const item *it, ts_error *err) {
    if (!f) return TS_OK;
    cJSON *j = cJSON_CreateObject();
    if (!j) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddStringToObject(j, "dropped", ts_prepare_drop_name((ts_prepare_drop)it->drop));
    cJSON_AddNumberToObject(j, "record", (double)it->ordinal);
    cJSON_AddStringToObject(j, "key", ts_sample_str(&it->sample.key));
    cJSON_AddStringToObject(j, "error", it->err.msg);
    ts_status st = ts_json_write_line(f, j, err);
    cJSON_Delete(j);
    return st;
}

static ts_status write_samples(run *r, ts_tokfile_writer *tok, ts_prepare_stats *st, ts_error *err) {
    for (size_t i = 0; i < r->n_items; i++) {
        item *it = &r->items[i];
        if (it->drop == KEPT && uses_failed(r, it)) {
            it->drop = TS_PREP_DROP_IMAGE;
            ts_fail(&it->err, TS_EFORMAT, "an image of this sample failed to tile");
        }
        if (it->drop != KEPT) {
            st->dropped++;
            st->dropped_by[it->drop]++;
            ts_status s = report_drop(r->o->report, it, err);
            if (s) return s;
            continue;
        }
        ts_status s = ts_tokfile_add(tok, it->ordinal, &it->result, err);
        if (s) return s;
        st->kept++;
        st->tokens += it->result.ids.len;
        st->length += (uint64_t)it->result.length;
        st->images += it->result.n_images;
        for (size_t k = 0; k < it->result.n_images; k++) st->retiled += it->result.images[k].retiled_from != 0;
    }
    return TS_OK;
}

/* Fill the batch from the input; *done at its end. */
static ts_status read_batch(run *r, input *in, size_t batch, uint64_t *ordinal, int *done, ts_error *err) {
    r->n_items = 0;
    while (r->n_items < batch) {
        item *it = &r->items[r->n_items];
        it->drop = KEPT;
        ts_error_clear(&it->err);
        ts_status st = input_next(in, &it->sample, &it->err);
        if (st == TS_ENOTFOUND) return (*done = 1, TS_OK);
        if (st && !input_skippable(in)) return ts_fail(err, st, "%s", it->err.msg);
        if (st) it->drop = TS_PREP_DROP_SAMPLE;
        it->ordinal = (*ordinal)++;
        r->n_items++;
    }
    return TS_OK;
}

static ts_status check_options(const ts_prepare_options *o, ts_error *err) {
    if (!o->tokenizer) return ts_fail(err, TS_EINVAL, "prepare needs a tokenizer");
    if (!o->tok_path) return ts_fail(err, TS_EINVAL, "prepare needs a tokfile path");
    if (o->chat.max_tiles < 1 || o->chat.max_tiles > TS_CHAT_MAX_CAP)
        return ts_fail(err, TS_EINVAL, "max_tiles %d out of range 1..%d", o->chat.max_tiles, TS_CHAT_MAX_CAP);
    if (o->chat.tile_size < 14 || o->chat.tile_size > 4096)
        return ts_fail(err, TS_EINVAL, "tile size %d out of range [14, 4096]", o->chat.tile_size);
    if (o->max_len < 0) return ts_fail(err, TS_EINVAL, "max_len must be >= 0");
    return TS_OK;
}

static void run_free(run *r, int threads) {
    for (size_t i = 0; i < r->cap_items; i++) {
        ts_sample_free(&r->items[i].sample);
        ts_sample_chat_free(&r->items[i].chat);
        ts_chat_result_free(&r->items[i].result);
    }
    free(r->items);
    for (size_t i = 0; i < r->cap_jobs; i++) ts_buf_free(&r->jobs[i].out.zframe);
    free(r->jobs);
    for (int w = 0; w < threads; w++) {
        if (r->scratch) ts_tok_scratch_free(r->scratch[w]);
        if (r->tile_scratch) ts_buf_free(&r->tile_scratch[w]);
    }
    free(r->scratch);
    free(r->tile_scratch);
    ts_hash_set_free(&r->seen);
    ts_hash_set_free(&r->variants);
    ts_hash_set_free(&r->failed);
}

static ts_status setup(run *r, const ts_prepare_options *o, int threads, size_t batch, ts_error *err) {
    r->o = o;
    ts_chat_options_default(&r->chat);
    r->chat.layout = o->layout;
    r->chat.form = o->form;
    r->chat.max_len = o->max_len;
    r->chat.image_token_id = o->image_token_id;
    ts_tile_run_options_default(&r->tile);
    r->tile.tiler.tile_size = o->chat.tile_size;
    r->tile.tiler.max_tiles = o->chat.max_tiles;
    r->tile.dtype = o->dtype;
    r->tile.zstd_level = o->zstd_level;
    r->tile.shard_path = o->tiles_path;
    r->items = calloc(batch, sizeof *r->items);
    r->scratch = calloc((size_t)threads, sizeof *r->scratch);
    r->tile_scratch = calloc((size_t)threads, sizeof *r->tile_scratch);
    if (!r->items || !r->scratch || !r->tile_scratch) return ts_fail(err, TS_ENOMEM, "out of memory");
    r->cap_items = batch;
    for (size_t i = 0; i < batch; i++) {
        ts_sample_init(&r->items[i].sample);
        ts_sample_chat_init(&r->items[i].chat);
    }
    for (int w = 0; w < threads; w++)
        if (!(r->scratch[w] = ts_tok_scratch_new(o->tokenizer))) return ts_fail(err, TS_ENOMEM, "out of memory");
    return TS_OK;
}

/* One batch through every sub-stage. */
static ts_status process_batch(run *r, ts_pool *pool, ts_tile_shard_writer *shard, ts_tokfile_writer *tok,
                               ts_prepare_stats *st, ts_error *err) {
    double t0 = now();
    ts_pool_run(pool, r->n_items, work_tokenize, r);
    for (size_t i = 0; i < r->n_items; i++)
        if (r->items[i].fatal) return ts_fail(err, r->items[i].fatal, "%s", r->items[i].err.msg);
    double t1 = now();
    st->seconds_tokenize += t1 - t0;
    ts_status s = TS_OK;
    if (shard) {
        if ((s = plan_tiles(r, err))) return s;
        ts_pool_run(pool, r->n_jobs, work_tile, r);
        double t2 = now();
        st->seconds_tile += t2 - t1;
        t1 = t2;
        if ((s = write_tiles(r, shard, st, err))) return s;
    }
    s = write_samples(r, tok, st, err);
    st->seconds_write += now() - t1;
    return s;
}

static ts_status write_stats(const char *path, const ts_prepare_stats *stats, ts_error *err) {
    cJSON *j = ts_prepare_stats_json(stats);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) return ts_fail(err, TS_ENOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL: written with its length */
    ts_status st = ts_write_file_atomic(path, text, n + 1, 1, err);
    free(text);
    return st;
}

ts_status ts_prepare_run(const char *input_path, const ts_prepare_options *o, ts_prepare_stats *stats,
                         ts_error *err) {
    memset(stats, 0, sizeof *stats);
    double start = now();
    ts_status st = check_options(o, err);
    if (st) return st;
    ts_pool *pool = ts_pool_new(o->threads);
    if (!pool) return ts_fail(err, TS_ENOMEM, "cannot start threads");
    int threads = ts_pool_threads(pool);
    size_t batch = o->batch > 0 ? (size_t)o->batch : (size_t)threads * 16;
    run r = {0};
    input in = {0};
    ts_tile_shard_writer *shard = NULL;
    ts_tokfile_writer *tok = NULL;
    st = setup(&r, o, threads, batch, err);
    if (!st) st = input_open(&in, input_path, o->splits, err);
    if (!st && o->tiles_path) {
        ts_tile_shard_params sp = {o->chat.tile_size, o->chat.max_tiles, o->dtype, o->zstd_level};
        st = ts_tile_shard_create(&shard, o->tiles_path, &sp, err);
    }
    if (!st) st = ts_tokfile_create(o->tok_path, ts_tokenizer_hash(o->tokenizer), &tok, err);
    ts_progress *progress = st ? NULL : ts_progress_new("prepare", 0, "samples");
    uint64_t ordinal = 0;
    int done = 0;
    while (!st && !done) {
        double t0 = now();
        st = read_batch(&r, &in, batch, &ordinal, &done, err);
        stats->seconds_read += now() - t0;
        if (!st && r.n_items) st = process_batch(&r, pool, shard, tok, stats, err);
        ts_progress_add(progress, r.n_items, 0);
    }
    ts_progress_finish(progress);
    stats->in = ordinal;
    uint64_t x;
    if (shard) {
        if (st) ts_tile_shard_abort(shard);
        else st = ts_tile_shard_commit(shard, &x, &stats->tiles_bytes, err);
    }
    if (tok) {
        if (st) ts_tokfile_abort(tok);
        else st = ts_tokfile_finish(tok, err);
    }
    input_close(&in);
    run_free(&r, threads);
    ts_pool_free(pool);
    stats->seconds_total = now() - start;
    if (!st) {
        struct stat sb;
        if (stat(o->tok_path, &sb) == 0) stats->tok_bytes = (uint64_t)sb.st_size;
        if (o->stats_path) st = write_stats(o->stats_path, stats, err);
    }
    return st;
}
