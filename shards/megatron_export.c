/* The two inputs of the Megatron export (megatron.h): a tokenized-sample file
 * read record by record, and JSON lines tokenized in parallel batches. */
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/json.h"
#include "core/line_batch.h"
#include "core/log.h"
#include "core/pool.h"
#include "shards/megatron.h"
#include "tokenize/tokfile.h"

#define BATCH_LINES 2048
#define BATCH_BYTES ((size_t)32 << 20)

void ts_megatron_options_default(ts_megatron_options *o) {
    memset(o, 0, sizeof *o);
    o->field = "text";
    o->eod = "<|endoftext|>";
}

static ts_megatron_dtype pick_dtype(const ts_megatron_options *o, const ts_tokenizer *tok) {
    if (o->dtype) return o->dtype;
    return tok ? ts_megatron_dtype_for_vocab(ts_tokenizer_vocab_size(tok)) : TS_MEGATRON_INT32;
}

/* Commit on success, discard on failure. */
static ts_status finish(ts_megatron_writer *w, ts_status st, ts_megatron_summary *s, ts_error *err) {
    if (st) {
        ts_megatron_writer_abort(w);
        return st;
    }
    return ts_megatron_writer_finish(w, s, err);
}

ts_status ts_megatron_export_tokfile(const char *tokfile, const ts_tokenizer *tok, const ts_megatron_options *o,
                                     const char *prefix, ts_megatron_summary *s, ts_error *err) {
    memset(s, 0, sizeof *s);
    ts_tokfile_reader *in = NULL;
    ts_status st = ts_tokfile_reader_open(tokfile, &in, err);
    if (st) return st;
    ts_megatron_writer *w = NULL;
    st = ts_megatron_writer_open(prefix, pick_dtype(o, tok), &w, err);
    if (st) {
        ts_tokfile_reader_close(in);
        return st;
    }
    ts_buf ids = TS_BUF_INIT; /* the record's ids as int32_t */
    for (uint64_t i = 0;; i++) {
        ts_tokfile_record r;
        st = ts_tokfile_reader_next(in, &r, err);
        if (st == TS_ENOTFOUND) {
            st = TS_OK;
            break;
        }
        if (st) break;
        if (r.n_images) {
            ts_warn("%s: record %llu (source record %llu): %u images; the Megatron export is text only, skipped",
                    tokfile, (unsigned long long)i, (unsigned long long)r.source_record, r.n_images);
            s->failed++;
            continue;
        }
        ts_buf_reset(&ids);
        st = ts_buf_reserve(&ids, 4 * (size_t)r.n_ids + 4, err);
        int32_t *v = (int32_t *)(void *)ids.data;
        for (uint32_t k = 0; k < r.n_ids && !st; k++) v[k] = (int32_t)ts_get_u32le(r.ids + 4 * k);
        if (!st) st = ts_megatron_writer_add(w, v, r.n_ids, err);
        if (st) {
            ts_error_context(err, "%s: record %llu: ", tokfile, (unsigned long long)i);
            break;
        }
    }
    ts_buf_free(&ids);
    ts_tokfile_reader_close(in);
    uint64_t failed = s->failed;
    st = finish(w, st, s, err);
    s->failed = failed;
    return st;
}

typedef struct jsonl_job {
    const ts_tokenizer *tok;
    const char *field;
    int32_t eod; /* -1: none */
    const char *path;
    ts_tok_scratch **scratch; /* per worker */
    ts_ids *ids;
    ts_status *status;
    ts_error *errs;
    ts_megatron_writer *w;
    ts_megatron_summary *s;
} jsonl_job;

static ts_status encode_line(jsonl_job *j, size_t i, int worker, const char *line, size_t len) {
    cJSON *rec = NULL;
    ts_error *err = &j->errs[i];
    ts_status st = ts_json_parse(line, len, &rec, err);
    if (st) return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, j->field);
    if (!cJSON_IsString(v)) st = ts_fail(err, TS_EFORMAT, "no string member \"%s\"", j->field);
    if (!st)
        st = ts_tokenizer_encode(j->tok, j->scratch[worker], v->valuestring, strlen(v->valuestring), 0, &j->ids[i],
                                 err);
    /* Megatron's --append-eod: only a document that has ids gets one. */
    if (!st && j->eod >= 0 && j->ids[i].len) st = ts_ids_push(&j->ids[i], j->eod, err);
    cJSON_Delete(rec);
    return st;
}

