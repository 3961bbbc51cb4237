/* DIR/manifest.json: what a build read, with which parameters, what it
 * counted and what it wrote (docs/BUILD.md §manifest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/io.h"
#include "core/json.h"
#include "core/version.h"
#include "pipeline/build_internal.h"

#define CACHE_STAMP "inputs.cache" /* .stamps/inputs.cache.json: the downloads' hashes */

static cJSON *dup_or_null(const cJSON *v) {
    return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

static double sum_values(const cJSON *obj) {
    double t = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, obj) t += cJSON_IsNumber(e) ? e->valuedouble : 0;
    return t;
}

static void hex64(uint64_t v, char out[17]) {
    ts_hash64_hex(v, out);
}

/* One reconciliation rule: records in = kept + dropped by reason. */
static void check_sum(cJSON *problems, const char *where, double in, double kept, const cJSON *drops) {
    double dropped = sum_values(drops);
    if (in == kept + dropped) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %.0f in != %.0f kept + %.0f dropped", where, in, kept, dropped);
    cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
}

static void check_eq(cJSON *problems, const char *where, double a, double b) {
    if (a == b) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %.0f != %.0f", where, a, b);
    cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
}

static cJSON *source_json(build_ctx *b, size_t i, const cJSON *mix_src, cJSON *problems) {
    build_source *s = &b->src[i];
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", s->rs->name);
    cJSON_AddStringToObject(o, "stage", ts_sample_stage_name(ts_source_stage(s->src)));
    cJSON_AddStringToObject(o, "task", ts_sample_task_name(ts_source_task(s->src)));
    cJSON_AddStringToObject(o, "energon", s->energon_rel);
    cJSON_AddItemToObject(o, "ingest", dup_or_null(s->ingest.info));
    cJSON_AddItemToObject(o, "prepare", dup_or_null(s->prepare.info));
    cJSON_AddItemToObject(o, "mix", dup_or_null(mix_src));
    if (s->text_only) cJSON_AddItemToObject(o, "megatron", dup_or_null(s->megatron.info));
    char where[256];
    const cJSON *in = s->ingest.info, *pr = s->prepare.info;
    snprintf(where, sizeof where, "%s ingest", s->rs->name);
    check_sum(problems, where, ts_json_num(in, "records_in", -1), ts_json_num(in, "written", -1),
              cJSON_GetObjectItemCaseSensitive(in, "dropped_by_reason"));
    snprintf(where, sizeof where, "%s prepare", s->rs->name);
    check_sum(problems, where, ts_json_num(pr, "in", -1), ts_json_num(pr, "kept", -1),
              cJSON_GetObjectItemCaseSensitive(pr, "dropped_by_reason"));
    snprintf(where, sizeof where, "%s: prepare in = ingest written", s->rs->name);
    check_eq(problems, where, ts_json_num(pr, "in", -1), ts_json_num(in, "written", -2));
    snprintf(where, sizeof where, "%s: mix available = prepare kept", s->rs->name);
    check_eq(problems, where, ts_json_num(mix_src, "available", -1), ts_json_num(pr, "kept", -2));
    return o;
}

static cJSON *stage_json(const build_stage *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char key[33];
    ts_hash128_hex(ts_stage_key_digest(&s->key), key);
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "status", s->ran ? "ran" : "skipped");
    if (s->ran) cJSON_AddStringToObject(o, "why", s->why);
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    cJSON_AddNumberToObject(o, "stamped_seconds", s->stamped_seconds);
    cJSON_AddStringToObject(o, "key", key);
    return o;
}

static void add_outputs(cJSON *arr, const build_stage *s) {
    for (size_t i = 0; i < s->outputs.n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) return;
        char h[17];
        hex64(s->outputs.v[i].xxh3, h);
        cJSON_AddStringToObject(o, "path", s->outputs.v[i].path);
        cJSON_AddNumberToObject(o, "bytes", (double)s->outputs.v[i].bytes);
        cJSON_AddStringToObject(o, "xxh3", h);
        cJSON_AddStringToObject(o, "stage", s->name);
        cJSON_AddItemToArray(arr, o);
    }
}

