/* EXIF Orientation: finding the TIFF block in each container, reading tag
 * 0x0112 from IFD0, and transposing the decoded image like Pillow. */
#include "exif.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rd16(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le) {
    return le ? rd16(p, 1) | rd16(p + 2, 1) << 16 : rd16(p, 0) << 16 | rd16(p + 2, 0);
}

int ts_exif_tiff_lookup(const uint8_t *t, size_t len, int *present) {
    *present = 0;
    if (!t)
        return 0;
    if (len >= 6 && memcmp(t, "Exif\0\0", 6) == 0) {
        t += 6;
        len -= 6;
    }
    if (len < 8)
        return 0;
    int le;
    if (memcmp(t, "II\x2a\0", 4) == 0)
        le = 1;
    else if (memcmp(t, "MM\0\x2a", 4) == 0)
        le = 0;
    else
        return 0;
    size_t ifd = rd32(t + 4, le);
    if (ifd > len || len - ifd < 2)
        return 0;
    size_t n = rd16(t + ifd, le);
    long value = 0;
    /* Entries past a truncation are ignored; a repeated tag keeps the last
     * value (Pillow reads IFD0 into a dict and stops at a short read). */
    for (size_t i = 0; i < n; i++) {
        size_t e = ifd + 2 + 12 * i;
        if (e > len || len - e < 12)
            break;
        if (rd16(t + e, le) != 0x0112)
            continue;
        *present = 1;
        value = 0;
        if (rd32(t + e + 4, le) != 1) /* a tuple in Pillow: no orientation */
            continue;
        const uint8_t *v = t + e + 8;
        switch (rd16(t + e + 2, le)) {
        case 1: value = v[0]; break;                      /* BYTE */
        case 6: value = (int8_t)v[0]; break;               /* SBYTE */
        case 3: value = (long)rd16(v, le); break;          /* SHORT */
        case 8: value = (int16_t)rd16(v, le); break;       /* SSHORT */
        case 4: value = (long)rd32(v, le); break;          /* LONG */
        case 9: value = (long)(int32_t)rd32(v, le); break; /* SLONG */
        default: break;
        }
    }
    return value >= 1 && value <= 8 ? (int)value : 0;
}

int ts_exif_tiff_orientation(const uint8_t *t, size_t len) {
    int present;
    return ts_exif_tiff_lookup(t, len, &present);
}

static int jpeg_orientation(const uint8_t *d, size_t len) {
    size_t pos = 2;
    while (pos + 4 <= len) {
        if (d[pos] != 0xFF)
            return 0;
        uint8_t m = d[pos + 1];
        if (m == 0xFF) { /* fill byte */
            pos++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            pos += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) /* Pillow stops reading APP markers at the scan */
            return 0;
        size_t seg = rd16(d + pos + 2, 0);
        if (seg < 2 || seg > len - pos - 2)
            return 0;
        const uint8_t *p = d + pos + 4;
        size_t n = seg - 2;
        if (m == 0xE1 && n >= 5 && memcmp(p, "Exif\0", 5) == 0)
            return ts_exif_tiff_orientation(p, n);
        pos += 2 + seg;
    }
    return 0;
}

static int webp_orientation(const uint8_t *d, size_t len) {
    /* Only the extended format (VP8X first) carries metadata chunks. */
    if (len < 20 || memcmp(d + 12, "VP8X", 4) != 0)
        return 0;
    size_t pos = 12;
    while (pos + 8 <= len) {
        size_t n = rd32(d + pos + 4, 1);
        if (n > len - pos - 8)
            break;
        if (memcmp(d + pos, "EXIF", 4) == 0)
            return ts_exif_tiff_orientation(d + pos + 8, n);
        pos += 8 + n + (n & 1);
    }
    return 0;
}

