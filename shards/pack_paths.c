/* Paths a packed shard's meta records (inputs, tile shards): relative to the
 * shard's own folder, so a shard's bytes do not depend on where its build
 * ran and a moved build folder still resolves (pack.h, docs/PACKING.md §2). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "shards/pack.h"

/* The canonical absolute form (symlinks resolved) of the folder holding
 * `file` (which need not exist yet: the shard being written). */
static ts_status real_dir_of(const char *file, char out[PATH_MAX], ts_error *err) {
    const char *slash = strrchr(file, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == file) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - file) >= sizeof dir) return ts_fail(err, TS_EINVAL, "%s: path too long", file);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
    if (!realpath(dir, out)) return ts_fail_errno(err, TS_EIO, "%s: cannot resolve the folder of", file);
    return TS_OK;
}

/* Length of the leading run of whole components `a` and `b` share
 * (both canonical absolute paths). */
static size_t common_prefix(const char *a, const char *b) {
    size_t last = 0, i = 0;
    for (; a[i] && a[i] == b[i]; i++)
        if (a[i] == '/') last = i;
    if ((!a[i] || a[i] == '/') && (!b[i] || b[i] == '/')) last = i;
    return last;
}

ts_status ts_pack_relative_path(const char *target, const char *shard_path, ts_buf *out, ts_error *err) {
    char dir[PATH_MAX], real[PATH_MAX];
    ts_status st = real_dir_of(shard_path, dir, err);
    if (st) return st;
    if (!realpath(target, real))
        return ts_fail_errno(err, errno == ENOENT ? TS_ENOTFOUND : TS_EIO, "%s: cannot resolve", target);
    if (strcmp(dir, "/") == 0) dir[0] = 0; /* so that "/x" splits as "" + "/x" */
    size_t common = common_prefix(dir, real);
    ts_buf_reset(out);
    /* One "../" per component of dir below the common prefix. */
    for (const char *p = dir + common; *p && !st; p++)
        if (*p == '/') st = ts_buf_append(out, "../", 3, err);
    const char *rest = real + common;
    if (*rest == '/') rest++;
    if (!st) st = ts_buf_append(out, rest, strlen(rest) + 1, err);
    if (!st) out->len--; /* the NUL stays after the text */
    return st;
}

ts_status ts_pack_resolve_path(const char *shard_path, const char *stored, ts_buf *out, ts_error *err) {
    ts_buf_reset(out);
    if (stored[0] == '/') return ts_buf_printf(out, err, "%s", stored);
    /* The shard itself resolved first: opened through a link, its folder is
     * the link target's. */
    char real[PATH_MAX];
    if (!realpath(shard_path, real)) return ts_fail_errno(err, TS_EIO, "%s: cannot resolve", shard_path);
    size_t dir = (size_t)(strrchr(real, '/') - real); /* realpath is absolute: a '/' is there */
    return ts_buf_printf(out, err, "%.*s/%s", (int)dir, real, stored);
}

/* The i-th path of meta array `list` ("inputs" holds objects with "path",
 * "tile_shards" strings), resolved. */
static ts_status meta_path(const ts_pack_reader *r, const char *list, size_t i, ts_buf *out, ts_error *err) {
    cJSON *meta = cJSON_Parse(ts_pack_meta(r));
    if (!meta) return ts_fail(err, TS_EFORMAT, "%s: meta is not JSON", ts_pack_path(r));
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(meta, list);
    const cJSON *e = cJSON_IsArray(arr) && i < (size_t)cJSON_GetArraySize(arr) ? cJSON_GetArrayItem(arr, (int)i) : NULL;
    const char *stored = cJSON_IsString(e) ? e->valuestring : ts_json_str(e, "path", NULL);
    /* Shards written before paths were relative to the shard ("path_base"
     * absent) hold them as the packer was given them. */
    const char *base = ts_json_str(meta, "path_base", "");
    ts_status st;
    if (!stored) st = ts_fail(err, TS_ENOTFOUND, "%s: meta %s has no entry %zu", ts_pack_path(r), list, i);
    else if (strcmp(base, "shard_dir") != 0) {
        ts_buf_reset(out);
        st = ts_buf_printf(out, err, "%s", stored);
    } else st = ts_pack_resolve_path(ts_pack_path(r), stored, out, err);
    cJSON_Delete(meta);
    return st;
}

ts_status ts_pack_input_path(const ts_pack_reader *r, size_t i, ts_buf *out, ts_error *err) {
    return meta_path(r, "inputs", i, out, err);
}

ts_status ts_pack_tile_shard_path(const ts_pack_reader *r, size_t i, ts_buf *out, ts_error *err) {
    return meta_path(r, "tile_shards", i, out, err);
}
