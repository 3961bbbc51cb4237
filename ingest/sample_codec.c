/* Binary form of sample records: one checksummed, length-prefixed frame each.
 *
 * frame: "TSSR" | u32 version | u64 body length | body | u64 xxh3-64(frame so far)
 * body:  str key | str source | u8 stage | u8 task | u16 0 | str text | str url
 *        | str row | str license
 *        | u32 n_images  { u8 format | 3 x u8 0 | u32 width | u32 height
 *                          | u64 xxh3 hi | u64 xxh3 lo | u64 n | n bytes }
 *        | u32 n_turns   { u8 role | str content }
 *        | u32 n_answers { f64 weight | str text }
 * str = u32 length + bytes. All little-endian. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/io.h"
#include "sample.h"

/* Stable on-disk numbers, independent of the C enums' order. */
static const ts_image_format format_codes[] = {TS_FMT_UNKNOWN, TS_FMT_JPEG, TS_FMT_PNG, TS_FMT_WEBP,
                                               TS_FMT_GIF};

static uint8_t format_code(ts_image_format f) {
    for (uint8_t i = 1; i < 5; i++)
        if (format_codes[i] == f) return i;
    return 0;
}

static ts_status put_u8(ts_buf *b, uint8_t v, ts_error *err) { return ts_buf_append(b, &v, 1, err); }

static ts_status put_str(ts_buf *b, const ts_buf *s, ts_error *err) {
    if (s->len > UINT32_MAX) return ts_fail(err, TS_ELIMIT, "string of %zu bytes", s->len);
    ts_status st = ts_buf_put_u32le(b, (uint32_t)s->len, err);
    return st ? st : ts_buf_append(b, s->data, s->len, err);
}

static ts_status encode_body(const ts_sample *s, ts_buf *b, ts_error *err) {
    ts_status st = TS_OK;
#define TRY(x) \
    if ((st = (x))) return st
    TRY(put_str(b, &s->key, err));
    TRY(put_str(b, &s->source, err));
    TRY(put_u8(b, (uint8_t)s->stage, err));
    TRY(put_u8(b, (uint8_t)s->task, err));
    TRY(put_u8(b, 0, err));
    TRY(put_u8(b, 0, err));
    TRY(put_str(b, &s->text, err));
    TRY(put_str(b, &s->url, err));
    TRY(put_str(b, &s->row, err));
    TRY(put_str(b, &s->license, err));
    TRY(ts_buf_put_u32le(b, (uint32_t)s->n_images, err));
    for (size_t i = 0; i < s->n_images; i++) {
        const ts_sample_image *im = &s->images[i];
        uint8_t head[4] = {format_code(im->format), 0, 0, 0};
        TRY(ts_buf_append(b, head, 4, err));
        TRY(ts_buf_put_u32le(b, im->width, err));
        TRY(ts_buf_put_u32le(b, im->height, err));
        TRY(ts_buf_put_u64le(b, im->xxh3.hi, err));
        TRY(ts_buf_put_u64le(b, im->xxh3.lo, err));
        TRY(ts_buf_put_u64le(b, im->bytes.len, err));
        TRY(ts_buf_append(b, im->bytes.data, im->bytes.len, err));
    }
    TRY(ts_buf_put_u32le(b, (uint32_t)s->n_turns, err));
    for (size_t i = 0; i < s->n_turns; i++) {
        TRY(put_u8(b, (uint8_t)s->turns[i].role, err));
        TRY(put_str(b, &s->turns[i].content, err));
    }
    TRY(ts_buf_put_u32le(b, (uint32_t)s->n_answers, err));
    for (size_t i = 0; i < s->n_answers; i++) {
        uint64_t bits;
        memcpy(&bits, &s->answers[i].weight, 8);
        TRY(ts_buf_put_u64le(b, bits, err));
        TRY(put_str(b, &s->answers[i].text, err));
    }
#undef TRY
    return st;
}

ts_status ts_sample_encode(const ts_sample *s, ts_buf *out, ts_error *err) {
    ts_status st = ts_sample_check(s, err);
    if (st) return st;
    size_t start = out->len;
    uint8_t head[16];
    memcpy(head, TS_SAMPLE_MAGIC, 4);
    ts_put_u32le(head + 4, TS_SAMPLE_VERSION);
    ts_put_u64le(head + 8, 0);
    if ((st = ts_buf_append(out, head, 16, err)) || (st = encode_body(s, out, err))) {
        out->len = start;
        return st;
    }
    uint64_t body = out->len - start - 16;
    if (body > TS_SAMPLE_BODY_MAX) {
        out->len = start;
        return ts_fail(err, TS_ELIMIT, "record %s: %llu bytes (at most %llu)", ts_sample_str(&s->key),
                       (unsigned long long)body, (unsigned long long)TS_SAMPLE_BODY_MAX);
    }
    ts_put_u64le(out->data + start + 8, body);
    if ((st = ts_buf_put_u64le(out, ts_xxh3_64(out->data + start, out->len - start), err))) {
        out->len = start;
        return st;
    }
    return TS_OK;
}

