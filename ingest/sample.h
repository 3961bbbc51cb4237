/* The sample record: the one in-memory shape every ingest stage produces and
 * every later stage (Energon writer, tiler, tokenizer, packer) consumes.
 * docs/SAMPLE.md documents the fields, the binary form and the JSON form.
 *
 * Ownership. A ts_sample owns every byte it points to. ts_sample_init() zeroes
 * it; ts_sample_clear() empties it for the next record but keeps every
 * allocation (strings, image buffers, arrays) so that a reader filling one
 * record per iteration stops allocating after the first few records;
 * ts_sample_free() releases everything. Setters copy their input.
 *
 * Strings are ts_buf holding UTF-8 bytes, always NUL-terminated at data[len]
 * once set (read them with ts_sample_str()). An empty string means "absent"
 * for the optional fields (text, url, row, license).
 */
#ifndef TS_INGEST_SAMPLE_H
#define TS_INGEST_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "tiler/decode.h"

/* Keys: 1..TS_SAMPLE_KEY_MAX bytes of [A-Za-z0-9_-]: no dot (Energon splits
 * member names at the first dot), no slash, so "<key>.<part>" always fits a
 * plain ustar name field. */
#define TS_SAMPLE_KEY_MAX 80

typedef enum ts_sample_stage {
    TS_STAGE_PRETRAIN = 0,
    TS_STAGE_SFT,
    TS_STAGE_TEXT, /* text-only data (text SFT, pretraining text) */
    TS_STAGE_COUNT
} ts_sample_stage;

typedef enum ts_sample_task {
    TS_TASK_CAPTION = 0, /* image + caption (text) */
    TS_TASK_VQA,         /* image + question (first user turn) + answers */
    TS_TASK_MULTI_TURN,  /* images + user/assistant turns */
    TS_TASK_OCR,         /* image + transcription (text) */
    TS_TASK_TEXT,        /* turns, or plain text */
    TS_TASK_COUNT
} ts_sample_task;

typedef enum ts_sample_role {
    TS_ROLE_SYSTEM = 0,
    TS_ROLE_USER,
    TS_ROLE_ASSISTANT,
    TS_ROLE_COUNT
} ts_sample_role;

typedef struct ts_sample_image {
    ts_image_format format; /* JPEG, PNG, WebP or GIF (never UNKNOWN once added) */
    uint32_t width, height; /* of the encoded image, EXIF orientation not applied */
    ts_hash128 xxh3;        /* xxh3-128 of `bytes` */
    ts_buf bytes;           /* the original encoded file, untouched */
} ts_sample_image;

typedef struct ts_sample_turn {
    ts_sample_role role;
    ts_buf content; /* may hold "<image>" markers (user turns) */
} ts_sample_turn;

typedef struct ts_sample_answer {
    ts_buf text;
    double weight; /* >= 0, finite; 1.0 when the source gives none */
} ts_sample_answer;

typedef struct ts_sample {
    ts_buf key;    /* dot-free, unique within a dataset */
    ts_buf source; /* source name, e.g. "coco_captions" */
    ts_sample_stage stage;
    ts_sample_task task;
    ts_sample_image *images;
    size_t n_images, cap_images;
    ts_sample_turn *turns;
    size_t n_turns, cap_turns;
    ts_buf text; /* caption, OCR transcription or plain text */
    ts_sample_answer *answers;
    size_t n_answers, cap_answers;
    ts_buf url;     /* source metadata: original URL, */
    ts_buf row;     /* row id / position in the source file, */
    ts_buf license; /* license name or URL */
} ts_sample;

void ts_sample_init(ts_sample *s);
void ts_sample_clear(ts_sample *s); /* empty, keep allocations */
void ts_sample_free(ts_sample *s);

/* A string field's text ("" when never set). */
const char *ts_sample_str(const ts_buf *field);
/* Replace a string field with `n` bytes of `s` (need not be NUL-terminated). */
ts_status ts_sample_set(ts_buf *field, const char *s, size_t n, ts_error *err);
ts_status ts_sample_set_cstr(ts_buf *field, const char *s, ts_error *err);

/* Append an image from its encoded bytes: sniffs the format, reads the size
 * from the header and hashes the bytes. TS_EFORMAT/TS_EUNSUPPORTED when the
 * bytes are no JPEG/PNG/WebP/GIF header. */
ts_status ts_sample_add_image(ts_sample *s, const void *bytes, size_t n, ts_error *err);
/* As ts_sample_add_image, but the image takes over *bytes' buffer instead of
 * copying it; *bytes is left empty on success (untouched on failure). */
