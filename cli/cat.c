/* tessera cat: the raw records of a source file as JSON lines. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/json.h"
#include "core/log.h"
#include "ingest/records.h"

static int cat_run(int argc, char **argv);

TS_COMMAND(cat, "cat", "print the raw records of a parquet, jsonl, json, csv or tar file as JSON lines",
           "usage: tessera cat FILE [--limit N] [--columns a,b] [--format F] [--count]\n"
           "  Prints one JSON object per record, in file order, on stdout.\n"
           "  --limit N        stop after N records\n"
           "  --columns a,b    only these top-level columns/keys, in this order\n"
           "  --format F       parquet|jsonl|json|csv|tsv|tar (default: from magic bytes and extension)\n"
           "  --count          print {\"records\": N, \"value_bytes\": B} instead of the records;\n"
           "                   for parquet every value is decoded but no JSON is built\n"
           "  --max-row-group-bytes N  refuse larger parquet row groups (default 1 GiB)\n",
           cat_run)

static int split_columns(char *list, const char ***out, size_t *n) {
    size_t cap = 1;
    for (char *p = list; *p; p++) cap += *p == ',';
    const char **cols = calloc(cap, sizeof *cols);
    if (!cols) return -1;
    size_t k = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
        if (*tok) cols[k++] = tok;
    *out = cols;
    *n = k;
    return 0;
}

static int cat_run(int argc, char **argv) {
    enum { OPT_LIMIT = 256, OPT_COLUMNS, OPT_FORMAT, OPT_COUNT, OPT_MAX_RG };
    static const struct option longopts[] = {
        {"limit", required_argument, 0, OPT_LIMIT},   {"columns", required_argument, 0, OPT_COLUMNS},
        {"format", required_argument, 0, OPT_FORMAT}, {"count", no_argument, 0, OPT_COUNT},
        {"max-row-group-bytes", required_argument, 0, OPT_MAX_RG}, {0, 0, 0, 0}};
    const ts_command *self = &ts_command_cat;
    const char *columns = NULL;
    uint64_t limit = UINT64_MAX;
    int count = 0, c;
    long v;
    ts_rec_options opt = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LIMIT:
            if (!ts_parse_long(optarg, 0, LONG_MAX, &v)) return ts_command_usage_error(self, "bad --limit");
            limit = (uint64_t)v;
            break;
        case OPT_COLUMNS: columns = optarg; break;
        case OPT_FORMAT:
            opt.format = ts_rec_format_parse(optarg);
            if (opt.format == TS_REC_AUTO) return ts_command_usage_error(self, "unknown --format '%s'", optarg);
            break;
        case OPT_COUNT: count = 1; break;
        case OPT_MAX_RG:
            if (!ts_parse_long(optarg, 1, LONG_MAX, &v))
                return ts_command_usage_error(self, "bad --max-row-group-bytes");
            opt.max_row_group_bytes = (uint64_t)v;
            break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (optind != argc - 1) return ts_command_usage_error(self, "give exactly one FILE");
    const char *path = argv[optind];
    char *colbuf = columns ? strdup(columns) : NULL;
    const char **cols = NULL;
    if (columns && (!colbuf || split_columns(colbuf, &cols, &opt.ncolumns))) {
        free(colbuf);
        ts_error_log("cat: out of memory");
        return TS_EXIT_FATAL;
    }
    opt.columns = cols;
    ts_error err = {0};
    ts_record_reader *r = NULL;
    ts_status st = ts_record_reader_open(&r, path, &opt, &err);
    uint64_t n = 0, bytes = 0;
    if (!st && count) {
        st = ts_record_reader_count(r, &n, &bytes, &err);
        if (!st) printf("{\"records\":%" PRIu64 ",\"value_bytes\":%" PRIu64 "}\n", n, bytes);
    }
    while (!st && !count && n < limit) {
        cJSON *rec;
        st = ts_record_reader_next(r, &rec, &err);
        if (st) break;
        st = ts_json_write_line(stdout, rec, &err);
        cJSON_Delete(rec);
        n++;
    }
    ts_record_reader_close(r);
    free(cols);
    free(colbuf);
    if (fflush(stdout) != 0 && !st) {
        ts_error_log("cat: writing stdout failed");
        return TS_EXIT_FATAL;
    }
    if (st && st != TS_ENOTFOUND) {
        ts_error_log("cat: %s", err.msg);
        return n ? TS_EXIT_PARTIAL : TS_EXIT_FATAL;
    }
    return TS_EXIT_OK;
}
