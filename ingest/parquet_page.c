/* Pages of one column chunk: page headers, decompression, levels and values,
 * appended to the chunk's decoded arrays (pq_column). */
#include <stdlib.h>
#include <string.h>

#include "ingest/parquet_internal.h"
#include "ingest/thrift_compact.h"

/* ---- arena: blocks that never move ---- */

#define PQ_ARENA_BLOCK ((size_t)64 << 10)

struct pq_arena_block {
    pq_arena_block *next;
    size_t size, used;
    _Alignas(16) uint8_t data[];
};

void *pq_arena_alloc(pq_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    pq_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        /* Reuse a block kept from an earlier row group before asking malloc:
         * fresh large blocks cost page faults on every row group. */
        pq_arena_block **pp = &a->spare;
        while (*pp && (*pp)->size < n) pp = &(*pp)->next;
        if (*pp) {
            b = *pp;
            *pp = b->next;
        } else {
            size_t size = PQ_ARENA_BLOCK; /* powers of two, so blocks fit later pages */
            while (size < n) size *= 2;
            b = malloc(sizeof *b + size);
            if (!b) return NULL;
            b->size = size;
        }
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    return p;
}

void pq_arena_reset(pq_arena *a) {
    while (a->head) {
        pq_arena_block *b = a->head;
        a->head = b->next;
        b->next = a->spare;
        a->spare = b;
    }
    a->used_total = 0;
}

void pq_arena_free(pq_arena *a) {
    pq_arena_reset(a);
    while (a->spare) {
        pq_arena_block *b = a->spare;
        a->spare = b->next;
        free(b);
    }
}

/* ---- page headers ---- */

typedef struct pq_page_header {
    int type;
    int32_t uncompressed_size, compressed_size;
    int32_t num_values, num_nulls, num_rows;
    int32_t encoding, def_encoding, rep_encoding;
    int32_t def_len, rep_len; /* v2 */
    int is_compressed;        /* v2 */
    int has_data, has_dict, has_v2;
} pq_page_header;

static ts_status data_header(tc_reader *r, int type, pq_page_header *h) {
    if (tc_enter(r, type)) return TS_EFORMAT;
    int16_t last = 0;
    for (;;) {
        int ft, id;
        ts_status st;
        if (tc_field(r, &ft, &id, &last)) return TS_EFORMAT;
        if (ft == TC_STOP) break;
        switch (id) {
        case 1: st = tc_i32(r, ft, &h->num_values); break;
        case 2: st = tc_i32(r, ft, &h->encoding); break;
        case 3: st = tc_i32(r, ft, &h->def_encoding); break;
        case 4: st = tc_i32(r, ft, &h->rep_encoding); break;
        default: st = tc_skip(r, ft);
        }
        if (st) return st;
    }
    tc_leave(r);
    return TS_OK;
}

static ts_status dictionary_header(tc_reader *r, int type, pq_page_header *h) {
    if (tc_enter(r, type)) return TS_EFORMAT;
    int16_t last = 0;
    for (;;) {
        int ft, id;
        ts_status st;
        if (tc_field(r, &ft, &id, &last)) return TS_EFORMAT;
        if (ft == TC_STOP) break;
        switch (id) {
        case 1: st = tc_i32(r, ft, &h->num_values); break;
        case 2: st = tc_i32(r, ft, &h->encoding); break;
        default: st = tc_skip(r, ft); /* is_sorted */
        }
        if (st) return st;
    }
    tc_leave(r);
    return TS_OK;
}

static ts_status data_header_v2(tc_reader *r, int type, pq_page_header *h) {
    if (tc_enter(r, type)) return TS_EFORMAT;
    int16_t last = 0;
    h->is_compressed = 1;
    for (;;) {
        int ft, id;
        ts_status st;
        if (tc_field(r, &ft, &id, &last)) return TS_EFORMAT;
        if (ft == TC_STOP) break;
        switch (id) {
        case 1: st = tc_i32(r, ft, &h->num_values); break;
        case 2: st = tc_i32(r, ft, &h->num_nulls); break;
        case 3: st = tc_i32(r, ft, &h->num_rows); break;
        case 4: st = tc_i32(r, ft, &h->encoding); break;
        case 5: st = tc_i32(r, ft, &h->def_len); break;
        case 6: st = tc_i32(r, ft, &h->rep_len); break;
        case 7: st = tc_bool(r, ft, &h->is_compressed); break;
        default: st = tc_skip(r, ft);
        }
        if (st) return st;
    }
    tc_leave(r);
    return TS_OK;
}

