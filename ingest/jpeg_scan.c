/* JPEG marker walk (ITU T.81 B.1): see jpeg_scan.h. */
#include <string.h>

#include "ingest/jpeg_scan.h"

/* SOF0..SOF15 less DHT (C4), JPG (C8) and DAC (CC). */
static int is_sof(uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

/* Past the entropy-coded bytes that start at `p`: a 0xFF is data when
 * followed by 0x00 (stuffing) or a restart marker (D0-D7); the next other
 * marker ends the scan. Returns the offset of that marker's 0xFF, or len
 * when the data ends first. */
static size_t skip_entropy(const uint8_t *d, size_t p, size_t len) {
    for (;;) {
        const uint8_t *ff = memchr(d + p, 0xFF, len - p);
        if (!ff) return len;
        size_t q = (size_t)(ff - d);
        while (q + 1 < len && d[q + 1] == 0xFF) q++; /* fill bytes */
        if (q + 1 >= len) return len;
        uint8_t m = d[q + 1];
        if (m != 0x00 && !(m >= 0xD0 && m <= 0xD7)) return q;
        p = q + 2;
    }
}

ts_status ts_jpeg_scan(const uint8_t *d, size_t len, uint64_t max_pixels, ts_error *err) {
    if (len < 4 || d[0] != 0xFF || d[1] != 0xD8) return ts_fail(err, TS_EFORMAT, "JPEG: no SOI marker");
    size_t p = 2;
    int frame = 0, scans = 0;
    for (;;) {
        if (p >= len) return ts_fail(err, TS_EFORMAT, "JPEG: truncated (no EOI marker after %d scans)", scans);
        if (d[p] != 0xFF) return ts_fail(err, TS_EFORMAT, "JPEG: no marker at byte %zu", p);
        while (p + 1 < len && d[p + 1] == 0xFF) p++; /* fill bytes */
        if (p + 1 >= len) return ts_fail(err, TS_EFORMAT, "JPEG: truncated (no EOI marker after %d scans)", scans);
        uint8_t m = d[p + 1];
        p += 2;
        if (m == 0xD9) {
            if (!scans) return ts_fail(err, TS_EFORMAT, "JPEG: EOI before any scan");
            return TS_OK;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; /* TEM, stray RSTn: no length */
        if (m == 0xD8 || m == 0x00) return ts_fail(err, TS_EFORMAT, "JPEG: unexpected marker 0x%02X at byte %zu", m, p - 2);
        if (p + 2 > len) return ts_fail(err, TS_EFORMAT, "JPEG: truncated in the 0x%02X segment's length", m);
        size_t seg = (size_t)d[p] << 8 | d[p + 1];
        if (seg < 2 || p + seg > len)
            return ts_fail(err, TS_EFORMAT,
                           "JPEG: truncated or corrupt: the 0x%02X segment at byte %zu (length %zu) runs past "
                           "the end (%zu bytes)", m, p - 2, seg, len);
        const uint8_t *s = d + p + 2;
        if (is_sof(m)) {
            if (frame) return ts_fail(err, TS_EFORMAT, "JPEG: a second frame header at byte %zu", p - 2);
            unsigned height = (unsigned)s[1] << 8 | s[2], width = (unsigned)s[3] << 8 | s[4], nc = s[5];
            if (seg < 8 || nc < 1 || nc > 4 || seg != 8 + 3 * (size_t)nc)
                return ts_fail(err, TS_EFORMAT, "JPEG: malformed frame header (%u components, length %zu)", nc, seg);
            if (!width || !height) return ts_fail(err, TS_EFORMAT, "JPEG: frame size %ux%u", width, height);
            if (max_pixels && (uint64_t)width * height > max_pixels)
                return ts_fail(err, TS_ELIMIT, "JPEG: %ux%u exceeds the %llu-pixel limit", width, height,
                               (unsigned long long)max_pixels);
            frame = 1;
        } else if (m == 0xDA) {
            unsigned ns = seg >= 3 ? s[0] : 0;
            if (!frame) return ts_fail(err, TS_EFORMAT, "JPEG: a scan before the frame header");
            if (ns < 1 || ns > 4 || seg != 6 + 2 * (size_t)ns)
                return ts_fail(err, TS_EFORMAT, "JPEG: malformed scan header (%u components, length %zu)", ns, seg);
            scans++;
            p = skip_entropy(d, p + seg, len);
            continue;
        }
        p += seg;
    }
}
