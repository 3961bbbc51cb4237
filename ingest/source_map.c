/* The declarative mapping: one raw record (JSON, joins attached) -> one
 * sample or one drop with a reason. Rules in docs/MANIFESTS.md. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/io.h"
#include "ingest/source_internal.h"
#include "ingest/zip_index.h"

/* Drop reasons ([a-z0-9_]). */
#define DROP_MISSING "missing_field"   /* a field the mapping needs is absent or null */
#define DROP_BAD_RECORD "bad_record"   /* a field has the wrong type or shape */
#define DROP_EMPTY "empty_text"        /* an empty caption, question, answer or turn */
#define DROP_BAD_ROLE "bad_role"       /* a turn's role is not in the role map */
#define DROP_BAD_KEY "bad_key"         /* a key field breaks the key rule */
#define DROP_ROUTING "routing_key"     /* a key holds llava/docvqa/pdfa/multi */
#define DROP_BAD_REF "bad_image_ref"   /* bad base64, missing file or archive member, unsafe path */
#define DROP_BAD_IMAGE "bad_image"     /* bytes that are no JPEG/PNG/WebP/GIF */
#define DROP_TOO_LARGE "image_too_large"
#define DROP_CORRUPT "corrupt_member"  /* archive member fails its CRC or inflate */
#define DROP_INVALID "invalid_record"  /* the sample fails ts_sample_check */