ts_status ts_sample_take_image(ts_sample *s, ts_buf *bytes, ts_error *err);
/* Append an image whose metadata is already known (the codecs); the hash is
 * checked against the bytes (TS_ECHECKSUM on mismatch). */
ts_status ts_sample_add_image_known(ts_sample *s, ts_image_format format, uint32_t width,
                                    uint32_t height, ts_hash128 xxh3, const void *bytes, size_t n,
                                    ts_error *err);
ts_status ts_sample_add_turn(ts_sample *s, ts_sample_role role, const char *content, size_t n,
                             ts_error *err);
ts_status ts_sample_add_answer(ts_sample *s, const char *text, size_t n, double weight,
                               ts_error *err);

/* Check the invariants every stage relies on: key rules, valid UTF-8 without
 * NUL in every string, enums in range, image hashes and sizes, answer
 * weights, and the fields the task needs (caption/OCR: an image and text;
 * VQA: an image, a user turn and an answer or assistant turn; multi-turn:
 * turns; text: turns or text). The message names the record's key. */
ts_status ts_sample_check(const ts_sample *s, ts_error *err);
/* Key rule alone (used by writers for keys they are given). */
ts_status ts_sample_check_key(const char *key, size_t n, ts_error *err);

/* Names used by both the JSON form and docs ("pretrain", "vqa", "user"...).
 * The parsers return 0 on success, -1 for an unknown name. */
const char *ts_sample_stage_name(ts_sample_stage v);
const char *ts_sample_task_name(ts_sample_task v);
const char *ts_sample_role_name(ts_sample_role v);
int ts_sample_stage_parse(const char *name, ts_sample_stage *out);
int ts_sample_task_parse(const char *name, ts_sample_task *out);
int ts_sample_role_parse(const char *name, ts_sample_role *out);
/* "image/jpeg" <-> format; file extension Energon/WebDataset decode by. */
int ts_media_type_parse(const char *mime, ts_image_format *out);
const char *ts_image_extension(ts_image_format f); /* "jpg" "png" "webp" "gif" */

/* Number of image markers ("<image>" and "<image-N>") in a string. */
size_t ts_count_image_markers(const char *s, size_t n);

/* ---- Binary form (ingest/sample_codec.c; layout in docs/SAMPLE.md) ----
 * One frame per record: "TSSR", u32 version, u64 body length, body, u64
 * xxh3-64 of everything before it. A records file is frames back to back.
 * Only records that pass ts_sample_check() are encoded or decoded. */
#define TS_SAMPLE_MAGIC "TSSR"
#define TS_SAMPLE_VERSION 1u
#define TS_SAMPLE_FRAME_OVERHEAD 24u
#define TS_SAMPLE_BODY_MAX ((uint64_t)1 << 31) /* 2 GiB per record */

/* Append one frame to `out`. */
ts_status ts_sample_encode(const ts_sample *s, ts_buf *out, ts_error *err);
/* Decode the frame at the start of data[0..len) into `s` (cleared first);
 * *consumed receives the frame's size. Truncated input, bad magic, flipped
 * bits, trailing bytes inside the body: TS_EFORMAT or TS_ECHECKSUM (an
 * unknown version: TS_EUNSUPPORTED); `s` is then cleared. */
ts_status ts_sample_decode(const uint8_t *data, size_t len, ts_sample *s, size_t *consumed,
                           ts_error *err);

/* Streaming reader over a records file ("-" = stdin); one frame in memory. */
typedef struct ts_sample_reader ts_sample_reader;
ts_status ts_sample_reader_open(ts_sample_reader **out, const char *path, ts_error *err);
/* TS_OK with the next record in `s`, TS_ENOTFOUND at a clean end of file,
 * or an error naming the frame's index and byte offset. */
ts_status ts_sample_reader_next(ts_sample_reader *r, ts_sample *s, ts_error *err);
void ts_sample_reader_close(ts_sample_reader *r);
/* 1 when the bytes start like a records file. */
int ts_sample_is_binary(const uint8_t *data, size_t len);

/* ---- JSON form (ingest/sample_json.c; fields in docs/SAMPLE.md) ---- */
typedef struct cJSON cJSON;
/* with_bytes: include each image's bytes as "data_base64" (else only its
 * metadata, which cannot be read back). */
ts_status ts_sample_to_json(const ts_sample *s, int with_bytes, cJSON **out, ts_error *err);
/* Fill `s` (cleared first) from a JSON object. Images come from "path"
 * (relative paths are taken relative to `base_dir`, which may be NULL) or
 * "data_base64"; their media type, size and hash are computed from the bytes,
 * and any of those the JSON states must agree. The record is then checked. */
ts_status ts_sample_from_json(const cJSON *obj, const char *base_dir, ts_sample *s, ts_error *err);

#endif
