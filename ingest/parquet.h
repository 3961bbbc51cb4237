/* A streaming Parquet reader (no C reader is packaged, so tessera has its own).
 *
 * Supported: the Thrift compact footer; data pages v1 and v2 and dictionary
 * pages; PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY, RLE / bit-packed levels and
 * booleans, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; UNCOMPRESSED, SNAPPY, GZIP and ZSTD (LZ4, LZ4_RAW,
 * BROTLI and LZO are refused with TS_EUNSUPPORTED); every physical type; nested
 * groups and repeated fields of any depth (3-level and legacy 2-level LISTs,
 * MAPs). docs/PARQUET.md has the details and the JSON form of values.
 *
 * Streaming and bounded: rows are read row group by row group, and only the
 * column chunks of the selected (projected) columns of the current row group
 * are held, decoded, in memory. A row group whose selected chunks would take
 * more than `max_row_group_bytes` (compressed or decoded) is refused with
 * TS_ELIMIT rather than exhausting memory.
 *
 * Errors name the file, and where they apply the row group, the column path
 * and the page: "x.parquet: row group 3: column images.bytes: page 2 at
 * offset 81920: snappy: corrupt input". A corrupt file never crashes the reader.
 *
 *   ts_parquet *pq;
 *   ts_parquet_open(&pq, "train.parquet", NULL, &err);
 *   const char *cols[] = {"image", "question"};
 *   ts_parquet_select(pq, cols, 2, &err);
 *   const ts_pq_value *row;
 *   while ((st = ts_parquet_next(pq, &row, &err)) == TS_OK) {
 *       row[0] is "image" (a group {bytes, path}), row[1] is "question"
 *   }
 *   st == TS_ENOTFOUND at the end; anything else is an error.
 *   ts_parquet_close(pq);
 */
#ifndef TS_INGEST_PARQUET_H
#define TS_INGEST_PARQUET_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Physical types (values as in the Parquet spec); GROUP for inner nodes. */
typedef enum ts_pq_physical {
    TS_PQ_GROUP = -1,
    TS_PQ_BOOLEAN = 0,
    TS_PQ_INT32 = 1,
    TS_PQ_INT64 = 2,
    TS_PQ_INT96 = 3,
    TS_PQ_FLOAT = 4,
    TS_PQ_DOUBLE = 5,
    TS_PQ_BYTE_ARRAY = 6,
    TS_PQ_FIXED_LEN_BYTE_ARRAY = 7,
} ts_pq_physical;

typedef enum ts_pq_repetition {
    TS_PQ_REQUIRED = 0,
    TS_PQ_OPTIONAL = 1,
    TS_PQ_REPEATED = 2,
} ts_pq_repetition;

/* The meaning of a node: from the logical type when present, else from the
 * legacy converted type. */
typedef enum ts_pq_logical {
    TS_PQ_L_NONE = 0,
    TS_PQ_L_STRING,    /* UTF8 / STRING */
    TS_PQ_L_ENUM,
    TS_PQ_L_JSON,
    TS_PQ_L_BSON,
    TS_PQ_L_UUID,
    TS_PQ_L_LIST,
    TS_PQ_L_MAP,       /* MAP and MAP_KEY_VALUE */
    TS_PQ_L_DECIMAL,   /* scale, precision */
    TS_PQ_L_DATE,      /* days since 1970-01-01 */
    TS_PQ_L_TIME,      /* unit, utc */
    TS_PQ_L_TIMESTAMP, /* unit, utc */
    TS_PQ_L_INTEGER,   /* bit_width, is_signed (INT_8 ... UINT_64) */
    TS_PQ_L_FLOAT16,
    TS_PQ_L_INTERVAL,
    TS_PQ_L_UNKNOWN,   /* the NULL logical type: always null */
} ts_pq_logical;

typedef enum ts_pq_unit { TS_PQ_MILLIS = 0, TS_PQ_MICROS = 1, TS_PQ_NANOS = 2 } ts_pq_unit;

typedef struct ts_pq_node ts_pq_node;
struct ts_pq_node {
    const char *name;
    ts_pq_physical physical;
    int type_length; /* FIXED_LEN_BYTE_ARRAY width */
    ts_pq_repetition repetition;
    ts_pq_logical logical;
    ts_pq_unit unit;
    int utc;        /* isAdjustedToUTC of TIME/TIMESTAMP */
    int bit_width;  /* INTEGER */
    int is_signed;  /* INTEGER */
    int scale, precision; /* DECIMAL */
    size_t nchildren;
    ts_pq_node **children;
    ts_pq_node *parent; /* NULL for the root */
    int max_def, max_rep; /* levels up to and including this node */
    int leaf;             /* index of the leaf column, -1 for groups */
};

