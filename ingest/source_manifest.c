/* Loading and checking source manifests (schema: docs/MANIFESTS.md). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "ingest/source_internal.h"

#define MANIFEST_MAX_BYTES ((size_t)4 << 20)
#define DEFAULT_MAX_IMAGE_BYTES ((size_t)64 << 20)

typedef struct ctx {
    const char *file;
    ts_error *err;
} ctx;

static ts_status bad(ctx *c, const char *jpath, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ts_status bad(ctx *c, const char *jpath, const char *fmt, ...) {
    char msg[TS_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ts_fail(c->err, TS_EINVAL, "%s: %s: %s", c->file, jpath, msg);
}

static ts_status oom(ctx *c) { return ts_fail(c->err, TS_ENOMEM, "%s: out of memory", c->file); }

/* Every member of `obj` must be one of the NULL-terminated `allowed`. */
static ts_status only_keys(ctx *c, const cJSON *obj, const char *jpath, const char *const *allowed) {
    if (!cJSON_IsObject(obj)) return bad(c, jpath, "expected an object");
    for (const cJSON *m = obj->child; m; m = m->next) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(m->string, allowed[i]) == 0;
        if (!ok) return bad(c, jpath, "unknown key \"%s\"", m->string);
        for (const cJSON *d = obj->child; d != m; d = d->next)
            if (strcmp(d->string, m->string) == 0) return bad(c, jpath, "key \"%s\" given twice", m->string);
    }
    return TS_OK;
}

/* Optional string member into *out (strdup); required: missing is an error. */
static ts_status get_str(ctx *c, const cJSON *obj, const char *key, const char *jpath, int required, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) return required ? bad(c, jpath, "missing \"%s\"", key) : TS_OK;
    if (!cJSON_IsString(v)) return bad(c, jpath, "\"%s\" must be a string", key);
    if (!(*out = strdup(v->valuestring))) return oom(c);
    return TS_OK;
}

static ts_status get_path(ctx *c, const cJSON *obj, const char *key, const char *jpath, ts_fpath **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) return TS_OK;
    if (!cJSON_IsString(v)) return bad(c, jpath, "\"%s\" must be a field path string", key);
    ts_error e = {0};
    if (ts_fpath_parse(v->valuestring, out, &e)) return bad(c, jpath, "\"%s\": %s", key, e.msg);
    return TS_OK;
}

static ts_status get_field(ctx *c, const cJSON *obj, const char *key, const char *jpath, src_field *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    memset(f, 0, sizeof *f);
    if (!v) return TS_OK;
    if (!cJSON_IsString(v)) return bad(c, jpath, "\"%s\" must be a field path or template string", key);
    if (!(f->text = strdup(v->valuestring))) return oom(c);
    ts_error e = {0};
    ts_status st = strchr(v->valuestring, '{') ? ts_ftemplate_parse(v->valuestring, &f->tmpl, &e)
                                               : ts_fpath_parse(v->valuestring, &f->path, &e);
    if (st) return bad(c, jpath, "\"%s\": %s", key, e.msg);
    return TS_OK;
}

static ts_status get_bool(ctx *c, const cJSON *obj, const char *key, const char *jpath, int dflt, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = dflt;
    if (!v) return TS_OK;
    if (!cJSON_IsBool(v)) return bad(c, jpath, "\"%s\" must be true or false", key);
    *out = cJSON_IsTrue(v);
    return TS_OK;
}

void src_field_free(src_field *f) {
    ts_fpath_free(f->path);
    ts_ftemplate_free(f->tmpl);
    free(f->text);
    memset(f, 0, sizeof *f);
}

static int is_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

static int is_sha256(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == 64;
}

static const char *ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0 ? s + n - k : NULL;
}

static ts_status resolve_path(ctx *c, const char *dir, const char *p, const char *jpath, char **out) {
    if (!*p) return bad(c, jpath, "\"path\" is empty");
    if (p[0] == '/') {
        *out = strdup(p);
    } else {
        size_t n = strlen(dir) + strlen(p) + 2;
        if ((*out = malloc(n))) snprintf(*out, n, "%s/%s", dir, p);
    }
    return *out ? TS_OK : oom(c);
}

