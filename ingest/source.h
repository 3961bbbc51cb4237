/* Source manifests: where a dataset's data lives, in which format, and a
 * declarative mapping from its raw records to sample records, so that the
 * common shapes (captioning, VQA, LLaVA conversations, messages, text SFT,
 * pretraining text, URL + caption lists, COCO-style annotations joined to an
 * image archive) need no C code. Schema: docs/MANIFESTS.md; real manifests
 * in manifests/sources/.
 *
 * This header is the contract between the source side (manifest, readers,
 * mapping; ingest/source*.c) and the ingest pipeline (download, decode check,
 * dedup, Energon output; ingest/ingest_run.c).
 *
 * Order and ordinals. A source reader yields every raw record of the
 * source's record inputs, in manifest order then file order, each exactly
 * once, numbered 0, 1, 2, ... (the ordinal). The same manifest and inputs
 * always give the same sequence: the pipeline's resume and determinism rest
 * on it. Each raw record becomes either a mapped sample or a drop with a
 * reason; nothing is skipped silently.
 *
 * Memory. Records stream (a "select" document element by element); a join
 * table is held in memory, keyed, keeping of each row only what the mapping
 * reads, packed (ingest/source_join.c; bytes per row in MANIFESTS.md).
 */
#ifndef TS_INGEST_SOURCE_H
#define TS_INGEST_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/hash.h"
#include "ingest/download.h"
#include "ingest/sample.h"

typedef struct ts_source ts_source;

/* Parse and check a manifest (unknown keys, bad paths, bad mapping: TS_EINVAL
 * or TS_EFORMAT, naming the file and the JSON path of the problem). */
ts_status ts_source_load(const char *manifest_path, ts_source **out, ts_error *err);
void ts_source_free(ts_source *src);

const char *ts_source_name(const ts_source *src); /* [A-Za-z0-9_-]+ */
ts_sample_stage ts_source_stage(const ts_source *src);
ts_sample_task ts_source_task(const ts_source *src);
const char *ts_source_license(const ts_source *src); /* "" when not stated */
/* xxh3-128 of the manifest's canonical JSON (keys sorted, no whitespace):
 * an input to stage skipping. */
ts_hash128 ts_source_hash(const ts_source *src);

typedef struct ts_source_open_options {
    /* Read the manifest's "local" inputs (test copies beside the manifest)
     * instead of its public ones. */
    int use_local;
    /* Folder for downloaded inputs (resumable, checked against the
     * manifest's size/sha256); required when a used input is a URL. */
    const char *cache_dir;
    /* Options for downloading inputs; NULL: defaults. */
    const ts_download_options *download;
} ts_source_open_options;

/* One raw record's result. The reader owns the storage; it is valid until
 * the next call to ts_source_reader_next(). */
typedef struct ts_source_record {
    uint64_t ordinal;     /* position among all raw records of the source */
    const char *location; /* "file.parquet: row 17", for messages */
    /* Non-NULL: the record is dropped for this reason ([a-z0-9_], e.g.
     * "bad_record", "missing_field", "bad_image_ref") and `message` says
     * why; `sample` is then unspecified. */
    const char *drop_reason;
    const char *message;
    /* Otherwise the mapped record: key (unique within the source, derived
     * from the ordinal unless the mapping names a key field), source, stage,
     * task, turns/text/answers, url/row/license metadata, and the images the
     * record itself carries (embedded bytes, archive members, local files).
     * Images that must be downloaded are NOT in `sample`; they are listed in
     * image_urls, in order, and come after any carried images (a mapping
     * never mixes the two). The sample passes ts_sample_check() once the
     * listed images have been added. */
    ts_sample sample;
    const char *const *image_urls;
    size_t n_image_urls;
} ts_source_record;

typedef struct ts_source_reader ts_source_reader;

/* Open the source's inputs (downloading remote ones into cache_dir first). */
ts_status ts_source_reader_open(const ts_source *src, const ts_source_open_options *o,
                                ts_source_reader **out, ts_error *err);
/* TS_OK with the next record (mapped or dropped); TS_ENOTFOUND at the end;
 * any other status is fatal for the run (unreadable input, I/O), with a
 * message naming the file and the record. */
ts_status ts_source_reader_next(ts_source_reader *r, ts_source_record **rec, ts_error *err);
/* Advance past the next `n` raw records without mapping them (a resumed
 * run skips the ordinals its checkpoint settled: no image is decoded or read
 * from an archive). *skipped receives how many were passed, fewer than `n`
 * only at the end of the input. The next record keeps its ordinal. */
ts_status ts_source_reader_skip(ts_source_reader *r, uint64_t n, uint64_t *skipped, ts_error *err);
void ts_source_reader_close(ts_source_reader *r);

#endif