static ts_status drop(src_map_ctx *c, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ts_status drop(src_map_ctx *c, const char *reason, const char *fmt, ...) {
    char msg[TS_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->drop_reason = reason;
    ts_buf_reset(&c->message);
    if (ts_buf_printf(&c->message, NULL, "%s: %s", c->location, msg)) return TS_ENOMEM;
    return TS_OK;
}

void src_map_ctx_free(src_map_ctx *c) {
    ts_buf_free(&c->b1);
    ts_buf_free(&c->b2);
    ts_fvals_free(&c->vals);
    ts_fvals_free(&c->vals2);
    for (size_t i = 0; i < c->n_urls; i++) free(c->urls[i]);
    free(c->urls);
    ts_buf_free(&c->message);
}

ts_status src_field_text(const src_field *f, const cJSON *rec, ts_buf *out, ts_error *err) {
    if (f->tmpl) return ts_ftemplate_render(f->tmpl, rec, out, err);
    const cJSON *v = ts_fpath_get(f->path, rec);
    ts_buf_reset(out);
    if (!v || cJSON_IsNull(v)) return ts_fail(err, TS_ENOTFOUND, "field '%s' is missing", f->text);
    if (ts_json_scalar_text(v, out, err) != 0 || ts_buf_append(out, "", 1, err))
        return err && err->code == TS_ENOMEM ? TS_ENOMEM
                                             : ts_fail(err, TS_EFORMAT, "field '%s' is not a string or number", f->text);
    out->len--;
    return TS_OK;
}

/* A field into `out`: TS_OK, or a drop recorded (returns TS_OK with
 * c->drop_reason set; callers test it). */
static ts_status field_or_drop(src_map_ctx *c, const src_field *f, const cJSON *rec, ts_buf *out, ts_error *err) {
    ts_error e = {0};
    ts_status st = src_field_text(f, rec, out, &e);
    if (st == TS_ENOMEM) return ts_fail(err, TS_ENOMEM, "out of memory");
    if (st == TS_ENOTFOUND) return drop(c, DROP_MISSING, "%s", e.msg);
    if (st) return drop(c, DROP_BAD_RECORD, "%s", e.msg);
    return TS_OK;
}

/* Values of a path, with one array value standing for its elements. */
static ts_status list_values(const ts_fpath *p, const cJSON *rec, ts_fvals *vals, ts_error *err) {
    ts_status st = ts_fpath_eval(p, rec, vals, err);
    if (st || vals->n != 1 || !cJSON_IsArray(vals->v[0])) return st;
    const cJSON *arr = vals->v[0];
    vals->n = 0;
    for (const cJSON *e = arr->child; e; e = e->next) {
        if (vals->n == vals->cap) {
            size_t cap = vals->cap ? vals->cap * 2 : 8;
            const cJSON **g = realloc(vals->v, cap * sizeof *g);
            if (!g) return ts_fail(err, TS_ENOMEM, "out of memory");
            vals->v = g;
            vals->cap = cap;
        }
        vals->v[vals->n++] = e;
    }
    return TS_OK;
}

static int safe_relative(const char *p) {
    if (!*p || p[0] == '/') return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') return 0;
        s += n + (e != NULL);
    }
    return 1;
}

static ts_status add_image_bytes(src_map_ctx *c, ts_sample *s, const uint8_t *p, size_t n, const char *what,
                                 ts_error *err) {
    ts_error e = {0};
    ts_status st = ts_sample_add_image(s, p, n, &e);
    if (st == TS_ENOMEM) return ts_fail(err, TS_ENOMEM, "out of memory");
    if (st) return drop(c, DROP_BAD_IMAGE, "%s: %s", what, e.msg);
    return TS_OK;
}

static ts_status read_local_image(src_map_ctx *c, ts_sample *s, const char *dir, const char *rel, ts_error *err) {
    if (!safe_relative(rel)) return drop(c, DROP_BAD_REF, "image path '%s' is absolute or leaves its folder", rel);
    ts_buf_reset(&c->b2);
    if (ts_buf_printf(&c->b2, err, "%s/%s", dir, rel)) return TS_ENOMEM;
    ts_buf_reset(&c->b1);
    ts_error e = {0};
    ts_status st = ts_read_file((const char *)c->b2.data, c->src->map.max_image_bytes, &c->b1, &e);
    if (st == TS_ELIMIT) return drop(c, DROP_TOO_LARGE, "%s", e.msg);
    if (st == TS_EIO && errno == ENOENT) return drop(c, DROP_BAD_REF, "%s", e.msg);
    if (st) return ts_fail(err, st, "%s: %s", c->location, e.msg);
    return add_image_bytes(c, s, c->b1.data, c->b1.len, rel, err);
}

static ts_status member_image(src_map_ctx *c, ts_sample *s, size_t k, const char *name, ts_error *err) {
    if (c->dirs[k]) return read_local_image(c, s, c->dirs[k], name, err);
    ts_zip *z = c->zips[k];
    long i = ts_zip_find(z, name);
    if (i < 0) return drop(c, DROP_BAD_REF, "no member '%s' in archive '%s'", name, c->src->map.images[k].archive);
    ts_buf_reset(&c->b1);
    ts_error e = {0};
    ts_status st = ts_zip_read(z, (size_t)i, c->src->map.max_image_bytes, &c->b1, &e);
    if (st == TS_ELIMIT) return drop(c, DROP_TOO_LARGE, "%s", e.msg);
    if (st == TS_EFORMAT || st == TS_ECHECKSUM || st == TS_EUNSUPPORTED) return drop(c, DROP_CORRUPT, "%s", e.msg);
    if (st) return ts_fail(err, st, "%s: %s", c->location, e.msg);
    return add_image_bytes(c, s, c->b1.data, c->b1.len, name, err);
}

static ts_status push_url(src_map_ctx *c, const char *url, ts_error *err) {
    if (c->n_urls == c->cap_urls) {
        size_t cap = c->cap_urls ? c->cap_urls * 2 : 4;
        char **g = realloc(c->urls, cap * sizeof *g);
        if (!g) return ts_fail(err, TS_ENOMEM, "out of memory");
        c->urls = g;
        c->cap_urls = cap;
    }
    if (!(c->urls[c->n_urls] = strdup(url))) return ts_fail(err, TS_ENOMEM, "out of memory");
    c->n_urls++;
    return TS_OK;
}

/* One image reference (a string value) of image source k. */
static ts_status one_image(src_map_ctx *c, ts_sample *s, size_t k, const char *ref, ts_error *err) {
    const src_image *im = &c->src->map.images[k];
    switch (im->kind) {
    case IMG_BYTES:
        ts_buf_reset(&c->b1);
        if (ts_base64_decode(ref, strlen(ref), &c->b1, NULL))
            return drop(c, DROP_BAD_REF, "field '%s' is not valid base64", im->from.text);
        return add_image_bytes(c, s, c->b1.data, c->b1.len, im->from.text, err);
    case IMG_URL:
        if (!*ref) return drop(c, DROP_BAD_REF, "field '%s' is an empty URL", im->from.text);
        return push_url(c, ref, err);
    case IMG_FILE: return read_local_image(c, s, c->records_dir, ref, err);
    default: return member_image(c, s, k, ref, err);
    }
}

static ts_status map_images(src_map_ctx *c, const cJSON *rec, ts_sample *s, ts_error *err) {
    const src_mapping *m = &c->src->map;
    for (size_t k = 0; k < m->n_images && !c->drop_reason; k++) {
        const src_image *im = &m->images[k];
        ts_status st;
        if (im->from.tmpl) {
            ts_error e = {0};
            st = ts_ftemplate_render(im->from.tmpl, rec, &c->b2, &e);
            if (st == TS_ENOMEM) return ts_fail(err, st, "out of memory");
            if (st) {
                if (im->optional) continue;
                return drop(c, DROP_MISSING, "image %zu: %s", k, e.msg);
            }
            char *ref = strdup((const char *)c->b2.data);
            if (!ref) return ts_fail(err, TS_ENOMEM, "out of memory");
            st = one_image(c, s, k, ref, err);
            free(ref);
            if (st) return st;
            continue;
        }
        if ((st = list_values(im->from.path, rec, &c->vals2, err))) return st;
        size_t present = 0;
        for (size_t i = 0; i < c->vals2.n && !c->drop_reason; i++) {
            const cJSON *v = c->vals2.v[i];
            if (cJSON_IsNull(v)) continue;
            if (!cJSON_IsString(v))
                return drop(c, DROP_BAD_RECORD, "image field '%s' is not a string", im->from.text);
            present++;
            if ((st = one_image(c, s, k, v->valuestring, err))) return st;
        }
        if (!present && !im->optional && !c->drop_reason)
            return drop(c, DROP_MISSING, "image field '%s' is missing", im->from.text);
    }
    return TS_OK;
}

/* A string value as a turn or answer; non-strings and empty strings drop. */
static ts_status need_string(src_map_ctx *c, const cJSON *v, const char *what, const char **out) {
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return drop(c, DROP_MISSING, "%s is missing", what);
    if (!cJSON_IsString(v)) return drop(c, DROP_BAD_RECORD, "%s is not a string", what);
    if (!*v->valuestring) return drop(c, DROP_EMPTY, "%s is empty", what);
    *out = v->valuestring;
    return TS_OK;
}

static ts_status add_turn(src_map_ctx *c, ts_sample *s, ts_sample_role role, const cJSON *v, const char *what,
                          ts_error *err) {
    const char *text;
    ts_status st = need_string(c, v, what, &text);
    if (st || !text) return st;
    return ts_sample_add_turn(s, role, text, strlen(text), err);
}

static ts_status map_vqa(src_map_ctx *c, const cJSON *rec, ts_sample *s, ts_error *err) {
    const src_mapping *m = &c->src->map;
    ts_status st = add_turn(c, s, TS_ROLE_USER, ts_fpath_get(m->question, rec), "question", err);
    if (st || c->drop_reason) return st;
    if ((st = list_values(m->answers, rec, &c->vals, err))) return st;
    size_t n = c->vals.n;
    if (!n) return drop(c, DROP_MISSING, "answers '%s' are missing", ts_fpath_text(m->answers));
    for (size_t i = 0; i < n; i++) {
        const char *t;
        if ((st = need_string(c, c->vals.v[i], "an answer", &t)) || !t) return st;
    }
    if (m->rule == ANSWERS_COUNT) {
        /* Unique answers in order of first appearance, weight = count / total. */
        for (size_t i = 0; i < n; i++) {
            const char *t = c->vals.v[i]->valuestring;
            size_t seen = 0, count = 0;
            for (size_t j = 0; j < i && !seen; j++) seen = strcmp(c->vals.v[j]->valuestring, t) == 0;
            if (seen) continue;
            for (size_t j = i; j < n; j++) count += strcmp(c->vals.v[j]->valuestring, t) == 0;
            if ((st = ts_sample_add_answer(s, t, strlen(t), (double)count / (double)n, err))) return st;
        }
        return TS_OK;
    }
    if (m->answer_weights) {
        if ((st = list_values(m->answer_weights, rec, &c->vals2, err))) return st;
        if (c->vals2.n != n)
            return drop(c, DROP_BAD_RECORD, "%zu answers but %zu answer weights", n, c->vals2.n);
        for (size_t i = 0; i < n; i++) {
            const cJSON *w = c->vals2.v[i];
            if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble) || w->valuedouble < 0)
                return drop(c, DROP_BAD_RECORD, "answer weight %zu is not a finite number >= 0", i);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *t = c->vals.v[i]->valuestring;
        double w = m->answer_weights ? c->vals2.v[i]->valuedouble : 1.0;
        if ((st = ts_sample_add_answer(s, t, strlen(t), w, err))) return st;
    }
    return TS_OK;
}

