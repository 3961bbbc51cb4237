/* The stages of `tessera build` (build.h): each builds its key, then runs
 * through build_stage_run, which skips it when its stamp is still good. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "ingest/energon_reader.h"
#include "ingest/ingest.h"
#include "mixers/recipe.h"
#include "pipeline/build_internal.h"
#include "pipeline/prepare.h"
#include "shards/megatron.h"
#include "shards/pack.h"
#include "tokenize/tokfile.h"

#define MIXED_FMT "mix/mixed-%06zu.tok" /* one per packed shard */
#define PLAN_FILE "mix/plan.tsmix"
#define PACKED_DIR "packed"
#define PACKED_FMT "packed/packed-%06zu.tspack"
#define DEFAULT_SHARD_SAMPLES 1000000
#define BLEND_YAML "energon/metadataset.yaml"

/* Samples tagged in the mixed tokfile: source index in the high 16 bits,
 * the record's ordinal in its source's Energon dataset in the low 48. */
#define MIX_SOURCE_SHIFT 48

static ts_status key_begin(build_stage *s, const char *name, int level, ts_error *err) {
    snprintf(s->name, sizeof s->name, "%s", name);
    s->level = level;
    return ts_stage_key_init(&s->key, s->name, err);
}

/* The digest of a stage's outputs, leaving out its run logs (the
 * Energon datasets' stats/ and state/ folders carry timings): what a later
 * stage's key depends on is the data alone. */
static ts_hash128 data_digest(const build_stage *s) {
    ts_stage_outputs data = {0};
    ts_hash128 h = {~0ull, ~0ull};
    for (size_t i = 0; i < s->outputs.n; i++) {
        const char *p = s->outputs.v[i].path;
        if (strstr(p, "/stats/") || strstr(p, "/state/")) continue;
        if (ts_stage_outputs_push(&data, p, s->outputs.v[i].bytes, s->outputs.v[i].xxh3, NULL)) goto done;
    }
    h = ts_stage_outputs_digest(&data);
done:
    ts_stage_outputs_free(&data);
    return h;
}

ts_hash128 build_data_digest(const build_stage *s) {
    return data_digest(s);
}

static ts_status load_tokenizer(build_ctx *b, ts_error *err) {
    if (b->tok) return TS_OK;
    return ts_tokenizer_load(b->tokenizer_path, &b->tok, err);
}

/* ---- ingest.<source> ---- */

static ts_status run_ingest(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err) {
    build_source *bs = arg;
    char dir[4096], cache[4096], summary[4200];
    (void)resume; /* ingest resumes from its own checkpoint */
    build_path(b, bs->energon_rel, dir, sizeof dir);
    build_path(b, "cache", cache, sizeof cache); /* the source reader adds <source>/ */
    ts_ingest_options io;
    ts_ingest_options_default(&io);
    io.jobs = b->threads;
    io.max_records = b->o->max_records;
    io.use_local = b->o->use_local;
    io.cache_dir = cache;
    io.progress = ts_log_enabled(TS_LOG_WARN);
    ts_ingest_stats st;
    ts_status rc = ts_ingest_source(bs->src, dir, &io, &st, err);
    if (rc) return rc;
    if ((rc = ts_stage_outputs_add_tree(&s->outputs, b->root, bs->energon_rel, NULL, err))) return rc;
    /* The counts that reconcile: the ingest summary the pipeline wrote. */
    snprintf(summary, sizeof summary, "%s/stats/ingest.json", dir);
    cJSON *sum = NULL;
    if ((rc = ts_json_load_file(summary, 1 << 20, &sum, err))) return rc;
    cJSON *info = cJSON_CreateObject();
    if (!info) {
        cJSON_Delete(sum);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    static const char *const keep[] = {"records_in", "written", "dropped", "dropped_by_reason", "shards", "pass"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, keep[i]);
        if (v) cJSON_AddItemToObject(info, keep[i], cJSON_Duplicate(v, 1));
    }
    cJSON_AddNumberToObject(info, "image_urls", (double)st.urls);
    cJSON_AddNumberToObject(info, "image_urls_ok", (double)st.urls_ok);
    cJSON_AddNumberToObject(info, "image_bytes", (double)st.url_bytes);
    cJSON_Delete(sum);
    s->info = info;
    return TS_OK;
}

