/* Packed training shards (format version 1, docs/PACKING.md) and the packer
 * that fills them from tokenized-sample files (tokenize/tokfile.h).
 *
 * A packed shard holds sequences of at most max_len positions, each the
 * concatenation of whole samples (sub-samples). Per sequence: token ids,
 * labels (next-token targets, -100 where not trained; shifted, never across
 * a sub-sample boundary), position ids (expanded positions, restarting at 0
 * per sub-sample), cu_seqlens (Megatron's cu_lengths over expanded lengths),
 * cu_tokens (the same boundaries over stored tokens), per sub-sample its
 * source, per image slot its tile count, layout, form, place, tile reference
 * and content hash.
 *
 *   header  64 bytes: "TSPACKv1", version, flags, max_len, seqs_per_block,
 *           tokenizer hash, params hash, zstd level, window, recipe hash,
 *           xxh3-64 of the header's first 56 bytes
 *   blocks  zstd frames, each holding seqs_per_block sequences (the last fewer)
 *   meta    JSON (inputs, tile shards, parameters, statistics); the input
 *           and tile shard paths are relative to the shard's own folder
 *           ("path_base": "shard_dir"), so the bytes do not depend on where
 *           the shard was written from and a moved folder still resolves
 *   index   32 bytes per block: offset, zstd size, raw size, xxh3-64 of the
 *           frame, xxh3-64 of the raw block
 *   footer  64 bytes: n_seqs, n_blocks, meta offset, meta length, index
 *           offset, reserved, xxh3-64 of header+meta+index+footer[0:48],
 *           "TSPKEND1"
 * Sequence i lives in block i / seqs_per_block: O(1) random access. Written
 * through core's atomic writer. */
#ifndef TS_SHARDS_PACK_H
#define TS_SHARDS_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"

#define TS_PACK_MAGIC "TSPACKv1"
#define TS_PACK_END "TSPKEND1"
#define TS_PACK_VERSION 1u
#define TS_PACK_IGNORE (-100) /* label of a position that is not trained */
#define TS_PACK_MAX_LEN_LIMIT (1u << 22)

enum { TS_PACK_SUB_TRUNCATED = 1u }; /* ts_pack_sub.flags */
/* ts_pack_image.flags. FEATURES: the feature cache named in the meta holds
 * the image's features for the tiling of its tile record (so only with TILES). */
enum { TS_PACK_IMG_HASH = 1u, TS_PACK_IMG_TILES = 2u, TS_PACK_IMG_FEATURES = 4u };

typedef struct ts_pack_sub {
    uint32_t input;         /* index of the input tokfile (meta "inputs") */
    uint32_t flags;         /* TS_PACK_SUB_TRUNCATED */
    uint64_t source_record; /* the record number the tokfile carries (input line) */
    uint64_t tok_record;    /* the record's index in its tokfile */
} ts_pack_sub;

typedef struct ts_pack_image {
    uint32_t sub;          /* sub-sample it belongs to */
    uint32_t tiles;        /* 1..7, thumbnail included */
    uint8_t layout;        /* 0 D, 1 X, 2 H */
    uint8_t form;          /* 0 megatron, 1 hf */
    uint8_t flags;         /* TS_PACK_IMG_HASH, TS_PACK_IMG_TILES, TS_PACK_IMG_FEATURES */
    uint8_t n_inline;      /* tiles whose features sit in the decoder */
    uint32_t token_pos;    /* token index in the sequence: the IMG token (megatron,
                              inline tiles), else the first feature or tag token */
    uint32_t position;     /* position id at token_pos */
    int32_t tile_shard;    /* index into meta "tile_shards", -1 when unknown */
    uint32_t tile_record;  /* record index in that tile shard */
    uint32_t retiled_from; /* tile count before re-tiling, 0 if not re-tiled */
    ts_hash128 content_hash; /* xxh3-128 of the encoded image (feature cache key) */
} ts_pack_image;

/* One sequence. The reader owns the arrays (reused by the next get); the
 * writer only reads them. */
