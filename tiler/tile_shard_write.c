#include <stdlib.h>
#include <string.h>

#include "../core/io.h"
#include "tile_shard.h"
#include "tile_shard_layout.h"

struct ts_tile_shard_writer {
    ts_writer *out;
    ts_tile_shard_params params;
    size_t payload_tile_bytes;
    ts_buf entries; /* INDEX_ENTRY_BYTES per record */
    ts_buf keys;    /* key bytes, back to back */
    size_t count;
    /* open-addressing set of record indices by key, to refuse duplicates */
    uint32_t *slots;
    size_t slot_cap;
    ts_buf zscratch;
};

uint64_t ts_tile_shard_index_xxh3(const uint8_t *index, size_t len, const uint8_t footer[24]) {
    ts_hasher *h = ts_hasher_new();
    if (!h) return 0; /* out of memory: the shard then fails its own check */
    ts_hasher_update(h, index, len);
    ts_hasher_update(h, footer, 24);
    uint64_t v = ts_hasher_digest(h);
    ts_hasher_free(h);
    return v;
}

size_t ts_tile_payload_bytes(int tile_size, ts_pixel_dtype dtype) {
    size_t values = (size_t)tile_size * (size_t)tile_size * 3;
    return values * ts_pixel_dtype_size(dtype);
}

static void writer_free(ts_tile_shard_writer *w) {
    ts_buf_free(&w->entries);
    ts_buf_free(&w->keys);
    ts_buf_free(&w->zscratch);
    free(w->slots);
    free(w);
}

ts_status ts_tile_shard_create(ts_tile_shard_writer **out, const char *path,
                               const ts_tile_shard_params *params, ts_error *err) {
    *out = NULL;
    if (params->tile_size <= 0 || params->max_tiles <= 0 || params->max_tiles > TS_MAX_TILES_LIMIT)
        return ts_fail(err, TS_EINVAL, "%s: bad tile shard parameters", path);
    ts_tile_shard_writer *w = calloc(1, sizeof *w);
    if (!w) return ts_fail(err, TS_ENOMEM, "out of memory");
    w->params = *params;
    if (w->params.zstd_level == 0) w->params.zstd_level = TS_TILE_ZSTD_LEVEL_DEFAULT;
    w->payload_tile_bytes = ts_tile_payload_bytes(params->tile_size, params->dtype);
    ts_status st = ts_writer_open(&w->out, path, err);
    if (st) {
        writer_free(w);
        return st;
    }
    uint8_t h[SHARD_HEADER_BYTES] = {0};
    memcpy(h, SHARD_MAGIC, 8);
    ts_put_u32le(h + 8, TS_TILE_SHARD_VERSION);
    ts_put_u32le(h + 12, (uint32_t)w->params.tile_size);
    ts_put_u32le(h + 16, (uint32_t)w->params.max_tiles);
    ts_put_u32le(h + 20, (uint32_t)w->params.dtype);
    ts_put_u32le(h + 28, (uint32_t)w->params.zstd_level);
    ts_put_u64le(h + SHARD_HEADER_HASHED, ts_xxh3_64(h, SHARD_HEADER_HASHED));
    st = ts_writer_write(w->out, h, sizeof h, err);
    if (st) {
        ts_tile_shard_abort(w);
        return st;
    }
    *out = w;
    return TS_OK;
}

static const uint8_t *entry_key(const ts_tile_shard_writer *w, uint32_t i, size_t *len) {
    const uint8_t *e = w->entries.data + (size_t)i * INDEX_ENTRY_BYTES;
    *len = ts_get_u32le(e + IDX_KEY_LEN);
    return w->keys.data + ts_get_u64le(e + IDX_KEY_OFFSET);
}

/* Insert record `index` into the key set; 0 when the key is already there. */
static int key_set_insert(ts_tile_shard_writer *w, uint32_t index, const char *key, size_t len) {
    size_t mask = w->slot_cap - 1;
    for (size_t s = ts_xxh3_64(key, len) & mask;; s = (s + 1) & mask) {
        if (w->slots[s] == 0) {
            w->slots[s] = index + 1;
            return 1;
        }
        size_t other_len;
        const uint8_t *other = entry_key(w, w->slots[s] - 1, &other_len);
        if (other_len == len && memcmp(other, key, len) == 0) return 0;
    }
}

