/* PNG via libspng, converted the way Pillow 9.4 opens a PNG and calls
 * convert('RGB') / convert('RGBA') (verified against Pillow):
 *   gray 1/2/4/8-bit -> v * 255/85/17/1; gray 16-bit -> mode "I", clipped
 *   to 255 (not scaled); RGB/RGBA/gray+alpha 16-bit -> the high byte;
 *   palette -> PLTE entry, an index past the PLTE gives (i, i, i) (Pillow's
 *   palette starts as a gray ramp); tRNS alpha per palette entry; a gray or
 *   RGB tRNS key makes pixels transparent whose converted 8-bit value equals
 *   the key's low byte (Pillow's rgbT2rgba masks the key with 0xff).
 * gAMA, iCCP and sBIT are ignored, as Pillow ignores them. */
#include <stdlib.h>
#include <string.h>

#include <spng.h>

#include "decode_internal.h"

/* Bounds libspng's memory use on metadata (text, ICC, unknown chunks). */
#define PNG_CHUNK_LIMIT (64u << 20)
#define PNG_CACHE_LIMIT (256u << 20)

typedef struct png_meta {
    struct spng_ihdr ihdr;
    struct spng_plte plte;
    struct spng_trns trns;
    int has_trns;
    uint8_t lut[256][4]; /* palette images: RGBA of each index */
} png_meta;

static void build_palette_lut(png_meta *m) {
    for (unsigned k = 0; k < 256; k++) {
        if (k < m->plte.n_entries) {
            m->lut[k][0] = m->plte.entries[k].red;
            m->lut[k][1] = m->plte.entries[k].green;
            m->lut[k][2] = m->plte.entries[k].blue;
        } else {
            m->lut[k][0] = m->lut[k][1] = m->lut[k][2] = (uint8_t)k;
        }
        m->lut[k][3] = m->has_trns && k < m->trns.n_type3_entries ? m->trns.type3_alpha[k] : 255;
    }
}

static ts_status spng_status(int rc, const char *what, ts_error *err) {
    ts_status code = rc == SPNG_EMEM ? TS_ENOMEM : TS_EFORMAT;
    if (rc == SPNG_EUSER_WIDTH || rc == SPNG_EUSER_HEIGHT)
        code = TS_ELIMIT;
    return ts_fail(err, code, "png: %s: %s", what, spng_strerror(rc));
}

static ts_status png_open(const uint8_t *data, size_t len, spng_ctx **out, png_meta *m,
                          ts_error *err) {
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx)
        return ts_fail(err, TS_ENOMEM, "png: cannot create a decoder");
    *out = ctx;
    memset(m, 0, sizeof *m);
    int rc = spng_set_chunk_limits(ctx, PNG_CHUNK_LIMIT, PNG_CACHE_LIMIT);
    if (!rc)
        rc = spng_set_png_buffer(ctx, data, len);
    if (!rc)
        rc = spng_get_ihdr(ctx, &m->ihdr);
    if (rc)
        return spng_status(rc, "header", err);
    if (m->ihdr.color_type == SPNG_COLOR_TYPE_INDEXED) {
        rc = spng_get_plte(ctx, &m->plte);
        if (rc == SPNG_ECHUNKAVAIL)
            return ts_fail(err, TS_EFORMAT, "png: palette image without a PLTE chunk");
        if (rc)
            return spng_status(rc, "PLTE", err);
    }
    rc = spng_get_trns(ctx, &m->trns);
    if (rc && rc != SPNG_ECHUNKAVAIL)
        return spng_status(rc, "tRNS", err);
    m->has_trns = rc == 0;
    if (m->ihdr.color_type == SPNG_COLOR_TYPE_INDEXED)
        build_palette_lut(m);
    return TS_OK;
}

static int png_has_alpha(const png_meta *m) {
    return m->ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
           m->ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA || m->has_trns;
}

ts_status ts_probe_png(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err) {
    spng_ctx *ctx = NULL;
    png_meta m;
    ts_status st = png_open(data, len, &ctx, &m, err);
    if (st == TS_OK) {
        info->format = TS_FMT_PNG;
        info->width = (int)m.ihdr.width;
        info->height = (int)m.ihdr.height;
        info->had_alpha = png_has_alpha(&m);
        info->frames = 1;
    }
    spng_ctx_free(ctx);
    return st;
}

/* Sample i of a packed row at the given bit depth (16-bit is host-endian). */
static unsigned sample(const uint8_t *row, size_t i, int depth) {
    if (depth == 8)
        return row[i];
    if (depth == 16) {
        uint16_t v;
        memcpy(&v, row + 2 * i, 2);
        return v;
    }
    size_t bit = i * (size_t)depth;
    return (row[bit / 8] >> (8 - depth - (int)(bit % 8))) & ((1u << depth) - 1);
}

