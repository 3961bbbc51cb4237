#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ts_status ts_buf_reserve(ts_buf *b, size_t extra, ts_error *err) {
    if (extra <= b->cap - b->len) return TS_OK;
    if (extra > SIZE_MAX / 2 - b->len) return ts_fail(err, TS_ENOMEM, "buffer size overflow");
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return ts_fail(err, TS_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return TS_OK;
}

ts_status ts_buf_append(ts_buf *b, const void *data, size_t n, ts_error *err) {
    if (n == 0) return TS_OK;
    ts_status st = ts_buf_reserve(b, n, err);
    if (st) return st;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return TS_OK;
}

ts_status ts_buf_printf(ts_buf *b, ts_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return ts_fail(err, TS_EINVAL, "bad format string");
    ts_status st = ts_buf_reserve(b, (size_t)n + 1, err);
    if (st) return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return TS_OK;
}

void ts_buf_reset(ts_buf *b) { b->len = 0; }

void ts_buf_free(ts_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ts_put_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void ts_put_u64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t ts_get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t ts_get_u64le(const uint8_t *p) {
    return (uint64_t)ts_get_u32le(p) | (uint64_t)ts_get_u32le(p + 4) << 32;
}

ts_status ts_buf_put_u32le(ts_buf *b, uint32_t v, ts_error *err) {
    uint8_t tmp[4];
    ts_put_u32le(tmp, v);
    return ts_buf_append(b, tmp, 4, err);
}

ts_status ts_buf_put_u64le(ts_buf *b, uint64_t v, ts_error *err) {
    uint8_t tmp[8];
    ts_put_u64le(tmp, v);
    return ts_buf_append(b, tmp, 8, err);
}
