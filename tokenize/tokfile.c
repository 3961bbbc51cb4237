/* Writer and checked reader of the tokenized-sample file (tokfile.h). */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/io.h"
#include "tokenize/tokfile.h"

#define HEADER_BYTES 16
#define FOOTER_BYTES 40
#define RECORD_HEAD 24
#define TOKFILE_MAX ((size_t)64 << 30)

struct ts_tokfile_writer {
    ts_writer *w;
    ts_buf rec;
    uint64_t *offsets;
    size_t n, cap;
};

ts_status ts_tokfile_create(const char *path, ts_tokfile_writer **out, ts_error *err) {
    ts_tokfile_writer *t = calloc(1, sizeof *t);
    if (!t) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = ts_writer_open(&t->w, path, err);
    uint8_t head[HEADER_BYTES] = {0};
    memcpy(head, TS_TOKFILE_MAGIC, 8);
    if (!st) st = ts_writer_write(t->w, head, sizeof head, err);
    if (st) {
        ts_tokfile_abort(t);
        return st;
    }
    *out = t;
    return TS_OK;
}

static ts_status put_i64(ts_buf *b, int64_t v, ts_error *err) { return ts_buf_put_u64le(b, (uint64_t)v, err); }

ts_status ts_tokfile_add(ts_tokfile_writer *t, uint64_t source_record, const ts_chat_result *r, ts_error *err) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        uint64_t *p = realloc(t->offsets, nc * sizeof *p);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        t->offsets = p;
        t->cap = nc;
    }
    if (r->ids.len > UINT32_MAX || r->n_images > UINT32_MAX)
        return ts_fail(err, TS_ELIMIT, "record %llu too large", (unsigned long long)source_record);
    ts_buf *b = &t->rec;
    ts_buf_reset(b);
    ts_status st = ts_buf_put_u64le(b, source_record, err);
    if (!st) st = ts_buf_put_u32le(b, (uint32_t)r->ids.len, err);
    if (!st) st = ts_buf_put_u32le(b, (uint32_t)r->n_images, err);
    if (!st) st = put_i64(b, r->length, err);
    for (size_t i = 0; i < r->ids.len && !st; i++) st = ts_buf_put_u32le(b, (uint32_t)r->ids.v[i], err);
    if (!st) st = ts_buf_append(b, r->mask, r->ids.len, err);
    static const uint8_t zero[8] = {0};
    if (!st) st = ts_buf_append(b, zero, (4 - r->ids.len % 4) % 4, err);
    for (size_t i = 0; i < r->n_images && !st; i++) {
        const ts_chat_slot *s = &r->images[i];
        st = ts_buf_put_u32le(b, (uint32_t)s->tiles, err);
        if (!st) st = ts_buf_put_u32le(b, (uint32_t)s->cap, err);
        if (!st) st = ts_buf_put_u32le(b, (uint32_t)s->retiled_from, err);
        if (!st) st = ts_buf_put_u32le(b, 0, err);
        if (!st) st = put_i64(b, s->token_pos, err);
        for (int k = 0; k < TS_CHAT_MAX_TILES && !st; k++) st = put_i64(b, s->tag_pos[k], err);
        for (int k = 0; k < TS_CHAT_MAX_TILES && !st; k++) st = put_i64(b, s->feat_pos[k], err);
        if (!st) st = ts_buf_append(b, s->inline_tile, TS_CHAT_MAX_TILES, err);
        if (!st) st = ts_buf_append(b, zero, 1, err);
    }
    if (st) return st;
    t->offsets[t->n++] = ts_writer_offset(t->w);
    return ts_writer_write(t->w, b->data, b->len, err);
}

ts_status ts_tokfile_finish(ts_tokfile_writer *t, ts_error *err) {
    ts_buf *b = &t->rec;
    ts_buf_reset(b);
    uint64_t index_off = ts_writer_offset(t->w);
    ts_status st = TS_OK;
    for (size_t i = 0; i < t->n && !st; i++) st = ts_buf_put_u64le(b, t->offsets[i], err);
    if (!st) st = ts_writer_write(t->w, b->data, b->len, err);
    if (st) {
        ts_tokfile_abort(t);
        return st;
    }
    uint8_t foot[FOOTER_BYTES];
    ts_put_u64le(foot, t->n);
    ts_put_u64le(foot + 8, index_off);
    ts_put_u64le(foot + 16, ts_writer_xxh3(t->w));
    ts_put_u32le(foot + 24, TS_TOKFILE_VERSION);
    ts_put_u32le(foot + 28, 0);
    memcpy(foot + 32, TS_TOKFILE_END, 8);
    st = ts_writer_write(t->w, foot, sizeof foot, err);
    if (!st) st = ts_writer_commit(t->w, err);
    else ts_writer_abort(t->w);
    t->w = NULL;
    ts_tokfile_abort(t);
    return st;
}