static void jsonl_item(void *ctx, size_t i, int worker, const char *line, size_t len) {
    jsonl_job *j = ctx;
    j->ids[i].len = 0;
    j->status[i] = encode_line(j, i, worker, line, len);
}

/* A failed record is skipped with a warning; the others go to the writer. */
static ts_status jsonl_consume(void *ctx, size_t i, uint64_t record, ts_error *err) {
    jsonl_job *j = ctx;
    if (j->status[i]) {
        ts_warn("%s: record %llu: %s", j->path, (unsigned long long)record, j->errs[i].msg);
        j->s->failed++;
        return TS_OK;
    }
    ts_status st = ts_megatron_writer_add(j->w, j->ids[i].v, j->ids[i].len, err);
    if (st) ts_error_context(err, "%s: record %llu: ", j->path, (unsigned long long)record);
    return st;
}

static void free_job(jsonl_job *j, int nw) {
    for (int w = 0; j->scratch && w < nw; w++) ts_tok_scratch_free(j->scratch[w]);
    for (size_t i = 0; j->ids && i < BATCH_LINES; i++) ts_ids_free(&j->ids[i]);
    free(j->scratch);
    free(j->ids);
    free(j->status);
    free(j->errs);
}

ts_status ts_megatron_export_jsonl(const char *jsonl, const ts_tokenizer *tok, const ts_megatron_options *o,
                                   const char *prefix, ts_megatron_summary *s, ts_error *err) {
    memset(s, 0, sizeof *s);
    jsonl_job j = {.tok = tok, .field = o->field ? o->field : "text", .eod = -1, .path = jsonl, .s = s};
    if (!o->no_eod) {
        const char *eod = o->eod ? o->eod : "<|endoftext|>";
        j.eod = ts_tokenizer_token_id(tok, eod);
        if (j.eod < 0) return ts_fail(err, TS_EINVAL, "end-of-document token \"%s\" is not in the tokenizer", eod);
    }
    ts_line_reader *r = NULL;
    ts_status st = ts_line_reader_open(&r, jsonl, err);
    if (st) return st;
    ts_pool *pool = ts_pool_new(o->threads);
    int nw = pool ? ts_pool_threads(pool) : 0;
    j.scratch = calloc((size_t)(nw ? nw : 1), sizeof *j.scratch);
    j.ids = calloc(BATCH_LINES, sizeof *j.ids);
    j.status = calloc(BATCH_LINES, sizeof *j.status);
    j.errs = calloc(BATCH_LINES, sizeof *j.errs);
    int ok = pool && j.scratch && j.ids && j.status && j.errs;
    for (int k = 0; ok && k < nw; k++) ok = (j.scratch[k] = ts_tok_scratch_new(tok)) != NULL;
    st = ok ? ts_megatron_writer_open(prefix, pick_dtype(o, tok), &j.w, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) {
        st = ts_map_lines(r, pool, BATCH_LINES, BATCH_BYTES, jsonl_item, jsonl_consume, &j, err);
        uint64_t failed = s->failed;
        st = finish(j.w, st, s, err);
        s->failed = failed;
    }
    free_job(&j, nw);
    ts_pool_free(pool);
    ts_line_reader_close(r);
    return st;
}

static int is_tokfile(const char *path) {
    if (strcmp(path, "-") == 0) return 0;
    FILE *f = fopen(path, "rb");
    char magic[8] = {0};
    int yes = f && fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, TS_TOKFILE_MAGIC, 8) == 0;
    if (f) fclose(f);
    return yes;
}

ts_status ts_megatron_export(const char *in, const ts_tokenizer *tok, const ts_megatron_options *o,
                             const char *prefix, ts_megatron_summary *s, ts_error *err) {
    if (is_tokfile(in)) return ts_megatron_export_tokfile(in, tok, o, prefix, s, err);
    if (!tok) {
        memset(s, 0, sizeof *s);
        return ts_fail(err, TS_EINVAL, "%s is not a tokenized-sample file; JSON lines need a tokenizer", in);
    }
    return ts_megatron_export_jsonl(in, tok, o, prefix, s, err);
}
