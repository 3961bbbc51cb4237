/* JSON form of sample records (docs/SAMPLE.md). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/io.h"
#include "core/json.h"
#include "sample.h"

#define IMAGE_FILE_MAX ((size_t)1 << 30)

static int add_str(cJSON *obj, const char *name, const ts_buf *field) {
    return cJSON_AddStringToObject(obj, name, ts_sample_str(field)) != NULL;
}

static cJSON *image_json(const ts_sample_image *im, int with_bytes, ts_buf *scratch, ts_error *err) {
    cJSON *o = cJSON_CreateObject();
    char hex[33];
    ts_hash128_hex(im->xxh3, hex);
    int ok = o && cJSON_AddStringToObject(o, "media_type", ts_format_mime(im->format)) &&
             cJSON_AddNumberToObject(o, "width", im->width) && cJSON_AddNumberToObject(o, "height", im->height) &&
             cJSON_AddStringToObject(o, "xxh3_128", hex) &&
             cJSON_AddNumberToObject(o, "size", (double)im->bytes.len);
    if (ok && with_bytes) {
        ts_buf_reset(scratch);
        if (ts_base64_encode(im->bytes.data, im->bytes.len, scratch, err) ||
            ts_buf_append(scratch, "", 1, err)) {
            cJSON_Delete(o);
            return NULL;
        }
        ok = cJSON_AddStringToObject(o, "data_base64", (const char *)scratch->data) != NULL;
    }
    if (!ok) {
        cJSON_Delete(o);
        ts_fail(err, TS_ENOMEM, "out of memory building JSON");
        return NULL;
    }
    return o;
}

ts_status ts_sample_to_json(const ts_sample *s, int with_bytes, cJSON **out, ts_error *err) {
    *out = NULL;
    cJSON *o = cJSON_CreateObject(), *arr;
    ts_buf scratch = TS_BUF_INIT;
    int ok = o && add_str(o, "key", &s->key) && add_str(o, "source", &s->source) &&
             cJSON_AddStringToObject(o, "stage", ts_sample_stage_name(s->stage)) &&
             cJSON_AddStringToObject(o, "task", ts_sample_task_name(s->task));
    if (ok && (ok = (arr = cJSON_AddArrayToObject(o, "images")) != NULL))
        for (size_t i = 0; ok && i < s->n_images; i++) {
            cJSON *im = image_json(&s->images[i], with_bytes, &scratch, err);
            if (!im) {
                ts_buf_free(&scratch);
                cJSON_Delete(o);
                return err ? err->code : TS_ENOMEM;
            }
            cJSON_AddItemToArray(arr, im);
        }
    ts_buf_free(&scratch);
    if (ok && (ok = (arr = cJSON_AddArrayToObject(o, "turns")) != NULL))
        for (size_t i = 0; ok && i < s->n_turns; i++) {
            cJSON *t = cJSON_CreateObject();
            ok = t && cJSON_AddStringToObject(t, "role", ts_sample_role_name(s->turns[i].role)) &&
                 add_str(t, "content", &s->turns[i].content);
            if (t) cJSON_AddItemToArray(arr, t);
        }
    if (ok && s->text.len) ok = add_str(o, "text", &s->text);
    if (ok && (ok = (arr = cJSON_AddArrayToObject(o, "answers")) != NULL))
        for (size_t i = 0; ok && i < s->n_answers; i++) {
            cJSON *a = cJSON_CreateObject();
            ok = a && add_str(a, "text", &s->answers[i].text) &&
                 cJSON_AddNumberToObject(a, "weight", s->answers[i].weight);
            if (a) cJSON_AddItemToArray(arr, a);
        }
    cJSON *meta = ok ? cJSON_AddObjectToObject(o, "meta") : NULL;
    ok = ok && meta;
    if (ok && s->url.len) ok = add_str(meta, "url", &s->url);
    if (ok && s->row.len) ok = add_str(meta, "row", &s->row);
    if (ok && s->license.len) ok = add_str(meta, "license", &s->license);
    if (!ok) {
        cJSON_Delete(o);
        return ts_fail(err, TS_ENOMEM, "out of memory building JSON");
    }
    *out = o;
    return TS_OK;
}

/* ---- parsing ---- */

static ts_status get_string(const cJSON *obj, const char *name, int required, const char **out,
                            ts_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        return required ? ts_fail(err, TS_EINVAL, "missing \"%s\"", name) : TS_OK;
    }
    if (!cJSON_IsString(v)) return ts_fail(err, TS_EINVAL, "\"%s\" is not a string", name);
    *out = v->valuestring;
    return TS_OK;
}