ts_status build_ingest(build_ctx *b, build_source *bs, ts_error *err) {
    build_stage *s = &bs->ingest;
    char name[128];
    snprintf(name, sizeof name, "ingest.%s", bs->rs->name);
    ts_stage_key *k = &s->key;
    ts_status st = key_begin(s, name, LEVEL_INGEST, err);
    if (!st) st = ts_stage_key_add_hash(k, "source_manifest", ts_source_hash(bs->src), err);
    if (!st) st = ts_stage_key_add_u64(k, "use_local", (uint64_t)b->o->use_local, err);
    if (!st) st = ts_stage_key_add_u64(k, "max_records", b->o->max_records, err);
    if (!st) st = ts_stage_key_add(k, "dataset", bs->energon_rel, err);
    if (st) return st;
    return build_stage_run(b, s, bs->energon_rel, 1, run_ingest, bs, err);
}

/* ---- prepare.<source> ---- */

static void prepared_paths(const build_ctx *b, const build_source *bs, char *tiles, char *tok, size_t n) {
    char rel[700];
    snprintf(rel, sizeof rel, "%s/tiles.tstiles", bs->prepared_rel);
    build_path(b, rel, tiles, n);
    snprintf(rel, sizeof rel, "%s/samples.tok", bs->prepared_rel);
    build_path(b, rel, tok, n);
}

/* NVLM: pretraining feeds one 448 px tile per image, SFT up to 6 + thumbnail. */
static int max_tiles(const build_ctx *b) {
    return strcmp(b->recipe->stage, "pretrain") == 0 ? 1 : 6;
}

static int vqa_sft_prompts(const build_source *bs) {
    const cJSON *sf = bs->rs->subflavors;
    return sf && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sf, "VQASFT"));
}

static ts_status prepare_options(build_ctx *b, const build_source *bs, ts_prepare_options *po, ts_error *err) {
    ts_prepare_options_default(po);
    const ts_recipe *r = b->recipe;
    if (r->layout && ts_chat_layout_parse((char[]){(char)(r->layout | 0x20), 0}, &po->layout) != 0)
        return ts_fail(err, TS_EINVAL, "%s: unknown layout %c", r->path, r->layout);
    if (r->form && *r->form && ts_chat_form_parse(r->form, &po->form) != 0)
        return ts_fail(err, TS_EINVAL, "%s: unknown form %s", r->path, r->form);
    po->max_len = (int)r->max_len;
    po->chat.seed = r->seed;
    po->chat.max_tiles = max_tiles(b);
    po->chat.vqa_sft_prompts = vqa_sft_prompts(bs);
    if (ts_energon_split_parse(bs->rs->split, &po->splits) != 0)
        return ts_fail(err, TS_EINVAL, "%s: source %s: unknown split \"%s\"", r->path, bs->rs->name, bs->rs->split);
    po->threads = b->threads;
    return TS_OK;
}

static ts_status run_prepare(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err) {
    (void)resume;
    build_source *bs = arg;
    ts_prepare_options po;
    ts_status st = prepare_options(b, bs, &po, err);
    if (!st) st = load_tokenizer(b, err);
    if (st) return st;
    char dir[4096], tiles[4096], tok[4096], rel[700];
    build_path(b, bs->prepared_rel, dir, sizeof dir);
    if ((st = ts_mkdirs(dir, err))) return st;
    prepared_paths(b, bs, tiles, tok, sizeof tiles);
    po.tokenizer = b->tok;
    po.tiles_path = tiles;
    po.tok_path = tok;
    char input[4096];
    build_path(b, bs->energon_rel, input, sizeof input);
    ts_prepare_stats ps;
    if ((st = ts_prepare_run(input, &po, &ps, err))) return st;
    snprintf(rel, sizeof rel, "%s/tiles.tstiles", bs->prepared_rel);
    if (ps.tile_records && (st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err))) return st;
    snprintf(rel, sizeof rel, "%s/samples.tok", bs->prepared_rel);
    if ((st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err))) return st;
    if (!(s->info = ts_prepare_stats_json(&ps))) return ts_fail(err, TS_ENOMEM, "out of memory");
    return TS_OK;
}

