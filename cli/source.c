/* tessera source: map a source manifest's records and print them, to check
 * or debug a manifest. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/json.h"
#include "core/log.h"
#include "ingest/source.h"

static int source_run(int argc, char **argv);

TS_COMMAND(source, "source", "map a source manifest's raw records to samples and print them as JSON lines",
           "usage: tessera source MANIFEST [--local] [--limit N] [--cache DIR] [--bytes]\n"
           "  One JSON object per raw record on stdout, in ordinal order:\n"
           "    {\"ordinal\": N, \"location\": \"file: record N\", \"sample\": {...}, \"image_urls\": [...]}\n"
           "    {\"ordinal\": N, \"location\": ..., \"drop\": \"reason\", \"message\": \"...\"}\n"
           "  (sample: the JSON form of docs/SAMPLE.md). Schema: docs/MANIFESTS.md.\n"
           "  --local      read the manifest's local test copies instead of its public inputs\n"
           "  --limit N    stop after N records\n"
           "  --cache DIR  where public inputs are downloaded (required for URL inputs)\n"
           "  --bytes      include each image's bytes (data_base64)\n",
           source_run)

static int source_run(int argc, char **argv) {
    enum { OPT_LOCAL = 256, OPT_LIMIT, OPT_CACHE, OPT_BYTES };
    static const struct option longopts[] = {{"local", no_argument, 0, OPT_LOCAL},
                                             {"limit", required_argument, 0, OPT_LIMIT},
                                             {"cache", required_argument, 0, OPT_CACHE},
                                             {"bytes", no_argument, 0, OPT_BYTES},
                                             {0, 0, 0, 0}};
    const ts_command *self = &ts_command_source;
    ts_source_open_options o = {0};
    uint64_t limit = UINT64_MAX;
    int with_bytes = 0, c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LOCAL: o.use_local = 1; break;
        case OPT_LIMIT:
            if (!ts_parse_long(optarg, 0, LONG_MAX, &v)) return ts_command_usage_error(self, "bad --limit");
            limit = (uint64_t)v;
            break;
        case OPT_CACHE: o.cache_dir = optarg; break;
        case OPT_BYTES: with_bytes = 1; break;
        default: return ts_command_usage_error(self, "unknown option");
        }
    }
    if (optind != argc - 1) return ts_command_usage_error(self, "give exactly one MANIFEST");
    ts_error err = {0};
    ts_source *src = NULL;
    ts_source_reader *r = NULL;
    ts_status st = ts_source_load(argv[optind], &src, &err);
    if (!st) st = ts_source_reader_open(src, &o, &r, &err);
    uint64_t n = 0, dropped = 0;
    while (!st && n < limit) {
        ts_source_record *rec;
        if ((st = ts_source_reader_next(r, &rec, &err))) break;
        cJSON *line = cJSON_CreateObject(), *sample = NULL;
        int ok = line && cJSON_AddNumberToObject(line, "ordinal", (double)rec->ordinal) &&
                 cJSON_AddStringToObject(line, "location", rec->location);
        if (ok && rec->drop_reason) {
            dropped++;
            ok = cJSON_AddStringToObject(line, "drop", rec->drop_reason) &&
                 cJSON_AddStringToObject(line, "message", rec->message);
        } else if (ok) {
            st = ts_sample_to_json(&rec->sample, with_bytes, &sample, &err);
            if (!st) {
                cJSON_AddItemToObject(line, "sample", sample);
                cJSON *urls = cJSON_AddArrayToObject(line, "image_urls");
                ok = urls != NULL;
                for (size_t i = 0; ok && i < rec->n_image_urls; i++) {
                    cJSON *u = cJSON_CreateString(rec->image_urls[i]);
                    ok = u != NULL;
                    if (u) cJSON_AddItemToArray(urls, u);
                }
            }
        }
        if (!st && !ok) st = ts_fail(&err, TS_ENOMEM, "out of memory");
        if (!st) st = ts_json_write_line(stdout, line, &err);
        cJSON_Delete(line);
        n++;
    }
    ts_source_reader_close(r);
    ts_source_free(src);
    if (fflush(stdout) != 0 && (!st || st == TS_ENOTFOUND)) {
        ts_error_log("source: writing stdout failed");
        return TS_EXIT_FATAL;
    }
    if (st && st != TS_ENOTFOUND) {
        ts_error_log("source: %s", err.msg);
        return n ? TS_EXIT_PARTIAL : TS_EXIT_FATAL;
    }
    ts_info("source: %" PRIu64 " records, %" PRIu64 " mapped, %" PRIu64 " dropped", n, n - dropped, dropped);
    return TS_EXIT_OK;
}
