/* Internals shared by the cache's writer and reader: shard file names, the
 * index JSON, and a hash table from cache keys to entry numbers. */
#ifndef TS_FEATURES_CACHE_INDEX_H
#define TS_FEATURES_CACHE_INDEX_H

#include <cjson/cJSON.h>

#include "cache.h"

#define TS_FEAT_FORMAT "tessera-features"
#define TS_FEAT_VERSION 1
#define TS_FEAT_ALIGN 64

/* "<dir>/feat-NNNNNN.bin" / ".idx.json". */
void ts_feat_shard_path(const char *dir, int shard, int index, char *out, size_t n);
/* Shard numbers found in `dir`: committed (with an index) into `committed`
 * (sorted), and the largest number seen of any kind in *max_seen (-1: none). */
ts_status ts_feat_scan_dir(const char *dir, int **committed, size_t *count, int *max_seen,
                           ts_error *err);

/* The 128-bit identity of a cache key. */
ts_hash128 ts_feat_key_id(ts_hash128 image, const char *tiling, ts_hash128 model);

/* A loaded index: entries with owned strings. */
typedef struct ts_feat_index {
    int shard;
    uint64_t data_bytes, data_xxh3;
    ts_feat_entry *entries;
    size_t count;
} ts_feat_index;

ts_status ts_feat_index_load(const char *dir, int shard, ts_feat_index *out, ts_error *err);
void ts_feat_index_free(ts_feat_index *x);
/* One entry as index JSON. */
cJSON *ts_feat_entry_json(const ts_feat_entry *e);

#endif
