/* Test driver for sample records, used by tests/reference/check_energon.sh.
 *
 *   sample_tool to-binary IN.jsonl OUT.records
 *       each JSON line (records only; drop reports are skipped) -> one frame
 *   sample_tool to-json IN.records
 *       each frame -> one JSON line on stdout, image bytes in base64
 *   sample_tool blend OUT.yaml PATH WEIGHT [PATH WEIGHT ...]
 *       a v1 metadataset with these train datasets
 */
#include <cjson/cJSON.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/json.h"
#include "ingest/sample.h"
#include "mixers/metadataset.h"

static int to_binary(const char *in, const char *out) {
    ts_error err;
    ts_line_reader *lr;
    ts_writer *w;
    if (ts_line_reader_open(&lr, in, &err) || ts_writer_open(&w, out, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char *copy = strdup(in);
    const char *base = dirname(copy);
    ts_sample s;
    ts_sample_init(&s);
    ts_buf frame = TS_BUF_INIT;
    const char *line;
    size_t len;
    int rc = 0;
    while (!rc && ts_line_reader_next(lr, &line, &len, &err) == TS_OK) {
        cJSON *o;
        if (ts_json_parse(line, len, &o, &err)) continue;
        if (!ts_json_str(o, "dropped", NULL)) {
            ts_buf_reset(&frame);
            if (ts_sample_from_json(o, base, &s, &err) || ts_sample_encode(&s, &frame, &err) ||
                ts_writer_write(w, frame.data, frame.len, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                rc = 1;
            }
        }
        cJSON_Delete(o);
    }
    if (!rc && ts_writer_commit(w, &err)) rc = 1;
    else if (rc) ts_writer_abort(w);
    ts_line_reader_close(lr);
    ts_sample_free(&s);
    ts_buf_free(&frame);
    free(copy);
    return rc;
}

static int to_json(const char *in) {
    ts_error err;
    ts_sample_reader *r;
    if (ts_sample_reader_open(&r, in, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ts_sample s;
    ts_sample_init(&s);
    ts_status st;
    while ((st = ts_sample_reader_next(r, &s, &err)) == TS_OK) {
        cJSON *o;
        if (ts_sample_to_json(&s, 1, &o, &err) || ts_json_write_line(stdout, o, &err)) break;
        cJSON_Delete(o);
    }
    ts_sample_free(&s);
    ts_sample_reader_close(r);
    if (st != TS_ENOTFOUND) fprintf(stderr, "%s\n", err.msg);
    return st != TS_ENOTFOUND;
}

static int blend(int argc, char **argv) {
    size_t n = (size_t)(argc - 3) / 2;
    if (argc < 5 || (argc - 3) % 2) return 2;
    ts_blend_entry *e = calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].path = argv[3 + 2 * i];
        e[i].weight = strtod(argv[4 + 2 * i], NULL);
    }
    ts_error err;
    int rc = ts_metadataset_write(argv[2], e, n, e, 1, &err) != TS_OK;
    if (rc) fprintf(stderr, "%s\n", err.msg);
    free(e);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "to-binary")) return to_binary(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "to-json")) return to_json(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "blend")) return blend(argc, argv);
    fprintf(stderr, "usage: sample_tool to-binary IN.jsonl OUT | to-json IN | blend OUT.yaml PATH W ...\n");
    return 2;
}
