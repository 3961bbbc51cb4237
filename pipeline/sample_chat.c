/* Sample record -> tokenizer conversation, by the NVLM TaskEncoder's rules
 * (see sample_chat.h for the rules; the why of each is in the reference). */
#include "pipeline/sample_chat.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/utf8.h"
#include "tiler/tiler.h"

void ts_sample_chat_options_default(ts_sample_chat_options *o) {
    memset(o, 0, sizeof *o);
    o->max_tiles = TS_CHAT_MAX_CAP;
    o->tile_size = TS_TILE_SIZE_DEFAULT;
}

void ts_sample_chat_init(ts_sample_chat *c) { memset(c, 0, sizeof *c); }

void ts_sample_chat_free(ts_sample_chat *c) {
    for (size_t i = 0; i < c->cap_turns; i++) ts_buf_free(&c->contents[i]);
    free(c->contents);
    free(c->turns);
    free(c->images);
    memset(c, 0, sizeof *c);
}

/* What a choice is for: each purpose draws independently from (seed, key). */
enum { DRAW_PROMPT = 1, DRAW_ANSWER = 2 };

static uint64_t draw(const ts_sample_chat_options *o, const ts_sample *s, uint8_t purpose) {
    uint8_t head[9];
    ts_put_u64le(head, o->seed);
    head[8] = purpose;
    ts_hasher *h = ts_hasher_new();
    if (!h) return ts_xxh3_64(s->key.data, s->key.len) ^ o->seed ^ purpose;
    ts_hasher_update(h, head, sizeof head);
    ts_hasher_update(h, s->key.data, s->key.len);
    uint64_t v = ts_hasher_digest(h);
    ts_hasher_free(h);
    return v;
}

static const char *pick_prompt(const ts_sample_chat_options *o, const ts_sample *s, ts_nvlm_prompt_set set) {
    return ts_nvlm_prompt(set, (size_t)(draw(o, s, DRAW_PROMPT) % ts_nvlm_prompt_count(set)));
}

/* The answer Megatron's weighted np.random.choice would give for one draw. */
static const ts_sample_answer *pick_answer(const ts_sample_chat_options *o, const ts_sample *s) {
    double total = 0;
    for (size_t i = 0; i < s->n_answers; i++) total += s->answers[i].weight;
    if (!(total > 0)) return &s->answers[0];
    double u = (double)(draw(o, s, DRAW_ANSWER) >> 11) * 0x1.0p-53 * total, acc = 0;
    for (size_t i = 0; i < s->n_answers; i++) {
        acc += s->answers[i].weight;
        if (u < acc && s->answers[i].weight > 0) return &s->answers[i];
    }
    for (size_t i = s->n_answers; i-- > 0;)
        if (s->answers[i].weight > 0) return &s->answers[i];
    return &s->answers[0];
}

/* Python's str.isspace() code points, which .strip() removes. */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

static uint32_t decode_at(const uint8_t *p, size_t n) {
    if (n == 1) return p[0];
    if (n == 2) return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    if (n == 3) return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 | (uint32_t)(p[2] & 0x3f) << 6 |
           (p[3] & 0x3f);
}

/* Python-style strip of valid UTF-8 (records passed ts_sample_check). */
static void strip(const char *s, size_t n, size_t *start, size_t *len) {
    const uint8_t *p = (const uint8_t *)s;
    size_t a = 0, b = n;
    while (a < b) {
        size_t k = ts_utf8_seq(p + a, b - a);
        if (!k) k = 1;
        if (!py_space(decode_at(p + a, k))) break;
        a += k;
    }
    while (b > a) {
        size_t e = b - 1;
        while (e > a && (p[e] & 0xc0) == 0x80) e--;
        if (!py_space(decode_at(p + e, b - e))) break;
        b = e;
    }
    *start = a;
    *len = b - a;
}

/* ---- storage ---- */

static ts_status reserve(ts_sample_chat *c, size_t turns, size_t images, ts_error *err) {
    if (turns > c->cap_turns) {
        ts_chat_turn *t = realloc(c->turns, turns * sizeof *t);
        if (!t) return ts_fail(err, TS_ENOMEM, "out of memory");
        c->turns = t;
        ts_buf *b = realloc(c->contents, turns * sizeof *b);
        if (!b) return ts_fail(err, TS_ENOMEM, "out of memory");
        c->contents = b;
        memset(c->contents + c->cap_turns, 0, (turns - c->cap_turns) * sizeof *b);
        c->cap_turns = turns;
    }
    if (images > c->cap_images) {
        ts_chat_image *im = realloc(c->images, images * sizeof *im);
        if (!im) return ts_fail(err, TS_ENOMEM, "out of memory");
        c->images = im;
        c->cap_images = images;
    }
    return TS_OK;
}