static void input_free(src_input *in) {
    free(in->name);
    free(in->url);
    free(in->path);
    free(in->sha256);
    free(in->member);
    ts_fpath_free(in->select);
    free(in->jpath);
}

static ts_status parse_input(ctx *c, const ts_source *src, const cJSON *o, const char *jpath, int local, src_input *in) {
    static const char *const keys[] = {"role", "name", "url", "path", "size", "sha256", "format", "member",
                                       "select", NULL};
    ts_status st = only_keys(c, o, jpath, keys);
    if (st) return st;
    in->size = -1;
    if (!(in->jpath = strdup(jpath))) return oom(c);
    char *role = NULL, *fmt = NULL, *path = NULL;
    if ((st = get_str(c, o, "role", jpath, 0, &role))) return st;
    if (!role || strcmp(role, "records") == 0) in->role = SRC_RECORDS;
    else if (strcmp(role, "table") == 0) in->role = SRC_TABLE;
    else if (strcmp(role, "images") == 0) in->role = SRC_IMAGES;
    else st = bad(c, jpath, "\"role\" must be records, table or images, not \"%s\"", role);
    free(role);
    if (st) return st;
    if ((st = get_str(c, o, "name", jpath, in->role != SRC_RECORDS, &in->name))) return st;
    if (in->name && !is_name(in->name)) return bad(c, jpath, "\"name\" must be [A-Za-z0-9_-]+");
    if ((st = get_str(c, o, "url", jpath, 0, &in->url)) || (st = get_str(c, o, "path", jpath, 0, &path))) {
        free(path);
        return st;
    }
    if (local && in->url) {
        free(path);
        return bad(c, jpath, "local inputs take a \"path\" (relative to the manifest), not a \"url\"");
    }
    if (!!in->url == !!path) {
        free(path);
        return bad(c, jpath, "give exactly one of \"url\" and \"path\"");
    }
    if (in->url && strncmp(in->url, "https://", 8) != 0 && strncmp(in->url, "http://", 7) != 0)
        return bad(c, jpath, "\"url\" must be http:// or https://");
    if (path) {
        st = resolve_path(c, src->dir, path, jpath, &in->path);
        free(path);
        if (st) return st;
    }
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
    if (size) {
        if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15 ||
            size->valuedouble != (double)(int64_t)size->valuedouble)
            return bad(c, jpath, "\"size\" must be a non-negative integer (bytes)");
        in->size = (int64_t)size->valuedouble;
    }
    if ((st = get_str(c, o, "sha256", jpath, 0, &in->sha256))) return st;
    if (in->sha256 && !is_sha256(in->sha256)) return bad(c, jpath, "\"sha256\" must be 64 lowercase hex digits");
    if ((st = get_str(c, o, "member", jpath, 0, &in->member))) return st;
    if (in->member && !*in->member) return bad(c, jpath, "\"member\" is empty");
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(o, "select");
    if (sel) {
        if (!cJSON_IsString(sel)) return bad(c, jpath, "\"select\" must be a field path string (\"\": the document)");
        if (!*sel->valuestring) {
            in->select_root = 1;
        } else {
            ts_error e = {0};
            if (ts_fpath_parse(sel->valuestring, &in->select, &e)) return bad(c, jpath, "\"select\": %s", e.msg);
            if (ts_fpath_fans_out(in->select)) return bad(c, jpath, "\"select\" must not hold [*]");
        }
    }
    int selected = sel != NULL;
    if ((st = get_str(c, o, "format", jpath, 0, &fmt))) return st;
    const char *where = in->member ? in->member : in->url ? in->url : in->path;
    if (!fmt || strcmp(fmt, "auto") == 0) {
        if (in->role == SRC_IMAGES) in->kind = ends_with(where, ".zip") ? SRC_FMT_ZIP : SRC_FMT_DIR;
        else if (selected) in->rec_format = TS_REC_JSON;
        else in->rec_format = TS_REC_AUTO;
    } else if (strcmp(fmt, "zip") == 0) {
        in->kind = SRC_FMT_ZIP;
    } else if (strcmp(fmt, "dir") == 0) {
        in->kind = SRC_FMT_DIR;
    } else if ((in->rec_format = ts_rec_format_parse(fmt)) == TS_REC_AUTO) {
        st = bad(c, jpath, "\"format\" must be auto, parquet, jsonl, json, csv, tsv, tar, zip or dir, not \"%s\"", fmt);
    }
    free(fmt);
    if (st) return st;
    if (in->role == SRC_IMAGES && in->kind == SRC_FMT_RECORDS)
        return bad(c, jpath, "an images input is a zip archive or a folder (\"format\": \"zip\" or \"dir\")");
    if (in->role != SRC_IMAGES && in->kind != SRC_FMT_RECORDS)
        return bad(c, jpath, "zip and dir are formats of images inputs; for a file inside a zip, name it in \"member\"");
    if (in->kind == SRC_FMT_DIR && in->url) return bad(c, jpath, "a folder input takes a \"path\"");
    if (in->role == SRC_TABLE && !selected)
        return bad(c, jpath, "a table input needs \"select\": the array or object of rows in its JSON document");
    if (selected && in->rec_format != TS_REC_JSON)
        return bad(c, jpath, "\"select\" reads one JSON document: \"format\" must be json");
    if (in->member && in->role == SRC_IMAGES) return bad(c, jpath, "an images input cannot be a \"member\"");
    return TS_OK;
}

