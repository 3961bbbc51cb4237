/* A Thrift compact-protocol decoder for Parquet's footer (FileMetaData) and
 * page headers. Every read is bounds-checked against the buffer, container
 * sizes are checked against the bytes left (each element takes at least one
 * byte), and nesting is capped, so corrupt input fails cleanly. */
#ifndef TS_INGEST_THRIFT_COMPACT_H
#define TS_INGEST_THRIFT_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum {
    TC_STOP = 0,
    TC_TRUE = 1,
    TC_FALSE = 2,
    TC_BYTE = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12,
};

typedef struct tc_reader {
    const uint8_t *start, *p, *end;
    int depth;
    ts_error *err;
} tc_reader;

void tc_init(tc_reader *r, const void *data, size_t len, ts_error *err);
/* Bytes consumed so far. */
size_t tc_offset(const tc_reader *r);

/* Read the next field header of the struct being decoded. *last_id holds the
 * previous field id of this struct (start at 0). Sets *type to TC_STOP at the
 * end of the struct. */
ts_status tc_field(tc_reader *r, int *type, int *id, int16_t *last_id);
ts_status tc_i32(tc_reader *r, int type, int32_t *out);
ts_status tc_i64(tc_reader *r, int type, int64_t *out);
/* A bool field's value lives in its type nibble. */
ts_status tc_bool(tc_reader *r, int type, int *out);
/* Binary/string: a view into the buffer. */
ts_status tc_binary(tc_reader *r, int type, const uint8_t **data, uint32_t *len);
/* List/set header: element type and count (count <= bytes left). */
ts_status tc_list(tc_reader *r, int type, int *elem_type, uint32_t *count);
/* Entering a nested struct (depth cap); pair with tc_leave. */
ts_status tc_enter(tc_reader *r, int type);
void tc_leave(tc_reader *r);
/* Skip a value of the given type (for fields we do not use). */
ts_status tc_skip(tc_reader *r, int type);

#endif
