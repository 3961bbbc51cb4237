/* Text normalization for dedup keys (docs/DEDUP.md). */
#include <stdint.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "dedup.h"

/* The Unicode White_Space property: the separators (Zs, Zl, Zp) plus the
 * controls TAB..CR and NEL. */
static int is_space(utf8proc_int32_t c) {
    if ((c >= 0x09 && c <= 0x0D) || c == 0x85) return 1;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

ts_status ts_dedup_normalize_text(const char *text, size_t len, int casefold, ts_buf *out,
                                  ts_error *err) {
    ts_buf_reset(out);
    if (len == 0) return TS_OK;
    if (len > (size_t)(PTRDIFF_MAX / 4))
        return ts_fail(err, TS_ELIMIT, "dedup: text of %zu bytes is too long", len);
    utf8proc_option_t flags = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    if (casefold) flags |= UTF8PROC_CASEFOLD;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &mapped, flags);
    if (n == UTF8PROC_ERROR_NOMEM) return ts_fail(err, TS_ENOMEM, "dedup: out of memory");
    if (n < 0) return ts_buf_append(out, text, len, err); /* not UTF-8: raw bytes */
    ts_status st = ts_buf_reserve(out, (size_t)n, err);
    int pending_space = 0;
    for (utf8proc_ssize_t i = 0; st == TS_OK && i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t step = utf8proc_iterate(mapped + i, n - i, &c);
        if (step <= 0) break; /* cannot happen: utf8proc_map output is valid */
        if (is_space(c)) {
            pending_space = out->len > 0;
        } else {
            if (pending_space) out->data[out->len++] = ' ';
            pending_space = 0;
            for (utf8proc_ssize_t j = 0; j < step; j++) out->data[out->len++] = mapped[i + j];
        }
        i += step;
    }
    free(mapped);
    return st;
}