static ts_status inputs_json(build_ctx *b, cJSON *arr, ts_error *err) {
    for (size_t i = 0; i < b->n_src; i++) {
        const build_source *s = &b->src[i];
        uint64_t h = 0, n = 0;
        ts_status st = ts_file_xxh3_64(s->rs->manifest_path, &h, &n, err);
        if (st) return st;
        char hex[33], fh[17];
        ts_hash128_hex(ts_source_hash(s->src), hex);
        hex64(h, fh);
        cJSON *o = cJSON_CreateObject();
        if (!o) return ts_fail(err, TS_ENOMEM, "out of memory");
        cJSON_AddStringToObject(o, "kind", "source_manifest");
        cJSON_AddStringToObject(o, "source", s->rs->name);
        cJSON_AddStringToObject(o, "path", s->rs->manifest_path);
        cJSON_AddStringToObject(o, "canonical_xxh3_128", hex);
        cJSON_AddNumberToObject(o, "bytes", (double)n);
        cJSON_AddStringToObject(o, "xxh3", fh);
        cJSON_AddItemToArray(arr, o);
    }
    /* The source files ingest downloaded (record files; images go straight
     * into the Energon datasets and are counted per source). Their hashes
     * are kept in a stamp of their own, reused for files whose identity is
     * unchanged (as for stage outputs; --verify re-hashes them). */
    char cache[4096];
    build_path(b, "cache", cache, sizeof cache);
    struct stat sb;
    if (stat(cache, &sb) != 0) return TS_OK;
    ts_stage_outputs dl = {0}, known = {0};
    uint64_t counts[3] = {0, 0, 0};
    ts_status st = ts_stamp_load_outputs(b->root, CACHE_STAMP, &known, err);
    if (!st) st = ts_stage_outputs_add_tree_known(&dl, b->root, "cache", &known, b->o->verify, counts, err);
    b->trusted += counts[0];
    b->rehashed += counts[1];
    b->rehashed_bytes += counts[2];
    if (!st && (counts[1] || dl.n != known.n)) {
        ts_stage_key k;
        st = ts_stage_key_init(&k, CACHE_STAMP, err);
        if (!st) st = ts_stamp_write(b->root, CACHE_STAMP, &k, &dl, 0, NULL, err);
        ts_stage_key_free(&k);
    }
    ts_stage_outputs_free(&known);
    for (size_t i = 0; i < dl.n && !st; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            st = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        char h[17];
        hex64(dl.v[i].xxh3, h);
        cJSON_AddStringToObject(o, "kind", "download");
        cJSON_AddStringToObject(o, "path", dl.v[i].path);
        cJSON_AddNumberToObject(o, "bytes", (double)dl.v[i].bytes);
        cJSON_AddStringToObject(o, "xxh3", h);
        cJSON_AddItemToArray(arr, o);
    }
    ts_stage_outputs_free(&dl);
    return st;
}

static cJSON *parameters_json(build_ctx *b) {
    const ts_recipe *r = b->recipe;
    cJSON *p = cJSON_CreateObject();
    if (!p) return NULL;
    char h[17];
    cJSON_AddNumberToObject(p, "jobs", b->threads);
    cJSON_AddBoolToObject(p, "use_local", b->o->use_local);
    cJSON_AddNumberToObject(p, "max_records", (double)b->o->max_records);
    cJSON_AddStringToObject(p, "force", b->o->force ? b->o->force : "");
    cJSON *tok = cJSON_AddObjectToObject(p, "tokenizer");
    hex64(b->tokenizer_xxh3, h);
    cJSON_AddStringToObject(tok, "path", b->tokenizer_path);
    cJSON_AddNumberToObject(tok, "bytes", (double)b->tokenizer_bytes);
    cJSON_AddStringToObject(tok, "xxh3", h);
    cJSON_AddStringToObject(p, "stage", r->stage);
    cJSON_AddNumberToObject(p, "seed", (double)r->seed);
    cJSON_AddNumberToObject(p, "max_len", r->max_len);
    char layout[2] = {r->layout ? r->layout : 'D', 0};
    cJSON_AddStringToObject(p, "layout", layout);
    cJSON_AddStringToObject(p, "form", r->form && *r->form ? r->form : "megatron");
    cJSON_AddNumberToObject(p, "max_tiles", strcmp(r->stage, "pretrain") == 0 ? 1 : 6);
    cJSON_AddStringToObject(p, "target_kind",
                            r->target_kind == TS_MIX_SAMPLES ? "samples" : r->target_kind == TS_MIX_TOKENS ? "tokens" : "none");
    cJSON_AddNumberToObject(p, "target", (double)r->target);
    /* The recipe's own sources block, as written. */
    const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(r->doc, "sources");
    cJSON_AddItemToObject(p, "sources", dup_or_null(srcs));
    cJSON_AddNumberToObject(p, "pack_max_len", ts_json_num(b->pack.info, "max_len", 0));
    return p;
}

