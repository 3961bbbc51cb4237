/* Summary and text rendering of packed shards (tessera inspect). */
#include <inttypes.h>
#include <string.h>

#include "shards/pack.h"
#include "tokenize/tokenizer.h"

ts_status ts_pack_summarize(ts_pack_reader *r, ts_pack_summary *o, ts_error *err) {
    memset(o, 0, sizeof *o);
    ts_pack_seq s = {0};
    ts_status st = TS_OK;
    for (uint64_t i = 0; i < ts_pack_count(r) && !st; i++) {
        if ((st = ts_pack_get(r, i, &s, err))) break;
        o->sequences++;
        o->samples += s.n_subs;
        o->tokens += s.n_tokens;
        uint32_t len = (uint32_t)s.cu_seqlens[s.n_subs];
        o->positions += len;
        if (len > o->longest) o->longest = len;
        o->images += s.n_images;
        for (uint32_t k = 0; k < s.n_subs; k++) o->truncated += (s.subs[k].flags & TS_PACK_SUB_TRUNCATED) != 0;
        for (uint32_t k = 0; k < s.n_images; k++) {
            o->images_with_hash += (s.images[k].flags & TS_PACK_IMG_HASH) != 0;
            o->images_with_tiles += (s.images[k].flags & TS_PACK_IMG_TILES) != 0;
            o->images_with_features += (s.images[k].flags & TS_PACK_IMG_FEATURES) != 0;
        }
    }
    ts_pack_seq_free(&s);
    return st;
}

static ts_status image_label(ts_buf *out, const ts_pack_image *im, uint32_t n, ts_error *err) {
    static const char *layouts[] = {"D", "X", "H"}, *forms[] = {"megatron", "hf"};
    ts_status st = ts_buf_printf(out, err, "[image %u: %u tiles, %s/%s", n, im->tiles, layouts[im->layout], forms[im->form]);
    if (!st && im->retiled_from) st = ts_buf_printf(out, err, ", re-tiled from %u", im->retiled_from);
    if (!st && (im->flags & TS_PACK_IMG_TILES))
        st = ts_buf_printf(out, err, ", tiles shard#%d record %u", im->tile_shard, im->tile_record);
    if (!st && (im->flags & TS_PACK_IMG_FEATURES)) st = ts_buf_printf(out, err, ", features cached");
    if (!st && (im->flags & TS_PACK_IMG_HASH)) {
        char hex[33];
        ts_hash128_hex(im->content_hash, hex);
        st = ts_buf_printf(out, err, ", xxh3 %s", hex);
    }
    return st ? st : ts_buf_append(out, "]", 1, err);
}

/* ids [a, b) as text, runs of > 4 equal ids shortened. */
static ts_status tokens(ts_buf *out, const struct ts_tokenizer *tok, const uint32_t *ids, uint32_t a, uint32_t b,
                        ts_error *err) {
    ts_status st = TS_OK;
    uint32_t t = a;
    while (t < b && !st) {
        uint32_t run = 1;
        while (t + run < b && ids[t + run] == ids[t]) run++;
        uint32_t n = run > 4 ? 1 : run;
        if (tok) st = ts_tokenizer_decode(tok, (const int32_t *)(ids + t), n, 0, out, err);
        else for (uint32_t k = 0; k < n && !st; k++) st = ts_buf_printf(out, err, "[%u]", ids[t + k]);
        if (!st && run > 4) st = ts_buf_printf(out, err, "x%u", run);
        t += run;
    }
    return st;
}

ts_status ts_pack_render(const ts_pack_seq *s, const struct ts_tokenizer *tok, ts_buf *out, ts_error *err) {
    ts_status st = TS_OK;
    uint32_t img = 0;
    for (uint32_t k = 0; k < s->n_subs && !st; k++) {
        const ts_pack_sub *sub = &s->subs[k];
        uint32_t a = s->cu_tokens[k], b = s->cu_tokens[k + 1];
        st = ts_buf_printf(out, err, "%s=== sample %u: input %u, source record %" PRIu64 ", %d positions, %u tokens%s ===\n",
                           k ? "\n" : "", k, sub->input, sub->source_record, s->cu_seqlens[k + 1] - s->cu_seqlens[k], b - a,
                           sub->flags & TS_PACK_SUB_TRUNCATED ? ", truncated" : "");
        uint32_t t = a;
        while (!st && t < b) {
            uint32_t stop = img < s->n_images && s->images[img].token_pos < b ? s->images[img].token_pos : b;
            st = tokens(out, tok, s->ids, t, stop, err);
            t = stop;
            if (st || t == b) break;
            const ts_pack_image *im = &s->images[img++];
            st = image_label(out, im, img, err);
            if (im->form == 0 && im->n_inline) t++; /* the IMG token the label stands for */
        }
    }
    return st ? st : ts_buf_append(out, "\n", 1, err);
}
