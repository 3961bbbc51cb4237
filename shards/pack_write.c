/* Packed shard writer (pack.h): sequences gather into blocks of
 * seqs_per_block, each block one zstd frame; meta, index and footer last. */
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "shards/pack_layout.h"

struct ts_pack_writer {
    ts_writer *w;
    ts_pack_header h;
    uint8_t header[PACK_HEADER_BYTES];
    ts_buf block;     /* raw block being filled: u32 count, u32 offsets[seqs_per_block], sequences */
    ts_buf seqs;      /* encoded sequences of the current block */
    uint32_t *offsets;
    uint32_t in_block;
    ts_buf zframe, index;
    uint64_t n_seqs, n_blocks;
};

ts_status ts_pack_writer_open(const char *path, const ts_pack_header *h, ts_pack_writer **out, ts_error *err) {
    *out = NULL;
    if (!h->max_len || h->max_len > TS_PACK_MAX_LEN_LIMIT || !h->seqs_per_block || h->seqs_per_block > 65536)
        return ts_fail(err, TS_EINVAL, "max_len 1..%u and seqs_per_block 1..65536", TS_PACK_MAX_LEN_LIMIT);
    ts_pack_writer *w = calloc(1, sizeof *w);
    if (!w) return ts_fail(err, TS_ENOMEM, "out of memory");
    w->h = *h;
    w->offsets = calloc(h->seqs_per_block, sizeof *w->offsets);
    ts_status st = w->offsets ? TS_OK : ts_fail(err, TS_ENOMEM, "out of memory");
    ts_pack_header_encode(h, w->header);
    if (!st) st = ts_writer_open(&w->w, path, err);
    if (!st) st = ts_writer_write(w->w, w->header, PACK_HEADER_BYTES, err);
    if (st) {
        ts_pack_writer_abort(w);
        return st;
    }
    *out = w;
    return TS_OK;
}

static ts_status flush_block(ts_pack_writer *w, ts_error *err) {
    if (!w->in_block) return TS_OK;
    ts_buf *b = &w->block;
    ts_buf_reset(b);
    uint64_t head = 4 + 4 * (uint64_t)w->in_block;
    ts_status st = ts_buf_put_u32le(b, w->in_block, err);
    for (uint32_t i = 0; i < w->in_block && !st; i++) st = ts_buf_put_u32le(b, (uint32_t)(head + w->offsets[i]), err);
    if (!st) st = ts_buf_append(b, w->seqs.data, w->seqs.len, err);
    ts_buf_reset(&w->zframe);
    if (!st) st = ts_zstd_compress(b->data, b->len, (int)w->h.zstd_level, &w->zframe, err);
    uint64_t off = ts_writer_offset(w->w);
    if (!st) st = ts_writer_write(w->w, w->zframe.data, w->zframe.len, err);
    uint8_t e[PACK_INDEX_ENTRY];
    ts_put_u64le(e, off);
    ts_put_u32le(e + 8, (uint32_t)w->zframe.len);
    ts_put_u32le(e + 12, (uint32_t)b->len);
    ts_put_u64le(e + 16, ts_xxh3_64(w->zframe.data, w->zframe.len));
    ts_put_u64le(e + 24, ts_xxh3_64(b->data, b->len));
    if (!st) st = ts_buf_append(&w->index, e, sizeof e, err);
    ts_buf_reset(&w->seqs);
    w->in_block = 0;
    w->n_blocks++;
    return st;
}

ts_status ts_pack_writer_add(ts_pack_writer *w, const ts_pack_seq *s, ts_error *err) {
    ts_status st = ts_pack_seq_check(s, w->h.max_len, err);
    if (st) return ts_error_context(err, "sequence %llu: ", (unsigned long long)w->n_seqs);
    uint64_t n = ts_pack_seq_bytes(s->n_tokens, s->n_subs, s->n_images);
    if (w->in_block && w->seqs.len + n + 4 + 4 * (uint64_t)w->h.seqs_per_block > PACK_BLOCK_MAX)
        return ts_fail(err, TS_ELIMIT, "sequence %llu: block over 2 GiB", (unsigned long long)w->n_seqs);
    w->offsets[w->in_block] = (uint32_t)w->seqs.len;
    if ((st = ts_pack_seq_encode(s, &w->seqs, err))) return st;
    w->in_block++;
    w->n_seqs++;
    return w->in_block == w->h.seqs_per_block ? flush_block(w, err) : TS_OK;
}

ts_status ts_pack_writer_finish(ts_pack_writer *w, const char *meta_json, ts_error *err) {
    ts_status st = flush_block(w, err);
    uint64_t meta_off = ts_writer_offset(w->w), meta_len = strlen(meta_json);
    if (!st) st = ts_writer_write(w->w, meta_json, (size_t)meta_len, err);
    uint64_t index_off = ts_writer_offset(w->w);
    if (!st) st = ts_writer_write(w->w, w->index.data, w->index.len, err);
    uint8_t f[PACK_FOOTER_BYTES] = {0};
    ts_put_u64le(f, w->n_seqs);
    ts_put_u64le(f + 8, w->n_blocks);
    ts_put_u64le(f + 16, meta_off);
    ts_put_u64le(f + 24, meta_len);
    ts_put_u64le(f + 32, index_off);
    ts_hasher *h = ts_hasher_new();
    if (!st && !h) st = ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) {
        ts_hasher_update(h, w->header, PACK_HEADER_BYTES);
        ts_hasher_update(h, meta_json, (size_t)meta_len);
        ts_hasher_update(h, w->index.data, w->index.len);
        ts_hasher_update(h, f, 48);
        ts_put_u64le(f + 48, ts_hasher_digest(h));
        memcpy(f + 56, TS_PACK_END, 8);
        st = ts_writer_write(w->w, f, sizeof f, err);
    }
    ts_hasher_free(h);
    if (!st) st = ts_writer_commit(w->w, err);
    else ts_writer_abort(w->w);
    w->w = NULL;
    ts_pack_writer_abort(w);
    return st;
}

void ts_pack_writer_abort(ts_pack_writer *w) {
    if (!w) return;
    ts_writer_abort(w->w);
    ts_buf_free(&w->block);
    ts_buf_free(&w->seqs);
    ts_buf_free(&w->zframe);
    ts_buf_free(&w->index);
    free(w->offsets);
    free(w);
}
