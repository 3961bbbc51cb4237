/* File I/O every stage shares: whole-file reads with a size cap, atomic
 * writers (temporary name, fsync, rename; a running xxh3-64 of the bytes), and
 * zstd-compressed block helpers.
 *
 * An atomic writer never leaves a partial file under the final name: until
 * ts_writer_commit() succeeds the data lives in "<path>.tmp-<pid>", and
 * ts_writer_abort() (or a crash) leaves at most that temporary behind. */
#ifndef TS_CORE_IO_H
#define TS_CORE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"

/* Read a whole file (or "-" for stdin) into `out` (appended). Fails with
 * TS_ELIMIT when it is larger than max_bytes. */
ts_status ts_read_file(const char *path, size_t max_bytes, ts_buf *out, ts_error *err);

typedef struct ts_writer ts_writer;

ts_status ts_writer_open(ts_writer **out, const char *path, ts_error *err);
ts_status ts_writer_write(ts_writer *w, const void *data, size_t n, ts_error *err);
/* Bytes written so far (the offset of the next write). */
uint64_t ts_writer_offset(const ts_writer *w);
/* xxh3-64 of everything written so far. */
uint64_t ts_writer_xxh3(const ts_writer *w);
/* Flush, fsync, rename to the final path, free. On failure the temporary is
 * removed and the writer is freed all the same. */
ts_status ts_writer_commit(ts_writer *w, ts_error *err);
/* Remove the temporary and free. NULL is fine. */
void ts_writer_abort(ts_writer *w);

/* Write a whole file in one call, atomically (temporary name, rename), with
 * no buffer of its own. durable = 0 leaves out the fsync: for many small
 * files whose completion is made durable elsewhere (the download journal
 * fsyncs in batches), where an fsync per file would cost more than the write. */
ts_status ts_write_file_atomic(const char *path, const void *data, size_t n, int durable, ts_error *err);

/* One-shot zstd for self-contained blocks (level 1..19; 3 is a good default). */
ts_status ts_zstd_compress(const void *src, size_t n, int level, ts_buf *out, ts_error *err);
/* Decompress a frame whose decompressed size must be exactly `expected`. */
ts_status ts_zstd_decompress(const void *src, size_t n, size_t expected, ts_buf *out,
                             ts_error *err);

/* Streaming line reader over "path" (or "-" for stdin) that decompresses
 * transparently when the bytes start with the zstd or gzip magic, whatever
 * the file name. Lines exclude the '\n' (and a trailing '\r'). */
typedef struct ts_line_reader ts_line_reader;
ts_status ts_line_reader_open(ts_line_reader **out, const char *path, ts_error *err);
/* Returns TS_OK with *line set (valid until the next call, NUL-terminated),
 * or TS_ENOTFOUND at the end of input. A line longer than
 * TS_LINE_MAX_BYTES fails with TS_ELIMIT. */
#define TS_LINE_MAX_BYTES ((size_t)1 << 30)
ts_status ts_line_reader_next(ts_line_reader *r, const char **line, size_t *len, ts_error *err);
/* 1-based number of the line last returned, for error messages. */
uint64_t ts_line_reader_line_number(const ts_line_reader *r);
void ts_line_reader_close(ts_line_reader *r);

/* mkdir -p. */
ts_status ts_mkdirs(const char *path, ts_error *err);

#endif
