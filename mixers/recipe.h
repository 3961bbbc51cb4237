/* Blend recipes (schema: docs/MIXING.md; recipes in manifests/recipes/):
 * which sources make up a training mix, how much of each (a weight, a sample
 * count or a token count), the seed and the output settings. A recipe names
 * its sources by their source manifests (manifests/sources/<name>.json,
 * ingest/source.h), given relative to the recipe's folder.
 *
 * Loading checks the whole document: unknown keys, wrong types and bad
 * values fail with TS_EINVAL and a message naming the recipe file and the
 * JSON path ("demo.json: $.sources[2].weight: must be a number > 0"). */
#ifndef TS_MIXERS_RECIPE_H
#define TS_MIXERS_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/hash.h"
#include "mixers/mix.h"

typedef struct cJSON cJSON;

typedef struct ts_recipe_source {
    char *name;          /* [A-Za-z0-9_-]{1,63}, unique in the recipe */
    char *manifest;      /* as written: relative to the recipe's folder */
    char *manifest_path; /* resolved: recipe folder + manifest */
    char *energon;       /* Energon dataset folder below the blend's root (default: name) */
    char *split;         /* Energon split part to read (default "train") */
    ts_mix_amount amount;
    double weight;          /* TS_MIX_WEIGHT, as written */
    uint64_t weight_units;  /* llround(weight * TS_MIX_WEIGHT_SCALE) */
    uint64_t target;        /* TS_MIX_SAMPLES / TS_MIX_TOKENS */
    uint32_t max_epochs;    /* 0: no limit */
    const cJSON *subflavors; /* object or NULL (owned by the recipe) */
} ts_recipe_source;

typedef struct ts_recipe {
    char *path;
    char *name;
    char *stage;        /* "pretrain" or "sft" */
    uint64_t seed;
    uint32_t max_len;   /* output settings; 0 / "" when not given */
    char layout;        /* 'D', 'X', 'H' or 0 */
    char *form;         /* "megatron", "hf" or "" */
    char *tokenizer;    /* free text (path or name) or "" */
    ts_mix_amount target_kind; /* TS_MIX_NONE, TS_MIX_SAMPLES or TS_MIX_TOKENS */
    uint64_t target;
    ts_recipe_source *sources;
    size_t n_sources;
    ts_hash128 hash;    /* xxh3-128 of the canonical JSON (keys sorted, no whitespace) */
    cJSON *doc;
} ts_recipe;

ts_status ts_recipe_load(const char *path, ts_recipe **out, ts_error *err);
void ts_recipe_free(ts_recipe *r);

/* Does the source's manifest exist and name the same source? TS_OK,
 * TS_ENOTFOUND (no file yet) or TS_EFORMAT (unreadable JSON, other name). */
ts_status ts_recipe_check_manifest(const ts_recipe_source *s, ts_error *err);

/* Available counts per source, from a counts file (docs/MIXING.md): a JSON
 * object mapping source names to {"samples": N, "tokens": T} (tokens
 * optional) or to a bare sample count. Names the recipe does not use are
 * ignored; a recipe source missing from it is an error. `out` has one slot
 * per recipe source, in recipe order. */
typedef struct ts_mix_count {
    uint64_t samples, tokens; /* tokens 0: unknown */
} ts_mix_count;
ts_status ts_mix_counts_load(const char *path, const ts_recipe *r, ts_mix_count *out, ts_error *err);

/* The plan of a recipe over these counts; `seed` overrides the recipe's seed
 * when use_seed is set. Records the recipe's hash in the plan. */
ts_status ts_recipe_plan(const ts_recipe *r, const ts_mix_count *counts, int use_seed, uint64_t seed,
                         ts_mix_plan *out, ts_error *err);

/* The Energon v1 Metadataset YAML of the recipe (mixers/metadataset.h):
 * one train dataset per source at "<root>/<energon>" (root as Energon will
 * resolve it: absolute, or relative to the YAML's folder; "" = the YAML's
 * folder), with the source's subflavors and split part. Weights: with a
 * plan, each source's share of the planned items (sources planned at 0 items
 * are left out); without one, the recipe's weights (every source must then
 * have a weight). */
ts_status ts_recipe_metadataset_write(const ts_recipe *r, const ts_mix_plan *plan, const char *root,
                                      const char *yaml_path, ts_error *err);

#endif