static ts_status grow_key_set(ts_tile_shard_writer *w, ts_error *err) {
    if ((w->count + 1) * 2 <= w->slot_cap) return TS_OK;
    size_t cap = w->slot_cap ? w->slot_cap * 2 : 1024;
    uint32_t *old = w->slots;
    size_t old_cap = w->slot_cap;
    w->slots = calloc(cap, sizeof *w->slots);
    if (!w->slots) {
        w->slots = old;
        return ts_fail(err, TS_ENOMEM, "out of memory growing the key index");
    }
    w->slot_cap = cap;
    for (size_t s = 0; s < old_cap; s++) {
        if (!old[s]) continue;
        size_t len;
        const uint8_t *k = entry_key(w, old[s] - 1, &len);
        key_set_insert(w, old[s] - 1, (const char *)k, len);
    }
    free(old);
    return TS_OK;
}

ts_status ts_tile_shard_add_compressed(ts_tile_shard_writer *w, const ts_tile_record *rec,
                                       uint64_t payload_xxh3, const void *zframe, size_t zlen,
                                       ts_error *err) {
    size_t key_len = strlen(rec->key);
    if (key_len == 0 || key_len > UINT32_MAX)
        return ts_fail(err, TS_EINVAL, "tile shard: empty or oversized key");
    if (rec->tiles < 1 || rec->tiles > TS_MAX_TILES_LIMIT + 1 ||
        rec->payload_bytes != (uint64_t)rec->tiles * w->payload_tile_bytes)
        return ts_fail(err, TS_EINVAL, "tile shard: record '%s' has an inconsistent payload size",
                       rec->key);
    if (w->count >= UINT32_MAX - 1) return ts_fail(err, TS_ELIMIT, "tile shard: too many records");
    ts_status st = grow_key_set(w, err);
    if (st) return st;

    uint8_t e[INDEX_ENTRY_BYTES] = {0};
    ts_put_u64le(e + IDX_OFFSET, ts_writer_offset(w->out));
    ts_put_u64le(e + IDX_ZLEN, zlen);
    ts_put_u64le(e + IDX_PAYLOAD_BYTES, rec->payload_bytes);
    ts_put_u64le(e + IDX_HASH_HI, rec->content_hash.hi);
    ts_put_u64le(e + IDX_HASH_LO, rec->content_hash.lo);
    ts_put_u64le(e + IDX_PAYLOAD_XXH3, payload_xxh3);
    ts_put_u64le(e + IDX_KEY_OFFSET, w->keys.len);
    ts_put_u32le(e + IDX_KEY_LEN, (uint32_t)key_len);
    ts_put_u32le(e + IDX_TILES, (uint32_t)rec->tiles);
    ts_put_u32le(e + IDX_WIDTH, (uint32_t)rec->width);
    ts_put_u32le(e + IDX_HEIGHT, (uint32_t)rec->height);
    ts_put_u32le(e + IDX_COLS, (uint32_t)rec->grid.cols);
    ts_put_u32le(e + IDX_ROWS, (uint32_t)rec->grid.rows);
    size_t keys_before = w->keys.len, entries_before = w->entries.len;
    /* Keys are stored NUL-terminated so readers can hand out plain C strings. */
    if ((st = ts_buf_append(&w->keys, rec->key, key_len + 1, err)) ||
        (st = ts_buf_append(&w->entries, e, sizeof e, err))) {
        w->keys.len = keys_before;
        w->entries.len = entries_before;
        return st;
    }
    if (!key_set_insert(w, (uint32_t)w->count, rec->key, key_len)) {
        w->keys.len = keys_before;
        w->entries.len = entries_before;
        return ts_fail(err, TS_EINVAL, "tile shard: duplicate key '%s'", rec->key);
    }
    w->count++;

    uint8_t h[RECORD_HEADER_BYTES] = {0};
    memcpy(h, RECORD_MAGIC, 4);
    ts_put_u32le(h + REC_KEY_LEN, (uint32_t)key_len);
    ts_put_u32le(h + REC_WIDTH, (uint32_t)rec->width);
    ts_put_u32le(h + REC_HEIGHT, (uint32_t)rec->height);
    ts_put_u32le(h + REC_COLS, (uint32_t)rec->grid.cols);
    ts_put_u32le(h + REC_ROWS, (uint32_t)rec->grid.rows);
    ts_put_u32le(h + REC_TILES, (uint32_t)rec->tiles);
    ts_put_u64le(h + REC_PAYLOAD_BYTES, rec->payload_bytes);
    ts_put_u64le(h + REC_ZLEN, zlen);
    ts_put_u64le(h + REC_HASH_HI, rec->content_hash.hi);
    ts_put_u64le(h + REC_HASH_LO, rec->content_hash.lo);
    ts_put_u64le(h + REC_PAYLOAD_XXH3, payload_xxh3);
    /* The frame's own hash catches damage that decodes to the same payload
     * (unused bits in zstd headers and bitstreams). */
    ts_put_u64le(h + REC_FRAME_XXH3, ts_xxh3_64(zframe, zlen));
    ts_put_u64le(h + REC_HEADER_XXH3, ts_xxh3_64(h, RECORD_HEADER_HASHED));
    if ((st = ts_writer_write(w->out, h, sizeof h, err)) ||
        (st = ts_writer_write(w->out, rec->key, key_len, err)) ||
        (st = ts_writer_write(w->out, zframe, zlen, err)))
        return st;
    return TS_OK;
}

