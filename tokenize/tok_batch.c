/* File drivers of batch.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/io.h"
#include "core/json.h"
#include "core/line_batch.h"
#include "core/log.h"
#include "tokenize/batch.h"

#define TEXT_FILE_MAX ((size_t)4 << 30)
#define BATCH_LINES 2048
#define BATCH_BYTES ((size_t)32 << 20)

ts_status ts_ids_format(const int32_t *ids, size_t n, ts_buf *out, ts_error *err) {
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    if (ts_buf_reserve(out, n * 12 + 1, err)) return TS_ENOMEM;
    char *p = (char *)out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ' ';
        uint32_t v = (uint32_t)ids[i];
        if (ids[i] < 0) {
            *p++ = '-';
            v = (uint32_t)(-(int64_t)ids[i]);
        }
        char tmp[12];
        int k = 12;
        while (v >= 100) { /* two digits per division */
            uint32_t r = v % 100;
            v /= 100;
            tmp[--k] = pairs[2 * r + 1];
            tmp[--k] = pairs[2 * r];
        }
        if (v >= 10) {
            tmp[--k] = pairs[2 * v + 1];
            tmp[--k] = pairs[2 * v];
        } else {
            tmp[--k] = (char)('0' + v);
        }
        memcpy(p, tmp + k, (size_t)(12 - k));
        p += 12 - k;
    }
    out->len = (size_t)(p - (char *)out->data);
    return TS_OK;
}

ts_status ts_ids_parse(const char *s, size_t n, ts_ids *out, ts_error *err) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i >= n) break;
        int neg = s[i] == '-';
        if (neg) i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return ts_fail(err, TS_EFORMAT, "not a token id at byte %zu", i);
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i++] - '0');
            if (v > INT32_MAX) return ts_fail(err, TS_EFORMAT, "token id too large at byte %zu", i);
        }
        if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return ts_fail(err, TS_EFORMAT, "not a token id at byte %zu", i);
        if (ts_ids_push(out, (int32_t)(neg ? -v : v), err)) return TS_ENOMEM;
    }
    return TS_OK;
}

static ts_status write_all(FILE *out, const void *p, size_t n, ts_error *err) {
    if (n && fwrite(p, 1, n, out) != n) return ts_fail_errno(err, TS_EIO, "writing output");
    return TS_OK;
}

ts_status ts_tokenize_text_file(const ts_tokenizer *tok, const char *path, FILE *out, ts_error *err) {
    ts_buf text = TS_BUF_INIT, line = TS_BUF_INIT;
    ts_ids ids = TS_IDS_INIT;
    ts_tok_scratch *sc = ts_tok_scratch_new(tok);
    ts_status st = sc ? ts_read_file(path, TEXT_FILE_MAX, &text, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) st = ts_tokenizer_encode(tok, sc, (const char *)text.data, text.len, 0, &ids, err);
    if (!st) st = ts_ids_format(ids.v, ids.len, &line, err);
    if (!st) st = ts_buf_append(&line, "\n", 1, err);
    if (!st) st = write_all(out, line.data, line.len, err);
    ts_tok_scratch_free(sc);
    ts_buf_free(&text);
    ts_buf_free(&line);
    ts_ids_free(&ids);
    return st ? ts_error_context(err, "%s: ", path) : TS_OK;
}

typedef struct jsonl_job {
    const ts_tokenizer *tok;
    const char *field;
    const char *path;
    ts_tok_scratch **scratch; /* per worker */
    ts_buf *outs;
    double *cpu;     /* encode CPU seconds per record */
    uint64_t *n_ids; /* ids per record */
    uint64_t *n_bytes;
    FILE *out;
    size_t *failed;
    ts_tok_stats *stats;
} jsonl_job;

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static ts_status jsonl_item(void *ctx, size_t i, int worker, const char *line, size_t line_len, ts_error *err) {
    jsonl_job *j = ctx;
    cJSON *rec = NULL;
    const char *text;
    ts_status st = ts_json_parse_str_member(line, line_len, j->field, &rec, &text, err);
    if (st) return st;
    ts_ids ids = TS_IDS_INIT;
    size_t len = strlen(text);
    double c0 = thread_cpu();
    st = ts_tokenizer_encode(j->tok, j->scratch[worker], text, len, 0, &ids, err);
    j->cpu[i] = thread_cpu() - c0;
    j->n_ids[i] = ids.len;
    j->n_bytes[i] = len;
    if (!st) st = ts_ids_format(ids.v, ids.len, &j->outs[i], err);
    ts_ids_free(&ids);
    cJSON_Delete(rec);
    return st;
}

