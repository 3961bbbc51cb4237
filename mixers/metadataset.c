#include "metadataset.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"

void ts_format_weight(double v, char out[32]) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) break;
    }
    if (strchr(out, '.') || strchr(out, 'n') || strchr(out, 'N')) return; /* has a dot, or inf/nan */
    char *e = strchr(out, 'e');
    char tail[32] = "";
    if (e) {
        snprintf(tail, sizeof tail, "%s", e);
        *e = 0;
    }
    size_t n = strlen(out);
    snprintf(out + n, 32 - n, ".0%s", tail);
}

/* A JSON document is a YAML flow node; printed unformatted it is one line. */
static ts_status put_json(ts_buf *out, const cJSON *v, ts_error *err) {
    char *text = cJSON_PrintUnformatted(v);
    if (!text) return ts_fail(err, TS_ENOMEM, "out of memory printing JSON");
    ts_status st = ts_buf_printf(out, err, "%s", text);
    free(text);
    return st;
}

/* `part`: the dataset's split part to read when it is not the split's own
 * name (Energon's split_part); NULL otherwise. */
static ts_status put_entry(ts_buf *out, const ts_blend_entry *e, const char *part, ts_error *err) {
    if (!e->path || !*e->path) return ts_fail(err, TS_EINVAL, "blend entry without a path");
    if (!isfinite(e->weight) || !(e->weight > 0))
        return ts_fail(err, TS_EINVAL, "%s: weight %g must be finite and > 0", e->path, e->weight);
    if (e->subflavors && !cJSON_IsObject(e->subflavors))
        return ts_fail(err, TS_EINVAL, "%s: subflavors must be an object", e->path);
    char w[32];
    ts_format_weight(e->weight, w);
    cJSON *path = cJSON_CreateString(e->path);
    cJSON *sub = e->subflavors ? cJSON_Duplicate(e->subflavors, 1) : cJSON_CreateObject();
    ts_status st = TS_OK;
    if (!path || !sub) st = ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st && !cJSON_GetObjectItemCaseSensitive(sub, "augmentation") && !cJSON_AddFalseToObject(sub, "augmentation"))
        st = ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) st = ts_buf_printf(out, err, "      - weight: %s\n        path: ", w);
    if (!st) st = put_json(out, path, err);
    if (!st) st = ts_buf_printf(out, err, "\n        subflavors: ");
    if (!st) st = put_json(out, sub, err);
    if (!st && part) {
        cJSON *p = cJSON_CreateString(part);
        st = p ? ts_buf_printf(out, err, "\n        split_part: ") : ts_fail(err, TS_ENOMEM, "out of memory");
        if (!st) st = put_json(out, p, err);
        cJSON_Delete(p);
    }
    if (!st) st = ts_buf_printf(out, err, "\n");
    cJSON_Delete(path);
    cJSON_Delete(sub);
    return st;
}

ts_status ts_metadataset_render_parts(const ts_blend_entry *train, const char *const *train_parts, size_t n_train,
                                      const ts_blend_entry *val, size_t n_val, ts_buf *out, ts_error *err) {
    if (n_train == 0) return ts_fail(err, TS_EINVAL, "a blend needs at least one train dataset");
    ts_status st = ts_buf_printf(out, err,
                                 "__module__: megatron.energon\n__class__: Metadataset\nsplits:\n  train:\n"
                                 "    datasets:\n");
    for (size_t i = 0; i < n_train && !st; i++) {
        const char *part = train_parts && train_parts[i] && strcmp(train_parts[i], "train") ? train_parts[i] : NULL;
        st = put_entry(out, &train[i], part, err);
    }
    if (!st && n_val) st = ts_buf_printf(out, err, "  val:\n    datasets:\n");
    for (size_t i = 0; i < n_val && !st; i++) st = put_entry(out, &val[i], NULL, err);
    return st;
}

ts_status ts_metadataset_render(const ts_blend_entry *train, size_t n_train, const ts_blend_entry *val,
                                size_t n_val, ts_buf *out, ts_error *err) {
    return ts_metadataset_render_parts(train, NULL, n_train, val, n_val, out, err);
}

ts_status ts_metadataset_write_parts(const char *path, const ts_blend_entry *train, const char *const *train_parts,
                                     size_t n_train, const ts_blend_entry *val, size_t n_val, ts_error *err) {
    ts_buf b = TS_BUF_INIT;
    ts_status st = ts_metadataset_render_parts(train, train_parts, n_train, val, n_val, &b, err);
    ts_writer *w = NULL;
    if (!st) st = ts_writer_open(&w, path, err);
    if (!st && (st = ts_writer_write(w, b.data, b.len, err))) ts_writer_abort(w);
    else if (!st) st = ts_writer_commit(w, err);
    ts_buf_free(&b);
    return st ? ts_error_context(err, "%s", path) : TS_OK;
}

ts_status ts_metadataset_write(const char *path, const ts_blend_entry *train, size_t n_train,
                               const ts_blend_entry *val, size_t n_val, ts_error *err) {
    return ts_metadataset_write_parts(path, train, NULL, n_train, val, n_val, err);
}
