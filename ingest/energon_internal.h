/* Pieces of the Energon writer shared between its files. */
#ifndef TS_INGEST_ENERGON_INTERNAL_H
#define TS_INGEST_ENERGON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/energon.h"
#include "ingest/tar_writer.h"

/* The tar members of one sample, in write order. Data points into the
 * sample or into `json`/`text`, which the layout owns. */
typedef struct ts_energon_member {
    char name[TS_TAR_NAME_MAX + 1];
    const uint8_t *data;
    size_t len;
} ts_energon_member;

typedef struct ts_energon_layout {
    ts_energon_member *members;
    size_t n, cap;
    ts_buf json;          /* the .json part, when there is one */
    unsigned image_exts;  /* bit per image extension used (1 << ts_image_format) */
} ts_energon_layout;

void ts_energon_layout_free(ts_energon_layout *l);

/* Map a record to its members for dataset type `type`. When the record
 * breaks a rule, returns TS_EINVAL with *reason set (a TS_DROP_* name) and
 * `err` saying why; TS_ENOMEM on allocation failure. */
ts_status ts_energon_layout_build(ts_energon_layout *l, ts_energon_type type, const ts_sample *s,
                                  unsigned max_images, const char **reason, ts_error *err);


/* One finalized shard, as the metadata files need it. */
typedef struct ts_energon_shard_info {
    char name[64]; /* "<prefix>-NNNNNN.tar" */
    uint64_t count;
    int split; /* 0 train, 1 val, 2 test */
} ts_energon_shard_info;

/* Write .nv-meta/{split.yaml, dataset.yaml, sample_loader.py when needed,
 * .info.json, .info.yaml} (in that order: .info.yaml marks completion). */
ts_status ts_energon_write_meta(const char *dir, ts_energon_type type, unsigned image_exts,
                                const ts_energon_shard_info *shards, size_t n, ts_error *err);

/* Write a small text file atomically. */
ts_status ts_energon_write_text(const char *path, const char *text, size_t n, ts_error *err);

/* Read back one finished shard (resume): its .tar.idx and every member
 * header. Adds each sample's key hash to `keys` (TS_EFORMAT on a repeat),
 * and returns the sample count, the image extension bits and the tar size.
 * A shard whose idx and tar disagree is TS_EFORMAT. */
struct ts_hash_set;
ts_status ts_energon_scan_shard(const char *tar_path, struct ts_hash_set *keys, uint64_t *count,
                                unsigned *image_exts, uint64_t *size, ts_error *err);

/* Remove what a killed run left in DIR: temporary files ("*.tmp-*") in DIR,
 * DIR/stats and DIR/.nv-meta, shards "<prefix>-NNNNNN.tar" (with their .idx
 * and stats) numbered n_shards or more, and .nv-meta/.info.yaml. */
ts_status ts_energon_clean_dir(const char *dir, const char *prefix, size_t n_shards, ts_error *err);

#endif