static ts_status page_header(tc_reader *r, pq_page_header *h) {
    memset(h, 0, sizeof *h);
    h->type = -1;
    if (tc_enter(r, TC_STRUCT)) return TS_EFORMAT;
    int16_t last = 0;
    for (;;) {
        int ft, id;
        ts_status st;
        if (tc_field(r, &ft, &id, &last)) return TS_EFORMAT;
        if (ft == TC_STOP) break;
        switch (id) {
        case 1: st = tc_i32(r, ft, &h->type); break;
        case 2: st = tc_i32(r, ft, &h->uncompressed_size); break;
        case 3: st = tc_i32(r, ft, &h->compressed_size); break;
        case 5: h->has_data = 1; st = data_header(r, ft, h); break;
        case 7: h->has_dict = 1; st = dictionary_header(r, ft, h); break;
        case 8: h->has_v2 = 1; st = data_header_v2(r, ft, h); break;
        default: st = tc_skip(r, ft);
        }
        if (st) return st;
    }
    tc_leave(r);
    if (h->uncompressed_size < 0 || h->compressed_size < 0 || h->num_values < 0)
        return ts_fail(r->err, TS_EFORMAT, "negative size in page header");
    return TS_OK;
}

/* ---- decoded arrays ---- */

static ts_status account(pq_column *col, uint64_t more, ts_error *err) {
    col->decoded_bytes += more;
    if (col->decoded_bytes > col->cap)
        return ts_fail(err, TS_ELIMIT, "decoded column chunks exceed the row group cap (%llu bytes left for this one)",
                       (unsigned long long)col->cap);
    return TS_OK;
}

static ts_status grow(pq_column *col, size_t levels, size_t values, ts_error *err) {
    const ts_pq_node *leaf = col->leaf;
    if (col->nlevels + levels > col->level_cap) {
        size_t cap = col->level_cap ? col->level_cap : 1024;
        while (cap < col->nlevels + levels) cap *= 2;
        uint64_t per = (leaf->max_def ? 2u : 0u) + (leaf->max_rep ? 2u : 0u);
        if (account(col, per * (cap - col->level_cap), err)) return TS_ELIMIT;
        if (leaf->max_def) {
            uint16_t *d = realloc(col->def, cap * sizeof *d);
            if (!d) return ts_fail(err, TS_ENOMEM, "out of memory");
            col->def = d;
        }
        if (leaf->max_rep) {
            uint16_t *r = realloc(col->rep, cap * sizeof *r);
            if (!r) return ts_fail(err, TS_ENOMEM, "out of memory");
            col->rep = r;
        }
        col->level_cap = cap;
    }
    if (col->nvalues + values > col->value_cap) {
        size_t cap = col->value_cap ? col->value_cap : 1024;
        while (cap < col->nvalues + values) cap *= 2;
        if (account(col, (uint64_t)col->value_size * (cap - col->value_cap), err)) return TS_ELIMIT;
        void *v = realloc(col->values, cap * col->value_size);
        if (!v) return ts_fail(err, TS_ENOMEM, "out of memory");
        col->values = v;
        col->value_cap = cap;
    }
    return TS_OK;
}

static ts_status levels_v1(pq_rle *rle, const uint8_t **p, const uint8_t *end, int max,
                           int encoding, ts_error *err, const char *what) {
    if (encoding != PQ_RLE)
        return ts_fail(err, TS_EUNSUPPORTED, "%s levels in encoding %d (only RLE)", what, encoding);
    if (end - *p < 4) return ts_fail(err, TS_EFORMAT, "%s levels: truncated length", what);
    uint32_t len;
    memcpy(&len, *p, 4);
    *p += 4;
    if (len > (size_t)(end - *p))
        return ts_fail(err, TS_EFORMAT, "%s levels: %u bytes claimed, %zu left", what, len, (size_t)(end - *p));
    pq_rle_init(rle, *p, *p + len, pq_bit_width((uint64_t)max));
    *p += len;
    return TS_OK;
}

static ts_status check_levels(const uint16_t *lv, size_t n, int max, const char *what,
                              ts_error *err) {
    for (size_t i = 0; i < n; i++)
        if (lv[i] > max)
            return ts_fail(err, TS_EFORMAT, "%s level %u above the maximum %d", what, lv[i], max);
    return TS_OK;
}