/* One value of a row. The tree mirrors the schema: a node whose repetition is
 * REPEATED holds a LIST of values of that node; a group holds a GROUP whose
 * items[i] is the value of children[i]; optional nodes may be NULL. BYTES
 * (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, INT96) point into the reader's buffers
 * and stay valid until the next ts_parquet_next() call. */
typedef enum ts_pq_kind {
    TS_PQ_V_NULL = 0,
    TS_PQ_V_BOOL,
    TS_PQ_V_INT32,
    TS_PQ_V_INT64,
    TS_PQ_V_FLOAT,
    TS_PQ_V_DOUBLE,
    TS_PQ_V_BYTES,
    TS_PQ_V_GROUP,
    TS_PQ_V_LIST,
} ts_pq_kind;

typedef struct ts_pq_value ts_pq_value;
struct ts_pq_value {
    ts_pq_kind kind;
    uint32_t n; /* BYTES: length; GROUP, LIST: number of items */
    union {
        int b;
        int32_t i32;
        int64_t i64;
        float f;
        double d;
        const uint8_t *bytes;
        ts_pq_value *items;
    } u;
};

typedef struct ts_pq_options {
    /* Largest row group accepted, counting the selected columns' compressed
     * chunk bytes and their decoded size separately. 0: 1 GiB. */
    uint64_t max_row_group_bytes;
} ts_pq_options;

typedef struct ts_parquet ts_parquet;

ts_status ts_parquet_open(ts_parquet **out, const char *path, const ts_pq_options *opt,
                          ts_error *err);
void ts_parquet_close(ts_parquet *pq);

int64_t ts_parquet_num_rows(const ts_parquet *pq);
int ts_parquet_num_row_groups(const ts_parquet *pq);
/* The schema root (a group whose children are the top-level columns). */
const ts_pq_node *ts_parquet_schema(const ts_parquet *pq);

/* Project: read only these top-level columns, in this order. names == NULL
 * selects every top-level column in schema order (the default). Only before
 * the first ts_parquet_next(). TS_ENOTFOUND names a missing column. */
ts_status ts_parquet_select(ts_parquet *pq, const char *const *names, size_t n, ts_error *err);
size_t ts_parquet_num_selected(const ts_parquet *pq);
const ts_pq_node *ts_parquet_selected(const ts_parquet *pq, size_t i);

/* Next row: *values points at ts_parquet_num_selected() values, one per
 * selected column, valid until the next call. TS_ENOTFOUND at the end. */
ts_status ts_parquet_next(ts_parquet *pq, const ts_pq_value **values, ts_error *err);

/* Decode every value of the selected columns in all remaining row groups
 * without assembling rows (a fast full read: benchmarks, validation).
 * Adds the rows read and the bytes of decoded values (BYTE_ARRAY lengths,
 * fixed sizes for the others) to the counters. */
ts_status ts_parquet_scan(ts_parquet *pq, uint64_t *rows, uint64_t *value_bytes, ts_error *err);

/* Logical list view of a value: for a node annotated LIST (3-level or legacy
 * 2-level) or MAP, or a bare repeated node. Element i is ts_pq_list_at(&l, i)
 * and is a value of l.elem; when l.elem is itself the repeated node, each
 * element is one occurrence of it (not a list). A MAP's elements are its
 * key_value groups. Returns 0 for anything else and for a NULL list. */
typedef struct ts_pq_list_view {
    const ts_pq_node *elem;
    size_t n;
    const ts_pq_value *items_; /* private */
    int wrapped_;              /* private: 3-level, elements sit one group deeper */
} ts_pq_list_view;
int ts_pq_list(const ts_pq_node *node, const ts_pq_value *v, ts_pq_list_view *out);
const ts_pq_value *ts_pq_list_at(const ts_pq_list_view *l, size_t i);

/* The JSON form of a value (docs/PARQUET.md): numbers, strings, base64 for
 * binary, ISO-8601 strings for dates and times, arrays for lists, objects for
 * groups. Returns NULL only when out of memory. */
cJSON *ts_pq_value_to_json(const ts_pq_node *node, const ts_pq_value *v);

/* One row as a JSON object keyed by the selected column names. */
cJSON *ts_pq_row_to_json(const ts_parquet *pq, const ts_pq_value *values);

#endif