/* Bounds-checked cursor over a body. */
typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor;

static int take(cursor *c, size_t n, const uint8_t **out) {
    if (c->left < n) return 0;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 1;
}

static int get_u32(cursor *c, uint32_t *v) {
    const uint8_t *p;
    if (!take(c, 4, &p)) return 0;
    *v = ts_get_u32le(p);
    return 1;
}

static int get_u64(cursor *c, uint64_t *v) {
    const uint8_t *p;
    if (!take(c, 8, &p)) return 0;
    *v = ts_get_u64le(p);
    return 1;
}

static int get_str(cursor *c, const char **s, size_t *n) {
    uint32_t len;
    const uint8_t *p;
    if (!get_u32(c, &len) || !take(c, len, &p)) return 0;
    *s = (const char *)p;
    *n = len;
    return 1;
}

#define SHORT(what) ts_fail(err, TS_EFORMAT, "record body ends inside %s", what)

static ts_status decode_body(cursor *c, ts_sample *s, ts_error *err) {
    const char *str;
    size_t n;
    const uint8_t *p;
    ts_status st;
    ts_buf *head_strings[] = {&s->key, &s->source};
    for (int i = 0; i < 2; i++) {
        if (!get_str(c, &str, &n)) return SHORT("the key/source");
        if ((st = ts_sample_set(head_strings[i], str, n, err))) return st;
    }
    if (!take(c, 4, &p)) return SHORT("stage/task");
    if (p[0] >= TS_STAGE_COUNT || p[1] >= TS_TASK_COUNT || p[2] || p[3])
        return ts_fail(err, TS_EFORMAT, "bad stage/task bytes %u %u", p[0], p[1]);
    s->stage = (ts_sample_stage)p[0];
    s->task = (ts_sample_task)p[1];
    ts_buf *strings[] = {&s->text, &s->url, &s->row, &s->license};
    for (int i = 0; i < 4; i++) {
        if (!get_str(c, &str, &n)) return SHORT("the text/metadata strings");
        if ((st = ts_sample_set(strings[i], str, n, err))) return st;
    }
    uint32_t count;
    if (!get_u32(c, &count)) return SHORT("the image count");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t w, h;
        uint64_t hi, lo, len;
        if (!take(c, 4, &p) || !get_u32(c, &w) || !get_u32(c, &h) || !get_u64(c, &hi) ||
            !get_u64(c, &lo) || !get_u64(c, &len))
            return SHORT("an image header");
        if (p[0] == 0 || p[0] > 4 || p[1] || p[2] || p[3])
            return ts_fail(err, TS_EFORMAT, "image %u: bad format byte %u", i, p[0]);
        const uint8_t *bytes;
        if (len > c->left || !take(c, (size_t)len, &bytes)) return SHORT("image bytes");
        ts_hash128 hash = {hi, lo};
        if ((st = ts_sample_add_image_known(s, format_codes[p[0]], w, h, hash, bytes, (size_t)len, err)))
            return st;
    }
    if (!get_u32(c, &count)) return SHORT("the turn count");
    for (uint32_t i = 0; i < count; i++) {
        if (!take(c, 1, &p) || !get_str(c, &str, &n)) return SHORT("a turn");
        if (p[0] >= TS_ROLE_COUNT) return ts_fail(err, TS_EFORMAT, "turn %u: bad role byte %u", i, p[0]);
        if ((st = ts_sample_add_turn(s, (ts_sample_role)p[0], str, n, err))) return st;
    }
    if (!get_u32(c, &count)) return SHORT("the answer count");
    for (uint32_t i = 0; i < count; i++) {
        uint64_t bits;
        if (!get_u64(c, &bits) || !get_str(c, &str, &n)) return SHORT("an answer");
        double w;
        memcpy(&w, &bits, 8);
        if ((st = ts_sample_add_answer(s, str, n, w, err))) return st;
    }
    if (c->left) return ts_fail(err, TS_EFORMAT, "%zu stray bytes after the last field", c->left);
    return TS_OK;
}

