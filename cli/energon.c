/* tessera energon: sample records -> a Megatron-Energon dataset. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/log.h"
#include "ingest/energon.h"

static const char usage[] =
    "usage: tessera energon INPUT -o DIR [options]\n"
    "\n"
    "Write sample records as a Megatron-Energon dataset (docs/ENERGON.md) that\n"
    "Megatron-LM's NVLM recipe loads. INPUT is JSON lines of sample records\n"
    "(docs/SAMPLE.md; images as file paths relative to INPUT's folder, or\n"
    "base64), .gz/.zst compressed or not, \"-\" for stdin, or a binary records\n"
    "file. A line {\"dropped\": \"REASON\"} counts a record dropped upstream.\n"
    "Prints one JSON line per shard and a summary line on stdout.\n"
    "\n"
    "  -o, --output DIR       dataset folder (must not hold a dataset yet)\n"
    "      --type T           caption (CaptioningSample), vqa (VQASample),\n"
    "                         ocr (OCRSample), interleaved\n"
    "                         (SimilarityInterleavedSample: multi-turn and text\n"
    "                         SFT); default: from the first record's task\n"
    "      --shard-size BYTES shard size target (default 1000000000)\n"
    "      --prefix NAME      shard names NAME-000000.tar (default shard)\n"
    "      --val-every N      every Nth shard goes to the val split (default: none)\n"
    "      --test-every N     every Nth shard goes to the test split (default: none)\n"
    "      --max-images N     interleaved: most images per sample (default 1,\n"
    "                         as NVLM SFT with tile tags requires; 0 = no limit)\n"
    "      --allow-routing    allow keys/prefix containing llava, docvqa, pdfa or\n"
    "                         multi (Megatron routes encoders on them)\n"
    "\n"
    "Exit status: 0 every record written, 1 some records dropped here (logged;\n"
    "upstream drop reports do not count), 2 usage error, 3 fatal error.\n";

static int run_energon(int argc, char **argv);

TS_COMMAND(energon, "energon", "write sample records as a Megatron-Energon dataset", usage, run_energon)

enum { OPT_TYPE = 256, OPT_SHARD_SIZE, OPT_PREFIX, OPT_VAL, OPT_TEST, OPT_MAX_IMAGES, OPT_ROUTING };

static int run_energon(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},         {"type", required_argument, 0, OPT_TYPE},
        {"shard-size", required_argument, 0, OPT_SHARD_SIZE}, {"prefix", required_argument, 0, OPT_PREFIX},
        {"val-every", required_argument, 0, OPT_VAL},   {"test-every", required_argument, 0, OPT_TEST},
        {"max-images", required_argument, 0, OPT_MAX_IMAGES},
        {"allow-routing", no_argument, 0, OPT_ROUTING}, {0, 0, 0, 0}};
    const ts_command *self = &ts_command_energon;
    ts_energon_options o;
    ts_energon_options_default(&o);
    o.report = stdout;
    const char *dir = NULL;
    int type_given = 0;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case OPT_TYPE:
            if (ts_energon_type_parse(optarg, &o.type)) return ts_command_usage_error(self, "bad --type '%s'", optarg);
            type_given = 1;
            break;
        case OPT_SHARD_SIZE:
            if (!ts_parse_long(optarg, 4096, 1L << 50, &v)) return ts_command_usage_error(self, "bad --shard-size");
            o.shard_bytes = (uint64_t)v;
            break;
        case OPT_PREFIX: o.prefix = optarg; break;
        case OPT_VAL:
            if (!ts_parse_long(optarg, 2, 1L << 30, &v)) return ts_command_usage_error(self, "bad --val-every (>= 2)");
            o.val_every = (unsigned)v;
            break;
        case OPT_TEST:
            if (!ts_parse_long(optarg, 2, 1L << 30, &v)) return ts_command_usage_error(self, "bad --test-every (>= 2)");
            o.test_every = (unsigned)v;
            break;
        case OPT_MAX_IMAGES:
            if (!ts_parse_long(optarg, 0, 1L << 20, &v)) return ts_command_usage_error(self, "bad --max-images");
            o.max_images = (unsigned)v;
            break;
        case OPT_ROUTING: o.allow_routing_substrings = 1; break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (!dir) return ts_command_usage_error(self, "no -o DIR given");
    if (argc - optind != 1) return ts_command_usage_error(self, "give exactly one INPUT");

    ts_energon_run_stats stats;
    ts_error err;
    ts_error_clear(&err);
    ts_status st = ts_energon_run(argv[optind], dir, &o, !type_given, &stats, &err);
    fflush(stdout);
    if (st) {
        ts_error_log("energon: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    ts_info("energon: %llu records in, %llu written, %llu dropped, %llu shards, %llu bytes",
            (unsigned long long)stats.counts.records_in, (unsigned long long)stats.counts.written,
            (unsigned long long)stats.counts.dropped, (unsigned long long)stats.counts.shards,
            (unsigned long long)stats.counts.bytes);
    return stats.refused ? TS_EXIT_PARTIAL : TS_EXIT_OK;
}
