/* What the pipeline persists to resume and to trace drops: the checkpoint
 * (DIR/state/checkpoint.json), the drop log (DIR/stats/drops.jsonl) and the
 * set of retryable drops read back from it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "ingest/ingest_internal.h"

#define CHECKPOINT_VERSION 1

void ts_ingest_checkpoint_free(ts_ingest_checkpoint *c) {
    free(c->reasons);
    free(c->counts);
    c->reasons = NULL;
    c->counts = NULL;
    c->n_reasons = 0;
}

static void copy_str(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

ts_status ts_ingest_checkpoint_load(const char *path, ts_ingest_checkpoint *c, ts_error *err) {
    memset(c, 0, sizeof *c);
    if (access(path, F_OK)) return ts_fail(err, TS_ENOTFOUND, "%s: no checkpoint", path);
    cJSON *o;
    ts_status st = ts_json_load_file(path, 1 << 20, &o, err);
    if (st) return st;
    if (ts_json_int(o, "version", 0) != CHECKPOINT_VERSION) {
        cJSON_Delete(o);
        return ts_fail(err, TS_EUNSUPPORTED, "%s: unknown checkpoint version", path);
    }
    c->pass = (uint64_t)ts_json_int(o, "pass", 1);
    c->scan_next = (uint64_t)ts_json_int(o, "scan_next", 0);
    c->pass_frontier = (uint64_t)ts_json_int(o, "pass_frontier", 0);
    c->frontier = (uint64_t)ts_json_int(o, "frontier", 0);
    c->finished = ts_json_bool(o, "finished", 0);
    c->shards = (uint64_t)ts_json_int(o, "shards", 0);
    c->written = (uint64_t)ts_json_int(o, "written", 0);
    c->drop_log_bytes = (uint64_t)ts_json_int(o, "drop_log_bytes", 0);
    c->shard_bytes = (uint64_t)ts_json_int(o, "shard_bytes", 0);
    c->val_every = (unsigned)ts_json_int(o, "val_every", 0);
    c->test_every = (unsigned)ts_json_int(o, "test_every", 0);
    copy_str(c->source_hash, sizeof c->source_hash, ts_json_str(o, "source_hash", ""));
    copy_str(c->type, sizeof c->type, ts_json_str(o, "type", ""));
    copy_str(c->prefix, sizeof c->prefix, ts_json_str(o, "prefix", ""));
    copy_str(c->dedup_file, sizeof c->dedup_file, ts_json_str(o, "dedup_file", ""));
    const cJSON *drops = cJSON_GetObjectItemCaseSensitive(o, "dropped_by_reason");
    size_t n = cJSON_IsObject(drops) ? (size_t)cJSON_GetArraySize(drops) : 0;
    if (n && (!(c->reasons = calloc(n, sizeof *c->reasons)) || !(c->counts = calloc(n, sizeof *c->counts)))) {
        cJSON_Delete(o);
        ts_ingest_checkpoint_free(c);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, drops) {
        if (!cJSON_IsNumber(it) || !it->string) continue;
        copy_str(c->reasons[c->n_reasons], sizeof c->reasons[0], it->string);
        c->counts[c->n_reasons++] = (uint64_t)it->valuedouble;
    }
    cJSON_Delete(o);
    if (!c->pass || c->scan_next > c->frontier || c->pass_frontier > c->frontier) {
        ts_ingest_checkpoint_free(c);
        return ts_fail(err, TS_EFORMAT, "%s: inconsistent checkpoint", path);
    }
    return TS_OK;
}

ts_status ts_ingest_checkpoint_save(const char *path, const ts_ingest_checkpoint *c,
                                    const ts_energon_writer *w, ts_error *err) {
    cJSON *o = cJSON_CreateObject(), *drops = cJSON_CreateObject();
    if (!o || !drops) {
        cJSON_Delete(o);
        cJSON_Delete(drops);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(o, "version", CHECKPOINT_VERSION);
    cJSON_AddNumberToObject(o, "pass", (double)c->pass);
    cJSON_AddNumberToObject(o, "scan_next", (double)c->scan_next);
    cJSON_AddNumberToObject(o, "pass_frontier", (double)c->pass_frontier);
    cJSON_AddNumberToObject(o, "frontier", (double)c->frontier);
    cJSON_AddBoolToObject(o, "finished", c->finished);
    cJSON_AddNumberToObject(o, "shards", (double)c->shards);
    cJSON_AddNumberToObject(o, "written", (double)c->written);
    cJSON_AddNumberToObject(o, "drop_log_bytes", (double)c->drop_log_bytes);
    cJSON_AddStringToObject(o, "source_hash", c->source_hash);
    cJSON_AddStringToObject(o, "type", c->type);
    cJSON_AddStringToObject(o, "prefix", c->prefix);
    cJSON_AddNumberToObject(o, "shard_bytes", (double)c->shard_bytes);
    cJSON_AddNumberToObject(o, "val_every", c->val_every);
    cJSON_AddNumberToObject(o, "test_every", c->test_every);
    cJSON_AddStringToObject(o, "dedup_file", c->dedup_file);
    const char *names[64];
    uint64_t counts[64];
    size_t n = ts_energon_drop_reasons(w, names, counts, 64);
    for (size_t i = 0; i < n && i < 64; i++) cJSON_AddNumberToObject(drops, names[i], (double)counts[i]);
    cJSON_AddItemToObject(o, "dropped_by_reason", drops);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = ts_write_file_atomic(path, text, strlen(text), 1, err);
    free(text);
    return st;
}

/* ---- the drop log ---- */

