/* The two inputs of the Megatron export (megatron.h): a tokenized-sample file
 * read record by record, and JSON lines tokenized in parallel batches. */
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/json.h"
#include "core/line_batch.h"
#include "core/log.h"
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
    ts_megatron_writer *w;
    ts_megatron_summary *s;
} jsonl_job;

static ts_status jsonl_item(void *ctx, size_t i, int worker, const char *line, size_t len, ts_error *err) {
    jsonl_job *j = ctx;
    j->ids[i].len = 0;
    cJSON *rec = NULL;
    const char *text;
    ts_status st = ts_json_parse_str_member(line, len, j->field, &rec, &text, err);
    if (!st) st = ts_tokenizer_encode(j->tok, j->scratch[worker], text, strlen(text), 0, &j->ids[i], err);
    /* Megatron's --append-eod: only a document that has ids gets one. */
    if (!st && j->eod >= 0 && j->ids[i].len) st = ts_ids_push(&j->ids[i], j->eod, err);
    cJSON_Delete(rec);
    return st;
}

/* A failed record is skipped with a warning; the others go to the writer. */
static ts_status jsonl_consume(void *ctx, size_t i, uint64_t record, const ts_error *failed, ts_error *err) {
    jsonl_job *j = ctx;
    if (failed) {
        ts_warn("%s: record %llu: %s", j->path, (unsigned long long)record, failed->msg);
        j->s->failed++;
        return TS_OK;
    }
    ts_status st = ts_megatron_writer_add(j->w, j->ids[i].v, j->ids[i].len, err);
    if (st) ts_error_context(err, "%s: record %llu: ", j->path, (unsigned long long)record);
    return st;
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
    ts_tok_workers tw;
    j.ids = calloc(BATCH_LINES, sizeof *j.ids);
    st = j.ids ? ts_tok_workers_new(tok, o->threads, &tw, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) {
        j.scratch = tw.scratch;
        st = ts_megatron_writer_open(prefix, pick_dtype(o, tok), &j.w, err);
        if (!st) {
            st = ts_map_lines(r, tw.pool, BATCH_LINES, BATCH_BYTES, jsonl_item, jsonl_consume, &j, err);
            uint64_t failed = s->failed;
            st = finish(j.w, st, s, err);
            s->failed = failed;
        }
        ts_tok_workers_free(&tw);
    }
    for (size_t i = 0; j.ids && i < BATCH_LINES; i++) ts_ids_free(&j.ids[i]);
    free(j.ids);
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