static ts_status parse_inputs(ctx *c, const ts_source *src, const cJSON *arr, const char *key, int local,
                              src_input **out, size_t *n) {
    char jpath[96];
    snprintf(jpath, sizeof jpath, "$.%s", key);
    if (!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr)) return bad(c, jpath, "expected a non-empty array of inputs");
    size_t count = (size_t)cJSON_GetArraySize(arr);
    if (!(*out = calloc(count, sizeof **out))) return oom(c);
    size_t records = 0;
    for (const cJSON *o = arr->child; o; o = o->next) {
        snprintf(jpath, sizeof jpath, "$.%s[%zu]", key, *n);
        src_input *in = &(*out)[(*n)++];
        ts_status st = parse_input(c, src, o, jpath, local, in);
        if (st) return st;
        records += in->role == SRC_RECORDS;
        for (size_t i = 0; in->name && i + 1 < *n; i++)
            if ((*out)[i].name && strcmp((*out)[i].name, in->name) == 0)
                return bad(c, jpath, "input name \"%s\" is used twice", in->name);
    }
    snprintf(jpath, sizeof jpath, "$.%s", key);
    if (!records) return bad(c, jpath, "no input with \"role\": \"records\"");
    return TS_OK;
}

long src_find_input(const src_input *ins, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (ins[i].name && strcmp(ins[i].name, name) == 0) return (long)i;
    return -1;
}

static ts_status find_input(ctx *c, const src_input *ins, size_t n, const char *name, src_role role,
                            const char *list, const char *jpath) {
    long i = src_find_input(ins, n, name);
    if (i < 0) return bad(c, jpath, "no input named \"%s\" in $.%s", name, list);
    if (ins[i].role != role)
        return bad(c, jpath, "input \"%s\" in $.%s is not a%s input", name, list, role == SRC_TABLE ? " table" : "n images");
    return TS_OK;
}

static ts_status parse_image(ctx *c, const cJSON *o, const char *jpath, src_image *im) {
    static const char *const keys[] = {"bytes", "url", "file", "member", "archive", "optional", NULL};
    static const char *const kinds[] = {"bytes", "url", "file", "member"};
    ts_status st = only_keys(c, o, jpath, keys);
    if (st) return st;
    int found = 0;
    for (int k = 0; k < 4; k++)
        if (cJSON_GetObjectItemCaseSensitive(o, kinds[k])) {
            found++;
            im->kind = (img_kind)k;
        }
    if (found != 1) return bad(c, jpath, "give exactly one of \"bytes\", \"url\", \"file\" and \"member\"");
    if ((st = get_field(c, o, kinds[im->kind], jpath, &im->from))) return st;
    if ((st = get_str(c, o, "archive", jpath, im->kind == IMG_MEMBER, &im->archive))) return st;
    if (im->archive && im->kind != IMG_MEMBER) return bad(c, jpath, "\"archive\" goes with \"member\"");
    if (im->kind == IMG_BYTES && im->from.tmpl) return bad(c, jpath, "\"bytes\" is a field path, not a template");
    return get_bool(c, o, "optional", jpath, 0, &im->optional);
}