ts_status ts_ingest_drop_log_open(FILE **out, const char *path, uint64_t truncate_to, ts_error *err) {
    /* Lines past the checkpoint belong to records the resumed run settles again. */
    struct stat sb;
    if (stat(path, &sb) == 0 && (uint64_t)sb.st_size > truncate_to && truncate(path, (off_t)truncate_to))
        return ts_fail_errno(err, TS_EIO, "cannot truncate %s", path);
    if (!(*out = fopen(path, "ab"))) return ts_fail_errno(err, TS_EIO, "cannot open %s", path);
    return TS_OK;
}

ts_status ts_ingest_drop_log_write(FILE *f, const ts_ingest_rec *r, const ts_ingest_batch *b,
                                   uint64_t pass, ts_error *err) {
    cJSON *o = cJSON_CreateObject(), *urls = r->n_urls ? cJSON_CreateArray() : NULL;
    if (!o || (r->n_urls && !urls)) {
        cJSON_Delete(o);
        cJSON_Delete(urls);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(o, "ordinal", (double)r->ordinal);
    cJSON_AddNumberToObject(o, "pass", (double)pass);
    if (r->reason)
        cJSON_AddStringToObject(o, "reason", r->reason);
    else
        cJSON_AddBoolToObject(o, "kept", 1); /* a retry settled an earlier drop */
    if (r->s.key.len) cJSON_AddStringToObject(o, "key", ts_sample_str(&r->s.key));
    for (size_t i = 0; i < r->n_urls; i++) cJSON_AddItemToArray(urls, cJSON_CreateString(b->urls[r->url0 + i].url));
    if (urls) cJSON_AddItemToObject(o, "urls", urls);
    cJSON_AddStringToObject(o, "location", r->location.len ? (const char *)r->location.data : "");
    if (r->reason) cJSON_AddStringToObject(o, "message", r->message.len ? (const char *)r->message.data : "");
    ts_status st = ts_json_write_line(f, o, err);
    cJSON_Delete(o);
    return st;
}

ts_status ts_ingest_drop_log_sync(FILE *f, uint64_t *bytes, ts_error *err) {
    /* The file's size, not ftell: an append stream's position is not the
     * end of the file until its first write. */
    struct stat sb;
    if (fflush(f) || fsync(fileno(f)) || fstat(fileno(f), &sb))
        return ts_fail_errno(err, TS_EIO, "cannot sync the drop log");
    *bytes = (uint64_t)sb.st_size;
    return TS_OK;
}

/* ---- retryable drops ---- */

typedef struct retry_line {
    uint64_t ordinal, line;
    int outcome; /* -1: not retryable (or kept) */
} retry_line;

static int cmp_line(const void *a, const void *b) {
    const retry_line *x = a, *y = b;
    if (x->ordinal != y->ordinal) return x->ordinal < y->ordinal ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

ts_status ts_ingest_retry_set_load(const char *drop_log, uint64_t below, ts_ingest_retry_set *s,
                                   ts_error *err) {
    memset(s, 0, sizeof *s);
    if (access(drop_log, F_OK)) return TS_OK;
    ts_line_reader *lr;
    ts_status st = ts_line_reader_open(&lr, drop_log, err);
    if (st) return st;
    retry_line *lines = NULL;
    size_t n = 0, cap = 0;
    const char *line;
    size_t len;
    while ((st = ts_line_reader_next(lr, &line, &len, err)) == TS_OK) {
        cJSON *o;
        if (ts_json_parse(line, len, &o, err)) {
            st = ts_error_context(err, "%s: line %llu", drop_log, (unsigned long long)ts_line_reader_line_number(lr));
            break;
        }
        uint64_t ordinal = (uint64_t)ts_json_int(o, "ordinal", -1);
        ts_outcome out;
        int retryable = !ts_json_bool(o, "kept", 0) &&
                        ts_outcome_parse(ts_json_str(o, "reason", ""), &out) == TS_OK && ts_outcome_is_retryable(out);
        cJSON_Delete(o);
        if (ordinal >= below) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            void *p = realloc(lines, cap * sizeof *lines);
            if (!p) {
                st = ts_fail(err, TS_ENOMEM, "out of memory");
                break;
            }
            lines = p;
        }
        lines[n] = (retry_line){ordinal, n, retryable ? (int)out : -1};
        n++;
    }
    ts_line_reader_close(lr);
    if (st == TS_ENOTFOUND) {
        ts_error_clear(err);
        st = TS_OK;
    }
    if (!st && n) {
        qsort(lines, n, sizeof *lines, cmp_line);
        for (size_t i = 0; i < n && !st; i++) {
            if (i + 1 < n && lines[i + 1].ordinal == lines[i].ordinal) continue; /* the last line wins */
            if (lines[i].outcome < 0) continue;
            if (s->n == s->cap) {
                size_t cap2 = s->cap ? s->cap * 2 : 256;
                void *a = realloc(s->ordinals, cap2 * sizeof *s->ordinals);
                if (a) s->ordinals = a;
                void *b = a ? realloc(s->outcomes, cap2 * sizeof *s->outcomes) : NULL;
                if (b) s->outcomes = b;
                if (!a || !b) {
                    st = ts_fail(err, TS_ENOMEM, "out of memory");
                    break;
                }
                s->cap = cap2;
            }
            s->ordinals[s->n] = lines[i].ordinal;
            s->outcomes[s->n++] = (ts_outcome)lines[i].outcome;
        }
    }
    free(lines);
    if (st) ts_ingest_retry_set_free(s);
    return st;
}

static size_t lower_bound(const ts_ingest_retry_set *s, uint64_t ordinal) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ordinals[mid] < ordinal) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

uint64_t ts_ingest_retry_set_next(const ts_ingest_retry_set *s, uint64_t from) {
    size_t i = lower_bound(s, from);
    return i < s->n ? s->ordinals[i] : UINT64_MAX;
}

int ts_ingest_retry_set_find(const ts_ingest_retry_set *s, uint64_t ordinal, ts_outcome *outcome) {
    size_t lo = lower_bound(s, ordinal);
    if (lo < s->n && s->ordinals[lo] == ordinal) {
        *outcome = s->outcomes[lo];
        return 1;
    }
    return 0;
}

void ts_ingest_retry_set_free(ts_ingest_retry_set *s) {
    free(s->ordinals);
    free(s->outcomes);
    memset(s, 0, sizeof *s);
}
