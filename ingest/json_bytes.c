/* Bytes as JSON strings: base64 for binary, repaired UTF-8 for text. */
#include "ingest/json_bytes.h"

#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

cJSON *ts_json_base64(const uint8_t *p, size_t n) {
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (!s) return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        s[o++] = b64[v >> 18], s[o++] = b64[(v >> 12) & 63], s[o++] = b64[(v >> 6) & 63], s[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        s[o++] = b64[v >> 18], s[o++] = b64[(v >> 12) & 63], s[o++] = '=', s[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        s[o++] = b64[v >> 18], s[o++] = b64[(v >> 12) & 63], s[o++] = b64[(v >> 6) & 63], s[o++] = '=';
    }
    s[o] = 0;
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    if (c < 0x80) return c ? 1 : 0;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A JSON string; invalid UTF-8 and NUL bytes become U+FFFD. */
cJSON *ts_json_utf8(const uint8_t *p, size_t n) {
    char *s = malloc(n * 3 + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(p + i, n - i);
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

int ts_utf8_valid(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(p + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}