/* Turn i's content is contents[i]; add_turn points the turn at it. */
static void add_turn(ts_sample_chat *c, const char *role) {
    size_t i = c->chat.n_turns++;
    c->turns[i].role = role;
    c->turns[i].content = (const char *)c->contents[i].data;
}

static ts_status put(ts_buf *b, const char *s, size_t n, ts_error *err) {
    if (ts_buf_append(b, s, n, err)) return err->code;
    return ts_buf_reserve(b, 1, err) ? err->code : (b->data[b->len] = 0, TS_OK);
}

static ts_status puts_(ts_buf *b, const char *s, ts_error *err) { return put(b, s, strlen(s), err); }

/* Tile counts of one image for every grid-tile cap (thumbnail included). */
static ts_status tile_counts(const ts_sample_image *im, const ts_sample_chat_options *o, ts_chat_image *out,
                             const ts_sample *s, ts_error *err) {
    memset(out, 0, sizeof *out);
    if (im->width < 1 || im->height < 1 || im->width > INT32_MAX || im->height > INT32_MAX)
        return ts_fail(err, TS_EFORMAT, "%s: image of size %ux%u", ts_sample_str(&s->key), im->width,
                       im->height);
    for (int cap = 1; cap <= TS_CHAT_MAX_CAP; cap++) {
        int m = cap < o->max_tiles ? cap : o->max_tiles;
        ts_grid g = ts_tiler_grid((int)im->width, (int)im->height, 1, m, o->tile_size);
        int n = g.cols * g.rows;
        if (n < 1) return ts_fail(err, TS_EINVAL, "bad tiling options (max_tiles %d, tile_size %d)",
                                  o->max_tiles, o->tile_size);
        out->tiles[cap] = n > 1 ? n + 1 : 1;
    }
    out->has_hash = 1; /* keys the tile shard and the feature cache */
    out->content_hash = im->xxh3;
    return TS_OK;
}

/* ---- the sample types ---- */

static ts_status image_turn(ts_sample_chat *c, const ts_sample *s, const ts_sample_chat_options *o,
                            ts_nvlm_prompt_set set, ts_error *err) {
    ts_buf *b = &c->contents[c->chat.n_turns];
    if (puts_(b, "<image>\n", err) || puts_(b, pick_prompt(o, s, set), err)) return err->code;
    if (set == TS_PROMPTS_CAPTIONING_PRETRAINING && puts_(b, "\n", err)) return err->code;
    add_turn(c, "user");
    return TS_OK;
}

static ts_status stripped_turn(ts_sample_chat *c, const char *role, const ts_buf *text, ts_error *err) {
    size_t a, n;
    strip((const char *)text->data, text->len, &a, &n);
    if (put(&c->contents[c->chat.n_turns], (const char *)text->data + a, n, err)) return err->code;
    add_turn(c, role);
    return TS_OK;
}

/* OCR: Megatron's encoder removes "<image>" from the transcription. */
static ts_status ocr_turn(ts_sample_chat *c, const ts_buf *text, ts_error *err) {
    ts_buf *b = &c->contents[c->chat.n_turns];
    const char *p = (const char *)text->data, *end = p + text->len;
    while (p < end) {
        const char *m = memmem(p, (size_t)(end - p), "<image>", 7);
        size_t n = m ? (size_t)(m - p) : (size_t)(end - p);
        if (ts_buf_append(b, p, n, err)) return err->code;
        p += n + (m ? 7 : 0);
    }
    size_t a, n;
    strip((const char *)b->data, b->len, &a, &n);
    memmove(b->data, b->data + a, n);
    b->len = n;
    if (put(b, "", 0, err)) return err->code;
    add_turn(c, "assistant");
    return TS_OK;
}

