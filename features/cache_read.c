/* Feature cache reader: every committed shard's index, lookups by key,
 * checked reads that dequantize to f32. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/buf.h"
#include "cache_index.h"
#include "features.h"

typedef struct keyed {
    ts_hash128 key;
    size_t index;
} keyed;

typedef struct shard {
    int number, fd;
    uint64_t bytes, xxh3;
} shard;

struct ts_feat_cache {
    char *dir;
    shard *shards;
    size_t nshards;
    ts_feat_index *indexes;
    const ts_feat_entry **entries; /* all entries, shard order */
    size_t count;
    keyed *keys; /* sorted by key, then index: lookups by binary search */
    ts_buf scratch;
};

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key.hi != y->key.hi) return x->key.hi < y->key.hi ? -1 : 1;
    if (x->key.lo != y->key.lo) return x->key.lo < y->key.lo ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void ts_feat_cache_close(ts_feat_cache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nshards; i++) {
        if (c->shards[i].fd >= 0) close(c->shards[i].fd);
        ts_feat_index_free(&c->indexes[i]);
    }
    free(c->shards);
    free(c->indexes);
    free(c->entries);
    free(c->keys);
    ts_buf_free(&c->scratch);
    free(c->dir);
    free(c);
}

ts_status ts_feat_cache_open(const char *dir, ts_feat_cache **out, ts_error *err) {
    *out = NULL;
    ts_feat_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir))) {
        free(c);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    int *numbers = NULL, max_seen;
    size_t n = 0;
    ts_status s = ts_feat_scan_dir(dir, &numbers, &n, &max_seen, err);
    if (s == TS_OK) {
        c->shards = calloc(n ? n : 1, sizeof *c->shards);
        c->indexes = calloc(n ? n : 1, sizeof *c->indexes);
        if (!c->shards || !c->indexes) s = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    size_t total = 0;
    for (size_t i = 0; s == TS_OK && i < n; i++) {
        shard *sh = &c->shards[i];
        sh->fd = -1;
        c->nshards++;
        s = ts_feat_index_load(dir, numbers[i], &c->indexes[i], err);
        if (s != TS_OK) break;
        sh->number = numbers[i];
        sh->bytes = c->indexes[i].data_bytes;
        sh->xxh3 = c->indexes[i].data_xxh3;
        char path[4096];
        ts_feat_shard_path(dir, numbers[i], 0, path, sizeof path);
        struct stat sb;
        sh->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (sh->fd < 0 || fstat(sh->fd, &sb) != 0) s = ts_fail_errno(err, TS_EIO, "%s", path);
        else if ((uint64_t)sb.st_size != sh->bytes)
            s = ts_fail(err, TS_EFORMAT, "%s: %lld bytes, the index says %llu (truncated?)", path,
                        (long long)sb.st_size, (unsigned long long)sh->bytes);
        total += c->indexes[i].count;
    }
    free(numbers);
    if (s == TS_OK && (!(c->entries = calloc(total ? total : 1, sizeof *c->entries)) ||
                       !(c->keys = calloc(total ? total : 1, sizeof *c->keys))))
        s = ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; s == TS_OK && i < c->nshards; i++)
        for (size_t j = 0; j < c->indexes[i].count; j++) {
            const ts_feat_entry *e = &c->indexes[i].entries[j];
            c->keys[c->count].key = ts_feat_key_id(e->image, e->tiling, e->model);
            c->keys[c->count].index = c->count;
            c->entries[c->count++] = e;
        }
    if (s == TS_OK) qsort(c->keys, c->count, sizeof *c->keys, cmp_keyed);
    if (s != TS_OK) {
        ts_error_context(err, "feature cache %s", dir);
        ts_feat_cache_close(c);
        return s;
    }
    *out = c;
    return TS_OK;
}

size_t ts_feat_cache_count(const ts_feat_cache *c) { return c->count; }
const ts_feat_entry *ts_feat_cache_entry(const ts_feat_cache *c, size_t i) {
    return i < c->count ? c->entries[i] : NULL;
}

