/* tessera cat: the raw records of a source file as JSON lines. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "core/json.h"
#include "ingest/records.h"

static int cat_run(int argc, char **argv);

TS_COMMAND(cat, "cat", "print the raw records of a parquet, jsonl, json or csv file as JSON lines",
           "usage: tessera cat FILE [--limit N] [--columns a,b] [--format F] [--count]\n"
           "  Prints one JSON object per record, in file order, on stdout.\n"
           "  --limit N        stop after N records\n"
           "  --columns a,b    only these top-level columns/keys, in this order\n"
           "  --format F       parquet|jsonl|json|csv|tsv (default: from magic bytes and extension)\n"
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

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int cat_run(int argc, char **argv) {
    const char *path = NULL, *columns = NULL;
    uint64_t limit = UINT64_MAX;
    int count = 0;
    ts_rec_options opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--limit") && has_value) {
            if (parse_u64(argv[++i], &limit)) return ts_command_usage_error(&ts_command_cat, "bad --limit: %s", argv[i]);
        } else if (!strcmp(a, "--columns") && has_value) {
            columns = argv[++i];
        } else if (!strcmp(a, "--format") && has_value) {
            opt.format = ts_rec_format_parse(argv[++i]);
            if (opt.format == TS_REC_AUTO) return ts_command_usage_error(&ts_command_cat, "unknown --format %s", argv[i]);
        } else if (!strcmp(a, "--max-row-group-bytes") && has_value) {
            if (parse_u64(argv[++i], &opt.max_row_group_bytes))
                return ts_command_usage_error(&ts_command_cat, "bad --max-row-group-bytes: %s", argv[i]);
        } else if (!strcmp(a, "--count")) {
            count = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(ts_command_cat.usage, stdout);
            return TS_EXIT_OK;
        } else if (a[0] == '-' && a[1]) {
            return ts_command_usage_error(&ts_command_cat, "unknown or incomplete option %s", a);
        } else if (!path) {
            path = a;
        } else {
            return ts_command_usage_error(&ts_command_cat, "one FILE only");
        }
    }
    if (!path) return ts_command_usage_error(&ts_command_cat, "FILE is required");
    char *colbuf = columns ? strdup(columns) : NULL;
    const char **cols = NULL;
    if (columns && (!colbuf || split_columns(colbuf, &cols, &opt.ncolumns))) {
        free(colbuf);
        fprintf(stderr, "tessera cat: out of memory\n");
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
        fprintf(stderr, "tessera cat: writing stdout failed\n");
        return TS_EXIT_FATAL;
    }
    if (st && st != TS_ENOTFOUND) {
        fprintf(stderr, "tessera cat: %s\n", err.msg);
        return n ? TS_EXIT_PARTIAL : TS_EXIT_FATAL;
    }
    return TS_EXIT_OK;
}
