/* Standard base64 (RFC 4648, "+/" alphabet, "=" padding): binary fields in
 * JSON forms (sample records, `tessera cat`). */
#ifndef TS_CORE_BASE64_H
#define TS_CORE_BASE64_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

/* Append the encoding of data[0..n) (no NUL terminator) to `out`. */
ts_status ts_base64_encode(const void *data, size_t n, ts_buf *out, ts_error *err);
/* Append the decoded bytes of text[0..n) to `out`. Strict: length a multiple
 * of 4, padding only at the end, no whitespace; else TS_EFORMAT. */
ts_status ts_base64_decode(const char *text, size_t n, ts_buf *out, ts_error *err);

#endif
