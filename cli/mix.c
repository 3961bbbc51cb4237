/* tessera mix: blend recipes -> mix plans, plan dumps, Energon blend YAML. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/json.h"
#include "core/log.h"
#include "mixers/mix.h"
#include "mixers/recipe.h"

static const char usage[] =
    "usage: tessera mix RECIPE --counts COUNTS [-o PLAN] [--metadataset YAML] [options]\n"
    "       tessera mix RECIPE --metadataset YAML [--energon-root ROOT]\n"
    "       tessera mix --check RECIPE\n"
    "       tessera mix --dump PLAN [--limit N]\n"
    "\n"
    "Plan a training mix from a blend recipe (docs/MIXING.md). With COUNTS (the\n"
    "available samples, and tokens, of each source) it prints each source's\n"
    "planned count and epochs as JSON lines and a summary line; -o writes the\n"
    "mixed order of every item as a plan file. --metadataset writes the Energon\n"
    "v1 Metadataset YAML for Megatron-LM (weights: the planned shares when\n"
    "COUNTS is given, else the recipe's weights).\n"
    "\n"
    "  -c, --counts FILE       available counts per source (JSON object)\n"
    "  -o, --output PLAN       write the plan file (.tsmix)\n"
    "      --seed N            override the recipe's seed\n"
    "      --threads N         threads for writing the plan (default: all CPUs)\n"
    "      --metadataset YAML  write the Energon blend YAML\n"
    "      --energon-root ROOT the folder holding the sources' Energon datasets,\n"
    "                          absolute or relative to YAML's folder (default: YAML's folder)\n"
    "      --check             list which sources have a manifest; exit 1 if any lacks one\n"
    "      --dump              print a plan file as JSON lines (header, sources, items)\n"
    "      --limit N           --dump: at most N items\n"
    "\n"
    "Exit status: 0 ok, 1 --check found missing/invalid manifests or the plan\n"
    "falls short of the target (capped sources), 2 usage error, 3 fatal error.\n";

static int run_mix(int argc, char **argv);

TS_COMMAND(mix, "mix", "plan a seeded blend of sources; plan files, Energon blend YAML", usage, run_mix)

enum { OPT_SEED = 256, OPT_THREADS, OPT_METADATASET, OPT_ROOT, OPT_CHECK, OPT_DUMP, OPT_LIMIT };

static const char *amount_name(ts_mix_amount a) {
    return a == TS_MIX_SAMPLES ? "samples" : a == TS_MIX_TOKENS ? "tokens" : a == TS_MIX_WEIGHT ? "weight" : "none";
}

static ts_status emit(cJSON *o, ts_error *err) {
    ts_status st = o ? ts_json_write_line(stdout, o, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_Delete(o);
    return st;
}

static int check(const char *recipe_path) {
    ts_error err;
    ts_recipe *r = NULL;
    if (ts_recipe_load(recipe_path, &r, &err)) {
        ts_error_log("mix: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    size_t ok = 0, missing = 0, invalid = 0;
    for (size_t i = 0; i < r->n_sources; i++) {
        ts_status st = ts_recipe_check_manifest(&r->sources[i], &err);
        const char *status = st == TS_OK ? "ok" : st == TS_ENOTFOUND ? "missing" : "invalid";
        ok += st == TS_OK;
        missing += st == TS_ENOTFOUND;
        invalid += st != TS_OK && st != TS_ENOTFOUND;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "source", r->sources[i].name);
        cJSON_AddStringToObject(o, "manifest", r->sources[i].manifest_path);
        cJSON_AddStringToObject(o, "status", status);
        if (st) cJSON_AddStringToObject(o, "message", err.msg);
        emit(o, NULL);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "recipe", r->path);
    cJSON_AddNumberToObject(o, "sources", (double)r->n_sources);
    cJSON_AddNumberToObject(o, "ok", (double)ok);
    cJSON_AddNumberToObject(o, "missing", (double)missing);
    cJSON_AddNumberToObject(o, "invalid", (double)invalid);
    emit(o, NULL);
    ts_info("mix: %s: %zu of %zu sources have a manifest (%zu missing, %zu invalid)", r->path, ok, r->n_sources,
            missing, invalid);
    int rc = ok == r->n_sources ? TS_EXIT_OK : TS_EXIT_PARTIAL;
    ts_recipe_free(r);
    return rc;
}

static cJSON *header_json(const ts_mix_plan *p) {
    char hash[33];
    ts_hash128_hex(p->recipe_hash, hash);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "recipe_hash", hash);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    cJSON_AddNumberToObject(o, "items", (double)p->total);
    cJSON_AddStringToObject(o, "target_kind", amount_name(p->target_kind));
    cJSON_AddNumberToObject(o, "target", (double)p->target);
    cJSON_AddNumberToObject(o, "sources", (double)p->n_sources);
    return o;
}

static cJSON *source_json(const ts_mix_plan *p, size_t i) {
    const ts_mix_source_plan *s = &p->src[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "source_id", (double)i);
    cJSON_AddStringToObject(o, "source", s->name);
    cJSON_AddNumberToObject(o, "available", (double)s->available);
    cJSON_AddNumberToObject(o, "tokens", (double)s->tokens);
    cJSON_AddNumberToObject(o, "target", (double)s->target);
    cJSON_AddNumberToObject(o, "share", p->total ? (double)s->target / (double)p->total : 0.0);
    cJSON_AddNumberToObject(o, "epochs", (double)s->epochs);
    cJSON_AddNumberToObject(o, "full_epochs", (double)s->full_epochs);
    cJSON_AddNumberToObject(o, "partial", (double)s->partial);
    cJSON_AddBoolToObject(o, "capped", s->capped);
    return o;
}

static int dump(const char *path, long limit) {
    ts_error err;
    ts_mix_reader *r = NULL;
    if (ts_mix_reader_open(path, &r, &err)) {
        ts_error_log("mix: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    const ts_mix_plan *p = ts_mix_reader_header(r);
    ts_status st = emit(header_json(p), &err);
    for (size_t i = 0; i < p->n_sources && !st; i++) st = emit(source_json(p, i), &err);
    ts_mix_item it;
    char line[160];
    uint64_t i = 0;
    while (!st && (limit < 0 || i < (uint64_t)limit) && !(st = ts_mix_reader_next(r, &it, &err))) {
        int n = snprintf(line, sizeof line, "{\"i\":%" PRIu64 ",\"source_id\":%" PRIu32 ",\"epoch\":%" PRIu32
                         ",\"record\":%" PRIu64 "}\n", i, it.source, it.epoch, it.record);
        if (fwrite(line, 1, (size_t)n, stdout) != (size_t)n) st = ts_fail(&err, TS_EIO, "writing stdout");
        i++;
    }
    ts_mix_reader_close(r);
    if (st && st != TS_ENOTFOUND) {
        ts_error_log("mix: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    return TS_EXIT_OK;
}

typedef struct mix_args {
    const char *recipe, *counts, *output, *yaml, *root;
    int use_seed, threads;
    uint64_t seed;
} mix_args;

static int plan(const mix_args *a) {
    ts_error err;
    ts_recipe *r = NULL;
    ts_mix_count *counts = NULL;
    ts_mix_plan p = {0};
    int have_plan = 0, rc = TS_EXIT_OK;
    ts_status st = ts_recipe_load(a->recipe, &r, &err);
    if (!st && a->counts) {
        counts = calloc(r->n_sources, sizeof *counts);
        st = counts ? ts_mix_counts_load(a->counts, r, counts, &err) : ts_fail(&err, TS_ENOMEM, "out of memory");
        if (!st) st = ts_recipe_plan(r, counts, a->use_seed, a->seed, &p, &err);
        have_plan = !st;
    }
    for (size_t i = 0; have_plan && i < p.n_sources && !st; i++) st = emit(source_json(&p, i), &err);
    if (have_plan && !st) {
        cJSON *o = header_json(&p);
        cJSON_AddStringToObject(o, "recipe", r->path);
        if (a->output) cJSON_AddStringToObject(o, "plan", a->output);
        st = emit(o, &err);
        if (p.target_kind == TS_MIX_SAMPLES && p.total < p.target) {
            ts_warn("mix: %s: %" PRIu64 " items planned, short of the target %" PRIu64
                    " (every weighted source is capped by max_epochs)", r->path, p.total, p.target);
            rc = TS_EXIT_PARTIAL;
        }
    }
    if (!st && a->output) st = ts_mix_plan_write(&p, a->output, a->threads, &err);
    if (!st && a->yaml) st = ts_recipe_metadataset_write(r, have_plan ? &p : NULL, a->root, a->yaml, &err);
    if (!st && have_plan)
        ts_info("mix: %s: %" PRIu64 " items over %zu sources%s%s", r->path, p.total, r->n_sources,
                a->output ? ", plan " : "", a->output ? a->output : "");
    if (!st && a->yaml) ts_info("mix: %s: blend %s", r->path, a->yaml);
    if (st) {
        ts_error_log("mix: %s", err.msg);
        rc = TS_EXIT_FATAL;
    }
    ts_mix_plan_free(&p);
    free(counts);
    ts_recipe_free(r);
    return rc;
}

static int run_mix(int argc, char **argv) {
    static const struct option longopts[] = {
        {"counts", required_argument, 0, 'c'},      {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, OPT_SEED},   {"threads", required_argument, 0, OPT_THREADS},
        {"metadataset", required_argument, 0, OPT_METADATASET}, {"energon-root", required_argument, 0, OPT_ROOT},
        {"check", no_argument, 0, OPT_CHECK},       {"dump", no_argument, 0, OPT_DUMP},
        {"limit", required_argument, 0, OPT_LIMIT}, {0, 0, 0, 0}};
    const ts_command *self = &ts_command_mix;
    mix_args a = {.root = ""};
    int do_check = 0, do_dump = 0;
    long limit = -1, v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': a.counts = optarg; break;
        case 'o': a.output = optarg; break;
        case OPT_SEED: {
            char *end;
            a.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end || *optarg == '-') return ts_command_usage_error(self, "bad --seed");
            a.use_seed = 1;
            break;
        }
        case OPT_THREADS:
            if (!ts_parse_long(optarg, 0, 1024, &v)) return ts_command_usage_error(self, "bad --threads");
            a.threads = (int)v;
            break;
        case OPT_METADATASET: a.yaml = optarg; break;
        case OPT_ROOT: a.root = optarg; break;
        case OPT_CHECK: do_check = 1; break;
        case OPT_DUMP: do_dump = 1; break;
        case OPT_LIMIT:
            if (!ts_parse_long(optarg, 0, 1L << 62, &limit)) return ts_command_usage_error(self, "bad --limit");
            break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (argc - optind != 1) return ts_command_usage_error(self, "give exactly one RECIPE (or PLAN with --dump)");
    if (do_check + do_dump > 1) return ts_command_usage_error(self, "--check and --dump exclude each other");
    if (do_check) return check(argv[optind]);
    if (do_dump) return dump(argv[optind], limit);
    a.recipe = argv[optind];
    if (a.output && !a.counts) return ts_command_usage_error(self, "-o needs --counts");
    if (!a.counts && !a.yaml) return ts_command_usage_error(self, "give --counts and/or --metadataset");
    return plan(&a);
}
