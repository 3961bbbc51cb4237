/* A growable byte buffer: the unit of every in-memory payload. */
#ifndef TS_CORE_BUF_H
#define TS_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct ts_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} ts_buf;

#define TS_BUF_INIT {NULL, 0, 0}

/* Ensure room for `extra` more bytes past len. */
ts_status ts_buf_reserve(ts_buf *b, size_t extra, ts_error *err);
ts_status ts_buf_append(ts_buf *b, const void *data, size_t n, ts_error *err);
ts_status ts_buf_printf(ts_buf *b, ts_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ts_buf_reset(ts_buf *b); /* len = 0, keeps the allocation */
void ts_buf_free(ts_buf *b);

/* Little-endian fixed-width appends, for binary formats. */
ts_status ts_buf_put_u32le(ts_buf *b, uint32_t v, ts_error *err);
ts_status ts_buf_put_u64le(ts_buf *b, uint64_t v, ts_error *err);
uint32_t ts_get_u32le(const uint8_t *p);
uint64_t ts_get_u64le(const uint8_t *p);
void ts_put_u32le(uint8_t *p, uint32_t v);
void ts_put_u64le(uint8_t *p, uint64_t v);

#endif
