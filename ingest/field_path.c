/* Field paths and templates: see field_path.h. */
#include "ingest/field_path.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct step {
    ts_fstep_kind kind;
    char *name;   /* TS_FSTEP_MEMBER */
    size_t index; /* TS_FSTEP_INDEX */
} step;

struct ts_fpath {
    char *text;
    step *steps;
    size_t n;
    int fans_out;
};

void ts_fpath_free(ts_fpath *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->steps[i].name);
    free(p->steps);
    free(p->text);
    free(p);
}

const char *ts_fpath_text(const ts_fpath *p) { return p->text; }
int ts_fpath_fans_out(const ts_fpath *p) { return p->fans_out; }
size_t ts_fpath_len(const ts_fpath *p) { return p->n; }

ts_fstep_kind ts_fpath_step(const ts_fpath *p, size_t k, const char **name, size_t *index) {
    if (name) *name = p->steps[k].name;
    if (index) *index = p->steps[k].index;
    return p->steps[k].kind;
}

static ts_status push_step(ts_fpath *p, step s, ts_error *err) {
    step *grown = realloc(p->steps, (p->n + 1) * sizeof *grown);
    if (!grown) {
        free(s.name);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    p->steps = grown;
    p->steps[p->n++] = s;
    return TS_OK;
}

static ts_status parse_steps(ts_fpath *p, const char *t, ts_error *err) {
    size_t i = 0, len = strlen(t);
    if (!len) return ts_fail(err, TS_EINVAL, "empty field path");
    while (i < len) {
        if (t[i] == '[') {
            size_t j = i + 1;
            step s = {TS_FSTEP_INDEX, NULL, 0};
            if (t[j] == '*') {
                s.kind = TS_FSTEP_ALL;
                j++;
                p->fans_out = 1;
            } else {
                if (t[j] < '0' || t[j] > '9')
                    return ts_fail(err, TS_EINVAL, "field path '%s': expected a number or * after '[' at %zu", t, i);
                while (t[j] >= '0' && t[j] <= '9') {
                    if (s.index > (SIZE_MAX - 9) / 10)
                        return ts_fail(err, TS_EINVAL, "field path '%s': index too large", t);
                    s.index = s.index * 10 + (size_t)(t[j++] - '0');
                }
            }
            if (t[j] != ']') return ts_fail(err, TS_EINVAL, "field path '%s': expected ']' at %zu", t, j);
            i = j + 1;
            ts_status st = push_step(p, s, err);
            if (st) return st;
            if (i < len && t[i] != '[' && t[i] != '.')
                return ts_fail(err, TS_EINVAL, "field path '%s': expected '.' or '[' at %zu", t, i);
            if (i < len && t[i] == '.') {
                i++;
                if (i == len) return ts_fail(err, TS_EINVAL, "field path '%s' ends with '.'", t);
            }
            continue;
        }
        size_t j = i;
        while (j < len && t[j] != '.' && t[j] != '[' && t[j] != ']' && t[j] != '{' && t[j] != '}') j++;
        if (j == i || (j < len && (t[j] == ']' || t[j] == '{' || t[j] == '}')))
            return ts_fail(err, TS_EINVAL, "field path '%s': unexpected '%c' at %zu", t, j < len ? t[j] : '.', j);
        step s = {TS_FSTEP_MEMBER, strndup(t + i, j - i), 0};
        if (!s.name) return ts_fail(err, TS_ENOMEM, "out of memory");
        ts_status st = push_step(p, s, err);
        if (st) return st;
        i = j;
        if (i < len && t[i] == '.') {
            i++;
            if (i == len) return ts_fail(err, TS_EINVAL, "field path '%s' ends with '.'", t);
        }
    }
    return TS_OK;
}

ts_status ts_fpath_parse(const char *text, ts_fpath **out, ts_error *err) {
    *out = NULL;
    ts_fpath *p = calloc(1, sizeof *p);
    if (!p || !(p->text = strdup(text))) {
        free(p);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    ts_status st = parse_steps(p, text, err);
    if (st) {
        ts_fpath_free(p);
        return st;
    }
    *out = p;
    return TS_OK;
}

void ts_fvals_free(ts_fvals *vals) {
    free(vals->v);
    vals->v = NULL;
    vals->n = vals->cap = 0;
}

static ts_status push_val(ts_fvals *vals, const cJSON *v, ts_error *err) {
    if (vals->n == vals->cap) {
        size_t cap = vals->cap ? vals->cap * 2 : 8;
        const cJSON **grown = realloc(vals->v, cap * sizeof *grown);
        if (!grown) return ts_fail(err, TS_ENOMEM, "out of memory");
        vals->v = grown;
        vals->cap = cap;
    }
    vals->v[vals->n++] = v;
    return TS_OK;
}

static ts_status walk(const ts_fpath *p, size_t k, const cJSON *node, ts_fvals *vals, ts_error *err) {
    if (k == p->n) return push_val(vals, node, err);
    const step *s = &p->steps[k];
    if (s->kind == TS_FSTEP_MEMBER) {
        if (!cJSON_IsObject(node)) return TS_OK;
        const cJSON *child = cJSON_GetObjectItemCaseSensitive(node, s->name);
        return child ? walk(p, k + 1, child, vals, err) : TS_OK;
    }
    if (!cJSON_IsArray(node)) return TS_OK;
    if (s->kind == TS_FSTEP_INDEX) {
        size_t i = 0;
        for (const cJSON *c = node->child; c; c = c->next, i++)
            if (i == s->index) return walk(p, k + 1, c, vals, err);
        return TS_OK;
    }
    for (const cJSON *c = node->child; c; c = c->next) {
        ts_status st = walk(p, k + 1, c, vals, err);
        if (st) return st;
    }
    return TS_OK;
}

ts_status ts_fpath_eval(const ts_fpath *p, const cJSON *root, ts_fvals *vals, ts_error *err) {
    vals->n = 0;
    return walk(p, 0, root, vals, err);
}

const cJSON *ts_fpath_get(const ts_fpath *p, const cJSON *root) {
    const cJSON *node = root;
    for (size_t k = 0; node && k < p->n; k++) {
        const step *s = &p->steps[k];
        if (s->kind == TS_FSTEP_MEMBER) {
            node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, s->name) : NULL;
        } else if (s->kind == TS_FSTEP_INDEX && cJSON_IsArray(node)) {
            size_t i = 0;
            const cJSON *c = node->child;
            while (c && i < s->index) c = c->next, i++;
            node = c;
        } else {
            node = NULL;
        }
    }
    return node;
}

static int integral(const cJSON *v, long long *out) {
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0) return 0;
    *out = (long long)d;
    return 1;
}

