/* tessera prepare: one source's samples -> tile shard + tokenized samples. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/json.h"
#include "core/log.h"
#include "ingest/energon_reader.h"
#include "pipeline/prepare.h"

static const char usage[] =
    "usage: tessera prepare DATASET -o OUTPREFIX --tokenizer tokenizer.json [options]\n"
    "\n"
    "Turn one source into what packing and feature extraction read\n"
    "(docs/PREPARE.md): OUTPREFIX.tiles (tile shard, one record per distinct\n"
    "image, keyed by its xxh3-128), OUTPREFIX.tok (tokenized samples, rendered\n"
    "by Megatron's NVLM TaskEncoder rules) and OUTPREFIX.stats.json, each\n"
    "written atomically. DATASET is a Megatron-Energon dataset folder or a\n"
    "binary sample-records file. Prints one JSON line per dropped sample and\n"
    "the stats as the last line on stdout.\n"
    "\n"
    "  -o, --output PREFIX    output prefix\n"
    "      --tokenizer FILE   Hugging Face tokenizer.json (Qwen2)\n"
    "      --layout d|x|h     NVLM-D (default), NVLM-X or NVLM-H token layout\n"
    "      --form megatron|hf one <image> token per image (default) or\n"
    "                         HF/vLLM's tags + <|vision_pad|> per tile\n"
    "      --max-len N        sequence budget; over it, images are re-tiled\n"
    "                         6->4->2->1, then the sample is dropped (default: none)\n"
    "      --max-tiles N      grid tiles per image, 1..6 (default 6; 1 = pretraining)\n"
    "      --seed S           prompt and answer draws (default 0)\n"
    "      --vqa-sft-prompts  VQA questions in a VQASFT prompt template\n"
    "      --split LIST       Energon split parts: train (default), val, test, all\n"
    "      --image-token-id N Megatron's <image> id (default 151646)\n"
    "      --no-tiles         write no tile shard (images are not decoded)\n"
    "  -j, --threads N        worker threads (default: all CPUs)\n"
    "      --batch N          samples per batch (default 16 x threads)\n"
    "\n"
    "Exit status: 0 every sample kept, 1 some dropped (reported), 2 usage\n"
    "error, 3 fatal error (no output).\n";

static int run_prepare(int argc, char **argv);

TS_COMMAND(prepare, "prepare", "samples -> tile shard + tokenized samples (per source)", usage, run_prepare)

enum {
    OPT_TOKENIZER = 256, OPT_LAYOUT, OPT_FORM, OPT_MAX_LEN, OPT_MAX_TILES, OPT_SEED, OPT_VQASFT, OPT_SPLIT,
    OPT_IMAGE_TOKEN, OPT_NO_TILES, OPT_BATCH
};

static int run_prepare(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},          {"tokenizer", required_argument, 0, OPT_TOKENIZER},
        {"layout", required_argument, 0, OPT_LAYOUT},    {"form", required_argument, 0, OPT_FORM},
        {"max-len", required_argument, 0, OPT_MAX_LEN},  {"max-tiles", required_argument, 0, OPT_MAX_TILES},
        {"seed", required_argument, 0, OPT_SEED},        {"vqa-sft-prompts", no_argument, 0, OPT_VQASFT},
        {"split", required_argument, 0, OPT_SPLIT},      {"image-token-id", required_argument, 0, OPT_IMAGE_TOKEN},
        {"no-tiles", no_argument, 0, OPT_NO_TILES},      {"threads", required_argument, 0, 'j'},
        {"batch", required_argument, 0, OPT_BATCH},      {0, 0, 0, 0}};
    const ts_command *self = &ts_command_prepare;
    ts_prepare_options o;
    ts_prepare_options_default(&o);
    o.report = stdout;
    const char *prefix = NULL, *tok_path = NULL;
    int tiles = 1;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:j:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': prefix = optarg; break;
        case OPT_TOKENIZER: tok_path = optarg; break;
        case OPT_LAYOUT:
            if (ts_chat_layout_parse(optarg, &o.layout)) return ts_command_usage_error(self, "bad --layout '%s'", optarg);
            break;
        case OPT_FORM:
            if (ts_chat_form_parse(optarg, &o.form)) return ts_command_usage_error(self, "bad --form '%s'", optarg);
            break;
        case OPT_MAX_LEN:
            if (!ts_parse_long(optarg, 0, 1L << 30, &v)) return ts_command_usage_error(self, "bad --max-len");
            o.max_len = (int)v;
            break;
        case OPT_MAX_TILES:
            if (!ts_parse_long(optarg, 1, TS_CHAT_MAX_CAP, &v)) return ts_command_usage_error(self, "bad --max-tiles (1..6)");
            o.chat.max_tiles = (int)v;
            break;
        case OPT_SEED: {
            char *end;
            o.chat.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) return ts_command_usage_error(self, "bad --seed");
            break;
        }
        case OPT_VQASFT: o.chat.vqa_sft_prompts = 1; break;
        case OPT_SPLIT:
            if (ts_energon_split_parse(optarg, &o.splits)) return ts_command_usage_error(self, "bad --split '%s'", optarg);
            break;
        case OPT_IMAGE_TOKEN:
            if (!ts_parse_long(optarg, 0, INT32_MAX, &v)) return ts_command_usage_error(self, "bad --image-token-id");
            o.image_token_id = (int32_t)v;
            break;
        case OPT_NO_TILES: tiles = 0; break;
        case 'j':
            if (!ts_parse_long(optarg, 1, 4096, &v)) return ts_command_usage_error(self, "bad --threads");
            o.threads = (int)v;
            break;
        case OPT_BATCH:
            if (!ts_parse_long(optarg, 1, 1L << 20, &v)) return ts_command_usage_error(self, "bad --batch");
            o.batch = (int)v;
            break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (!prefix) return ts_command_usage_error(self, "no -o OUTPREFIX given");
    if (!tok_path) return ts_command_usage_error(self, "no --tokenizer given");
    if (argc - optind != 1) return ts_command_usage_error(self, "give exactly one DATASET");

    size_t n = strlen(prefix) + 16;
    char *tiles_path = malloc(n), *tokf = malloc(n), *stats_path = malloc(n);
    ts_tokenizer *tok = NULL;
    ts_error err;
    ts_error_clear(&err);
    ts_status st = tiles_path && tokf && stats_path ? TS_OK : ts_fail(&err, TS_ENOMEM, "out of memory");
    if (!st) {
        snprintf(tiles_path, n, "%s.tiles", prefix);
        snprintf(tokf, n, "%s.tok", prefix);
        snprintf(stats_path, n, "%s.stats.json", prefix);
        o.tiles_path = tiles ? tiles_path : NULL;
        o.tok_path = tokf;
        o.stats_path = stats_path;
        st = ts_tokenizer_load(tok_path, &tok, &err);
    }
    ts_prepare_stats stats;
    o.tokenizer = tok;
    if (!st) st = ts_prepare_run(argv[optind], &o, &stats, &err);
    if (!st) {
        cJSON *j = ts_prepare_stats_json(&stats);
        st = j ? ts_json_write_line(stdout, j, &err) : ts_fail(&err, TS_ENOMEM, "out of memory");
        cJSON_Delete(j);
    }
    fflush(stdout);
    ts_tokenizer_free(tok);
    free(tiles_path);
    free(tokf);
    free(stats_path);
    if (st) {
        ts_error_log("prepare: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    ts_info("prepare: %llu samples in, %llu kept, %llu dropped; %llu tile records, %llu tiles; %.2f s",
            (unsigned long long)stats.in, (unsigned long long)stats.kept, (unsigned long long)stats.dropped,
            (unsigned long long)stats.tile_records, (unsigned long long)stats.tiles, stats.seconds_total);
    return stats.dropped ? TS_EXIT_PARTIAL : TS_EXIT_OK;
}
