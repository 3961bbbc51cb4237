/* NVLM dynamic high-resolution tiling (the InternVL rule).
 *
 * Given an image of W x H: pick the grid (cols, rows) with 1 <= cols*rows <=
 * max_tiles whose aspect cols/rows is closest to W/H (ties: see ts_tiler_grid),
 * resize the whole image to (tile*cols, tile*rows) with Pillow-exact BICUBIC,
 * cut row-major tiles, and when there is more than one tile append a thumbnail
 * (the whole image resized to tile x tile). */
#ifndef TS_TILER_TILER_H
#define TS_TILER_TILER_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "image.h"

#define TS_TILE_SIZE_DEFAULT 448
#define TS_MAX_TILES_DEFAULT 6
#define TS_MAX_TILES_LIMIT 64

typedef struct ts_grid {
    int cols, rows;
} ts_grid;

/* The InternVL/NVLM `find_closest_aspect_ratio` rule:
 * candidates are all (c, r) with min_tiles <= c*r <= max_tiles, sorted by
 * c*r (stable within equal products in (c, r) generation order: for n in
 * 1..max, for i in 1..n, for j in 1..n, keep i*j in [min,max], dedupe, sort
 * by product). For each, diff = |W/H - c/r| (doubles). A strictly smaller
 * diff wins; on an exact tie the later candidate replaces the best only if
 * W*H > 0.5 * tile^2 * c * r. */
ts_grid ts_tiler_grid(int width, int height, int min_tiles, int max_tiles, int tile_size);

/* Pillow-exact `Image.resize((w, h), Image.BICUBIC)` of an RGB8 image.
 * `scratch` is optional reusable memory (may be NULL). */
ts_status ts_resize_bicubic(const ts_image *src, int out_w, int out_h, ts_image *dst,
                            ts_error *err);

typedef struct ts_tiler_options {
    int tile_size;  /* default 448 */
    int max_tiles;  /* default 6 */
    int min_tiles;  /* default 1 */
    int thumbnail;  /* append a thumbnail when tiles > 1 (default 1) */
} ts_tiler_options;

void ts_tiler_options_default(ts_tiler_options *o);

/* The tiles of one image: `count` tiles of tile_size^2 RGB8 each, row-major
 * grid tiles first, the thumbnail last. */
typedef struct ts_tiles {
    ts_grid grid;
    int count;
    int tile_size;
    uint8_t *rgb; /* count * tile_size * tile_size * 3 bytes, owned */
} ts_tiles;

ts_status ts_tile_image(const ts_image *img, const ts_tiler_options *opts, ts_tiles *out,
                        ts_error *err);
/* The same with the grid given: used when the grid was chosen from the
 * original size but the pixels were decoded smaller (fast JPEG mode). */
ts_status ts_tile_image_grid(const ts_image *img, ts_grid grid, const ts_tiler_options *opts, ts_tiles *out,
                             ts_error *err);
void ts_tiles_free(ts_tiles *t);

/* The 1-D tile tag of tile k (0-based) of n: "<tile_{k+1}>" for grid tiles,
 * "<tile_global_thumbnail>" for the last one (also when n == 1). With
 * max_tiles >= 10 indices are zero-padded to two digits ("<tile_01>") as in
 * Megatron's NVLM code. Writes into `out` (>= 32 bytes); returns out. */
const char *ts_tile_tag(int k, int n, int max_tiles, char *out, size_t out_size);

/* Normalize tiles to CHW planes with the InternViT mean/std:
 * (x/255 - mean[c]) / std[c], mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225). */
typedef enum ts_pixel_dtype {
    TS_PIXEL_U8 = 0, /* HWC uint8, as decoded */
    TS_PIXEL_F32,
    TS_PIXEL_F16,
    TS_PIXEL_BF16,
} ts_pixel_dtype;

size_t ts_pixel_dtype_size(ts_pixel_dtype t);
const char *ts_pixel_dtype_name(ts_pixel_dtype t);
/* One tile (tile_size^2 * 3 u8, HWC) to 3 * tile_size^2 values in CHW. */
void ts_normalize_tile(const uint8_t *rgb, int tile_size, ts_pixel_dtype dtype, void *out);

#endif
