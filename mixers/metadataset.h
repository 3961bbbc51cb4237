/* Megatron-Energon blend files: the v1 metadataset YAML that Megatron-LM's
 * NVLM recipe takes as --data-path (docs/ENERGON.md):
 *
 *   __module__: megatron.energon
 *   __class__: Metadataset
 *   splits:
 *     train:
 *       datasets:
 *       - weight: 0.579
 *         path: "laion"
 *         subflavors: {"augmentation": false}
 *         split_part: "val"          (only when not the default)
 *     val:
 *       datasets: [...]
 *
 * Energon normalizes weights by their sum within a split and resolves
 * relative paths against the YAML file's folder; paths are written as given.
 * Weights are written in the shortest form that reads back to the same
 * double (always with a '.', so YAML 1.1 loaders see a float). */
#ifndef TS_MIXERS_METADATASET_H
#define TS_MIXERS_METADATASET_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

typedef struct cJSON cJSON;

typedef struct ts_blend_entry {
    const char *path;         /* dataset folder or nested metadataset .yaml */
    double weight;            /* finite, > 0 */
    const cJSON *subflavors;  /* object or NULL; "augmentation": false is added when absent */
} ts_blend_entry;

/* Render the YAML into `out` (appended). `val` may be empty (no val split). */
ts_status ts_metadataset_render(const ts_blend_entry *train, size_t n_train, const ts_blend_entry *val,
                                size_t n_val, ts_buf *out, ts_error *err);
/* Render and write atomically to `path`. */
ts_status ts_metadataset_write(const char *path, const ts_blend_entry *train, size_t n_train,
                               const ts_blend_entry *val, size_t n_val, ts_error *err);

/* The same with a split part per train dataset (Energon's split_part: which
 * of the dataset's split parts to read). train_parts may be NULL; an entry
 * that is NULL or "train" (the default) is not written. */
ts_status ts_metadataset_render_parts(const ts_blend_entry *train, const char *const *train_parts, size_t n_train,
                                      const ts_blend_entry *val, size_t n_val, ts_buf *out, ts_error *err);
ts_status ts_metadataset_write_parts(const char *path, const ts_blend_entry *train, const char *const *train_parts,
                                     size_t n_train, const ts_blend_entry *val, size_t n_val, ts_error *err);

/* Shortest decimal that strtod() reads back to `v`, with a '.' ("1.0",
 * "0.579", "1.0e-05"). `out` needs 32 bytes. */
void ts_format_weight(double v, char out[32]);

#endif
