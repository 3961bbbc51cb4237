/* UTF-8 validation shared by every stage that takes text from outside. */
#ifndef TS_CORE_UTF8_H
#define TS_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence at p[0..n), or 0 when it is
 * invalid (overlong, surrogate, above U+10FFFF, truncated) or a NUL byte. */
size_t ts_utf8_seq(const uint8_t *p, size_t n);

/* 1 when the n bytes are strict UTF-8 without NUL bytes. */
int ts_utf8_valid(const void *p, size_t n);

#endif
