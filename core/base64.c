#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

ts_status ts_base64_encode(const void *data, size_t n, ts_buf *out, ts_error *err) {
    const unsigned char *p = data;
    ts_status st = ts_buf_reserve(out, (n + 2) / 3 * 4, err);
    if (st) return st;
    char *o = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)((uint8_t *)o - out->data);
    return TS_OK;
}

static int value_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

ts_status ts_base64_decode(const char *text, size_t n, ts_buf *out, ts_error *err) {
    if (n % 4) return ts_fail(err, TS_EFORMAT, "base64: length %zu is not a multiple of 4", n);
    ts_status st = ts_buf_reserve(out, n / 4 * 3, err);
    if (st) return st;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            if (c == '=' && last && k >= 2 && (k == 3 || text[i + 3] == '=')) {
                v[k] = 0;
                pad++;
                continue;
            }
            if ((v[k] = value_of(c)) < 0 || pad)
                return ts_fail(err, TS_EFORMAT, "base64: bad character at offset %zu", i + (size_t)k);
        }
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        out->data[out->len++] = b[0];
        if (pad < 2) out->data[out->len++] = b[1];
        if (pad < 1) out->data[out->len++] = b[2];
    }
    return TS_OK;
}
