/* NFC as Hugging Face tokenizers computes it: Unicode 9.0 tables.
 *
 * utf8proc has newer tables. A character assigned after 9.0 is inert to HF
 * (combining class 0, no decomposition, no composition), so it is a hard
 * normalization boundary: the text between such characters is normalized
 * with utf8proc (identical for 9.0 characters, whose normalization data is
 * frozen by Unicode's stability policy) and they pass through unchanged. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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

/* "Stable" code points: combining class 0, NFC of the character alone is
 * itself, and never the second of a canonical composition. Such a character
 * is a boundary that normalization never crosses, so only the spans between
 * stable characters (plus the stable one just before, which may compose with
 * them) need utf8proc. One bit per code point, built once. */
static uint8_t *unstable;
static pthread_once_t unstable_once = PTHREAD_ONCE_INIT;

static void mark_unstable(uint32_t cp) { unstable[cp >> 3] |= (uint8_t)(1u << (cp & 7)); }

static void build_unstable(void) {
    unstable = calloc(0x110000 / 8, 1);
    if (!unstable) return;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
        if (p->combining_class) mark_unstable(cp);
        if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0) continue; /* no canonical mapping */
        utf8proc_int32_t d[8];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 8, UTF8PROC_DECOMPOSE, &last);
        for (utf8proc_ssize_t i = 1; i < k && i < 8; i++) mark_unstable((uint32_t)d[i]);
        uint8_t enc[4], *nfc = NULL;
        utf8proc_ssize_t l = utf8proc_encode_char((utf8proc_int32_t)cp, enc);
        utf8proc_ssize_t r = utf8proc_map(enc, l, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (r != l || memcmp(nfc, enc, (size_t)l) != 0) mark_unstable(cp);
        free(nfc);
    }
    for (uint32_t cp = 0x1161; cp <= 0x1175; cp++) mark_unstable(cp); /* Hangul V and T jamo */
    for (uint32_t cp = 0x11A8; cp <= 0x11C2; cp++) mark_unstable(cp);
}

static int is_unstable(uint32_t cp) { return (unstable[cp >> 3] >> (cp & 7)) & 1; }

/* NFC of a span that may hold characters newer than Unicode 9.0. */
static ts_status nfc_span(const uint8_t *s, size_t n, ts_buf *out, ts_error *err) {
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

ts_status ts_nfc_hf(const uint8_t *s, size_t n, ts_buf *out, ts_error *err) {
    size_t i = 0;
    while (i < n && s[i] < 0xCC) i++; /* text below U+0300 is always NFC */
    if (i == n) return ts_buf_append(out, s, n, err);
    pthread_once(&unstable_once, build_unstable);
    if (!unstable) return nfc_span(s, n, out, err);
    size_t copied = 0, prev = SIZE_MAX, p = 0;
    while (p < n) {
        size_t l;
        uint32_t cp = s[p] < 0x80 ? (l = 1, s[p]) : ts_utf8_next(s + p, n - p, &l);
        if (cp < 0x300 || !is_unstable(cp)) {
            prev = p;
            p += l;
            continue;
        }
        size_t start = prev != SIZE_MAX && prev >= copied ? prev : p;
        size_t end = p + l;
        while (end < n) {
            size_t l2;
            uint32_t c2 = ts_utf8_next(s + end, n - end, &l2);
            if (c2 >= 0x300 && is_unstable(c2)) end += l2;
            else break;
        }
        ts_status st = ts_buf_append(out, s + copied, start - copied, err);
        if (!st) st = nfc_span(s + start, end - start, out, err);
        if (st) return st;
        copied = p = end;
        prev = SIZE_MAX;
    }
    return ts_buf_append(out, s + copied, n - copied, err);
}
