/* WebP via libwebp, as Pillow 9.4 decodes it: Pillow takes WebPAnimDecoder
 * (default options, MODE_RGBA) for every file. Animations go the same way
 * here (first frame as composed on the canvas). A still image is one key
 * frame that WebPAnimDecoder decodes with WebPDecode's default options into a
 * zeroed canvas of its size, so decoding it straight into the output with the
 * same defaults gives the same values without the canvas and the copy. */
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "decode_internal.h"

static ts_status webp_features(const uint8_t *data, size_t len, WebPBitstreamFeatures *f,
                               ts_error *err) {
    VP8StatusCode rc = WebPGetFeatures(data, len, f);
    if (rc == VP8_STATUS_OK)
        return TS_OK;
    if (rc == VP8_STATUS_NOT_ENOUGH_DATA)
        return ts_fail(err, TS_EFORMAT, "webp: truncated file");
    if (rc == VP8_STATUS_UNSUPPORTED_FEATURE)
        return ts_fail(err, TS_EUNSUPPORTED, "webp: unsupported feature");
    if (rc == VP8_STATUS_OUT_OF_MEMORY)
        return ts_fail(err, TS_ENOMEM, "webp: out of memory");
    return ts_fail(err, TS_EFORMAT, "webp: invalid header (status %d)", (int)rc);
}

ts_status ts_probe_webp(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err) {
    WebPBitstreamFeatures f;
    ts_status st = webp_features(data, len, &f, err);
    if (st != TS_OK)
        return st;
    info->format = TS_FMT_WEBP;
    info->width = f.width;
    info->height = f.height;
    info->had_alpha = f.has_alpha;
    info->frames = 1;
    if (f.has_animation) {
        WebPData wd = {data, len};
        WebPDemuxer *dmx = WebPDemux(&wd);
        if (!dmx)
            return ts_fail(err, TS_EFORMAT, "webp: cannot parse the container");
        info->frames = (int)WebPDemuxGetI(dmx, WEBP_FF_FRAME_COUNT);
        WebPDemuxDelete(dmx);
    }
    return TS_OK;
}

ts_status ts_decode_webp(const uint8_t *data, size_t len, const ts_decode_request *req,
                         ts_pixels *out, ts_decode_info *info, ts_error *err) {
    WebPBitstreamFeatures f;
    ts_status st = webp_features(data, len, &f, err);
    if (st == TS_OK) /* before WebPAnimDecoderNew, which allocates the canvas */
        st = ts_decode_check_size("webp", (uint64_t)f.width, (uint64_t)f.height,
                                  req->max_pixels, err);
    if (st != TS_OK)
        return st;
    int ch = f.has_alpha ? 4 : 3;
    if (!f.has_animation) {
        st = ts_pixels_alloc(out, f.width, f.height, ch, err);
        if (st != TS_OK)
            return st;
        size_t size = (size_t)f.width * (size_t)f.height * (size_t)ch;
        int stride = f.width * ch;
        uint8_t *ok = ch == 4 ? WebPDecodeRGBAInto(data, len, out->data, size, stride)
                              : WebPDecodeRGBInto(data, len, out->data, size, stride);
        if (!ok) {
            ts_pixels_free(out);
            return ts_fail(err, TS_EFORMAT, "webp: corrupt or truncated file");
        }
        info->width = f.width;
        info->height = f.height;
        info->had_alpha = f.has_alpha;
        info->frames = 1;
        return TS_OK;
    }
    WebPData wd = {data, len};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, NULL);
    if (!dec)
        return ts_fail(err, TS_EFORMAT, "webp: corrupt or truncated file");
    WebPAnimInfo ai;
    uint8_t *frame = NULL;
    int timestamp;
    if (!WebPAnimDecoderGetInfo(dec, &ai) || ai.canvas_width != (uint32_t)f.width ||
        ai.canvas_height != (uint32_t)f.height) {
        st = ts_fail(err, TS_EFORMAT, "webp: inconsistent canvas size");
    } else if (!WebPAnimDecoderGetNext(dec, &frame, &timestamp)) {
        st = ts_fail(err, TS_EFORMAT, "webp: cannot decode the first frame");
    } else {
        st = ts_pixels_alloc(out, f.width, f.height, ch, err);
        if (st == TS_OK) {
            size_t n = (size_t)f.width * (size_t)f.height;
            if (ch == 4) {
                memcpy(out->data, frame, n * 4);
            } else {
                for (size_t i = 0; i < n; i++)
                    memcpy(out->data + 3 * i, frame + 4 * i, 3);
            }
            info->width = f.width;
            info->height = f.height;
            info->had_alpha = f.has_alpha;
            info->frames = (int)ai.frame_count;
        }
    }
    WebPAnimDecoderDelete(dec);
    return st;
}
