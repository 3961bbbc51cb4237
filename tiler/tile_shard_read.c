#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/io.h"
#include "tile_shard.h"
#include "tile_shard_layout.h"

struct ts_tile_shard {
    char *path;
    const uint8_t *map;
    size_t size;
    ts_tile_shard_params params;
    size_t count;
    uint64_t records_end; /* == index offset */
    const uint8_t *entries;
    const uint8_t *by_key;
    const uint8_t *by_hash;
    const uint8_t *keys;
    uint64_t keys_len;
};

static ts_status bad(ts_tile_shard *s, ts_error *err, const char *what) {
    return ts_fail(err, TS_EFORMAT, "%s: not a valid tile shard: %s", s->path, what);
}

static ts_status check_layout(ts_tile_shard *s, ts_error *err) {
    const uint8_t *m = s->map;
    if (s->size < SHARD_HEADER_BYTES + FOOTER_BYTES) return bad(s, err, "file too short");
    if (memcmp(m, SHARD_MAGIC, 8) != 0) return bad(s, err, "bad magic");
    if (ts_get_u64le(m + SHARD_HEADER_HASHED) != ts_xxh3_64(m, SHARD_HEADER_HASHED))
        return ts_fail(err, TS_ECHECKSUM, "%s: tile shard header checksum mismatch", s->path);
    uint32_t version = ts_get_u32le(m + 8);
    if (version != TS_TILE_SHARD_VERSION)
        return ts_fail(err, TS_EUNSUPPORTED, "%s: tile shard version %u (this build reads %d)", s->path,
                       version, TS_TILE_SHARD_VERSION);
    s->params.tile_size = (int)ts_get_u32le(m + 12);
    s->params.max_tiles = (int)ts_get_u32le(m + 16);
    uint32_t dtype = ts_get_u32le(m + 20);
    s->params.zstd_level = (int)ts_get_u32le(m + 28);
    if (dtype > TS_PIXEL_BF16 || s->params.tile_size <= 0 || s->params.tile_size > 1 << 14)
        return bad(s, err, "bad parameters in header");
    s->params.dtype = (ts_pixel_dtype)dtype;

    const uint8_t *f = m + s->size - FOOTER_BYTES;
    if (memcmp(f + 32, FOOTER_MAGIC, 8) != 0) return bad(s, err, "bad footer (truncated file?)");
    uint64_t index_offset = ts_get_u64le(f), index_len = ts_get_u64le(f + 8);
    uint64_t count = ts_get_u64le(f + 16);
    if (index_offset < SHARD_HEADER_BYTES || index_offset > s->size - FOOTER_BYTES ||
        index_len != s->size - FOOTER_BYTES - index_offset)
        return bad(s, err, "index out of range");
    if (count > index_len / (INDEX_ENTRY_BYTES + 8)) return bad(s, err, "record count out of range");
    if (ts_get_u64le(f + 24) != ts_tile_shard_index_xxh3(m + index_offset, index_len, f))
        return ts_fail(err, TS_ECHECKSUM, "%s: tile shard index checksum mismatch", s->path);
    s->count = (size_t)count;
    s->records_end = index_offset;
    s->entries = m + index_offset;
    s->by_key = s->entries + count * INDEX_ENTRY_BYTES;
    s->by_hash = s->by_key + count * 4;
    s->keys = s->by_hash + count * 4;
    s->keys_len = index_len - count * (INDEX_ENTRY_BYTES + 8);
    for (size_t i = 0; i < s->count; i++) {
        const uint8_t *e = s->entries + i * INDEX_ENTRY_BYTES;
        uint64_t ko = ts_get_u64le(e + IDX_KEY_OFFSET), kl = ts_get_u32le(e + IDX_KEY_LEN);
        if (ko > s->keys_len || kl >= s->keys_len - ko || s->keys[ko + kl] != '\0')
            return bad(s, err, "key out of range");
        if (ts_get_u32le(s->by_key + 4 * i) >= count || ts_get_u32le(s->by_hash + 4 * i) >= count)
            return bad(s, err, "permutation out of range");
    }
    return TS_OK;
}

