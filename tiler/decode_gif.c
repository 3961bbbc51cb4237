/* GIF via giflib, first frame, as Pillow 9.4's GifImagePlugin loads it and
 * convert('RGB') / convert('RGBA') turn it into pixels:
 *  - the canvas is the logical screen, grown to hold the first frame;
 *  - it starts filled with the frame's transparent index when the graphic
 *    control extension names one, else with index 0, and the frame is
 *    decoded into its rectangle (rows de-interlaced);
 *  - an index maps through the local palette, else the global one; indices
 *    past the palette (or with no palette) give (i, i, i);
 *  - the transparent index is dropped by convert('RGB') and becomes alpha 0
 *    in the RGBA form. */
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "decode_internal.h"

typedef struct gif_src {
    const uint8_t *data;
    size_t len, pos;
} gif_src;

static int gif_read(GifFileType *g, GifByteType *buf, int n) {
    gif_src *s = g->UserData;
    size_t left = s->len - s->pos;
    size_t k = n > 0 && (size_t)n < left ? (size_t)n : (n > 0 ? left : 0);
    memcpy(buf, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* What the records before the first image descriptor and the descriptor say. */
typedef struct gif_first {
    int transparent; /* -1 when none */
    int canvas_w, canvas_h;
    const ColorMapObject *palette;
} gif_first;

static ts_status gif_error(int code, const char *what, ts_error *err) {
    const char *msg = GifErrorString(code);
    ts_status st = code == D_GIF_ERR_NOT_ENOUGH_MEM ? TS_ENOMEM : TS_EFORMAT;
    return ts_fail(err, st, "gif: %s: %s", what, msg ? msg : "unknown error");
}

static ts_status gif_open(gif_src *src, GifFileType **out, ts_error *err) {
    int code = 0;
    *out = DGifOpen(src, gif_read, &code);
    if (!*out)
        return gif_error(code, "header", err);
    return TS_OK;
}

static ts_status skip_extension(GifFileType *g, ts_error *err) {
    GifByteType *ext = NULL;
    do {
        if (DGifGetExtensionNext(g, &ext) == GIF_ERROR)
            return gif_error(g->Error, "extension", err);
    } while (ext);
    return TS_OK;
}

/* Reads records up to and including the first image descriptor. */
static ts_status read_to_first_image(GifFileType *g, gif_first *f, ts_error *err) {
    f->transparent = -1;
    for (;;) {
        GifRecordType rec;
        if (DGifGetRecordType(g, &rec) == GIF_ERROR)
            return gif_error(g->Error, "record", err);
        if (rec == TERMINATE_RECORD_TYPE)
            return ts_fail(err, TS_EFORMAT, "gif: no image in file");
        if (rec == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext = NULL;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR)
                return gif_error(g->Error, "extension", err);
            /* Graphic control: flags bit 0 enables the transparent index. */
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1))
                f->transparent = ext[4];
            if (ext) {
                ts_status st = skip_extension(g, err);
                if (st != TS_OK)
                    return st;
            }
            continue;
        }
        if (rec == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(g) == GIF_ERROR)
                return gif_error(g->Error, "image descriptor", err);
            const GifImageDesc *d = &g->Image;
            int x1 = d->Left + d->Width, y1 = d->Top + d->Height;
            f->canvas_w = x1 > g->SWidth ? x1 : g->SWidth;
            f->canvas_h = y1 > g->SHeight ? y1 : g->SHeight;
            f->palette = d->ColorMap ? d->ColorMap : g->SColorMap;
            return TS_OK;
        }
        return ts_fail(err, TS_EFORMAT, "gif: unexpected record");
    }
}

/* Frames after the first, counted without decompressing them; a damaged
 * tail ends the count. */
static int count_more_frames(GifFileType *g) {
    int n = 0;
    for (;;) {
        GifRecordType rec;
        if (DGifGetRecordType(g, &rec) == GIF_ERROR || rec == TERMINATE_RECORD_TYPE)
            return n;
        if (rec == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext = NULL;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR)
                return n;
            while (ext)
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR)
                    return n;
        } else if (rec == IMAGE_DESC_RECORD_TYPE) {
            int size;
            GifByteType *block = NULL;
            if (DGifGetImageDesc(g) == GIF_ERROR || DGifGetCode(g, &size, &block) == GIF_ERROR)
                return n;
            while (block)
                if (DGifGetCodeNext(g, &block) == GIF_ERROR)
                    return n;
            n++;
        } else {
            return n;
        }
    }
}