static const struct {
    const char *from;
    ts_sample_role to;
} default_roles[] = {{"human", TS_ROLE_USER},       {"user", TS_ROLE_USER},     {"gpt", TS_ROLE_ASSISTANT},
                     {"assistant", TS_ROLE_ASSISTANT}, {"system", TS_ROLE_SYSTEM}};

static ts_status parse_turns(ctx *c, const cJSON *o, src_turns *t) {
    static const char *const keys[] = {"list", "role_key", "content_key", "roles", "pairs", "user", "assistant",
                                       "system", NULL};
    const char *jp = "$.mapping.turns";
    ts_status st = only_keys(c, o, jp, keys);
    if (st) return st;
    int has_list = cJSON_HasObjectItem(o, "list"), has_pairs = cJSON_HasObjectItem(o, "pairs");
    int has_ua = cJSON_HasObjectItem(o, "user") || cJSON_HasObjectItem(o, "assistant");
    if (has_list + has_pairs + (has_ua && !has_pairs) != 1)
        return bad(c, jp, "give one of \"list\" (turn objects), \"pairs\" (user/assistant objects) or \"user\" + \"assistant\"");
    if ((st = get_str(c, o, "system", jp, 0, &t->system))) return st;
    if (t->system && !*t->system) return bad(c, jp, "\"system\" is empty");
    if (has_list) {
        t->kind = TURNS_LIST;
        if ((st = get_path(c, o, "list", jp, &t->list)) || (st = get_str(c, o, "role_key", jp, 0, &t->role_key)) ||
            (st = get_str(c, o, "content_key", jp, 0, &t->content_key)))
            return st;
        if (cJSON_HasObjectItem(o, "user") || cJSON_HasObjectItem(o, "assistant"))
            return bad(c, jp, "\"user\"/\"assistant\" go with \"pairs\" or alone, not with \"list\"");
        if (!t->role_key && !(t->role_key = strdup("from"))) return oom(c);
        if (!t->content_key && !(t->content_key = strdup("value"))) return oom(c);
        const cJSON *roles = cJSON_GetObjectItemCaseSensitive(o, "roles");
        if (roles) {
            if (!cJSON_IsObject(roles) || !roles->child) return bad(c, "$.mapping.turns.roles", "expected an object of role names");
            t->n_roles = (size_t)cJSON_GetArraySize(roles);
            if (!(t->roles = calloc(t->n_roles, sizeof *t->roles))) return oom(c);
            size_t i = 0;
            for (const cJSON *r = roles->child; r; r = r->next, i++) {
                ts_sample_role role;
                if (!cJSON_IsString(r) || ts_sample_role_parse(r->valuestring, &role) != 0)
                    return bad(c, "$.mapping.turns.roles", "\"%s\" must map to system, user or assistant", r->string);
                if (!(t->roles[i].from = strdup(r->string))) return oom(c);
                t->roles[i].to = role;
            }
        } else {
            t->n_roles = sizeof default_roles / sizeof default_roles[0];
            if (!(t->roles = calloc(t->n_roles, sizeof *t->roles))) return oom(c);
            for (size_t i = 0; i < t->n_roles; i++) {
                if (!(t->roles[i].from = strdup(default_roles[i].from))) return oom(c);
                t->roles[i].to = default_roles[i].to;
            }
        }
        return TS_OK;
    }
    if (cJSON_HasObjectItem(o, "roles") || cJSON_HasObjectItem(o, "role_key") || cJSON_HasObjectItem(o, "content_key"))
        return bad(c, jp, "\"roles\", \"role_key\" and \"content_key\" go with \"list\"");
    if (has_pairs) {
        t->kind = TURNS_PAIRS;
        if ((st = get_path(c, o, "pairs", jp, &t->list)) || (st = get_str(c, o, "user", jp, 1, &t->user_key)) ||
            (st = get_str(c, o, "assistant", jp, 1, &t->assistant_key)))
            return st;
        return TS_OK;
    }
    t->kind = TURNS_PARALLEL;
    if ((st = get_path(c, o, "user", jp, &t->user)) || (st = get_path(c, o, "assistant", jp, &t->assistant)))
        return st;
    if (!t->user || !t->assistant) return bad(c, jp, "\"user\" and \"assistant\" go together");
    return TS_OK;
}

