/* The tokenized-sample file the packer reads (format: docs/TOKENIZER.md).
 *
 *   header   "TSTOKv1\0", u32 flags (0), u32 reserved (0)
 *   records  one per sample, back to back (layout below)
 *   index    u64 offset of each record
 *   footer   u64 n_records, u64 index_offset, u64 xxh3-64 of every byte
 *            before the footer, u32 version (1), u32 reserved, "TSTOKEND"
 * All integers little-endian. A record:
 *   u64 source record number, u32 n_ids, u32 n_images, i64 length,
 *   i32 ids[n_ids], u8 loss_mask[n_ids], zero padding to a multiple of 4,
 *   per image: i32 tiles, i32 cap, i32 retiled_from, i32 reserved (0),
 *              i64 token_pos, i64 tag_pos[7], i64 feat_pos[7], u8 inline[7], u8 0
 * Written through core's atomic writer: the file exists complete or not at all. */
#ifndef TS_TOKENIZE_TOKFILE_H
#define TS_TOKENIZE_TOKFILE_H

#include <stdint.h>

#include "tokenize/chat.h"

#define TS_TOKFILE_MAGIC "TSTOKv1"
#define TS_TOKFILE_END "TSTOKEND"
#define TS_TOKFILE_VERSION 1u

typedef struct ts_tokfile_writer ts_tokfile_writer;

ts_status ts_tokfile_create(const char *path, ts_tokfile_writer **out, ts_error *err);
ts_status ts_tokfile_add(ts_tokfile_writer *w, uint64_t source_record, const ts_chat_result *r, ts_error *err);
/* Index + footer, then the atomic rename. Frees w either way. */
ts_status ts_tokfile_finish(ts_tokfile_writer *w, ts_error *err);
void ts_tokfile_abort(ts_tokfile_writer *w);

/* A whole file in memory, checked (magic, version, checksum, bounds). */
typedef struct ts_tokfile {
    ts_buf data;
    uint64_t n_records;
    const uint8_t *index;
} ts_tokfile;

typedef struct ts_tokfile_record {
    uint64_t source_record;
    uint32_t n_ids, n_images;
    int64_t length;
    const uint8_t *ids;  /* n_ids little-endian i32 */
    const uint8_t *mask; /* n_ids bytes */
    const uint8_t *images; /* n_images entries of TS_TOKFILE_IMAGE_BYTES */
} ts_tokfile_record;

#define TS_TOKFILE_IMAGE_BYTES 144

ts_status ts_tokfile_load(const char *path, ts_tokfile *out, ts_error *err);
ts_status ts_tokfile_get(const ts_tokfile *f, uint64_t i, ts_tokfile_record *out, ts_error *err);
void ts_tokfile_free(ts_tokfile *f);

#endif
