/* Energon dataset -> sample records: shards streamed with libarchive,
 * members grouped by key, each sample rebuilt by its type's member layout
 * (the inverse of energon_layout.c). */
#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/json.h"
#include "energon_read_internal.h"

#define PART_MAX 120                      /* "img12.jpeg" and friends; longer parts are refused */
#define MEMBER_MAX ((size_t)1 << 31)      /* 2 GiB, as a sample record's body */

typedef struct part {
    char name[PART_MAX + 1]; /* after "<key>." */
    ts_buf data;
} part;

struct ts_energon_reader {
    char *dir, *source;
    ts_energon_type type;
    ts_energon_shards shards;
    size_t shard;            /* index of the open (or next) shard */
    struct archive *a;       /* the open shard, or NULL */
    uint64_t in_shard;       /* samples returned from the open shard */
    int at_eof;              /* libarchive reached the shard's end */
    uint64_t ordinal;
    /* the member read past the current sample */
    char pending_key[TS_SAMPLE_KEY_MAX + 1];
    part pending;
    int have_pending;
    part *parts;             /* the current sample's members */
    size_t n_parts, cap_parts;
    int sample_error;        /* the last error concerned one sample only */
    ts_status failed;        /* sticky error */
    ts_error failed_err;
};

int ts_energon_split_parse(const char *s, unsigned *out) {
    unsigned v = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 5 && !memcmp(s, "train", 5)) v |= TS_SPLIT_TRAIN;
        else if (n == 3 && !memcmp(s, "val", 3)) v |= TS_SPLIT_VAL;
        else if (n == 4 && !memcmp(s, "test", 4)) v |= TS_SPLIT_TEST;
        else if (n == 3 && !memcmp(s, "all", 3)) v |= TS_SPLIT_ALL;
        else return -1;
        s += n + (s[n] == ',');
    }
    if (!v) return -1;
    *out = v;
    return 0;
}

ts_energon_type ts_energon_reader_type(const ts_energon_reader *r) { return r->type; }
size_t ts_energon_reader_shard_count(const ts_energon_reader *r) { return r->shards.n; }
const char *ts_energon_reader_shard(const ts_energon_reader *r, size_t i) {
    return i < r->shards.n ? r->shards.v[i].name : NULL;
}
uint64_t ts_energon_reader_ordinal(const ts_energon_reader *r) { return r->ordinal; }
int ts_energon_reader_failed(const ts_energon_reader *r) { return r->failed != TS_OK; }

static const char *base_name(const char *dir, char *out, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b && dir[b - 1] != '/') b--;
    snprintf(out, cap, "%.*s", (int)(n - b), dir + b);
    return out;
}