static ts_status set_opt(ts_buf *field, const cJSON *obj, const char *name, ts_error *err) {
    const char *v;
    ts_status st = get_string(obj, name, 0, &v, err);
    if (st || !v) return st;
    return ts_sample_set_cstr(field, v, err);
}

static ts_status read_image_bytes(const cJSON *im, const char *base_dir, ts_buf *bytes, ts_error *err) {
    const char *path, *b64;
    ts_status st;
    if ((st = get_string(im, "path", 0, &path, err)) || (st = get_string(im, "data_base64", 0, &b64, err)))
        return st;
    if (!!path == !!b64) return ts_fail(err, TS_EINVAL, "give exactly one of \"path\" and \"data_base64\"");
    if (b64) return ts_base64_decode(b64, strlen(b64), bytes, err);
    char full[4096];
    int n = path[0] == '/' || !base_dir || !*base_dir ? snprintf(full, sizeof full, "%s", path)
                                                       : snprintf(full, sizeof full, "%s/%s", base_dir, path);
    if (n < 0 || (size_t)n >= sizeof full) return ts_fail(err, TS_EINVAL, "image path too long");
    return ts_read_file(full, IMAGE_FILE_MAX, bytes, err);
}

/* Stated metadata must agree with what the bytes say. */
static ts_status check_stated(const cJSON *im, const ts_sample_image *got, ts_error *err) {
    const char *mime = ts_json_str(im, "media_type", NULL);
    ts_image_format f;
    if (mime && (ts_media_type_parse(mime, &f) || f != got->format))
        return ts_fail(err, TS_EFORMAT, "stated media_type %s but the bytes are %s", mime, ts_format_mime(got->format));
    const char *names[2] = {"width", "height"};
    uint32_t vals[2] = {got->width, got->height};
    for (int k = 0; k < 2; k++) {
        int64_t v = ts_json_int(im, names[k], -1);
        if (cJSON_GetObjectItemCaseSensitive(im, names[k]) && v != (int64_t)vals[k])
            return ts_fail(err, TS_EFORMAT, "stated %s does not match the image (%u)", names[k], vals[k]);
    }
    const char *hex = ts_json_str(im, "xxh3_128", NULL);
    char have[33];
    ts_hash128_hex(got->xxh3, have);
    if (hex && strcmp(hex, have) != 0)
        return ts_fail(err, TS_ECHECKSUM, "stated xxh3_128 %s, bytes hash to %s", hex, have);
    return TS_OK;
}

static ts_status parse_images(const cJSON *arr, const char *base_dir, ts_sample *s, ts_error *err) {
    if (!arr || cJSON_IsNull(arr)) return TS_OK;
    if (!cJSON_IsArray(arr)) return ts_fail(err, TS_EINVAL, "\"images\" is not an array");
    ts_buf bytes = TS_BUF_INIT;
    ts_status st = TS_OK;
    size_t i = 0;
    for (const cJSON *im = arr->child; im && !st; im = im->next, i++) {
        ts_buf_reset(&bytes);
        if (!cJSON_IsObject(im)) st = ts_fail(err, TS_EINVAL, "not an object");
        if (!st) st = read_image_bytes(im, base_dir, &bytes, err);
        if (!st) st = ts_sample_add_image(s, bytes.data, bytes.len, err);
        if (!st) st = check_stated(im, &s->images[s->n_images - 1], err);
        if (st) ts_error_context(err, "images[%zu]", i);
    }
    ts_buf_free(&bytes);
    return st;
}

static ts_status parse_turns(const cJSON *arr, ts_sample *s, ts_error *err) {
    if (!arr || cJSON_IsNull(arr)) return TS_OK;
    if (!cJSON_IsArray(arr)) return ts_fail(err, TS_EINVAL, "\"turns\" is not an array");
    size_t i = 0;
    for (const cJSON *t = arr->child; t; t = t->next, i++) {
        const char *role, *content;
        ts_sample_role r;
        ts_status st;
        if (!cJSON_IsObject(t)) return ts_fail(err, TS_EINVAL, "turns[%zu] is not an object", i);
        if ((st = get_string(t, "role", 1, &role, err)) || (st = get_string(t, "content", 1, &content, err)))
            return ts_error_context(err, "turns[%zu]", i);
        if (ts_sample_role_parse(role, &r))
            return ts_fail(err, TS_EINVAL, "turns[%zu]: unknown role \"%s\" (system, user, assistant)", i, role);
        if ((st = ts_sample_add_turn(s, r, content, strlen(content), err))) return st;
    }
    return TS_OK;
}