ts_status ts_feat_cache_find(const ts_feat_cache *c, ts_hash128 image, const char *tiling,
                             ts_hash128 model, size_t *index) {
    /* the first entry with the key (lowest index) wins for duplicates */
    keyed want = {ts_feat_key_id(image, tiling, model), 0};
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_keyed(&c->keys[mid], &want) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == c->count || !ts_hash128_equal(c->keys[lo].key, want.key)) return TS_ENOTFOUND;
    *index = c->keys[lo].index;
    return TS_OK;
}

static shard *shard_of(ts_feat_cache *c, int number) {
    for (size_t i = 0; i < c->nshards; i++)
        if (c->shards[i].number == number) return &c->shards[i];
    return NULL;
}

static ts_status pread_all(int fd, void *dst, size_t n, uint64_t off, ts_error *err) {
    uint8_t *p = dst;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r <= 0) return r == 0 ? ts_fail(err, TS_EFORMAT, "unexpected end of shard")
                                  : ts_fail_errno(err, TS_EIO, "read");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return TS_OK;
}

ts_status ts_feat_cache_read(ts_feat_cache *c, size_t i, float *out, ts_error *err) {
    if (i >= c->count) return ts_fail(err, TS_EINVAL, "entry %zu of %zu", i, c->count);
    const ts_feat_entry *e = c->entries[i];
    shard *sh = shard_of(c, e->shard);
    ts_buf_reset(&c->scratch);
    ts_status s = ts_buf_reserve(&c->scratch, e->bytes, err);
    if (s == TS_OK) s = pread_all(sh->fd, c->scratch.data, e->bytes, e->offset, err);
    if (s == TS_OK && ts_xxh3_64(c->scratch.data, e->bytes) != e->xxh3)
        s = ts_fail(err, TS_ECHECKSUM, "checksum mismatch");
    if (s != TS_OK)
        return ts_error_context(err, "%s/feat-%06d.bin: entry %s", c->dir, e->shard, e->source);
    const uint8_t *p = c->scratch.data;
    size_t n = (size_t)e->tiles * e->tokens * e->dim;
    if (e->dtype == TS_FEAT_BF16) {
        for (size_t k = 0; k < n; k++) out[k] = ts_bf16_to_f32((uint16_t)(p[2 * k] | p[2 * k + 1] << 8));
    } else {
        const uint8_t *scales = p + n;
        for (size_t tok = 0; tok < (size_t)e->tiles * e->tokens; tok++) {
            float sc;
            memcpy(&sc, scales + 4 * tok, 4);
            for (size_t k = 0; k < (size_t)e->dim; k++)
                out[tok * e->dim + k] = ts_e4m3_to_f32(p[tok * e->dim + k]) * sc;
        }
    }
    return TS_OK;
}

ts_status ts_feat_cache_verify(ts_feat_cache *c, ts_error *err) {
    uint8_t *buf = malloc(1 << 20);
    if (!buf) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status s = TS_OK;
    for (size_t i = 0; s == TS_OK && i < c->nshards; i++) {
        shard *sh = &c->shards[i];
        ts_hasher *h = ts_hasher_new();
        if (!h) {
            s = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        for (uint64_t off = 0; s == TS_OK && off < sh->bytes;) {
            size_t k = sh->bytes - off < (1u << 20) ? (size_t)(sh->bytes - off) : (1u << 20);
            s = pread_all(sh->fd, buf, k, off, err);
            if (s == TS_OK) ts_hasher_update(h, buf, k);
            off += k;
        }
        if (s == TS_OK && ts_hasher_digest(h) != sh->xxh3)
            s = ts_fail(err, TS_ECHECKSUM, "%s/feat-%06d.bin: checksum mismatch", c->dir, sh->number);
        ts_hasher_free(h);
    }
    free(buf);
    return s;
}
