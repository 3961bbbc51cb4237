/* Parquet values as JSON (the representation is documented in docs/PARQUET.md). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/json_bytes.h"
#include "ingest/parquet_internal.h"

/* Integers print exactly: cJSON numbers are doubles, so large ones go raw. */
static cJSON *int_json(int64_t v) {
    if (v > -1000000000000000LL && v < 1000000000000000LL) return cJSON_CreateNumber((double)v);
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, v);
    return cJSON_CreateRaw(t);
}

static cJSON *uint_json(uint64_t v) {
    if (v < 1000000000000000ULL) return cJSON_CreateNumber((double)v);
    char t[32];
    snprintf(t, sizeof t, "%" PRIu64, v);
    return cJSON_CreateRaw(t);
}

/* Shortest text that reads back to the same value, as a raw JSON number. */
static cJSON *real_json(double v, int is_float) {
    if (isnan(v)) return cJSON_CreateString("NaN");
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "Infinity" : "-Infinity");
    char t[40];
    for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        double back = strtod(t, NULL);
        if (is_float ? (float)back == (float)v : back == v) break;
    }
    return cJSON_CreateRaw(t);
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double s = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 0) return s * ldexp(m, -24);
    if (e == 31) return m ? NAN : s * INFINITY;
    return s * ldexp(m + 1024, e - 25);
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil(int64_t days, int64_t *y, int *m, int *d) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static const int64_t unit_per_sec[] = {1000, 1000000, 1000000000};
static const int unit_digits[] = {3, 6, 9};

/* "HH:MM:SS.fff" from a count of units within a day (or any span). */
static int clock_text(char *t, size_t cap, int64_t v, ts_pq_unit unit) {
    int64_t per = unit_per_sec[unit];
    int64_t secs = floor_div(v, per), frac = v - secs * per;
    int64_t sod = secs - floor_div(secs, 86400) * 86400;
    return snprintf(t, cap, "%02d:%02d:%02d.%0*lld", (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
                    unit_digits[unit], (long long)frac);
}

static cJSON *date_json(int64_t days) {
    int64_t y;
    int m, d;
    char t[40];
    civil(days, &y, &m, &d);
    snprintf(t, sizeof t, "%04lld-%02d-%02d", (long long)y, m, d);
    return cJSON_CreateString(t);
}

static cJSON *timestamp_json(int64_t v, ts_pq_unit unit, int utc) {
    int64_t per = unit_per_sec[unit];
    int64_t secs = floor_div(v, per);
    int64_t days = floor_div(secs, 86400);
    int64_t y;
    int m, d;
    civil(days, &y, &m, &d);
    char t[80];
    int n = snprintf(t, sizeof t, "%04lld-%02d-%02dT", (long long)y, m, d);
    n += clock_text(t + n, sizeof t - (size_t)n, v, unit);
    if (utc) snprintf(t + n, sizeof t - (size_t)n, "Z");
    return cJSON_CreateString(t);
}

static cJSON *time_json(int64_t v, ts_pq_unit unit) {
    char t[40];
    clock_text(t, sizeof t, v, unit);
    return cJSON_CreateString(t);
}

/* An unscaled two's-complement integer with `scale` decimal digits, as a raw number. */
static cJSON *decimal_json(__int128 v, int scale) {
    char digits[64], t[80];
    int neg = v < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (scale < 0 || scale > 38) scale = 0;
    while (n <= scale) digits[n++] = '0';
    int o = 0;
    if (neg) t[o++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        t[o++] = digits[i];
        if (i == scale && scale > 0) t[o++] = '.';
    }
    t[o] = 0;
    return cJSON_CreateRaw(t);
}

static cJSON *bytes_json(const ts_pq_node *node, const uint8_t *p, size_t n) {
    switch (node->logical) {
    case TS_PQ_L_STRING:
    case TS_PQ_L_ENUM:
    case TS_PQ_L_JSON:
        return ts_json_utf8(p, n);
    case TS_PQ_L_UUID:
        if (n == 16) {
            char t[40];
            int o = 0;
            for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10) t[o++] = '-';
                o += snprintf(t + o, sizeof t - (size_t)o, "%02x", p[i]);
            }
            return cJSON_CreateString(t);
        }
        break;
    case TS_PQ_L_DECIMAL:
        if (n >= 1 && n <= 16) {
            __int128 v = (int8_t)p[0];
            for (size_t i = 1; i < n; i++) v = v * 256 + p[i];
            return decimal_json(v, node->scale);
        }
        break;
    case TS_PQ_L_FLOAT16:
        if (n == 2) return real_json(half_to_double((uint16_t)(p[0] | p[1] << 8)), 1);
        break;
    default:
        break;
    }
    if (node->physical == TS_PQ_INT96 && n == 12) { /* nanoseconds of the day + Julian day */
        int64_t nanos;
        int32_t julian;
        memcpy(&nanos, p, 8);
        memcpy(&julian, p + 8, 4);
        int64_t days = (int64_t)julian - 2440588;
        return timestamp_json(days * 86400000000000LL + nanos, TS_PQ_NANOS, 0);
    }
    return ts_json_base64(p, n);
}

