/* Bytes as JSON strings, shared by the record readers. */
#ifndef TS_INGEST_JSON_BYTES_H
#define TS_INGEST_JSON_BYTES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* A base64 string (RFC 4648, padded). NULL when out of memory. */
cJSON *ts_json_base64(const uint8_t *p, size_t n);
/* A string; invalid UTF-8 and NUL bytes become U+FFFD. */
cJSON *ts_json_utf8(const uint8_t *p, size_t n);

#endif
