/* A byte stream over a file that may be plain, gzip or zstd compressed (sniffed
 * from the magic bytes), for the streaming JSON and CSV readers. */
#ifndef TS_INGEST_BYTE_SOURCE_H
#define TS_INGEST_BYTE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct ts_byte_source ts_byte_source;

ts_status ts_byte_source_open(ts_byte_source **out, const char *path, ts_error *err);
/* Next byte, or -1 at the end; on a read or decompression error returns -2
 * and fills err. */
int ts_byte_source_getc(ts_byte_source *s, ts_error *err);
/* Offset in the decompressed stream of the next byte. */
uint64_t ts_byte_source_offset(const ts_byte_source *s);
void ts_byte_source_close(ts_byte_source *s);

#endif
