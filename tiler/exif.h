/* EXIF Orientation lookup and its application, as Pillow's
 * Image.getexif()[0x0112] and ImageOps.exif_transpose() do it. */
#ifndef TS_TILER_EXIF_H
#define TS_TILER_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "image.h"

/* Orientation (1..8) from a TIFF-structured EXIF block (optionally starting
 * with "Exif\0\0"): IFD0 tag 0x0112, any integer type, count 1. Returns 0 when
 * absent, malformed, or outside 1..8. */
int ts_exif_tiff_orientation(const uint8_t *tiff, size_t len);

/* Orientation from an encoded image's container: the first JPEG APP1 "Exif"
 * segment before the first scan, the last PNG eXIf chunk, the first WebP
 * EXIF chunk. GIF has none. 0 when absent. */
int ts_exif_orientation(const uint8_t *data, size_t len, ts_image_format fmt);

/* 1 when the orientation swaps width and height (5..8). */
int ts_exif_swaps_axes(int orientation);

/* Replace `img` by its transposition for `orientation` (Pillow's transpose
 * methods: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
 * 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90). 0 and 1 leave it unchanged. */
ts_status ts_exif_apply(ts_image *img, int orientation, ts_error *err);

#endif