int ts_exif_orientation(const uint8_t *data, size_t len, ts_image_format fmt) {
    if (!data)
        return 0;
    switch (fmt) {
    case TS_FMT_JPEG: return len >= 2 ? jpeg_orientation(data, len) : 0;
    case TS_FMT_PNG: return ts_exif_png_orientation(data, len);
    case TS_FMT_WEBP: return webp_orientation(data, len);
    case TS_FMT_GIF:
    case TS_FMT_UNKNOWN: break;
    }
    return 0;
}

int ts_exif_swaps_axes(int orientation) {
    return orientation >= 5 && orientation <= 8;
}

/* For the axis-swapping orientations, output pixel (x, y) comes from source
 * column bx*y + cx, row ay*x + cy. */
typedef struct transpose {
    int bx, cx, ay, cy;
} transpose;

static transpose transpose_map(int o, int w, int h) {
    switch (o) {
    case 5: return (transpose){1, 0, 1, 0};            /* TRANSPOSE */
    case 6: return (transpose){1, 0, -1, h - 1};       /* ROTATE_270 */
    case 7: return (transpose){-1, w - 1, -1, h - 1};  /* TRANSVERSE */
    default: return (transpose){-1, w - 1, 1, 0};      /* 8: ROTATE_90 */
    }
}

static void swap_pixels(uint8_t *a, uint8_t *b) {
    uint8_t t[3];
    memcpy(t, a, 3);
    memcpy(a, b, 3);
    memcpy(b, t, 3);
}

/* Orientations 2, 3 and 4 keep the size: swap pixels in place. */
static void flip_in_place(ts_image *img, int o) {
    size_t w = (size_t)img->width, h = (size_t)img->height;
    uint8_t *p = img->rgb;
    if (o == 3) { /* ROTATE_180 reverses the pixel order */
        for (size_t i = 0, j = w * h - 1; i < j; i++, j--)
            swap_pixels(p + 3 * i, p + 3 * j);
        return;
    }
    for (size_t y = 0; y < h; y++) {
        if (o == 2) { /* FLIP_LEFT_RIGHT */
            uint8_t *row = p + y * w * 3;
            for (size_t i = 0, j = w - 1; i < j; i++, j--)
                swap_pixels(row + 3 * i, row + 3 * j);
        } else if (y < h - 1 - y) { /* 4: FLIP_TOP_BOTTOM */
            uint8_t *a = p + y * w * 3, *b = p + (h - 1 - y) * w * 3;
            for (size_t i = 0; i < w; i++)
                swap_pixels(a + 3 * i, b + 3 * i);
        }
    }
}

ts_status ts_exif_apply(ts_image *img, int o, ts_error *err) {
    if (o < 2 || o > 8)
        return TS_OK;
    if (!ts_exif_swaps_axes(o)) {
        flip_in_place(img, o);
        return TS_OK;
    }
    int w = img->width, h = img->height;
    int ow = h, oh = w;
    ts_image out;
    ts_status st = ts_image_alloc(&out, ow, oh, err);
    if (st != TS_OK)
        return st;
    transpose m = transpose_map(o, w, h);
    ptrdiff_t step = (ptrdiff_t)m.ay * w * 3; /* source step per output x */
    /* 64x64 output blocks keep the column-wise source reads in cache. */
    enum { B = 64 };
    for (int y0 = 0; y0 < oh; y0 += B)
        for (int x0 = 0; x0 < ow; x0 += B) {
            int y1 = y0 + B < oh ? y0 + B : oh, x1 = x0 + B < ow ? x0 + B : ow;
            for (int y = y0; y < y1; y++) {
                ptrdiff_t sx = (ptrdiff_t)m.bx * y + m.cx, sy = (ptrdiff_t)m.ay * x0 + m.cy;
                const uint8_t *src = img->rgb + (sy * w + sx) * 3;
                uint8_t *dst = out.rgb + ((size_t)y * ow + x0) * 3;
                for (int x = x0; x < x1; x++, dst += 3, src += step)
                    memcpy(dst, src, 3);
            }
        }
    ts_image_free(img);
    *img = out;
    return TS_OK;
}
