/* Value and level encodings: PLAIN, RLE / bit-packed hybrid, the DELTA family
 * and BYTE_STREAM_SPLIT. Every read is checked against the page end. */
#include <stdlib.h>
#include <string.h>

#include "ingest/parquet_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet decoders assume a little-endian host"
#endif

size_t pq_value_size(int type) {
    switch (type) {
    case TS_PQ_BOOLEAN: return 1;
    case TS_PQ_INT32:
    case TS_PQ_FLOAT: return 4;
    case TS_PQ_INT64:
    case TS_PQ_DOUBLE: return 8;
    default: return sizeof(pq_bytes);
    }
}

int pq_bit_width(uint64_t max_value) {
    int w = 0;
    while (max_value) w++, max_value >>= 1;
    return w;
}

static ts_status read_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out, ts_error *err,
                              const char *what) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end) return ts_fail(err, TS_EFORMAT, "%s: truncated varint", what);
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            *pp = p;
            return TS_OK;
        }
    }
    return ts_fail(err, TS_EFORMAT, "%s: varint too long", what);
}

/* Bits [bitpos, bitpos + bw) of a little-endian bit stream of nbytes, bw <= 64. */
static inline uint64_t get_bits(const uint8_t *data, size_t nbytes, uint64_t bitpos, int bw) {
    size_t byte = (size_t)(bitpos >> 3);
    int shift = (int)(bitpos & 7);
    uint64_t w = 0;
    if (byte + 8 <= nbytes) {
        memcpy(&w, data + byte, 8);
    } else {
        for (size_t i = 0; i < 8 && byte + i < nbytes; i++) w |= (uint64_t)data[byte + i] << (8 * i);
    }
    uint64_t v = w >> shift;
    if (shift + bw > 64 && byte + 8 < nbytes) v |= (uint64_t)data[byte + 8] << (64 - shift);
    return bw == 64 ? v : v & ((UINT64_C(1) << bw) - 1);
}

void pq_rle_init(pq_rle *r, const uint8_t *p, const uint8_t *end, int bit_width) {
    memset(r, 0, sizeof *r);
    r->p = p;
    r->end = end;
    r->bit_width = bit_width;
}