static ts_status caption_like(ts_sample_chat *c, const ts_sample *s, const ts_sample_chat_options *o,
                              int ocr, ts_error *err) {
    if (ocr) {
        if (puts_(&c->contents[0], TS_CHAT_DEFAULT_SYSTEM, err)) return err->code;
        add_turn(c, "system");
    }
    if (image_turn(c, s, o, ocr ? TS_PROMPTS_DOC_PRETRAINING : TS_PROMPTS_CAPTIONING_PRETRAINING, err) ||
        (ocr ? ocr_turn(c, &s->text, err) : stripped_turn(c, "assistant", &s->text, err)))
        return err->code;
    c->chat.task = ocr ? TS_CHAT_SFT : TS_CHAT_CAPTION;
    return tile_counts(&s->images[0], o, &c->images[0], s, err) ? err->code
                                                               : (c->chat.n_images = 1, TS_OK);
}

static ts_status vqa(ts_sample_chat *c, const ts_sample *s, const ts_sample_chat_options *o, ts_error *err) {
    const ts_sample_turn *question = NULL, *answer_turn = NULL;
    for (size_t i = 0; i < s->n_turns; i++) {
        if (!question && s->turns[i].role == TS_ROLE_USER) question = &s->turns[i];
        else if (question && !answer_turn && s->turns[i].role == TS_ROLE_ASSISTANT) answer_turn = &s->turns[i];
    }
    const ts_buf *answer = s->n_answers ? &pick_answer(o, s)->text : answer_turn ? &answer_turn->content : NULL;
    if (!question || !answer)
        return ts_fail(err, TS_EFORMAT, "%s: a VQA record needs a question and an answer",
                       ts_sample_str(&s->key));
    if (puts_(&c->contents[0], TS_CHAT_DEFAULT_SYSTEM, err)) return err->code;
    add_turn(c, "system");
    ts_buf *b = &c->contents[1];
    const char *q = (const char *)question->content.data;
    size_t qn = question->content.len;
    if (!ts_count_image_markers(q, qn) && puts_(b, "<image>\n", err)) return err->code;
    const char *tpl = o->vqa_sft_prompts ? pick_prompt(o, s, TS_PROMPTS_VQA_SFT) : "{}";
    const char *hole = strstr(tpl, "{}");
    if (put(b, tpl, (size_t)(hole - tpl), err) || put(b, q, qn, err) || puts_(b, hole + 2, err))
        return err->code;
    add_turn(c, "user");
    if (put(&c->contents[2], (const char *)answer->data, answer->len, err)) return err->code;
    add_turn(c, "assistant");
    c->chat.task = TS_CHAT_SFT;
    return tile_counts(&s->images[0], o, &c->images[0], s, err) ? err->code
                                                               : (c->chat.n_images = 1, TS_OK);
}

/* Copy `src` into `b` with "<image-N>" rewritten to "<image>", noting the
 * image each marker stands for in order[]. */
static ts_status rewrite_markers(const ts_sample *s, const ts_buf *src, ts_buf *b, size_t *order,
                                 size_t *n_order, size_t cap_order, size_t *next_plain, ts_error *err) {
    const char *p = (const char *)src->data;
    size_t n = src->len, i = 0, run = 0;
    while (i < n) {
        size_t mark = 0, image = 0;
        if (n - i >= 7 && !memcmp(p + i, "<image>", 7)) {
            mark = 7;
            image = (*next_plain)++;
        } else if (n - i >= 9 && !memcmp(p + i, "<image-", 7)) {
            size_t k = i + 7, v = 0;
            while (k < n && p[k] >= '0' && p[k] <= '9' && v < 1000000) v = v * 10 + (size_t)(p[k++] - '0');
            if (k > i + 7 && k < n && p[k] == '>' && v >= 1) {
                mark = k + 1 - i;
                image = v - 1;
            }
        }
        if (!mark) {
            i++;
            continue;
        }
        if (image >= s->n_images)
            return ts_fail(err, TS_EFORMAT, "%s: an image marker refers to image %zu of %zu",
                           ts_sample_str(&s->key), image + 1, s->n_images);
        if (*n_order >= cap_order)
            return ts_fail(err, TS_ELIMIT, "%s: more than %zu image markers", ts_sample_str(&s->key), cap_order);
        order[(*n_order)++] = image;
        if (put(b, p + run, i - run, err) || puts_(b, "<image>", err)) return err->code;
        i += mark;
        run = i;
    }
    return put(b, p + run, n - run, err);
}

