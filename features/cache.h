/* The ViT feature cache: per image, the encoder output of all its tiles,
 * keyed by (image content hash, tiling parameters, model hash), so every
 * epoch and experiment reads features instead of running the encoder.
 *
 * A cache is a directory of shards (docs/FEATURES.md has the byte layout):
 *   feat-NNNNNN.bin       payloads back to back, each 64-byte aligned
 *   feat-NNNNNN.idx.json  the shard's index, written (atomically) after the
 *                         .bin is complete: its presence is the commit mark
 * Payload of an image with n tiles, tokens x dim each:
 *   bf16      n*tokens*dim u16 (bf16 bits, little-endian)
 *   fp8_e4m3  n*tokens*dim u8 (OCP e4m3fn), then n*tokens f32 per-token
 *             scales: value = e4m3 * scale, scale = max|x| / 448 of the token
 * Each entry carries the xxh3-64 of its payload; each index the xxh3-64 and
 * size of its .bin. Writing again into a cache skips the keys it holds
 * (resume), and new shards get new numbers. */
#ifndef TS_FEATURES_CACHE_H
#define TS_FEATURES_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"
#include "../core/hash.h"
#include "../tiler/tile_shard.h"

/* The tiling part of the key of a tile shard record's features:
 * "t<tile size>-m<max tiles>-<pixel dtype>", plus "-n<tiles>" when the
 * record's grid is not the one max tiles gives (a re-tiled image). */
#define TS_FEAT_TILING_MAX 64
void ts_feat_tiling(const ts_tile_shard_params *p, const ts_tile_record *rec, char *out, size_t cap);

typedef enum ts_feat_dtype { TS_FEAT_BF16 = 0, TS_FEAT_FP8_E4M3 } ts_feat_dtype;

const char *ts_feat_dtype_name(ts_feat_dtype t); /* "bf16", "fp8_e4m3" */
/* Parse a name; returns -1 when unknown. */
int ts_feat_dtype_parse(const char *name);

/* OCP fp8 e4m3fn: round to nearest even, saturating at +-448. */
uint8_t ts_f32_to_e4m3(float x);
float ts_e4m3_to_f32(uint8_t v);

/* Bytes of the payload of `tiles` tiles. */
size_t ts_feat_payload_bytes(ts_feat_dtype t, int tiles, int tokens, int dim);

typedef struct ts_feat_entry {
    ts_hash128 image;   /* xxh3-128 of the original encoded image */
    const char *tiling; /* e.g. "t448-m6-uint8" */
    ts_hash128 model;   /* ts_vit_model_hash */
    const char *source; /* the input's key (file name), informational */
    int tiles, tokens, dim;
    ts_feat_dtype dtype;
    int shard;          /* shard number */
    uint64_t offset;    /* of the payload in the shard's .bin */
    uint64_t bytes;
    uint64_t xxh3;      /* of the payload */
} ts_feat_entry;

/* ---- writing ---- */

typedef struct ts_feat_writer_options {
    ts_feat_dtype dtype;
    uint64_t shard_bytes; /* start a new shard past this size (0: 2 GiB) */
} ts_feat_writer_options;

typedef struct ts_feat_writer ts_feat_writer;

/* Creates `dir` when needed and loads the keys of its committed shards. */
ts_status ts_feat_writer_open(const char *dir, const ts_feat_writer_options *o,
                              ts_feat_writer **out, ts_error *err);
/* Entries already committed (before this run) in the directory. */
size_t ts_feat_writer_existing(const ts_feat_writer *w);
/* 1 when the key is in the cache (committed before, or added in this run). */
int ts_feat_writer_has(const ts_feat_writer *w, ts_hash128 image, const char *tiling,
                       ts_hash128 model);
/* Quantize and append one image's features (tiles x tokens x dim f32). */
ts_status ts_feat_writer_add(ts_feat_writer *w, ts_hash128 image, const char *tiling,
                             ts_hash128 model, const char *source, int tiles, int tokens, int dim,
                             const float *features, ts_error *err);
/* Commit the open shard (if any) and free; *shards (may be NULL) gets the
 * number of shards this writer committed. On failure what was committed
 * before stays valid; the open shard is dropped. */
ts_status ts_feat_writer_close(ts_feat_writer *w, int *shards, ts_error *err);
/* Drop the open shard and free. NULL is fine. */
void ts_feat_writer_abort(ts_feat_writer *w);

/* ---- reading ---- */

typedef struct ts_feat_cache ts_feat_cache;

/* Load every committed shard's index of `dir` (checking each .bin's size). */
ts_status ts_feat_cache_open(const char *dir, ts_feat_cache **out, ts_error *err);
size_t ts_feat_cache_count(const ts_feat_cache *c);
const ts_feat_entry *ts_feat_cache_entry(const ts_feat_cache *c, size_t i);
/* TS_ENOTFOUND when absent. */
ts_status ts_feat_cache_find(const ts_feat_cache *c, ts_hash128 image, const char *tiling,
                             ts_hash128 model, size_t *index);
/* Read entry i, check its xxh3 and write tiles*tokens*dim f32 to `out`. */
ts_status ts_feat_cache_read(ts_feat_cache *c, size_t i, float *out, ts_error *err);
/* Check every shard's whole-file xxh3 (slow: reads everything). */
ts_status ts_feat_cache_verify(ts_feat_cache *c, ts_error *err);
void ts_feat_cache_close(ts_feat_cache *c);

/* ---- `tessera features`: tile shards -> encoder -> cache ---- */

typedef struct ts_features_options {
    const char *model_dir;
    const char *cache_dir;
    int device;        /* ts_vit_device; -1: CUDA when a GPU is there, else the CPU */
    int batch;         /* tiles per forward */
    int threads;       /* CPU threads (<= 0: all) */
    ts_feat_dtype dtype;
    uint64_t shard_bytes;
} ts_features_options;

typedef struct ts_features_stats {
    uint64_t images, tiles, skipped, failed;
    int shards;
    int device; /* the one used */
} ts_features_stats;

/* Encode every image of the tile shards `inputs` not yet in the cache (key:
 * content hash, "t<tile>-m<max_tiles>-<pixel dtype>", model hash) and
 * commit the new shards. An image whose tiles cannot be read is counted in
 * stats->failed and reported; errors of the model, device or cache abort. */
ts_status ts_features_run(char *const *inputs, int ninputs, const ts_features_options *o,
                          ts_features_stats *stats, ts_error *err);

#endif
