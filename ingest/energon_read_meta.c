/* The reader's view of .nv-meta: the sample class in dataset.yaml and the
 * shard lists in split.yaml, in the line-oriented form Energon's tools and
 * tessera's writer produce (not general YAML). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "energon_read_internal.h"

#define META_MAX_BYTES (64u << 20)

static ts_status read_meta(const char *dir, const char *name, ts_buf *out, ts_error *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.nv-meta/%s", dir, name) >= (int)sizeof path)
        return ts_fail(err, TS_EINVAL, "%s: path too long", dir);
    ts_status st = ts_read_file(path, META_MAX_BYTES, out, err);
    if (st) return ts_error_context(err, "%s", path);
    if (ts_buf_reserve(out, 1, err)) return err->code;
    out->data[out->len] = 0;
    return TS_OK;
}

/* Next line of `text` (NUL-terminated) from *pos: [*line, *line+*len). */
static int next_line(const char *text, size_t *pos, const char **line, size_t *len) {
    if (!text[*pos]) return 0;
    const char *s = text + *pos, *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    *pos += n + (e ? 1 : 0);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    *line = s;
    *len = n;
    return 1;
}

/* A plain or quoted scalar, trimmed, into out (NUL-terminated). */
static ts_status scalar(const char *s, size_t n, char *out, size_t cap, ts_error *err) {
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) s++, n -= 2;
    if (n == 0 || n >= cap) return ts_fail(err, TS_EFORMAT, "empty or overlong value");
    memcpy(out, s, n);
    out[n] = 0;
    return TS_OK;
}

ts_status ts_energon_meta_type(const char *dir, ts_energon_type *type, ts_error *err) {
    ts_buf b = {0};
    ts_status st = read_meta(dir, "dataset.yaml", &b, err);
    const char *line;
    size_t len, pos = 0;
    char cls[128] = "";
    while (!st && !cls[0] && next_line((const char *)b.data, &pos, &line, &len)) {
        const char *k = memmem(line, len, "__class__:", 10);
        if (k) st = scalar(k + 10, len - (size_t)(k + 10 - line), cls, sizeof cls, err);
    }
    ts_buf_free(&b);
    if (st) return ts_error_context(err, "%s/.nv-meta/dataset.yaml: __class__", dir);
    static const char *const classes[] = {"CaptioningSample", "VQASample", "OCRSample",
                                          "SimilarityInterleavedSample"};
    static const ts_energon_type types[] = {TS_ENERGON_CAPTION, TS_ENERGON_VQA, TS_ENERGON_OCR,
                                            TS_ENERGON_INTERLEAVED};
    if (!cls[0]) return ts_fail(err, TS_EFORMAT, "%s/.nv-meta/dataset.yaml: no sample_type __class__", dir);
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
        if (!strcmp(cls, classes[i])) return (*type = types[i], TS_OK);
    return ts_fail(err, TS_EUNSUPPORTED, "%s/.nv-meta/dataset.yaml: sample class %s is not read by tessera",
                   dir, cls);
}

static ts_status add_shard(ts_energon_shards *s, const char *name, int split, ts_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        ts_energon_shard_ref *p = realloc(s->v, cap * sizeof *p);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        s->v = p;
        s->cap = cap;
    }
    ts_energon_shard_ref *r = &s->v[s->n];
    if (!(r->name = strdup(name))) return ts_fail(err, TS_ENOMEM, "out of memory");
    r->split = split;
    s->n++;
    return TS_OK;
}

static int part_index(const char *name, size_t n) {
    static const char *const parts[] = {"train", "val", "test"};
    for (int i = 0; i < 3; i++)
        if (strlen(parts[i]) == n && !memcmp(name, parts[i], n)) return i;
    return -1;
}

/* A flow list "[a, b]" (or "[]") after a key. */
static ts_status flow_list(const char *s, size_t n, ts_energon_shards *out, int split, unsigned want,
                           ts_error *err) {
    if (n < 2 || s[0] != '[' || s[n - 1] != ']') return ts_fail(err, TS_EFORMAT, "expected a list");
    size_t i = 1;
    while (i < n - 1) {
        size_t j = i;
        while (j < n - 1 && s[j] != ',') j++;
        char name[1024];
        int blank = 1;
        for (size_t k = i; k < j; k++) blank &= s[k] == ' ';
        if (!blank) {
            ts_status st = scalar(s + i, j - i, name, sizeof name, err);
            if (!st && split >= 0 && (want >> split & 1)) st = add_shard(out, name, split, err);
            if (st) return st;
        }
        i = j + 1;
    }
    return TS_OK;
}

ts_status ts_energon_meta_shards(const char *dir, unsigned want, ts_energon_shards *out, ts_error *err) {
    ts_buf b = {0};
    ts_status st = read_meta(dir, "split.yaml", &b, err);
    const char *line;
    size_t len, pos = 0;
    int section = 0; /* 1 split_parts, 2 exclude */
    int split = -1;
    unsigned long lineno = 0;
    while (!st && next_line((const char *)b.data, &pos, &line, &len)) {
        lineno++;
        size_t ind = 0;
        while (ind < len && line[ind] == ' ') ind++;
        const char *t = line + ind;
        size_t tn = len - ind;
        if (tn == 0 || t[0] == '#') continue;
        if (tn >= 2 && t[0] == '-' && t[1] == ' ') {
            char name[1024];
            if ((st = scalar(t + 2, tn - 2, name, sizeof name, err))) break;
            if (section == 2) st = ts_fail(err, TS_EUNSUPPORTED, "exclude lists are not supported");
            else if (section == 1 && split >= 0 && (want >> split & 1)) st = add_shard(out, name, split, err);
            continue;
        }
        const char *colon = memchr(t, ':', tn);
        if (!colon) {
            st = ts_fail(err, TS_EFORMAT, "expected 'key:'");
            break;
        }
        const char *rest = colon + 1;
        size_t rn = tn - (size_t)(rest - t);
        while (rn && *rest == ' ') rest++, rn--;
        if (ind == 0) {
            section = (colon - t == 11 && !memcmp(t, "split_parts", 11)) ? 1
                      : (colon - t == 7 && !memcmp(t, "exclude", 7)) ? 2 : 0;
            split = -1;
            if (section == 2 && rn && !(rn == 2 && !memcmp(rest, "[]", 2)))
                st = ts_fail(err, TS_EUNSUPPORTED, "exclude lists are not supported");
            continue;
        }
        if (section != 1) continue;
        split = part_index(t, (size_t)(colon - t));
        if (rn) st = flow_list(rest, rn, out, split, want, err);
    }
    ts_buf_free(&b);
    if (st) return ts_error_context(err, "%s/.nv-meta/split.yaml: line %lu", dir, lineno);
    return TS_OK;
}

void ts_energon_shards_free(ts_energon_shards *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i].name);
    free(s->v);
    memset(s, 0, sizeof *s);
}

int ts_energon_meta_complete(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.nv-meta/.info.yaml", dir);
    if (access(path, R_OK) == 0) return 1;
    snprintf(path, sizeof path, "%s/.nv-meta/.info.json", dir);
    return access(path, R_OK) == 0;
}
