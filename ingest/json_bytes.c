/* Bytes as JSON strings: base64 for binary, repaired UTF-8 for text. */
#include "ingest/json_bytes.h"

#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/utf8.h"

cJSON *ts_json_base64(const uint8_t *p, size_t n) {
    ts_buf text = TS_BUF_INIT;
    cJSON *j = NULL;
    if (!ts_base64_encode(p, n, &text, NULL) && !ts_buf_append(&text, "", 1, NULL))
        j = cJSON_CreateString((const char *)text.data);
    ts_buf_free(&text);
    return j;
}

/* A JSON string; invalid UTF-8 and NUL bytes become U+FFFD. */
cJSON *ts_json_utf8(const uint8_t *p, size_t n) {
    char *s = malloc(n * 3 + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = ts_utf8_seq(p + i, n - i);
        if (l) {
            memcpy(s + o, p + i, l);
            o += l, i += l;
        } else {
            memcpy(s + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    s[o] = 0;
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}
