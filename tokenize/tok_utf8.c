/* UTF-8 validation and lossy repair with the "maximal subpart" rule of
 * Unicode §3.9 (U+FFFD per maximal invalid subpart), which is what Rust's
 * String::from_utf8_lossy and the WHATWG decoder in Node both implement. */
#include "tokenize/tok_internal.h"

/* Length of the valid sequence at s (1..4), or 0 with *bad set to the length
 * of the maximal invalid subpart (>= 1). */
static size_t seq_len(const uint8_t *s, size_t n, size_t *bad) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n) break;
        uint8_t b = s[i];
        uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) break;
    }
    if (i == need + 1) return need + 1;
    *bad = i;
    return 0;
}

size_t ts_utf8_valid_prefix(const uint8_t *s, size_t n) {
    size_t p = 0;
    while (p < n) {
        /* ASCII fast path, 8 bytes at a time */
        while (p + 8 <= n) {
            uint64_t w;
            __builtin_memcpy(&w, s + p, 8);
            if (w & 0x8080808080808080ull) break;
            p += 8;
        }
        if (p >= n) break;
        size_t bad, l = seq_len(s + p, n - p, &bad);
        if (!l) return p;
        p += l;
    }
    return n;
}

ts_status ts_utf8_lossy(const uint8_t *s, size_t n, ts_buf *out, ts_error *err) {
    static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};
    size_t p = 0;
    while (p < n) {
        size_t good = ts_utf8_valid_prefix(s + p, n - p);
        if (ts_buf_append(out, s + p, good, err)) return TS_ENOMEM;
        p += good;
        if (p >= n) break;
        size_t bad = 1;
        seq_len(s + p, n - p, &bad);
        if (ts_buf_append(out, fffd, 3, err)) return TS_ENOMEM;
        p += bad;
    }
    return TS_OK;
}
