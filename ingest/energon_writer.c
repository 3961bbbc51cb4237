/* Energon dataset writer: shard rotation, .tar.idx, drop accounting, stats. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/hash_set.h"
#include "core/io.h"
#include "core/json.h"
#include "energon_internal.h"

#define MAX_REASONS 64

typedef struct reason_count {
    char name[48];
    uint64_t count;
} reason_count;

typedef struct reason_table {
    reason_count r[MAX_REASONS];
    size_t n;
} reason_table;

struct ts_energon_writer {
    char *dir;
    ts_energon_options o;
    char prefix[48]; /* o.prefix points here: the caller's string need not outlive open */
    ts_energon_layout layout;
    ts_hash_set keys; /* xxh3-128 of every key written */
    unsigned image_exts;
    /* the open shard */
    ts_tar_writer *tar;
    ts_buf idx; /* u64 LE offsets of the open shard's samples */
    uint64_t shard_samples, shard_images, shard_image_bytes, shard_text_bytes, shard_members;
    uint64_t shard_formats[5];
    reason_table shard_drops;
    struct timespec shard_start;
    /* finished shards */
    ts_energon_shard_info *shards;
    size_t n_shards, cap_shards;
    /* totals */
    uint64_t written, bytes;
    reason_table drops;
    double seconds;
    int finished;
};

static const char *const type_names[] = {"caption", "vqa", "ocr", "interleaved"};
static const char *const class_names[] = {"CaptioningSample", "VQASample", "OCRSample",
                                          "SimilarityInterleavedSample"};

const char *ts_energon_type_name(ts_energon_type t) {
    return (unsigned)t < TS_ENERGON_TYPE_COUNT ? type_names[t] : "?";
}
const char *ts_energon_sample_class(ts_energon_type t) {
    return (unsigned)t < TS_ENERGON_TYPE_COUNT ? class_names[t] : "?";
}
int ts_energon_type_parse(const char *name, ts_energon_type *out) {
    for (int i = 0; i < TS_ENERGON_TYPE_COUNT; i++)
        if (name && !strcmp(name, type_names[i])) {
            *out = (ts_energon_type)i;
            return 0;
        }
    return -1;
}
ts_energon_type ts_energon_type_for_task(ts_sample_task task) {
    switch (task) {
    case TS_TASK_CAPTION: return TS_ENERGON_CAPTION;
    case TS_TASK_VQA: return TS_ENERGON_VQA;
    case TS_TASK_OCR: return TS_ENERGON_OCR;
    default: return TS_ENERGON_INTERLEAVED;
    }
}

void ts_energon_options_default(ts_energon_options *o) {
    memset(o, 0, sizeof *o);
    o->type = TS_ENERGON_CAPTION;
    o->shard_bytes = TS_ENERGON_DEFAULT_SHARD_BYTES;
    o->prefix = "shard";
    o->max_images = 1;
}


/* ---- drop reasons ---- */

static void count_reason(reason_table *t, const char *reason, uint64_t n) {
    size_t len = strlen(reason);
    int ok = len > 0 && len < sizeof t->r[0].name;
    for (size_t i = 0; ok && i < len; i++)
        ok = (reason[i] >= 'a' && reason[i] <= 'z') || (reason[i] >= '0' && reason[i] <= '9') || reason[i] == '_';
    if (!ok) reason = "other";
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->r[i].name, reason)) {
            t->r[i].count += n;
            return;
        }
    /* A full table folds new reasons into "other" (always findable: it is
     * added before the table fills). */
    if (t->n == MAX_REASONS - 1 && strcmp(reason, "other")) {
        count_reason(t, "other", n);
        return;
    }
    snprintf(t->r[t->n].name, sizeof t->r[0].name, "%s", reason);
    t->r[t->n++].count = n;
}

static uint64_t reason_total(const reason_table *t) {
    uint64_t sum = 0;
    for (size_t i = 0; i < t->n; i++) sum += t->r[i].count;
    return sum;
}

static int cmp_reason(const void *a, const void *b) {
    return strcmp(((const reason_count *)a)->name, ((const reason_count *)b)->name);
}

/* Reasons as a JSON object, sorted by name. */
static cJSON *reasons_json(const reason_table *t) {
    reason_table sorted = *t;
    qsort(sorted.r, sorted.n, sizeof sorted.r[0], cmp_reason);
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < sorted.n; i++) cJSON_AddNumberToObject(o, sorted.r[i].name, (double)sorted.r[i].count);
    return o;
}