ts_status build_prepare(build_ctx *b, build_source *bs, ts_error *err) {
    build_stage *s = &bs->prepare;
    char name[128];
    snprintf(name, sizeof name, "prepare.%s", bs->rs->name);
    ts_prepare_options po;
    ts_stage_key *k = &s->key;
    ts_status st = prepare_options(b, bs, &po, err);
    if (!st) st = key_begin(s, name, LEVEL_PREPARE, err);
    if (!st) st = ts_stage_key_add_hash(k, "dataset", data_digest(&bs->ingest), err);
    if (!st) st = ts_stage_key_add_u64(k, "tokenizer_xxh3", b->tokenizer_xxh3, err);
    if (!st) st = ts_stage_key_add_u64(k, "layout", (uint64_t)po.layout, err);
    if (!st) st = ts_stage_key_add_u64(k, "form", (uint64_t)po.form, err);
    if (!st) st = ts_stage_key_add_u64(k, "max_len", (uint64_t)po.max_len, err);
    if (!st) st = ts_stage_key_add_u64(k, "image_token_id", (uint64_t)po.image_token_id, err);
    if (!st) st = ts_stage_key_add_u64(k, "seed", po.chat.seed, err);
    if (!st) st = ts_stage_key_add_u64(k, "max_tiles", (uint64_t)po.chat.max_tiles, err);
    if (!st) st = ts_stage_key_add_u64(k, "tile_size", (uint64_t)po.chat.tile_size, err);
    if (!st) st = ts_stage_key_add_u64(k, "vqa_sft_prompts", (uint64_t)po.chat.vqa_sft_prompts, err);
    if (!st) st = ts_stage_key_add_u64(k, "splits", po.splits, err);
    if (!st) st = ts_stage_key_add_u64(k, "dtype", (uint64_t)po.dtype, err);
    if (!st) st = ts_stage_key_add_u64(k, "zstd_level", (uint64_t)po.zstd_level, err);
    if (!st) st = build_stage_run(b, s, bs->prepared_rel, 0, run_prepare, bs, err);
    if (st) return st;
    bs->samples = (uint64_t)ts_json_num(s->info, "kept", 0);
    bs->tokens = (uint64_t)ts_json_num(s->info, "tokens", 0);
    return TS_OK;
}

/* ---- mix: the plan, and the tokenized samples in plan order ---- */

static ts_status make_plan(build_ctx *b, ts_mix_plan *plan, ts_error *err) {
    ts_mix_count *counts = calloc(b->n_src ? b->n_src : 1, sizeof *counts);
    if (!counts) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n_src; i++) counts[i] = (ts_mix_count){b->src[i].samples, b->src[i].tokens};
    ts_status st = ts_recipe_plan(b->recipe, counts, 0, 0, plan, err);
    free(counts);
    return st;
}

/* Copy record `rec` of `f` into the mixed tokfile, tagged with its source. */
static ts_status copy_record(ts_tokfile_writer *w, ts_tokfile *f, uint64_t rec, uint32_t source,
                             ts_chat_result *r, ts_error *err) {
    ts_tokfile_record tr;
    ts_status st = ts_tokfile_get(f, rec, &tr, err);
    if (st) return st;
    r->ids.len = 0;
    for (uint32_t i = 0; i < tr.n_ids && !st; i++) st = ts_ids_push(&r->ids, (int32_t)ts_get_u32le(tr.ids + 4 * i), err);
    if (st) return st;
    if (r->mask_cap < tr.n_ids) {
        uint8_t *m = realloc(r->mask, tr.n_ids);
        if (!m) return ts_fail(err, TS_ENOMEM, "out of memory");
        r->mask = m;
        r->mask_cap = tr.n_ids;
    }
    memcpy(r->mask, tr.mask, tr.n_ids);
    free(r->images);
    r->images = NULL;
    r->n_images = 0;
    if (tr.n_images) {
        if (!(r->images = calloc(tr.n_images, sizeof *r->images))) return ts_fail(err, TS_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < tr.n_images && !st; k++) st = ts_tokfile_image(&tr, k, &r->images[k], err);
        if (st) return st;
        r->n_images = tr.n_images;
    }
    r->length = tr.length;
    uint64_t tag = ((uint64_t)source << MIX_SOURCE_SHIFT) | (tr.source_record & ((1ull << MIX_SOURCE_SHIFT) - 1));
    return ts_tokfile_add(w, tag, r, err);
}

