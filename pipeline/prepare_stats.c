/* The prepare stage's drop reasons and stats object. */
#include <cjson/cJSON.h>

#include "pipeline/prepare.h"

const char *ts_prepare_drop_name(ts_prepare_drop d) {
    static const char *const names[TS_PREP_DROP_COUNT] = {"megatron_rule", "over_limit", "tokenize_error",
                                                          "image_error", "bad_sample"};
    return (unsigned)d < TS_PREP_DROP_COUNT ? names[d] : "other";
}

cJSON *ts_prepare_stats_json(const ts_prepare_stats *s) {
    cJSON *j = cJSON_CreateObject(), *by = cJSON_CreateObject(), *sec = cJSON_CreateObject();
    if (!j || !by || !sec) {
        cJSON_Delete(j);
        cJSON_Delete(by);
        cJSON_Delete(sec);
        return NULL;
    }
    cJSON_AddNumberToObject(j, "in", (double)s->in);
    cJSON_AddNumberToObject(j, "kept", (double)s->kept);
    cJSON_AddNumberToObject(j, "dropped", (double)s->dropped);
    for (int d = 0; d < TS_PREP_DROP_COUNT; d++)
        cJSON_AddNumberToObject(by, ts_prepare_drop_name((ts_prepare_drop)d), (double)s->dropped_by[d]);
    cJSON_AddItemToObject(j, "dropped_by_reason", by);
    cJSON_AddNumberToObject(j, "tokens", (double)s->tokens);
    cJSON_AddNumberToObject(j, "length", (double)s->length);
    cJSON_AddNumberToObject(j, "images", (double)s->images);
    cJSON_AddNumberToObject(j, "retiled", (double)s->retiled);
    cJSON_AddNumberToObject(j, "tile_records", (double)s->tile_records);
    cJSON_AddNumberToObject(j, "tiles", (double)s->tiles);
    cJSON_AddNumberToObject(j, "distinct_images", (double)s->distinct_images);
    cJSON_AddNumberToObject(j, "tiles_bytes", (double)s->tiles_bytes);
    cJSON_AddNumberToObject(j, "tok_bytes", (double)s->tok_bytes);
    cJSON_AddNumberToObject(sec, "read", s->seconds_read);
    cJSON_AddNumberToObject(sec, "tokenize", s->seconds_tokenize);
    cJSON_AddNumberToObject(sec, "tile", s->seconds_tile);
    cJSON_AddNumberToObject(sec, "write", s->seconds_write);
    cJSON_AddNumberToObject(sec, "total", s->seconds_total);
    cJSON_AddItemToObject(j, "seconds", sec);
    return j;
}
