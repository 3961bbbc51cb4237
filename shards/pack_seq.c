/* One packed sequence: encoding, decoding and the structure rules
 * (docs/PACKING.md §3). */
#include <stdlib.h>
#include <string.h>

#include "shards/pack_layout.h"

static ts_status grow(void **p, size_t *cap, size_t need, size_t elem, ts_error *err) {
    if (need <= *cap) return TS_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return ts_fail(err, TS_ENOMEM, "out of memory");
    *p = q;
    *cap = nc;
    return TS_OK;
}

ts_status ts_pack_seq_reserve(ts_pack_seq *s, size_t tokens, size_t subs, size_t images, ts_error *err) {
    size_t ct = s->cap_tokens, cs = s->cap_subs;
    ts_status st = TS_OK;
    if (tokens > s->cap_tokens) {
        size_t c = ct;
        if (!st) st = grow((void **)&s->ids, &c, tokens, sizeof *s->ids, err);
        c = ct;
        if (!st) st = grow((void **)&s->labels, &c, tokens, sizeof *s->labels, err);
        c = ct;
        if (!st) st = grow((void **)&s->positions, &c, tokens, sizeof *s->positions, err);
        if (!st) s->cap_tokens = c;
    }
    if (!st && subs + 1 > s->cap_subs) {
        size_t c = cs;
        st = grow((void **)&s->cu_seqlens, &c, subs + 1, sizeof *s->cu_seqlens, err);
        c = cs;
        if (!st) st = grow((void **)&s->cu_tokens, &c, subs + 1, sizeof *s->cu_tokens, err);
        c = cs;
        if (!st) st = grow((void **)&s->subs, &c, subs + 1, sizeof *s->subs, err);
        if (!st) s->cap_subs = c;
    }
    if (!st) st = grow((void **)&s->images, &s->cap_images, images ? images : 1, sizeof *s->images, err);
    return st;
}

void ts_pack_seq_free(ts_pack_seq *s) {
    free(s->cu_seqlens);
    free(s->cu_tokens);
    free(s->ids);
    free(s->labels);
    free(s->positions);
    free(s->subs);
    free(s->images);
    memset(s, 0, sizeof *s);
}

uint64_t ts_pack_seq_bytes(uint32_t n_tokens, uint32_t n_subs, uint32_t n_images) {
    return PACK_SEQ_HEAD + 8 * ((uint64_t)n_subs + 1) + 12 * (uint64_t)n_tokens + PACK_SUB_BYTES * (uint64_t)n_subs +
           PACK_IMAGE_BYTES * (uint64_t)n_images;
}

