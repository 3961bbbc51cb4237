/* Recipe loading and validation (schema: docs/MIXING.md). */
#include "recipe.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"

#define RECIPE_MAX_BYTES (16u << 20)
#define MAX_EXACT_INT 9007199254740991.0 /* 2^53 - 1: larger JSON integers lose digits in a double */

/* Fail naming the recipe file and the JSON path. */
static ts_status bad(ts_error *err, const char *file, const char *jpath, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ts_status bad(ts_error *err, const char *file, const char *jpath, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ts_fail(err, TS_EINVAL, "%s: %s: %s", file, jpath, msg);
}

/* Reject keys not in `allowed` (NULL-terminated). */
static ts_status only_keys(const cJSON *obj, const char *const *allowed, const char *file, const char *jpath,
                           ts_error *err) {
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(*a, c->string);
        if (!ok) return bad(err, file, jpath, "unknown key \"%s\"", c->string);
    }
    return TS_OK;
}

static int is_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > TS_MIX_NAME_MAX) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

/* A whole number in [min, 2^53). */
static ts_status get_uint(const cJSON *v, double min, const char *file, const char *jpath, uint64_t *out,
                          ts_error *err) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > MAX_EXACT_INT)
        return bad(err, file, jpath, "must be a whole number in [%.0f, 2^53)", min);
    *out = (uint64_t)v->valuedouble;
    return TS_OK;
}

static ts_status get_str(const cJSON *v, const char *file, const char *jpath, char **out, ts_error *err) {
    if (!cJSON_IsString(v) || !*v->valuestring) return bad(err, file, jpath, "must be a non-empty string");
    if (!(*out = strdup(v->valuestring))) return ts_fail(err, TS_ENOMEM, "out of memory");
    return TS_OK;
}

/* A relative path without "." / ".." tricks beyond going up: no leading '/'
 * and no empty components. */
static int is_relative_path(const char *s) {
    if (!*s || *s == '/' || strstr(s, "//") || s[strlen(s) - 1] == '/') return 0;
    return 1;
}

static char *join_dir(const char *file, const char *rel) {
    const char *slash = strrchr(file, '/');
    size_t dl = slash ? (size_t)(slash - file) + 1 : 0;
    char *p = malloc(dl + strlen(rel) + 1);
    if (!p) return NULL;
    memcpy(p, file, dl);
    strcpy(p + dl, rel);
    return p;
}

static ts_status parse_amount(const cJSON *obj, const char *file, const char *jpath, int allow_weight,
                              ts_mix_amount *kind, double *weight, uint64_t *units, uint64_t *target,
                              ts_error *err) {
    static const char *const keys[] = {"weight", "samples", "tokens"};
    char at[256];
    *kind = TS_MIX_NONE;
    for (int k = allow_weight ? 0 : 1; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[k]);
        if (!v) continue;
        snprintf(at, sizeof at, "%s.%s", jpath, keys[k]);
        if (*kind != TS_MIX_NONE) return bad(err, file, jpath, "give only one of weight, samples, tokens");
        if (k == 0) {
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > 0) || v->valuedouble > 1e9)
                return bad(err, file, at, "must be a number > 0 (and <= 1e9)");
            *weight = v->valuedouble;
            *units = (uint64_t)llround(v->valuedouble * TS_MIX_WEIGHT_SCALE);
            if (!*units) return bad(err, file, at, "must be at least 1e-9");
            *kind = TS_MIX_WEIGHT;
        } else {
            ts_status st = get_uint(v, 1, file, at, target, err);
            if (st) return st;
            *kind = k == 1 ? TS_MIX_SAMPLES : TS_MIX_TOKENS;
        }
    }
    if (*kind == TS_MIX_NONE)
        return bad(err, file, jpath, allow_weight ? "needs one of weight, samples, tokens" : "needs samples or tokens");
    return TS_OK;
}

