/* tessera inspect: a packed shard's summary, or one sequence as text. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/json.h"
#include "core/log.h"
#include "shards/pack.h"
#include "tokenize/tokenizer.h"

static int inspect_run(int argc, char **argv);

TS_COMMAND(inspect, "inspect", "summary of a packed shard, or one sequence as text",
           "usage: tessera inspect SHARD.tspack [--seq I [--tokenizer tokenizer.json]]\n"
           "  Without --seq: reads (so verifies) every sequence and prints one JSON line:\n"
           "  sequences, samples, tokens, positions, fill, images, header hashes, the\n"
           "  packer's statistics (meta) and the input and tile shard paths the meta\n"
           "  records, resolved against the shard's folder (input_paths, tile_shard_paths).\n"
           "  With --seq I: sequence I as text on stdout, one\n"
           "  header line per sample, image slots as [image N: T tiles, D/megatron, ...];\n"
           "  tokens decoded with the tokenizer when given, else shown as [id].\n",
           inspect_run)

/* The path as a JSON string (quotes and escapes included); caller frees. */
static char *json_quoted(const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *q = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return q;
}

/* The meta's input or tile shard paths, resolved, as a JSON array (caller frees). */
static char *resolved_paths(const ts_pack_reader *r, const char *list,
                            ts_status (*get)(const ts_pack_reader *, size_t, ts_buf *, ts_error *), ts_error *err,
                            ts_status *st) {
    cJSON *meta = cJSON_Parse(ts_pack_meta(r)), *out = cJSON_CreateArray();
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(meta, list));
    ts_buf path = TS_BUF_INIT;
    for (int i = 0; i < n && out && !*st; i++) {
        *st = get(r, (size_t)i, &path, err);
        if (!*st) cJSON_AddItemToArray(out, cJSON_CreateString((const char *)path.data));
    }
    ts_buf_free(&path);
    char *text = out && !*st ? cJSON_PrintUnformatted(out) : NULL;
    if (!*st && !text) *st = ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_Delete(meta);
    cJSON_Delete(out);
    return text;
}

static int inspect_run(int argc, char **argv) {
    enum { OPT_SEQ = 256, OPT_TOKENIZER };
    static const struct option longopts[] = {{"seq", required_argument, 0, OPT_SEQ},
                                             {"tokenizer", required_argument, 0, OPT_TOKENIZER},
                                             {0, 0, 0, 0}};
    const ts_command *self = &ts_command_inspect;
    const char *tok_path = NULL;
    long seq = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SEQ:
            if (!ts_parse_long(optarg, 0, INT64_MAX, &seq)) return ts_command_usage_error(self, "bad --seq");
            break;
        case OPT_TOKENIZER: tok_path = optarg; break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (optind != argc - 1) return ts_command_usage_error(self, "give exactly one SHARD");
    ts_error err = {0};
    ts_pack_reader *r = NULL;
    ts_tokenizer *tok = NULL;
    ts_status st = ts_pack_open(argv[optind], &r, &err);
    if (!st && tok_path) st = ts_tokenizer_load(tok_path, &tok, &err);
    if (!st && seq >= 0) {
        ts_pack_seq s = {0};
        ts_buf out = TS_BUF_INIT;
        st = ts_pack_get(r, (uint64_t)seq, &s, &err);
        if (!st) st = ts_pack_render(&s, tok, &out, &err);
        if (!st && fwrite(out.data, 1, out.len, stdout) != out.len) st = ts_fail(&err, TS_EIO, "writing stdout failed");
        ts_buf_free(&out);
        ts_pack_seq_free(&s);
    } else if (!st) {
        ts_pack_summary m;
        st = ts_pack_summarize(r, &m, &err);
        const ts_pack_header *h = ts_pack_info(r);
        char *q = json_quoted(argv[optind]);
        char *inputs = resolved_paths(r, "inputs", ts_pack_input_path, &err, &st);
        char *tiles = resolved_paths(r, "tile_shards", ts_pack_tile_shard_path, &err, &st);
        if (!st)
            printf("{\"path\":%s,\"sequences\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"tokens\":%" PRIu64
                   ",\"positions\":%" PRIu64 ",\"max_len\":%u,\"fill\":%.6f,\"longest\":%u,\"truncated\":%" PRIu64
                   ",\"images\":%" PRIu64 ",\"images_with_hash\":%" PRIu64 ",\"images_with_tiles\":%" PRIu64 ",\"images_with_features\":%" PRIu64
                   ",\"tokenizer_xxh3_64\":\"%016" PRIx64 "\",\"params_xxh3_64\":\"%016" PRIx64
                   "\",\"recipe_xxh3_64\":\"%016" PRIx64 "\",\"input_paths\":%s,\"tile_shard_paths\":%s,\"meta\":%s}\n",
                   q ? q : "null", m.sequences, m.samples, m.tokens, m.positions, h->max_len,
                   m.sequences ? (double)m.positions / ((double)m.sequences * h->max_len) : 0.0, m.longest, m.truncated,
                   m.images, m.images_with_hash, m.images_with_tiles, m.images_with_features, h->tokenizer_hash, h->params_hash,
                   h->recipe_hash, inputs, tiles, ts_pack_meta(r));
        free(q);
        free(inputs);
        free(tiles);
    }
    ts_tokenizer_free(tok);
    ts_pack_close(r);
    if (st) {
        ts_error_log("inspect: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    return TS_EXIT_OK;
}
