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

/* The same, also telling whether IFD0 has tag 0x0112 at all (any type or
 * count): in Pillow that is what stops the XMP fallback. */
int ts_exif_tiff_lookup(const uint8_t *tiff, size_t len, int *present);

/* Orientation from an encoded image's container, where Pillow 9.4's
 * getexif() finds it: the first JPEG APP1 "Exif" segment before the first
 * scan; the first WebP EXIF chunk; for PNG see ts_exif_png_orientation. GIF
 * has none. 0 when absent. */
int ts_exif_orientation(const uint8_t *data, size_t len, ts_image_format fmt);

/* PNG: the last eXIf chunk, else the last "Raw profile type exif" text
 * (tEXt/zTXt/iTXt, hex after its third line); when neither has tag 0x0112,
 * the first `tiff:Orientation="N"` or `tiff:Orientation>N` in the last
 * "XML:com.adobe.xmp" text. */
int ts_exif_png_orientation(const uint8_t *data, size_t len);

/* 1 when the orientation swaps width and height (5..8). */
int ts_exif_swaps_axes(int orientation);

/* Replace `img` by its transposition for `orientation` (Pillow's transpose
 * methods: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
 * 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90). 0 and 1 leave it unchanged. */
ts_status ts_exif_apply(ts_image *img, int orientation, ts_error *err);

#endif