int ts_json_scalar_text(const cJSON *v, ts_buf *out, ts_error *err) {
    long long i;
    if (cJSON_IsString(v)) return ts_buf_append(out, v->valuestring, strlen(v->valuestring), err) ? -1 : 0;
    if (cJSON_IsBool(v)) return ts_buf_printf(out, err, "%s", cJSON_IsTrue(v) ? "true" : "false") ? -1 : 0;
    if (cJSON_IsNumber(v)) {
        if (integral(v, &i)) return ts_buf_printf(out, err, "%lld", i) ? -1 : 0;
        return ts_buf_printf(out, err, "%.17g", v->valuedouble) ? -1 : 0;
    }
    return -1;
}

/* ---- templates ---- */

typedef struct tpart {
    char *literal;    /* literal text, or NULL for a field */
    ts_fpath *field;
    int width;        /* :0Nd width, 0 for none */
} tpart;

struct ts_ftemplate {
    tpart *parts;
    size_t n;
};

void ts_ftemplate_free(ts_ftemplate *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->parts[i].literal);
        ts_fpath_free(t->parts[i].field);
    }
    free(t->parts);
    free(t);
}

static ts_status push_part(ts_ftemplate *t, tpart p, ts_error *err) {
    tpart *grown = realloc(t->parts, (t->n + 1) * sizeof *grown);
    if (!grown) {
        free(p.literal);
        ts_fpath_free(p.field);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    t->parts = grown;
    t->parts[t->n++] = p;
    return TS_OK;
}

static ts_status parse_template(ts_ftemplate *t, const char *text, ts_error *err) {
    const char *s = text;
    while (*s) {
        const char *open = strchr(s, '{');
        const char *close = strchr(s, '}');
        if (close && (!open || close < open))
            return ts_fail(err, TS_EINVAL, "template '%s': '}' without '{'", text);
        size_t lit = open ? (size_t)(open - s) : strlen(s);
        if (lit) {
            tpart p = {strndup(s, lit), NULL, 0};
            if (!p.literal) return ts_fail(err, TS_ENOMEM, "out of memory");
            ts_status st = push_part(t, p, err);
            if (st) return st;
        }
        if (!open) break;
        close = strchr(open, '}');
        if (!close) return ts_fail(err, TS_EINVAL, "template '%s': '{' not closed", text);
        char *inner = strndup(open + 1, (size_t)(close - open - 1));
        if (!inner) return ts_fail(err, TS_ENOMEM, "out of memory");
        tpart p = {NULL, NULL, 0};
        char *colon = strchr(inner, ':');
        if (colon) {
            *colon = 0;
            const char *f = colon + 1;
            char *end = NULL;
            long w = f[0] == '0' ? strtol(f + 1, &end, 10) : -1;
            if (w < 1 || w > 40 || !end || strcmp(end, "d") != 0) {
                ts_fail(err, TS_EINVAL, "template '%s': format ':%s' is not :0Nd", text, f);
                free(inner);
                return TS_EINVAL;
            }
            p.width = (int)w;
        }
        ts_status st = ts_fpath_parse(inner, &p.field, err);
        if (!st && ts_fpath_fans_out(p.field))
            st = ts_fail(err, TS_EINVAL, "template '%s': field '%s' must not hold [*]", text, inner);
        free(inner);
        if (st) {
            ts_fpath_free(p.field);
            return ts_error_context(err, "template '%s': ", text);
        }
        if ((st = push_part(t, p, err))) return st;
        s = close + 1;
    }
    return TS_OK;
}

ts_status ts_ftemplate_parse(const char *text, ts_ftemplate **out, ts_error *err) {
    *out = NULL;
    ts_ftemplate *t = calloc(1, sizeof *t);
    if (!t) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = parse_template(t, text, err);
    if (st) {
        ts_ftemplate_free(t);
        return st;
    }
    *out = t;
    return TS_OK;
}

size_t ts_ftemplate_nfields(const ts_ftemplate *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) n += t->parts[i].field != NULL;
    return n;
}

