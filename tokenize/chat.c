/* ChatML rendering, loss masks and NVLM image layouts (contract: chat.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/chat.h"
#include "tokenize/tok_internal.h"

#define ASSISTANT_PREFIX_TOKENS 3 /* <|im_start|> "assistant" "\n" */
#define IMAGE_PLACEHOLDER "<image>"

void ts_chat_options_default(ts_chat_options *o) {
    memset(o, 0, sizeof *o);
    o->layout = TS_LAYOUT_D;
    o->form = TS_FORM_MEGATRON;
    o->task = TS_CHAT_SFT;
    o->image_token_id = 151646;
}

int ts_chat_layout_parse(const char *s, ts_chat_layout *out) {
    if (!strcmp(s, "d") || !strcmp(s, "D")) *out = TS_LAYOUT_D;
    else if (!strcmp(s, "x") || !strcmp(s, "X")) *out = TS_LAYOUT_X;
    else if (!strcmp(s, "h") || !strcmp(s, "H")) *out = TS_LAYOUT_H;
    else return -1;
    return 0;
}

int ts_chat_form_parse(const char *s, ts_chat_form *out) {
    if (!strcmp(s, "megatron")) *out = TS_FORM_MEGATRON;
    else if (!strcmp(s, "hf") || !strcmp(s, "vllm")) *out = TS_FORM_HF;
    else return -1;
    return 0;
}

int ts_chat_task_parse(const char *s, ts_chat_task *out) {
    if (!strcmp(s, "sft") || !strcmp(s, "vqa") || !strcmp(s, "ocr")) *out = TS_CHAT_SFT;
    else if (!strcmp(s, "caption") || !strcmp(s, "captioning")) *out = TS_CHAT_CAPTION;
    else if (!strcmp(s, "pretrain") || !strcmp(s, "text")) *out = TS_CHAT_PRETRAIN;
    else return -1;
    return 0;
}

/* Accumulates text between control tokens and encodes it as one piece. */
typedef struct builder {
    const ts_tokenizer *tok;
    ts_tok_scratch *sc;
    ts_chat_result *r;
    ts_buf pending;
    int pending_markup; /* the piece carries image markup: all its tokens masked */
    /* tag offsets in `pending` waiting for their token position */
    size_t mark_off[TS_CHAT_MAX_TILES * 64];
    int64_t *mark_dst[TS_CHAT_MAX_TILES * 64];
    int n_marks;
    ts_error *err;
} builder;

static ts_status push_mask(builder *b, size_t n, uint8_t m) {
    ts_chat_result *r = b->r;
    if (r->mask_cap < r->ids.len) {
        size_t nc = r->mask_cap ? r->mask_cap : 256;
        while (nc < r->ids.len) nc *= 2;
        uint8_t *p = realloc(r->mask, nc);
        if (!p) return ts_fail(b->err, TS_ENOMEM, "out of memory for the loss mask");
        r->mask = p;
        r->mask_cap = nc;
    }
    memset(r->mask + r->ids.len - n, m, n);
    return TS_OK;
}

/* Pending text is kept in NFC so that token byte lengths map back onto it. */
static ts_status text(builder *b, const char *s, size_t n) {
    if (!b->tok->nfc) return ts_buf_append(&b->pending, s, n, b->err);
    return ts_nfc_hf((const uint8_t *)s, n, &b->pending, b->err);
}

/* Remember that the token covering the next pending byte is written to *dst. */
static void mark(builder *b, int64_t *dst) {
    b->mark_off[b->n_marks] = b->pending.len;
    b->mark_dst[b->n_marks++] = dst;
}

