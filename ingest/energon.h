/* Megatron-Energon dataset writer: sample records in, a dataset folder that
 * Megatron-LM's NVLM recipe loads out (layout in docs/ENERGON.md):
 *
 *   DIR/<prefix>-000000.tar        uncompressed ustar, samples contiguous
 *   DIR/<prefix>-000000.tar.idx    count+1 u64 LE offsets of each sample's first header
 *   DIR/.nv-meta/dataset.yaml      sample type + field_map (or sample_loader.py)
 *   DIR/.nv-meta/split.yaml        train/val/test shard lists
 *   DIR/.nv-meta/.info.yaml/.json  shard_counts
 *   DIR/stats/<shard>.json         per-shard counts, bytes, seconds, xxh3
 *   DIR/stats/summary.json         records in = written + dropped by reason
 *
 * A dataset holds one sample type. Shards are finalized atomically when the
 * next sample would push them past the size target. The metadata is written
 * by ts_energon_finish(); .info.yaml comes last and marks a complete dataset.
 * Memory: one sample plus about 16 bytes per key written: uniqueness is
 * checked on xxh3-64 of the keys (a false "duplicate" needs a 64-bit
 * collision: about 3e-4 odds at 100 million keys).
 */
#ifndef TS_INGEST_ENERGON_H
#define TS_INGEST_ENERGON_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "ingest/sample.h"

typedef enum ts_energon_type {
    TS_ENERGON_CAPTION = 0, /* CaptioningSample: <key>.<img> + <key>.txt */
    TS_ENERGON_VQA,         /* VQASample: <key>.<img> + <key>.json {question, answers, answer_weights} */
    TS_ENERGON_OCR,         /* OCRSample: <key>.<img> + <key>.txt */
    TS_ENERGON_INTERLEAVED, /* SimilarityInterleavedSample: <key>.json {conversations, images} + <key>.imgN.<img> */
    TS_ENERGON_TYPE_COUNT
} ts_energon_type;

const char *ts_energon_type_name(ts_energon_type t);    /* "caption" "vqa" "ocr" "interleaved" */
const char *ts_energon_sample_class(ts_energon_type t); /* "CaptioningSample" ... */
int ts_energon_type_parse(const char *name, ts_energon_type *out); /* 0 ok, -1 unknown */
/* The dataset type a record's task belongs in (multi_turn and text: interleaved). */
ts_energon_type ts_energon_type_for_task(ts_sample_task task);

#define TS_ENERGON_DEFAULT_SHARD_BYTES 1000000000ull

typedef struct ts_energon_options {
    ts_energon_type type;
    uint64_t shard_bytes; /* size target per shard; a lone larger sample gets its own shard */
    const char *prefix;   /* shard names "<prefix>-NNNNNN.tar"; [A-Za-z0-9_-], default "shard" */
    /* Split: shard i (0-based) goes to test when test_every > 0 and
     * (i+1) % test_every == 0, else to val when val_every > 0 and
     * (i+1) % val_every == 0, else to train. 0/0 (default): all train. */
    unsigned val_every, test_every;
    /* Interleaved: most images per sample. Default 1: NVLM SFT with tile tags
     * asserts one image per sample. 0: no limit. */
    unsigned max_images;
    /* Keys and the prefix must not contain "llava", "docvqa", "pdfa" or
     * "multi": Megatron picks encoders by these substrings of __key__. Set to
     * route on purpose. */
    int allow_routing_substrings;
    FILE *report; /* one JSON line per finalized shard, then the summary; may be NULL */
} ts_energon_options;

void ts_energon_options_default(ts_energon_options *o);

typedef struct ts_energon_writer ts_energon_writer;

/* Create DIR (and DIR/.nv-meta, DIR/stats). Fails with TS_EINVAL on bad
 * options and TS_EIO when DIR already holds a dataset (.nv-meta/.info.yaml). */
ts_status ts_energon_open(ts_energon_writer **out, const char *dir, const ts_energon_options *o,
                          ts_error *err);