void ts_energon_drop(ts_energon_writer *w, const char *reason, uint64_t n) {
    if (!n) return;
    count_reason(&w->drops, reason, n);
    count_reason(&w->shard_drops, reason, n);
}

/* ---- open ---- */

static ts_status check_name_part(const char *what, const char *s, int allow_routing, ts_error *err) {
    ts_status st = ts_sample_check_key(s, strlen(s), err);
    if (st) return ts_error_context(err, "%s", what);
    static const char *const routing[] = {"llava", "docvqa", "pdfa", "multi"};
    for (size_t i = 0; i < 4 && !allow_routing; i++)
        if (strstr(s, routing[i]))
            return ts_fail(err, TS_EINVAL,
                           "%s \"%s\" contains \"%s\", which makes Megatron's TaskEncoder pick another encoder",
                           what, s, routing[i]);
    return TS_OK;
}

static double elapsed(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) * 1e-9;
}

static ts_status open_writer(ts_energon_writer **out, const char *dir, const ts_energon_options *o,
                             int resuming, ts_error *err) {
    *out = NULL;
    if ((unsigned)o->type >= TS_ENERGON_TYPE_COUNT) return ts_fail(err, TS_EINVAL, "unknown dataset type");
    if (o->shard_bytes < 4096) return ts_fail(err, TS_EINVAL, "shard size %llu is under 4096 bytes", (unsigned long long)o->shard_bytes);
    if (o->val_every == 1 || o->test_every == 1)
        return ts_fail(err, TS_EINVAL, "val/test every 1 shard would leave nothing to train on");
    if (strlen(o->prefix) > 40) return ts_fail(err, TS_EINVAL, "shard prefix longer than 40 bytes");
    ts_status st = check_name_part("shard prefix", o->prefix, o->allow_routing_substrings, err);
    if (st) return st;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.nv-meta/.info.yaml", dir) >= (int)sizeof path)
        return ts_fail(err, TS_EINVAL, "%s: path too long", dir);
    struct stat sb;
    if (!resuming && stat(path, &sb) == 0)
        return ts_fail(err, TS_EIO, "%s already holds an Energon dataset (%s)", dir, path);
    snprintf(path, sizeof path, "%s/.nv-meta", dir);
    if ((st = ts_mkdirs(path, err))) return st;
    snprintf(path, sizeof path, "%s/stats", dir);
    if ((st = ts_mkdirs(path, err))) return st;
    ts_energon_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    w->o = *o;
    snprintf(w->prefix, sizeof w->prefix, "%s", o->prefix);
    w->o.prefix = w->prefix;
    *out = w;
    return TS_OK;
}

ts_status ts_energon_open(ts_energon_writer **out, const char *dir, const ts_energon_options *o,
                          ts_error *err) {
    return open_writer(out, dir, o, 0, err);
}

/* ---- shards ---- */

static ts_status open_shard(ts_energon_writer *w, ts_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%06zu.tar", w->dir, w->o.prefix, w->n_shards);
    ts_status st = ts_tar_open(&w->tar, path, err);
    if (st) return st;
    ts_buf_reset(&w->idx);
    w->shard_samples = w->shard_images = w->shard_image_bytes = w->shard_text_bytes = w->shard_members = 0;
    memset(w->shard_formats, 0, sizeof w->shard_formats);
    clock_gettime(CLOCK_MONOTONIC, &w->shard_start);
    return TS_OK;
}

static int shard_split(const ts_energon_options *o, size_t i) {
    if (o->test_every && (i + 1) % o->test_every == 0) return 2;
    if (o->val_every && (i + 1) % o->val_every == 0) return 1;
    return 0;
}

