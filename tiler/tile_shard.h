/* The tile shard: tessera's on-disk form of tiled images (format version 1),
 * written by `tessera tile` and read by the feature and packing stages.
 *
 * Layout (all integers little-endian; docs/FORMATS.md has the byte tables):
 *
 *   header   64 bytes: magic "TSTILES1", version, tile_size, max_tiles,
 *            pixel dtype, flags, zstd level, xxh3-64 of the header's first 56 bytes
 *   records  one per image, back to back, each:
 *            record header (96 bytes: magic "TREC", key length, grid, tile
 *            count, sizes, xxh3-128 of the original encoded image, xxh3-64 of
 *            the uncompressed payload and of its zstd frame, xxh3-64 of this
 *            header's first 88 bytes)
 *            + key bytes + zstd frame of the payload (count tiles, each
 *            tile_size^2*3 u8 HWC, or 3*tile_size^2 normalized CHW values)
 *   index    entries in record order (offset, sizes, hashes), then two
 *            permutations: records sorted by key and by content hash, then
 *            the keys blob (each key NUL-terminated)
 *   footer   40 bytes: index offset, index length, record count, xxh3-64 of
 *            the index, magic "TSTIDX01"
 *
 * Writers write to a temporary name and rename on commit, so a reader never
 * sees a partial shard under the final name. Readers check the header,
 * footer and index checksums on open and each record's payload checksum on
 * read; a flipped byte anywhere is reported as TS_ECHECKSUM or TS_EFORMAT. */
#ifndef TS_TILER_TILE_SHARD_H
#define TS_TILER_TILE_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/error.h"
#include "../core/hash.h"
#include "tiler.h"

#define TS_TILE_SHARD_VERSION 1

/* zstd level of tile payloads when none is given. Photo pixels barely
 * compress (level 1 keeps 64.5% of the bytes, level 3 61.5%) while level 3
 * costs 2.8x the CPU of level 1, which made compression most of `prepare`. */
#define TS_TILE_ZSTD_LEVEL_DEFAULT 1

typedef struct ts_tile_shard_params {
    int tile_size;
    int max_tiles;
    ts_pixel_dtype dtype; /* what the payload holds */
    int zstd_level;       /* 0 = TS_TILE_ZSTD_LEVEL_DEFAULT */
} ts_tile_shard_params;

/* What the index knows about one image. */
typedef struct ts_tile_record {
    const char *key;         /* unique within the shard (the input name) */
    ts_hash128 content_hash; /* xxh3-128 of the original encoded bytes */
    int width, height;       /* original image size */
    ts_grid grid;
    int tiles;               /* tile count, thumbnail included */
    uint64_t payload_bytes;  /* uncompressed payload size */
} ts_tile_record;

/* Bytes of one tile's payload for a dtype. */
size_t ts_tile_payload_bytes(int tile_size, ts_pixel_dtype dtype);

typedef struct ts_tile_shard_writer ts_tile_shard_writer;

ts_status ts_tile_shard_create(ts_tile_shard_writer **out, const char *path,
                               const ts_tile_shard_params *params, ts_error *err);
/* Append one image. `payload` holds rec->tiles tiles in the shard's dtype;
 * payload_len must equal rec->tiles * ts_tile_payload_bytes(). Keys must be
 * unique (TS_EINVAL otherwise). */
ts_status ts_tile_shard_add(ts_tile_shard_writer *w, const ts_tile_record *rec, const void *payload,
                            size_t payload_len, ts_error *err);
/* Like ts_tile_shard_add with a payload already zstd-compressed by
 * ts_zstd_compress (so workers can compress in parallel). */
ts_status ts_tile_shard_add_compressed(ts_tile_shard_writer *w, const ts_tile_record *rec,
                                       uint64_t payload_xxh3, const void *zframe, size_t zlen,
                                       ts_error *err);
/* Write the index and footer, rename to the final path. Frees the writer. */
ts_status ts_tile_shard_commit(ts_tile_shard_writer *w, uint64_t *file_xxh3, uint64_t *file_bytes,
                               ts_error *err);
void ts_tile_shard_abort(ts_tile_shard_writer *w);

typedef struct ts_tile_shard ts_tile_shard;

/* Open (memory-mapped) and check header, footer and index. */
ts_status ts_tile_shard_open(ts_tile_shard **out, const char *path, ts_error *err);
const ts_tile_shard_params *ts_tile_shard_info(const ts_tile_shard *s);
size_t ts_tile_shard_count(const ts_tile_shard *s);
/* Record i in file order; rec->key points into the mapped file (valid until
 * ts_tile_shard_close). */
void ts_tile_shard_record(const ts_tile_shard *s, size_t i, ts_tile_record *rec);
/* Lookups; TS_ENOTFOUND when absent. With several images of equal content,
 * find_hash returns the first in file order. */
ts_status ts_tile_shard_find_key(const ts_tile_shard *s, const char *key, size_t *index);
ts_status ts_tile_shard_find_hash(const ts_tile_shard *s, ts_hash128 hash, size_t *index);
/* Decompress record i's payload into `out` (appended) and check its xxh3. */
ts_status ts_tile_shard_read(const ts_tile_shard *s, size_t i, ts_buf *out, ts_error *err);
void ts_tile_shard_close(ts_tile_shard *s);

#endif
