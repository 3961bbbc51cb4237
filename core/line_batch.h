/* Lines in bounded batches, and the ordered parallel map that stages stream
 * JSON lines through.
 *
 * A stage that turns each input line into one output record reads a batch of
 * lines (owned copies, so they outlive the reader's buffer), maps the batch on
 * the pool, then consumes the results in input order: ts_map_lines() is that
 * loop. Output bytes never depend on the thread count (see pool.h). */
#ifndef TS_CORE_LINE_BATCH_H
#define TS_CORE_LINE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "io.h"
#include "pool.h"

/* Up to max_lines lines, NUL-terminated copies; lines[i] has lens[i] bytes. */
typedef struct ts_line_batch {
    char **lines;
    size_t *lens;
    size_t n; /* lines in the batch */
    size_t max_lines;
    size_t max_bytes; /* a batch ends once it holds this many bytes; 0: no limit */
} ts_line_batch;

/* max_lines must be at least 1. */
ts_status ts_line_batch_init(ts_line_batch *b, size_t max_lines, size_t max_bytes, ts_error *err);
/* Free the previous batch's lines, then read the next batch: lines until
 * max_lines, max_bytes or the end of input. *eof becomes 1 at the end of
 * input (the batch may still hold lines). On a read error the batch keeps the
 * lines read before it. */
ts_status ts_line_batch_read(ts_line_batch *b, ts_line_reader *r, int *eof, ts_error *err);
/* Frees the lines and the arrays; a zeroed batch is fine. */
void ts_line_batch_free(ts_line_batch *b);

/* map(ctx, slot, worker, line, len, err) runs on the pool for each line of a
 * batch; slot is in [0, max_lines), the place of the line in its batch, and
 * err is that slot's own. A failure concerns that line alone: it goes to
 * consume, and the run goes on. */
typedef ts_status (*ts_line_map_fn)(void *ctx, size_t slot, int worker, const char *line, size_t len,
                                    ts_error *err);
/* Called in input order once the batch is mapped; record counts the lines
 * from 0 across batches; failed is NULL, or the map's error for this line.
 * A non-zero status stops the run and is returned. */
typedef ts_status (*ts_line_consume_fn)(void *ctx, size_t slot, uint64_t record, const ts_error *failed,
                                        ts_error *err);

/* Every line of r, in batches of at most max_lines lines / max_bytes bytes
 * (0: no byte limit): map each batch on the pool, then consume it in order.
 * Stops at the first read error or consume failure; the slots after a failed
 * one in that batch are not consumed. */
ts_status ts_map_lines(ts_line_reader *r, ts_pool *pool, size_t max_lines, size_t max_bytes, ts_line_map_fn map,
                       ts_line_consume_fn consume, void *ctx, ts_error *err);

#endif
