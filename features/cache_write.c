/* Feature cache writer: quantize, append to the open shard, index on commit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/hash_set.h"
#include "../core/io.h"
#include "../core/json.h"
#include "../tiler/tiler.h"
#include "cache_index.h"

struct ts_feat_writer {
    char *dir;
    ts_feat_writer_options opt;
    ts_hash_set keys;
    size_t existing;
    int next_shard, committed;
    ts_writer *bin; /* open shard, or NULL */
    cJSON *entries; /* its index entries */
    ts_buf payload;
};

ts_status ts_feat_writer_open(const char *dir, const ts_feat_writer_options *o,
                              ts_feat_writer **out, ts_error *err) {
    *out = NULL;
    ts_status s = ts_mkdirs(dir, err);
    if (s != TS_OK) return s;
    ts_feat_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    w->opt = *o;
    if (!w->opt.shard_bytes) w->opt.shard_bytes = (uint64_t)2 << 30;
    int *shards = NULL, max_seen = -1;
    size_t n = 0;
    s = ts_feat_scan_dir(dir, &shards, &n, &max_seen, err);
    for (size_t i = 0; s == TS_OK && i < n; i++) {
        ts_feat_index x;
        s = ts_feat_index_load(dir, shards[i], &x, err);
        for (size_t j = 0; s == TS_OK && j < x.count; j++) {
            const ts_feat_entry *e = &x.entries[j];
            if (ts_hash_set_insert(&w->keys, ts_feat_key_id(e->image, e->tiling, e->model)) < 0)
                s = ts_fail(err, TS_ENOMEM, "out of memory");
            w->existing++;
        }
        ts_feat_index_free(&x);
    }
    free(shards);
    w->next_shard = max_seen + 1; /* never reuse a number, even of an uncommitted .bin */
    if (s != TS_OK) {
        ts_error_context(err, "feature cache %s", dir);
        ts_feat_writer_abort(w);
        return s;
    }
    *out = w;
    return TS_OK;
}

size_t ts_feat_writer_existing(const ts_feat_writer *w) { return w->existing; }

int ts_feat_writer_has(const ts_feat_writer *w, ts_hash128 image, const char *tiling,
                       ts_hash128 model) {
    return ts_hash_set_contains(&w->keys, ts_feat_key_id(image, tiling, model));
}