ts_status ts_pack_seq_check(const ts_pack_seq *s, uint32_t max_len, ts_error *err) {
    if (!s->n_subs) return ts_fail(err, TS_EFORMAT, "sequence without samples");
    if (s->cu_seqlens[0] != 0 || s->cu_tokens[0] != 0) return ts_fail(err, TS_EFORMAT, "cu_seqlens must start at 0");
    if (s->cu_tokens[s->n_subs] != s->n_tokens) return ts_fail(err, TS_EFORMAT, "cu_tokens does not end at the token count");
    if ((uint32_t)s->cu_seqlens[s->n_subs] > max_len || s->cu_seqlens[s->n_subs] < 0)
        return ts_fail(err, TS_EFORMAT, "sequence of %d positions over max_len %u", s->cu_seqlens[s->n_subs], max_len);
    for (uint32_t k = 0; k < s->n_subs; k++) {
        uint32_t t0 = s->cu_tokens[k], t1 = s->cu_tokens[k + 1];
        int32_t len = s->cu_seqlens[k + 1] - s->cu_seqlens[k];
        if (t1 <= t0 || t1 > s->n_tokens || len < (int32_t)(t1 - t0))
            return ts_fail(err, TS_EFORMAT, "sample %u: bad boundaries", k);
        int32_t prev = -1;
        for (uint32_t t = t0; t < t1; t++) {
            if (s->positions[t] <= prev || s->positions[t] >= len)
                return ts_fail(err, TS_EFORMAT, "sample %u: position ids not increasing inside [0, %d)", k, len);
            prev = s->positions[t];
            if (s->labels[t] < 0 && s->labels[t] != TS_PACK_IGNORE)
                return ts_fail(err, TS_EFORMAT, "token %u: label %d", t, s->labels[t]);
            if (s->labels[t] >= 0 && (t + 1 == t1 || (uint32_t)s->labels[t] != s->ids[t + 1]))
                return ts_fail(err, TS_EFORMAT, "token %u: label is not the next token of its sample", t);
        }
        if (s->positions[t0] != 0) return ts_fail(err, TS_EFORMAT, "sample %u: position ids must start at 0", k);
    }
    for (uint32_t i = 0; i < s->n_images; i++) {
        const ts_pack_image *im = &s->images[i];
        if (im->sub >= s->n_subs || im->tiles < 1 || im->tiles > 7 || im->layout > 2 || im->form > 1 ||
            im->flags > 7 || ((im->flags & TS_PACK_IMG_FEATURES) && !(im->flags & TS_PACK_IMG_TILES)) ||
            im->n_inline > im->tiles || im->token_pos < s->cu_tokens[im->sub] ||
            im->token_pos >= s->cu_tokens[im->sub + 1] || im->position != (uint32_t)s->positions[im->token_pos] ||
            (im->tile_shard < 0) != !(im->flags & TS_PACK_IMG_TILES) || im->tile_shard < -1 ||
            (i && (im->sub < s->images[i - 1].sub || im->token_pos <= s->images[i - 1].token_pos)))
            return ts_fail(err, TS_EFORMAT, "image %u: bad entry", i);
    }
    return TS_OK;
}

static void put32(uint8_t **p, uint32_t v) {
    ts_put_u32le(*p, v);
    *p += 4;
}

static void put64(uint8_t **p, uint64_t v) {
    ts_put_u64le(*p, v);
    *p += 8;
}

ts_status ts_pack_seq_encode(const ts_pack_seq *s, ts_buf *b, ts_error *err) {
    uint64_t n = ts_pack_seq_bytes(s->n_tokens, s->n_subs, s->n_images);
    ts_status st = ts_buf_reserve(b, (size_t)n, err);
    if (st) return st;
    uint8_t *p = b->data + b->len;
    put32(&p, s->n_tokens);
    put32(&p, s->n_subs);
    put32(&p, s->n_images);
    put32(&p, 0);
    for (uint32_t k = 0; k <= s->n_subs; k++) put32(&p, (uint32_t)s->cu_seqlens[k]);
    for (uint32_t k = 0; k <= s->n_subs; k++) put32(&p, s->cu_tokens[k]);
    for (uint32_t t = 0; t < s->n_tokens; t++) put32(&p, s->ids[t]);
    for (uint32_t t = 0; t < s->n_tokens; t++) put32(&p, (uint32_t)s->labels[t]);
    for (uint32_t t = 0; t < s->n_tokens; t++) put32(&p, (uint32_t)s->positions[t]);
    for (uint32_t k = 0; k < s->n_subs; k++) {
        put32(&p, s->subs[k].input);
        put32(&p, s->subs[k].flags);
        put64(&p, s->subs[k].source_record);
        put64(&p, s->subs[k].tok_record);
    }
    for (uint32_t i = 0; i < s->n_images; i++) {
        const ts_pack_image *im = &s->images[i];
        put32(&p, im->sub);
        put32(&p, im->tiles);
        *p++ = im->layout;
        *p++ = im->form;
        *p++ = im->flags;
        *p++ = im->n_inline;
        put32(&p, im->token_pos);
        put32(&p, im->position);
        put32(&p, (uint32_t)im->tile_shard);
        put32(&p, im->tile_record);
        put32(&p, im->retiled_from);
        put64(&p, im->content_hash.hi);
        put64(&p, im->content_hash.lo);
    }
    b->len += (size_t)n;
    return TS_OK;
}

