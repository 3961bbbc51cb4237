/* Sample record -> tar members of one Energon sample, per sample type, with
 * the rules Megatron's NVLM TaskEncoder enforces checked up front (a sample
 * it would reject is dropped here, counted, instead of vanishing silently
 * at training time). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "energon_internal.h"

void ts_energon_layout_free(ts_energon_layout *l) {
    free(l->members);
    ts_buf_free(&l->json);
    memset(l, 0, sizeof *l);
}

static ts_status add_member(ts_energon_layout *l, const ts_sample *s, const char *part,
                            const void *data, size_t len, ts_error *err) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        void *p = realloc(l->members, cap * sizeof *l->members);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        l->members = p;
        l->cap = cap;
    }
    ts_energon_member *m = &l->members[l->n++];
    /* Keys are at most TS_SAMPLE_KEY_MAX (80) bytes and parts short, so this fits. */
    snprintf(m->name, sizeof m->name, "%s.%s", ts_sample_str(&s->key), part);
    m->data = data;
    m->len = len;
    return TS_OK;
}

static ts_status add_image(ts_energon_layout *l, const ts_sample *s, size_t i, int numbered,
                           ts_error *err) {
    const ts_sample_image *im = &s->images[i];
    char part[32];
    if (numbered) snprintf(part, sizeof part, "img%zu.%s", i, ts_image_extension(im->format));
    else snprintf(part, sizeof part, "%s", ts_image_extension(im->format));
    l->image_exts |= 1u << im->format;
    return add_member(l, s, part, im->bytes.data, im->bytes.len, err);
}

static ts_status rule(const char **reason, const char *which, ts_error *err, const char *msg) {
    *reason = which;
    return ts_fail(err, TS_EINVAL, "%s", msg);
}

/* Serialize `o` (consumed) into l->json. */
static ts_status take_json(ts_energon_layout *l, cJSON *o, ts_error *err) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return ts_fail(err, TS_ENOMEM, "out of memory printing JSON");
    ts_buf_reset(&l->json);
    ts_status st = ts_buf_append(&l->json, text, strlen(text), err);
    free(text);
    return st;
}

static const ts_sample_turn *first_turn(const ts_sample *s, ts_sample_role role) {
    for (size_t i = 0; i < s->n_turns; i++)
        if (s->turns[i].role == role) return &s->turns[i];
    return NULL;
}

static ts_status build_vqa(ts_energon_layout *l, const ts_sample *s, const char **reason, ts_error *err) {
    const ts_sample_turn *q = first_turn(s, TS_ROLE_USER);
    const ts_sample_turn *a = first_turn(s, TS_ROLE_ASSISTANT);
    if (!q || q->content.len == 0) return rule(reason, TS_DROP_RULE, err, "VQA record without a question");
    if (ts_count_image_markers((const char *)q->content.data, q->content.len) > 1)
        return rule(reason, TS_DROP_RULE, err, "VQA question with more than one <image> marker");
    cJSON *o = cJSON_CreateObject();
    cJSON *answers = o ? cJSON_AddArrayToObject(o, "answers") : NULL;
    cJSON *weights = o ? cJSON_AddArrayToObject(o, "answer_weights") : NULL;
    int ok = answers && weights && cJSON_AddStringToObject(o, "question", ts_sample_str(&q->content));
    double total = 0;
    if (s->n_answers) {
        for (size_t i = 0; ok && i < s->n_answers; i++) {
            total += s->answers[i].weight;
            ok = cJSON_AddItemToArray(answers, cJSON_CreateString(ts_sample_str(&s->answers[i].text))) &&
                 cJSON_AddItemToArray(weights, cJSON_CreateNumber(s->answers[i].weight));
        }
    } else if (ok && a) {
        total = 1;
        ok = cJSON_AddItemToArray(answers, cJSON_CreateString(ts_sample_str(&a->content))) &&
             cJSON_AddItemToArray(weights, cJSON_CreateNumber(1.0));
    }
    if (ok && !(total > 0)) {
        cJSON_Delete(o);
        return rule(reason, TS_DROP_RULE, err, "VQA answer weights sum to 0 (Megatron normalizes them)");
    }
    if (!ok) {
        cJSON_Delete(o);
        return ts_fail(err, TS_ENOMEM, "out of memory building JSON");
    }
    return take_json(l, o, err);
}

/* Megatron's encode_llava_sft: roles human/gpt only, no empty turn, no image
 * marker in assistant turns, no more markers than images. We also require
 * user-first alternation ending on an assistant turn. */
