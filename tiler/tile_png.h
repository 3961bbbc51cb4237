/* Writing tiles as PNG files (for inspection and for the Pillow cross-checks). */
#ifndef TS_TILER_TILE_PNG_H
#define TS_TILER_TILE_PNG_H

#include "../core/buf.h"
#include "tiler.h"

/* Encode an RGB8 image as PNG into `out` (appended). */
ts_status ts_png_encode_rgb(const uint8_t *rgb, int width, int height, ts_buf *out, ts_error *err);

/* Write tile k of `tiles` to "<dir>/<base>.<k+1>.png" for every tile (the
 * thumbnail last), each atomically. */
ts_status ts_write_tile_pngs(const ts_tiles *tiles, const char *dir, const char *base, ts_error *err);

#endif