static ts_status parse_source(const cJSON *o, const char *file, size_t i, ts_recipe_source *s, ts_error *err) {
    static const char *const keys[] = {"name",  "manifest", "weight", "samples", "tokens", "max_epochs",
                                       "subflavors", "split", "energon", "note", NULL};
    char jp[64], at[128];
    snprintf(jp, sizeof jp, "$.sources[%zu]", i);
    if (!cJSON_IsObject(o)) return bad(err, file, jp, "must be an object");
    ts_status st = only_keys(o, keys, file, jp, err);
    if (st) return st;
    snprintf(at, sizeof at, "%s.name", jp);
    if ((st = get_str(cJSON_GetObjectItemCaseSensitive(o, "name"), file, at, &s->name, err))) return st;
    if (!is_name(s->name)) return bad(err, file, at, "must match [A-Za-z0-9_-]{1,63}");
    snprintf(at, sizeof at, "%s.manifest", jp);
    if ((st = get_str(cJSON_GetObjectItemCaseSensitive(o, "manifest"), file, at, &s->manifest, err))) return st;
    if (!is_relative_path(s->manifest)) return bad(err, file, at, "must be a relative path (to the recipe's folder)");
    if (!(s->manifest_path = join_dir(file, s->manifest))) return ts_fail(err, TS_ENOMEM, "out of memory");
    if ((st = parse_amount(o, file, jp, 1, &s->amount, &s->weight, &s->weight_units, &s->target, err))) return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "max_epochs");
    if (v) {
        uint64_t m;
        snprintf(at, sizeof at, "%s.max_epochs", jp);
        if ((st = get_uint(v, 1, file, at, &m, err))) return st;
        if (m > UINT32_MAX) return bad(err, file, at, "must be < 2^32");
        s->max_epochs = (uint32_t)m;
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "subflavors");
    if (v && !cJSON_IsObject(v)) return bad(err, file, jp, "subflavors must be an object");
    s->subflavors = v;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "split"))) {
        snprintf(at, sizeof at, "%s.split", jp);
        if ((st = get_str(v, file, at, &s->split, err))) return st;
        if (!is_name(s->split)) return bad(err, file, at, "must match [A-Za-z0-9_-]{1,63}");
    } else if (!(s->split = strdup("train"))) return ts_fail(err, TS_ENOMEM, "out of memory");
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "energon"))) {
        snprintf(at, sizeof at, "%s.energon", jp);
        if ((st = get_str(v, file, at, &s->energon, err))) return st;
        if (!is_relative_path(s->energon)) return bad(err, file, at, "must be a relative path");
    } else if (!(s->energon = strdup(s->name))) return ts_fail(err, TS_ENOMEM, "out of memory");
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "note")) && !cJSON_IsString(v))
        return bad(err, file, jp, "note must be a string");
    return TS_OK;
}