static ts_status conversation(ts_sample_chat *c, const ts_sample *s, const ts_sample_chat_options *o,
                              ts_error *err) {
    size_t t = 0;
    if (!s->n_turns || s->turns[0].role != TS_ROLE_SYSTEM) {
        if (puts_(&c->contents[t++], TS_CHAT_DEFAULT_SYSTEM, err)) return err->code;
        add_turn(c, "system");
    }
    size_t markers = 0;
    for (size_t i = 0; i < s->n_turns; i++)
        markers += ts_count_image_markers((const char *)s->turns[i].content.data, s->turns[i].content.len);
    size_t cap_order = markers + s->n_images + 1;
    size_t *order = malloc(cap_order * sizeof *order);
    if (!order) return ts_fail(err, TS_ENOMEM, "out of memory");
    size_t n_order = 0, next_plain = 0;
    ts_status st = TS_OK;
    /* encode_llava_sft: images no marker names go first, as "<image>" lines
     * prepended to the first user turn. */
    size_t missing = markers < s->n_images ? s->n_images - markers : 0;
    int first_user = 1;
    for (size_t i = 0; i < s->n_turns && !st; i++) {
        const ts_sample_turn *tr = &s->turns[i];
        if (!tr->content.len) {
            st = ts_fail(err, TS_EFORMAT, "%s: turn %zu is empty", ts_sample_str(&s->key), i + 1);
            break;
        }
        if (tr->role == TS_ROLE_ASSISTANT && ts_count_image_markers((const char *)tr->content.data, tr->content.len)) {
            st = ts_fail(err, TS_EFORMAT, "%s: an assistant turn holds an image marker", ts_sample_str(&s->key));
            break;
        }
        ts_buf *b = &c->contents[t++];
        if (tr->role == TS_ROLE_USER && first_user) {
            first_user = 0;
            for (size_t k = 0; k < missing && !st; k++) {
                order[n_order++] = next_plain++;
                st = puts_(b, "<image>", err);
            }
            if (!st && missing) st = puts_(b, "\n", err);
        }
        if (!st) st = rewrite_markers(s, &tr->content, b, order, &n_order, cap_order, &next_plain, err);
        if (!st) add_turn(c, ts_sample_role_name(tr->role));
    }
    if (!st && missing && first_user)
        st = ts_fail(err, TS_EFORMAT, "%s: images but no user turn to show them in", ts_sample_str(&s->key));
    if (!st) st = reserve(c, c->cap_turns, n_order ? n_order : 1, err);
    for (size_t i = 0; i < n_order && !st; i++) st = tile_counts(&s->images[order[i]], o, &c->images[i], s, err);
    if (!st) c->chat.n_images = n_order;
    free(order);
    c->chat.task = TS_CHAT_SFT;
    return st;
}

ts_status ts_sample_to_chat(const ts_sample *s, const ts_sample_chat_options *o, ts_sample_chat *out,
                            ts_error *err) {
    if (o->max_tiles < 1 || o->max_tiles > TS_CHAT_MAX_CAP || o->tile_size < 1)
        return ts_fail(err, TS_EINVAL, "max_tiles must be 1..%d and tile_size positive", TS_CHAT_MAX_CAP);
    for (size_t i = 0; i < out->cap_turns; i++) ts_buf_reset(&out->contents[i]);
    memset(&out->chat, 0, sizeof out->chat);
    if (reserve(out, s->n_turns + 3, s->n_images + 1, err)) return err->code;
    for (size_t i = 0; i < out->cap_turns; i++)
        if (ts_buf_reserve(&out->contents[i], 1, err)) return err->code;
    ts_status st;
    if (s->task == TS_TASK_CAPTION || s->task == TS_TASK_OCR) {
        st = caption_like(out, s, o, s->task == TS_TASK_OCR, err);
    } else if (s->task == TS_TASK_VQA) {
        st = vqa(out, s, o, err);
    } else if (s->task == TS_TASK_TEXT && !s->n_turns) {
        out->chat.task = TS_CHAT_PRETRAIN; /* a document */
        out->chat.text = ts_sample_str(&s->text);
        st = TS_OK;
    } else {
        st = conversation(out, s, o, err); /* multi-turn, and text SFT */
    }
    if (st) return st;
    out->chat.turns = out->turns;
    out->chat.images = out->images;
    return TS_OK;
}
