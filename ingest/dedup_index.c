/* The persisted dedup index (layout in ingest/dedup.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/io.h"
#include "dedup.h"
#include "dedup_internal.h"

#define INDEX_MAGIC "TSDEDUP\0"
#define HEADER_BYTES 32
#define KEY_BYTES 16
#define CHUNK_KEYS 4096

static int key_cmp(const void *a, const void *b) {
    const ts_hash128 *x = a, *y = b;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    return 0;
}

static ts_status write_section(ts_writer *w, const ts_hash_set *set, ts_error *err) {
    if (!set->used) return TS_OK;
    ts_hash128 *keys = malloc(set->used * sizeof *keys);
    if (!keys) return ts_fail(err, TS_ENOMEM, "out of memory for %zu keys", set->used);
    size_t n = 0;
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i].hi || set->slots[i].lo) keys[n++] = set->slots[i];
    qsort(keys, n, sizeof *keys, key_cmp);
    uint8_t chunk[CHUNK_KEYS * KEY_BYTES];
    ts_status st = TS_OK;
    for (size_t i = 0; i < n && st == TS_OK; i += CHUNK_KEYS) {
        size_t m = n - i < CHUNK_KEYS ? n - i : CHUNK_KEYS;
        for (size_t j = 0; j < m; j++) {
            ts_put_u64le(chunk + j * KEY_BYTES, keys[i + j].hi);
            ts_put_u64le(chunk + j * KEY_BYTES + 8, keys[i + j].lo);
        }
        st = ts_writer_write(w, chunk, m * KEY_BYTES, err);
    }
    free(keys);
    return st;
}

ts_status ts_dedup_index_save(const char *path, const ts_hash_set *images,
                              const ts_hash_set *texts, ts_error *err) {
    ts_writer *w;
    ts_status st = ts_writer_open(&w, path, err);
    if (st != TS_OK) return st;
    uint8_t head[HEADER_BYTES] = {0};
    memcpy(head, INDEX_MAGIC, 8);
    ts_put_u32le(head + 8, TS_DEDUP_INDEX_VERSION);
    ts_put_u64le(head + 16, images->used);
    ts_put_u64le(head + 24, texts->used);
    st = ts_writer_write(w, head, sizeof head, err);
    if (st == TS_OK) st = write_section(w, images, err);
    if (st == TS_OK) st = write_section(w, texts, err);
    if (st == TS_OK) {
        uint8_t sum[8];
        ts_put_u64le(sum, ts_writer_xxh3(w));
        st = ts_writer_write(w, sum, sizeof sum, err);
    }
    if (st != TS_OK) {
        ts_writer_abort(w);
        return ts_error_context(err, "dedup index %s", path);
    }
    st = ts_writer_commit(w, err);
    return st == TS_OK ? TS_OK : ts_error_context(err, "dedup index %s", path);
}

static ts_status read_exact(FILE *f, void *buf, size_t n, const char *path, ts_error *err) {
    if (fread(buf, 1, n, f) == n) return TS_OK;
    if (ferror(f)) return ts_fail_errno(err, TS_EIO, "dedup index %s: read", path);
    return ts_fail(err, TS_EFORMAT, "dedup index %s: truncated", path);
}

/* Stream `count` keys into `set`, checking strict ascending order. */
static ts_status load_section(FILE *f, uint64_t count, ts_hash_set *set, ts_hasher *h,
                              const char *what, const char *path, ts_error *err) {
    uint8_t chunk[CHUNK_KEYS * KEY_BYTES];
    ts_hash128 prev = {0, 0};
    for (uint64_t i = 0; i < count;) {
        size_t m = count - i < CHUNK_KEYS ? (size_t)(count - i) : CHUNK_KEYS;
        ts_status st = read_exact(f, chunk, m * KEY_BYTES, path, err);
        if (st != TS_OK) return st;
        ts_hasher_update(h, chunk, m * KEY_BYTES);
        for (size_t j = 0; j < m; j++, i++) {
            ts_hash128 k = {ts_get_u64le(chunk + j * KEY_BYTES),
                            ts_get_u64le(chunk + j * KEY_BYTES + 8)};
            if (i > 0 && key_cmp(&prev, &k) >= 0)
                return ts_fail(err, TS_EFORMAT, "dedup index %s: %s key %llu out of order",
                               path, what, (unsigned long long)i);
            if (ts_hash_set_insert(set, k) < 0)
                return ts_fail(err, TS_ENOMEM, "dedup index %s: out of memory", path);
            prev = k;
        }
    }
    return TS_OK;
}

static ts_status load_stream(FILE *f, const char *path, ts_hash_set *images, ts_hash_set *texts,
                             ts_hasher *h, ts_error *err) {
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) return ts_fail_errno(err, TS_EIO, "dedup index %s", path);
    uint8_t head[HEADER_BYTES];
    ts_status st = read_exact(f, head, sizeof head, path, err);
    if (st != TS_OK) return st;
    if (memcmp(head, INDEX_MAGIC, 8) != 0)
        return ts_fail(err, TS_EFORMAT, "dedup index %s: bad magic (not a tessera dedup index)",
                       path);
    uint32_t version = ts_get_u32le(head + 8);
    if (version != TS_DEDUP_INDEX_VERSION)
        return ts_fail(err, TS_EUNSUPPORTED, "dedup index %s: version %u (this build reads %u)",
                       path, version, TS_DEDUP_INDEX_VERSION);
    uint64_t n_images = ts_get_u64le(head + 16), n_texts = ts_get_u64le(head + 24);
    uint64_t max_keys = ((uint64_t)sb.st_size) / KEY_BYTES;
    if (n_images > max_keys || n_texts > max_keys ||
        (uint64_t)sb.st_size != HEADER_BYTES + (n_images + n_texts) * KEY_BYTES + 8)
        return ts_fail(err, TS_EFORMAT,
                       "dedup index %s: %lld bytes do not match %llu image + %llu text keys "
                       "(truncated or damaged)",
                       path, (long long)sb.st_size, (unsigned long long)n_images,
                       (unsigned long long)n_texts);
    ts_hasher_update(h, head, sizeof head);
    st = load_section(f, n_images, images, h, "image", path, err);
    if (st == TS_OK) st = load_section(f, n_texts, texts, h, "text", path, err);
    if (st != TS_OK) return st;
    uint8_t sum[8];
    st = read_exact(f, sum, sizeof sum, path, err);
    if (st != TS_OK) return st;
    if (ts_get_u64le(sum) != ts_hasher_digest(h))
        return ts_fail(err, TS_ECHECKSUM, "dedup index %s: checksum mismatch (damaged file)",
                       path);
    return TS_OK;
}

ts_status ts_dedup_index_load(const char *path, ts_hash_set *images, ts_hash_set *texts,
                              ts_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return ts_fail(err, TS_ENOTFOUND, "dedup index %s: absent", path);
        return ts_fail_errno(err, TS_EIO, "dedup index %s: open", path);
    }
    ts_hasher *h = ts_hasher_new();
    ts_status st = h ? load_stream(f, path, images, texts, h, err)
                     : ts_fail(err, TS_ENOMEM, "dedup index %s: out of memory", path);
    ts_hasher_free(h);
    fclose(f);
    return st;
}