static ts_status dict_gather(pq_column *col, const uint8_t *p, const uint8_t *end, size_t n,
                             void *out, ts_error *err) {
    if (!col->dict) return ts_fail(err, TS_EFORMAT, "dictionary-encoded page without a dictionary page");
    if (n == 0) return TS_OK;
    if (p >= end) return ts_fail(err, TS_EFORMAT, "dictionary indices: missing bit width");
    int bw = *p++;
    if (bw > 32) return ts_fail(err, TS_EFORMAT, "dictionary indices: bit width %d", bw);
    uint32_t idx[1024];
    pq_rle rle;
    pq_rle_init(&rle, p, end, bw);
    size_t vs = col->value_size;
    uint8_t *o = out;
    for (size_t done = 0; done < n;) {
        size_t take = n - done < 1024 ? n - done : 1024;
        if (pq_rle_read(&rle, idx, take, err)) return TS_EFORMAT;
        for (size_t i = 0; i < take; i++)
            if (idx[i] >= col->ndict)
                return ts_fail(err, TS_EFORMAT, "dictionary index %u out of %zu entries", idx[i], col->ndict);
        switch (vs) {
        case 1: for (size_t i = 0; i < take; i++) o[i] = ((const uint8_t *)col->dict)[idx[i]]; break;
        case 4: for (size_t i = 0; i < take; i++) ((uint32_t *)(void *)o)[i] = ((const uint32_t *)col->dict)[idx[i]]; break;
        case 8: for (size_t i = 0; i < take; i++) ((uint64_t *)(void *)o)[i] = ((const uint64_t *)col->dict)[idx[i]]; break;
        default: for (size_t i = 0; i < take; i++) ((pq_bytes *)(void *)o)[i] = ((const pq_bytes *)col->dict)[idx[i]];
        }
        o += take * vs;
        done += take;
    }
    return TS_OK;
}

static ts_status decode_values(pq_column *col, int encoding, const uint8_t *p, const uint8_t *end,
                               size_t n, ts_error *err) {
    const ts_pq_node *leaf = col->leaf;
    int type = leaf->physical;
    void *out = (uint8_t *)col->values + col->nvalues * col->value_size;
    size_t used;
    switch (encoding) {
    case PQ_PLAIN:
        return pq_plain_decode(type, leaf->type_length, p, end, out, n, err);
    case PQ_PLAIN_DICTIONARY:
    case PQ_RLE_DICTIONARY:
        return dict_gather(col, p, end, n, out, err);
    case PQ_RLE: {
        if (type != TS_PQ_BOOLEAN) return ts_fail(err, TS_EFORMAT, "RLE values on a non-boolean column");
        if (end - p < 4) return ts_fail(err, TS_EFORMAT, "RLE booleans: truncated length");
        uint32_t len;
        memcpy(&len, p, 4);
        p += 4;
        if (len > (size_t)(end - p)) return ts_fail(err, TS_EFORMAT, "RLE booleans: length %u too long", len);
        pq_rle rle;
        pq_rle_init(&rle, p, p + len, 1);
        uint32_t tmp[1024];
        uint8_t *o = out;
        for (size_t done = 0; done < n;) {
            size_t take = n - done < 1024 ? n - done : 1024;
            if (pq_rle_read(&rle, tmp, take, err)) return TS_EFORMAT;
            for (size_t i = 0; i < take; i++) o[done + i] = (uint8_t)tmp[i];
            done += take;
        }
        return TS_OK;
    }
    case PQ_DELTA_BINARY_PACKED:
        if (type != TS_PQ_INT32 && type != TS_PQ_INT64)
            return ts_fail(err, TS_EFORMAT, "DELTA_BINARY_PACKED on physical type %d", type);
        return pq_delta_binary_decode(p, end, type == TS_PQ_INT64, out, n, &used, err);
    case PQ_DELTA_LENGTH_BYTE_ARRAY:
        if (type != TS_PQ_BYTE_ARRAY)
            return ts_fail(err, TS_EFORMAT, "DELTA_LENGTH_BYTE_ARRAY on physical type %d", type);
        return pq_delta_length_decode(p, end, out, n, err);
    case PQ_DELTA_BYTE_ARRAY:
        if (type != TS_PQ_BYTE_ARRAY && type != TS_PQ_FIXED_LEN_BYTE_ARRAY)
            return ts_fail(err, TS_EFORMAT, "DELTA_BYTE_ARRAY on physical type %d", type);
        return pq_delta_byte_array_decode(p, end, out, n, &col->arena, err);
    case PQ_BYTE_STREAM_SPLIT:
        return pq_byte_stream_split_decode(type, leaf->type_length, p, end, out, n, &col->arena, err);
    default:
        return ts_fail(err, TS_EUNSUPPORTED, "value encoding %d is not supported", encoding);
    }
}