typedef struct ts_pack_seq {
    uint32_t n_tokens, n_subs, n_images;
    int32_t *cu_seqlens;  /* n_subs + 1, expanded positions */
    uint32_t *cu_tokens;  /* n_subs + 1, stored tokens */
    uint32_t *ids;        /* n_tokens */
    int32_t *labels;      /* n_tokens */
    int32_t *positions;   /* n_tokens */
    ts_pack_sub *subs;    /* n_subs */
    ts_pack_image *images; /* n_images */
    size_t cap_tokens, cap_subs, cap_images;
} ts_pack_seq;

/* Room for the given counts (arrays grow, contents kept). */
ts_status ts_pack_seq_reserve(ts_pack_seq *s, size_t tokens, size_t subs, size_t images, ts_error *err);
void ts_pack_seq_free(ts_pack_seq *s);

typedef struct ts_pack_header {
    uint32_t max_len, seqs_per_block, zstd_level, window;
    uint64_t tokenizer_hash, params_hash;
    uint64_t recipe_hash; /* high 64 bits of the recipe's hash (mixers/recipe.h); 0: none given */
} ts_pack_header;

/* ---- writer ---- */
typedef struct ts_pack_writer ts_pack_writer;
ts_status ts_pack_writer_open(const char *path, const ts_pack_header *h, ts_pack_writer **out, ts_error *err);
/* Checks the sequence (the same rules as the reader's) before writing it. */
ts_status ts_pack_writer_add(ts_pack_writer *w, const ts_pack_seq *s, ts_error *err);
/* Meta JSON, index, footer, atomic rename. Frees w either way. */
ts_status ts_pack_writer_finish(ts_pack_writer *w, const char *meta_json, ts_error *err);
void ts_pack_writer_abort(ts_pack_writer *w);

/* ---- reader ---- */
typedef struct ts_pack_reader ts_pack_reader;
/* Maps the file; checks header, footer, meta and index (checksums and bounds). */
ts_status ts_pack_open(const char *path, ts_pack_reader **out, ts_error *err);
uint64_t ts_pack_count(const ts_pack_reader *r);
const ts_pack_header *ts_pack_info(const ts_pack_reader *r);
/* The meta JSON (NUL-terminated, owned by the reader). */
const char *ts_pack_meta(const ts_pack_reader *r);
/* The path the shard was opened with. */
const char *ts_pack_path(const ts_pack_reader *r);
/* Input tokfile i / tile shard i (meta "inputs", "tile_shards") as a path
 * to open: a stored relative path joined to the shard's folder (symlinks
 * resolved); shards without "path_base" (older) give the path as stored. */
ts_status ts_pack_input_path(const ts_pack_reader *r, size_t i, ts_buf *out, ts_error *err);
ts_status ts_pack_tile_shard_path(const ts_pack_reader *r, size_t i, ts_buf *out, ts_error *err);

/* ---- meta paths (pack_paths.c) ---- */
/* `target` (an existing file) relative to the folder of `shard_path` (which
 * must exist): both are resolved (realpath), then "../" per folder level
 * down to their common ancestor and the rest of target's path. */
ts_status ts_pack_relative_path(const char *target, const char *shard_path, ts_buf *out, ts_error *err);
/* `stored` as the meta holds it, resolved against the folder of the file
 * shard_path names once symlinks are resolved (an absolute `stored` is
 * returned as it is). */
ts_status ts_pack_resolve_path(const char *shard_path, const char *stored, ts_buf *out, ts_error *err);
/* Sequence i: decompresses its block (cached), checks the block's checksums
 * and the sequence's structure. */
ts_status ts_pack_get(ts_pack_reader *r, uint64_t i, ts_pack_seq *out, ts_error *err);
/* Every block and sequence. */
ts_status ts_pack_verify(ts_pack_reader *r, ts_error *err);
void ts_pack_close(ts_pack_reader *r);

/* Structure rules shared by writer and reader (docs/PACKING.md §3). */
ts_status ts_pack_seq_check(const ts_pack_seq *s, uint32_t max_len, ts_error *err);

