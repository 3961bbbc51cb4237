/* A records file (binary or JSON lines) -> an Energon dataset. */
#include <cjson/cJSON.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "energon_internal.h"

#define DROP_BAD_RECORD "bad_record"

static int file_is_binary(const char *path) {
    if (!strcmp(path, "-")) return 0;
    FILE *f = fopen(path, "rb");
    uint8_t head[4];
    int yes = f && fread(head, 1, 4, f) == 4 && ts_sample_is_binary(head, 4);
    if (f) fclose(f);
    return yes;
}

/* Task of the first record of the input, for the default dataset type. */
static ts_status first_task(const char *input, int binary, ts_sample_task *task, ts_error *err) {
    ts_status st;
    if (binary) {
        ts_sample_reader *r;
        ts_sample s;
        ts_sample_init(&s);
        if ((st = ts_sample_reader_open(&r, input, err))) return st;
        st = ts_sample_reader_next(r, &s, err);
        *task = s.task;
        ts_sample_reader_close(r);
        ts_sample_free(&s);
        return st == TS_ENOTFOUND ? ts_fail(err, TS_EINVAL, "%s: no records", input) : st;
    }
    ts_line_reader *lr;
    if ((st = ts_line_reader_open(&lr, input, err))) return st;
    const char *line;
    size_t len;
    int found = 0;
    while (!found && !(st = ts_line_reader_next(lr, &line, &len, err))) {
        cJSON *o = NULL;
        if (ts_json_parse(line, len, &o, NULL)) continue;
        found = !ts_sample_task_parse(ts_json_str(o, "task", NULL), task);
        cJSON_Delete(o);
    }
    ts_line_reader_close(lr);
    if (found) return TS_OK;
    return st == TS_ENOTFOUND ? ts_fail(err, TS_EINVAL, "%s: no record with a known \"task\"", input) : st;
}

/* Write one parsed record; counts refusals. Only fatal errors return. */
static ts_status put(ts_energon_writer *w, const ts_sample *s, ts_energon_run_stats *stats, ts_error *err) {
    const char *dropped;
    ts_error why;
    ts_error_clear(&why);
    ts_status st = ts_energon_write(w, s, &dropped, &why);
    if (st) {
        *err = why;
        return st;
    }
    if (dropped) {
        stats->refused++;
        ts_warn("energon: dropped (%s): %s", dropped, why.msg);
    }
    return TS_OK;
}

static ts_status run_binary(ts_energon_writer *w, const char *input, ts_energon_run_stats *stats, ts_error *err) {
    ts_sample_reader *r;
    ts_status st = ts_sample_reader_open(&r, input, err);
    if (st) return st;
    ts_sample s;
    ts_sample_init(&s);
    ts_error why;
    for (;;) {
        ts_error_clear(&why);
        ts_status rs = ts_sample_reader_next(r, &s, &why);
        if (rs == TS_ENOTFOUND) break;
        if (rs) {
            /* A damaged frame ends the file: lengths after it cannot be trusted. */
            ts_energon_drop(w, DROP_BAD_RECORD, 1);
            stats->refused++;
            ts_warn("energon: %s (rest of the file skipped)", why.msg);
            break;
        }
        if ((st = put(w, &s, stats, err))) break;
    }
    ts_sample_free(&s);
    ts_sample_reader_close(r);
    return st;
}

static ts_status run_jsonl(ts_energon_writer *w, const char *input, ts_energon_run_stats *stats, ts_error *err) {
    char *copy = strdup(input);
    if (!copy) return ts_fail(err, TS_ENOMEM, "out of memory");
    const char *base = strcmp(input, "-") ? dirname(copy) : NULL;
    ts_line_reader *lr = NULL;
    ts_status st = ts_line_reader_open(&lr, input, err);
    ts_sample s;
    ts_sample_init(&s);
    const char *line;
    size_t len;
    ts_error why;
    while (!st) {
        ts_status rs = ts_line_reader_next(lr, &line, &len, err);
        if (rs == TS_ENOTFOUND) break;
        if (rs) {
            st = rs;
            break;
        }
        if (len == 0 || strspn(line, " \t\r") == len) continue;
        uint64_t lineno = ts_line_reader_line_number(lr);
        cJSON *o = NULL;
        ts_error_clear(&why);
        ts_status ps = ts_json_parse(line, len, &o, &why);
        const char *upstream = o ? ts_json_str(o, "dropped", NULL) : NULL;
        if (!ps && upstream) {
            ts_energon_drop(w, upstream, 1);
        } else if (!ps && !(ps = ts_sample_from_json(o, base, &s, &why))) {
            st = put(w, &s, stats, err);
        }
        if (ps) {
            ts_energon_drop(w, DROP_BAD_RECORD, 1);
            stats->refused++;
            ts_warn("energon: %s:%llu: dropped (%s): %s", input, (unsigned long long)lineno, DROP_BAD_RECORD, why.msg);
        }
        cJSON_Delete(o);
    }
    ts_sample_free(&s);
    if (lr) ts_line_reader_close(lr);
    free(copy);
    return st;
}

ts_status ts_energon_run(const char *input, const char *dir, ts_energon_options *o, int type_from_input,
                         ts_energon_run_stats *stats, ts_error *err) {
    memset(stats, 0, sizeof *stats);
    int binary = file_is_binary(input);
    ts_status st;
    if (type_from_input) {
        if (!strcmp(input, "-")) return ts_fail(err, TS_EINVAL, "reading stdin: give the dataset type");
        ts_sample_task task;
        if ((st = first_task(input, binary, &task, err))) return st;
        o->type = ts_energon_type_for_task(task);
    }
    ts_energon_writer *w;
    if ((st = ts_energon_open(&w, dir, o, err))) return st;
    st = binary ? run_binary(w, input, stats, err) : run_jsonl(w, input, stats, err);
    if (!st) st = ts_energon_finish(w, err);
    ts_energon_get_counts(w, &stats->counts);
    ts_energon_close(w);
    return st;
}
