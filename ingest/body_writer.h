/* Writes downloaded bodies to files on background threads, so file-system
 * latency (open, rename) overlaps the network loop instead of stalling it.
 * Each body is written with ts_write_file_atomic (temporary name, rename, no
 * per-file fsync: the journal fsyncs in batches); only then is its
 * URL appended to the journal (if any), so a journaled "ok" always has its
 * whole file. Bounded: submit blocks while `queue_cap` bodies wait. */
#ifndef TS_INGEST_BODY_WRITER_H
#define TS_INGEST_BODY_WRITER_H

#include "core/buf.h"
#include "core/error.h"
#include "ingest/download.h"

typedef struct ts_body_writer ts_body_writer;

/* `journal` may be NULL; it must outlive the writer and is used only under
 * the writer's lock (journal other results through ts_body_writer_journal). */
ts_status ts_body_writer_open(ts_body_writer **out, int threads, size_t queue_cap, ts_journal *journal,
                              ts_error *err);
/* Queue `*body` for `path`, taking its bytes, and journal `r` once written.
 * *body is left empty or swapped for the (empty) buffer of a body already
 * written, to be reused. Fails when an earlier write failed. */
ts_status ts_body_writer_submit(ts_body_writer *w, const char *path, ts_buf *body,
                                const ts_download_result *r, ts_error *err);
/* Journal a result that has no file (a failure), under the same lock. */
ts_status ts_body_writer_journal(ts_body_writer *w, const ts_download_result *r, ts_error *err);
/* Wait for every queued body, stop the threads, free. Returns the first
 * write or journal error of the whole run. */
ts_status ts_body_writer_close(ts_body_writer *w, ts_error *err);

#endif