static ts_status map_turns(src_map_ctx *c, const cJSON *rec, ts_sample *s, ts_error *err) {
    const src_turns *t = &c->src->map.turns;
    ts_status st;
    if (t->system && (st = ts_sample_add_turn(s, TS_ROLE_SYSTEM, t->system, strlen(t->system), err))) return st;
    if (t->kind == TURNS_PARALLEL) {
        if ((st = list_values(t->user, rec, &c->vals, err)) || (st = list_values(t->assistant, rec, &c->vals2, err)))
            return st;
        if (!c->vals.n || !c->vals2.n)
            return drop(c, DROP_MISSING, "'%s' or '%s' is missing", ts_fpath_text(t->user), ts_fpath_text(t->assistant));
        if (c->vals.n != c->vals2.n)
            return drop(c, DROP_BAD_RECORD, "%zu user texts but %zu assistant texts", c->vals.n, c->vals2.n);
        for (size_t i = 0; i < c->vals.n && !c->drop_reason; i++)
            if ((st = add_turn(c, s, TS_ROLE_USER, c->vals.v[i], ts_fpath_text(t->user), err)) ||
                (!c->drop_reason && (st = add_turn(c, s, TS_ROLE_ASSISTANT, c->vals2.v[i], ts_fpath_text(t->assistant), err))))
                return st;
        return TS_OK;
    }
    if ((st = list_values(t->list, rec, &c->vals, err))) return st;
    if (!c->vals.n) return drop(c, DROP_MISSING, "turns '%s' are missing or empty", ts_fpath_text(t->list));
    for (size_t i = 0; i < c->vals.n && !c->drop_reason; i++) {
        const cJSON *o = c->vals.v[i];
        if (!cJSON_IsObject(o)) return drop(c, DROP_BAD_RECORD, "turn %zu is not an object", i);
        if (t->kind == TURNS_PAIRS) {
            if ((st = add_turn(c, s, TS_ROLE_USER, cJSON_GetObjectItemCaseSensitive(o, t->user_key), t->user_key, err)) ||
                (!c->drop_reason &&
                 (st = add_turn(c, s, TS_ROLE_ASSISTANT, cJSON_GetObjectItemCaseSensitive(o, t->assistant_key),
                                t->assistant_key, err))))
                return st;
            continue;
        }
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, t->role_key);
        if (!cJSON_IsString(r)) return drop(c, DROP_BAD_RECORD, "turn %zu has no string '%s'", i, t->role_key);
        size_t k = 0;
        while (k < t->n_roles && strcmp(t->roles[k].from, r->valuestring) != 0) k++;
        if (k == t->n_roles) return drop(c, DROP_BAD_ROLE, "turn %zu: role '%s' is not mapped", i, r->valuestring);
        if ((st = add_turn(c, s, t->roles[k].to, cJSON_GetObjectItemCaseSensitive(o, t->content_key), t->content_key, err)))
            return st;
    }
    return TS_OK;
}

