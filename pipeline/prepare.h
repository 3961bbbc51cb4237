/* The prepare stage: one source's samples -> (a) a tile shard and (b) a
 * tokenized-sample file, the inputs of mixing, packing and feature
 * extraction (docs/PREPARE.md).
 *
 * Input: an Energon dataset folder (ingest/energon_reader.h; the chosen
 * split parts) or a binary sample-records file (ingest/sample.h). Each
 * sample, numbered by its ordinal in the input (0-based; the tokfile's
 * "source record"), goes through
 *   ts_sample_to_chat  (Megatron's NVLM TaskEncoder rules, pipeline/sample_chat.h)
 *   ts_chat_tokenize   (layout D/X/H, Megatron or HF form, max_len budget with
 *                       re-tiling 6 -> 4 -> 2 -> 1, tokenize/chat.h)
 * and each image it uses is tiled with the NVLM rule (ts_tile_encoded) into
 * the tile shard. Tile records are keyed by content, so an image used by
 * several samples is decoded and tiled once:
 *   "<xxh3-128 hex>"        the image tiled with at most max_tiles grid tiles
 *                           (written for every image, even when every use
 *                           was re-tiled);
 *   "<xxh3-128 hex>-<N>"    the same image re-tiled to N tiles (thumbnail
 *                           included), written only when a sample was re-tiled
 *                           and N differs from the first record's count.
 * The hex is the 32 lowercase digits of ts_hash128_hex, the same hash the
 * tokfile v2 stores per image, so a consumer finds a slot's tiles by key
 * "<hex>" when the record's tile count equals the slot's, else "<hex>-<tiles>".
 *
 * A sample is dropped (counted by reason, one JSON line on `report`) when
 *   megatron_rule   the TaskEncoder would refuse it (ts_sample_to_chat)
 *   over_limit      over max_len even with 1 tile per image, or > 64 images
 *   tokenize_error  any other tokenizer failure
 *   image_error     an image it uses does not decode or tile (not checked
 *                   with tiles off)
 *   bad_sample      its Energon members are unusable (missing member, bad
 *                   JSON, not an image...) while the shard itself is intact;
 *                   a damaged shard stops the run instead
 * Stats: in = kept + dropped, always.
 *
 * Threads and determinism: samples are processed in batches; conversion and
 * tokenization run in parallel, then the serial step decides which images
 * are new (in input order), tiling runs in parallel, and records are written
 * in input order. Output bytes do not depend on the thread count.
 *
 * Memory: batch x (one sample with its encoded images + its tokenized
 * result + the compressed tiles of its new images) + threads x (one decoded
 * image + 7 tiles, about W*H*3 + 4.2 MB at 448 px) + about 150 bytes per
 * tile record (seen-set entry; the tile shard writer's index entry and key)
 * + 8 bytes per kept sample (the tokfile index) + the tokenizer. */
#ifndef TS_PIPELINE_PREPARE_H
#define TS_PIPELINE_PREPARE_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "pipeline/sample_chat.h"
#include "tiler/tiler.h"
#include "tokenize/chat.h"

typedef struct ts_prepare_options {
    const ts_tokenizer *tokenizer; /* required; shared by the worker threads */
    ts_chat_layout layout;         /* default D */
    ts_chat_form form;             /* default megatron */
    int max_len;                   /* sequence budget; 0 = none */
    int32_t image_token_id;        /* Megatron <image>; default 151646 */
    ts_sample_chat_options chat;   /* seed, max_tiles (1..6), tile_size, VQASFT prompts */
    unsigned splits;               /* Energon split parts (TS_SPLIT_*); 0 = train */
    const char *tiles_path;        /* the tile shard; NULL = no tiles */
    const char *tok_path;          /* the tokfile (required) */
    const char *stats_path;        /* the stats JSON, written last; NULL = none */
    ts_pixel_dtype dtype;          /* tile payload; default uint8 HWC */
    int zstd_level;                /* 0 = TS_TILE_ZSTD_LEVEL_DEFAULT (1) */
    int threads;                   /* <= 0: all CPUs */
    int batch;                     /* samples per batch; 0 = 16 x threads */
    FILE *report;                  /* one JSON line per dropped sample; may be NULL */
} ts_prepare_options;

void ts_prepare_options_default(ts_prepare_options *o);

/* Reasons a sample is dropped for (see above). */
typedef enum ts_prepare_drop {
    TS_PREP_DROP_RULE = 0,
    TS_PREP_DROP_LIMIT,
    TS_PREP_DROP_TOKENIZE,
    TS_PREP_DROP_IMAGE,
    TS_PREP_DROP_SAMPLE,
    TS_PREP_DROP_COUNT
} ts_prepare_drop;
const char *ts_prepare_drop_name(ts_prepare_drop d); /* "megatron_rule" ... */

typedef struct ts_prepare_stats {
    uint64_t in, kept, dropped;
    uint64_t dropped_by[TS_PREP_DROP_COUNT];
    uint64_t tokens;        /* ids written to the tokfile */
    uint64_t length;        /* sequence positions, image tokens expanded */
    uint64_t images;        /* image uses in kept samples */
    uint64_t retiled;       /* image uses re-tiled to fit max_len */
    uint64_t tile_records;  /* records in the tile shard */
    uint64_t tiles;         /* tiles in the tile shard */
    uint64_t distinct_images; /* "<hex>" records: images tiled once however often used */
    uint64_t tiles_bytes, tok_bytes;
    double seconds_read, seconds_tokenize, seconds_tile, seconds_write, seconds_total;
} ts_prepare_stats;

/* Run the stage on `input` (a folder: Energon; a file: sample records).
 * Outputs are written atomically (tiles, then tokfile, then stats, whose
 * presence marks a complete run): each exists complete or not at all. An
 * error (unreadable input, I/O) leaves no output; dropped samples are not
 * errors. */
ts_status ts_prepare_run(const char *input, const ts_prepare_options *o, ts_prepare_stats *stats, ts_error *err);

/* The stats as a JSON object ("in", "kept", "dropped", "dropped_by_reason",
 * "tokens", ..., "seconds": {"read", "tokenize", "tile", "write", "total"}). */
typedef struct cJSON cJSON;
cJSON *ts_prepare_stats_json(const ts_prepare_stats *s);

#endif