static cJSON *int64_json(const ts_pq_node *node, int64_t v) {
    switch (node->logical) {
    case TS_PQ_L_INTEGER:
        if (!node->is_signed) return uint_json(node->bit_width == 64 ? (uint64_t)v : (uint64_t)(uint32_t)v);
        return int_json(v);
    case TS_PQ_L_DATE: return date_json(v);
    case TS_PQ_L_TIME: return time_json(v, node->unit);
    case TS_PQ_L_TIMESTAMP: return timestamp_json(v, node->unit, node->utc);
    case TS_PQ_L_DECIMAL: return decimal_json(v, node->scale);
    default: return int_json(v);
    }
}

static cJSON *value_json(const ts_pq_node *node, const ts_pq_value *v, int as_element);

static cJSON *list_json(const ts_pq_node *node, const ts_pq_value *v) {
    ts_pq_list_view l;
    if (!ts_pq_list(node, v, &l)) return cJSON_CreateNull();
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < l.n; i++) {
        cJSON *item = value_json(l.elem, ts_pq_list_at(&l, i), l.elem->repetition == TS_PQ_REPEATED);
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
    }
    return arr;
}

static cJSON *value_json(const ts_pq_node *node, const ts_pq_value *v, int as_element) {
    if (!as_element && (node->repetition == TS_PQ_REPEATED ||
                        ((node->logical == TS_PQ_L_LIST || node->logical == TS_PQ_L_MAP) &&
                         node->physical == TS_PQ_GROUP)))
        return list_json(node, v);
    switch (v->kind) {
    case TS_PQ_V_NULL: return cJSON_CreateNull();
    case TS_PQ_V_BOOL: return cJSON_CreateBool(v->u.b);
    case TS_PQ_V_INT32:
        if (node->logical == TS_PQ_L_INTEGER && !node->is_signed) return uint_json((uint32_t)v->u.i32);
        if (node->logical == TS_PQ_L_TIME) return time_json(v->u.i32, node->unit);
        return int64_json(node, v->u.i32);
    case TS_PQ_V_INT64: return int64_json(node, v->u.i64);
    case TS_PQ_V_FLOAT: return real_json(v->u.f, 1);
    case TS_PQ_V_DOUBLE: return real_json(v->u.d, 0);
    case TS_PQ_V_BYTES: return bytes_json(node, v->u.bytes, v->n);
    case TS_PQ_V_GROUP: {
        cJSON *obj = cJSON_CreateObject();
        for (size_t i = 0; obj && i < node->nchildren && i < v->n; i++) {
            cJSON *item = value_json(node->children[i], &v->u.items[i], 0);
            if (!item) {
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON_AddItemToObject(obj, node->children[i]->name, item);
        }
        return obj;
    }
    case TS_PQ_V_LIST: /* a list where the schema has none: cannot happen */
    default: return cJSON_CreateNull();
    }
}

int ts_pq_list(const ts_pq_node *node, const ts_pq_value *v, ts_pq_list_view *out) {
    memset(out, 0, sizeof *out);
    if (node->repetition == TS_PQ_REPEATED) { /* a bare repeated field */
        if (v->kind != TS_PQ_V_LIST) return 0;
        out->elem = node, out->n = v->n, out->items_ = v->u.items;
        return 1;
    }
    if (node->physical != TS_PQ_GROUP || v->kind != TS_PQ_V_GROUP || node->nchildren != 1 ||
        node->children[0]->repetition != TS_PQ_REPEATED)
        return 0;
    const ts_pq_node *rep = node->children[0];
    const ts_pq_value *inner = &v->u.items[0];
    if (inner->kind != TS_PQ_V_LIST) return 0;
    out->n = inner->n;
    out->items_ = inner->u.items;
    /* 3-level: repeated group with one child, unless it is a legacy 2-level
     * form (named "array" or "<list>_tuple", or a MAP's key_value). */
    size_t nlen = strlen(node->name);
    int legacy = strcmp(rep->name, "array") == 0 ||
                 (strncmp(rep->name, node->name, nlen) == 0 && strcmp(rep->name + nlen, "_tuple") == 0);
    if (node->logical == TS_PQ_L_LIST && rep->physical == TS_PQ_GROUP && rep->nchildren == 1 && !legacy) {
        out->elem = rep->children[0];
        out->wrapped_ = 1;
    } else {
        out->elem = rep;
    }
    return 1;
}

const ts_pq_value *ts_pq_list_at(const ts_pq_list_view *l, size_t i) {
    static const ts_pq_value null_value = {TS_PQ_V_NULL, 0, {0}};
    if (i >= l->n) return &null_value;
    const ts_pq_value *item = &l->items_[i];
    if (!l->wrapped_) return item;
    return item->kind == TS_PQ_V_GROUP && item->n == 1 ? &item->u.items[0] : &null_value;
}

cJSON *ts_pq_value_to_json(const ts_pq_node *node, const ts_pq_value *v) { return value_json(node, v, 0); }

cJSON *ts_pq_row_to_json(const ts_parquet *pq, const ts_pq_value *values) {
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < ts_parquet_num_selected(pq); i++) {
        const ts_pq_node *node = ts_parquet_selected(pq, i);
        cJSON *item = value_json(node, &values[i], 0);
        if (!item) {
            cJSON_Delete(obj);
            return NULL;
        }
        cJSON_AddItemToObject(obj, node->name, item);
    }
    return obj;
}
