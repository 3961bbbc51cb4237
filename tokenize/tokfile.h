/* The tokenized-sample file the packer reads (format: docs/TOKENIZER.md §6).
 *
 *   header   v2: "TSTOKv2\0", u32 flags (0), u32 reserved (0),
 *                u64 tokenizer hash (xxh3-64 of tokenizer.json), u64 reserved (0)
 *            v1: "TSTOKv1\0", u32 flags (0), u32 reserved (0)
 *   records  one per sample, back to back (layout below)
 *   index    u64 offset of each record
 *   footer   u64 n_records, u64 index_offset, u64 xxh3-64 of every byte
 *            before the footer, u32 version (1 or 2), u32 reserved, "TSTOKEND"
 * All integers little-endian. A record:
 *   u64 source record number, u32 n_ids, u32 n_images, i64 length,
 *   i32 ids[n_ids], u8 loss_mask[n_ids], zero padding to a multiple of 4,
 *   per image (v2, 160 bytes): i32 tiles, i32 cap, i32 retiled_from,
 *              u8 layout (0 D, 1 X, 2 H), u8 form (0 megatron, 1 hf),
 *              u8 flags (bit 0: content hash present), u8 0,
 *              i64 token_pos, i64 tag_pos[7], i64 feat_pos[7], u8 inline[7], u8 0,
 *              u64 xxh3-128 hi, u64 xxh3-128 lo
 *   (v1, 144 bytes: the same without the hash; layout/form bytes were 0 and
 *    are inferred from the positions when read)
 * Version 2 is written; both are read. Written through core's atomic writer:
 * the file exists complete or not at all. */
#ifndef TS_TOKENIZE_TOKFILE_H
#define TS_TOKENIZE_TOKFILE_H

#include <stdint.h>

#include "tokenize/chat.h"

#define TS_TOKFILE_MAGIC "TSTOKv2"
#define TS_TOKFILE_MAGIC_V1 "TSTOKv1"
#define TS_TOKFILE_END "TSTOKEND"
#define TS_TOKFILE_VERSION 2u

typedef struct ts_tokfile_writer ts_tokfile_writer;

/* tokenizer_hash: ts_tokenizer_hash() of the tokenizer used (0: unknown). */
ts_status ts_tokfile_create(const char *path, uint64_t tokenizer_hash, ts_tokfile_writer **out, ts_error *err);
ts_status ts_tokfile_add(ts_tokfile_writer *w, uint64_t source_record, const ts_chat_result *r, ts_error *err);
/* Index + footer, then the atomic rename. Frees w either way. */
ts_status ts_tokfile_finish(ts_tokfile_writer *w, ts_error *err);
void ts_tokfile_abort(ts_tokfile_writer *w);

typedef struct ts_tokfile_record {
    uint64_t source_record;
    uint32_t n_ids, n_images;
    int64_t length;
    const uint8_t *ids;    /* n_ids little-endian i32 */
    const uint8_t *mask;   /* n_ids bytes */
    const uint8_t *images; /* n_images entries; decode with ts_tokfile_image */
    uint32_t version;      /* of the file: fixes the image entry size */
} ts_tokfile_record;

#define TS_TOKFILE_IMAGE_BYTES 160
#define TS_TOKFILE_IMAGE_BYTES_V1 144

/* Image k of a record (k < n_images). Checks the values it decodes: tiles in
 * 1..7, layout and form known, positions inside the record (TS_EFORMAT). */
ts_status ts_tokfile_image(const ts_tokfile_record *r, uint32_t k, ts_chat_slot *out, ts_error *err);

/* Random access with memory bounded by the largest record (records are read
 * with pread, so the file may be any size). Open checks magic, version and
 * index bounds, and reads the file once to check its checksum; a record's
 * offsets are checked again when it is read. */
typedef struct ts_tokfile ts_tokfile;

ts_status ts_tokfile_open(const char *path, ts_tokfile **out, ts_error *err);
uint64_t ts_tokfile_count(const ts_tokfile *f);
uint64_t ts_tokfile_tokenizer_hash(const ts_tokfile *f); /* 0 in v1 files */
/* Record i; TS_ENOTFOUND past the end. The record stays valid until the
 * next call on f. */
ts_status ts_tokfile_get(ts_tokfile *f, uint64_t i, ts_tokfile_record *out, ts_error *err);
void ts_tokfile_close(ts_tokfile *f);

/* Streaming reader with memory bounded by the largest record: records in
 * file order. The file checksum covers the whole file, so it can only be
 * checked after the last record: ts_tokfile_reader_next returns TS_ENOTFOUND
 * at the end only once checksum and index agree (else TS_ECHECKSUM /
 * TS_EFORMAT); a consumer must not commit output built from the records
 * before that. */
typedef struct ts_tokfile_reader ts_tokfile_reader;

ts_status ts_tokfile_reader_open(const char *path, ts_tokfile_reader **out, ts_error *err);
uint64_t ts_tokfile_reader_count(const ts_tokfile_reader *r);
uint32_t ts_tokfile_reader_version(const ts_tokfile_reader *r);
uint64_t ts_tokfile_reader_tokenizer_hash(const ts_tokfile_reader *r);
/* The xxh3-64 the footer stores (identifies the file's content). */
uint64_t ts_tokfile_reader_checksum(const ts_tokfile_reader *r);
/* The record stays valid until the next call. */
ts_status ts_tokfile_reader_next(ts_tokfile_reader *r, ts_tokfile_record *rec, ts_error *err);
void ts_tokfile_reader_close(ts_tokfile_reader *r);

#endif