ts_status ts_pack_seq_decode(const uint8_t *p, uint64_t n, ts_pack_seq *s, ts_error *err) {
    if (n < PACK_SEQ_HEAD) return ts_fail(err, TS_EFORMAT, "sequence truncated");
    uint32_t nt = ts_get_u32le(p), ns = ts_get_u32le(p + 4), ni = ts_get_u32le(p + 8);
    if (ts_get_u32le(p + 12) != 0 || ts_pack_seq_bytes(nt, ns, ni) != n)
        return ts_fail(err, TS_EFORMAT, "sequence size does not match its counts");
    ts_status st = ts_pack_seq_reserve(s, nt, ns, ni, err);
    if (st) return st;
    s->n_tokens = nt;
    s->n_subs = ns;
    s->n_images = ni;
    p += PACK_SEQ_HEAD;
    for (uint32_t k = 0; k <= ns; k++, p += 4) s->cu_seqlens[k] = (int32_t)ts_get_u32le(p);
    for (uint32_t k = 0; k <= ns; k++, p += 4) s->cu_tokens[k] = ts_get_u32le(p);
    for (uint32_t t = 0; t < nt; t++, p += 4) s->ids[t] = ts_get_u32le(p);
    for (uint32_t t = 0; t < nt; t++, p += 4) s->labels[t] = (int32_t)ts_get_u32le(p);
    for (uint32_t t = 0; t < nt; t++, p += 4) s->positions[t] = (int32_t)ts_get_u32le(p);
    for (uint32_t k = 0; k < ns; k++, p += PACK_SUB_BYTES) {
        s->subs[k].input = ts_get_u32le(p);
        s->subs[k].flags = ts_get_u32le(p + 4);
        s->subs[k].source_record = ts_get_u64le(p + 8);
        s->subs[k].tok_record = ts_get_u64le(p + 16);
        if (s->subs[k].flags & ~(uint32_t)TS_PACK_SUB_TRUNCATED) return ts_fail(err, TS_EFORMAT, "sample %u: bad flags", k);
    }
    for (uint32_t i = 0; i < ni; i++, p += PACK_IMAGE_BYTES) {
        ts_pack_image *im = &s->images[i];
        im->sub = ts_get_u32le(p);
        im->tiles = ts_get_u32le(p + 4);
        im->layout = p[8];
        im->form = p[9];
        im->flags = p[10];
        im->n_inline = p[11];
        im->token_pos = ts_get_u32le(p + 12);
        im->position = ts_get_u32le(p + 16);
        im->tile_shard = (int32_t)ts_get_u32le(p + 20);
        im->tile_record = ts_get_u32le(p + 24);
        im->retiled_from = ts_get_u32le(p + 28);
        im->content_hash.hi = ts_get_u64le(p + 32);
        im->content_hash.lo = ts_get_u64le(p + 40);
    }
    return TS_OK;
}

void ts_pack_header_encode(const ts_pack_header *h, uint8_t out[PACK_HEADER_BYTES]) {
    memset(out, 0, PACK_HEADER_BYTES);
    memcpy(out, TS_PACK_MAGIC, 8);
    ts_put_u32le(out + 8, TS_PACK_VERSION);
    ts_put_u32le(out + 12, 0);
    ts_put_u32le(out + 16, h->max_len);
    ts_put_u32le(out + 20, h->seqs_per_block);
    ts_put_u64le(out + 24, h->tokenizer_hash);
    ts_put_u64le(out + 32, h->params_hash);
    ts_put_u32le(out + 40, h->zstd_level);
    ts_put_u32le(out + 44, h->window);
    ts_put_u64le(out + 48, h->recipe_hash);
    ts_put_u64le(out + 56, ts_xxh3_64(out, 56));
}