static ts_status parse_joins(ctx *c, const cJSON *arr, src_mapping *m) {
    static const char *const keys[] = {"table", "key", "on", "as", "many", "required", NULL};
    char jp[96];
    if (!cJSON_IsArray(arr)) return bad(c, "$.mapping.joins", "expected an array");
    m->n_joins = (size_t)cJSON_GetArraySize(arr);
    if (!(m->joins = calloc(m->n_joins ? m->n_joins : 1, sizeof *m->joins))) return oom(c);
    size_t i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        src_join *j = &m->joins[i];
        snprintf(jp, sizeof jp, "$.mapping.joins[%zu]", i);
        ts_status st = only_keys(c, o, jp, keys);
        if (!st) st = get_str(c, o, "table", jp, 1, &j->table);
        if (!st) st = get_path(c, o, "key", jp, &j->key);
        if (!st) st = get_path(c, o, "on", jp, &j->on);
        if (!st) st = get_str(c, o, "as", jp, 1, &j->as);
        if (!st) st = get_bool(c, o, "many", jp, 0, &j->many);
        if (!st) st = get_bool(c, o, "required", jp, 1, &j->required);
        if (st) return st;
        if (!j->key || !j->on) return bad(c, jp, "\"key\" (in the table's rows) and \"on\" (in the record) are required");
        if (ts_fpath_fans_out(j->key) || ts_fpath_fans_out(j->on)) return bad(c, jp, "join paths must not hold [*]");
        if (!*j->as) return bad(c, jp, "\"as\" is empty");
    }
    return TS_OK;
}

static ts_status parse_mapping(ctx *c, const cJSON *o, src_mapping *m) {
    static const char *const keys[] = {"key", "images", "text", "question", "answers", "answer_weights",
                                       "answers_rule", "turns", "url", "row", "license", "joins",
                                       "max_image_bytes", NULL};
    const char *jp = "$.mapping";
    ts_status st = only_keys(c, o, jp, keys);
    if (st) return st;
    if ((st = get_field(c, o, "key", jp, &m->key)) || (st = get_field(c, o, "text", jp, &m->text)) ||
        (st = get_path(c, o, "question", jp, &m->question)) || (st = get_path(c, o, "answers", jp, &m->answers)) ||
        (st = get_path(c, o, "answer_weights", jp, &m->answer_weights)) || (st = get_field(c, o, "url", jp, &m->url)) ||
        (st = get_field(c, o, "row", jp, &m->row)) || (st = get_field(c, o, "license", jp, &m->license)))
        return st;
    char *rule = NULL;
    if ((st = get_str(c, o, "answers_rule", jp, 0, &rule))) return st;
    if (rule && strcmp(rule, "count") == 0) m->rule = ANSWERS_COUNT;
    else if (rule && strcmp(rule, "as_is") != 0) st = bad(c, jp, "\"answers_rule\" must be as_is or count");
    free(rule);
    if (st) return st;
    if (m->rule == ANSWERS_COUNT && m->answer_weights)
        return bad(c, jp, "\"answers_rule\": \"count\" computes the weights; drop \"answer_weights\"");
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(o, "images");
    if (images) {
        if (!cJSON_IsArray(images) || !cJSON_GetArraySize(images))
            return bad(c, "$.mapping.images", "expected a non-empty array of image sources");
        m->n_images = (size_t)cJSON_GetArraySize(images);
        if (!(m->images = calloc(m->n_images, sizeof *m->images))) return oom(c);
        size_t i = 0, urls = 0;
        char ip[64];
        for (const cJSON *im = images->child; im; im = im->next, i++) {
            snprintf(ip, sizeof ip, "$.mapping.images[%zu]", i);
            if ((st = parse_image(c, im, ip, &m->images[i]))) return st;
            urls += m->images[i].kind == IMG_URL;
        }
        if (urls && urls != m->n_images)
            return bad(c, "$.mapping.images", "URL images (downloaded later) cannot be mixed with carried ones");
        m->url_images = urls > 0;
    }
    const cJSON *turns = cJSON_GetObjectItemCaseSensitive(o, "turns");
    if (turns && (st = parse_turns(c, turns, &m->turns))) return st;
    const cJSON *joins = cJSON_GetObjectItemCaseSensitive(o, "joins");
    if (joins && (st = parse_joins(c, joins, m))) return st;
    m->max_image_bytes = DEFAULT_MAX_IMAGE_BYTES;
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(o, "max_image_bytes");
    if (mx) {
        if (!cJSON_IsNumber(mx) || mx->valuedouble < 1 || mx->valuedouble > (double)((size_t)1 << 31))
            return bad(c, jp, "\"max_image_bytes\" must be 1..2^31");
        m->max_image_bytes = (size_t)mx->valuedouble;
    }
    return TS_OK;
}

