/* NFC as Hugging Face tokenizers computes it: Unicode 9.0 tables.
 *
 * utf8proc has newer tables. A character assigned after 9.0 is inert to HF
 * (combining class 0, no decomposition, no composition), so it is a hard
 * normalization boundary: the text between such characters is normalized
 * with utf8proc (identical for 9.0 characters, whose normalization data is
 * frozen by Unicode's stability policy) and they pass through unchanged. */
#include <stdlib.h>
#include <utf8proc.h>

#include "tokenize/tok_internal.h"

extern const uint32_t ts_unicode_after9[][2];
extern const size_t ts_unicode_after9_count;

static int after_unicode9(uint32_t cp) {
    size_t lo = 0, hi = ts_unicode_after9_count;
    if (cp < ts_unicode_after9[0][0]) return 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp > ts_unicode_after9[mid][1]) lo = mid + 1;
        else if (cp < ts_unicode_after9[mid][0]) hi = mid;
        else return 1;
    }
    return 0;
}

static ts_status nfc_segment(const uint8_t *s, size_t n, ts_buf *out, ts_error *err) {
    if (!n) return TS_OK;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map(s, (utf8proc_ssize_t)n, &dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0)
        return ts_fail(err, r == UTF8PROC_ERROR_NOMEM ? TS_ENOMEM : TS_EFORMAT, "NFC: %s", utf8proc_errmsg(r));
    ts_status st = ts_buf_append(out, dst, (size_t)r, err);
    free(dst);
    return st;
}

ts_status ts_nfc_hf(const uint8_t *s, size_t n, ts_buf *out, ts_error *err) {
    size_t i = 0;
    while (i < n && s[i] < 0xCC) i++; /* text below U+0300 is always NFC */
    if (i == n) return ts_buf_append(out, s, n, err);
    size_t seg = 0, p = 0;
    while (p < n) {
        size_t l;
        uint32_t cp = ts_utf8_next(s + p, n - p, &l);
        if (cp >= 0x0560 && after_unicode9(cp)) {
            ts_status st = nfc_segment(s + seg, p - seg, out, err);
            if (!st) st = ts_buf_append(out, s + p, l, err);
            if (st) return st;
            seg = p + l;
        }
        p += l;
    }
    return nfc_segment(s + seg, n - seg, out, err);
}
