/* Shared between the parquet_*.c files; not part of the public contract. */
#ifndef TS_INGEST_PARQUET_INTERNAL_H
#define TS_INGEST_PARQUET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "ingest/parquet.h"

enum { PQ_UNCOMPRESSED = 0, PQ_SNAPPY = 1, PQ_GZIP = 2, PQ_LZO = 3, PQ_BROTLI = 4, PQ_LZ4 = 5,
       PQ_ZSTD = 6, PQ_LZ4_RAW = 7 };
enum { PQ_PLAIN = 0, PQ_PLAIN_DICTIONARY = 2, PQ_RLE = 3, PQ_BIT_PACKED = 4,
       PQ_DELTA_BINARY_PACKED = 5, PQ_DELTA_LENGTH_BYTE_ARRAY = 6, PQ_DELTA_BYTE_ARRAY = 7,
       PQ_RLE_DICTIONARY = 8, PQ_BYTE_STREAM_SPLIT = 9 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };

/* A view of bytes (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96 values). */
typedef struct pq_bytes {
    const uint8_t *p;
    uint32_t len;
} pq_bytes;

/* ColumnMetaData of one column chunk. */
typedef struct pq_chunk_meta {
    int type;
    int codec;
    int64_t num_values;
    int64_t total_compressed;
    int64_t total_uncompressed;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* 0: none */
} pq_chunk_meta;

typedef struct pq_row_group {
    int64_t num_rows;
    pq_chunk_meta *chunks; /* one per leaf column */
} pq_row_group;

typedef struct pq_meta {
    ts_pq_node *nodes;   /* all schema nodes, nodes[0] is the root */
    size_t nnodes;
    ts_pq_node **leaves; /* leaf columns in file order */
    size_t nleaves;
    char **leaf_paths;   /* "a.b.c" per leaf, for messages */
    int64_t num_rows;
    pq_row_group *row_groups;
    int nrow_groups;
    char *created_by;
} pq_meta;

/* Parse the footer FileMetaData bytes and build the schema tree. */
ts_status pq_meta_parse(const uint8_t *data, size_t len, pq_meta *meta, ts_error *err);
void pq_meta_free(pq_meta *meta);

/* Decompress exactly `out_len` bytes. */
ts_status pq_decompress(int codec, const uint8_t *src, size_t len, uint8_t *out, size_t out_len,
                        ts_error *err);
const char *pq_codec_name(int codec);

/* Blocks that never move once allocated, so values may point into them. */
typedef struct pq_arena_block pq_arena_block;
typedef struct pq_arena {
    pq_arena_block *head;  /* blocks in use, newest first */
    pq_arena_block *spare; /* blocks kept by pq_arena_reset for reuse */
    size_t used_total;
} pq_arena;
void *pq_arena_alloc(pq_arena *a, size_t n);
void pq_arena_reset(pq_arena *a); /* keeps the blocks for reuse */
void pq_arena_free(pq_arena *a);

/* The decoded content of one column chunk. */
typedef struct pq_column {
    const ts_pq_node *leaf;
    size_t nlevels;          /* entries (values + nulls + empty lists) */
    uint16_t *def, *rep;     /* NULL when the max level is 0 */
    size_t nvalues;          /* non-null values */
    void *values;            /* uint8_t (bool), int32_t, int64_t, float, double or pq_bytes */
    size_t level_cap, value_cap;
    size_t value_size;
    pq_arena arena;          /* page buffers and materialized byte arrays */
    uint64_t decoded_bytes;  /* what this chunk takes decoded, for the cap */
    uint64_t cap;            /* the cap on decoded_bytes */
    /* dictionary of the chunk, if any */
    void *dict;
    size_t ndict;
    /* assembly cursors */
    size_t level_pos, value_pos;
} pq_column;

/* Read and decode all pages of the chunk held in `chunk` (the bytes of the
 * column chunk, dictionary page first). */
ts_status pq_column_decode(pq_column *col, const pq_chunk_meta *cm, const uint8_t *chunk,
                           size_t len, int64_t chunk_file_offset, ts_error *err);
void pq_column_reset(pq_column *col);
void pq_column_free(pq_column *col);

/* Encodings (parquet_encoding.c). Each decodes `n` values from [p, end) and
 * sets *used to the bytes consumed where the format makes that known. */
typedef struct pq_rle {
    const uint8_t *p, *end;
    int bit_width;
    uint32_t run_left;   /* values left in the current run */
    int bitpacked;
    uint64_t run_value;
    uint32_t bp_pos;     /* next value index inside the bit-packed run */
    const uint8_t *bp_data;
} pq_rle;
void pq_rle_init(pq_rle *r, const uint8_t *p, const uint8_t *end, int bit_width);
/* Decode n values into out (uint32). */
ts_status pq_rle_read(pq_rle *r, uint32_t *out, size_t n, ts_error *err);
ts_status pq_rle_read16(pq_rle *r, uint16_t *out, size_t n, ts_error *err);

int pq_bit_width(uint64_t max_value);

ts_status pq_plain_decode(int type, int type_length, const uint8_t *p, const uint8_t *end,
                          void *out, size_t n, ts_error *err);
ts_status pq_delta_binary_decode(const uint8_t *p, const uint8_t *end, int is64, void *out,
                                 size_t n, size_t *used, ts_error *err);
ts_status pq_delta_length_decode(const uint8_t *p, const uint8_t *end, pq_bytes *out, size_t n,
                                 ts_error *err);
ts_status pq_delta_byte_array_decode(const uint8_t *p, const uint8_t *end, pq_bytes *out,
                                     size_t n, pq_arena *arena, ts_error *err);
ts_status pq_byte_stream_split_decode(int type, int type_length, const uint8_t *p,
                                      const uint8_t *end, void *out, size_t n, pq_arena *arena,
                                      ts_error *err);
size_t pq_value_size(int type);

#endif