/* The fields each task needs, and the ones it cannot use. */
static ts_status check_task(ctx *c, const ts_source *s) {
    const src_mapping *m = &s->map;
    int has_turns = m->turns.kind != TURNS_NONE, has_text = m->text.text != NULL, has_img = m->n_images > 0;
    int has_vqa = m->question || m->answers;
    const char *task = ts_sample_task_name(s->task);
    if ((s->stage == TS_STAGE_TEXT) != (s->task == TS_TASK_TEXT))
        return bad(c, "$.stage", "stage \"text\" goes with task \"text\" and only with it");
    if (m->answer_weights && !m->answers) return bad(c, "$.mapping", "\"answer_weights\" without \"answers\"");
    switch (s->task) {
    case TS_TASK_CAPTION:
    case TS_TASK_OCR:
        if (!has_img || !has_text) return bad(c, "$.mapping", "task %s needs \"images\" and \"text\"", task);
        if (has_turns || has_vqa) return bad(c, "$.mapping", "task %s takes no turns, question or answers", task);
        break;
    case TS_TASK_VQA:
        if (!has_img || !m->question || !m->answers)
            return bad(c, "$.mapping", "task vqa needs \"images\", \"question\" and \"answers\"");
        if (has_turns || has_text) return bad(c, "$.mapping", "task vqa takes no \"turns\" or \"text\"");
        break;
    case TS_TASK_MULTI_TURN:
        if (!has_turns) return bad(c, "$.mapping", "task multi_turn needs \"turns\"");
        if (has_text || has_vqa) return bad(c, "$.mapping", "task multi_turn takes no text, question or answers");
        break;
    default:
        if (has_turns == has_text) return bad(c, "$.mapping", "task text needs either \"turns\" or \"text\"");
        if (has_img || has_vqa) return bad(c, "$.mapping", "task text takes no images, question or answers");
        break;
    }
    return TS_OK;
}