static ts_status flush(builder *b, uint8_t m) {
    if (!b->pending.len) return TS_OK;
    size_t before = b->r->ids.len;
    ts_status st = ts_tokenizer_encode(b->tok, b->sc, (const char *)b->pending.data, b->pending.len,
                                       TS_TOK_PLAIN_TEXT, &b->r->ids, b->err);
    if (st) return st;
    if ((st = push_mask(b, b->r->ids.len - before, b->pending_markup ? 0 : m))) return st;
    if (b->n_marks) { /* token byte offsets: token bytes concatenate to the NFC text */
        size_t off = 0, k = 0;
        for (size_t i = before; i < b->r->ids.len; i++) {
            size_t len = b->tok->tok_len[b->r->ids.v[i]];
            while (k < (size_t)b->n_marks && b->mark_off[k] < off + len) *b->mark_dst[k++] = (int64_t)i;
            off += len;
        }
        if (off != b->pending.len || k != (size_t)b->n_marks)
            return ts_fail(b->err, TS_EUNSUPPORTED,
                           "image markup next to a character that NFC composes with it");
        b->n_marks = 0;
    }
    ts_buf_reset(&b->pending);
    b->pending_markup = 0;
    return TS_OK;
}

static ts_status id(builder *b, int32_t v, uint8_t m) {
    ts_status st = flush(b, m);
    if (!st) st = ts_ids_push(&b->r->ids, v, b->err);
    if (!st) st = push_mask(b, 1, m);
    return st;
}

static void tile_tag(int k, int n, char out[32]) {
    if (k == n - 1) snprintf(out, 32, "<tile_global_thumbnail>");
    else snprintf(out, 32, "<tile_%d>", k + 1);
}

typedef struct ids_cfg {
    int32_t im_start, im_end, eot, vision_pad;
} ids_cfg;

/* One image's markup; `mask` is the turn's mask (markup is always 0). */
static ts_status image(builder *b, const ts_chat_options *o, const ids_cfg *c, ts_chat_slot *slot) {
    ts_status st;
    int n = slot->tiles;
    b->pending_markup = 1;
    if ((st = text(b, "<Image>", 7))) return st;
    for (int k = 0; k < n; k++) {
        char tag[32];
        int thumb = k == n - 1;
        int inline_feat = o->layout == TS_LAYOUT_D || (o->layout == TS_LAYOUT_H && thumb);
        slot->inline_tile[k] = (uint8_t)inline_feat;
        if (o->form == TS_FORM_MEGATRON && inline_feat) {
            if (slot->token_pos < 0) { /* one IMG for all inline tiles, tags spliced by the model */
                if ((st = id(b, o->image_token_id, 0))) return st;
                slot->token_pos = (int64_t)b->r->ids.len - 1;
                b->pending_markup = 1;
            }
            continue;
        }
        tile_tag(k, n, tag);
        mark(b, &slot->tag_pos[k]);
        if ((st = text(b, tag, strlen(tag)))) return st;
        if (inline_feat) {
            for (int j = 0; j < TS_CHAT_TILE_TOKENS; j++) {
                if ((st = id(b, c->vision_pad, 0))) return st;
                if (j == 0) slot->feat_pos[k] = (int64_t)b->r->ids.len - 1;
            }
            b->pending_markup = 1;
        }
    }
    return text(b, "</Image>", 8);
}

/* The turn's content with each "<image>" expanded. */
static ts_status content(builder *b, const ts_chat_options *o, const ids_cfg *c, const char *s,
                         size_t *next_image, const ts_chat_sample *sample, const int *tiles, uint8_t m) {
    ts_status st;
    for (;;) {
        const char *hit = strstr(s, IMAGE_PLACEHOLDER);
        size_t len = hit ? (size_t)(hit - s) : strlen(s);
        if ((st = text(b, s, len))) return st;
        if (!hit) return TS_OK;
        if (*next_image >= sample->n_images)
            return ts_fail(b->err, TS_EFORMAT, "more \"<image>\" placeholders than images (%zu)", sample->n_images);
        ts_chat_slot *slot = &b->r->images[*next_image];
        slot->tiles = tiles[*next_image];
        (*next_image)++;
        /* text before the markup keeps the turn's mask: flush it first only
         * when it is trained, so a trained answer is never masked */
        if (m && (st = flush(b, m))) return st;
        if ((st = image(b, o, c, slot))) return st;
        s = hit + strlen(IMAGE_PLACEHOLDER);
    }
}

