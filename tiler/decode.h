/* Decoding encoded images (JPEG, PNG, WebP, GIF) to 8-bit RGB.
 *
 * The default conversion is Pillow's `Image.open(f).convert('RGB')`:
 *  - alpha is dropped, not composited;
 *  - palette and gray are expanded; 16-bit samples are reduced like Pillow;
 *  - EXIF orientation is NOT applied;
 *  - CMYK/YCCK JPEGs are converted as Pillow does (Adobe inverted CMYK);
 *  - animations give their first frame.
 * Options select the alternatives explicitly, never silently.
 */
#ifndef TS_TILER_DECODE_H
#define TS_TILER_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

typedef enum ts_image_format {
    TS_FMT_UNKNOWN = 0,
    TS_FMT_JPEG,
    TS_FMT_PNG,
    TS_FMT_WEBP,
    TS_FMT_GIF,
} ts_image_format;

/* Pillow's Image.MAX_IMAGE_PIXELS * 2: the size at which Pillow refuses. */
#define TS_DEFAULT_MAX_PIXELS 178956970ull

typedef struct ts_decode_options {
    uint64_t max_pixels;   /* refuse larger images before allocating; 0 = default */
    int apply_exif_orientation; /* rotate/flip per EXIF Orientation (JPEG, PNG eXIf, WebP EXIF) */
    int alpha_on_white;    /* composite alpha over white instead of dropping it */
    /* Fast mode (JPEG only): when both are > 0, decode with libjpeg-turbo's
     * DCT scaling to the smallest scale whose output is still >= this size in
     * both dimensions. The caller then resizes exactly from the smaller image.
     * The reported original size (ts_decode_info) stays the full size. */
    int min_width;
    int min_height;
} ts_decode_options;

typedef struct ts_decode_info {
    ts_image_format format;
    int width, height;  /* size of the encoded image (after EXIF rotation if applied) */
    int had_alpha;
    int exif_orientation; /* 1..8, 0 when absent */
    int frames;           /* >1 for animations (first frame decoded) */
} ts_decode_info;

/* Sniff the format from magic bytes. */
ts_image_format ts_sniff_format(const uint8_t *data, size_t len);
const char *ts_format_name(ts_image_format f);
/* Media type ("image/jpeg") or NULL. */
const char *ts_format_mime(ts_image_format f);

/* Read just the header: format, size. Cheap; no pixel allocation. */
ts_status ts_probe_image(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err);

/* Decode to RGB8. `opts` may be NULL (defaults). `info` may be NULL.
 * Errors: TS_EFORMAT for corrupt/truncated data, TS_EUNSUPPORTED for a
 * format not handled, TS_ELIMIT for images over max_pixels. On error `out`
 * is left empty. */
ts_status ts_decode_image(const uint8_t *data, size_t len, const ts_decode_options *opts,
                          ts_image *out, ts_decode_info *info, ts_error *err);

#endif