static ts_status parse_answers(const cJSON *arr, ts_sample *s, ts_error *err) {
    if (!arr || cJSON_IsNull(arr)) return TS_OK;
    if (!cJSON_IsArray(arr)) return ts_fail(err, TS_EINVAL, "\"answers\" is not an array");
    size_t i = 0;
    for (const cJSON *a = arr->child; a; a = a->next, i++) {
        const char *text;
        double weight = 1.0;
        ts_status st;
        if (cJSON_IsString(a)) {
            text = a->valuestring;
        } else if (cJSON_IsObject(a)) {
            if ((st = get_string(a, "text", 1, &text, err))) return ts_error_context(err, "answers[%zu]", i);
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(a, "weight");
            if (w && !cJSON_IsNumber(w)) return ts_fail(err, TS_EINVAL, "answers[%zu]: weight is not a number", i);
            if (w) weight = w->valuedouble;
        } else {
            return ts_fail(err, TS_EINVAL, "answers[%zu] is neither a string nor an object", i);
        }
        if ((st = ts_sample_add_answer(s, text, strlen(text), weight, err))) return st;
    }
    return TS_OK;
}

static ts_status parse_meta(const cJSON *meta, ts_sample *s, ts_error *err) {
    if (!meta || cJSON_IsNull(meta)) return TS_OK;
    if (!cJSON_IsObject(meta)) return ts_fail(err, TS_EINVAL, "\"meta\" is not an object");
    ts_status st;
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(meta, "row");
    if (cJSON_IsNumber(row)) {
        char num[32];
        snprintf(num, sizeof num, "%.0f", row->valuedouble);
        if (row->valuedouble != floor(row->valuedouble) || fabs(row->valuedouble) > 9e15)
            return ts_fail(err, TS_EINVAL, "meta.row is not an integer");
        if ((st = ts_sample_set_cstr(&s->row, num, err))) return st;
    } else if ((st = set_opt(&s->row, meta, "row", err))) {
        return ts_error_context(err, "meta");
    }
    if ((st = set_opt(&s->url, meta, "url", err)) || (st = set_opt(&s->license, meta, "license", err)))
        return ts_error_context(err, "meta");
    return TS_OK;
}

static ts_status from_json(const cJSON *obj, const char *base_dir, ts_sample *s, ts_error *err) {
    if (!cJSON_IsObject(obj)) return ts_fail(err, TS_EINVAL, "a sample record must be a JSON object");
    const char *key, *source, *stage, *task;
    ts_status st;
    if ((st = get_string(obj, "key", 1, &key, err)) || (st = get_string(obj, "source", 1, &source, err)) ||
        (st = get_string(obj, "stage", 1, &stage, err)) || (st = get_string(obj, "task", 1, &task, err)))
        return st;
    if ((st = ts_sample_set_cstr(&s->key, key, err)) || (st = ts_sample_set_cstr(&s->source, source, err)))
        return st;
    if (ts_sample_stage_parse(stage, &s->stage))
        return ts_fail(err, TS_EINVAL, "unknown stage \"%s\" (pretrain, sft, text)", stage);
    if (ts_sample_task_parse(task, &s->task))
        return ts_fail(err, TS_EINVAL, "unknown task \"%s\" (caption, vqa, multi_turn, ocr, text)", task);
    if ((st = set_opt(&s->text, obj, "text", err))) return st;
    if ((st = parse_images(cJSON_GetObjectItemCaseSensitive(obj, "images"), base_dir, s, err))) return st;
    if ((st = parse_turns(cJSON_GetObjectItemCaseSensitive(obj, "turns"), s, err))) return st;
    if ((st = parse_answers(cJSON_GetObjectItemCaseSensitive(obj, "answers"), s, err))) return st;
    if ((st = parse_meta(cJSON_GetObjectItemCaseSensitive(obj, "meta"), s, err))) return st;
    return ts_sample_check(s, err);
}

ts_status ts_sample_from_json(const cJSON *obj, const char *base_dir, ts_sample *s, ts_error *err) {
    ts_sample_clear(s);
    ts_status st = from_json(obj, base_dir, s, err);
    if (st) {
        const char *key = cJSON_IsObject(obj) ? ts_json_str(obj, "key", NULL) : NULL;
        if (key && !strstr(err ? err->msg : "", "record ")) ts_error_context(err, "record %.100s", key);
        ts_sample_clear(s);
    }
    return st;
}
