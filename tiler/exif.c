/* EXIF Orientation: finding the TIFF block in each container, reading tag
 * 0x0112 from IFD0, and transposing the decoded image like Pillow. */
#include "exif.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd16(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le) {
    return le ? rd16(p, 1) | rd16(p + 2, 1) << 16 : rd16(p, 0) << 16 | rd16(p + 2, 0);
}

int ts_exif_tiff_orientation(const uint8_t *t, size_t len) {
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
        if (rd16(t + e, le) != 0x0112 || rd32(t + e + 4, le) != 1)
            continue;
        const uint8_t *v = t + e + 8;
        switch (rd16(t + e + 2, le)) {
        case 1: value = v[0]; break;                      /* BYTE */
        case 6: value = (int8_t)v[0]; break;               /* SBYTE */
        case 3: value = (long)rd16(v, le); break;          /* SHORT */
        case 8: value = (int16_t)rd16(v, le); break;       /* SSHORT */
        case 4: value = (long)rd32(v, le); break;          /* LONG */
        case 9: value = (long)(int32_t)rd32(v, le); break; /* SLONG */
        default: value = 0; break;
        }
    }
    return value >= 1 && value <= 8 ? (int)value : 0;
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

static int png_orientation(const uint8_t *d, size_t len) {
    size_t pos = 8;
    int found = 0;
    while (pos + 12 <= len) {
        size_t n = rd32(d + pos, 0);
        if (n > len - pos - 12)
            break;
        const uint8_t *type = d + pos + 4;
        if (memcmp(type, "eXIf", 4) == 0) /* the last one wins, as in Pillow */
            found = ts_exif_tiff_orientation(d + pos + 8, n);
        if (memcmp(type, "IEND", 4) == 0)
            break;
        pos += 12 + n;
    }
    return found;
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
    case TS_FMT_PNG: return len >= 8 ? png_orientation(data, len) : 0;
    case TS_FMT_WEBP: return webp_orientation(data, len);
    case TS_FMT_GIF:
    case TS_FMT_UNKNOWN: break;
    }
    return 0;
}

int ts_exif_swaps_axes(int orientation) {
    return orientation >= 5 && orientation <= 8;
}

ts_status ts_exif_apply(ts_image *img, int o, ts_error *err) {
    if (o < 2 || o > 8)
        return TS_OK;
    int w = img->width, h = img->height;
    int ow = ts_exif_swaps_axes(o) ? h : w, oh = ts_exif_swaps_axes(o) ? w : h;
    ts_image out;
    ts_status st = ts_image_alloc(&out, ow, oh, err);
    if (st != TS_OK)
        return st;
    for (int y = 0; y < oh; y++) {
        uint8_t *dst = out.rgb + (size_t)y * ow * 3;
        for (int x = 0; x < ow; x++, dst += 3) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;             /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;     /* ROTATE_180 */
            case 4: sx = x; sy = h - 1 - y; break;             /* FLIP_TOP_BOTTOM */
            case 5: sx = y; sy = x; break;                     /* TRANSPOSE */
            case 6: sx = y; sy = h - 1 - x; break;             /* ROTATE_270 */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;     /* TRANSVERSE */
            default: sx = w - 1 - y; sy = x; break;            /* 8: ROTATE_90 */
            }
            memcpy(dst, img->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    ts_image_free(img);
    *img = out;
    return TS_OK;
}
