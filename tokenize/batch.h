/* Whole-file drivers behind `tessera tokenize`: text in, id lines out, in
 * parallel batches whose output order never depends on the thread count. */
#ifndef TS_TOKENIZE_BATCH_H
#define TS_TOKENIZE_BATCH_H

#include <stdio.h>

#include "tokenize/tokenizer.h"

/* Append ids as decimal text separated by single spaces (no newline). */
ts_status ts_ids_format(const int32_t *ids, size_t n, ts_buf *out, ts_error *err);
/* Parse whitespace-separated decimal ids. */
ts_status ts_ids_parse(const char *s, size_t n, ts_ids *out, ts_error *err);

/* The ids of a whole file (or "-") as one line. */
ts_status ts_tokenize_text_file(const ts_tokenizer *tok, const char *path, FILE *out, ts_error *err);

/* Counters of a run; encode_cpu_seconds is the CPU time spent inside
 * ts_tokenizer_encode only (no JSON parsing, no output), summed over threads. */
typedef struct ts_tok_stats {
    uint64_t records, bytes, ids;
    double encode_cpu_seconds;
} ts_tok_stats;

/* One output line per JSON-lines record: the ids of string member `field`.
 * A bad record gives an empty line, a warning naming the record, and
 * *failed is incremented. threads <= 0: all CPUs. stats may be NULL. */
ts_status ts_tokenize_jsonl(const ts_tokenizer *tok, const char *path, const char *field, int threads,
                            FILE *out, size_t *failed, ts_tok_stats *stats, ts_error *err);

/* The reverse: each line of ids in `path` becomes one JSON line
 * {"text": "..."}; with raw != 0 the decoded bytes are written as they are,
 * one line per input line. */
ts_status ts_detokenize_lines(const ts_tokenizer *tok, const char *path, int raw, int skip_special,
                              FILE *out, ts_error *err);

#endif