/* One line per record: its ids, or empty when it failed (with a warning). */
static ts_status jsonl_consume(void *ctx, size_t i, uint64_t record, const ts_error *failed, ts_error *err) {
    jsonl_job *j = ctx;
    if (failed) {
        ts_warn("%s: record %llu: %s", j->path, (unsigned long long)record, failed->msg);
        if (j->failed) (*j->failed)++;
        ts_buf_reset(&j->outs[i]);
    } else if (j->stats) {
        j->stats->records++;
        j->stats->bytes += j->n_bytes[i];
        j->stats->ids += j->n_ids[i];
        j->stats->encode_cpu_seconds += j->cpu[i];
    }
    ts_status st = ts_buf_append(&j->outs[i], "\n", 1, err);
    if (!st) st = write_all(j->out, j->outs[i].data, j->outs[i].len, err);
    ts_buf_reset(&j->outs[i]);
    return st;
}

ts_status ts_tokenize_jsonl(const ts_tokenizer *tok, const char *path, const char *field, int threads,
                            FILE *out, size_t *failed, ts_tok_stats *stats, ts_error *err) {
    ts_line_reader *r = NULL;
    ts_status st = ts_line_reader_open(&r, path, err);
    if (st) return st;
    ts_tok_workers tw;
    jsonl_job j = {.tok = tok, .field = field, .path = path, .out = out, .failed = failed, .stats = stats};
    j.outs = calloc(BATCH_LINES, sizeof *j.outs);
    j.cpu = calloc(BATCH_LINES, sizeof *j.cpu);
    j.n_ids = calloc(BATCH_LINES, sizeof *j.n_ids);
    j.n_bytes = calloc(BATCH_LINES, sizeof *j.n_bytes);
    int ok = j.outs && j.cpu && j.n_ids && j.n_bytes;
    st = ok ? ts_tok_workers_new(tok, threads, &tw, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) {
        j.scratch = tw.scratch;
        st = ts_map_lines(r, tw.pool, BATCH_LINES, BATCH_BYTES, jsonl_item, jsonl_consume, &j, err);
        ts_tok_workers_free(&tw);
    }
    for (size_t i = 0; j.outs && i < BATCH_LINES; i++) ts_buf_free(&j.outs[i]);
    free(j.outs);
    free(j.cpu);
    free(j.n_ids);
    free(j.n_bytes);
    ts_line_reader_close(r);
    return st ? ts_error_context(err, "%s: ", path) : TS_OK;
}

/* A JSON string of valid UTF-8 (NUL bytes included, which cJSON cannot hold). */
static ts_status json_string(ts_buf *b, const uint8_t *s, size_t n, ts_error *err) {
    if (ts_buf_reserve(b, n * 6 + 2, err)) return TS_ENOMEM;
    char *p = (char *)b->data + b->len;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    b->len = (size_t)(p - (char *)b->data);
    return TS_OK;
}

ts_status ts_detokenize_lines(const ts_tokenizer *tok, const char *path, int raw, int skip_special,
                              FILE *out, ts_error *err) {
    ts_line_reader *r = NULL;
    ts_status st = ts_line_reader_open(&r, path, err);
    if (st) return st;
    ts_ids ids = TS_IDS_INIT;
    ts_buf text = TS_BUF_INIT, jl = TS_BUF_INIT;
    uint64_t lineno = 0;
    for (;;) {
        const char *line;
        size_t len;
        st = ts_line_reader_next(r, &line, &len, err);
        if (st == TS_ENOTFOUND) {
            st = TS_OK;
            break;
        }
        lineno++;
        ids.len = 0;
        ts_buf_reset(&text);
        if (!st) st = ts_ids_parse(line, len, &ids, err);
        if (!st) st = ts_tokenizer_decode(tok, ids.v, ids.len, skip_special, &text, err);
        if (st) {
            ts_error_context(err, "line %llu: ", (unsigned long long)lineno);
            break;
        }
        if (raw) {
            st = ts_buf_append(&text, "\n", 1, err);
            if (!st) st = write_all(out, text.data, text.len, err);
        } else {
            ts_buf_reset(&jl);
            st = ts_buf_append(&jl, "{\"text\":", 8, err);
            if (!st) st = json_string(&jl, text.data, text.len, err);
            if (!st) st = ts_buf_append(&jl, "}\n", 2, err);
            if (!st) st = write_all(out, jl.data, jl.len, err);
        }
        if (st) break;
    }
    ts_ids_free(&ids);
    ts_buf_free(&text);
    ts_buf_free(&jl);
    ts_line_reader_close(r);
    return st ? ts_error_context(err, "%s: ", path) : TS_OK;
}
