/* Internal contract between ts_decode_image (decode.c) and the per-format
 * decoders. Not part of the public tiler API. */
#ifndef TS_TILER_DECODE_INTERNAL_H
#define TS_TILER_DECODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* A format decoder's result: Pillow's convert('RGBA') when channels == 4
 * (the image has an alpha channel or a transparency key), otherwise its
 * convert('RGB'). The RGB of the 4-channel form always equals convert('RGB'). */
typedef struct ts_pixels {
    int width, height, channels;
    uint8_t *data; /* width * height * channels bytes, owned */
} ts_pixels;

typedef struct ts_decode_request {
    uint64_t max_pixels; /* never 0 here */
    /* JPEG DCT scaling target in stored (pre-EXIF-rotation) orientation; 0 = full size. */
    int min_width, min_height;
} ts_decode_request;

/* TS_ELIMIT when width*height exceeds max_pixels; TS_EFORMAT on a zero size. */
ts_status ts_decode_check_size(const char *fmt, uint64_t width, uint64_t height,
                               uint64_t max_pixels, ts_error *err);
ts_status ts_pixels_alloc(ts_pixels *p, int width, int height, int channels, ts_error *err);
void ts_pixels_free(ts_pixels *p);

/* Probes fill info->format, width, height, had_alpha, frames (stored size). */
ts_status ts_probe_jpeg(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err);
ts_status ts_probe_png(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err);
ts_status ts_probe_webp(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err);
ts_status ts_probe_gif(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err);

/* Decoders fill `out` and info->width, height, had_alpha, frames. */
ts_status ts_decode_jpeg(const uint8_t *data, size_t len, const ts_decode_request *req,
                         ts_pixels *out, ts_decode_info *info, ts_error *err);
ts_status ts_decode_png(const uint8_t *data, size_t len, const ts_decode_request *req,
                        ts_pixels *out, ts_decode_info *info, ts_error *err);
ts_status ts_decode_webp(const uint8_t *data, size_t len, const ts_decode_request *req,
                         ts_pixels *out, ts_decode_info *info, ts_error *err);
ts_status ts_decode_gif(const uint8_t *data, size_t len, const ts_decode_request *req,
                        ts_pixels *out, ts_decode_info *info, ts_error *err);

#endif
