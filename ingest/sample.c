/* The sample record: lifetime, setters and invariants. */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

void ts_sample_init(ts_sample *s) { memset(s, 0, sizeof *s); }

void ts_sample_clear(ts_sample *s) {
    ts_buf *strings[] = {&s->key, &s->source, &s->text, &s->url, &s->row, &s->license};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) ts_buf_reset(strings[i]);
    s->stage = TS_STAGE_PRETRAIN;
    s->task = TS_TASK_CAPTION;
    s->n_images = s->n_turns = s->n_answers = 0;
}

void ts_sample_free(ts_sample *s) {
    ts_buf *strings[] = {&s->key, &s->source, &s->text, &s->url, &s->row, &s->license};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) ts_buf_free(strings[i]);
    for (size_t i = 0; i < s->cap_images; i++) ts_buf_free(&s->images[i].bytes);
    for (size_t i = 0; i < s->cap_turns; i++) ts_buf_free(&s->turns[i].content);
    for (size_t i = 0; i < s->cap_answers; i++) ts_buf_free(&s->answers[i].text);
    free(s->images);
    free(s->turns);
    free(s->answers);
    memset(s, 0, sizeof *s);
}

const char *ts_sample_str(const ts_buf *field) {
    return field->data && field->len ? (const char *)field->data : "";
}

ts_status ts_sample_set(ts_buf *field, const char *s, size_t n, ts_error *err) {
    ts_buf_reset(field);
    ts_status st = ts_buf_reserve(field, n + 1, err);
    if (st) return st;
    if (n) memcpy(field->data, s, n);
    field->data[n] = 0;
    field->len = n;
    return TS_OK;
}

ts_status ts_sample_set_cstr(ts_buf *field, const char *s, ts_error *err) {
    return ts_sample_set(field, s, strlen(s), err);
}

/* Grow an array of `size`-byte slots to hold one more; new slots are zeroed
 * so their ts_buf members start empty. */
static ts_status grow(void **arr, size_t *cap, size_t used, size_t size, ts_error *err) {
    if (used < *cap) return TS_OK;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, ncap * size);
    if (!p) return ts_fail(err, TS_ENOMEM, "out of memory growing a sample record");
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *arr = p;
    *cap = ncap;
    return TS_OK;
}

ts_status ts_sample_add_image_known(ts_sample *s, ts_image_format format, uint32_t width,
                                    uint32_t height, ts_hash128 xxh3, const void *bytes, size_t n,
                                    ts_error *err) {
    if (format == TS_FMT_UNKNOWN) return ts_fail(err, TS_EFORMAT, "image %zu: unknown media type", s->n_images);
    if (!ts_hash128_equal(ts_xxh3_128(bytes, n), xxh3))
        return ts_fail(err, TS_ECHECKSUM, "image %zu: xxh3-128 does not match its bytes", s->n_images);
    ts_status st = grow((void **)&s->images, &s->cap_images, s->n_images, sizeof *s->images, err);
    if (st) return st;
    ts_sample_image *im = &s->images[s->n_images];
    ts_buf_reset(&im->bytes);
    if ((st = ts_buf_append(&im->bytes, bytes, n, err))) return st;
    im->format = format;
    im->width = width;
    im->height = height;
    im->xxh3 = xxh3;
    s->n_images++;
    return TS_OK;
}

ts_status ts_sample_add_image(ts_sample *s, const void *bytes, size_t n, ts_error *err) {
    ts_decode_info info;
    ts_status st = ts_probe_image(bytes, n, &info, err);
    if (st) return ts_error_context(err, "image %zu", s->n_images);
    if (info.width <= 0 || info.height <= 0)
        return ts_fail(err, TS_EFORMAT, "image %zu: zero size in header", s->n_images);
    return ts_sample_add_image_known(s, info.format, (uint32_t)info.width, (uint32_t)info.height,
                                     ts_xxh3_128(bytes, n), bytes, n, err);
}

ts_status ts_sample_take_image(ts_sample *s, ts_buf *bytes, ts_error *err) {
    ts_decode_info info;
    ts_status st = ts_probe_image(bytes->data, bytes->len, &info, err);
    if (st) return ts_error_context(err, "image %zu", s->n_images);
    if (info.width <= 0 || info.height <= 0)
        return ts_fail(err, TS_EFORMAT, "image %zu: zero size in header", s->n_images);
    if ((st = grow((void **)&s->images, &s->cap_images, s->n_images, sizeof *s->images, err))) return st;
    ts_sample_image *im = &s->images[s->n_images++];
    ts_buf_free(&im->bytes);
    im->bytes = *bytes;
    *bytes = (ts_buf)TS_BUF_INIT;
    im->format = info.format;
    im->width = (uint32_t)info.width;
    im->height = (uint32_t)info.height;
    im->xxh3 = ts_xxh3_128(im->bytes.data, im->bytes.len);
    return TS_OK;
}