static uint64_t shard_samples(const build_ctx *b) {
    return b->o->shard_samples ? b->o->shard_samples : DEFAULT_SHARD_SAMPLES;
}

typedef struct mix_run {
    ts_mix_plan *plan;
} mix_run;

static ts_status run_mix(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err) {
    (void)resume;
    mix_run *m = arg;
    char dir[4096], path[4096];
    build_path(b, "mix", dir, sizeof dir);
    ts_status st = ts_mkdirs(dir, err);
    build_path(b, PLAN_FILE, path, sizeof path);
    if (!st) st = ts_mix_plan_write(m->plan, path, b->threads, err);
    if (st) return st;
    /* Every source's tokenized samples open for random access in plan
     * order: memory is one record buffer per source, whatever the blend's size. */
    ts_tokfile **files = calloc(b->n_src ? b->n_src : 1, sizeof *files);
    if (!files) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n_src && !st; i++) {
        char tiles[4096], tok[4096];
        prepared_paths(b, &b->src[i], tiles, tok, sizeof tiles);
        st = ts_tokfile_open(tok, &files[i], err);
    }
    /* Plan positions [k * per, (k + 1) * per) go to mixed file k, packed
     * later into packed shard k. */
    uint64_t per = shard_samples(b);
    uint64_t tok_hash = b->n_src && files[0] ? ts_tokfile_tokenizer_hash(files[0]) : 0;
    ts_tokfile_writer *w = NULL;
    size_t n_files = 0;
    ts_progress *p = st ? NULL : ts_progress_new("build: mix", m->plan->total, "samples");
    ts_chat_result r;
    memset(&r, 0, sizeof r);
    char rel[64];
    for (uint64_t pos = 0; pos < m->plan->total && !st; pos++) {
        if (pos % per == 0) {
            if (w && (st = ts_tokfile_finish(w, err))) break;
            w = NULL;
            if (n_files && (st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err))) break;
            snprintf(rel, sizeof rel, MIXED_FMT, n_files++);
            build_path(b, rel, path, sizeof path);
            if ((st = ts_tokfile_create(path, tok_hash, &w, err))) break;
        }
        ts_mix_item it;
        ts_mix_item_at(m->plan, pos, &it);
        st = copy_record(w, files[it.source], it.record, it.source, &r, err);
        if (st) ts_error_context(err, "plan item %" PRIu64 " (%s record %" PRIu64 ")", pos, b->src[it.source].rs->name,
                                 it.record);
        ts_progress_add(p, 1, 0);
    }
    ts_progress_finish(p);
    ts_chat_result_free(&r);
    if (w) {
        if (st) ts_tokfile_abort(w);
        else st = ts_tokfile_finish(w, err);
        if (!st) st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err);
    }
    for (size_t i = 0; i < b->n_src; i++) ts_tokfile_close(files[i]);
    free(files);
    if (!st) st = ts_stage_outputs_add_file(&s->outputs, b->root, PLAN_FILE, err);
    if (st) return st;
    cJSON *info = cJSON_CreateObject(), *srcs = cJSON_CreateArray();
    if (!info || !srcs) {
        cJSON_Delete(info);
        cJSON_Delete(srcs);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(info, "samples", (double)m->plan->total);
    cJSON_AddNumberToObject(info, "files", (double)n_files);
    cJSON_AddItemToObject(info, "sources", srcs);
    for (size_t i = 0; i < m->plan->n_sources; i++) {
        const ts_mix_source_plan *sp = &m->plan->src[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) return ts_fail(err, TS_ENOMEM, "out of memory");
        cJSON_AddStringToObject(o, "name", sp->name);
        cJSON_AddNumberToObject(o, "available", (double)sp->available);
        cJSON_AddNumberToObject(o, "target", (double)sp->target);
        cJSON_AddNumberToObject(o, "epochs", (double)sp->epochs);
        cJSON_AddBoolToObject(o, "capped", sp->capped);
        cJSON_AddItemToArray(srcs, o);
    }
    s->info = info;
    return TS_OK;
}

