/* A stream of bytes from a file (or "-" for stdin) that may be plain, gzip
 * (also concatenated members) or zstd: the compression is sniffed from the
 * first bytes, never from the name. The one decompressing reader under the
 * line reader and the streaming JSON/CSV readers. */
#ifndef TS_CORE_BYTE_SOURCE_H
#define TS_CORE_BYTE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct ts_byte_source ts_byte_source;

ts_status ts_byte_source_open(ts_byte_source **out, const char *path, ts_error *err);
/* The next block of decompressed bytes (valid until the next call): TS_OK
 * with *len > 0, TS_ENOTFOUND at the end, or an error naming the file. */
ts_status ts_byte_source_next(ts_byte_source *s, const uint8_t **data, size_t *len, ts_error *err);
/* Next byte, or -1 at the end; -2 on a read or decompression error (err filled). */
int ts_byte_source_getc(ts_byte_source *s, ts_error *err);
/* Offset in the decompressed stream of the next byte getc returns. */
uint64_t ts_byte_source_offset(const ts_byte_source *s);
const char *ts_byte_source_path(const ts_byte_source *s);
void ts_byte_source_close(ts_byte_source *s);

#endif