ts_status ts_tile_shard_open(ts_tile_shard **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_tile_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ts_status st = TS_OK;
    struct stat sb;
    if (fd < 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    else if (fstat(fd, &sb) != 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", path);
    if (!st) {
        s->size = (size_t)sb.st_size;
        if (s->size >= SHARD_HEADER_BYTES + FOOTER_BYTES) {
            void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) st = ts_fail_errno(err, TS_EIO, "%s: cannot map", path);
            else s->map = m;
        }
    }
    if (fd >= 0) close(fd);
    if (!st) st = s->map ? check_layout(s, err) : bad(s, err, "file too short");
    if (st) {
        ts_tile_shard_close(s);
        return st;
    }
    *out = s;
    return TS_OK;
}

const ts_tile_shard_params *ts_tile_shard_info(const ts_tile_shard *s) { return &s->params; }

size_t ts_tile_shard_count(const ts_tile_shard *s) { return s->count; }

static const uint8_t *entry(const ts_tile_shard *s, size_t i) { return s->entries + i * INDEX_ENTRY_BYTES; }

void ts_tile_shard_record(const ts_tile_shard *s, size_t i, ts_tile_record *rec) {
    const uint8_t *e = entry(s, i);
    rec->key = (const char *)(s->keys + ts_get_u64le(e + IDX_KEY_OFFSET));
    rec->content_hash.hi = ts_get_u64le(e + IDX_HASH_HI);
    rec->content_hash.lo = ts_get_u64le(e + IDX_HASH_LO);
    rec->width = (int)ts_get_u32le(e + IDX_WIDTH);
    rec->height = (int)ts_get_u32le(e + IDX_HEIGHT);
    rec->grid.cols = (int)ts_get_u32le(e + IDX_COLS);
    rec->grid.rows = (int)ts_get_u32le(e + IDX_ROWS);
    rec->tiles = (int)ts_get_u32le(e + IDX_TILES);
    rec->payload_bytes = ts_get_u64le(e + IDX_PAYLOAD_BYTES);
}

static const uint8_t *key_at(const ts_tile_shard *s, size_t i, size_t *len) {
    const uint8_t *e = entry(s, i);
    *len = ts_get_u32le(e + IDX_KEY_LEN);
    return s->keys + ts_get_u64le(e + IDX_KEY_OFFSET);
}

ts_status ts_tile_shard_find_key(const ts_tile_shard *s, const char *key, size_t *index) {
    size_t want = strlen(key), lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, len;
        uint32_t i = ts_get_u32le(s->by_key + 4 * mid);
        const uint8_t *k = key_at(s, i, &len);
        int c = memcmp(k, key, len < want ? len : want);
        if (!c) c = len < want ? -1 : len > want;
        if (c == 0) {
            *index = i;
            return TS_OK;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return TS_ENOTFOUND;
}

static int hash_cmp(const uint8_t *e, ts_hash128 h) {
    uint64_t hi = ts_get_u64le(e + IDX_HASH_HI), lo = ts_get_u64le(e + IDX_HASH_LO);
    if (hi != h.hi) return hi < h.hi ? -1 : 1;
    if (lo != h.lo) return lo < h.lo ? -1 : 1;
    return 0;
}

ts_status ts_tile_shard_find_hash(const ts_tile_shard *s, ts_hash128 hash, size_t *index) {
    size_t lo = 0, hi = s->count; /* lower bound: the first of equal hashes */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hash_cmp(entry(s, ts_get_u32le(s->by_hash + 4 * mid)), hash) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == s->count) return TS_ENOTFOUND;
    uint32_t i = ts_get_u32le(s->by_hash + 4 * lo);
    if (hash_cmp(entry(s, i), hash) != 0) return TS_ENOTFOUND;
    *index = i;
    return TS_OK;
}

ts_status ts_tile_shard_read(const ts_tile_shard *s, size_t i, ts_buf *out, ts_error *err) {
    if (i >= s->count) return ts_fail(err, TS_EINVAL, "%s: record %zu out of range", s->path, i);
    const uint8_t *e = entry(s, i);
    size_t key_len;
    const uint8_t *key = key_at(s, i, &key_len);
    int kl = key_len > 200 ? 200 : (int)key_len;
    uint64_t off = ts_get_u64le(e + IDX_OFFSET), zlen = ts_get_u64le(e + IDX_ZLEN);
    uint64_t payload = ts_get_u64le(e + IDX_PAYLOAD_BYTES);
    if (off < SHARD_HEADER_BYTES || off > s->records_end ||
        s->records_end - off < RECORD_HEADER_BYTES + key_len ||
        zlen > s->records_end - off - RECORD_HEADER_BYTES - key_len)
        return ts_fail(err, TS_EFORMAT, "%s: record %zu (%.*s): offset out of range", s->path, i, kl, key);
    const uint8_t *h = s->map + off;
    if (memcmp(h, RECORD_MAGIC, 4) != 0 ||
        ts_get_u64le(h + REC_HEADER_XXH3) != ts_xxh3_64(h, RECORD_HEADER_HASHED))
        return ts_fail(err, TS_ECHECKSUM, "%s: record %zu (%.*s): record header damaged", s->path, i, kl,
                       key);
    if (ts_get_u64le(h + REC_ZLEN) != zlen || ts_get_u64le(h + REC_PAYLOAD_BYTES) != payload ||
        ts_get_u64le(h + REC_PAYLOAD_XXH3) != ts_get_u64le(e + IDX_PAYLOAD_XXH3) ||
        ts_get_u32le(h + REC_KEY_LEN) != key_len || memcmp(h + RECORD_HEADER_BYTES, key, key_len) != 0)
        return ts_fail(err, TS_EFORMAT, "%s: record %zu (%.*s): record and index disagree", s->path, i, kl,
                       key);
    const uint8_t *frame = h + RECORD_HEADER_BYTES + key_len;
    if (ts_get_u64le(h + REC_FRAME_XXH3) != ts_xxh3_64(frame, zlen))
        return ts_fail(err, TS_ECHECKSUM, "%s: record %zu (%.*s): compressed data checksum mismatch", s->path,
                       i, kl, key);
    size_t before = out->len;
    ts_status st = ts_zstd_decompress(frame, zlen, payload, out, err);
    if (st) return ts_error_context(err, "%s: record %zu (%.*s)", s->path, i, kl, key);
    if (ts_xxh3_64(out->data + before, payload) != ts_get_u64le(e + IDX_PAYLOAD_XXH3)) {
        out->len = before;
        return ts_fail(err, TS_ECHECKSUM, "%s: record %zu (%.*s): payload checksum mismatch", s->path, i,
                       kl, key);
    }
    return TS_OK;
}

void ts_tile_shard_close(ts_tile_shard *s) {
    if (!s) return;
    if (s->map) munmap((void *)s->map, s->size);
    free(s->path);
    free(s);
}