static ts_status write_shard_stats(ts_energon_writer *w, const ts_energon_shard_info *info, uint64_t size,
                                   uint64_t xxh3, double seconds, ts_error *err) {
    static const char *const split_names[] = {"train", "val", "test"};
    cJSON *o = cJSON_CreateObject(), *formats = cJSON_CreateObject();
    char hex[17];
    ts_hash64_hex(xxh3, hex);
    if (o && formats) {
        cJSON_AddStringToObject(o, "shard", info->name);
        cJSON_AddStringToObject(o, "split", split_names[info->split]);
        cJSON_AddNumberToObject(o, "samples", (double)info->count);
        cJSON_AddNumberToObject(o, "members", (double)w->shard_members);
        cJSON_AddNumberToObject(o, "bytes", (double)size);
        cJSON_AddNumberToObject(o, "images", (double)w->shard_images);
        cJSON_AddNumberToObject(o, "image_bytes", (double)w->shard_image_bytes);
        cJSON_AddNumberToObject(o, "text_bytes", (double)w->shard_text_bytes);
        for (int f = 1; f < 5; f++)
            if (w->shard_formats[f])
                cJSON_AddNumberToObject(formats, ts_image_extension((ts_image_format)f), (double)w->shard_formats[f]);
        cJSON_AddItemToObject(o, "formats", formats);
        formats = NULL;
        cJSON_AddItemToObject(o, "dropped", reasons_json(&w->shard_drops));
        cJSON_AddNumberToObject(o, "seconds", seconds);
        cJSON_AddStringToObject(o, "xxh3_64", hex);
    }
    cJSON_Delete(formats);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    ts_status st;
    if (!text) {
        st = ts_fail(err, TS_ENOMEM, "out of memory");
    } else {
        char path[4096];
        snprintf(path, sizeof path, "%s/stats/%s.json", w->dir, info->name);
        size_t n = strlen(text);
        text[n] = '\n'; /* replaces the NUL: write n+1 bytes, the string is not used after */
        st = ts_energon_write_text(path, text, n + 1, err);
        text[n] = 0;
        if (!st && w->o.report) st = ts_json_write_line(w->o.report, o, err);
    }
    free(text);
    cJSON_Delete(o);
    return st;
}

/* Close the open shard: tar, then its .tar.idx, then its stats. */
static ts_status finish_shard(ts_energon_writer *w, ts_error *err) {
    if (!w->tar) return TS_OK;
    if (w->cap_shards == w->n_shards) {
        size_t cap = w->cap_shards ? w->cap_shards * 2 : 16;
        void *p = realloc(w->shards, cap * sizeof *w->shards);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        w->shards = p;
        w->cap_shards = cap;
    }
    ts_energon_shard_info *info = &w->shards[w->n_shards];
    snprintf(info->name, sizeof info->name, "%s-%06zu.tar", w->o.prefix, w->n_shards);
    info->count = w->shard_samples;
    info->split = shard_split(&w->o, w->n_shards);
    /* The final idx entry: where the end-of-archive blocks start. */
    ts_status st = ts_buf_put_u64le(&w->idx, ts_tar_offset(w->tar), err);
    uint64_t size = 0, xxh3 = 0;
    if (st) {
        ts_tar_abort(w->tar);
    } else {
        st = ts_tar_commit(w->tar, &size, &xxh3, err);
    }
    w->tar = NULL;
    if (st) return st;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.idx", w->dir, info->name);
    if ((st = ts_energon_write_text(path, (const char *)w->idx.data, w->idx.len, err))) return st;
    double seconds = elapsed(&w->shard_start);
    w->seconds += seconds;
    w->bytes += size;
    w->n_shards++;
    st = write_shard_stats(w, info, size, xxh3, seconds, err);
    memset(&w->shard_drops, 0, sizeof w->shard_drops);
    return st;
}

