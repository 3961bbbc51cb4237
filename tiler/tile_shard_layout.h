/* Byte offsets of the tile shard format, shared by its writer and reader
 * (private to tiler/; the public contract is tile_shard.h + docs/FORMATS.md). */
#ifndef TS_TILER_TILE_SHARD_LAYOUT_H
#define TS_TILER_TILE_SHARD_LAYOUT_H

#define SHARD_MAGIC "TSTILES1"
#define SHARD_HEADER_BYTES 64
#define SHARD_HEADER_HASHED 56

#define RECORD_MAGIC "TREC"
#define RECORD_HEADER_BYTES 96
#define RECORD_HEADER_HASHED 88

#define INDEX_ENTRY_BYTES 80
#define FOOTER_MAGIC "TSTIDX01"
#define FOOTER_BYTES 40

/* record header fields */
enum {
    REC_KEY_LEN = 4,
    REC_WIDTH = 8,
    REC_HEIGHT = 12,
    REC_COLS = 16,
    REC_ROWS = 20,
    REC_TILES = 24,
    REC_PAYLOAD_BYTES = 32,
    REC_ZLEN = 40,
    REC_HASH_HI = 48,
    REC_HASH_LO = 56,
    REC_PAYLOAD_XXH3 = 64,
    REC_FRAME_XXH3 = 72,
    REC_HEADER_XXH3 = 88,
};

/* index entry fields */
enum {
    IDX_OFFSET = 0,
    IDX_ZLEN = 8,
    IDX_PAYLOAD_BYTES = 16,
    IDX_HASH_HI = 24,
    IDX_HASH_LO = 32,
    IDX_PAYLOAD_XXH3 = 40,
    IDX_KEY_OFFSET = 48,
    IDX_KEY_LEN = 56,
    IDX_TILES = 60,
    IDX_WIDTH = 64,
    IDX_HEIGHT = 68,
    IDX_COLS = 72,
    IDX_ROWS = 76,
};

#include <stddef.h>
#include <stdint.h>

/* The footer checksum: xxh3-64 of the index bytes followed by the footer's
 * first 24 bytes (index offset, length, count), so no footer field can change
 * unnoticed. */
uint64_t ts_tile_shard_index_xxh3(const uint8_t *index, size_t len, const uint8_t footer[24]);

#endif