static ts_status build_conversation(ts_energon_layout *l, const ts_sample *s, unsigned max_images,
                                    const char **reason, ts_error *err) {
    char msg[160];
    if (s->n_turns == 0) return rule(reason, TS_DROP_RULE, err, "no turns (plain text cannot train through Megatron's TaskEncoder)");
    if (max_images && s->n_images > max_images) {
        snprintf(msg, sizeof msg, "%zu images, at most %u per sample", s->n_images, max_images);
        return rule(reason, TS_DROP_IMAGES, err, msg);
    }
    size_t markers = 0;
    for (size_t i = 0; i < s->n_turns; i++) {
        const ts_sample_turn *t = &s->turns[i];
        ts_sample_role want = i % 2 ? TS_ROLE_ASSISTANT : TS_ROLE_USER;
        size_t m = ts_count_image_markers((const char *)t->content.data, t->content.len);
        if (t->role != want) {
            snprintf(msg, sizeof msg, "turn %zu is %s; turns must alternate user, assistant", i,
                     ts_sample_role_name(t->role));
            return rule(reason, TS_DROP_RULE, err, msg);
        }
        if (t->content.len == 0) {
            snprintf(msg, sizeof msg, "turn %zu is empty", i);
            return rule(reason, TS_DROP_RULE, err, msg);
        }
        if (m && t->role == TS_ROLE_ASSISTANT) {
            snprintf(msg, sizeof msg, "assistant turn %zu holds an <image> marker", i);
            return rule(reason, TS_DROP_RULE, err, msg);
        }
        markers += m;
    }
    if (s->n_turns % 2) return rule(reason, TS_DROP_RULE, err, "the last turn is not an assistant turn");
    if (markers > s->n_images) {
        snprintf(msg, sizeof msg, "%zu <image> markers for %zu images", markers, s->n_images);
        return rule(reason, TS_DROP_RULE, err, msg);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *conv = o ? cJSON_AddArrayToObject(o, "conversations") : NULL;
    cJSON *images = o ? cJSON_AddArrayToObject(o, "images") : NULL;
    int ok = conv && images;
    for (size_t i = 0; ok && i < s->n_turns; i++) {
        cJSON *t = cJSON_CreateObject();
        ok = t && cJSON_AddItemToArray(conv, t) &&
             cJSON_AddStringToObject(t, "from", s->turns[i].role == TS_ROLE_USER ? "human" : "gpt") &&
             cJSON_AddStringToObject(t, "value", ts_sample_str(&s->turns[i].content));
    }
    for (size_t i = 0; ok && i < s->n_images; i++) {
        char part[32];
        snprintf(part, sizeof part, "img%zu.%s", i, ts_image_extension(s->images[i].format));
        ok = cJSON_AddItemToArray(images, cJSON_CreateString(part));
    }
    if (!ok) {
        cJSON_Delete(o);
        return ts_fail(err, TS_ENOMEM, "out of memory building JSON");
    }
    return take_json(l, o, err);
}

static ts_status single_image(const ts_sample *s, const char **reason, ts_error *err) {
    if (s->n_images == 1) return TS_OK;
    char msg[96];
    snprintf(msg, sizeof msg, "%zu images; this sample type holds exactly one", s->n_images);
    return rule(reason, s->n_images ? TS_DROP_IMAGES : TS_DROP_RULE, err, msg);
}

ts_status ts_energon_layout_build(ts_energon_layout *l, ts_energon_type type, const ts_sample *s,
                                  unsigned max_images, const char **reason, ts_error *err) {
    l->n = 0;
    l->image_exts = 0;
    *reason = NULL;
    if (ts_energon_type_for_task(s->task) != type) {
        char msg[96];
        snprintf(msg, sizeof msg, "a %s record does not fit a %s dataset", ts_sample_task_name(s->task),
                 ts_energon_type_name(type));
        return rule(reason, TS_DROP_TYPE, err, msg);
    }
    ts_status st;
    switch (type) {
    case TS_ENERGON_CAPTION:
    case TS_ENERGON_OCR:
        if ((st = single_image(s, reason, err))) return st;
        if (s->text.len == 0) return rule(reason, TS_DROP_RULE, err, "no text");
        if ((st = add_image(l, s, 0, 0, err))) return st;
        return add_member(l, s, "txt", s->text.data, s->text.len, err);
    case TS_ENERGON_VQA:
        if ((st = single_image(s, reason, err)) || (st = build_vqa(l, s, reason, err))) return st;
        if ((st = add_image(l, s, 0, 0, err))) return st;
        return add_member(l, s, "json", l->json.data, l->json.len, err);
    case TS_ENERGON_INTERLEAVED:
        if ((st = build_conversation(l, s, max_images, reason, err))) return st;
        if ((st = add_member(l, s, "json", l->json.data, l->json.len, err))) return st;
        for (size_t i = 0; i < s->n_images; i++)
            if ((st = add_image(l, s, i, 1, err))) return st;
        return TS_OK;
    case TS_ENERGON_TYPE_COUNT: break;
    }
    return ts_fail(err, TS_EINVAL, "unknown dataset type");
}