ts_status ts_probe_gif(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err) {
    gif_src src = {data, len, 0};
    GifFileType *g;
    gif_first f;
    ts_status st = gif_open(&src, &g, err);
    if (st != TS_OK)
        return st;
    st = read_to_first_image(g, &f, err);
    if (st == TS_OK) {
        info->format = TS_FMT_GIF;
        info->width = f.canvas_w;
        info->height = f.canvas_h;
        info->had_alpha = f.transparent >= 0;
        /* Skip the first frame's data, then count the rest. */
        int size;
        GifByteType *block = NULL;
        int ok = DGifGetCode(g, &size, &block) != GIF_ERROR;
        while (ok && block)
            ok = DGifGetCodeNext(g, &block) != GIF_ERROR;
        info->frames = 1 + (ok ? count_more_frames(g) : 0);
    }
    DGifCloseFile(g, NULL);
    return st;
}

/* The RGBA of each of the 256 possible indices. */
static void build_lut(const gif_first *f, uint8_t lut[256][4]) {
    for (int k = 0; k < 256; k++) {
        if (f->palette && k < f->palette->ColorCount) {
            lut[k][0] = f->palette->Colors[k].Red;
            lut[k][1] = f->palette->Colors[k].Green;
            lut[k][2] = f->palette->Colors[k].Blue;
        } else {
            lut[k][0] = lut[k][1] = lut[k][2] = (uint8_t)k;
        }
        lut[k][3] = k == f->transparent ? 0 : 255;
    }
}

ts_status ts_decode_gif(const uint8_t *data, size_t len, const ts_decode_request *req,
                        ts_pixels *out, ts_decode_info *info, ts_error *err) {
    gif_src src = {data, len, 0};
    GifFileType *g;
    gif_first f;
    uint8_t *index = NULL;
    ts_status st = gif_open(&src, &g, err);
    if (st != TS_OK)
        return st;
    st = read_to_first_image(g, &f, err);
    if (st == TS_OK)
        st = ts_decode_check_size("gif", (uint64_t)(f.canvas_w > 0 ? f.canvas_w : 0),
                                  (uint64_t)(f.canvas_h > 0 ? f.canvas_h : 0),
                                  req->max_pixels, err);
    if (st != TS_OK)
        goto done;
    const GifImageDesc *d = &g->Image;
    int cw = f.canvas_w, ch_ = f.canvas_h, ch = f.transparent >= 0 ? 4 : 3;
    size_t n = (size_t)cw * (size_t)ch_;
    index = malloc(n);
    if (!index) {
        st = ts_fail(err, TS_ENOMEM, "gif: cannot allocate a %dx%d canvas", cw, ch_);
        goto done;
    }
    memset(index, f.transparent >= 0 ? f.transparent : 0, n);
    if (d->Width > 0 && d->Height > 0) {
        /* Adam-style GIF interlace: rows 0,8,..; 4,12,..; 2,6,..; 1,3,.. */
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        int passes = d->Interlace ? 4 : 1;
        for (int p = 0; p < passes; p++) {
            int y0 = d->Interlace ? start[p] : 0, dy = d->Interlace ? step[p] : 1;
            for (int y = y0; y < d->Height; y += dy) {
                uint8_t *row = index + (size_t)(d->Top + y) * cw + d->Left;
                if (DGifGetLine(g, row, d->Width) == GIF_ERROR) {
                    st = gif_error(g->Error, "image data", err);
                    goto done;
                }
            }
        }
    }
    st = ts_pixels_alloc(out, cw, ch_, ch, err);
    if (st != TS_OK)
        goto done;
    uint8_t lut[256][4];
    build_lut(&f, lut);
    uint8_t *dst = out->data;
    if (ch == 4) {
        for (size_t i = 0; i < n; i++, dst += 4)
            memcpy(dst, lut[index[i]], 4);
    } else {
        for (size_t i = 0; i < n; i++, dst += 3)
            memcpy(dst, lut[index[i]], 3);
    }
    info->width = cw;
    info->height = ch_;
    info->had_alpha = ch == 4;
    info->frames = 1 + count_more_frames(g);
done:
    free(index);
    DGifCloseFile(g, NULL);
    if (st != TS_OK)
        ts_pixels_free(out);
    return st;
}
