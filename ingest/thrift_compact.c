/* Thrift compact protocol: varints, zigzag integers, delta-coded field ids. */
#include "ingest/thrift_compact.h"

#include <string.h>

#define TC_MAX_DEPTH 32

void tc_init(tc_reader *r, const void *data, size_t len, ts_error *err) {
    r->start = r->p = data;
    r->end = r->start + len;
    r->depth = 0;
    r->err = err;
}

size_t tc_offset(const tc_reader *r) { return (size_t)(r->p - r->start); }

static ts_status tc_truncated(tc_reader *r) {
    return ts_fail(r->err, TS_EFORMAT, "thrift: truncated at byte %zu", tc_offset(r));
}

static ts_status tc_varint(tc_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return tc_truncated(r);
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return TS_OK;
        }
    }
    return ts_fail(r->err, TS_EFORMAT, "thrift: varint too long at byte %zu", tc_offset(r));
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

ts_status tc_field(tc_reader *r, int *type, int *id, int16_t *last_id) {
    if (r->p >= r->end) return tc_truncated(r);
    uint8_t b = *r->p++;
    *type = b & 0x0f;
    if (*type == TC_STOP) return TS_OK;
    int delta = b >> 4;
    if (delta) {
        *id = *last_id + delta;
    } else {
        uint64_t v;
        if (tc_varint(r, &v)) return TS_EFORMAT;
        *id = (int)(int16_t)unzigzag(v);
    }
    if (*type > TC_STRUCT)
        return ts_fail(r->err, TS_EFORMAT, "thrift: bad field type %d at byte %zu", *type,
                       tc_offset(r));
    *last_id = (int16_t)*id;
    return TS_OK;
}

static ts_status tc_expect(tc_reader *r, int type, int want1, int want2) {
    if (type == want1 || type == want2) return TS_OK;
    return ts_fail(r->err, TS_EFORMAT, "thrift: field of type %d where %d expected, byte %zu",
                   type, want1, tc_offset(r));
}

ts_status tc_i64(tc_reader *r, int type, int64_t *out) {
    if (type == TC_BYTE) {
        if (r->p >= r->end) return tc_truncated(r);
        *out = (int8_t)*r->p++;
        return TS_OK;
    }
    if (type != TC_I16 && type != TC_I32 && tc_expect(r, type, TC_I64, TC_I64)) return TS_EFORMAT;
    uint64_t v;
    if (tc_varint(r, &v)) return TS_EFORMAT;
    *out = unzigzag(v);
    return TS_OK;
}

ts_status tc_i32(tc_reader *r, int type, int32_t *out) {
    int64_t v;
    if (tc_i64(r, type, &v)) return TS_EFORMAT;
    if (v < INT32_MIN || v > INT32_MAX)
        return ts_fail(r->err, TS_EFORMAT, "thrift: i32 out of range at byte %zu", tc_offset(r));
    *out = (int32_t)v;
    return TS_OK;
}

ts_status tc_bool(tc_reader *r, int type, int *out) {
    if (tc_expect(r, type, TC_TRUE, TC_FALSE)) return TS_EFORMAT;
    *out = type == TC_TRUE;
    return TS_OK;
}

ts_status tc_binary(tc_reader *r, int type, const uint8_t **data, uint32_t *len) {
    if (tc_expect(r, type, TC_BINARY, TC_BINARY)) return TS_EFORMAT;
    uint64_t n;
    if (tc_varint(r, &n)) return TS_EFORMAT;
    if (n > (uint64_t)(r->end - r->p)) return tc_truncated(r);
    *data = r->p;
    *len = (uint32_t)n;
    r->p += n;
    return TS_OK;
}

ts_status tc_list(tc_reader *r, int type, int *elem_type, uint32_t *count) {
    if (tc_expect(r, type, TC_LIST, TC_SET)) return TS_EFORMAT;
    if (r->p >= r->end) return tc_truncated(r);
    uint8_t b = *r->p++;
    uint64_t n = b >> 4;
    *elem_type = b & 0x0f;
    if (n == 15 && tc_varint(r, &n)) return TS_EFORMAT;
    if (n > (uint64_t)(r->end - r->p))
        return ts_fail(r->err, TS_EFORMAT, "thrift: list of %llu elements in %zu bytes at byte %zu",
                       (unsigned long long)n, (size_t)(r->end - r->p), tc_offset(r));
    *count = (uint32_t)n;
    return TS_OK;
}

ts_status tc_enter(tc_reader *r, int type) {
    if (tc_expect(r, type, TC_STRUCT, TC_STRUCT)) return TS_EFORMAT;
    if (++r->depth > TC_MAX_DEPTH)
        return ts_fail(r->err, TS_EFORMAT, "thrift: nesting deeper than %d at byte %zu",
                       TC_MAX_DEPTH, tc_offset(r));
    return TS_OK;
}

void tc_leave(tc_reader *r) { r->depth--; }

ts_status tc_skip(tc_reader *r, int type) {
    switch (type) {
    case TC_TRUE:
    case TC_FALSE:
        return TS_OK;
    case TC_BYTE:
        if (r->p >= r->end) return tc_truncated(r);
        r->p++;
        return TS_OK;
    case TC_I16:
    case TC_I32:
    case TC_I64: {
        uint64_t v;
        return tc_varint(r, &v);
    }
    case TC_DOUBLE:
        if (r->end - r->p < 8) return tc_truncated(r);
        r->p += 8;
        return TS_OK;
    case TC_BINARY: {
        const uint8_t *d;
        uint32_t n;
        return tc_binary(r, type, &d, &n);
    }
    case TC_LIST:
    case TC_SET: {
        int et;
        uint32_t n;
        if (tc_list(r, type, &et, &n)) return TS_EFORMAT;
        if (et == TC_TRUE || et == TC_FALSE) et = TC_BYTE; /* one byte each inside lists */
        if (tc_enter(r, TC_STRUCT)) return TS_EFORMAT;
        for (uint32_t i = 0; i < n; i++)
            if (tc_skip(r, et)) return TS_EFORMAT;
        tc_leave(r);
        return TS_OK;
    }
    case TC_MAP: {
        uint64_t n;
        if (tc_varint(r, &n)) return TS_EFORMAT;
        if (n == 0) return TS_OK;
        if (n > (uint64_t)(r->end - r->p)) return tc_truncated(r);
        if (r->p >= r->end) return tc_truncated(r);
        uint8_t kv = *r->p++;
        int kt = kv >> 4, vt = kv & 0x0f;
        if (kt == TC_TRUE || kt == TC_FALSE) kt = TC_BYTE;
        if (vt == TC_TRUE || vt == TC_FALSE) vt = TC_BYTE;
        if (tc_enter(r, TC_STRUCT)) return TS_EFORMAT;
        for (uint64_t i = 0; i < n; i++)
            if (tc_skip(r, kt) || tc_skip(r, vt)) return TS_EFORMAT;
        tc_leave(r);
        return TS_OK;
    }
    case TC_STRUCT: {
        if (tc_enter(r, type)) return TS_EFORMAT;
        int16_t last = 0;
        for (;;) {
            int ft, id;
            if (tc_field(r, &ft, &id, &last)) return TS_EFORMAT;
            if (ft == TC_STOP) break;
            if (tc_skip(r, ft)) return TS_EFORMAT;
        }
        tc_leave(r);
        return TS_OK;
    }
    default:
        return ts_fail(r->err, TS_EFORMAT, "thrift: cannot skip type %d at byte %zu", type,
                       tc_offset(r));
    }
}