ts_status build_mix(build_ctx *b, ts_error *err) {
    build_stage *s = &b->mix;
    ts_mix_plan plan;
    memset(&plan, 0, sizeof plan);
    ts_stage_key *k = &s->key;
    const ts_recipe *r = b->recipe;
    ts_status st = key_begin(s, "mix", LEVEL_MIX, err);
    if (!st) st = ts_stage_key_add_u64(k, "shard_samples", shard_samples(b), err);
    if (!st) st = ts_stage_key_add_u64(k, "seed", r->seed, err);
    if (!st) st = ts_stage_key_add_u64(k, "target_kind", (uint64_t)r->target_kind, err);
    if (!st) st = ts_stage_key_add_u64(k, "target", r->target, err);
    for (size_t i = 0; i < b->n_src && !st; i++) {
        const ts_recipe_source *rs = &r->sources[i];
        char line[256];
        snprintf(line, sizeof line, "%s amount=%d weight_units=%" PRIu64 " target=%" PRIu64 " max_epochs=%u", rs->name,
                 (int)rs->amount, rs->weight_units, rs->target, rs->max_epochs);
        st = ts_stage_key_add(k, "source", line, err);
        if (!st) st = ts_stage_key_add_hash(k, "samples", data_digest(&b->src[i].prepare), err);
    }
    if (!st) st = make_plan(b, &plan, err);
    mix_run m = {&plan};
    if (!st) st = build_stage_run(b, s, "mix", 0, run_mix, &m, err);
    ts_mix_plan_free(&plan);
    return st;
}

/* ---- pack ---- */

