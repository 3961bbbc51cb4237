#include "line_batch.h"

#include <stdlib.h>
#include <string.h>

ts_status ts_line_batch_init(ts_line_batch *b, size_t max_lines, size_t max_bytes, ts_error *err) {
    memset(b, 0, sizeof *b);
    if (!max_lines) return ts_fail(err, TS_EINVAL, "a line batch needs room for at least one line");
    b->max_lines = max_lines;
    b->max_bytes = max_bytes;
    b->lines = calloc(max_lines, sizeof *b->lines);
    b->lens = calloc(max_lines, sizeof *b->lens);
    if (b->lines && b->lens) return TS_OK;
    ts_line_batch_free(b);
    return ts_fail(err, TS_ENOMEM, "out of memory");
}

static void drop_lines(ts_line_batch *b) {
    for (size_t i = 0; i < b->n; i++) {
        free(b->lines[i]);
        b->lines[i] = NULL;
    }
    b->n = 0;
}

ts_status ts_line_batch_read(ts_line_batch *b, ts_line_reader *r, int *eof, ts_error *err) {
    drop_lines(b);
    size_t bytes = 0;
    while (b->n < b->max_lines && (!b->max_bytes || bytes < b->max_bytes)) {
        const char *line;
        size_t len;
        ts_status st = ts_line_reader_next(r, &line, &len, err);
        if (st == TS_ENOTFOUND) {
            *eof = 1;
            return TS_OK;
        }
        if (st) return st;
        char *copy = malloc(len + 1);
        if (!copy) return ts_fail(err, TS_ENOMEM, "out of memory");
        memcpy(copy, line, len + 1); /* the reader's line is NUL-terminated */
        b->lines[b->n] = copy;
        b->lens[b->n++] = len;
        bytes += len;
    }
    return TS_OK;
}

void ts_line_batch_free(ts_line_batch *b) {
    if (b->lines) drop_lines(b);
    free(b->lines);
    free(b->lens);
    memset(b, 0, sizeof *b);
}

typedef struct map_job {
    const ts_line_batch *batch;
    ts_line_map_fn map;
    void *ctx;
    ts_status *status; /* per slot */
    ts_error *errs;    /* per slot */
} map_job;

static void map_item(void *ctx, size_t i, int worker) {
    map_job *j = ctx;
    j->status[i] = j->map(j->ctx, i, worker, j->batch->lines[i], j->batch->lens[i], &j->errs[i]);
}

ts_status ts_map_lines(ts_line_reader *r, ts_pool *pool, size_t max_lines, size_t max_bytes, ts_line_map_fn map,
                       ts_line_consume_fn consume, void *ctx, ts_error *err) {
    ts_line_batch b;
    ts_status st = ts_line_batch_init(&b, max_lines, max_bytes, err);
    map_job j = {&b, map, ctx, NULL, NULL};
    if (!st) {
        j.status = calloc(max_lines, sizeof *j.status);
        j.errs = calloc(max_lines, sizeof *j.errs);
        if (!j.status || !j.errs) st = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    uint64_t record = 0;
    for (int eof = 0; !st && !eof; record += b.n) {
        st = ts_line_batch_read(&b, r, &eof, err);
        if (!st) ts_pool_run(pool, b.n, map_item, &j);
        for (size_t i = 0; !st && i < b.n; i++) st = consume(ctx, i, record + i, j.status[i] ? &j.errs[i] : NULL, err);
    }
    free(j.status);
    free(j.errs);
    ts_line_batch_free(&b);
    return st;
}
