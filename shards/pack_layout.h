/* Byte layout of packed shards shared by the writer and reader (internal;
 * the tables are in docs/PACKING.md). */
#ifndef TS_SHARDS_PACK_LAYOUT_H
#define TS_SHARDS_PACK_LAYOUT_H

#include "shards/pack.h"

#define PACK_HEADER_BYTES 64
#define PACK_FOOTER_BYTES 64
#define PACK_INDEX_ENTRY 32
#define PACK_SEQ_HEAD 16
#define PACK_SUB_BYTES 24
#define PACK_IMAGE_BYTES 48
#define PACK_BLOCK_MAX ((uint64_t)1 << 31) /* raw bytes of one block */

/* Bytes of one encoded sequence. */
uint64_t ts_pack_seq_bytes(uint32_t n_tokens, uint32_t n_subs, uint32_t n_images);
/* Append the encoding of s to b. */
ts_status ts_pack_seq_encode(const ts_pack_seq *s, ts_buf *b, ts_error *err);
/* Decode `n` bytes (exactly one sequence) into s. */
ts_status ts_pack_seq_decode(const uint8_t *p, uint64_t n, ts_pack_seq *s, ts_error *err);

void ts_pack_header_encode(const ts_pack_header *h, uint8_t out[PACK_HEADER_BYTES]);

#endif