const ts_fpath *ts_ftemplate_field(const ts_ftemplate *t, size_t i) {
    for (size_t k = 0; k < t->n; k++)
        if (t->parts[k].field && i-- == 0) return t->parts[k].field;
    return NULL;
}

ts_status ts_ftemplate_render(const ts_ftemplate *t, const cJSON *root, ts_buf *out, ts_error *err) {
    ts_buf_reset(out);
    for (size_t i = 0; i < t->n; i++) {
        const tpart *p = &t->parts[i];
        ts_status st;
        if (p->literal) {
            st = ts_buf_append(out, p->literal, strlen(p->literal), err);
        } else {
            const cJSON *v = ts_fpath_get(p->field, root);
            long long n;
            if (!v || !(cJSON_IsString(v) || cJSON_IsNumber(v)))
                return ts_fail(err, TS_ENOTFOUND, "field '%s' is missing or not a string or number",
                               ts_fpath_text(p->field));
            if (p->width) {
                if (!cJSON_IsNumber(v) || !integral(v, &n) || n < 0)
                    return ts_fail(err, TS_ENOTFOUND, "field '%s' is not a non-negative integer",
                                   ts_fpath_text(p->field));
                st = ts_buf_printf(out, err, "%0*lld", p->width, n);
            } else {
                st = ts_json_scalar_text(v, out, err) ? TS_ENOMEM : TS_OK;
            }
        }
        if (st) return st;
    }
    if (ts_buf_append(out, "", 1, err)) return TS_ENOMEM;
    out->len--; /* NUL-terminated, not counted */
    return TS_OK;
}
