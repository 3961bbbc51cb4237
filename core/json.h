/* JSON helpers over cJSON: typed getters with defaults and one-line output. */
#ifndef TS_CORE_JSON_H
#define TS_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* Parse `len` bytes; on failure the error names the byte offset. */
ts_status ts_json_parse(const char *text, size_t len, cJSON **out, ts_error *err);
/* Parse `len` bytes as a record whose member `key` is a string: *value points
 * into *out (valid until cJSON_Delete(*out)). On failure *out is NULL and the
 * error names the JSON error or says: no string member "key". */
ts_status ts_json_parse_str_member(const char *text, size_t len, const char *key, cJSON **out, const char **value,
                                   ts_error *err);
/* Parse a whole file (size-capped). */
ts_status ts_json_load_file(const char *path, size_t max_bytes, cJSON **out, ts_error *err);

/* Object member getters; they return `fallback` when absent or of another type. */
const char *ts_json_str(const cJSON *obj, const char *key, const char *fallback);
double ts_json_num(const cJSON *obj, const char *key, double fallback);
int64_t ts_json_int(const cJSON *obj, const char *key, int64_t fallback);
int ts_json_bool(const cJSON *obj, const char *key, int fallback);

/* Print `obj` unformatted plus '\n' to `f` under a process-wide lock so lines
 * from several threads never interleave. */
ts_status ts_json_write_line(FILE *f, const cJSON *obj, ts_error *err);

#endif