/* Bytes of a page body after decompression; uncompressed bodies are used in place. */
static ts_status page_body(pq_column *col, int codec, const uint8_t *src, size_t len,
                           size_t out_len, const uint8_t **out, ts_error *err) {
    if (codec == PQ_UNCOMPRESSED) {
        if (len != out_len)
            return ts_fail(err, TS_EFORMAT, "uncompressed page of %zu bytes claims %zu", len, out_len);
        *out = src;
        return TS_OK;
    }
    if (account(col, out_len, err)) return TS_ELIMIT;
    uint8_t *buf = pq_arena_alloc(&col->arena, out_len ? out_len : 1);
    if (!buf) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = pq_decompress(codec, src, len, buf, out_len, err);
    if (st) return st;
    *out = buf;
    return TS_OK;
}

static ts_status dictionary_page(pq_column *col, const pq_page_header *h, const uint8_t *body,
                                 ts_error *err) {
    if (col->dict) return ts_fail(err, TS_EFORMAT, "second dictionary page in a column chunk");
    if (h->encoding != PQ_PLAIN && h->encoding != PQ_PLAIN_DICTIONARY)
        return ts_fail(err, TS_EUNSUPPORTED, "dictionary page encoding %d", h->encoding);
    size_t n = (size_t)h->num_values;
    if (n > (size_t)h->uncompressed_size + 1 && col->leaf->physical != TS_PQ_BOOLEAN)
        return ts_fail(err, TS_EFORMAT, "dictionary of %zu entries in %d bytes", n, h->uncompressed_size);
    if (account(col, (uint64_t)n * col->value_size, err)) return TS_ELIMIT;
    col->dict = pq_arena_alloc(&col->arena, n * col->value_size + 1);
    if (!col->dict) return ts_fail(err, TS_ENOMEM, "out of memory");
    col->ndict = n;
    return pq_plain_decode(col->leaf->physical, col->leaf->type_length, body,
                           body + h->uncompressed_size, col->dict, n, err);
}

static ts_status data_page(pq_column *col, const pq_page_header *h, int codec, const uint8_t *raw,
                           size_t raw_len, ts_error *err) {
    const ts_pq_node *leaf = col->leaf;
    size_t n = (size_t)h->num_values;
    const uint8_t *p, *end;
    pq_rle rep_rle, def_rle;
    int v2 = h->type == PQ_PAGE_DATA_V2;
    if (grow(col, n, n, err)) return err ? err->code : TS_ELIMIT;
    if (!v2) {
        if (page_body(col, codec, raw, raw_len, (size_t)h->uncompressed_size, &p, err)) return TS_EFORMAT;
        end = p + h->uncompressed_size;
        if (leaf->max_rep && levels_v1(&rep_rle, &p, end, leaf->max_rep, h->rep_encoding, err, "repetition"))
            return err ? err->code : TS_EFORMAT;
        if (leaf->max_def && levels_v1(&def_rle, &p, end, leaf->max_def, h->def_encoding, err, "definition"))
            return err ? err->code : TS_EFORMAT;
    } else {
        if (h->rep_len < 0 || h->def_len < 0 || (size_t)h->rep_len + (size_t)h->def_len > raw_len)
            return ts_fail(err, TS_EFORMAT, "v2 level lengths %d + %d exceed the page's %zu bytes",
                           h->rep_len, h->def_len, raw_len);
        pq_rle_init(&rep_rle, raw, raw + h->rep_len, pq_bit_width((uint64_t)leaf->max_rep));
        pq_rle_init(&def_rle, raw + h->rep_len, raw + h->rep_len + h->def_len,
                    pq_bit_width((uint64_t)leaf->max_def));
        size_t lv = (size_t)h->rep_len + (size_t)h->def_len;
        if ((size_t)h->uncompressed_size < lv)
            return ts_fail(err, TS_EFORMAT, "v2 page smaller than its levels");
        int c = h->is_compressed ? codec : PQ_UNCOMPRESSED;
        if (page_body(col, c, raw + lv, raw_len - lv, (size_t)h->uncompressed_size - lv, &p, err))
            return err ? err->code : TS_EFORMAT;
        end = p + (h->uncompressed_size - lv);
    }
    size_t nn = n;
    if (leaf->max_rep) {
        uint16_t *rep = col->rep + col->nlevels;
        if (pq_rle_read16(&rep_rle, rep, n, err) || check_levels(rep, n, leaf->max_rep, "repetition", err))
            return TS_EFORMAT;
    }
    if (leaf->max_def) {
        uint16_t *def = col->def + col->nlevels;
        if (pq_rle_read16(&def_rle, def, n, err) || check_levels(def, n, leaf->max_def, "definition", err))
            return TS_EFORMAT;
        nn = 0;
        for (size_t i = 0; i < n; i++) nn += def[i] == leaf->max_def;
    }
    ts_status st = decode_values(col, h->encoding, p, end, nn, err);
    if (st) return st;
    col->nlevels += n;
    col->nvalues += nn;
    return TS_OK;
}