ts_status ts_sample_add_turn(ts_sample *s, ts_sample_role role, const char *content, size_t n,
                             ts_error *err) {
    ts_status st = grow((void **)&s->turns, &s->cap_turns, s->n_turns, sizeof *s->turns, err);
    if (st) return st;
    ts_sample_turn *t = &s->turns[s->n_turns];
    if ((st = ts_sample_set(&t->content, content, n, err))) return st;
    t->role = role;
    s->n_turns++;
    return TS_OK;
}

ts_status ts_sample_add_answer(ts_sample *s, const char *text, size_t n, double weight,
                               ts_error *err) {
    ts_status st = grow((void **)&s->answers, &s->cap_answers, s->n_answers, sizeof *s->answers, err);
    if (st) return st;
    ts_sample_answer *a = &s->answers[s->n_answers];
    if ((st = ts_sample_set(&a->text, text, n, err))) return st;
    a->weight = weight;
    s->n_answers++;
    return TS_OK;
}

ts_status ts_sample_check_key(const char *key, size_t n, ts_error *err) {
    if (n == 0) return ts_fail(err, TS_EINVAL, "empty key");
    if (n > TS_SAMPLE_KEY_MAX)
        return ts_fail(err, TS_EINVAL, "key is %zu bytes (at most %d)", n, TS_SAMPLE_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        if (!ok)
            return ts_fail(err, TS_EINVAL, "key \"%.*s\": byte 0x%02x at %zu is not [A-Za-z0-9_-]",
                           (int)n, key, (unsigned char)c, i);
    }
    if (n >= 4 && key[0] == '_' && key[1] == '_' && key[n - 1] == '_' && key[n - 2] == '_')
        return ts_fail(err, TS_EINVAL, "key \"%.*s\": __name__ keys are skipped by Energon", (int)n, key);
    return TS_OK;
}

static ts_status check_string(const ts_buf *b, const char *what, ts_error *err) {
    if (b->len && !ts_utf8_valid((const char *)b->data, b->len))
        return ts_fail(err, TS_EFORMAT, "%s is not valid UTF-8 (or holds a NUL byte)", what);
    return TS_OK;
}

static ts_status check_fields(const ts_sample *s, ts_error *err) {
    ts_status st = ts_sample_check_key(ts_sample_str(&s->key), s->key.len, err);
    if (st) return st;
    if (s->source.len == 0) return ts_fail(err, TS_EINVAL, "no source name");
    if ((unsigned)s->stage >= TS_STAGE_COUNT) return ts_fail(err, TS_EINVAL, "stage out of range");
    if ((unsigned)s->task >= TS_TASK_COUNT) return ts_fail(err, TS_EINVAL, "task out of range");
    const ts_buf *strings[] = {&s->source, &s->text, &s->url, &s->row, &s->license};
    const char *names[] = {"source", "text", "url", "row", "license"};
    for (size_t i = 0; i < 5; i++)
        if ((st = check_string(strings[i], names[i], err))) return st;
    for (size_t i = 0; i < s->n_images; i++) {
        const ts_sample_image *im = &s->images[i];
        if (!ts_format_mime(im->format)) return ts_fail(err, TS_EINVAL, "image %zu: unknown media type", i);
        if (im->width == 0 || im->height == 0) return ts_fail(err, TS_EINVAL, "image %zu: zero size", i);
        if (im->bytes.len == 0) return ts_fail(err, TS_EINVAL, "image %zu: no bytes", i);
        if (!ts_hash128_equal(ts_xxh3_128(im->bytes.data, im->bytes.len), im->xxh3))
            return ts_fail(err, TS_ECHECKSUM, "image %zu: xxh3-128 does not match its bytes", i);
    }
    for (size_t i = 0; i < s->n_turns; i++) {
        if ((unsigned)s->turns[i].role >= TS_ROLE_COUNT) return ts_fail(err, TS_EINVAL, "turn %zu: role out of range", i);
        if ((st = check_string(&s->turns[i].content, "turn content", err)))
            return ts_error_context(err, "turn %zu", i);
    }
    for (size_t i = 0; i < s->n_answers; i++) {
        double w = s->answers[i].weight;
        if (!isfinite(w) || w < 0) return ts_fail(err, TS_EINVAL, "answer %zu: weight %g is not finite and >= 0", i, w);
        if ((st = check_string(&s->answers[i].text, "answer", err))) return ts_error_context(err, "answer %zu", i);
    }
    return TS_OK;
}

