/* `tessera build RECIPE -o DIR`: a blend recipe (mixers/recipe.h) to
 * training-ready outputs, as one pipeline (docs/BUILD.md):
 *
 *   per source   ingest.<src>    source manifest -> Energon dataset      DIR/energon/<energon>/
 *                prepare.<src>   Energon dataset -> tile shard +
 *                                tokenized samples                       DIR/prepared/<src>/
 *   blend        mix             per-source counts -> mix plan            DIR/mix/plan.tsmix
 *                                + the tokenized samples in plan order    DIR/mix/mixed-NNNNNN.tok
 *                pack            each mixed file -> one packed shard      DIR/packed/packed-NNNNNN.tspack
 *   exports      export.energon  Energon v1 Metadataset YAML (Megatron-LM
 *                                NVLM recipe) over the Energon datasets   DIR/energon/metadataset.yaml
 *                export.megatron.<src>  Megatron .bin/.idx, text-only
 *                                sources                                  DIR/megatron/<src>.bin/.idx
 *   run manifest                                                          DIR/manifest.json
 *
 * Stage skipping: every stage has a content key (pipeline/stage_stamp.h)
 * over the hashes of its inputs (the source manifest, the outputs of the
 * stages it reads, the tokenizer file), the parameters that shape its
 * bytes and the tool version. A stage whose stamp holds the same key and
 * whose outputs are still the files stamped (same size, mtime, inode and
 * device; else, or with `verify`, re-hashed to the same xxh3) is skipped;
 * any other is redone from
 * a clean folder, except an interrupted ingest with the same key, which
 * resumes (ingest/ingest.h).
 *
 * Crash safety: every file is written through core's atomic writers and a
 * stamp is written only once its stage's outputs are complete, so after a
 * kill -9 a re-run redoes at most the stages that had not finished, and the
 * outputs equal an uninterrupted build's byte for byte.
 *
 * One build at a time per DIR: a second one fails at once (DIR/.lock).
 *
 * Determinism: the outputs (all but DIR/manifest.json's timings and the
 * per-shard timing files of the Energon datasets' stats/ folders) depend only
 * on the recipe, its sources, the seed and the tool version, never on -j. */
#ifndef TS_PIPELINE_BUILD_H
#define TS_PIPELINE_BUILD_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct ts_build_options {
    const char *recipe;    /* recipe JSON path */
    const char *out_dir;   /* DIR */
    int jobs;              /* threads for every stage; <= 0: all CPUs */
    int use_local;         /* read the sources' local test copies */
    /* Redo this stage and everything after it even when its stamp is valid:
     * "ingest", "prepare", "mix", "pack", "export" or "all" (NULL: none). */
    const char *force;
    /* The tokenizer.json; NULL: the recipe's output.tokenizer when it names
     * a file (relative to the recipe's folder). */
    const char *tokenizer;
    uint64_t max_records;  /* per source, 0: all (tests and quick looks) */
    uint64_t shard_samples; /* mixed samples per packed shard; 0: 1,000,000 */
    /* Re-hash every output of every stamp checked. Default (0): an output
     * whose size, mtime, inode and device match its stamp is trusted
     * unread (pipeline/stage_stamp.h). */
    int verify;
    FILE *report;          /* one JSON line per stage, then the summary; may be NULL */
} ts_build_options;

void ts_build_options_default(ts_build_options *o);

typedef struct ts_build_stats {
    unsigned stages, ran, skipped;
    uint64_t samples;   /* samples in the mix */
    uint64_t sequences; /* packed sequences */
    uint64_t tokens;    /* tokens in packed sequences */
    uint64_t trusted_files;   /* outputs of stamps checked, trusted on their identity */
    uint64_t rehashed_files, rehashed_bytes; /* ... read and re-hashed */
    double seconds;
} ts_build_stats;

/* Run the build. On failure nothing already complete is lost: a re-run
 * continues from the stages that finished. */
ts_status ts_build_run(const ts_build_options *o, ts_build_stats *stats, ts_error *err);

/* Stage groups accepted by `force`. 0 ok, -1 unknown. */
int ts_build_force_check(const char *name);

#endif