ts_status ts_energon_write(ts_energon_writer *w, const ts_sample *s, const char **dropped, ts_error *err) {
    *dropped = NULL;
    if (w->finished) return ts_fail(err, TS_EINVAL, "dataset already finished");
    ts_status st = ts_sample_check(s, err);
    const char *reason = NULL;
    if (st) reason = TS_DROP_INVALID;
    if (!reason && (st = check_name_part("key", ts_sample_str(&s->key), w->o.allow_routing_substrings, err)))
        reason = TS_DROP_ROUTING;
    if (!reason && (st = ts_energon_layout_build(&w->layout, w->o.type, s, w->o.max_images, &reason, err))) {
        if (!reason) return st; /* out of memory */
    }
    if (!reason) {
        int fresh = ts_hash_set_insert(&w->keys, ts_xxh3_128(s->key.data, s->key.len));
        if (fresh < 0) return ts_fail(err, TS_ENOMEM, "out of memory in the key set");
        if (!fresh) {
            reason = TS_DROP_DUP_KEY;
            ts_fail(err, TS_EINVAL, "key %s was already written to this dataset", ts_sample_str(&s->key));
        }
    }
    if (reason) {
        if (strcmp(reason, TS_DROP_INVALID)) ts_error_context(err, "record %s", ts_sample_str(&s->key));
        ts_energon_drop(w, reason, 1);
        *dropped = reason;
        return TS_OK;
    }
    uint64_t need = 0;
    for (size_t i = 0; i < w->layout.n; i++) need += ts_tar_member_size(w->layout.members[i].len);
    if (w->tar && w->shard_samples && ts_tar_offset(w->tar) + need + 2 * TS_TAR_BLOCK > w->o.shard_bytes &&
        (st = finish_shard(w, err)))
        return st;
    if (!w->tar && (st = open_shard(w, err))) return st;
    if ((st = ts_buf_put_u64le(&w->idx, ts_tar_offset(w->tar), err))) return st;
    for (size_t i = 0; i < w->layout.n; i++) {
        const ts_energon_member *m = &w->layout.members[i];
        if ((st = ts_tar_add(w->tar, m->name, m->data, m->len, err))) return st;
    }
    for (size_t i = 0; i < s->n_images; i++) {
        w->shard_image_bytes += s->images[i].bytes.len;
        w->shard_formats[s->images[i].format]++;
    }
    w->shard_images += s->n_images;
    w->shard_members += w->layout.n;
    uint64_t member_bytes = 0, image_bytes = 0;
    for (size_t i = 0; i < w->layout.n; i++) member_bytes += w->layout.members[i].len;
    for (size_t i = 0; i < s->n_images; i++) image_bytes += s->images[i].bytes.len;
    w->shard_text_bytes += member_bytes - image_bytes;
    w->shard_samples++;
    w->written++;
    w->image_exts |= w->layout.image_exts;
    return TS_OK;
}

void ts_energon_get_counts(const ts_energon_writer *w, ts_energon_counts *c) {
    c->dropped = reason_total(&w->drops);
    c->written = w->written;
    c->records_in = c->written + c->dropped;
    c->shards = w->n_shards;
    c->bytes = w->bytes;
}

static ts_status write_summary(ts_energon_writer *w, ts_error *err) {
    ts_energon_counts c;
    ts_energon_get_counts(w, &c);
    uint64_t split_counts[3] = {0, 0, 0};
    for (size_t i = 0; i < w->n_shards; i++) split_counts[w->shards[i].split] += w->shards[i].count;
    cJSON *o = cJSON_CreateObject(), *split = cJSON_CreateObject();
    if (o && split) {
        cJSON_AddStringToObject(o, "summary", "energon");
        cJSON_AddStringToObject(o, "dataset", w->dir);
        cJSON_AddStringToObject(o, "sample_type", ts_energon_sample_class(w->o.type));
        cJSON_AddNumberToObject(o, "records_in", (double)c.records_in);
        cJSON_AddNumberToObject(o, "written", (double)c.written);
        cJSON_AddNumberToObject(o, "dropped", (double)c.dropped);
        cJSON_AddItemToObject(o, "dropped_by_reason", reasons_json(&w->drops));
        cJSON_AddNumberToObject(o, "shards", (double)c.shards);
        cJSON_AddNumberToObject(o, "bytes", (double)c.bytes);
        cJSON_AddNumberToObject(split, "train", (double)split_counts[0]);
        cJSON_AddNumberToObject(split, "val", (double)split_counts[1]);
        cJSON_AddNumberToObject(split, "test", (double)split_counts[2]);
        cJSON_AddItemToObject(o, "samples_by_split", split);
        split = NULL;
        cJSON_AddNumberToObject(o, "seconds", w->seconds);
    }
    cJSON_Delete(split);
    char *text = o ? cJSON_Print(o) : NULL;
    ts_status st;
    if (!text) {
        st = ts_fail(err, TS_ENOMEM, "out of memory");
    } else {
        char path[4096];
        snprintf(path, sizeof path, "%s/stats/summary.json", w->dir);
        st = ts_energon_write_text(path, text, strlen(text), err);
        if (!st && w->o.report) st = ts_json_write_line(w->o.report, o, err);
    }
    free(text);
    cJSON_Delete(o);
    return st;
}

ts_status ts_energon_finish(ts_energon_writer *w, ts_error *err) {
    if (w->finished) return TS_OK;
    ts_status st = finish_shard(w, err);
    if (!st) st = ts_energon_write_meta(w->dir, w->o.type, w->image_exts, w->shards, w->n_shards, err);
    if (!st) st = write_summary(w, err);
    if (!st) w->finished = 1;
    return st ? ts_error_context(err, "%s", w->dir) : TS_OK;
}