static uint8_t gray8(unsigned v, int depth) {
    switch (depth) {
    case 1: return (uint8_t)(v * 255);
    case 2: return (uint8_t)(v * 85);
    case 4: return (uint8_t)(v * 17);
    case 8: return (uint8_t)v;
    default: return (uint8_t)(v > 255 ? 255 : v); /* 16-bit: Pillow's "I" clip */
    }
}

static uint8_t color8(unsigned v, int depth) {
    return (uint8_t)(depth == 16 ? v >> 8 : v);
}

static void convert_row(const png_meta *m, const uint8_t *row, uint8_t *dst, int width, int ch) {
    int depth = m->ihdr.bit_depth;
    for (int x = 0; x < width; x++, dst += ch) {
        size_t i = (size_t)x;
        uint8_t a = 255;
        switch (m->ihdr.color_type) {
        case SPNG_COLOR_TYPE_GRAYSCALE:
            dst[0] = dst[1] = dst[2] = gray8(sample(row, i, depth), depth);
            if (m->has_trns && dst[0] == (m->trns.gray & 0xff))
                a = 0;
            break;
        case SPNG_COLOR_TYPE_TRUECOLOR:
            for (int c = 0; c < 3; c++)
                dst[c] = color8(sample(row, 3 * i + c, depth), depth);
            if (m->has_trns && dst[0] == (m->trns.red & 0xff) &&
                dst[1] == (m->trns.green & 0xff) && dst[2] == (m->trns.blue & 0xff))
                a = 0;
            break;
        case SPNG_COLOR_TYPE_INDEXED: {
            const uint8_t *c = m->lut[sample(row, i, depth)];
            dst[0] = c[0];
            dst[1] = c[1];
            dst[2] = c[2];
            a = c[3];
            break;
        }
        case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
            dst[0] = dst[1] = dst[2] = color8(sample(row, 2 * i, depth), depth);
            a = color8(sample(row, 2 * i + 1, depth), depth);
            break;
        default: /* SPNG_COLOR_TYPE_TRUECOLOR_ALPHA */
            for (int c = 0; c < 3; c++)
                dst[c] = color8(sample(row, 4 * i + c, depth), depth);
            a = color8(sample(row, 4 * i + 3, depth), depth);
            break;
        }
        if (ch == 4)
            dst[3] = a;
    }
}

ts_status ts_decode_png(const uint8_t *data, size_t len, const ts_decode_request *req,
                        ts_pixels *out, ts_decode_info *info, ts_error *err) {
    spng_ctx *ctx = NULL;
    png_meta m;
    uint8_t *raw = NULL;
    ts_status st = png_open(data, len, &ctx, &m, err);
    if (st == TS_OK)
        st = ts_decode_check_size("png", m.ihdr.width, m.ihdr.height, req->max_pixels, err);
    if (st != TS_OK)
        goto done;
    int w = (int)m.ihdr.width, h = (int)m.ihdr.height, ch = png_has_alpha(&m) ? 4 : 3;
    st = ts_pixels_alloc(out, w, h, ch, err);
    if (st != TS_OK)
        goto done;
    /* 8-bit RGB and RGBA without a key are already what Pillow gives. */
    int direct = m.ihdr.bit_depth == 8 && !m.has_trns &&
                 (m.ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR ||
                  m.ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA);
    size_t raw_size;
    int rc = spng_decoded_image_size(ctx, SPNG_FMT_PNG, &raw_size);
    if (rc) {
        st = spng_status(rc, "image size", err);
        goto done;
    }
    if (direct) {
        rc = spng_decode_image(ctx, out->data, raw_size, SPNG_FMT_PNG, 0);
    } else {
        /* Zeroed: libspng ORs sub-byte pixels of interlaced passes into place. */
        raw = calloc(1, raw_size);
        if (!raw) {
            st = ts_fail(err, TS_ENOMEM, "png: cannot allocate %zu bytes", raw_size);
            goto done;
        }
        rc = spng_decode_image(ctx, raw, raw_size, SPNG_FMT_PNG, 0);
    }
    if (rc) {
        st = spng_status(rc, "image data", err);
        goto done;
    }
    if (!direct) {
        size_t stride = raw_size / (size_t)h;
        for (int y = 0; y < h; y++)
            convert_row(&m, raw + (size_t)y * stride, out->data + (size_t)y * w * ch, w, ch);
    }
    info->width = w;
    info->height = h;
    info->had_alpha = ch == 4;
    info->frames = 1;
done:
    free(raw);
    spng_ctx_free(ctx);
    if (st != TS_OK)
        ts_pixels_free(out);
    return st;
}
