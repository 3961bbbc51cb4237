/* Shared by ingest/dedup.c and ingest/dedup_index.c: the index file over the
 * two key sets (layout in ingest/dedup.h). */
#ifndef TS_INGEST_DEDUP_INTERNAL_H
#define TS_INGEST_DEDUP_INTERNAL_H

#include "core/error.h"
#include "core/hash_set.h"

/* Add the keys of the index at `path` to the sets. A missing file:
 * TS_ENOTFOUND (the sets untouched). */
ts_status ts_dedup_index_load(const char *path, ts_hash_set *images, ts_hash_set *texts,
                              ts_error *err);
ts_status ts_dedup_index_save(const char *path, const ts_hash_set *images,
                              const ts_hash_set *texts, ts_error *err);

#endif
