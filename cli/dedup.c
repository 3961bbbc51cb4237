/* tessera dedup: exact dedup of a JSONL file by one text field. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "ingest/dedup.h"

static int dedup_run(int argc, char **argv);

TS_COMMAND(dedup, "dedup", "drop exact duplicate texts of a JSONL file (optionally across runs)",
           "usage: tessera dedup FILE.jsonl --field NAME [--index IDX] [--save IDX] [--no-casefold]\n"
           "  Prints the records whose NAME text was not seen before, unchanged, on stdout.\n"
           "  Texts are compared after NFC, case folding and whitespace collapsing\n"
           "  (docs/DEDUP.md). Each drop is a JSON line on stderr:\n"
           "  {\"line\":N,\"reason\":\"dup_text\",\"key\":HEX}; then a summary JSON line.\n"
           "  Records without a string NAME are passed through and counted as no_field.\n"
           "  --field NAME     the top-level string field to dedup on (required)\n"
           "  --index IDX      start from the keys of a previous run's index (missing: fresh)\n"
           "  --save IDX       write every key (index + this run) to IDX at the end\n"
           "  --no-casefold    \"Hello\" and \"hello\" are different texts\n",
           dedup_run)

static ts_status dedup_lines(ts_dedup *d, const char *path, const char *field, uint64_t *no_field,
                             ts_error *err) {
    ts_line_reader *r;
    ts_status st = ts_line_reader_open(&r, path, err);
    if (st != TS_OK) return st;
    const char *line;
    size_t len;
    while ((st = ts_line_reader_next(r, &line, &len, err)) == TS_OK) {
        uint64_t lineno = ts_line_reader_line_number(r);
        if (len == 0) continue;
        cJSON *obj;
        st = ts_json_parse(line, len, &obj, err);
        if (st != TS_OK) {
            ts_error_context(err, "%s: line %" PRIu64, path, lineno);
            break;
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
        ts_dedup_verdict verdict = TS_DEDUP_KEPT;
        ts_hash128 key;
        if (cJSON_IsString(v))
            st = ts_dedup_text(d, v->valuestring, strlen(v->valuestring), &verdict, &key, err);
        else
            (*no_field)++;
        cJSON_Delete(obj);
        if (st != TS_OK) break;
        if (verdict == TS_DEDUP_KEPT) {
            fwrite(line, 1, len, stdout);
            fputc('\n', stdout);
        } else {
            char hex[33];
            ts_hash128_hex(key, hex);
            fprintf(stderr, "{\"line\":%" PRIu64 ",\"reason\":\"%s\",\"key\":\"%s\"}\n", lineno,
                    ts_dedup_reason(TS_DEDUP_TEXT), hex);
        }
    }
    ts_line_reader_close(r);
    return st == TS_ENOTFOUND ? TS_OK : st;
}

static int dedup_run(int argc, char **argv) {
    enum { OPT_FIELD = 256, OPT_INDEX, OPT_SAVE, OPT_NO_CASEFOLD };
    static const struct option longopts[] = {{"field", required_argument, 0, OPT_FIELD},
                                             {"index", required_argument, 0, OPT_INDEX},
                                             {"save", required_argument, 0, OPT_SAVE},
                                             {"no-casefold", no_argument, 0, OPT_NO_CASEFOLD},
                                             {0, 0, 0, 0}};
    const ts_command *self = &ts_command_dedup;
    const char *field = NULL, *index = NULL, *save = NULL;
    ts_dedup_options opts;
    ts_dedup_options_default(&opts);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FIELD: field = optarg; break;
        case OPT_INDEX: index = optarg; break;
        case OPT_SAVE: save = optarg; break;
        case OPT_NO_CASEFOLD: opts.casefold = 0; break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (!field) return ts_command_usage_error(self, "--field is required");
    if (optind != argc - 1) return ts_command_usage_error(self, "give exactly one FILE");
    ts_error err = {0};
    ts_dedup *d;
    if (ts_dedup_open(&d, index, &opts, &err) != TS_OK) {
        ts_error_log("dedup: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    uint64_t no_field = 0;
    ts_status st = dedup_lines(d, argv[optind], field, &no_field, &err);
    if (st == TS_OK && fflush(stdout) != 0) st = ts_fail(&err, TS_EIO, "writing stdout failed");
    if (st == TS_OK && save) st = ts_dedup_save(d, save, &err);
    ts_dedup_counts n = ts_dedup_counts_of(d, TS_DEDUP_TEXT);
    fprintf(stderr,
            "{\"loaded\":%" PRIu64 ",\"seen\":%" PRIu64 ",\"kept\":%" PRIu64
            ",\"dropped\":%" PRIu64 ",\"no_field\":%" PRIu64 ",\"ok\":%s}\n",
            n.loaded, n.seen, n.kept, n.dropped, no_field, st == TS_OK ? "true" : "false");
    ts_dedup_close(d);
    if (st != TS_OK) {
        ts_error_log("dedup: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    return TS_EXIT_OK;
}