static ts_status parse_output(const cJSON *o, const char *file, ts_recipe *r, ts_error *err) {
    static const char *const keys[] = {"max_len", "layout", "form", "tokenizer", NULL};
    if (!cJSON_IsObject(o)) return bad(err, file, "$.output", "must be an object");
    ts_status st = only_keys(o, keys, file, "$.output", err);
    const cJSON *v;
    if (!st && (v = cJSON_GetObjectItemCaseSensitive(o, "max_len"))) {
        uint64_t m;
        if ((st = get_uint(v, 1, file, "$.output.max_len", &m, err))) return st;
        if (m > 1u << 30) return bad(err, file, "$.output.max_len", "must be <= 2^30");
        r->max_len = (uint32_t)m;
    }
    if (!st && (v = cJSON_GetObjectItemCaseSensitive(o, "layout"))) {
        const char *s = cJSON_IsString(v) ? v->valuestring : "";
        if (strlen(s) != 1 || !strchr("DXH", s[0])) return bad(err, file, "$.output.layout", "must be \"D\", \"X\" or \"H\"");
        r->layout = s[0];
    }
    if (!st && (v = cJSON_GetObjectItemCaseSensitive(o, "form"))) {
        const char *s = cJSON_IsString(v) ? v->valuestring : "";
        if (strcmp(s, "megatron") && strcmp(s, "hf")) return bad(err, file, "$.output.form", "must be \"megatron\" or \"hf\"");
        free(r->form);
        if (!(r->form = strdup(s))) return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    if (!st && (v = cJSON_GetObjectItemCaseSensitive(o, "tokenizer"))) {
        free(r->tokenizer);
        r->tokenizer = NULL;
        st = get_str(v, file, "$.output.tokenizer", &r->tokenizer, err);
    }
    return st;
}

static ts_status parse_recipe(const cJSON *doc, const char *file, ts_recipe *r, ts_error *err) {
    static const char *const keys[] = {"name", "description", "stage", "seed", "output", "target", "sources", NULL};
    if (!cJSON_IsObject(doc)) return bad(err, file, "$", "a recipe is a JSON object");
    ts_status st = only_keys(doc, keys, file, "$", err);
    if (!st) st = get_str(cJSON_GetObjectItemCaseSensitive(doc, "name"), file, "$.name", &r->name, err);
    if (!st && !is_name(r->name)) return bad(err, file, "$.name", "must match [A-Za-z0-9_-]{1,63}");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "description");
    if (!st && v && !cJSON_IsString(v)) return bad(err, file, "$.description", "must be a string");
    if (!st) st = get_str(cJSON_GetObjectItemCaseSensitive(doc, "stage"), file, "$.stage", &r->stage, err);
    if (!st && strcmp(r->stage, "pretrain") && strcmp(r->stage, "sft"))
        return bad(err, file, "$.stage", "must be \"pretrain\" or \"sft\"");
    if (!st) st = get_uint(cJSON_GetObjectItemCaseSensitive(doc, "seed"), 0, file, "$.seed", &r->seed, err);
    if (!st && (v = cJSON_GetObjectItemCaseSensitive(doc, "output"))) st = parse_output(v, file, r, err);
    if (!st && (v = cJSON_GetObjectItemCaseSensitive(doc, "target"))) {
        static const char *const tkeys[] = {"samples", "tokens", NULL};
        if (!cJSON_IsObject(v)) return bad(err, file, "$.target", "must be an object");
        if ((st = only_keys(v, tkeys, file, "$.target", err))) return st;
        double w;
        uint64_t u;
        st = parse_amount(v, file, "$.target", 0, &r->target_kind, &w, &u, &r->target, err);
    }
    if (st) return st;
    const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(doc, "sources");
    if (!cJSON_IsArray(srcs) || cJSON_GetArraySize(srcs) == 0)
        return bad(err, file, "$.sources", "must be a non-empty array");
    r->n_sources = (size_t)cJSON_GetArraySize(srcs);
    if (!(r->sources = calloc(r->n_sources, sizeof *r->sources))) return ts_fail(err, TS_ENOMEM, "out of memory");
    size_t i = 0, weighted = 0;
    for (const cJSON *s = srcs->child; s; s = s->next, i++) {
        if ((st = parse_source(s, file, i, &r->sources[i], err))) return st;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->sources[j].name, r->sources[i].name)) {
                char at[64];
                snprintf(at, sizeof at, "$.sources[%zu].name", i);
                return bad(err, file, at, "\"%s\" is already $.sources[%zu]", r->sources[i].name, j);
            }
        weighted += r->sources[i].amount == TS_MIX_WEIGHT;
    }
    if (weighted && r->target_kind == TS_MIX_NONE)
        return bad(err, file, "$.target", "required when a source has a weight");
    if (!weighted && r->target_kind != TS_MIX_NONE)
        return bad(err, file, "$.target", "only meaningful when some source has a weight");
    return TS_OK;
}

/* Sort object keys recursively, for the canonical form. */
static int cmp_key(const void *a, const void *b) {
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

static ts_status sort_keys(cJSON *node, ts_error *err) {
    size_t n = 0;
    for (cJSON *c = node->child; c; c = c->next, n++) {
        ts_status st = sort_keys(c, err);
        if (st) return st;
    }
    if (!cJSON_IsObject(node) || n < 2) return TS_OK;
    cJSON **v = malloc(n * sizeof *v);
    if (!v) return ts_fail(err, TS_ENOMEM, "out of memory");
    size_t i = 0;
    for (cJSON *c = node->child; c; c = c->next) v[i++] = c;
    qsort(v, n, sizeof *v, cmp_key);
    for (i = 0; i < n; i++) {
        v[i]->prev = i ? v[i - 1] : v[n - 1]; /* cJSON: the first child's prev is the last child */
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    }
    node->child = v[0];
    free(v);
    return TS_OK;
}

static ts_status hash_doc(const cJSON *doc, ts_hash128 *out, ts_error *err) {
    cJSON *copy = cJSON_Duplicate(doc, 1);
    if (!copy) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = sort_keys(copy, err);
    char *text = st ? NULL : cJSON_PrintUnformatted(copy);
    if (!st && !text) st = ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) *out = ts_xxh3_128(text, strlen(text));
    free(text);
    cJSON_Delete(copy);
    return st;
}