static ts_status commit_shard(ts_feat_writer *w, ts_error *err) {
    int shard = w->next_shard++;
    uint64_t bytes = ts_writer_offset(w->bin), xxh = ts_writer_xxh3(w->bin);
    ts_status s = ts_writer_commit(w->bin, err);
    w->bin = NULL;
    cJSON *root = cJSON_CreateObject();
    char path[4096], hex[17], name[64];
    ts_hash64_hex(xxh, hex);
    snprintf(name, sizeof name, "feat-%06d.bin", shard);
    if (s == TS_OK && root) {
        cJSON_AddStringToObject(root, "format", TS_FEAT_FORMAT);
        cJSON_AddNumberToObject(root, "version", TS_FEAT_VERSION);
        cJSON_AddNumberToObject(root, "shard", shard);
        cJSON_AddStringToObject(root, "data", name);
        cJSON_AddNumberToObject(root, "data_bytes", (double)bytes);
        cJSON_AddStringToObject(root, "data_xxh3", hex);
        cJSON_AddItemToObject(root, "entries", w->entries);
        w->entries = NULL;
        char *text = cJSON_PrintUnformatted(root);
        ts_writer *iw = NULL;
        ts_feat_shard_path(w->dir, shard, 1, path, sizeof path);
        if (!text) s = ts_fail(err, TS_ENOMEM, "out of memory");
        if (s == TS_OK) s = ts_writer_open(&iw, path, err);
        if (s == TS_OK) s = ts_writer_write(iw, text, strlen(text), err);
        if (s == TS_OK) s = ts_writer_write(iw, "\n", 1, err);
        if (s == TS_OK) s = ts_writer_commit(iw, err);
        else ts_writer_abort(iw);
        free(text);
    } else if (s == TS_OK) {
        s = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    cJSON_Delete(root);
    cJSON_Delete(w->entries);
    w->entries = NULL;
    if (s == TS_OK) w->committed++;
    return s;
}

/* Encode `n` tokens of `dim` values into w->payload. */
static ts_status encode(ts_feat_writer *w, const float *x, size_t tokens, size_t dim, ts_error *err) {
    size_t bytes = ts_feat_payload_bytes(w->opt.dtype, 1, (int)tokens, (int)dim);
    ts_buf_reset(&w->payload);
    ts_status s = ts_buf_reserve(&w->payload, bytes, err);
    if (s != TS_OK) return s;
    uint8_t *p = w->payload.data;
    if (w->opt.dtype == TS_FEAT_BF16) {
        for (size_t i = 0; i < tokens * dim; i++) {
            uint16_t h = ts_f32_to_bf16(x[i]);
            p[2 * i] = (uint8_t)h;
            p[2 * i + 1] = (uint8_t)(h >> 8);
        }
    } else {
        uint8_t *scales = p + tokens * dim;
        for (size_t t = 0; t < tokens; t++) {
            const float *r = x + t * dim;
            float amax = 0;
            for (size_t i = 0; i < dim; i++) amax = fmaxf(amax, fabsf(r[i]));
            float scale = amax > 0 ? amax / 448.0f : 1.0f, inv = 1.0f / scale;
            for (size_t i = 0; i < dim; i++) p[t * dim + i] = ts_f32_to_e4m3(r[i] * inv);
            memcpy(scales + 4 * t, &scale, 4); /* little-endian hosts */
        }
    }
    w->payload.len = bytes;
    return TS_OK;
}

ts_status ts_feat_writer_add(ts_feat_writer *w, ts_hash128 image, const char *tiling,
                             ts_hash128 model, const char *source, int tiles, int tokens, int dim,
                             const float *features, ts_error *err) {
    if (tiles <= 0 || tokens <= 0 || dim <= 0)
        return ts_fail(err, TS_EINVAL, "feature shape %d x %d x %d", tiles, tokens, dim);
    for (size_t i = 0; i < (size_t)tiles * tokens * dim; i++)
        if (!isfinite(features[i]))
            return ts_fail(err, TS_EINVAL, "%s: non-finite feature value", source ? source : "");
    ts_status s = TS_OK;
    if (!w->bin) {
        char path[4096];
        ts_feat_shard_path(w->dir, w->next_shard, 0, path, sizeof path);
        s = ts_writer_open(&w->bin, path, err);
        if (s == TS_OK && !(w->entries = cJSON_CreateArray())) s = ts_fail(err, TS_ENOMEM, "out of memory");
        if (s != TS_OK) return s;
    }
    static const uint8_t zeros[TS_FEAT_ALIGN] = {0};
    uint64_t off = ts_writer_offset(w->bin);
    if (off % TS_FEAT_ALIGN) s = ts_writer_write(w->bin, zeros, TS_FEAT_ALIGN - off % TS_FEAT_ALIGN, err);
    ts_feat_entry e = {image, tiling, model, source, tiles, tokens, dim, w->opt.dtype,
                       w->next_shard, ts_writer_offset(w->bin), 0, 0};
    /* fp8 keeps all codes first, then all scales: encode tile by tile into place */
    ts_buf all = TS_BUF_INIT;
    size_t per_tile = (size_t)tokens * dim;
    e.bytes = ts_feat_payload_bytes(w->opt.dtype, tiles, tokens, dim);
    if (s == TS_OK) s = ts_buf_reserve(&all, e.bytes, err);
    for (int t = 0; s == TS_OK && t < tiles; t++) {
        s = encode(w, features + t * per_tile, (size_t)tokens, (size_t)dim, err);
        if (s != TS_OK) break;
        if (w->opt.dtype == TS_FEAT_BF16) {
            memcpy(all.data + t * per_tile * 2, w->payload.data, per_tile * 2);
        } else {
            memcpy(all.data + t * per_tile, w->payload.data, per_tile);
            memcpy(all.data + (size_t)tiles * per_tile + (size_t)t * tokens * 4,
                   w->payload.data + per_tile, (size_t)tokens * 4);
        }
    }
    if (s == TS_OK) {
        e.xxh3 = ts_xxh3_64(all.data, e.bytes);
        s = ts_writer_write(w->bin, all.data, e.bytes, err);
    }
    ts_buf_free(&all);
    cJSON *j = s == TS_OK ? ts_feat_entry_json(&e) : NULL;
    if (s == TS_OK && !j) s = ts_fail(err, TS_ENOMEM, "out of memory");
    if (s == TS_OK) {
        cJSON_AddItemToArray(w->entries, j);
        if (ts_hash_set_insert(&w->keys, ts_feat_key_id(image, tiling, model)) < 0)
            s = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    if (s == TS_OK && ts_writer_offset(w->bin) >= w->opt.shard_bytes) s = commit_shard(w, err);
    return s;
}

ts_status ts_feat_writer_close(ts_feat_writer *w, int *shards, ts_error *err) {
    ts_status s = w->bin ? commit_shard(w, err) : TS_OK;
    if (shards) *shards = w->committed;
    ts_feat_writer_abort(w);
    return s;
}

void ts_feat_writer_abort(ts_feat_writer *w) {
    if (!w) return;
    ts_writer_abort(w->bin);
    cJSON_Delete(w->entries);
    ts_hash_set_free(&w->keys);
    ts_buf_free(&w->payload);
    free(w->dir);
    free(w);
}
