/* Exact dedup of images and texts across a run and across runs.
 *
 * An image's key is the xxh3-128 of its encoded bytes; a text's key is the
 * xxh3-128 of its normalized form (ts_dedup_normalize_text, docs/DEDUP.md).
 * The first record with a key is kept; every later one is a duplicate, and
 * the caller records the drop in the run manifest with the reason string
 * ts_dedup_reason() gives ("dup_image" / "dup_text").
 *
 * Across runs: a context may start from an index file a previous run saved.
 * Keys seen in this run join the file only when ts_dedup_save() commits (an
 * atomic temp + fsync + rename), so a run that crashes leaves the old index
 * as it was. Index layout (little-endian, docs/DEDUP.md):
 *
 *   0  8  magic "TSDEDUP\0"
 *   8  4  version (1)
 *  12  4  reserved, 0
 *  16  8  image key count I
 *  24  8  text key count T
 *  32     I image keys, then T text keys; each key 16 bytes (hi u64, lo u64),
 *         each section sorted ascending by (hi, lo), no repeats
 *  end 8  xxh3-64 of every byte before it
 *
 * Memory: 16-byte slots, the table doubling at 70% full (core/hash_set.h):
 * 23 to 46 bytes a key; 100 million keys take 4.3 GB. */
#ifndef TS_INGEST_DEDUP_H
#define TS_INGEST_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"

#define TS_DEDUP_INDEX_VERSION 1u

typedef enum ts_dedup_kind { TS_DEDUP_IMAGE = 0, TS_DEDUP_TEXT = 1 } ts_dedup_kind;

typedef enum ts_dedup_verdict { TS_DEDUP_KEPT = 0, TS_DEDUP_DUPLICATE = 1 } ts_dedup_verdict;

typedef struct ts_dedup_options {
    /* Fold case before hashing texts (default 1): "Hello" and "hello" are
     * then the same text. Captions and web text repeat with only case
     * changed (titles, shouting, sentence starts); for a corpus where case
     * carries meaning (code, some tokenizer studies) turn it off. */
    int casefold;
} ts_dedup_options;

void ts_dedup_options_default(ts_dedup_options *o);

/* Keys kept and dropped so far, per kind; `loaded` counts the keys read from
 * the index file. Invariant: seen == kept + dropped for each kind. */
typedef struct ts_dedup_counts {
    uint64_t loaded, seen, kept, dropped;
} ts_dedup_counts;

typedef struct ts_dedup ts_dedup;

/* New context. `index_path` NULL or a missing file: a fresh start. An index
 * that exists but is damaged (bad magic, version, size, order or checksum)
 * fails with TS_EFORMAT / TS_EUNSUPPORTED / TS_ECHECKSUM and a message that
 * names the file. `opts` NULL: defaults. */
ts_status ts_dedup_open(ts_dedup **out, const char *index_path, const ts_dedup_options *opts,
                        ts_error *err);
void ts_dedup_close(ts_dedup *d);

/* Dedup one image by its encoded bytes. `key` (may be NULL) receives the key. */
ts_status ts_dedup_image(ts_dedup *d, const void *bytes, size_t len, ts_dedup_verdict *verdict,
                         ts_hash128 *key, ts_error *err);
/* The same for an image whose key, ts_xxh3_128 of its encoded bytes, the
 * caller already holds (a ts_sample_image's xxh3): no second hash. */
ts_status ts_dedup_image_key(ts_dedup *d, ts_hash128 key, ts_dedup_verdict *verdict, ts_error *err);
/* Dedup one text by its normalized form. `key` may be NULL. */
ts_status ts_dedup_text(ts_dedup *d, const char *text, size_t len, ts_dedup_verdict *verdict,
                        ts_hash128 *key, ts_error *err);

ts_dedup_counts ts_dedup_counts_of(const ts_dedup *d, ts_dedup_kind kind);

/* The manifest drop reason of a duplicate of this kind. */
const char *ts_dedup_reason(ts_dedup_kind kind);

/* Write every key (loaded + this run's) to `path` atomically. */
ts_status ts_dedup_save(const ts_dedup *d, const char *path, ts_error *err);

/* The dedup form of a text, replacing `out`'s contents: NFC (+ case fold when
 * `casefold`), every run of Unicode whitespace turned into one U+0020,
 * leading and trailing whitespace removed. Text that is not valid UTF-8 is
 * copied as raw bytes, unchanged. */
ts_status ts_dedup_normalize_text(const char *text, size_t len, int casefold, ts_buf *out,
                                  ts_error *err);

#endif
