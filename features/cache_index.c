/* Cache internals: file names, directory scan, index JSON, key table. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "cache_index.h"

const char *ts_feat_dtype_name(ts_feat_dtype t) { return t == TS_FEAT_FP8_E4M3 ? "fp8_e4m3" : "bf16"; }

int ts_feat_dtype_parse(const char *name) {
    if (strcmp(name, "bf16") == 0) return TS_FEAT_BF16;
    if (strcmp(name, "fp8_e4m3") == 0 || strcmp(name, "fp8") == 0) return TS_FEAT_FP8_E4M3;
    return -1;
}

size_t ts_feat_payload_bytes(ts_feat_dtype t, int tiles, int tokens, int dim) {
    size_t v = (size_t)tiles * (size_t)tokens * (size_t)dim;
    return t == TS_FEAT_FP8_E4M3 ? v + (size_t)tiles * (size_t)tokens * 4 : v * 2;
}

void ts_feat_shard_path(const char *dir, int shard, int index, char *out, size_t n) {
    snprintf(out, n, "%s/feat-%06d.%s", dir, shard, index ? "idx.json" : "bin");
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

ts_status ts_feat_scan_dir(const char *dir, int **committed, size_t *count, int *max_seen,
                           ts_error *err) {
    *committed = NULL;
    *count = 0;
    *max_seen = -1;
    DIR *d = opendir(dir);
    if (!d) return ts_fail_errno(err, TS_EIO, "%s", dir);
    size_t cap = 0;
    struct dirent *de;
    ts_status s = TS_OK;
    while ((de = readdir(d))) {
        int n = 0, used = 0;
        if (sscanf(de->d_name, "feat-%6d.%n", &n, &used) != 1 || used != 12) continue;
        const char *ext = de->d_name + used;
        int is_index = strcmp(ext, "idx.json") == 0;
        if (!is_index && strcmp(ext, "bin") != 0) continue; /* temporaries and others */
        if (n > *max_seen) *max_seen = n;
        if (!is_index) continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 16;
            int *nc = realloc(*committed, cap * sizeof *nc);
            if (!nc) {
                s = ts_fail(err, TS_ENOMEM, "out of memory");
                break;
            }
            *committed = nc;
        }
        (*committed)[(*count)++] = n;
    }
    closedir(d);
    if (s == TS_OK && *count) qsort(*committed, *count, sizeof **committed, cmp_int);
    return s;
}

ts_hash128 ts_feat_key_id(ts_hash128 image, const char *tiling, ts_hash128 model) {
    uint8_t buf[32 + 64] = {0};
    size_t tl = strlen(tiling);
    if (tl > 64) tl = 64;
    uint64_t w[4] = {image.hi, image.lo, model.hi, model.lo};
    memcpy(buf, w, 32);
    memcpy(buf + 32, tiling, tl);
    return ts_xxh3_128(buf, 32 + tl);
}

static int parse_hex(const char *s, int digits, uint64_t *out) {
    if (!s || (int)strlen(s) != digits) return 0;
    uint64_t v[2] = {0, 0};
    for (int i = 0; i < digits; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        v[i / 16] = v[i / 16] << 4 | (uint64_t)d;
    }
    out[0] = v[0];
    if (digits == 32) out[1] = v[1];
    return 1;
}

static int parse_hash128(const char *s, ts_hash128 *h) {
    uint64_t v[2];
    if (!parse_hex(s, 32, v)) return 0;
    h->hi = v[0];
    h->lo = v[1];
    return 1;
}

cJSON *ts_feat_entry_json(const ts_feat_entry *e) {
    char img[33], mod[33], x[17];
    ts_hash128_hex(e->image, img);
    ts_hash128_hex(e->model, mod);
    ts_hash64_hex(e->xxh3, x);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "image", img);
    cJSON_AddStringToObject(o, "tiling", e->tiling);
    cJSON_AddStringToObject(o, "model", mod);
    cJSON_AddStringToObject(o, "source", e->source ? e->source : "");
    cJSON_AddNumberToObject(o, "tiles", e->tiles);
    cJSON_AddNumberToObject(o, "tokens", e->tokens);
    cJSON_AddNumberToObject(o, "dim", e->dim);
    cJSON_AddStringToObject(o, "dtype", ts_feat_dtype_name(e->dtype));
    cJSON_AddNumberToObject(o, "offset", (double)e->offset);
    cJSON_AddNumberToObject(o, "bytes", (double)e->bytes);
    cJSON_AddStringToObject(o, "xxh3", x);
    return o;
}

