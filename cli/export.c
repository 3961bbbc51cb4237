/* tessera export: trainer-side formats. Flags only; the work is in shards/. */
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "shards/megatron.h"

static const char USAGE[] =
    "usage: tessera export megatron IN -o PREFIX [options]\n"
    "Write PREFIX.bin and PREFIX.idx, a Megatron-LM indexed dataset (docs/MEGATRON.md).\n"
    "IN is a tokenized-sample file (tessera tokenize --chat ... --out F; one record per\n"
    "document) or JSON lines tokenized on the fly (needs --tokenizer; '-' is stdin).\n"
    "options:\n"
    "  -o PREFIX              output prefix (PREFIX.bin, PREFIX.idx)\n"
    "  --tokenizer T.json     Hugging Face tokenizer.json (JSON lines input; picks the dtype)\n"
    "  --field NAME           JSON string member holding the text (default text)\n"
    "  --eod TOKEN            appended to every non-empty JSON-lines document (default <|endoftext|>)\n"
    "  --no-eod               append nothing\n"
    "  --dtype uint16|int32   element type (default: Megatron's rule, uint16 for a vocabulary under\n"
    "                         65,500 ids, else int32; int32 without --tokenizer)\n"
    "  -j N                   tokenizing threads (default: all CPUs); output never depends on it\n"
    "Prints one JSON line: documents, sequences, tokens, failed, dtype, bytes and xxh3 of both files.\n"
    "Exit status: 0 ok, 1 some records skipped (warnings name them), 2 usage, 3 fatal (nothing written).\n";

static int run_export(int argc, char **argv);

TS_COMMAND(export, "export", "trainer formats: Megatron-LM .bin/.idx from tokens or text", USAGE, run_export)

static int run_export(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "megatron") != 0)
        return ts_command_usage_error(&ts_command_export, "the only format is megatron");
    const char *in = NULL, *prefix = NULL, *tok_path = NULL;
    ts_megatron_options o;
    ts_megatron_options_default(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (TAKE("-o") || TAKE("--output")) prefix = v;
        else if (TAKE("--tokenizer")) tok_path = v;
        else if (TAKE("--field")) o.field = v;
        else if (TAKE("--eod")) o.eod = v;
        else if (strcmp(a, "--no-eod") == 0) o.no_eod = 1;
        else if (TAKE("--dtype")) {
            if (strcmp(v, "uint16") == 0) o.dtype = TS_MEGATRON_UINT16;
            else if (strcmp(v, "int32") == 0) o.dtype = TS_MEGATRON_INT32;
            else return ts_command_usage_error(&ts_command_export, "--dtype must be uint16 or int32, not %s", v);
        } else if (TAKE("-j") || TAKE("--threads")) {
            long x;
            if (!ts_parse_long(v, 0, 4096, &x)) return ts_command_usage_error(&ts_command_export, "bad -j %s", v);
            o.threads = (int)x;
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !in) {
            in = a;
        } else {
            return ts_command_usage_error(&ts_command_export, "unknown or incomplete option %s", a);
        }
#undef TAKE
    }
    if (!in || !prefix) return ts_command_usage_error(&ts_command_export, "need IN and -o PREFIX");
    ts_error err = {0};
    ts_tokenizer *tok = NULL;
    if (tok_path && ts_tokenizer_load(tok_path, &tok, &err)) {
        ts_error_log("export: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    ts_megatron_summary s;
    ts_status st = ts_megatron_export(in, tok, &o, prefix, &s, &err);
    ts_tokenizer_free(tok);
    if (st) {
        ts_error_log("export: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    char bin_hash[17], idx_hash[17];
    ts_hash64_hex(s.bin_xxh3, bin_hash);
    ts_hash64_hex(s.idx_xxh3, idx_hash);
    cJSON *o_json = cJSON_CreateObject();
    int ok = o_json && cJSON_AddStringToObject(o_json, "format", "megatron") &&
             cJSON_AddStringToObject(o_json, "prefix", prefix) &&
             cJSON_AddNumberToObject(o_json, "documents", (double)s.documents) &&
             cJSON_AddNumberToObject(o_json, "sequences", (double)s.sequences) &&
             cJSON_AddNumberToObject(o_json, "tokens", (double)s.tokens) &&
             cJSON_AddNumberToObject(o_json, "failed", (double)s.failed) &&
             cJSON_AddStringToObject(o_json, "dtype", ts_megatron_dtype_name(s.dtype)) &&
             cJSON_AddNumberToObject(o_json, "dtype_code", (double)s.dtype) &&
             cJSON_AddNumberToObject(o_json, "bin_bytes", (double)s.bin_bytes) &&
             cJSON_AddStringToObject(o_json, "bin_xxh3", bin_hash) &&
             cJSON_AddNumberToObject(o_json, "idx_bytes", (double)s.idx_bytes) &&
             cJSON_AddStringToObject(o_json, "idx_xxh3", idx_hash);
    st = ok ? ts_json_write_line(stdout, o_json, &err) : ts_fail(&err, TS_ENOMEM, "out of memory");
    cJSON_Delete(o_json);
    if (st || fflush(stdout) != 0) {
        ts_error_log("export: writing stdout failed");
        return TS_EXIT_FATAL;
    }
    if (s.failed) {
        ts_warn("export: %llu records skipped", (unsigned long long)s.failed);
        return TS_EXIT_PARTIAL;
    }
    return TS_EXIT_OK;
}