ts_status ts_tile_shard_add(ts_tile_shard_writer *w, const ts_tile_record *rec, const void *payload,
                            size_t payload_len, ts_error *err) {
    if (payload_len != rec->payload_bytes)
        return ts_fail(err, TS_EINVAL, "tile shard: record '%s': payload is %zu bytes, record says %llu",
                       rec->key, payload_len, (unsigned long long)rec->payload_bytes);
    ts_buf_reset(&w->zscratch);
    ts_status st = ts_zstd_compress(payload, payload_len, w->params.zstd_level, &w->zscratch, err);
    if (st) return st;
    return ts_tile_shard_add_compressed(w, rec, ts_xxh3_64(payload, payload_len), w->zscratch.data,
                                        w->zscratch.len, err);
}

static int cmp_by_key(const void *a, const void *b, void *ctx) {
    const ts_tile_shard_writer *w = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    size_t la, lb;
    const uint8_t *ka = entry_key(w, ia, &la), *kb = entry_key(w, ib, &lb);
    int c = memcmp(ka, kb, la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

static int cmp_by_hash(const void *a, const void *b, void *ctx) {
    const ts_tile_shard_writer *w = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    const uint8_t *ea = w->entries.data + (size_t)ia * INDEX_ENTRY_BYTES;
    const uint8_t *eb = w->entries.data + (size_t)ib * INDEX_ENTRY_BYTES;
    uint64_t ha = ts_get_u64le(ea + IDX_HASH_HI), hb = ts_get_u64le(eb + IDX_HASH_HI);
    if (ha != hb) return ha < hb ? -1 : 1;
    ha = ts_get_u64le(ea + IDX_HASH_LO);
    hb = ts_get_u64le(eb + IDX_HASH_LO);
    if (ha != hb) return ha < hb ? -1 : 1;
    return ia < ib ? -1 : ia > ib; /* equal content: file order, so lookups find the first */
}

static ts_status write_permutation(ts_tile_shard_writer *w, ts_buf *index,
                                   int (*cmp)(const void *, const void *, void *), ts_error *err) {
    uint32_t *perm = malloc((w->count ? w->count : 1) * sizeof *perm);
    if (!perm) return ts_fail(err, TS_ENOMEM, "out of memory sorting the index");
    for (size_t i = 0; i < w->count; i++) perm[i] = (uint32_t)i;
    qsort_r(perm, w->count, sizeof *perm, cmp, w);
    ts_status st = TS_OK;
    for (size_t i = 0; i < w->count && !st; i++) st = ts_buf_put_u32le(index, perm[i], err);
    free(perm);
    return st;
}

ts_status ts_tile_shard_commit(ts_tile_shard_writer *w, uint64_t *file_xxh3, uint64_t *file_bytes,
                               ts_error *err) {
    ts_buf index = TS_BUF_INIT;
    uint64_t index_offset = ts_writer_offset(w->out);
    ts_status st = ts_buf_append(&index, w->entries.data, w->entries.len, err);
    if (!st) st = write_permutation(w, &index, cmp_by_key, err);
    if (!st) st = write_permutation(w, &index, cmp_by_hash, err);
    if (!st) st = ts_buf_append(&index, w->keys.data, w->keys.len, err);
    uint8_t footer[FOOTER_BYTES];
    if (!st) {
        ts_put_u64le(footer, index_offset);
        ts_put_u64le(footer + 8, index.len);
        ts_put_u64le(footer + 16, w->count);
        ts_put_u64le(footer + 24, ts_tile_shard_index_xxh3(index.data, index.len, footer));
        memcpy(footer + 32, FOOTER_MAGIC, 8);
        st = ts_writer_write(w->out, index.data, index.len, err);
    }
    if (!st) st = ts_writer_write(w->out, footer, sizeof footer, err);
    ts_buf_free(&index);
    if (st) {
        ts_tile_shard_abort(w);
        return st;
    }
    if (file_xxh3) *file_xxh3 = ts_writer_xxh3(w->out);
    if (file_bytes) *file_bytes = ts_writer_offset(w->out);
    st = ts_writer_commit(w->out, err);
    writer_free(w);
    return st;
}

void ts_tile_shard_abort(ts_tile_shard_writer *w) {
    if (!w) return;
    ts_writer_abort(w->out);
    writer_free(w);
}