static ts_status parse_entry(const cJSON *o, int shard, ts_feat_entry *e, ts_error *err) {
    memset(e, 0, sizeof *e);
    e->shard = shard;
    uint64_t x = 0;
    int dt = ts_feat_dtype_parse(ts_json_str(o, "dtype", ""));
    e->tiles = (int)ts_json_int(o, "tiles", 0);
    e->tokens = (int)ts_json_int(o, "tokens", 0);
    e->dim = (int)ts_json_int(o, "dim", 0);
    e->offset = (uint64_t)ts_json_int(o, "offset", -1);
    e->bytes = (uint64_t)ts_json_int(o, "bytes", -1);
    if (!parse_hash128(ts_json_str(o, "image", NULL), &e->image) ||
        !parse_hash128(ts_json_str(o, "model", NULL), &e->model) ||
        !parse_hex(ts_json_str(o, "xxh3", NULL), 16, &x) || dt < 0 || e->tiles <= 0 ||
        e->tokens <= 0 || e->dim <= 0 || e->offset % TS_FEAT_ALIGN != 0 ||
        !ts_json_str(o, "tiling", NULL))
        return ts_fail(err, TS_EFORMAT, "bad entry");
    e->xxh3 = x;
    e->dtype = (ts_feat_dtype)dt;
    if (e->bytes != ts_feat_payload_bytes(e->dtype, e->tiles, e->tokens, e->dim))
        return ts_fail(err, TS_EFORMAT, "entry size does not match its shape");
    e->tiling = strdup(ts_json_str(o, "tiling", ""));
    e->source = strdup(ts_json_str(o, "source", ""));
    if (!e->tiling || !e->source) return ts_fail(err, TS_ENOMEM, "out of memory");
    return TS_OK;
}

ts_status ts_feat_index_load(const char *dir, int shard, ts_feat_index *out, ts_error *err) {
    memset(out, 0, sizeof *out);
    out->shard = shard;
    char path[4096];
    ts_feat_shard_path(dir, shard, 1, path, sizeof path);
    cJSON *root = NULL;
    ts_status s = ts_json_load_file(path, 1u << 30, &root, err);
    if (s != TS_OK) return s;
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
    uint64_t x = 0;
    if (strcmp(ts_json_str(root, "format", ""), TS_FEAT_FORMAT) != 0 || !cJSON_IsArray(entries))
        s = ts_fail(err, TS_EFORMAT, "%s: not a tessera feature index", path);
    else if (ts_json_int(root, "version", 0) != TS_FEAT_VERSION)
        s = ts_fail(err, TS_EUNSUPPORTED, "%s: index version %lld", path,
                    (long long)ts_json_int(root, "version", 0));
    else if (!parse_hex(ts_json_str(root, "data_xxh3", NULL), 16, &x) ||
             ts_json_int(root, "data_bytes", -1) < 0)
        s = ts_fail(err, TS_EFORMAT, "%s: no data_bytes/data_xxh3", path);
    if (s == TS_OK) {
        out->data_xxh3 = x;
        out->data_bytes = (uint64_t)ts_json_int(root, "data_bytes", 0);
        size_t n = (size_t)cJSON_GetArraySize(entries);
        out->entries = calloc(n ? n : 1, sizeof *out->entries);
        if (!out->entries) s = ts_fail(err, TS_ENOMEM, "out of memory");
        const cJSON *it;
        cJSON_ArrayForEach(it, entries) {
            if (s != TS_OK) break;
            s = parse_entry(it, shard, &out->entries[out->count], err);
            out->count++;
            if (s == TS_OK && out->entries[out->count - 1].offset +
                                      out->entries[out->count - 1].bytes > out->data_bytes)
                s = ts_fail(err, TS_EFORMAT, "entry past the end of the data");
            if (s != TS_OK) ts_error_context(err, "%s: entry %zu", path, out->count - 1);
        }
    }
    cJSON_Delete(root);
    if (s != TS_OK) ts_feat_index_free(out);
    return s;
}

void ts_feat_index_free(ts_feat_index *x) {
    for (size_t i = 0; i < x->count; i++) {
        free((char *)x->entries[i].tiling);
        free((char *)x->entries[i].source);
    }
    free(x->entries);
    memset(x, 0, sizeof *x);
}
