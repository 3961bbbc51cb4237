/* A recipe as an Energon v1 Metadataset YAML (mixers/metadataset.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixers/metadataset.h"
#include "mixers/recipe.h"

ts_status ts_recipe_metadataset_write(const ts_recipe *r, const ts_mix_plan *plan, const char *root,
                                      const char *yaml_path, ts_error *err) {
    if (plan && plan->n_sources != r->n_sources)
        return ts_fail(err, TS_EINVAL, "%s: the plan is not of this recipe", r->path);
    if (plan && plan->total == 0) return ts_fail(err, TS_EINVAL, "%s: the plan has no items", r->path);
    for (size_t i = 0; i < r->n_sources && !plan; i++)
        if (r->sources[i].amount != TS_MIX_WEIGHT)
            return ts_fail(err, TS_EINVAL,
                           "%s: source %s has a %s target, not a weight: give the counts to derive weights", r->path,
                           r->sources[i].name, r->sources[i].amount == TS_MIX_SAMPLES ? "sample" : "token");
    ts_blend_entry *e = calloc(r->n_sources, sizeof *e);
    const char **parts = calloc(r->n_sources, sizeof *parts);
    char **paths = calloc(r->n_sources, sizeof *paths);
    ts_status st = (!e || !parts || !paths) ? ts_fail(err, TS_ENOMEM, "out of memory") : TS_OK;
    size_t n = 0;
    for (size_t i = 0; i < r->n_sources && !st; i++) {
        const ts_recipe_source *s = &r->sources[i];
        if (plan && plan->src[i].target == 0) continue; /* Energon weights must be > 0 */
        size_t len = strlen(root) + strlen(s->energon) + 2;
        if (!(paths[n] = malloc(len))) {
            st = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        snprintf(paths[n], len, "%s%s%s", root, *root && root[strlen(root) - 1] != '/' ? "/" : "", s->energon);
        e[n].path = paths[n];
        e[n].weight = plan ? (double)plan->src[i].target / (double)plan->total : s->weight;
        e[n].subflavors = s->subflavors;
        parts[n] = s->split;
        n++;
    }
    if (!st) st = ts_metadataset_write_parts(yaml_path, e, parts, n, NULL, 0, err);
    for (size_t i = 0; paths && i < r->n_sources; i++) free(paths[i]);
    free(paths);
    free(parts);
    free(e);
    return st;
}
