#include "dedup.h"

#include <stdlib.h>

#include "core/hash_set.h"
#include "dedup_internal.h"

struct ts_dedup {
    ts_dedup_options opts;
    ts_hash_set keys[2]; /* by ts_dedup_kind */
    ts_dedup_counts counts[2];
    ts_buf norm; /* scratch for normalized text */
};

void ts_dedup_options_default(ts_dedup_options *o) { o->casefold = 1; }

ts_status ts_dedup_open(ts_dedup **out, const char *index_path, const ts_dedup_options *opts,
                        ts_error *err) {
    *out = NULL;
    ts_dedup *d = calloc(1, sizeof *d);
    if (!d) return ts_fail(err, TS_ENOMEM, "dedup: out of memory");
    if (opts)
        d->opts = *opts;
    else
        ts_dedup_options_default(&d->opts);
    if (index_path) {
        ts_status st = ts_dedup_index_load(index_path, &d->keys[TS_DEDUP_IMAGE],
                                           &d->keys[TS_DEDUP_TEXT], err);
        if (st == TS_ENOTFOUND) {
            ts_error_clear(err); /* missing index: fresh start */
        } else if (st != TS_OK) {
            ts_dedup_close(d);
            return st;
        }
    }
    for (int k = 0; k < 2; k++) d->counts[k].loaded = d->keys[k].used;
    *out = d;
    return TS_OK;
}

void ts_dedup_close(ts_dedup *d) {
    if (!d) return;
    for (int k = 0; k < 2; k++) ts_hash_set_free(&d->keys[k]);
    ts_buf_free(&d->norm);
    free(d);
}

static ts_status add_key(ts_dedup *d, ts_dedup_kind kind, ts_hash128 h, ts_dedup_verdict *verdict,
                         ts_hash128 *key, ts_error *err) {
    int r = ts_hash_set_insert(&d->keys[kind], h);
    if (r < 0) return ts_fail(err, TS_ENOMEM, "dedup: out of memory for %s keys",
                              kind == TS_DEDUP_IMAGE ? "image" : "text");
    ts_dedup_counts *c = &d->counts[kind];
    c->seen++;
    if (r == 1)
        c->kept++;
    else
        c->dropped++;
    *verdict = r == 1 ? TS_DEDUP_KEPT : TS_DEDUP_DUPLICATE;
    if (key) *key = h;
    return TS_OK;
}

ts_status ts_dedup_image(ts_dedup *d, const void *bytes, size_t len, ts_dedup_verdict *verdict,
                         ts_hash128 *key, ts_error *err) {
    return add_key(d, TS_DEDUP_IMAGE, ts_xxh3_128(bytes, len), verdict, key, err);
}

ts_status ts_dedup_image_key(ts_dedup *d, ts_hash128 key, ts_dedup_verdict *verdict, ts_error *err) {
    return add_key(d, TS_DEDUP_IMAGE, key, verdict, NULL, err);
}

ts_status ts_dedup_text(ts_dedup *d, const char *text, size_t len, ts_dedup_verdict *verdict,
                        ts_hash128 *key, ts_error *err) {
    ts_status st = ts_dedup_normalize_text(text, len, d->opts.casefold, &d->norm, err);
    if (st != TS_OK) return st;
    return add_key(d, TS_DEDUP_TEXT, ts_xxh3_128(d->norm.data, d->norm.len), verdict, key, err);
}

ts_dedup_counts ts_dedup_counts_of(const ts_dedup *d, ts_dedup_kind kind) {
    return d->counts[kind];
}

const char *ts_dedup_reason(ts_dedup_kind kind) {
    return kind == TS_DEDUP_IMAGE ? "dup_image" : "dup_text";
}

ts_status ts_dedup_save(const ts_dedup *d, const char *path, ts_error *err) {
    return ts_dedup_index_save(path, &d->keys[TS_DEDUP_IMAGE], &d->keys[TS_DEDUP_TEXT], err);
}