/* Reasons the writer itself drops a record for. */
#define TS_DROP_INVALID "invalid_record"   /* ts_sample_check failed */
#define TS_DROP_TYPE "type_mismatch"       /* task does not fit the dataset's sample type */
#define TS_DROP_DUP_KEY "duplicate_key"    /* key already written to this dataset */
#define TS_DROP_ROUTING "routing_key"      /* key holds an encoder-routing substring */
#define TS_DROP_RULE "megatron_rule"       /* Megatron's TaskEncoder would reject or skip it */
#define TS_DROP_IMAGES "too_many_images"   /* over max_images */

/* Write one record. Returns TS_OK both when it was written (*dropped = NULL)
 * and when the writer refused it (*dropped = one of the reasons above, the
 * drop is counted, and `err` says why). Any other status is fatal (I/O). */
ts_status ts_energon_write(ts_energon_writer *w, const ts_sample *s, const char **dropped,
                           ts_error *err);
/* Count `n` records dropped upstream (download outcome, dedup, parse error)
 * so the summary reconciles. `reason`: 1..47 bytes of [a-z0-9_], else it is
 * counted as "other". */
void ts_energon_drop(ts_energon_writer *w, const char *reason, uint64_t n);

typedef struct ts_energon_counts {
    uint64_t records_in, written, dropped, shards, bytes;
} ts_energon_counts;
void ts_energon_get_counts(const ts_energon_writer *w, ts_energon_counts *c);

/* Finalize the open shard and write the metadata and summary. */
ts_status ts_energon_finish(ts_energon_writer *w, ts_error *err);
/* Free; an unfinished shard's temporary file is removed. NULL is fine. */
void ts_energon_close(ts_energon_writer *w);

/* ---- resume and reservation (the ingest pipeline's checkpoints) ---- */

/* Reopen DIR, whose shards 0..n_shards-1 were finalized by an earlier run
 * with the same options, to continue with shard n_shards. The finished
 * shards are scanned (.tar.idx and member headers only) to restore the key
 * set, counts, bytes and image extensions; `expect_written` (the caller's
 * record of their sample total) must match (TS_EFORMAT otherwise). What a
 * killed run left behind is removed: temporary files, shards numbered
 * n_shards or more, and .nv-meta/.info.yaml (the dataset is incomplete
 * again until ts_energon_finish). The totals of dropped records are restored
 * from reasons/counts (n_reasons entries). */
ts_status ts_energon_resume(ts_energon_writer **out, const char *dir, const ts_energon_options *o,
                            size_t n_shards, uint64_t expect_written, const char *const *reasons,
                            const uint64_t *counts, size_t n_reasons, ts_error *err);

/* Finalize the open shard now if `s` would not fit in it (*rotated = 1),
 * exactly as ts_energon_write would before writing `s`. A caller that must
 * act at shard boundaries (checkpoint) calls this before anything that
 * depends on `s` (dedup). A record the writer would refuse never rotates. */
ts_status ts_energon_reserve(ts_energon_writer *w, const ts_sample *s, int *rotated, ts_error *err);

/* Take back `n` drops counted under `reason` (a record dropped by an earlier
 * pass that a retry has now settled); never below zero. */
void ts_energon_undrop(ts_energon_writer *w, const char *reason, uint64_t n);

/* The drop totals by reason, sorted by name: fills up to `max` entries and
 * returns how many there are. Names stay valid while the writer lives and
 * no new reason is counted. */
size_t ts_energon_drop_reasons(const ts_energon_writer *w, const char **names, uint64_t *counts,
                               size_t max);

/* ---- records file -> dataset (ingest/energon_run.c; `tessera energon`) ----
 * `input` is either a binary records file (sample_codec) or JSON lines
 * (plain/.gz/.zst; "-" = stdin), each line a record in the JSON form or an
 * upstream drop report {"dropped": "<reason>", ...}. Relative image paths are
 * resolved against the input file's folder. With type_from_input, the
 * dataset type comes from the first record's task (not for stdin). A record
 * that cannot be parsed or loaded is dropped as "bad_record" and logged. */
typedef struct ts_energon_run_stats {
    ts_energon_counts counts;
    uint64_t refused; /* records dropped here or by the writer (not upstream reports) */
} ts_energon_run_stats;

ts_status ts_energon_run(const char *input, const char *dir, ts_energon_options *o, int type_from_input,
                         ts_energon_run_stats *stats, ts_error *err);

#endif