static ts_status map_key(src_map_ctx *c, const cJSON *rec, ts_sample *s, ts_error *err) {
    static const char *const routing[] = {"llava", "docvqa", "pdfa", "multi"};
    const src_mapping *m = &c->src->map;
    ts_status st;
    if (m->key.text) {
        if ((st = field_or_drop(c, &m->key, rec, &c->b2, err)) || c->drop_reason) return st;
        ts_error e = {0};
        if (ts_sample_check_key((const char *)c->b2.data, c->b2.len, &e))
            return drop(c, DROP_BAD_KEY, "key '%.100s': %s", (const char *)c->b2.data, e.msg);
    } else {
        ts_buf_reset(&c->b2);
        if ((st = ts_buf_printf(&c->b2, err, "%010" PRIu64, c->ordinal))) return st;
    }
    for (size_t i = 0; i < 4; i++)
        if (strstr((const char *)c->b2.data, routing[i]))
            return drop(c, DROP_ROUTING, "key '%s' holds \"%s\", which routes Megatron's encoders",
                        (const char *)c->b2.data, routing[i]);
    return ts_sample_set(&s->key, (const char *)c->b2.data, c->b2.len, err);
}

/* Optional metadata field: absent leaves `fallback` (may be NULL). */
static ts_status map_meta(src_map_ctx *c, const src_field *f, const cJSON *rec, ts_buf *field, const char *fallback,
                          ts_error *err) {
    if (f->text) {
        ts_error e = {0};
        ts_status st = src_field_text(f, rec, &c->b2, &e);
        if (st == TS_ENOMEM) return ts_fail(err, st, "out of memory");
        if (!st) return ts_sample_set(field, (const char *)c->b2.data, c->b2.len, err);
    }
    return fallback ? ts_sample_set_cstr(field, fallback, err) : TS_OK;
}

