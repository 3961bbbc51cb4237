/* Internals of `tessera build` shared by its files (pipeline/build*.c). */
#ifndef TS_PIPELINE_BUILD_INTERNAL_H
#define TS_PIPELINE_BUILD_INTERNAL_H

#include <cjson/cJSON.h>

#include "ingest/source.h"
#include "mixers/mix.h"
#include "mixers/recipe.h"
#include "pipeline/build.h"
#include "pipeline/stage_stamp.h"
#include "tokenize/tokenizer.h"

/* Stage levels, in pipeline order: --force LEVEL redoes that level and all after it. */
enum { LEVEL_INGEST = 1, LEVEL_PREPARE, LEVEL_MIX, LEVEL_PACK, LEVEL_EXPORT, LEVEL_NONE = 100 };

typedef struct build_stage {
    char name[160];
    int level;
    ts_stage_key key;
    ts_stage_outputs outputs; /* what it wrote (this run) or what its stamp lists (skipped) */
    cJSON *info;              /* the stage's counts, kept in its stamp */
    double seconds;           /* this run; 0 when skipped */
    double stamped_seconds;   /* the run that made the outputs */
    int ran;                  /* 1 ran now, 0 skipped */
    uint64_t trusted, rehashed, rehashed_bytes; /* its stamp's check (ts_stamp_check) */
    char why[512];            /* why it ran */
} build_stage;

typedef struct build_source {
    const ts_recipe_source *rs;
    ts_source *src;
    int text_only;            /* stage text: also exported to Megatron .bin/.idx */
    build_stage ingest, prepare, megatron;
    char energon_rel[512];    /* "energon/<energon>" below the root */
    char prepared_rel[512];   /* "prepared/<name>" */
    uint64_t samples, tokens; /* in its tokenized samples (from prepare's info) */
} build_source;

typedef struct build_ctx {
    const ts_build_options *o;
    char *root;               /* the output folder */
    int lock_fd;              /* DIR/.lock, flock'ed for the whole run */
    ts_recipe *recipe;
    build_source *src;
    size_t n_src;
    char *tokenizer_path;
    uint64_t tokenizer_xxh3, tokenizer_bytes;
    ts_tokenizer *tok;        /* loaded when a stage needs it */
    int threads;
    int force_level;
    build_stage mix, pack, export_energon;
    unsigned n_stages, stage_no;
    uint64_t trusted, rehashed, rehashed_bytes; /* over every stamp checked */
    /* "<data digest hex> <stage>\n" per stage rebuilt because its outputs
     * had changed: a later stage whose key holds such a digest may have read
     * the damaged bytes, so it is rebuilt too. */
    ts_buf repaired;
    double started;
} build_ctx;

/* Run one stage: skip it when its stamp is valid (and it is not forced),
 * else clean `clean_rel` (a file or folder below the root; NULL: nothing),
 * unless the stage may resume and an interrupted run had the same key, then
 * call fn and stamp the outputs it listed in s->outputs. */
typedef ts_status (*build_stage_fn)(build_ctx *b, build_stage *s, void *arg, int resume, ts_error *err);
ts_status build_stage_run(build_ctx *b, build_stage *s, const char *clean_rel, int may_resume, build_stage_fn fn,
                          void *arg, ts_error *err);
void build_stage_free(build_stage *s);
/* The digest of a stage's data outputs (run logs left out) that later
 * stages' keys hold (pipeline/build_stages.c). */
ts_hash128 build_data_digest(const build_stage *s);
/* "ROOT/rel" into out (size n). */
void build_path(const build_ctx *b, const char *rel, char *out, size_t n);
double build_now(void);

/* The stages (pipeline/build_stages.c). */
ts_status build_ingest(build_ctx *b, build_source *s, ts_error *err);
ts_status build_prepare(build_ctx *b, build_source *s, ts_error *err);
ts_status build_mix(build_ctx *b, ts_error *err);
ts_status build_pack(build_ctx *b, ts_error *err);
ts_status build_export_energon(build_ctx *b, ts_error *err);
ts_status build_export_megatron(build_ctx *b, build_source *s, ts_error *err);

/* DIR/manifest.json (pipeline/build_manifest.c). */
ts_status build_write_manifest(build_ctx *b, ts_error *err);

#endif
