/* `tessera tile` as a library call: stream images from files, directories
 * and archives through decode -> grid -> resize -> tiles (-> normalize), in
 * parallel, into a tile shard and/or PNG files, with one JSON line per image.
 *
 * Work proceeds in batches of `batch` images: read in input order, processed
 * by the thread pool, then written in input order, so outputs are
 * byte-identical for any thread count. Memory is bounded by the batch:
 * batch x (encoded image + compressed tiles) + threads x (decoded image +
 * resize buffers). */
#ifndef TS_TILER_TILE_RUN_H
#define TS_TILER_TILE_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../core/hash.h"
#include "decode.h"
#include "tiler.h"

typedef struct ts_tile_run_options {
    ts_tiler_options tiler;
    ts_decode_options decode; /* min_width/min_height are set per image in fast mode */
    ts_pixel_dtype dtype;     /* payload of the shard: u8 HWC or normalized CHW */
    int fast;                 /* JPEG: decode with DCT scaling before the exact resize */
    int threads;              /* <= 0: all CPUs */
    int batch;                /* images per batch; 0 = 8 x threads */
    int zstd_level;           /* 0 = TS_TILE_ZSTD_LEVEL_DEFAULT (1) */
    const char *shard_path;   /* NULL: no shard */
    const char *png_dir;      /* NULL: no PNGs; else DIR/<basename>.<k>.png */
    FILE *report;             /* JSON lines, one per image; NULL: none */
} ts_tile_run_options;

void ts_tile_run_options_default(ts_tile_run_options *o);

typedef struct ts_tile_run_stats {
    uint64_t images_ok;
    uint64_t images_failed;
    uint64_t tiles;
    uint64_t input_bytes;
    uint64_t shard_bytes;
    uint64_t shard_xxh3;
} ts_tile_run_stats;

/* Returns TS_OK when the run completed (some images may have failed: see
 * stats->images_failed and the report); an error only when no usable output
 * could be written (the shard is then not created). */
ts_status ts_tile_run(char *const *inputs, int ninputs, const ts_tile_run_options *opts,
                      ts_tile_run_stats *stats, ts_error *err);

/* One encoded image through decode -> grid -> resize -> tiles (-> normalize)
 * -> zstd, as each `tessera tile` worker does it, for stages with their own
 * input loop (pipeline/prepare.c). Uses o->tiler, o->decode, o->fast,
 * o->dtype, o->zstd_level; the payload is compressed only when o->shard_path
 * is set, and tile PNGs are written as o->png_dir/<png_base>.<k>.png when
 * both are set. `scratch` holds the normalized payload (one per thread);
 * `out->zframe` is reused across calls (free it with ts_buf_free). */
typedef struct ts_tiled_image {
    ts_decode_info info;    /* of the decoded image */
    ts_grid grid;
    int tiles;              /* thumbnail included */
    ts_hash128 content;     /* xxh3-128 of the encoded bytes */
    uint64_t payload_bytes; /* uncompressed */
    uint64_t payload_xxh3;
    ts_buf zframe;          /* the payload's zstd frame */
} ts_tiled_image;

ts_status ts_tile_encoded(const uint8_t *data, size_t len, const ts_tile_run_options *o, const char *png_base,
                          ts_buf *scratch, ts_tiled_image *out, ts_error *err);

/* Names accepted inside directories and archives: .jpg .jpeg .png .webp .gif. */
int ts_is_image_name(const char *name);

#endif