static ts_status run_pack(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err) {
    (void)arg;
    (void)resume;
    char dir[4096];
    build_path(b, PACKED_DIR, dir, sizeof dir);
    ts_status st = ts_mkdirs(dir, err);
    if (st) return st;
    /* The sources' tile shards (the packer records them relative to the
     * packed shard's folder: the same bytes whatever -o is). */
    char **tiles = calloc(b->n_src ? b->n_src : 1, sizeof *tiles);
    if (!tiles) return ts_fail(err, TS_ENOMEM, "out of memory");
    size_t n_tiles = 0;
    for (size_t i = 0; i < b->n_src && !st; i++) {
        char t[4096], tok[4096], rel[700];
        prepared_paths(b, &b->src[i], t, tok, sizeof t);
        snprintf(rel, sizeof rel, "%s/tiles.tstiles", b->src[i].prepared_rel);
        int listed = 0;
        for (size_t j = 0; j < b->src[i].prepare.outputs.n; j++)
            listed |= strcmp(b->src[i].prepare.outputs.v[j].path, rel) == 0;
        if (!listed) continue; /* a text-only source has no tiles */
        if (!(tiles[n_tiles] = strdup(t))) st = ts_fail(err, TS_ENOMEM, "out of memory");
        else n_tiles++;
    }
    ts_pack_options po;
    ts_pack_options_default(&po);
    po.max_len = b->recipe->max_len ? b->recipe->max_len : 4096;
    po.tile_shards = (const char *const *)tiles;
    po.n_tile_shards = n_tiles;
    po.recipe_hash = b->recipe->hash.hi;
    /* Each mixed file (the mix stage's outputs, in order) into its shard. */
    ts_pack_stats ps;
    memset(&ps, 0, sizeof ps);
    size_t n_shards = 0;
    for (size_t i = 0; i < b->mix.outputs.n && !st; i++) {
        const char *mixed_rel = b->mix.outputs.v[i].path;
        if (strncmp(mixed_rel, "mix/mixed-", 10) != 0) continue;
        char mixed[4096], out[4096], rel[64];
        build_path(b, mixed_rel, mixed, sizeof mixed);
        snprintf(rel, sizeof rel, PACKED_FMT, n_shards++);
        build_path(b, rel, out, sizeof out);
        const char *inputs[1] = {mixed};
        ts_pack_stats one;
        memset(&one, 0, sizeof one);
        st = ts_pack_files(inputs, 1, out, &po, &one, err);
        if (!st) st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err);
        ps.samples_in += one.samples_in;
        ps.samples_packed += one.samples_packed;
        ps.sequences += one.sequences;
        ps.tokens += one.tokens;
        ps.positions += one.positions;
        ps.truncated += one.truncated;
        ps.dropped_overlong += one.dropped_overlong;
        ps.dropped_empty += one.dropped_empty;
        ps.dropped_no_labels += one.dropped_no_labels;
        ps.images += one.images;
        ps.images_with_tiles += one.images_with_tiles;
    }
    for (size_t i = 0; i < n_tiles; i++) free(tiles[i]);
    free(tiles);
    if (st) return st;
    cJSON *info = cJSON_CreateObject();
    if (!info) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(info, "max_len", po.max_len);
    cJSON_AddNumberToObject(info, "shards", (double)n_shards);
    cJSON_AddNumberToObject(info, "samples", (double)ps.samples_in);
    cJSON_AddNumberToObject(info, "samples_packed", (double)ps.samples_packed);
    cJSON_AddNumberToObject(info, "sequences", (double)ps.sequences);
    cJSON_AddNumberToObject(info, "tokens", (double)ps.tokens);
    cJSON_AddNumberToObject(info, "positions", (double)ps.positions);
    cJSON_AddNumberToObject(info, "fill", ps.sequences ? (double)ps.positions / ((double)ps.sequences * po.max_len) : 0);
    cJSON_AddNumberToObject(info, "truncated", (double)ps.truncated);
    cJSON *drops = cJSON_AddObjectToObject(info, "dropped_by_reason");
    if (drops) {
        cJSON_AddNumberToObject(drops, "overlong", (double)ps.dropped_overlong);
        cJSON_AddNumberToObject(drops, "empty", (double)ps.dropped_empty);
        cJSON_AddNumberToObject(drops, "no_labels", (double)ps.dropped_no_labels);
    }
    cJSON_AddNumberToObject(info, "images", (double)ps.images);
    cJSON_AddNumberToObject(info, "images_with_tiles", (double)ps.images_with_tiles);
    s->info = info;
    return TS_OK;
}

ts_status build_pack(build_ctx *b, ts_error *err) {
    build_stage *s = &b->pack;
    ts_stage_key *k = &s->key;
    ts_pack_options po;
    ts_pack_options_default(&po);
    ts_status st = key_begin(s, "pack", LEVEL_PACK, err);
    if (!st) st = ts_stage_key_add_hash(k, "mixed", data_digest(&b->mix), err);
    for (size_t i = 0; i < b->n_src && !st; i++) st = ts_stage_key_add_hash(k, "tiles", data_digest(&b->src[i].prepare), err);
    if (!st) st = ts_stage_key_add_u64(k, "max_len", b->recipe->max_len ? b->recipe->max_len : 4096, err);
    if (!st) st = ts_stage_key_add_u64(k, "window", po.window, err);
    if (!st) st = ts_stage_key_add_f64(k, "min_fill", po.min_fill, err);
    if (!st) st = ts_stage_key_add_u64(k, "seqs_per_block", po.seqs_per_block, err);
    if (!st) st = ts_stage_key_add_u64(k, "zstd_level", (uint64_t)po.zstd_level, err);
    if (!st) st = ts_stage_key_add_u64(k, "overlong", (uint64_t)po.overlong, err);
    if (!st) st = ts_stage_key_add_u64(k, "recipe_hash", b->recipe->hash.hi, err); /* in the shards' header */
    if (!st) st = build_stage_run(b, s, PACKED_DIR, 0, run_pack, NULL, err);
    return st;
}

/* ---- export.energon: the blend YAML over the sources' Energon datasets ---- */