/* ---- inspection (pack_inspect.c) ---- */
typedef struct ts_pack_summary {
    uint64_t sequences, samples, tokens, positions, images, images_with_hash, images_with_tiles, images_with_features,
        truncated;
    uint32_t longest; /* positions of the fullest sequence */
} ts_pack_summary;
/* Reads (and so verifies) every sequence. */
ts_status ts_pack_summarize(ts_pack_reader *r, ts_pack_summary *out, ts_error *err);

struct ts_tokenizer;
/* Sequence s as text: a header line per sample (its source, length), the
 * tokens decoded with tok (ids in brackets when tok is NULL), each image
 * slot as "[image N: T tiles, D/megatron, tiles shard#S record R, xxh3 H]"
 * (Megatron's IMG token replaced by it, other forms' markup kept); runs of
 * more than 4 equal ids are shown once with "xN". */
ts_status ts_pack_render(const ts_pack_seq *s, const struct ts_tokenizer *tok, ts_buf *out, ts_error *err);

/* ---- the packer ---- */
typedef enum ts_pack_overlong { TS_PACK_TRUNCATE = 0, TS_PACK_DROP } ts_pack_overlong;

typedef struct ts_pack_options {
    uint32_t max_len;        /* positions per sequence */
    uint32_t window;         /* samples held for choosing (memory bound); default 1000 */
    double min_fill;         /* a round keeps bins at least this full; default 0.999 */
    uint32_t seqs_per_block; /* default 8 */
    int zstd_level;          /* default 3 */
    ts_pack_overlong overlong;
    const char *const *tile_shards; /* tile shard paths to resolve image hashes in, or NULL
                                       (the meta records them relative to the shard's folder) */
    size_t n_tile_shards;
    uint64_t recipe_hash; /* recorded in the header (0: none) */
    const char *feature_cache; /* ViT feature cache (features/cache.h) to flag images in, or NULL */
} ts_pack_options;

void ts_pack_options_default(ts_pack_options *o);

typedef struct ts_pack_stats {
    uint64_t samples_in, samples_packed, sequences, tokens, positions;
    uint64_t truncated, dropped_overlong, dropped_empty, dropped_no_labels;
    uint64_t images, images_with_tiles, images_with_features, images_dropped_by_truncation;
} ts_pack_stats;

/* Pack the tokfiles into one shard at out_path. Deterministic: the same
 * inputs and options give identical bytes. */
ts_status ts_pack_files(const char *const *inputs, size_t n_inputs, const char *out_path,
                        const ts_pack_options *o, ts_pack_stats *stats, ts_error *err);

/* ---- the bin choice on its own (pack_plan.c) ----
 * A window of at most `window` items with lengths 1..capacity. A round packs
 * everything held into bins, first-fit-decreasing style (each bin: the
 * longest item, then repeatedly the longest that still fits; the earliest
 * added among equal lengths), keeps the bins at least min_fill full (all of
 * them when drain; then, fullest first, more of them until a quarter of the
 * window is freed) and puts the items of the others back into the window to
 * meet newer items. Unlike Megatron's
 * per-buffer knapsacks, a buffer's poorly filled tail bins are not emitted. */
typedef struct ts_binpack ts_binpack;
ts_status ts_binpack_new(uint32_t capacity, uint32_t window, ts_binpack **out, ts_error *err);
/* Adds item `slot` (< window, not held) of `length`. */
void ts_binpack_add(ts_binpack *b, uint32_t slot, uint32_t length);
uint32_t ts_binpack_count(const ts_binpack *b);
/* Returns the number of bins kept; bin k holds slots[ends[k-1] .. ends[k])
 * (ends[-1] = 0). slots and ends need room for `window` entries. */
uint32_t ts_binpack_round(ts_binpack *b, double min_fill, int drain, uint32_t *slots, uint32_t *ends);
void ts_binpack_free(ts_binpack *b);

/* The packer's bin choice over a list of lengths alone (planning, the
 * benchmark): lengths over capacity are counted in *over and left out. */
ts_status ts_binpack_lengths(const uint32_t *lengths, size_t n, uint32_t capacity, uint32_t window, double min_fill,
                             uint64_t *bins, uint64_t *packed_total, uint64_t *over, ts_error *err);

#endif
