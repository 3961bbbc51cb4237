/* ts_decode_image: options, format dispatch, alpha handling and EXIF
 * orientation around the per-format decoders. */
#include <stdlib.h>
#include <string.h>

#include "decode_internal.h"
#include "exif.h"

ts_status ts_decode_check_size(const char *fmt, uint64_t width, uint64_t height,
                               uint64_t max_pixels, ts_error *err) {
    if (width == 0 || height == 0)
        return ts_fail(err, TS_EFORMAT, "%s: invalid image size %llux%llu", fmt,
                       (unsigned long long)width, (unsigned long long)height);
    /* Both factors fit in 32 bits in every format handled here. */
    if (width > UINT32_MAX || height > UINT32_MAX || width * height > max_pixels)
        return ts_fail(err, TS_ELIMIT, "%s: %llux%llu pixels exceeds the limit of %llu", fmt,
                       (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)max_pixels);
    if (width > INT32_MAX || height > INT32_MAX)
        return ts_fail(err, TS_ELIMIT, "%s: %llux%llu is too large", fmt,
                       (unsigned long long)width, (unsigned long long)height);
    return TS_OK;
}

ts_status ts_pixels_alloc(ts_pixels *p, int width, int height, int channels, ts_error *err) {
    p->width = width;
    p->height = height;
    p->channels = channels;
    size_t n = (size_t)width * (size_t)height;
    p->data = n <= SIZE_MAX / 4 ? malloc(n * (size_t)channels) : NULL;
    if (!p->data)
        return ts_fail(err, TS_ENOMEM, "cannot allocate %dx%dx%d pixels", width, height,
                       channels);
    return TS_OK;
}

void ts_pixels_free(ts_pixels *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

/* Pillow's Image.alpha_composite(white, im) (AlphaComposite.c, 7 extra bits
 * of precision, rounded divisions by 255) for one channel over white. */
static uint8_t over_white(uint32_t c, uint32_t a) {
    if (a == 0)
        return 255;
    uint32_t blend = 255 * (255 - a);
    uint32_t outa255 = a * 255 + blend;
    uint32_t coef1 = a * 255 * 255 * (1u << 7) / outa255;
    uint32_t coef2 = 255 * (1u << 7) - coef1;
    uint32_t t = c * coef1 + 255 * coef2 + (0x80u << 7);
    return (uint8_t)((((t >> 8) + t) >> 8) >> 7);
}

/* Turn the decoder's pixels into the RGB image, in place: either drop alpha
 * (convert('RGB')) or composite over white. Takes ownership of px->data. */
static ts_status to_rgb(ts_pixels *px, int on_white, ts_image *out, ts_error *err) {
    size_t n = (size_t)px->width * (size_t)px->height;
    uint8_t *d = px->data;
    if (px->channels == 4) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *s = d + i * 4;
            uint8_t r = s[0], g = s[1], b = s[2], a = s[3];
            if (on_white) {
                r = over_white(r, a);
                g = over_white(g, a);
                b = over_white(b, a);
            }
            d[i * 3] = r;
            d[i * 3 + 1] = g;
            d[i * 3 + 2] = b;
        }
        uint8_t *shrunk = realloc(d, n * 3);
        if (shrunk)
            d = shrunk;
    } else if (px->channels != 3) {
        ts_pixels_free(px);
        return ts_fail(err, TS_EFORMAT, "decoder returned %d channels", px->channels);
    }
    out->width = px->width;
    out->height = px->height;
    out->rgb = d;
    px->data = NULL;
    return TS_OK;
}

ts_status ts_decode_image(const uint8_t *data, size_t len, const ts_decode_options *opts,
                          ts_image *out, ts_decode_info *info, ts_error *err) {
    ts_decode_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    memset(out, 0, sizeof *out);
    ts_decode_options o = {0};
    if (opts)
        o = *opts;
    if (o.min_width < 0 || o.min_height < 0)
        return ts_fail(err, TS_EINVAL, "decode: negative minimum size %dx%d", o.min_width,
                       o.min_height);
    if (!data || len == 0)
        return ts_fail(err, TS_EFORMAT, "decode: empty input (0 bytes)");
    ts_image_format fmt = ts_sniff_format(data, len);
    info->format = fmt;
    info->exif_orientation = ts_exif_orientation(data, len, fmt);
    int orient = o.apply_exif_orientation ? info->exif_orientation : 0;
    int swap = ts_exif_swaps_axes(orient);

    ts_decode_request req = {
        .max_pixels = o.max_pixels ? o.max_pixels : TS_DEFAULT_MAX_PIXELS,
        .min_width = swap ? o.min_height : o.min_width,
        .min_height = swap ? o.min_width : o.min_height,
    };
    if (req.min_width == 0 || req.min_height == 0)
        req.min_width = req.min_height = 0;
    ts_pixels px = {0};
    ts_status st;
    switch (fmt) {
    case TS_FMT_JPEG: st = ts_decode_jpeg(data, len, &req, &px, info, err); break;
    case TS_FMT_PNG: st = ts_decode_png(data, len, &req, &px, info, err); break;
    case TS_FMT_WEBP: st = ts_decode_webp(data, len, &req, &px, info, err); break;
    case TS_FMT_GIF: st = ts_decode_gif(data, len, &req, &px, info, err); break;
    default: {
        uint8_t h[4] = {0};
        memcpy(h, data, len < 4 ? len : 4);
        return ts_fail(err, TS_EUNSUPPORTED,
                       "decode: not a JPEG, PNG, WebP or GIF image (first bytes %02x %02x %02x %02x)",
                       h[0], h[1], h[2], h[3]);
    }
    }
    if (st != TS_OK) {
        ts_pixels_free(&px);
        return st;
    }
    st = to_rgb(&px, o.alpha_on_white, out, err);
    if (st == TS_OK)
        st = ts_exif_apply(out, orient, err);
    if (st != TS_OK) {
        ts_image_free(out);
        return st;
    }
    if (swap) {
        int t = info->width;
        info->width = info->height;
        info->height = t;
    }
    return TS_OK;
}