/* Archives and tables the mapping names must exist in both input lists. */
static ts_status check_refs(ctx *c, ts_source *s) {
    char jp[96];
    for (int pass = 0; pass < 2; pass++) {
        const src_input *ins = pass ? s->local : s->inputs;
        size_t n = pass ? s->n_local : s->n_inputs;
        const char *list = pass ? "local" : "inputs";
        if (pass && !s->local) break;
        for (size_t i = 0; i < s->map.n_images; i++) {
            src_image *im = &s->map.images[i];
            snprintf(jp, sizeof jp, "$.mapping.images[%zu].archive", i);
            if (im->kind == IMG_MEMBER) {
                ts_status st = find_input(c, ins, n, im->archive, SRC_IMAGES, list, jp);
                if (st) return st;
            }
        }
        for (size_t i = 0; i < s->map.n_joins; i++) {
            snprintf(jp, sizeof jp, "$.mapping.joins[%zu].table", i);
            ts_status st = find_input(c, ins, n, s->map.joins[i].table, SRC_TABLE, list, jp);
            if (st) return st;
        }
        for (size_t i = 0; i < n; i++) {
            if (ins[i].role == SRC_RECORDS) continue;
            int used = 0;
            for (size_t k = 0; k < s->map.n_images && !used; k++)
                used = s->map.images[k].kind == IMG_MEMBER && strcmp(s->map.images[k].archive, ins[i].name) == 0;
            for (size_t k = 0; k < s->map.n_joins && !used; k++) used = strcmp(s->map.joins[k].table, ins[i].name) == 0;
            if (!used) return bad(c, ins[i].jpath, "input \"%s\" is never used by the mapping", ins[i].name);
        }
    }
    return TS_OK;
}

static cJSON *canonical(const cJSON *v) {
    if (cJSON_IsArray(v)) {
        cJSON *a = cJSON_CreateArray();
        for (const cJSON *c = v->child; a && c; c = c->next) {
            cJSON *k = canonical(c);
            if (!k) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, k);
        }
        return a;
    }
    if (cJSON_IsObject(v)) {
        size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
        const cJSON **kids = malloc((n ? n : 1) * sizeof *kids);
        cJSON *o = kids ? cJSON_CreateObject() : NULL;
        for (const cJSON *c = v->child; c; c = c->next) kids[i++] = c;
        for (size_t a = 1; o && a < n; a++) /* insertion sort: manifests are small */
            for (size_t b = a; b > 0 && strcmp(kids[b - 1]->string, kids[b]->string) > 0; b--) {
                const cJSON *t = kids[b];
                kids[b] = kids[b - 1];
                kids[b - 1] = t;
            }
        for (i = 0; o && i < n; i++) {
            cJSON *k = canonical(kids[i]);
            if (!k) {
                cJSON_Delete(o);
                o = NULL;
                break;
            }
            cJSON_AddItemToObject(o, kids[i]->string, k);
        }
        free(kids);
        return o;
    }
    return cJSON_Duplicate(v, 1);
}

static void mapping_free(src_mapping *m) {
    src_field_free(&m->key);
    for (size_t i = 0; i < m->n_images; i++) {
        src_field_free(&m->images[i].from);
        free(m->images[i].archive);
    }
    free(m->images);
    src_field_free(&m->text);
    ts_fpath_free(m->question);
    ts_fpath_free(m->answers);
    ts_fpath_free(m->answer_weights);
    src_turns *t = &m->turns;
    ts_fpath_free(t->list);
    free(t->role_key);
    free(t->content_key);
    for (size_t i = 0; i < t->n_roles; i++) free(t->roles[i].from);
    free(t->roles);
    free(t->user_key);
    free(t->assistant_key);
    ts_fpath_free(t->user);
    ts_fpath_free(t->assistant);
    free(t->system);
    src_field_free(&m->url);
    src_field_free(&m->row);
    src_field_free(&m->license);
    for (size_t i = 0; i < m->n_joins; i++) {
        free(m->joins[i].table);
        ts_fpath_free(m->joins[i].key);
        ts_fpath_free(m->joins[i].on);
        free(m->joins[i].as);
    }
    free(m->joins);
}

void ts_source_free(ts_source *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_inputs; i++) input_free(&s->inputs[i]);
    free(s->inputs);
    for (size_t i = 0; i < s->n_local; i++) input_free(&s->local[i]);
    free(s->local);
    mapping_free(&s->map);
    free(s->manifest_path);
    free(s->dir);
    free(s->name);
    free(s->license);
    free(s->homepage);
    free(s->citation);
    free(s->auth_env);
    for (size_t i = 0; i < s->n_auth_hosts; i++) free(s->auth_hosts[i]);
    free(s->auth_hosts);
    free(s);
}