ts_status ts_energon_reader_open(ts_energon_reader **out, const char *dir, const ts_energon_read_options *o,
                                 ts_error *err) {
    *out = NULL;
    if (!ts_energon_meta_complete(dir))
        return ts_fail(err, TS_ENOTFOUND, "%s: not a complete Energon dataset (no .nv-meta/.info.yaml or .info.json)",
                       dir);
    ts_energon_reader *r = calloc(1, sizeof *r);
    if (!r) return ts_fail(err, TS_ENOMEM, "out of memory");
    char base[256];
    const char *source = o && o->source ? o->source : base_name(dir, base, sizeof base);
    ts_status st = TS_OK;
    if (!(r->dir = strdup(dir)) || !(r->source = strdup(source))) st = ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) st = ts_energon_meta_type(dir, &r->type, err);
    if (!st) st = ts_energon_meta_shards(dir, o && o->splits ? o->splits : TS_SPLIT_TRAIN, &r->shards, err);
    if (st) {
        ts_energon_reader_close(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

static void close_shard(ts_energon_reader *r) {
    if (r->a) archive_read_free(r->a);
    r->a = NULL;
    r->have_pending = 0;
}

void ts_energon_reader_close(ts_energon_reader *r) {
    if (!r) return;
    close_shard(r);
    for (size_t i = 0; i < r->cap_parts; i++) ts_buf_free(&r->parts[i].data);
    free(r->parts);
    ts_buf_free(&r->pending.data);
    ts_energon_shards_free(&r->shards);
    free(r->dir);
    free(r->source);
    free(r);
}

static const char *shard_name(const ts_energon_reader *r) { return r->shards.v[r->shard].name; }

static ts_status open_shard(ts_energon_reader *r, ts_error *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", r->dir, shard_name(r)) >= (int)sizeof path)
        return ts_fail(err, TS_EINVAL, "%s: path too long", shard_name(r));
    if (!(r->a = archive_read_new())) return ts_fail(err, TS_ENOMEM, "out of memory");
    archive_read_support_format_tar(r->a);
    if (archive_read_open_filename(r->a, path, 1 << 16) != ARCHIVE_OK)
        return ts_fail(err, TS_EIO, "%s: %s", path, archive_error_string(r->a));
    r->in_shard = 0;
    r->at_eof = 0;
    return TS_OK;
}

/* Samples the shard's .tar.idx announces; -1 when there is no index. */
static int64_t idx_count(const ts_energon_reader *r) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.idx", r->dir, shard_name(r));
    if (stat(path, &sb) != 0 || sb.st_size < 8) return -1;
    return (int64_t)(sb.st_size / 8) - 1;
}

/* Split "<key>.<part>" (the key ends at the first dot of the base name). */
static ts_status split_member(const char *name, char *key, char *partname, ts_error *err) {
    const char *dot = strchr(name, '.');
    if (!dot || !dot[1]) return ts_fail(err, TS_EFORMAT, "member %s: no '<key>.<part>' name", name);
    size_t kn = (size_t)(dot - name);
    if (ts_sample_check_key(name, kn, err)) return ts_error_context(err, "member %s", name);
    if (strlen(dot + 1) > PART_MAX) return ts_fail(err, TS_EFORMAT, "member %s: part name too long", name);
    memcpy(key, name, kn);
    key[kn] = 0;
    strcpy(partname, dot + 1);
    return TS_OK;
}

/* The next regular member into r->pending; *eof at the end of the shard. */
static ts_status read_member(ts_energon_reader *r, int *eof, ts_error *err) {
    struct archive_entry *e;
    *eof = r->at_eof;
    while (!r->at_eof) {
        int rc = archive_read_next_header(r->a, &e);
        if (rc == ARCHIVE_EOF) return (*eof = r->at_eof = 1, TS_OK);
        if (rc < ARCHIVE_WARN)
            return ts_fail(err, TS_EFORMAT, "after sample %llu: %s", (unsigned long long)r->in_shard,
                           archive_error_string(r->a));
        if (archive_entry_filetype(e) == AE_IFREG) break;
    }
    if (r->at_eof) return TS_OK;
    const char *name = archive_entry_pathname(e);
    if (!name) return ts_fail(err, TS_EFORMAT, "a member without a name");
    ts_status st = split_member(name, r->pending_key, r->pending.name, err);
    if (st) return st;
    int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > MEMBER_MAX)
        return ts_fail(err, TS_ELIMIT, "member %s: size %lld out of range", name, (long long)size);
    ts_buf *b = &r->pending.data;
    ts_buf_reset(b);
    if (ts_buf_reserve(b, (size_t)size + 1, err)) return err->code;
    while (b->len < (size_t)size) {
        la_ssize_t n = archive_read_data(r->a, b->data + b->len, (size_t)size - b->len);
        if (n <= 0)
            return ts_fail(err, TS_EFORMAT, "member %s: %s", name,
                           n < 0 ? archive_error_string(r->a) : "truncated data");
        b->len += (size_t)n;
    }
    b->data[b->len] = 0;
    r->have_pending = 1;
    return TS_OK;
}

/* Move the pending member into the sample's parts (buffers swapped). */
static ts_status take_pending(ts_energon_reader *r, ts_error *err) {
    if (r->n_parts == r->cap_parts) {
        size_t cap = r->cap_parts ? 2 * r->cap_parts : 8;
        part *p = realloc(r->parts, cap * sizeof *p);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        memset(p + r->cap_parts, 0, (cap - r->cap_parts) * sizeof *p);
        r->parts = p;
        r->cap_parts = cap;
    }
    part *dst = &r->parts[r->n_parts++];
    ts_buf t = dst->data;
    *dst = r->pending;
    r->pending.data = t;
    r->have_pending = 0;
    return TS_OK;
}

static const part *find_part(const ts_energon_reader *r, const char *name) {
    for (size_t i = 0; i < r->n_parts; i++)
        if (!strcmp(r->parts[i].name, name)) return &r->parts[i];
    return NULL;
}

static int is_image_part(const char *name) {
    static const char *const exts[] = {"jpg", "jpeg", "png", "webp", "gif"};
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (!strcasecmp(name, exts[i])) return 1;
    return 0;
}

static ts_status need(const ts_energon_reader *r, const ts_sample *s, const char *name, const part **out,
                      ts_error *err) {
    if ((*out = find_part(r, name))) return TS_OK;
    return ts_fail(err, TS_EFORMAT, "%s.%s: member missing", ts_sample_str(&s->key), name);
}

static ts_status add_image(ts_sample *s, const part *p, ts_error *err) {
    if (ts_sample_add_image(s, p->data.data, p->data.len, err))
        return ts_error_context(err, "%s.%s", ts_sample_str(&s->key), p->name);
    return TS_OK;
}