static const char *system_prompt(const ts_chat_options *o, ts_chat_task task) {
    if (o->system_prompt) return *o->system_prompt ? o->system_prompt : NULL;
    return task == TS_CHAT_SFT ? TS_CHAT_DEFAULT_SYSTEM : NULL;
}

static ts_status turn(builder *b, const ts_chat_options *o, const ids_cfg *c, const char *role,
                      const char *body, size_t *next_image, const ts_chat_sample *s, const int *tiles) {
    int assistant = strcmp(role, "assistant") == 0;
    uint8_t m = assistant ? 1 : 0;
    size_t start = b->r->ids.len;
    ts_status st = id(b, c->im_start, 0);
    if (!st) st = text(b, role, strlen(role));
    if (!st) st = text(b, "\n", 1);
    if (!st) st = content(b, o, c, body, next_image, s, tiles, m);
    if (!st) st = id(b, c->im_end, m);
    if (!st) st = text(b, "\n", 1);
    if (!st) st = flush(b, m);
    if (st || !assistant) return st;
    for (size_t i = start; i < b->r->ids.len && i < start + ASSISTANT_PREFIX_TOKENS; i++) b->r->mask[i] = 0;
    return TS_OK;
}

static void reset_result(ts_chat_result *r, size_t n_images) {
    r->ids.len = 0;
    r->length = 0;
    r->n_images = n_images;
    for (size_t i = 0; i < n_images; i++) {
        ts_chat_slot *sl = &r->images[i];
        memset(sl, 0, sizeof *sl);
        sl->token_pos = -1;
        for (int k = 0; k < TS_CHAT_MAX_TILES; k++) sl->tag_pos[k] = sl->feat_pos[k] = -1;
    }
}

static ts_status render(builder *b, const ts_chat_options *o, const ids_cfg *c, const ts_chat_sample *s,
                        const int *tiles) {
    ts_status st = TS_OK;
    size_t next_image = 0;
    int has_system = s->n_turns && strcmp(s->turns[0].role, "system") == 0;
    const char *sys = has_system ? NULL : system_prompt(o, s->task);
    if (sys && (st = turn(b, o, c, "system", sys, &next_image, s, tiles))) return st;
    for (size_t i = 0; i < s->n_turns && !st; i++) {
        const char *role = s->turns[i].role;
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
            return ts_fail(b->err, TS_EFORMAT, "turn %zu: unknown role \"%s\"", i, role);
        st = turn(b, o, c, role, s->turns[i].content, &next_image, s, tiles);
    }
    if (!st && next_image != s->n_images)
        return ts_fail(b->err, TS_EFORMAT, "%zu images but %zu \"<image>\" placeholders", s->n_images, next_image);
    return st;
}

static int64_t sequence_length(const ts_chat_options *o, const ts_chat_result *r) {
    int64_t len = (int64_t)r->ids.len;
    if (o->form != TS_FORM_MEGATRON) return len;
    for (size_t i = 0; i < r->n_images; i++) {
        const ts_chat_slot *sl = &r->images[i];
        if (sl->token_pos < 0) continue;
        int inl = 0;
        for (int k = 0; k < sl->tiles; k++) inl += sl->inline_tile[k];
        len += (int64_t)inl * (TS_CHAT_TAG_TOKENS + TS_CHAT_TILE_TOKENS) - 1;
    }
    return len;
}

