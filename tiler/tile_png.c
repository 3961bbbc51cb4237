#include "tile_png.h"

#include <spng.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/io.h"

ts_status ts_png_encode_rgb(const uint8_t *rgb, int width, int height, ts_buf *out, ts_error *err) {
    spng_ctx *enc = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!enc) return ts_fail(err, TS_ENOMEM, "png: out of memory");
    spng_set_option(enc, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {0};
    ihdr.width = (uint32_t)width;
    ihdr.height = (uint32_t)height;
    ihdr.bit_depth = 8;
    ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    int rc = spng_set_ihdr(enc, &ihdr);
    if (!rc) rc = spng_encode_image(enc, rgb, (size_t)width * (size_t)height * 3, SPNG_FMT_PNG,
                                    SPNG_ENCODE_FINALIZE);
    ts_status st = TS_OK;
    if (rc) {
        st = ts_fail(err, TS_EIO, "png encode: %s", spng_strerror(rc));
    } else {
        size_t n = 0;
        void *png = spng_get_png_buffer(enc, &n, &rc);
        if (!png) st = ts_fail(err, TS_EIO, "png encode: %s", spng_strerror(rc));
        else st = ts_buf_append(out, png, n, err);
        free(png);
    }
    spng_ctx_free(enc);
    return st;
}

ts_status ts_write_tile_pngs(const ts_tiles *tiles, const char *dir, const char *base, ts_error *err) {
    size_t tile_bytes = (size_t)tiles->tile_size * (size_t)tiles->tile_size * 3;
    ts_buf png = TS_BUF_INIT;
    ts_status st = TS_OK;
    for (int k = 0; k < tiles->count && !st; k++) {
        ts_buf_reset(&png);
        st = ts_png_encode_rgb(tiles->rgb + (size_t)k * tile_bytes, tiles->tile_size, tiles->tile_size, &png,
                               err);
        if (st) break;
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s.%d.png", dir, base, k + 1);
        if (n < 0 || (size_t)n >= sizeof path) {
            st = ts_fail(err, TS_EINVAL, "%s: output path too long", base);
            break;
        }
        ts_writer *w = NULL;
        if ((st = ts_writer_open(&w, path, err))) break;
        st = ts_writer_write(w, png.data, png.len, err);
        if (st) ts_writer_abort(w);
        else st = ts_writer_commit(w, err);
    }
    ts_buf_free(&png);
    return st;
}
