/* tessera features: tile shards -> InternViT features -> feature cache. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/json.h"
#include "core/log.h"
#include "features/cache.h"
#include "features/features.h"

static const char usage[] =
    "usage: tessera features --model DIR -i TILES [-i TILES...] -o CACHE [options]\n\n"
    "Runs the InternViT encoder of DIR (config.json + safetensors; NVLM-D's\n"
    "vision_model.* with padded heads works too) on every image of the tile\n"
    "shards (from `tessera tile -o`) and stores the features (256 x 12800 per\n"
    "448 px tile, CLS dropped, pixel-shuffled) in the feature cache CACHE\n"
    "(docs/FEATURES.md). Images already in CACHE for this model and tiling\n"
    "are skipped, so an interrupted run resumes. One JSON summary on stdout.\n\n"
    "  --device cuda|cpu  default: cuda when a GPU is there, else the CPU reference\n"
    "  --batch N          tiles per forward (default 8, the fastest on an H200)\n"
    "  --dtype bf16|fp8   stored precision (default bf16; fp8 = e4m3 + per-token scale)\n"
    "  --shard-size MB    start a new cache shard past this size (default 2048)\n"
    "  -j, --threads N    CPU threads (default: all)\n";

static int run_features(int argc, char **argv);
TS_COMMAND(features, "features", "encode tiles with InternViT into a feature cache", usage,
           run_features)

enum { OPT_MODEL = 256, OPT_DEVICE, OPT_BATCH, OPT_DTYPE, OPT_SHARD };

static int run_features(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, OPT_MODEL},  {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},       {"device", required_argument, 0, OPT_DEVICE},
        {"batch", required_argument, 0, OPT_BATCH},  {"dtype", required_argument, 0, OPT_DTYPE},
        {"shard-size", required_argument, 0, OPT_SHARD}, {"threads", required_argument, 0, 'j'},
        {0, 0, 0, 0}};
    const ts_command *self = &ts_command_features;
    ts_features_options o = {NULL, NULL, -1, 8, 0, TS_FEAT_BF16, 0};
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    int ninputs = 0, c, rc = TS_EXIT_OK;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:j:", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_MODEL: o.model_dir = optarg; break;
        case 'i': inputs[ninputs++] = optarg; break;
        case 'o': o.cache_dir = optarg; break;
        case OPT_DEVICE:
            if (!strcmp(optarg, "cuda")) o.device = TS_VIT_DEVICE_CUDA;
            else if (!strcmp(optarg, "cpu")) o.device = TS_VIT_DEVICE_CPU;
            else rc = ts_command_usage_error(self, "unknown --device '%s'", optarg);
            break;
        case OPT_BATCH:
            if (!ts_parse_long(optarg, 1, 4096, &v)) rc = ts_command_usage_error(self, "bad --batch");
            o.batch = (int)v;
            break;
        case OPT_DTYPE:
            if (ts_feat_dtype_parse(optarg) < 0) rc = ts_command_usage_error(self, "bad --dtype '%s'", optarg);
            else o.dtype = (ts_feat_dtype)ts_feat_dtype_parse(optarg);
            break;
        case OPT_SHARD:
            if (!ts_parse_long(optarg, 1, 1L << 20, &v)) rc = ts_command_usage_error(self, "bad --shard-size");
            o.shard_bytes = (uint64_t)v << 20;
            break;
        case 'j':
            if (!ts_parse_long(optarg, 1, 1024, &v)) rc = ts_command_usage_error(self, "bad --threads");
            o.threads = (int)v;
            break;
        default: rc = ts_command_usage_error(self, "unknown option");
        }
        if (rc != TS_EXIT_OK) break;
    }
    if (rc == TS_EXIT_OK && optind < argc)
        rc = ts_command_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (rc == TS_EXIT_OK && (!o.model_dir || !o.cache_dir || ninputs == 0))
        rc = ts_command_usage_error(self, "--model, -i and -o are required");
    if (rc != TS_EXIT_OK) {
        free(inputs);
        return rc;
    }
    ts_features_stats st;
    ts_error err;
    ts_error_clear(&err);
    ts_status s = ts_features_run(inputs, ninputs, &o, &st, &err);
    free(inputs);
    if (s != TS_OK) {
        ts_error_log("features: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "cache", o.cache_dir);
    cJSON_AddStringToObject(j, "device", st.device == TS_VIT_DEVICE_CUDA ? "cuda" : "cpu");
    cJSON_AddNumberToObject(j, "images", (double)st.images);
    cJSON_AddNumberToObject(j, "tiles", (double)st.tiles);
    cJSON_AddNumberToObject(j, "skipped", (double)st.skipped);
    cJSON_AddNumberToObject(j, "failed", (double)st.failed);
    cJSON_AddNumberToObject(j, "shards_written", st.shards);
    ts_json_write_line(stdout, j, NULL);
    cJSON_Delete(j);
    return st.failed ? TS_EXIT_PARTIAL : TS_EXIT_OK;
}