static ts_status check_sample(src_map_ctx *c, ts_sample *s) {
    ts_error e = {0};
    ts_sample_task task = s->task;
    /* Images still to be downloaded are not in the sample yet: check all
     * the rest by checking it as the text record it is so far. */
    if (c->n_urls) s->task = TS_TASK_TEXT;
    ts_status st = ts_sample_check(s, &e);
    s->task = task;
    if (st == TS_ENOMEM) return st;
    if (st) return drop(c, DROP_INVALID, "%s", e.msg);
    return TS_OK;
}

ts_status src_map_record(src_map_ctx *c, const cJSON *rec, ts_sample *s, ts_error *err) {
    const ts_source *src = c->src;
    const src_mapping *m = &src->map;
    for (size_t i = 0; i < c->n_urls; i++) free(c->urls[i]);
    c->n_urls = 0;
    c->drop_reason = NULL;
    ts_buf_reset(&c->message);
    ts_sample_clear(s);
    s->stage = src->stage;
    s->task = src->task;
    ts_status st = ts_sample_set_cstr(&s->source, src->name, err);
    if (!st) st = map_key(c, rec, s, err);
    if (!st && !c->drop_reason) st = map_images(c, rec, s, err);
    if (!st && !c->drop_reason && m->text.text) {
        st = field_or_drop(c, &m->text, rec, &c->b2, err);
        if (!st && !c->drop_reason && !c->b2.len) st = drop(c, DROP_EMPTY, "text '%s' is empty", m->text.text);
        if (!st && !c->drop_reason) st = ts_sample_set(&s->text, (const char *)c->b2.data, c->b2.len, err);
    }
    if (!st && !c->drop_reason && m->question) st = map_vqa(c, rec, s, err);
    if (!st && !c->drop_reason && m->turns.kind != TURNS_NONE) st = map_turns(c, rec, s, err);
    if (!st && !c->drop_reason) st = map_meta(c, &m->url, rec, &s->url, c->n_urls ? c->urls[0] : NULL, err);
    if (!st && !c->drop_reason) {
        char row[64];
        snprintf(row, sizeof row, "%" PRIu64, c->file_index);
        ts_buf_reset(&c->b1);
        st = ts_buf_printf(&c->b1, err, "%s:%s", c->file_label, row);
        if (!st) st = map_meta(c, &m->row, rec, &s->row, (const char *)c->b1.data, err);
    }
    if (!st && !c->drop_reason) st = map_meta(c, &m->license, rec, &s->license, src->license, err);
    if (!st && !c->drop_reason) st = check_sample(c, s);
    if (st == TS_ENOMEM && err && !err->msg[0]) ts_fail(err, TS_ENOMEM, "out of memory");
    return st;
}