void ts_energon_close(ts_energon_writer *w) {
    if (!w) return;
    ts_tar_abort(w->tar);
    ts_buf_free(&w->idx);
    ts_energon_layout_free(&w->layout);
    ts_hash_set_free(&w->keys);
    free(w->shards);
    free(w->dir);
    free(w);
}

/* ---- resume, reservation, drop totals ---- */

static ts_status add_shard_info(ts_energon_writer *w, ts_error *err) {
    if (w->cap_shards == w->n_shards) {
        size_t cap = w->cap_shards ? w->cap_shards * 2 : 16;
        void *p = realloc(w->shards, cap * sizeof *w->shards);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        w->shards = p;
        w->cap_shards = cap;
    }
    ts_energon_shard_info *info = &w->shards[w->n_shards];
    snprintf(info->name, sizeof info->name, "%s-%06zu.tar", w->o.prefix, w->n_shards);
    info->split = shard_split(&w->o, w->n_shards);
    info->count = 0;
    return TS_OK;
}

ts_status ts_energon_resume(ts_energon_writer **out, const char *dir, const ts_energon_options *o,
                            size_t n_shards, uint64_t expect_written, const char *const *reasons,
                            const uint64_t *counts, size_t n_reasons, ts_error *err) {
    ts_status st = open_writer(out, dir, o, 1, err);
    if (st) return st;
    ts_energon_writer *w = *out;
    if ((st = ts_energon_clean_dir(dir, w->o.prefix, n_shards, err))) goto fail;
    while (w->n_shards < n_shards) {
        if ((st = add_shard_info(w, err))) goto fail;
        ts_energon_shard_info *info = &w->shards[w->n_shards];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, info->name);
        uint64_t size = 0;
        if ((st = ts_energon_scan_shard(path, &w->keys, &info->count, &w->image_exts, &size, err))) goto fail;
        w->written += info->count;
        w->bytes += size;
        w->n_shards++;
    }
    if (w->written != expect_written) {
        st = ts_fail(err, TS_EFORMAT, "%zu shards hold %llu samples, the checkpoint says %llu", n_shards,
                     (unsigned long long)w->written, (unsigned long long)expect_written);
        goto fail;
    }
    for (size_t i = 0; i < n_reasons; i++) count_reason(&w->drops, reasons[i], counts[i]);
    return TS_OK;
fail:
    ts_energon_close(w);
    *out = NULL;
    return ts_error_context(err, "resuming %s", dir);
}

ts_status ts_energon_reserve(ts_energon_writer *w, const ts_sample *s, int *rotated, ts_error *err) {
    *rotated = 0;
    if (w->finished || !w->tar || !w->shard_samples) return TS_OK;
    ts_error scratch;
    const char *reason = NULL;
    if (ts_sample_check(s, &scratch)) return TS_OK;
    ts_status st = ts_energon_layout_build(&w->layout, w->o.type, s, w->o.max_images, &reason, &scratch);
    if (st) return reason ? TS_OK : ts_fail(err, st, "%s", scratch.msg);
    uint64_t need = 0;
    for (size_t i = 0; i < w->layout.n; i++) need += ts_tar_member_size(w->layout.members[i].len);
    if (ts_tar_offset(w->tar) + need + 2 * TS_TAR_BLOCK <= w->o.shard_bytes) return TS_OK;
    *rotated = 1;
    return finish_shard(w, err);
}

void ts_energon_undrop(ts_energon_writer *w, const char *reason, uint64_t n) {
    for (size_t i = 0; i < w->drops.n; i++)
        if (!strcmp(w->drops.r[i].name, reason)) {
            w->drops.r[i].count -= n < w->drops.r[i].count ? n : w->drops.r[i].count;
            if (!w->drops.r[i].count) w->drops.r[i] = w->drops.r[--w->drops.n];
            return;
        }
}

size_t ts_energon_drop_reasons(const ts_energon_writer *w, const char **names, uint64_t *counts,
                               size_t max) {
    for (size_t i = 0; i < w->drops.n && i < max; i++) {
        names[i] = w->drops.r[i].name;
        counts[i] = w->drops.r[i].count;
    }
    return w->drops.n;
}