static ts_status parse_manifest(ctx *c, const cJSON *doc, ts_source *s) {
    static const char *const keys[] = {"name", "stage", "task", "license", "homepage", "citation", "description",
                                       "inputs", "local", "mapping", "auth", NULL};
    ts_status st = only_keys(c, doc, "$", keys);
    char *stage = NULL, *task = NULL, *desc = NULL;
    if (!st) st = get_str(c, doc, "name", "$", 1, &s->name);
    if (!st && !is_name(s->name)) st = bad(c, "$.name", "must be [A-Za-z0-9_-]+");
    if (!st) st = get_str(c, doc, "stage", "$", 1, &stage);
    if (!st && ts_sample_stage_parse(stage, &s->stage) != 0) st = bad(c, "$.stage", "must be pretrain, sft or text");
    if (!st) st = get_str(c, doc, "task", "$", 1, &task);
    if (!st && ts_sample_task_parse(task, &s->task) != 0)
        st = bad(c, "$.task", "must be caption, vqa, multi_turn, ocr or text");
    if (!st) st = get_str(c, doc, "license", "$", 0, &s->license);
    if (!st) st = get_str(c, doc, "homepage", "$", 0, &s->homepage);
    if (!st) st = get_str(c, doc, "citation", "$", 0, &s->citation);
    if (!st) st = get_str(c, doc, "description", "$", 0, &desc);
    free(stage);
    free(task);
    free(desc);
    if (st) return st;
    if (!s->license && !(s->license = strdup(""))) return oom(c);
    if ((st = parse_inputs(c, s, cJSON_GetObjectItemCaseSensitive(doc, "inputs"), "inputs", 0, &s->inputs,
                           &s->n_inputs)))
        return st;
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(doc, "auth");
    if (auth && (st = src_auth_parse(c->file, auth, s, c->err))) return st;
    const cJSON *local = cJSON_GetObjectItemCaseSensitive(doc, "local");
    if (local && (st = parse_inputs(c, s, local, "local", 1, &s->local, &s->n_local))) return st;
    const cJSON *mapping = cJSON_GetObjectItemCaseSensitive(doc, "mapping");
    if (!mapping) return bad(c, "$", "missing \"mapping\"");
    if ((st = parse_mapping(c, mapping, &s->map)) || (st = check_task(c, s)) || (st = check_refs(c, s))) return st;
    cJSON *canon = canonical(doc);
    char *text = canon ? cJSON_PrintUnformatted(canon) : NULL;
    cJSON_Delete(canon);
    if (!text) return oom(c);
    s->hash = ts_xxh3_128(text, strlen(text));
    free(text);
    return TS_OK;
}

ts_status ts_source_load(const char *manifest_path, ts_source **out, ts_error *err) {
    *out = NULL;
    cJSON *doc = NULL;
    ts_status st = ts_json_load_file(manifest_path, MANIFEST_MAX_BYTES, &doc, err);
    if (st) return ts_error_context(err, "manifest %s: ", manifest_path);
    ts_source *s = calloc(1, sizeof *s);
    ctx c = {manifest_path, err};
    if (!s || !(s->manifest_path = strdup(manifest_path)) || !(s->dir = strdup(manifest_path))) {
        cJSON_Delete(doc);
        ts_source_free(s);
        return oom(&c);
    }
    char *slash = strrchr(s->dir, '/');
    if (slash) *(slash == s->dir ? slash + 1 : slash) = 0;
    else strcpy(s->dir, ".");
    st = parse_manifest(&c, doc, s);
    cJSON_Delete(doc);
    if (st) {
        ts_source_free(s);
        return st;
    }
    *out = s;
    return TS_OK;
}

const char *ts_source_name(const ts_source *s) { return s->name; }
ts_sample_stage ts_source_stage(const ts_source *s) { return s->stage; }
ts_sample_task ts_source_task(const ts_source *s) { return s->task; }
const char *ts_source_license(const ts_source *s) { return s->license; }
ts_hash128 ts_source_hash(const ts_source *s) { return s->hash; }