static int has_role(const ts_sample *s, ts_sample_role role) {
    for (size_t i = 0; i < s->n_turns; i++)
        if (s->turns[i].role == role) return 1;
    return 0;
}

static ts_status check_task(const ts_sample *s, ts_error *err) {
    const char *task = ts_sample_task_name(s->task);
    switch (s->task) {
    case TS_TASK_CAPTION:
    case TS_TASK_OCR:
        if (s->n_images == 0) return ts_fail(err, TS_EINVAL, "%s record without an image", task);
        if (s->text.len == 0) return ts_fail(err, TS_EINVAL, "%s record without text", task);
        break;
    case TS_TASK_VQA:
        if (s->n_images == 0) return ts_fail(err, TS_EINVAL, "vqa record without an image");
        if (!has_role(s, TS_ROLE_USER)) return ts_fail(err, TS_EINVAL, "vqa record without a user turn (the question)");
        if (s->n_answers == 0 && !has_role(s, TS_ROLE_ASSISTANT))
            return ts_fail(err, TS_EINVAL, "vqa record without answers");
        break;
    case TS_TASK_MULTI_TURN:
        if (s->n_turns == 0) return ts_fail(err, TS_EINVAL, "multi_turn record without turns");
        break;
    case TS_TASK_TEXT:
        if (s->n_turns == 0 && s->text.len == 0) return ts_fail(err, TS_EINVAL, "text record without turns or text");
        break;
    case TS_TASK_COUNT: break;
    }
    return TS_OK;
}

ts_status ts_sample_check(const ts_sample *s, ts_error *err) {
    ts_status st = check_fields(s, err);
    if (!st) st = check_task(s, err);
    if (st && s->key.len) ts_error_context(err, "record %.*s", (int)(s->key.len > 100 ? 100 : s->key.len), (const char *)s->key.data);
    return st;
}

static const char *const stage_names[] = {"pretrain", "sft", "text"};
static const char *const task_names[] = {"caption", "vqa", "multi_turn", "ocr", "text"};
static const char *const role_names[] = {"system", "user", "assistant"};

const char *ts_sample_stage_name(ts_sample_stage v) {
    return (unsigned)v < TS_STAGE_COUNT ? stage_names[v] : "?";
}
const char *ts_sample_task_name(ts_sample_task v) {
    return (unsigned)v < TS_TASK_COUNT ? task_names[v] : "?";
}
const char *ts_sample_role_name(ts_sample_role v) {
    return (unsigned)v < TS_ROLE_COUNT ? role_names[v] : "?";
}

static int parse_name(const char *name, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (name && !strcmp(name, names[i])) return i;
    return -1;
}

int ts_sample_stage_parse(const char *name, ts_sample_stage *out) {
    int i = parse_name(name, stage_names, TS_STAGE_COUNT);
    if (i < 0) return -1;
    *out = (ts_sample_stage)i;
    return 0;
}
int ts_sample_task_parse(const char *name, ts_sample_task *out) {
    int i = parse_name(name, task_names, TS_TASK_COUNT);
    if (i < 0) return -1;
    *out = (ts_sample_task)i;
    return 0;
}
int ts_sample_role_parse(const char *name, ts_sample_role *out) {
    int i = parse_name(name, role_names, TS_ROLE_COUNT);
    if (i < 0) return -1;
    *out = (ts_sample_role)i;
    return 0;
}

int ts_media_type_parse(const char *mime, ts_image_format *out) {
    static const ts_image_format all[] = {TS_FMT_JPEG, TS_FMT_PNG, TS_FMT_WEBP, TS_FMT_GIF};
    for (size_t i = 0; i < 4; i++)
        if (mime && !strcmp(mime, ts_format_mime(all[i]))) {
            *out = all[i];
            return 0;
        }
    return -1;
}

const char *ts_image_extension(ts_image_format f) {
    switch (f) {
    case TS_FMT_JPEG: return "jpg";
    case TS_FMT_PNG: return "png";
    case TS_FMT_WEBP: return "webp";
    case TS_FMT_GIF: return "gif";
    case TS_FMT_UNKNOWN: break;
    }
    return NULL;
}

size_t ts_count_image_markers(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i + 7 <= n; i++) {
        if (memcmp(s + i, "<image", 6) != 0) continue;
        size_t j = i + 6;
        if (s[j] == '>') {
            count++;
            i = j;
            continue;
        }
        if (s[j] != '-') continue;
        size_t k = j + 1;
        while (k < n && s[k] >= '0' && s[k] <= '9') k++;
        if (k > j + 1 && k < n && s[k] == '>') {
            count++;
            i = k;
        }
    }
    return count;
}