static ts_status lookup_ids(const ts_tokenizer *tok, const ts_chat_options *o, ids_cfg *c, ts_error *err) {
    c->im_start = ts_tokenizer_token_id(tok, "<|im_start|>");
    c->im_end = ts_tokenizer_token_id(tok, "<|im_end|>");
    c->eot = ts_tokenizer_token_id(tok, "<|endoftext|>");
    c->vision_pad = ts_tokenizer_token_id(tok, "<|vision_pad|>");
    if (c->im_start < 0 || c->im_end < 0 || c->eot < 0)
        return ts_fail(err, TS_EUNSUPPORTED, "tokenizer lacks <|im_start|>, <|im_end|> or <|endoftext|>");
    if (o->form == TS_FORM_HF && o->layout != TS_LAYOUT_X && c->vision_pad < 0)
        return ts_fail(err, TS_EUNSUPPORTED, "the HF form needs <|vision_pad|>, absent from this tokenizer");
    if (o->form == TS_FORM_MEGATRON && o->image_token_id < 0)
        return ts_fail(err, TS_EINVAL, "negative image token id");
    return TS_OK;
}

static const int RETILE_CAPS[] = {6, 4, 2, 1};

ts_status ts_chat_tokenize(const ts_tokenizer *tok, ts_tok_scratch *sc, const ts_chat_options *o,
                           const ts_chat_sample *s, ts_chat_result *out, ts_error *err) {
    ids_cfg c;
    ts_status st = lookup_ids(tok, o, &c, err);
    if (st) return st;
    if (s->n_images > out->n_images || !out->images) {
        ts_chat_slot *p = realloc(out->images, (s->n_images ? s->n_images : 1) * sizeof *p);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        out->images = p;
    }
    reset_result(out, s->n_images);
    builder b = {.tok = tok, .sc = sc, .r = out, .err = err};
    if (s->task == TS_CHAT_PRETRAIN) {
        if (!s->text) return ts_fail(err, TS_EFORMAT, "a pretraining document needs \"text\"");
        st = text(&b, s->text, strlen(s->text));
        if (!st) st = id(&b, c.eot, 1);
        out->length = (int64_t)out->ids.len;
        ts_buf_free(&b.pending);
        return st;
    }
    int tiles[64], first_tiles[64];
    if (s->n_images > 64) return ts_fail(err, TS_ELIMIT, "%zu images in one sample (at most 64)", s->n_images);
    int first = 1;
    for (size_t ci = 0; ci < sizeof RETILE_CAPS / sizeof RETILE_CAPS[0]; ci++) {
        int cap = RETILE_CAPS[ci], known = 1;
        for (size_t i = 0; i < s->n_images; i++) {
            tiles[i] = cap == 1 ? 1 : s->images[i].tiles[cap];
            if (tiles[i] <= 0 || tiles[i] > TS_CHAT_MAX_TILES) known = 0;
        }
        if (!known) continue; /* no tile counts for this cap: try the next */
        reset_result(out, s->n_images);
        st = render(&b, o, &c, s, tiles);
        if (st) break;
        out->length = sequence_length(o, out);
        for (size_t i = 0; i < s->n_images; i++) {
            out->images[i].cap = cap;
            if (first) first_tiles[i] = tiles[i];
            else out->images[i].retiled_from = first_tiles[i];
        }
        first = 0;
        if (!o->max_len || out->length <= o->max_len || cap == 1) break;
    }
    ts_buf_free(&b.pending);
    if (st) return st;
    for (size_t i = 0; i < s->n_images; i++) {
        out->images[i].layout = o->layout;
        out->images[i].form = o->form;
        out->images[i].has_hash = s->images[i].has_hash;
        out->images[i].content_hash = s->images[i].content_hash;
    }
    if (first) return ts_fail(err, TS_EFORMAT, "no usable tile counts for the images");
    if (o->max_len && out->length > o->max_len)
        return ts_fail(err, TS_ELIMIT, "sample is %lld tokens, over the budget of %d even with 1 tile per image",
                       (long long)out->length, o->max_len);
    return TS_OK;
}

void ts_chat_result_free(ts_chat_result *r) {
    ts_ids_free(&r->ids);
    free(r->mask);
    free(r->images);
    memset(r, 0, sizeof *r);
}
