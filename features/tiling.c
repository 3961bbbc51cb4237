/* The tiling part of a feature cache key (cache.h). */
#include <stdio.h>

#include "cache.h"

/* An image `prepare` re-tiled to fit a sample's budget sits in the same
 * shard as its full tiling, with the same content hash: "-n<tiles>" keeps
 * the two apart. */
void ts_feat_tiling(const ts_tile_shard_params *p, const ts_tile_record *rec, char *out, size_t cap) {
    int n = snprintf(out, cap, "t%d-m%d-%s", p->tile_size, p->max_tiles, ts_pixel_dtype_name(p->dtype));
    ts_grid g = ts_tiler_grid(rec->width, rec->height, 1, p->max_tiles, p->tile_size);
    if (n > 0 && (size_t)n < cap && (g.cols != rec->grid.cols || g.rows != rec->grid.rows))
        snprintf(out + n, cap - (size_t)n, "-n%d", rec->tiles);
}
