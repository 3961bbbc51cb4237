/* Dynamic high-resolution tiling: grid choice, one resize of the whole image,
 * row-major crops, the thumbnail last (InternVL `dynamic_preprocess`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiler.h"

/* Tiles larger than this are not a tiling configuration but a mistake. */
#define TS_TILE_SIZE_LIMIT 8192

void ts_tiler_options_default(ts_tiler_options *o) {
    o->tile_size = TS_TILE_SIZE_DEFAULT;
    o->max_tiles = TS_MAX_TILES_DEFAULT;
    o->min_tiles = 1;
    o->thumbnail = 1;
}

static ts_status check_options(const ts_tiler_options *o, ts_error *err) {
    if (o->tile_size < 1 || o->tile_size > TS_TILE_SIZE_LIMIT)
        return ts_fail(err, TS_EINVAL, "tiler: tile size %d outside 1..%d", o->tile_size,
                       TS_TILE_SIZE_LIMIT);
    if (o->min_tiles < 1 || o->max_tiles < o->min_tiles || o->max_tiles > TS_MAX_TILES_LIMIT)
        return ts_fail(err, TS_EINVAL,
                       "tiler: tile counts min %d max %d (need 1 <= min <= max <= %d)",
                       o->min_tiles, o->max_tiles, TS_MAX_TILES_LIMIT);
    return TS_OK;
}

static ts_status check_image(const ts_image *img, ts_error *err) {
    if (!img || !img->rgb || img->width < 1 || img->height < 1)
        return ts_fail(err, TS_EINVAL, "tiler: empty image");
    return TS_OK;
}

/* Defaults for NULL options, then the checks both entry points share. */
static ts_status prepare(const ts_image *img, const ts_tiler_options **opts, ts_tiler_options *defaults,
                         ts_tiles *out, ts_error *err) {
    memset(out, 0, sizeof *out);
    if (!*opts) {
        ts_tiler_options_default(defaults);
        *opts = defaults;
    }
    ts_status st = check_options(*opts, err);
    return st ? st : check_image(img, err);
}

ts_status ts_tile_image(const ts_image *img, const ts_tiler_options *opts, ts_tiles *out,
                        ts_error *err) {
    ts_tiler_options d;
    ts_status st = prepare(img, &opts, &d, out, err);
    if (st != TS_OK) return st;
    ts_grid g = ts_tiler_grid(img->width, img->height, opts->min_tiles, opts->max_tiles,
                              opts->tile_size);
    if (g.cols < 1) return ts_fail(err, TS_ENOMEM, "tiler: out of memory choosing the grid");
    return ts_tile_image_grid(img, g, opts, out, err);
}

ts_status ts_tile_image_grid(const ts_image *img, ts_grid g, const ts_tiler_options *opts,
                             ts_tiles *out, ts_error *err) {
    ts_tiler_options d;
    ts_status st = prepare(img, &opts, &d, out, err);
    if (st != TS_OK) return st;
    if (g.cols < 1 || g.rows < 1 || g.cols > TS_MAX_TILES_LIMIT || g.rows > TS_MAX_TILES_LIMIT ||
        g.cols * g.rows > TS_MAX_TILES_LIMIT)
        return ts_fail(err, TS_EINVAL, "tiler: grid %dx%d outside 1..%d tiles", g.cols, g.rows,
                       TS_MAX_TILES_LIMIT);
    int tile = opts->tile_size;
    int blocks = g.cols * g.rows;
    int count = blocks + (opts->thumbnail && blocks > 1);
    size_t tile_bytes = (size_t)tile * tile * 3;
    uint8_t *rgb = malloc((size_t)count * tile_bytes);
    if (!rgb) return ts_fail(err, TS_ENOMEM, "tiler: out of memory for %d tiles", count);

    st = ts_resize_bicubic_tiles(img, tile, g.cols, g.rows, rgb, err);
    if (st == TS_OK && count > blocks) /* the thumbnail */
        st = ts_resize_bicubic_tiles(img, tile, 1, 1, rgb + (size_t)blocks * tile_bytes, err);
    if (st != TS_OK) goto fail;
    out->grid = g;
    out->count = count;
    out->tile_size = tile;
    out->rgb = rgb;
    return TS_OK;
fail:
    free(rgb);
    return ts_error_context(err, "tiler: %dx%d image", img->width, img->height);
}

void ts_tiles_free(ts_tiles *t) {
    if (!t) return;
    free(t->rgb);
    memset(t, 0, sizeof *t);
}

const char *ts_tile_tag(int k, int n, int has_thumbnail, int max_tiles, char *out, size_t out_size) {
    if (n == 1 || (has_thumbnail && k == n - 1))
        snprintf(out, out_size, "<tile_global_thumbnail>");
    else
        snprintf(out, out_size, max_tiles >= 10 ? "<tile_%02d>" : "<tile_%d>", k + 1);
    return out;
}