static ts_status run_export_energon(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err) {
    (void)resume;
    char path[4096];
    build_path(b, BLEND_YAML, path, sizeof path);
    ts_status st = ts_recipe_metadataset_write(b->recipe, arg, "", path, err);
    if (!st) st = ts_stage_outputs_add_file(&s->outputs, b->root, BLEND_YAML, err);
    return st;
}

ts_status build_export_energon(build_ctx *b, ts_error *err) {
    build_stage *s = &b->export_energon;
    ts_stage_key *k = &s->key;
    ts_mix_plan plan;
    memset(&plan, 0, sizeof plan);
    ts_status st = key_begin(s, "export.energon", LEVEL_EXPORT, err);
    if (!st) st = ts_stage_key_add_hash(k, "plan", data_digest(&b->mix), err);
    for (size_t i = 0; i < b->n_src && !st; i++) {
        const ts_recipe_source *rs = b->src[i].rs;
        char *sf = rs->subflavors ? cJSON_PrintUnformatted(rs->subflavors) : NULL;
        char line[1024];
        snprintf(line, sizeof line, "%s energon=%s split=%s subflavors=%s", rs->name, rs->energon, rs->split,
                 sf ? sf : "null");
        free(sf);
        st = ts_stage_key_add(k, "source", line, err);
    }
    if (!st) st = make_plan(b, &plan, err);
    if (!st) st = build_stage_run(b, s, BLEND_YAML, 0, run_export_energon, &plan, err);
    ts_mix_plan_free(&plan);
    return st;
}

/* ---- export.megatron.<source>: text-only sources as .bin/.idx ---- */

static ts_status run_export_megatron(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err) {
    (void)resume;
    build_source *bs = arg;
    char dir[4096], prefix[4096], tiles[4096], tok[4096], rel[700];
    build_path(b, "megatron", dir, sizeof dir);
    ts_status st = ts_mkdirs(dir, err);
    if (!st) st = load_tokenizer(b, err);
    if (st) return st;
    snprintf(rel, sizeof rel, "megatron/%s", bs->rs->name);
    build_path(b, rel, prefix, sizeof prefix);
    prepared_paths(b, bs, tiles, tok, sizeof tiles);
    /* Each tokenized sample's ids become one document (records with images
     * are skipped and counted; a text-only source has none). */
    ts_megatron_options mo;
    ts_megatron_options_default(&mo);
    mo.threads = b->threads;
    ts_megatron_summary ms;
    memset(&ms, 0, sizeof ms);
    if ((st = ts_megatron_export_tokfile(tok, b->tok, &mo, prefix, &ms, err))) return st;
    snprintf(rel, sizeof rel, "megatron/%s.bin", bs->rs->name);
    st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err);
    snprintf(rel, sizeof rel, "megatron/%s.idx", bs->rs->name);
    if (!st) st = ts_stage_outputs_add_file(&s->outputs, b->root, rel, err);
    if (st) return st;
    cJSON *info = cJSON_CreateObject();
    if (!info) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(info, "documents", (double)ms.documents);
    cJSON_AddNumberToObject(info, "sequences", (double)ms.sequences);
    cJSON_AddNumberToObject(info, "tokens", (double)ms.tokens);
    cJSON_AddNumberToObject(info, "skipped_with_images", (double)ms.failed);
    cJSON_AddStringToObject(info, "dtype", ts_megatron_dtype_name(ms.dtype));
    s->info = info;
    return TS_OK;
}

ts_status build_export_megatron(build_ctx *b, build_source *bs, ts_error *err) {
    build_stage *s = &bs->megatron;
    char name[128];
    snprintf(name, sizeof name, "export.megatron.%s", bs->rs->name);
    ts_stage_key *k = &s->key;
    ts_status st = key_begin(s, name, LEVEL_EXPORT, err);
    if (!st) st = ts_stage_key_add_hash(k, "samples", data_digest(&bs->prepare), err);
    if (!st) st = ts_stage_key_add_u64(k, "tokenizer_xxh3", b->tokenizer_xxh3, err);
    if (st) return st;
    /* Nothing to clean first: the writer replaces both files, .idx last. */
    return build_stage_run(b, s, NULL, 0, run_export_megatron, bs, err);
}