/* Validate a frame header; *body receives the body length. */
static ts_status check_head(const uint8_t *head, uint64_t *body, ts_error *err) {
    if (memcmp(head, TS_SAMPLE_MAGIC, 4) != 0) return ts_fail(err, TS_EFORMAT, "not a sample record (bad magic)");
    uint32_t version = ts_get_u32le(head + 4);
    if (version != TS_SAMPLE_VERSION)
        return ts_fail(err, TS_EUNSUPPORTED, "sample record version %u (this build reads %u)", version,
                       TS_SAMPLE_VERSION);
    *body = ts_get_u64le(head + 8);
    if (*body > TS_SAMPLE_BODY_MAX)
        return ts_fail(err, TS_EFORMAT, "record body length %llu is over the limit", (unsigned long long)*body);
    return TS_OK;
}

ts_status ts_sample_decode(const uint8_t *data, size_t len, ts_sample *s, size_t *consumed,
                           ts_error *err) {
    ts_sample_clear(s);
    *consumed = 0;
    uint64_t body;
    if (len < 16) return ts_fail(err, TS_EFORMAT, "truncated record header (%zu bytes)", len);
    ts_status st = check_head(data, &body, err);
    if (st) return st;
    if (len - 16 < body + 8)
        return ts_fail(err, TS_EFORMAT, "truncated record: %zu bytes for a %llu-byte frame", len,
                       (unsigned long long)(body + 24));
    size_t frame = 16 + (size_t)body;
    if (ts_get_u64le(data + frame) != ts_xxh3_64(data, frame))
        return ts_fail(err, TS_ECHECKSUM, "record checksum mismatch");
    cursor c = {data + 16, (size_t)body};
    if (!(st = decode_body(&c, s, err))) st = ts_sample_check(s, err);
    if (st) {
        ts_sample_clear(s);
        return st;
    }
    *consumed = frame + 8;
    return TS_OK;
}

int ts_sample_is_binary(const uint8_t *data, size_t len) {
    return len >= 4 && memcmp(data, TS_SAMPLE_MAGIC, 4) == 0;
}

struct ts_sample_reader {
    FILE *f;
    int owns;
    char *path;
    ts_buf frame;
    uint64_t index, offset;
    uint64_t size; /* file size when known (regular files), else 0 */
};

ts_status ts_sample_reader_open(ts_sample_reader **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_sample_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    }
    if (!strcmp(path, "-")) {
        r->f = stdin;
    } else {
        r->f = fopen(path, "rb");
        r->owns = 1;
    }
    if (!r->f) {
        ts_status st = ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
        free(r->path);
        free(r);
        return st;
    }
    struct stat sb;
    if (r->owns && fstat(fileno(r->f), &sb) == 0 && S_ISREG(sb.st_mode)) r->size = (uint64_t)sb.st_size;
    *out = r;
    return TS_OK;
}

ts_status ts_sample_reader_next(ts_sample_reader *r, ts_sample *s, ts_error *err) {
    ts_buf_reset(&r->frame);
    ts_status st = ts_buf_reserve(&r->frame, 16, err);
    if (st) return st;
    size_t got = fread(r->frame.data, 1, 16, r->f);
    if (got == 0 && feof(r->f)) return TS_ENOTFOUND;
    uint64_t body = 0;
    if (got < 16) st = ts_fail(err, TS_EFORMAT, "truncated record header");
    else st = check_head(r->frame.data, &body, err);
    if (!st && r->size && body + 8 > r->size - r->offset - 16)
        st = ts_fail(err, TS_EFORMAT, "truncated record: the frame claims %llu bytes past the end of the file",
                     (unsigned long long)(body + 8 - (r->size - r->offset - 16)));
    if (!st) {
        r->frame.len = 16;
        st = ts_buf_reserve(&r->frame, (size_t)body + 8, err);
    }
    if (!st) {
        got = fread(r->frame.data + 16, 1, (size_t)body + 8, r->f);
        r->frame.len += got;
        size_t consumed;
        st = ts_sample_decode(r->frame.data, r->frame.len, s, &consumed, err);
    }
    if (st) {
        if (ferror(r->f)) ts_fail_errno(err, TS_EIO, "read failed");
        return ts_error_context(err, "%s: record %llu at byte %llu", r->path, (unsigned long long)r->index,
                                (unsigned long long)r->offset);
    }
    r->index++;
    r->offset += r->frame.len;
    return TS_OK;
}

void ts_sample_reader_close(ts_sample_reader *r) {
    if (!r) return;
    if (r->owns) fclose(r->f);
    ts_buf_free(&r->frame);
    free(r->path);
    free(r);
}