static ts_status single_image(const ts_energon_reader *r, ts_sample *s, ts_error *err) {
    const part *img = NULL;
    for (size_t i = 0; i < r->n_parts; i++) {
        if (!is_image_part(r->parts[i].name)) continue;
        if (img) return ts_fail(err, TS_EFORMAT, "%s: two image members (%s, %s)", ts_sample_str(&s->key),
                                img->name, r->parts[i].name);
        img = &r->parts[i];
    }
    if (!img) return ts_fail(err, TS_EFORMAT, "%s: no image member", ts_sample_str(&s->key));
    return add_image(s, img, err);
}

static ts_status parse_json(const ts_sample *s, const part *p, cJSON **out, ts_error *err) {
    if (ts_json_parse((const char *)p->data.data, p->data.len, out, err))
        return ts_error_context(err, "%s.%s", ts_sample_str(&s->key), p->name);
    if (!cJSON_IsObject(*out)) return ts_fail(err, TS_EFORMAT, "%s.%s: not a JSON object", ts_sample_str(&s->key), p->name);
    return TS_OK;
}

static ts_status json_fail(const ts_sample *s, const char *what, ts_error *err) {
    return ts_fail(err, TS_EFORMAT, "%s.json: %s", ts_sample_str(&s->key), what);
}

static ts_status build_vqa(const ts_energon_reader *r, ts_sample *s, ts_error *err) {
    const part *jp;
    cJSON *j = NULL;
    ts_status st = single_image(r, s, err);
    if (!st) st = need(r, s, "json", &jp, err);
    if (!st) st = parse_json(s, jp, &j, err);
    if (st) return (cJSON_Delete(j), st);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question");
    if (!q) q = cJSON_GetObjectItemCaseSensitive(j, "context");
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(j, "answers");
    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(j, "answer_weights");
    if (!cJSON_IsString(q)) st = json_fail(s, "no string \"question\"", err);
    else st = ts_sample_add_turn(s, TS_ROLE_USER, q->valuestring, strlen(q->valuestring), err);
    if (!st && cJSON_IsString(answers)) {
        st = ts_sample_add_answer(s, answers->valuestring, strlen(answers->valuestring), 1.0, err);
    } else if (!st && cJSON_IsArray(answers)) {
        int n = cJSON_GetArraySize(answers);
        if (weights && !cJSON_IsNull(weights) && (!cJSON_IsArray(weights) || cJSON_GetArraySize(weights) != n))
            st = json_fail(s, "\"answer_weights\" is not a list as long as \"answers\"", err);
        for (int i = 0; !st && i < n; i++) {
            const cJSON *a = cJSON_GetArrayItem(answers, i);
            const cJSON *w = cJSON_IsArray(weights) ? cJSON_GetArrayItem(weights, i) : NULL;
            if (!cJSON_IsString(a)) st = json_fail(s, "an answer is not a string", err);
            else if (w && !cJSON_IsNumber(w)) st = json_fail(s, "an answer weight is not a number", err);
            else st = ts_sample_add_answer(s, a->valuestring, strlen(a->valuestring), w ? w->valuedouble : 1.0, err);
        }
    } else if (!st) {
        st = json_fail(s, "no \"answers\"", err);
    }
    cJSON_Delete(j);
    return st;
}

static ts_status build_interleaved(const ts_energon_reader *r, ts_sample *s, ts_error *err) {
    const part *jp;
    cJSON *j = NULL;
    ts_status st = need(r, s, "json", &jp, err);
    if (!st) st = parse_json(s, jp, &j, err);
    if (st) return (cJSON_Delete(j), st);
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(j, "conversations");
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(j, "images");
    if (!cJSON_IsArray(conv)) st = json_fail(s, "no \"conversations\" list", err);
    else if (images && !cJSON_IsArray(images)) st = json_fail(s, "\"images\" is not a list", err);
    const cJSON *t, *turns = st ? NULL : conv, *names = images;
    cJSON_ArrayForEach(t, turns) {
        const char *from = ts_json_str(t, "from", NULL);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "value");
        ts_sample_role role = TS_ROLE_USER;
        if (!from || !cJSON_IsString(v)) st = json_fail(s, "a turn without string \"from\" and \"value\"", err);
        else if (!strcmp(from, "human")) role = TS_ROLE_USER;
        else if (!strcmp(from, "gpt")) role = TS_ROLE_ASSISTANT;
        else if (!strcmp(from, "system")) role = TS_ROLE_SYSTEM;
        else st = ts_fail(err, TS_EFORMAT, "%s.json: unknown turn role \"%s\"", ts_sample_str(&s->key), from);
        if (!st) st = ts_sample_add_turn(s, role, v->valuestring, strlen(v->valuestring), err);
        if (st) break;
    }
    const cJSON *im;
    if (st) names = NULL;
    cJSON_ArrayForEach(im, names) {
        const part *p;
        if (!cJSON_IsString(im)) st = json_fail(s, "an \"images\" entry is not a string", err);
        else if (!(p = find_part(r, im->valuestring)))
            st = ts_fail(err, TS_EFORMAT, "%s.json names image part %s, which the sample lacks",
                         ts_sample_str(&s->key), im->valuestring);
        else st = add_image(s, p, err);
        if (st) break;
    }
    cJSON_Delete(j);
    return st;
}