ts_status ts_recipe_load(const char *path, ts_recipe **out, ts_error *err) {
    *out = NULL;
    ts_recipe *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) || !(r->form = strdup("")) || !(r->tokenizer = strdup(""))) {
        ts_recipe_free(r);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    ts_status st = ts_json_load_file(path, RECIPE_MAX_BYTES, &r->doc, err);
    if (!st) st = parse_recipe(r->doc, path, r, err);
    if (!st) st = hash_doc(r->doc, &r->hash, err);
    if (st) {
        ts_recipe_free(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

void ts_recipe_free(ts_recipe *r) {
    if (!r) return;
    for (size_t i = 0; r->sources && i < r->n_sources; i++) {
        ts_recipe_source *s = &r->sources[i];
        free(s->name);
        free(s->manifest);
        free(s->manifest_path);
        free(s->energon);
        free(s->split);
    }
    free(r->sources);
    free(r->path);
    free(r->name);
    free(r->stage);
    free(r->form);
    free(r->tokenizer);
    cJSON_Delete(r->doc);
    free(r);
}

ts_status ts_recipe_check_manifest(const ts_recipe_source *s, ts_error *err) {
    struct stat sb;
    if (stat(s->manifest_path, &sb) != 0) return ts_fail(err, TS_ENOTFOUND, "%s: no such manifest yet", s->manifest_path);
    cJSON *doc = NULL;
    ts_error load_err;
    if (ts_json_load_file(s->manifest_path, RECIPE_MAX_BYTES, &doc, &load_err))
        return ts_fail(err, TS_EFORMAT, "%s", load_err.msg);
    ts_status st = TS_OK;
    const char *name = ts_json_str(doc, "name", NULL);
    if (!name || strcmp(name, s->name))
        st = ts_fail(err, TS_EFORMAT, "%s: manifest names source \"%s\", the recipe \"%s\"", s->manifest_path,
                     name ? name : "(none)", s->name);
    cJSON_Delete(doc);
    return st;
}

ts_status ts_mix_counts_load(const char *path, const ts_recipe *r, ts_mix_count *out, ts_error *err) {
    cJSON *doc = NULL;
    ts_status st = ts_json_load_file(path, RECIPE_MAX_BYTES, &doc, err);
    if (st) return st;
    if (!cJSON_IsObject(doc)) st = ts_fail(err, TS_EINVAL, "%s: $: counts are a JSON object", path);
    for (size_t i = 0; i < r->n_sources && !st; i++) {
        const char *name = r->sources[i].name;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
        char jp[128];
        snprintf(jp, sizeof jp, "$.%s", name);
        memset(&out[i], 0, sizeof out[i]);
        if (!v) st = ts_fail(err, TS_EINVAL, "%s: %s: no count for source %s of recipe %s", path, jp, name, r->path);
        else if (cJSON_IsNumber(v)) st = get_uint(v, 0, path, jp, &out[i].samples, err);
        else if (!cJSON_IsObject(v)) st = bad(err, path, jp, "must be a count or {\"samples\": N, \"tokens\": T}");
        else {
            static const char *const keys[] = {"samples", "tokens", NULL};
            char at[160];
            st = only_keys(v, keys, path, jp, err);
            snprintf(at, sizeof at, "%s.samples", jp);
            if (!st) st = get_uint(cJSON_GetObjectItemCaseSensitive(v, "samples"), 0, path, at, &out[i].samples, err);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "tokens");
            snprintf(at, sizeof at, "%s.tokens", jp);
            if (!st && t) st = get_uint(t, 0, path, at, &out[i].tokens, err);
        }
    }
    cJSON_Delete(doc);
    return st;
}

ts_status ts_recipe_plan(const ts_recipe *r, const ts_mix_count *counts, int use_seed, uint64_t seed,
                         ts_mix_plan *out, ts_error *err) {
    ts_mix_want *w = calloc(r->n_sources, sizeof *w);
    if (!w) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n_sources; i++) {
        const ts_recipe_source *s = &r->sources[i];
        w[i] = (ts_mix_want){s->name, s->amount, s->weight_units, s->target, s->max_epochs,
                             counts[i].samples, counts[i].tokens};
    }
    ts_status st = ts_mix_plan_make(w, r->n_sources, r->target_kind, r->target, use_seed ? seed : r->seed, out, err);
    free(w);
    if (st) return ts_error_context(err, "%s", r->path);
    out->recipe_hash = r->hash;
    return TS_OK;
}
