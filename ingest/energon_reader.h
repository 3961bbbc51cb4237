/* Megatron-Energon dataset reader: the inverse of ingest/energon.h. Opens a
 * dataset folder (docs/ENERGON.md), reads the sample type from
 * .nv-meta/dataset.yaml and the shard lists from .nv-meta/split.yaml, then
 * yields the samples of the chosen split parts as sample records: shards in
 * split.yaml order (train, then val, then test), samples in tar order.
 *
 * Streaming: libarchive reads each shard sequentially; one sample (plus the
 * first member of the next) is in memory at a time. A shard's sample count
 * is checked against its .tar.idx when that file exists.
 *
 * What comes back is what the writer stored, and nothing else:
 *   caption / ocr   key, the one image, text = the .txt part (byte-exact)
 *   vqa             key, the image, one user turn = "question" (or Energon's
 *                   "context"), answers with "answer_weights" (1.0 each when
 *                   absent; a string "answers" is one answer)
 *   interleaved     key, turns from "conversations" (human -> user, gpt ->
 *                   assistant, system -> system), images = the parts named
 *                   by "images", in that order
 * Stage and task: caption -> pretrain/caption, ocr -> pretrain/ocr, vqa ->
 * sft/vqa, interleaved -> sft/multi_turn, or text/text when it has no
 * images. `source` is the option's value (default: the folder's base name);
 * url, row and license are not stored in Energon shards and come back empty.
 * Parts other than the ones above are ignored (Energon ignores them too).
 * Every record is checked with ts_sample_check() before it is returned.
 *
 * Errors name the shard, the sample's index in it, the member and the cause
 * ("shard-000001.tar: sample 17 (cap-017.json): not JSON"). A truncated or
 * corrupt tar is TS_EFORMAT, never a crash. The YAML files are read in the
 * form Energon's own tools and tessera's writer produce them (block lists,
 * one scalar per line), not as general YAML. */
#ifndef TS_INGEST_ENERGON_READER_H
#define TS_INGEST_ENERGON_READER_H

#include <stdint.h>

#include "core/error.h"
#include "ingest/energon.h"
#include "ingest/sample.h"

/* Split parts, as a bit set. */
enum {
    TS_SPLIT_TRAIN = 1u << 0,
    TS_SPLIT_VAL = 1u << 1,
    TS_SPLIT_TEST = 1u << 2,
    TS_SPLIT_ALL = 7u,
};
/* "train" "val" "test" "all", or a comma list of them; 0 ok, -1 bad. */
int ts_energon_split_parse(const char *s, unsigned *out);

typedef struct ts_energon_read_options {
    unsigned splits;    /* TS_SPLIT_* bits; 0 = train */
    const char *source; /* records' source name; NULL = the folder's base name */
} ts_energon_read_options;

typedef struct ts_energon_reader ts_energon_reader;

/* TS_ENOTFOUND when DIR is no complete dataset (no .nv-meta/.info.yaml or
 * .info.json); TS_EUNSUPPORTED for a sample class tessera does not read;
 * TS_EFORMAT for unreadable metadata. */
ts_status ts_energon_reader_open(ts_energon_reader **out, const char *dir, const ts_energon_read_options *o,
                                 ts_error *err);
ts_energon_type ts_energon_reader_type(const ts_energon_reader *r);
/* Shards that will be read, in order (names relative to the folder). */
size_t ts_energon_reader_shard_count(const ts_energon_reader *r);
const char *ts_energon_reader_shard(const ts_energon_reader *r, size_t i);

/* The next sample into `s` (cleared first): TS_OK, TS_ENOTFOUND after the
 * last sample of the last shard, or an error naming shard, sample and
 * member. Two kinds of error:
 *   - one sample is unusable but the tar is intact (a missing member, bad
 *     JSON, an image whose header is not an image, text that is not UTF-8):
 *     ts_energon_reader_failed() is 0 and the next call goes on with the
 *     next sample;
 *   - the shard or the metadata is damaged (truncated or corrupt tar, a
 *     .tar.idx count mismatch, a missing shard): ts_energon_reader_failed()
 *     is 1, the reader is done and further calls repeat the error. */
ts_status ts_energon_reader_next(ts_energon_reader *r, ts_sample *s, ts_error *err);
int ts_energon_reader_failed(const ts_energon_reader *r);
/* Samples passed so far, unusable ones included: the 0-based ordinal of the
 * next sample (so ordinals are positions in the dataset's read order). */
uint64_t ts_energon_reader_ordinal(const ts_energon_reader *r);
void ts_energon_reader_close(ts_energon_reader *r);

#endif
