/* tessera pack: tokenized-sample files to one packed training shard. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "mixers/recipe.h"
#include "shards/pack.h"

static int pack_run(int argc, char **argv);

TS_COMMAND(pack, "pack", "pack tokenized samples into fixed-length training sequences (docs/PACKING.md)",
           "usage: tessera pack IN.tstok [IN2.tstok ...] -o OUT.tspack --max-len N [options]\n"
           "       tessera pack --lengths FILE --max-len N [--window W] [--min-fill F]\n"
           "  Packs whole samples into sequences of at most N positions (image tokens\n"
           "  counted expanded), choosing each sequence from a window of W samples.\n"
           "  Prints one JSON summary line on stdout. The shard records its inputs and\n"
           "  tile shards as paths relative to OUT's folder (docs/PACKING.md §2).\n"
           "  --max-len N          positions per sequence (required)\n"
           "  --window W           samples held for choosing (memory bound; default 1000)\n"
           "  --min-fill F         a bin is kept once at least F full, else its samples wait\n"
           "                       for newer ones (default 0.999; the last window keeps all)\n"
           "  --overlong MODE      truncate (default) or drop samples longer than N\n"
           "  --tiles SHARD        tile shard to resolve image hashes in (repeatable)\n"
           "  --features CACHE     ViT feature cache (tessera features -o): flag the images\n"
           "                       whose features it holds for their tile record's tiling\n"
           "  --seqs-per-block K   sequences per compressed block (default 8)\n"
           "  --zstd-level L       1..19 (default 3)\n"
           "  --recipe FILE        record the blend recipe's hash in the header\n"
           "  --lengths FILE       plan only: one sample length per line; prints the fill\n",
           pack_run)

/* The hash `tessera build` records: the recipe's canonical-JSON xxh3-128, high half. */
static ts_status recipe_hash(const char *path, uint64_t *out, ts_error *err) {
    ts_recipe *r = NULL;
    ts_status st = ts_recipe_load(path, &r, err);
    if (st) return st;
    *out = r->hash.hi;
    ts_recipe_free(r);
    return TS_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int plan_lengths(const char *path, const ts_pack_options *o) {
    ts_error err = {0};
    ts_line_reader *r = NULL;
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    ts_status st = ts_line_reader_open(&r, path, &err);
    const char *line;
    size_t len;
    while (!st && (st = ts_line_reader_next(r, &line, &len, &err)) == TS_OK) {
        long x;
        if (!ts_parse_long(line, 0, UINT32_MAX, &x)) {
            st = ts_fail(&err, TS_EFORMAT, "%s: line %" PRIu64 ": not a length", path, ts_line_reader_line_number(r));
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint32_t *p = realloc(v, cap * sizeof *v);
            if (!p) {
                st = ts_fail(&err, TS_ENOMEM, "out of memory");
                break;
            }
            v = p;
        }
        v[n++] = (uint32_t)x;
    }
    if (st == TS_ENOTFOUND) st = TS_OK;
    ts_line_reader_close(r);
    uint64_t bins = 0, total = 0, over = 0;
    double t0 = now_s();
    if (!st) st = ts_binpack_lengths(v, n, o->max_len, o->window, o->min_fill, &bins, &total, &over, &err);
    double dt = now_s() - t0;
    free(v);
    if (st) {
        ts_error_log("pack: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    printf("{\"items\":%zu,\"sequences\":%" PRIu64 ",\"positions\":%" PRIu64 ",\"fill\":%.6f,\"over_max_len\":%" PRIu64
           ",\"seconds\":%.6f}\n",
           n, bins, total, bins ? (double)total / ((double)bins * o->max_len) : 0.0, over, dt);
    return TS_EXIT_OK;
}

/* The path as a JSON string (quotes and escapes included); caller frees. */
static char *json_quoted(const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *q = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return q;
}

static int pack_run(int argc, char **argv) {
    enum { OPT_MAX_LEN = 256, OPT_WINDOW, OPT_OVERLONG, OPT_TILES, OPT_SPB, OPT_ZSTD, OPT_LENGTHS, OPT_MIN_FILL, OPT_RECIPE, OPT_FEATURES };
    static const struct option longopts[] = {{"max-len", required_argument, 0, OPT_MAX_LEN},
                                             {"window", required_argument, 0, OPT_WINDOW},
                                             {"overlong", required_argument, 0, OPT_OVERLONG},
                                             {"tiles", required_argument, 0, OPT_TILES},
                                             {"seqs-per-block", required_argument, 0, OPT_SPB},
                                             {"zstd-level", required_argument, 0, OPT_ZSTD},
                                             {"lengths", required_argument, 0, OPT_LENGTHS},
                                             {"min-fill", required_argument, 0, OPT_MIN_FILL},
                                             {"recipe", required_argument, 0, OPT_RECIPE},
                                             {"features", required_argument, 0, OPT_FEATURES},
                                             {"out", required_argument, 0, 'o'},
                                             {0, 0, 0, 0}};
    const ts_command *self = &ts_command_pack;
    ts_pack_options o;
    ts_pack_options_default(&o);
    const char *out = NULL, *lengths = NULL, *recipe = NULL;
    const char **tiles = calloc((size_t)argc, sizeof *tiles);
    if (!tiles) return TS_EXIT_FATAL;
    size_t n_tiles = 0;
    long v;
    int c, bad = 0;
    optind = 1;
    while (!bad && (c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_MAX_LEN: bad = !ts_parse_long(optarg, 1, TS_PACK_MAX_LEN_LIMIT, &v), o.max_len = (uint32_t)v; break;
        case OPT_WINDOW: bad = !ts_parse_long(optarg, 1, 1 << 24, &v), o.window = (uint32_t)v; break;
        case OPT_SPB: bad = !ts_parse_long(optarg, 1, 65536, &v), o.seqs_per_block = (uint32_t)v; break;
        case OPT_ZSTD: bad = !ts_parse_long(optarg, 1, 19, &v), o.zstd_level = (int)v; break;
        case OPT_TILES: tiles[n_tiles++] = optarg; break;
        case OPT_LENGTHS: lengths = optarg; break;
        case OPT_RECIPE: recipe = optarg; break;
        case OPT_FEATURES: o.feature_cache = optarg; break;
        case OPT_MIN_FILL: {
            char *end = NULL;
            o.min_fill = strtod(optarg, &end);
            bad = !end || *end || !(o.min_fill > 0 && o.min_fill <= 1);
            break;
        }
        case OPT_OVERLONG:
            if (!strcmp(optarg, "truncate")) o.overlong = TS_PACK_TRUNCATE;
            else if (!strcmp(optarg, "drop")) o.overlong = TS_PACK_DROP;
            else bad = 1;
            break;
        default: bad = 1;
        }
    }
    int rc;
    if (bad) rc = ts_command_usage_error(self, "bad option");
    else if (!o.max_len) rc = ts_command_usage_error(self, "--max-len is required");
    else if (lengths) rc = optind == argc ? plan_lengths(lengths, &o) : ts_command_usage_error(self, "--lengths takes no inputs");
    else if (!out || optind == argc) rc = ts_command_usage_error(self, "give inputs and -o OUT");
    else {
        o.tile_shards = tiles;
        o.n_tile_shards = n_tiles;
        ts_pack_stats s;
        ts_error err = {0};
        double t0 = now_s();
        ts_status st = recipe ? recipe_hash(recipe, &o.recipe_hash, &err) : TS_OK;
        if (!st) st = ts_pack_files((const char *const *)argv + optind, (size_t)(argc - optind), out, &o, &s, &err);
        double dt = now_s() - t0;
        if (st) {
            ts_error_log("pack: %s", err.msg);
            rc = TS_EXIT_FATAL;
        } else {
            char *q = json_quoted(out);
            printf("{\"out\":%s,\"samples_in\":%" PRIu64 ",\"samples_packed\":%" PRIu64 ",\"sequences\":%" PRIu64
                   ",\"tokens\":%" PRIu64 ",\"positions\":%" PRIu64 ",\"fill\":%.6f,\"truncated\":%" PRIu64
                   ",\"dropped\":{\"over_max_len\":%" PRIu64 ",\"empty\":%" PRIu64
                   ",\"no_labels_after_truncation\":%" PRIu64 "},\"images\":%" PRIu64 ",\"images_with_tiles\":%" PRIu64 ",\"images_with_features\":%" PRIu64
                   ",\"seconds\":%.3f}\n",
                   q ? q : "null", s.samples_in, s.samples_packed, s.sequences, s.tokens, s.positions,
                   s.sequences ? (double)s.positions / ((double)s.sequences * o.max_len) : 0.0, s.truncated,
                   s.dropped_overlong, s.dropped_empty, s.dropped_no_labels, s.images, s.images_with_tiles,
                   s.images_with_features, dt);
            free(q);
            rc = TS_EXIT_OK;
        }
    }
    free(tiles);
    return rc;
}