static ts_status build_sample(const ts_energon_reader *r, const char *key, ts_sample *s, ts_error *err) {
    ts_sample_clear(s);
    ts_status st = ts_sample_set_cstr(&s->key, key, err);
    if (!st) st = ts_sample_set_cstr(&s->source, r->source, err);
    if (st) return st;
    const part *txt;
    switch (r->type) {
    case TS_ENERGON_CAPTION:
    case TS_ENERGON_OCR:
        s->stage = TS_STAGE_PRETRAIN;
        s->task = r->type == TS_ENERGON_OCR ? TS_TASK_OCR : TS_TASK_CAPTION;
        if ((st = single_image(r, s, err)) || (st = need(r, s, "txt", &txt, err))) return st;
        return ts_sample_set(&s->text, (const char *)txt->data.data, txt->data.len, err);
    case TS_ENERGON_VQA:
        s->stage = TS_STAGE_SFT;
        s->task = TS_TASK_VQA;
        return build_vqa(r, s, err);
    case TS_ENERGON_INTERLEAVED:
        if ((st = build_interleaved(r, s, err))) return st;
        s->stage = s->n_images ? TS_STAGE_SFT : TS_STAGE_TEXT;
        s->task = s->n_images ? TS_TASK_MULTI_TURN : TS_TASK_TEXT;
        return TS_OK;
    case TS_ENERGON_TYPE_COUNT: break;
    }
    return ts_fail(err, TS_EINVAL, "unknown dataset type");
}

/* One sample from the open shard; *eof when the shard has no more. */
static ts_status next_in_shard(ts_energon_reader *r, ts_sample *s, int *eof, ts_error *err) {
    ts_status st = TS_OK;
    if (!r->have_pending && (st = read_member(r, eof, err))) return st;
    if (*eof) return TS_OK;
    char key[TS_SAMPLE_KEY_MAX + 1];
    strcpy(key, r->pending_key);
    r->n_parts = 0;
    int end = 0;
    while (!st && r->have_pending && !strcmp(r->pending_key, key)) {
        if (find_part(r, r->pending.name))
            return ts_fail(err, TS_EFORMAT, "member %s.%s appears twice", key, r->pending.name);
        if (!(st = take_pending(r, err)) && !end) st = read_member(r, &end, err);
    }
    if (st) return ts_error_context(err, "sample %llu (%s)", (unsigned long long)r->in_shard, key);
    st = build_sample(r, key, s, err);
    if (!st) st = ts_sample_check(s, err);
    if (st) {
        ts_error_context(err, "sample %llu", (unsigned long long)r->in_shard);
        /* its members were all read: the reader can go on past it */
        r->sample_error = st != TS_ENOMEM;
    }
    r->in_shard++;
    return st;
}

ts_status ts_energon_reader_next(ts_energon_reader *r, ts_sample *s, ts_error *err) {
    if (r->failed) {
        if (err) *err = r->failed_err;
        return r->failed;
    }
    ts_status st = TS_OK;
    r->sample_error = 0;
    while (r->shard < r->shards.n) {
        int eof = 0;
        if (!r->a && (st = open_shard(r, err))) break;
        if ((st = next_in_shard(r, s, &eof, err))) {
            if (!r->sample_error) break;
            r->ordinal++;
            return ts_error_context(err, "%s", shard_name(r));
        }
        if (!eof) {
            r->ordinal++;
            return TS_OK;
        }
        int64_t expect = idx_count(r);
        if (expect >= 0 && (uint64_t)expect != r->in_shard) {
            st = ts_fail(err, TS_EFORMAT, "%llu samples, but its .tar.idx lists %lld",
                         (unsigned long long)r->in_shard, (long long)expect);
            break;
        }
        close_shard(r);
        r->shard++;
    }
    if (!st) return ts_fail(err, TS_ENOTFOUND, "end of dataset");
    ts_error_context(err, "%s", shard_name(r));
    close_shard(r);
    r->failed = st;
    if (err) r->failed_err = *err;
    return st;
}
