#include "json.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

ts_status ts_json_parse(const char *text, size_t len, cJSON **out, ts_error *err) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*out) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        return ts_fail(err, TS_EFORMAT, "invalid JSON near byte %zu", at);
    }
    return TS_OK;
}

ts_status ts_json_parse_str_member(const char *text, size_t len, const char *key, cJSON **out, const char **value,
                                   ts_error *err) {
    ts_status st = ts_json_parse(text, len, out, err);
    if (st) return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(*out, key);
    if (cJSON_IsString(v)) {
        *value = v->valuestring;
        return TS_OK;
    }
    cJSON_Delete(*out);
    *out = NULL;
    return ts_fail(err, TS_EFORMAT, "no string member \"%s\"", key);
}

ts_status ts_json_load_file(const char *path, size_t max_bytes, cJSON **out, ts_error *err) {
    ts_buf b = TS_BUF_INIT;
    *out = NULL;
    ts_status st = ts_read_file(path, max_bytes, &b, err);
    if (!st) {
        st = ts_json_parse((const char *)b.data, b.len, out, err);
        if (st) ts_error_context(err, "%s", path);
    }
    ts_buf_free(&b);
    return st;
}

const char *ts_json_str(const cJSON *obj, const char *key, const char *fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

double ts_json_num(const cJSON *obj, const char *key, double fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

int64_t ts_json_int(const cJSON *obj, const char *key, int64_t fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) return fallback;
    return (int64_t)v->valuedouble;
}

int ts_json_bool(const cJSON *obj, const char *key, int fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;

ts_status ts_json_write_line(FILE *f, const cJSON *obj, ts_error *err) {
    char *text = cJSON_PrintUnformatted(obj);
    if (!text) return ts_fail(err, TS_ENOMEM, "out of memory printing JSON");
    pthread_mutex_lock(&line_lock);
    int bad = fputs(text, f) == EOF || fputc('\n', f) == EOF;
    pthread_mutex_unlock(&line_lock);
    free(text);
    return bad ? ts_fail_errno(err, TS_EIO, "write to output failed") : TS_OK;
}