static ts_status rle_next_run(pq_rle *r, ts_error *err) {
    uint64_t header;
    if (read_uvarint(&r->p, r->end, &header, err, "rle")) return TS_EFORMAT;
    size_t left = (size_t)(r->end - r->p);
    if (header & 1) {
        uint64_t groups = header >> 1;
        uint64_t count = groups * 8;
        uint64_t bytes = groups * (uint64_t)r->bit_width;
        if (groups > UINT32_MAX / 8) return ts_fail(err, TS_EFORMAT, "rle: bit-packed run too long");
        if (bytes > left) { /* a final run cut short: keep the whole values present */
            if (r->bit_width == 0) return ts_fail(err, TS_EFORMAT, "rle: bad run");
            count = (uint64_t)left * 8 / (uint64_t)r->bit_width;
            bytes = left;
        }
        if (count == 0) return ts_fail(err, TS_EFORMAT, "rle: truncated bit-packed run");
        r->bitpacked = 1;
        r->bp_data = r->p;
        r->bp_pos = 0;
        r->run_left = (uint32_t)count;
        r->p += bytes;
    } else {
        uint64_t count = header >> 1;
        size_t vbytes = (size_t)(r->bit_width + 7) / 8;
        if (count > UINT32_MAX) return ts_fail(err, TS_EFORMAT, "rle: run too long");
        if (vbytes > left) return ts_fail(err, TS_EFORMAT, "rle: truncated run value");
        uint64_t v = 0;
        for (size_t i = 0; i < vbytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
        r->p += vbytes;
        r->bitpacked = 0;
        r->run_value = v;
        r->run_left = (uint32_t)count;
    }
    return TS_OK;
}

ts_status pq_rle_read(pq_rle *r, uint32_t *out, size_t n, ts_error *err) {
    int bw = r->bit_width;
    while (n > 0) {
        if (r->run_left == 0) {
            if (r->p >= r->end) return ts_fail(err, TS_EFORMAT, "rle: %zu values missing", n);
            if (rle_next_run(r, err)) return TS_EFORMAT;
            continue;
        }
        size_t take = n < r->run_left ? n : r->run_left;
        if (r->bitpacked) {
            size_t nbytes = (size_t)(r->p - r->bp_data);
            uint64_t bit = (uint64_t)r->bp_pos * (uint64_t)bw;
            for (size_t i = 0; i < take; i++, bit += (uint64_t)bw)
                out[i] = bw ? (uint32_t)get_bits(r->bp_data, nbytes, bit, bw) : 0;
            r->bp_pos += (uint32_t)take;
        } else {
            uint32_t v = (uint32_t)r->run_value;
            for (size_t i = 0; i < take; i++) out[i] = v;
        }
        r->run_left -= (uint32_t)take;
        out += take;
        n -= take;
    }
    return TS_OK;
}

ts_status pq_rle_read16(pq_rle *r, uint16_t *out, size_t n, ts_error *err) {
    uint32_t tmp[1024];
    while (n > 0) {
        size_t take = n < 1024 ? n : 1024;
        if (pq_rle_read(r, tmp, take, err)) return TS_EFORMAT;
        for (size_t i = 0; i < take; i++) out[i] = (uint16_t)tmp[i];
        out += take;
        n -= take;
    }
    return TS_OK;
}

ts_status pq_plain_decode(int type, int type_length, const uint8_t *p, const uint8_t *end,
                          void *out, size_t n, ts_error *err) {
    size_t left = (size_t)(end - p);
    switch (type) {
    case TS_PQ_BOOLEAN: {
        if ((n + 7) / 8 > left) return ts_fail(err, TS_EFORMAT, "plain: %zu booleans in %zu bytes", n, left);
        uint8_t *o = out;
        for (size_t i = 0; i < n; i++) o[i] = (p[i >> 3] >> (i & 7)) & 1;
        return TS_OK;
    }
    case TS_PQ_INT32:
    case TS_PQ_FLOAT:
    case TS_PQ_INT64:
    case TS_PQ_DOUBLE: {
        size_t sz = pq_value_size(type);
        if (n > left / sz) return ts_fail(err, TS_EFORMAT, "plain: %zu values in %zu bytes", n, left);
        memcpy(out, p, n * sz);
        return TS_OK;
    }
    case TS_PQ_INT96:
    case TS_PQ_FIXED_LEN_BYTE_ARRAY: {
        size_t sz = type == TS_PQ_INT96 ? 12 : (size_t)type_length;
        if (n > left / sz) return ts_fail(err, TS_EFORMAT, "plain: %zu values in %zu bytes", n, left);
        pq_bytes *o = out;
        for (size_t i = 0; i < n; i++) o[i].p = p + i * sz, o[i].len = (uint32_t)sz;
        return TS_OK;
    }
    case TS_PQ_BYTE_ARRAY: {
        pq_bytes *o = out;
        for (size_t i = 0; i < n; i++) {
            if (end - p < 4) return ts_fail(err, TS_EFORMAT, "plain: byte array %zu of %zu truncated", i, n);
            uint32_t len;
            memcpy(&len, p, 4);
            p += 4;
            if (len > (size_t)(end - p))
                return ts_fail(err, TS_EFORMAT, "plain: byte array %zu of %zu claims %u bytes, %zu left",
                               i, n, len, (size_t)(end - p));
            o[i].p = p;
            o[i].len = len;
            p += len;
        }
        return TS_OK;
    }
    default:
        return ts_fail(err, TS_EFORMAT, "plain: bad physical type %d", type);
    }
}

ts_status pq_delta_binary_decode(const uint8_t *p, const uint8_t *end, int is64, void *out,
                                 size_t n, size_t *used, ts_error *err) {
    const uint8_t *start = p;
    uint64_t block, nmini, total, zz;
    if (read_uvarint(&p, end, &block, err, "delta") || read_uvarint(&p, end, &nmini, err, "delta") ||
        read_uvarint(&p, end, &total, err, "delta") || read_uvarint(&p, end, &zz, err, "delta"))
        return TS_EFORMAT;
    if (block == 0 || block % 128 || nmini == 0 || block % nmini || (block / nmini) % 32 ||
        block > (1u << 20))
        return ts_fail(err, TS_EFORMAT, "delta: bad block size %llu / %llu miniblocks",
                       (unsigned long long)block, (unsigned long long)nmini);
    if (total < n)
        return ts_fail(err, TS_EFORMAT, "delta: %llu values encoded, %zu expected",
                       (unsigned long long)total, n);
    uint64_t per_mini = block / nmini;
    uint64_t prev = (zz >> 1) ^ -(zz & 1);
    int32_t *o32 = out;
    int64_t *o64 = out;
    if (n > 0) {
        if (is64) o64[0] = (int64_t)prev;
        else o32[0] = (int32_t)prev;
    }
    uint64_t i = 1;
    while (i < total) {
        uint64_t mz;
        if (read_uvarint(&p, end, &mz, err, "delta")) return TS_EFORMAT;
        uint64_t min_delta = (mz >> 1) ^ -(mz & 1);
        if ((uint64_t)(end - p) < nmini) return ts_fail(err, TS_EFORMAT, "delta: truncated block header");
        const uint8_t *widths = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && i < total; m++) {
            int w = widths[m];
            if (w > 64) return ts_fail(err, TS_EFORMAT, "delta: bit width %d", w);
            size_t bytes = (size_t)(per_mini * (uint64_t)w / 8);
            size_t avail = (size_t)(end - p) < bytes ? (size_t)(end - p) : bytes;
            for (uint64_t j = 0; j < per_mini && i < total; j++, i++) {
                if ((j + 1) * (uint64_t)w > (uint64_t)avail * 8)
                    return ts_fail(err, TS_EFORMAT, "delta: truncated miniblock");
                uint64_t d = w ? get_bits(p, avail, j * (uint64_t)w, w) : 0;
                prev += min_delta + d;
                if (i < n) {
                    if (is64) o64[i] = (int64_t)prev;
                    else o32[i] = (int32_t)prev;
                }
            }
            p += avail;
        }
    }
    *used = (size_t)(p - start);
    return TS_OK;
}