void ts_tokfile_abort(ts_tokfile_writer *t) {
    if (!t) return;
    ts_writer_abort(t->w);
    ts_buf_free(&t->rec);
    free(t->offsets);
    free(t);
}

ts_status ts_tokfile_load(const char *path, ts_tokfile *f, ts_error *err) {
    memset(f, 0, sizeof *f);
    ts_status st = ts_read_file(path, TOKFILE_MAX, &f->data, err);
    if (st) return st;
    const uint8_t *d = f->data.data;
    size_t n = f->data.len;
    if (n < HEADER_BYTES + FOOTER_BYTES || memcmp(d, TS_TOKFILE_MAGIC, 8) != 0 ||
        memcmp(d + n - 8, TS_TOKFILE_END, 8) != 0) {
        ts_tokfile_free(f);
        return ts_fail(err, TS_EFORMAT, "%s: not a tokenized-sample file (magic)", path);
    }
    const uint8_t *foot = d + n - FOOTER_BYTES;
    if (ts_get_u32le(foot + 24) != TS_TOKFILE_VERSION) {
        ts_tokfile_free(f);
        return ts_fail(err, TS_EUNSUPPORTED, "%s: version %u", path, ts_get_u32le(foot + 24));
    }
    if (ts_xxh3_64(d, n - FOOTER_BYTES) != ts_get_u64le(foot + 16)) {
        ts_tokfile_free(f);
        return ts_fail(err, TS_ECHECKSUM, "%s: checksum mismatch", path);
    }
    f->n_records = ts_get_u64le(foot);
    uint64_t index_off = ts_get_u64le(foot + 8);
    if (index_off < HEADER_BYTES || index_off > n - FOOTER_BYTES ||
        f->n_records != (n - FOOTER_BYTES - index_off) / 8 || (n - FOOTER_BYTES - index_off) % 8) {
        ts_tokfile_free(f);
        return ts_fail(err, TS_EFORMAT, "%s: bad index", path);
    }
    f->index = d + index_off;
    return TS_OK;
}

ts_status ts_tokfile_get(const ts_tokfile *f, uint64_t i, ts_tokfile_record *r, ts_error *err) {
    if (i >= f->n_records) return ts_fail(err, TS_ENOTFOUND, "record %llu of %llu", (unsigned long long)i,
                                          (unsigned long long)f->n_records);
    uint64_t off = ts_get_u64le(f->index + 8 * i);
    uint64_t end = (uint64_t)(f->index - f->data.data);
    const uint8_t *d = f->data.data;
    if (off < HEADER_BYTES || off + RECORD_HEAD > end) return ts_fail(err, TS_EFORMAT, "record %llu: bad offset", (unsigned long long)i);
    r->source_record = ts_get_u64le(d + off);
    r->n_ids = ts_get_u32le(d + off + 8);
    r->n_images = ts_get_u32le(d + off + 12);
    r->length = (int64_t)ts_get_u64le(d + off + 16);
    uint64_t need = RECORD_HEAD + (uint64_t)r->n_ids * 5 + (4 - r->n_ids % 4) % 4 +
                    (uint64_t)r->n_images * TS_TOKFILE_IMAGE_BYTES;
    if (need > end - off) return ts_fail(err, TS_EFORMAT, "record %llu: truncated", (unsigned long long)i);
    r->ids = d + off + RECORD_HEAD;
    r->mask = r->ids + 4 * (uint64_t)r->n_ids;
    r->images = r->mask + r->n_ids + (4 - r->n_ids % 4) % 4;
    return TS_OK;
}

void ts_tokfile_free(ts_tokfile *f) {
    ts_buf_free(&f->data);
    memset(f, 0, sizeof *f);
}