ts_status build_write_manifest(build_ctx *b, ts_error *err) {
    cJSON *m = cJSON_CreateObject(), *problems = cJSON_CreateArray();
    if (!m || !problems) {
        cJSON_Delete(m);
        cJSON_Delete(problems);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    char hex[33];
    ts_hash128_hex(b->recipe->hash, hex);
    cJSON_AddStringToObject(m, "tool", "tessera");
    cJSON_AddStringToObject(m, "version", TS_VERSION);
    cJSON *rec = cJSON_AddObjectToObject(m, "recipe");
    cJSON_AddStringToObject(rec, "path", b->recipe->path);
    cJSON_AddStringToObject(rec, "name", b->recipe->name);
    cJSON_AddStringToObject(rec, "canonical_xxh3_128", hex);
    cJSON_AddItemToObject(m, "parameters", parameters_json(b));
    cJSON *inputs = cJSON_AddArrayToObject(m, "inputs");
    ts_status st = inputs_json(b, inputs, err);
    cJSON *sources = cJSON_AddArrayToObject(m, "sources");
    const cJSON *mix_srcs = cJSON_GetObjectItemCaseSensitive(b->mix.info, "sources");
    double planned = 0;
    for (size_t i = 0; i < b->n_src && !st; i++) {
        const cJSON *ms = cJSON_GetArrayItem(mix_srcs, (int)i);
        planned += ts_json_num(ms, "target", 0);
        cJSON *o = source_json(b, i, ms, problems);
        if (!o) st = ts_fail(err, TS_ENOMEM, "out of memory");
        else cJSON_AddItemToArray(sources, o);
    }
    const cJSON *pk = b->pack.info;
    check_eq(problems, "mix samples = sum of planned targets", ts_json_num(b->mix.info, "samples", -1), planned);
    check_eq(problems, "pack samples in = mix samples", ts_json_num(pk, "samples", -1),
             ts_json_num(b->mix.info, "samples", -2));
    check_sum(problems, "pack", ts_json_num(pk, "samples", -1), ts_json_num(pk, "samples_packed", -1),
              cJSON_GetObjectItemCaseSensitive(pk, "dropped_by_reason"));
    cJSON_AddItemToObject(m, "mix", dup_or_null(b->mix.info));
    cJSON_AddItemToObject(m, "pack", dup_or_null(pk));
    cJSON *rc = cJSON_AddObjectToObject(m, "reconcile");
    cJSON_AddBoolToObject(rc, "ok", cJSON_GetArraySize(problems) == 0);
    cJSON_AddItemToObject(rc, "problems", problems);
    cJSON *stages = cJSON_AddArrayToObject(m, "stages"), *outputs = cJSON_AddArrayToObject(m, "outputs");
    const build_stage *list[3] = {&b->mix, &b->pack, &b->export_energon};
    for (size_t i = 0; i < b->n_src; i++) {
        cJSON_AddItemToArray(stages, stage_json(&b->src[i].ingest));
        add_outputs(outputs, &b->src[i].ingest);
    }
    for (size_t i = 0; i < b->n_src; i++) {
        cJSON_AddItemToArray(stages, stage_json(&b->src[i].prepare));
        add_outputs(outputs, &b->src[i].prepare);
    }
    for (size_t i = 0; i < 3; i++) {
        cJSON_AddItemToArray(stages, stage_json(list[i]));
        add_outputs(outputs, list[i]);
    }
    for (size_t i = 0; i < b->n_src; i++)
        if (b->src[i].text_only) {
            cJSON_AddItemToArray(stages, stage_json(&b->src[i].megatron));
            add_outputs(outputs, &b->src[i].megatron);
        }
    cJSON_AddNumberToObject(m, "seconds", build_now() - b->started);
    char *text = st ? NULL : cJSON_Print(m);
    if (!st && !text) st = ts_fail(err, TS_ENOMEM, "out of memory");
    char path[4096];
    build_path(b, "manifest.json", path, sizeof path);
    if (!st) st = ts_write_file_atomic(path, text, strlen(text), 1, err);
    if (!st && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rc, "ok"))) {
        const cJSON *first = cJSON_GetArrayItem(problems, 0);
        st = ts_fail(err, TS_EFORMAT, "%s: counts do not reconcile: %s", path,
                     first && first->valuestring ? first->valuestring : "?");
    }
    if (!st && b->o->report) {
        cJSON *sum = cJSON_CreateObject();
        if (sum) {
            cJSON_AddStringToObject(sum, "summary", "build");
            cJSON_AddStringToObject(sum, "manifest", path);
            cJSON_AddItemToObject(sum, "pack", dup_or_null(pk));
            cJSON_AddNumberToObject(sum, "trusted_files", (double)b->trusted);
            cJSON_AddNumberToObject(sum, "rehashed_files", (double)b->rehashed);
            cJSON_AddNumberToObject(sum, "rehashed_bytes", (double)b->rehashed_bytes);
            cJSON_AddNumberToObject(sum, "seconds", build_now() - b->started);
            st = ts_json_write_line(b->o->report, sum, err);
            cJSON_Delete(sum);
        }
    }
    free(text);
    cJSON_Delete(m);
    return st;
}