/* Lengths of n byte arrays, DELTA_BINARY_PACKED; *used: bytes they took. */
static ts_status delta_lengths(const uint8_t *p, const uint8_t *end, size_t n, int32_t **lens,
                               size_t *used, ts_error *err) {
    *lens = malloc((n ? n : 1) * sizeof **lens);
    if (!*lens) return ts_fail(err, TS_ENOMEM, "out of memory");
    if (pq_delta_binary_decode(p, end, 0, *lens, n, used, err)) {
        free(*lens);
        *lens = NULL;
        return TS_EFORMAT;
    }
    return TS_OK;
}

ts_status pq_delta_length_decode(const uint8_t *p, const uint8_t *end, pq_bytes *out, size_t n,
                                 ts_error *err) {
    int32_t *lens;
    size_t used;
    if (delta_lengths(p, end, n, &lens, &used, err)) return TS_EFORMAT;
    p += used;
    ts_status st = TS_OK;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] < 0 || (size_t)lens[i] > (size_t)(end - p)) {
            st = ts_fail(err, TS_EFORMAT, "delta length: value %zu of %zu claims %d bytes", i, n, lens[i]);
            break;
        }
        out[i].p = p;
        out[i].len = (uint32_t)lens[i];
        p += lens[i];
    }
    free(lens);
    return st;
}

ts_status pq_delta_byte_array_decode(const uint8_t *p, const uint8_t *end, pq_bytes *out,
                                     size_t n, pq_arena *arena, ts_error *err) {
    int32_t *prefix = NULL, *suffix = NULL;
    size_t used;
    ts_status st = delta_lengths(p, end, n, &prefix, &used, err);
    if (st) return st;
    p += used;
    st = delta_lengths(p, end, n, &suffix, &used, err);
    if (st) {
        free(prefix);
        return st;
    }
    p += used;
    const uint8_t *prev = NULL;
    uint32_t prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (prefix[i] < 0 || (uint32_t)prefix[i] > prev_len || suffix[i] < 0 ||
            (size_t)suffix[i] > (size_t)(end - p)) {
            st = ts_fail(err, TS_EFORMAT, "delta byte array: value %zu of %zu has prefix %d suffix %d",
                         i, n, prefix[i], suffix[i]);
            break;
        }
        size_t len = (size_t)prefix[i] + (size_t)suffix[i];
        uint8_t *v = pq_arena_alloc(arena, len ? len : 1);
        if (!v) {
            st = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        if (prefix[i]) memcpy(v, prev, (size_t)prefix[i]);
        if (suffix[i]) memcpy(v + prefix[i], p, (size_t)suffix[i]);
        p += suffix[i];
        out[i].p = v;
        out[i].len = (uint32_t)len;
        prev = v;
        prev_len = (uint32_t)len;
    }
    free(prefix);
    free(suffix);
    return st;
}

ts_status pq_byte_stream_split_decode(int type, int type_length, const uint8_t *p,
                                      const uint8_t *end, void *out, size_t n, pq_arena *arena,
                                      ts_error *err) {
    size_t k;
    switch (type) {
    case TS_PQ_INT32: case TS_PQ_FLOAT: k = 4; break;
    case TS_PQ_INT64: case TS_PQ_DOUBLE: k = 8; break;
    case TS_PQ_FIXED_LEN_BYTE_ARRAY: k = (size_t)type_length; break;
    default: return ts_fail(err, TS_EFORMAT, "byte stream split on physical type %d", type);
    }
    if (n > (size_t)(end - p) / k)
        return ts_fail(err, TS_EFORMAT, "byte stream split: %zu values in %zu bytes", n, (size_t)(end - p));
    uint8_t *dst;
    if (type == TS_PQ_FIXED_LEN_BYTE_ARRAY) {
        dst = pq_arena_alloc(arena, n * k + 1);
        if (!dst) return ts_fail(err, TS_ENOMEM, "out of memory");
        pq_bytes *o = out;
        for (size_t i = 0; i < n; i++) o[i].p = dst + i * k, o[i].len = (uint32_t)k;
    } else {
        dst = out;
    }
    for (size_t b = 0; b < k; b++) {
        const uint8_t *stream = p + b * n;
        for (size_t i = 0; i < n; i++) dst[i * k + b] = stream[i];
    }
    return TS_OK;
}