ts_status pq_column_decode(pq_column *col, const pq_chunk_meta *cm, const uint8_t *chunk,
                           size_t len, int64_t chunk_file_offset, ts_error *err) {
    col->value_size = pq_value_size(col->leaf->physical);
    size_t pos = 0;
    int page = 0;
    while (col->nlevels < (uint64_t)cm->num_values) {
        if (pos >= len)
            return ts_fail(err, TS_EFORMAT, "column chunk ends after %zu of %lld values", col->nlevels,
                           (long long)cm->num_values);
        tc_reader r;
        pq_page_header h;
        tc_init(&r, chunk + pos, len - pos, err);
        ts_status st = page_header(&r, &h);
        size_t hlen = tc_offset(&r);
        if (!st && (size_t)h.compressed_size > len - pos - hlen)
            st = ts_fail(err, TS_EFORMAT, "page of %d bytes runs past the column chunk (%zu left)",
                         h.compressed_size, len - pos - hlen);
        const uint8_t *body = chunk + pos + hlen;
        if (!st) {
            if (h.type == PQ_PAGE_DICTIONARY) {
                if (!h.has_dict) st = ts_fail(err, TS_EFORMAT, "dictionary page without its header");
                else if (page != 0) st = ts_fail(err, TS_EFORMAT, "dictionary page after data pages");
                else if (!(st = page_body(col, cm->codec, body, (size_t)h.compressed_size,
                                          (size_t)h.uncompressed_size, &body, err)))
                    st = dictionary_page(col, &h, body, err);
            } else if (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2) {
                if (h.type == PQ_PAGE_DATA ? !h.has_data : !h.has_v2)
                    st = ts_fail(err, TS_EFORMAT, "data page without its header");
                else if ((uint64_t)h.num_values > (uint64_t)cm->num_values - col->nlevels)
                    st = ts_fail(err, TS_EFORMAT, "page holds %d values, chunk has %lld left", h.num_values,
                                 (long long)(cm->num_values - (int64_t)col->nlevels));
                else
                    st = data_page(col, &h, cm->codec, body, (size_t)h.compressed_size, err);
            } /* index pages and unknown page types are skipped */
        }
        if (st)
            return ts_error_context(err, "page %d at offset %lld: ", page,
                                    (long long)(chunk_file_offset + (int64_t)pos));
        pos += hlen + (size_t)h.compressed_size;
        page++;
    }
    return TS_OK;
}

void pq_column_reset(pq_column *col) {
    pq_arena_reset(&col->arena);
    col->nlevels = col->nvalues = 0;
    col->dict = NULL;
    col->ndict = 0;
    col->level_pos = col->value_pos = 0;
    col->decoded_bytes = (uint64_t)col->level_cap * ((col->def ? 2u : 0u) + (col->rep ? 2u : 0u)) +
                         (uint64_t)col->value_cap * col->value_size;
}

void pq_column_free(pq_column *col) {
    pq_arena_free(&col->arena);
    free(col->def);
    free(col->rep);
    free(col->values);
    memset(col, 0, sizeof *col);
}
