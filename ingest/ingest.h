/* The ingest pipeline (`tessera ingest MANIFEST -o DIR`): a source's raw
 * records in, an Energon dataset out (docs/INGEST.md).
 *
 *   source reader (ingest/source.h)
 *     -> download of the records' image URLs (ingest/download.h; batches of
 *        records, each stage on its own thread: batches k+2 and k+3
 *        download as one stream of URLs while k+1 is checked and k is
 *        written)
 *     -> full decode check of every image, downloaded or carried, on a
 *        thread pool (tiler/decode.h; or, when asked, a JPEG marker walk)
 *     -> exact dedup of images (bytes) and texts (normalized) (ingest/dedup.h)
 *     -> Energon writer (ingest/energon.h), sample type from the source's task
 *
 * Every raw record ends kept or dropped with exactly one reason; each drop is
 * a line of DIR/stats/drops.jsonl and DIR/stats/summary.json reconciles
 * (records_in = written + sum of dropped_by_reason). Output bytes depend only
 * on the source and the options that shape the dataset (shard size, prefix,
 * split), never on --jobs, the download concurrency or timing.
 *
 * Resume: DIR/state/checkpoint.json is rewritten atomically each time a shard
 * is finalized; a re-run after a crash (even kill -9) continues from it and
 * produces the same shards as an uninterrupted run. A re-run of a finished
 * dataset retries the records an earlier pass dropped with a retryable
 * download outcome, and reads on past --max-records when it was raised.
 */
#ifndef TS_INGEST_INGEST_H
#define TS_INGEST_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "ingest/dedup.h"
#include "ingest/download.h"
#include "ingest/energon.h"
#include "ingest/source.h"

/* How each image is checked before it is kept. */
typedef enum ts_ingest_image_check {
    /* Full decode (tiler/decode.h); JPEGs at 1/8 DCT scale, which still
     * entropy-decodes every coefficient: corrupt and truncated data fail. */
    TS_INGEST_CHECK_DECODE = 0,
    /* JPEGs: a marker walk only (ingest/jpeg_scan.h: truncation, bad
     * headers, pixel limit; corrupted entropy-coded bytes pass). PNG, WebP
     * and GIF still decode in full. Several times cheaper per JPEG. */
    TS_INGEST_CHECK_STRUCTURE,
} ts_ingest_image_check;

typedef struct ts_ingest_options {
    int jobs;                  /* decode-check threads (<= 0: CPU count) */
    ts_ingest_image_check image_check; /* default TS_INGEST_CHECK_DECODE */
    uint64_t max_records;      /* read raw records with ordinal < this (0: all) */
    int use_local;             /* the manifest's local test copies */
    const char *cache_dir;     /* downloaded source inputs; NULL: DIR/cache */
    ts_download_options download; /* image downloads (expect_image is forced on) */
    const char *dedup_index;   /* cross-run index, loaded if present, saved at the end */
    ts_dedup_options dedup;
    uint64_t shard_bytes;      /* Energon shard size target */
    const char *prefix;        /* shard name prefix (default "shard") */
    unsigned val_every, test_every; /* Energon splits (see energon.h) */
    size_t batch_urls;         /* image URLs per download batch (default 4 x concurrency) */
    int progress;              /* progress on stderr (default 1) */
    FILE *report;              /* JSON lines: per shard, then the ingest summary; may be NULL */
} ts_ingest_options;

void ts_ingest_options_default(ts_ingest_options *o);

typedef struct ts_ingest_stats {
    uint64_t records_in;   /* distinct raw records settled (all passes) */
    uint64_t written;      /* samples in the dataset */
    uint64_t dropped;      /* records_in - written */
    uint64_t pass;         /* 1 for the first run over the source, then +1 per re-run */
    uint64_t read;         /* raw records read by this run (skipped ones included) */
    uint64_t processed;    /* records settled by this run (fresh + retried) */
    uint64_t retried, recovered; /* this run: earlier drops retried / now kept */
    uint64_t urls, urls_ok, url_bytes; /* this run's image downloads */
    uint64_t shards;
    double seconds;
    int resumed;           /* this run continued an interrupted one */
} ts_ingest_stats;

/* Run the pipeline for the manifest at `manifest` into `dir`. */
ts_status ts_ingest_run(const char *manifest, const char *dir, const ts_ingest_options *o,
                        ts_ingest_stats *stats, ts_error *err);

/* The same over an already loaded source (tests, callers with their own
 * source objects). */
ts_status ts_ingest_source(const ts_source *src, const char *dir, const ts_ingest_options *o,
                           ts_ingest_stats *stats, ts_error *err);

/* The text a record is deduplicated by, into `out` (cleared); *has_text = 0
 * when the record takes no text dedup. Captioning and OCR records: their
 * text (caption, transcription). Records without images (text SFT,
 * pretraining text): the turns as "role: content" lines, then the text.
 * VQA and multi-turn records with images: none (the same question is asked
 * of many images), they are deduplicated by their images only. */
ts_status ts_ingest_text_key(const ts_sample *s, ts_buf *out, int *has_text, ts_error *err);

#endif
