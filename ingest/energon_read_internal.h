/* Pieces of the Energon reader shared between its files. */
#ifndef TS_INGEST_ENERGON_READ_INTERNAL_H
#define TS_INGEST_ENERGON_READ_INTERNAL_H

#include <stddef.h>

#include "ingest/energon_reader.h"

typedef struct ts_energon_shard_ref {
    char *name; /* relative to the dataset folder */
    int split;  /* 0 train, 1 val, 2 test */
} ts_energon_shard_ref;

typedef struct ts_energon_shards {
    ts_energon_shard_ref *v;
    size_t n, cap;
} ts_energon_shards;

/* Sample type from .nv-meta/dataset.yaml's sample_type __class__. */
ts_status ts_energon_meta_type(const char *dir, ts_energon_type *type, ts_error *err);
/* Shards of the split parts in `want` (TS_SPLIT_* bits), in file order. */
ts_status ts_energon_meta_shards(const char *dir, unsigned want, ts_energon_shards *out, ts_error *err);
void ts_energon_shards_free(ts_energon_shards *s);
/* 1 when .nv-meta/.info.yaml or .info.json exists. */
int ts_energon_meta_complete(const char *dir);

#endif
