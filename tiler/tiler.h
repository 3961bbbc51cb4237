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

/* The InternVL/NVLM `find_closest_aspect_ratio` rule, bit-exact:
 * candidates are all (c, r) with min_tiles <= c*r <= max_tiles (c = width
 * multiplier, r = height multiplier), in InternVL's order: the CPython set of
 * those tuples, stably sorted by c*r, so equal products keep CPython 3.11's
 * set iteration order (e.g. max 6: 1x1 1x2 2x1 3x1 1x3 4x1 1x4 2x2 1x5 5x1
 * 6x1 2x3 1x6 3x2; docs/TILING.md). For each, diff = |W/H - c/r| (doubles).
 * A strictly smaller diff wins; on an exact tie the later candidate replaces
 * the best only if W*H > 0.5 * tile^2 * c * r (compared exactly).
 * Returns {0, 0} for invalid arguments (a size or tile_size < 1, min_tiles <
 * 1, max_tiles < min_tiles or > TS_MAX_TILES_LIMIT). */
ts_grid ts_tiler_grid(int width, int height, int min_tiles, int max_tiles, int tile_size);

/* The candidate grids in the order above. Writes up to `cap` of them to
 * `out` and returns how many there are (at most TS_TILER_MAX_CANDIDATES),
 * or -1 for invalid arguments or out of memory. */
#define TS_TILER_MAX_CANDIDATES 512
int ts_tiler_candidates(int min_tiles, int max_tiles, ts_grid *out, int cap);

/* Pillow-exact `Image.resize((w, h), Image.BICUBIC)` of an RGB8 image.
 * `dst` receives a new image (free with ts_image_free); on error it is left
 * empty. Errors: TS_EINVAL (empty source, size < 1), TS_ENOMEM, TS_ELIMIT. */
ts_status ts_resize_bicubic(const ts_image *src, int out_w, int out_h, ts_image *dst,
                            ts_error *err);
/* The same resize to (tile * cols, tile * rows), written straight as its
 * cols x rows tiles (row-major, each tile x tile x 3 bytes HWC) into `out`,
 * which must hold cols * rows * tile * tile * 3 bytes: the bytes of
 * ts_resize_bicubic cropped into tiles, without the whole resized image. */
ts_status ts_resize_bicubic_tiles(const ts_image *src, int tile, int cols, int rows, uint8_t *out,
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

/* `opts` may be NULL (defaults). Errors: TS_EINVAL for bad options or an
 * empty image, TS_ENOMEM; `out` is left empty on error. */
ts_status ts_tile_image(const ts_image *img, const ts_tiler_options *opts, ts_tiles *out,
                        ts_error *err);
/* The same with the grid given: used when the grid was chosen from the
 * original size but the pixels were decoded smaller (fast JPEG mode). */
ts_status ts_tile_image_grid(const ts_image *img, ts_grid grid, const ts_tiler_options *opts, ts_tiles *out,
                             ts_error *err);
void ts_tiles_free(ts_tiles *t);

/* The 1-D tile tag of tile k (0-based) of n: "<tile_{k+1}>" for grid tiles,
 * "<tile_global_thumbnail>" for the thumbnail (the last tile when
 * has_thumbnail) and for a single-tile image, as NVLM tags them. With
 * max_tiles >= 10 indices are zero-padded to two digits ("<tile_01>") as in
 * Megatron's NVLM code. Writes into `out` (>= 32 bytes); returns out. */
const char *ts_tile_tag(int k, int n, int has_thumbnail, int max_tiles, char *out, size_t out_size);

/* Normalize tiles to CHW planes with the InternViT mean/std:
 * (x/255 - mean[c]) / std[c], mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
 * F32 is bit-identical to torchvision ToTensor + Normalize on CPU: x/255 in
 * float32, then (x - mean) / std in float32 with mean/std rounded to float32.
 * F16 and BF16 are that float32 rounded to nearest, ties to even (as
 * torch's .half() / .bfloat16()); values are stored as raw uint16 bits. */
typedef enum ts_pixel_dtype {
    TS_PIXEL_U8 = 0, /* HWC uint8, as decoded */
    TS_PIXEL_F32,
    TS_PIXEL_F16,
    TS_PIXEL_BF16,
} ts_pixel_dtype;

/* Bytes per value (1, 4, 2, 2); name: "uint8", "float32", "float16", "bfloat16". */
size_t ts_pixel_dtype_size(ts_pixel_dtype t);
const char *ts_pixel_dtype_name(ts_pixel_dtype t);
/* One tile (tile_size^2 * 3 u8, HWC) to 3 * tile_size^2 values in CHW
 * (TS_PIXEL_U8 copies the HWC bytes unchanged). */
void ts_normalize_tile(const uint8_t *rgb, int tile_size, ts_pixel_dtype dtype, void *out);

/* float32 -> IEEE half / bfloat16 bits, round to nearest even (NaN stays NaN). */
uint16_t ts_f32_to_f16(float f);
uint16_t ts_f32_to_bf16(float f);

#endif
