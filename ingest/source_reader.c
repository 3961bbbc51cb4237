/* Reading a source: fetch or locate its inputs, open image archives, build
 * join tables, and stream the raw records through the mapping
 * (ingest/source.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "ingest/source_internal.h"
#include "ingest/zip_index.h"

/* A JSON document read whole for "select" (record arrays and tables). */
#define DOC_MAX_BYTES ((size_t)4 << 30)

typedef struct join_row {
    const char *key; /* into keys */
    const cJSON *row;
    size_t order;
} join_row;

typedef struct join_index {
    join_row *rows;
    size_t n;
    char *keys;
} join_index;

typedef struct doc_entry {
    char *path;
    cJSON *doc;
} doc_entry;

struct ts_source_reader {
    const ts_source *src;
    const src_input *ins;
    size_t n_ins;
    char **paths;       /* per input: the local file or folder */
    char *tmpdir;       /* members extracted without a cache folder; removed at close */
    ts_zip **zips;      /* per input (images zips) */
    doc_entry *docs;
    size_t n_docs;
    join_index *joins;  /* per mapping join */
    src_map_ctx map;
    /* iteration */
    size_t cur;         /* current input */
    int opened;
    ts_record_reader *rr;
    const cJSON *sel;   /* the selected array/object */
    const cJSON *next_el;
    char *dir, *label;  /* of the current records file */
    uint64_t file_index;
    uint64_t next_ordinal;
    cJSON *owned;       /* record from the record reader */
    cJSON *lent;        /* record inside a document, with members added for the mapping */
    ts_buf location;
    char last_bad[TS_ERROR_MSG_MAX]; /* the last bad JSON line's message */
    cJSON *join_items[16];
    ts_source_record rec;
};

static ts_status fail_oom(ts_error *err) { return ts_fail(err, TS_ENOMEM, "out of memory"); }

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static char *dir_name(const char *p) {
    const char *s = strrchr(p, '/');
    if (!s) return strdup(".");
    if (s == p) return strdup("/");
    return strndup(p, (size_t)(s - p));
}

/* The file name a URL is cached under: its last path segment, no query. */
static ts_status url_file_name(const char *url, ts_buf *out, ts_error *err) {
    const char *end = url + strcspn(url, "?#");
    const char *s = end;
    while (s > url && s[-1] != '/') s--;
    if (s == end) return ts_fail(err, TS_EINVAL, "URL %s has no file name", url);
    ts_buf_reset(out);
    for (const char *p = s; p < end; p++)
        if (ts_buf_append(out, (*p == '%' || *p == ':') ? "_" : p, 1, err)) return TS_ENOMEM;
    return ts_buf_append(out, "", 1, err);
}

static int file_exists(const char *p, int64_t size) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (size < 0 || sb.st_size == size);
}

/* Where the data of input i lives locally (downloading / extracting). */
static ts_status materialize(ts_source_reader *r, const ts_source_open_options *o, size_t i, ts_error *err) {
    const src_input *in = &r->ins[i];
    ts_buf name = TS_BUF_INIT;
    ts_status st = TS_OK;
    char *container = NULL;
    if (in->url) {
        if (!o->cache_dir || !*o->cache_dir)
            return ts_fail(err, TS_EINVAL, "%s: input %s is a URL: give a cache folder (or use the local copies)",
                           r->src->name, in->jpath);
        if ((st = url_file_name(in->url, &name, err))) return st;
        size_t n = strlen(o->cache_dir) + strlen(r->src->name) + name.len + 20;
        if (!(container = malloc(n))) {
            ts_buf_free(&name);
            return fail_oom(err);
        }
        snprintf(container, n, "%s/%s", o->cache_dir, r->src->name);
        st = ts_mkdirs(container, err);
        /* The URL's hash keeps files of the same name apart (train/0000.parquet, test/0000.parquet). */
        snprintf(container, n, "%s/%s/%08x-%s", o->cache_dir, r->src->name,
                 (unsigned)(ts_xxh3_64(in->url, strlen(in->url)) >> 32), (const char *)name.data);
        /* A complete file in the cache is trusted (size and sha256 were checked when it was downloaded). */
        if (!st && !file_exists(container, in->size)) {
            ts_download_options dl;
            ts_outcome oc;
            st = src_auth_download_options(r->src, in, o->download, &dl, err);
            if (!st) {
                ts_info("%s: downloading %s%s", r->src->name, in->url, in->auth ? " (with a bearer token)" : "");
                st = ts_download_file(&dl, in->url, container, in->size, in->sha256, &oc, err);
                if (st && in->auth)
                    ts_error_context(err, "%s: %s (bearer token from $%s): ", r->src->name, in->jpath, r->src->auth_env);
                else if (st)
                    ts_error_context(err, "%s: %s: ", r->src->name, in->jpath);
            }
        }
    } else if (!(container = strdup(in->path))) {
        st = fail_oom(err);
    }
    if (!st && in->member) {
        ts_zip *z = NULL;
        char *dest = NULL;
        if (o->cache_dir && *o->cache_dir) {
            size_t n = strlen(o->cache_dir) + strlen(r->src->name) + strlen(base_name(container)) + strlen(in->member) + 8;
            if ((dest = malloc(n))) snprintf(dest, n, "%s/%s/%s.d", o->cache_dir, r->src->name, base_name(container));
        } else {
            if (!r->tmpdir) {
                const char *t = getenv("TMPDIR");
                size_t n = strlen(t && *t ? t : "/tmp") + 24;
                if ((r->tmpdir = malloc(n))) {
                    snprintf(r->tmpdir, n, "%s/tessera-src.XXXXXX", t && *t ? t : "/tmp");
                    if (!mkdtemp(r->tmpdir)) {
                        free(r->tmpdir);
                        r->tmpdir = NULL;
                        st = ts_fail_errno(err, TS_EIO, "cannot make a temporary folder");
                    }
                }
            }
            size_t n = r->tmpdir ? strlen(r->tmpdir) + 32 : 0;
            if (r->tmpdir && (dest = malloc(n))) snprintf(dest, n, "%s/%zu", r->tmpdir, i);
        }
        if (!st && !dest) st = fail_oom(err);
        if (!st) st = ts_mkdirs(dest, err);
        if (!st) {
            /* flatten the member's path into one file name */
            size_t n = strlen(dest) + strlen(in->member) + 2;
            char *file = malloc(n);
            if (!file) st = fail_oom(err);
            else {
                snprintf(file, n, "%s/%s", dest, in->member);
                for (char *p = file + strlen(dest) + 1; *p; p++)
                    if (*p == '/') *p = '_';
                free(dest);
                dest = file;
            }
        }
        if (!st) st = ts_zip_open(container, &z, err);
        long m = st ? -1 : ts_zip_find(z, in->member);
        if (!st && m < 0) st = ts_fail(err, TS_ENOTFOUND, "%s: no member '%s'", container, in->member);
        if (!st && !file_exists(dest, (int64_t)ts_zip_size(z, (size_t)m))) {
            ts_buf data = TS_BUF_INIT;
            st = ts_zip_read(z, (size_t)m, (size_t)1 << 32, &data, err);
            if (!st) st = ts_write_file_atomic(dest, data.data, data.len, 0, err);
            ts_buf_free(&data);
        }
        ts_zip_close(z);
        if (st) {
            ts_error_context(err, "%s: %s: ", r->src->name, in->jpath);
            free(dest);
        } else {
            free(container);
            container = dest;
        }
    }
    ts_buf_free(&name);
    if (st) {
        free(container);
        return st;
    }
    r->paths[i] = container;
    return TS_OK;
}

static ts_status load_doc(ts_source_reader *r, const char *path, cJSON **out, ts_error *err) {
    for (size_t i = 0; i < r->n_docs; i++)
        if (strcmp(r->docs[i].path, path) == 0) {
            *out = r->docs[i].doc;
            return TS_OK;
        }
    doc_entry *g = realloc(r->docs, (r->n_docs + 1) * sizeof *g);
    if (!g) return fail_oom(err);
    r->docs = g;
    cJSON *doc = NULL;
    ts_status st = ts_json_load_file(path, DOC_MAX_BYTES, &doc, err);
    if (st) return ts_error_context(err, "%s: ", path);
    if (!(g[r->n_docs].path = strdup(path))) {
        cJSON_Delete(doc);
        return fail_oom(err);
    }
    g[r->n_docs++].doc = doc;
    *out = doc;
    return TS_OK;
}

/* The array or object of records/rows an input's "select" names. */
static ts_status selected(ts_source_reader *r, size_t i, const cJSON **out, ts_error *err) {
    const src_input *in = &r->ins[i];
    cJSON *doc = NULL;
    ts_status st = load_doc(r, r->paths[i], &doc, err);
    if (st) return st;
    const cJSON *node = in->select_root ? doc : ts_fpath_get(in->select, doc);
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
        return ts_fail(err, TS_EFORMAT, "%s: \"select\" '%s' is not an array or object in %s", r->src->name,
                       in->select ? ts_fpath_text(in->select) : "", r->paths[i]);
    *out = node;
    return TS_OK;
}

static int row_cmp(const void *a, const void *b) {
    const join_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static ts_status build_join(ts_source_reader *r, size_t j, ts_error *err) {
    const src_join *sj = &r->src->map.joins[j];
    long t = src_find_input(r->ins, r->n_ins, sj->table);
    const cJSON *rows;
    ts_status st = selected(r, (size_t)t, &rows, err);
    if (st) return st;
    join_index *ji = &r->joins[j];
    size_t n = (size_t)cJSON_GetArraySize(rows), k = 0;
    ts_buf keys = TS_BUF_INIT, one = TS_BUF_INIT;
    size_t *offs = malloc((n ? n : 1) * sizeof *offs);
    ji->rows = malloc((n ? n : 1) * sizeof *ji->rows);
    if (!offs || !ji->rows) {
        free(offs);
        return fail_oom(err);
    }
    for (const cJSON *row = rows->child; row; row = row->next) {
        const cJSON *kv = ts_fpath_get(sj->key, row);
        ts_buf_reset(&one);
        if (!kv || ts_json_scalar_text(kv, &one, err) != 0) continue; /* rows without a key join nothing */
        offs[k] = keys.len;
        if (ts_buf_append(&keys, one.data, one.len, err) || ts_buf_append(&keys, "", 1, err)) {
            st = TS_ENOMEM;
            break;
        }
        ji->rows[k].row = row;
        ji->rows[k].order = k;
        k++;
    }
    ts_buf_free(&one);
    ji->n = k;
    ji->keys = (char *)keys.data;
    for (size_t i = 0; i < k; i++) ji->rows[i].key = ji->keys + offs[i];
    free(offs);
    if (st) return fail_oom(err);
    qsort(ji->rows, ji->n, sizeof *ji->rows, row_cmp);
    ts_debug("%s: join table %s: %zu rows", r->src->name, sj->table, ji->n);
    return TS_OK;
}

static size_t lower_bound(const join_index *ji, const char *key) {
    size_t lo = 0, hi = ji->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ji->rows[mid].key, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void ts_source_reader_close(ts_source_reader *r) {
    if (!r) return;
    ts_record_reader_close(r->rr);
    cJSON_Delete(r->owned);
    for (size_t i = 0; i < r->n_ins; i++) {
        ts_zip_close(r->zips ? r->zips[i] : NULL);
        if (r->paths && r->paths[i] && r->tmpdir && strncmp(r->paths[i], r->tmpdir, strlen(r->tmpdir)) == 0) {
            unlink(r->paths[i]);
            char *d = dir_name(r->paths[i]);
            if (d) rmdir(d);
            free(d);
        }
        if (r->paths) free(r->paths[i]);
    }
    if (r->tmpdir) rmdir(r->tmpdir);
    free(r->tmpdir);
    free(r->paths);
    free(r->zips);
    for (size_t i = 0; i < r->n_docs; i++) {
        cJSON_Delete(r->docs[i].doc);
        free(r->docs[i].path);
    }
    free(r->docs);
    for (size_t j = 0; r->joins && j < r->src->map.n_joins; j++) {
        free(r->joins[j].rows);
        free(r->joins[j].keys);
    }
    free(r->joins);
    free((void *)r->map.zips);
    free((void *)r->map.dirs);
    src_map_ctx_free(&r->map);
    ts_sample_free(&r->rec.sample);
    ts_buf_free(&r->location);
    free(r->dir);
    free(r->label);
    free(r);
}

ts_status ts_source_reader_open(const ts_source *src, const ts_source_open_options *o, ts_source_reader **out,
                                ts_error *err) {
    *out = NULL;
    ts_source_open_options dflt = {0};
    if (!o) o = &dflt;
    if (o->use_local && !src->local)
        return ts_fail(err, TS_EINVAL, "%s: the manifest has no \"local\" inputs", src->manifest_path);
    ts_source_reader *r = calloc(1, sizeof *r);
    if (!r) return fail_oom(err);
    r->src = src;
    r->ins = o->use_local ? src->local : src->inputs;
    r->n_ins = o->use_local ? src->n_local : src->n_inputs;
    r->map.src = src;
    ts_sample_init(&r->rec.sample);
    r->paths = calloc(r->n_ins, sizeof *r->paths);
    r->zips = calloc(r->n_ins, sizeof *r->zips);
    r->joins = calloc(src->map.n_joins ? src->map.n_joins : 1, sizeof *r->joins);
    r->map.zips = calloc(src->map.n_images ? src->map.n_images : 1, sizeof *r->map.zips);
    r->map.dirs = calloc(src->map.n_images ? src->map.n_images : 1, sizeof *r->map.dirs);
    ts_status st = r->paths && r->zips && r->joins && r->map.zips && r->map.dirs ? TS_OK : fail_oom(err);
    if (src->map.n_joins > sizeof r->join_items / sizeof r->join_items[0])
        st = ts_fail(err, TS_EUNSUPPORTED, "%s: more than 16 joins", src->name);
    for (size_t i = 0; !st && i < r->n_ins; i++) {
        st = materialize(r, o, i, err);
        if (!st && r->ins[i].role == SRC_IMAGES && r->ins[i].kind == SRC_FMT_ZIP)
            st = ts_zip_open(r->paths[i], &r->zips[i], err);
    }
    for (size_t k = 0; !st && k < src->map.n_images; k++) {
        const src_image *im = &src->map.images[k];
        if (im->kind != IMG_MEMBER) continue;
        long i = src_find_input(r->ins, r->n_ins, im->archive);
        r->map.zips[k] = r->zips[i];
        r->map.dirs[k] = r->zips[i] ? NULL : r->paths[i];
    }
    for (size_t j = 0; !st && j < src->map.n_joins; j++) st = build_join(r, j, err);
    if (st) {
        ts_source_reader_close(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

/* Attach the joined rows to the record; 0 when a required join has no match. */
static ts_status attach_joins(ts_source_reader *r, cJSON *rec, int *matched, ts_error *err) {
    *matched = 1;
    ts_buf *kb = &r->map.b2;
    for (size_t j = 0; j < r->src->map.n_joins; j++) {
        const src_join *sj = &r->src->map.joins[j];
        const join_index *ji = &r->joins[j];
        r->join_items[j] = NULL;
        const cJSON *on = ts_fpath_get(sj->on, rec);
        ts_buf_reset(kb);
        size_t lo = ji->n;
        if (on && ts_json_scalar_text(on, kb, err) == 0) {
            if (ts_buf_append(kb, "", 1, err)) return TS_ENOMEM;
            lo = lower_bound(ji, (const char *)kb->data);
        }
        size_t hi = lo;
        while (hi < ji->n && on && strcmp(ji->rows[hi].key, (const char *)kb->data) == 0) hi++;
        if (hi == lo && sj->required) {
            *matched = 0;
            ts_buf_reset(&r->map.message);
            r->map.drop_reason = "missing_join";
            return ts_buf_printf(&r->map.message, err, "%s: no row of table '%s' has %s = '%s'", r->map.location,
                                 sj->table, ts_fpath_text(sj->key), on ? (const char *)kb->data : "(missing)");
        }
        if (!cJSON_IsObject(rec)) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(rec, sj->as);
        cJSON *item = NULL;
        if (sj->many) {
            item = cJSON_CreateArray();
            for (size_t k = lo; item && k < hi; k++)
                if (!cJSON_AddItemReferenceToArray(item, (cJSON *)ji->rows[k].row)) {
                    cJSON_Delete(item);
                    item = NULL;
                }
            if (item && !cJSON_AddItemToObject(rec, sj->as, item)) {
                cJSON_Delete(item);
                item = NULL;
            }
        } else if (hi > lo) {
            /* a reference: the table row is not copied, nor freed with the record */
            if (cJSON_AddItemReferenceToObject(rec, sj->as, (cJSON *)ji->rows[lo].row))
                item = cJSON_GetObjectItemCaseSensitive(rec, sj->as);
        } else {
            item = cJSON_AddNullToObject(rec, sj->as);
        }
        if (!item) return fail_oom(err);
        r->join_items[j] = item;
    }
    return TS_OK;
}

/* Undo what was added to a record that belongs to a document. */
static void release_record(ts_source_reader *r) {
    cJSON_Delete(r->owned);
    r->owned = NULL;
    if (r->lent) {
        for (size_t j = 0; j < r->src->map.n_joins; j++)
            if (r->join_items[j]) cJSON_DeleteItemFromObjectCaseSensitive(r->lent, r->src->map.joins[j].as);
        cJSON_DeleteItemFromObjectCaseSensitive(r->lent, "__key__");
        r->lent = NULL;
    }
    memset(r->join_items, 0, sizeof r->join_items);
}

static ts_status open_input(ts_source_reader *r, ts_error *err) {
    const src_input *in = &r->ins[r->cur];
    const char *path = r->paths[r->cur];
    free(r->dir);
    free(r->label);
    r->dir = dir_name(in->path && !in->member ? in->path : path);
    r->label = strdup(in->member ? in->member : base_name(path));
    r->file_index = 0;
    if (!r->dir || !r->label) return fail_oom(err);
    if (in->select || in->select_root) {
        ts_status st = selected(r, r->cur, &r->sel, err);
        r->next_el = st ? NULL : r->sel->child;
        return st;
    }
    ts_rec_options opt = {0};
    opt.format = in->rec_format;
    return ts_record_reader_open(&r->rr, path, &opt, err);
}

/* The next raw record: TS_OK with *rec (or a bad_record drop noted in
 * *bad), TS_ENOTFOUND at the end of all records inputs. */
static ts_status next_raw(ts_source_reader *r, cJSON **rec, int *bad, ts_error *err) {
    *rec = NULL;
    *bad = 0;
    for (;;) {
        if (r->cur >= r->n_ins) return TS_ENOTFOUND;
        if (r->ins[r->cur].role != SRC_RECORDS) {
            r->cur++;
            continue;
        }
        if (!r->opened) {
            ts_status st = open_input(r, err);
            if (st) return st;
            r->opened = 1;
        }
        ts_buf_reset(&r->location);
        if (r->sel) {
            if (!r->next_el) {
                r->sel = NULL;
                r->opened = 0;
                r->cur++;
                continue;
            }
            cJSON *el = (cJSON *)r->next_el;
            r->next_el = el->next;
            const char *sel = r->ins[r->cur].select ? ts_fpath_text(r->ins[r->cur].select) : "";
            ts_status st = cJSON_IsObject(r->sel)
                               ? ts_buf_printf(&r->location, err, "%s: %s[\"%.200s\"]", r->label, sel, el->string)
                               : ts_buf_printf(&r->location, err, "%s: %s[%" PRIu64 "]", r->label, sel, r->file_index);
            if (st) return st;
            if (cJSON_IsObject(r->sel) && cJSON_IsObject(el)) {
                cJSON_DeleteItemFromObjectCaseSensitive(el, "__key__");
                if (!cJSON_AddStringToObject(el, "__key__", el->string)) return fail_oom(err);
            }
            r->lent = el;
            *rec = el;
            return TS_OK;
        }
        ts_status st = ts_record_reader_next(r->rr, rec, err);
        if (st == TS_ENOTFOUND) {
            ts_record_reader_close(r->rr);
            r->rr = NULL;
            r->opened = 0;
            r->cur++;
            continue;
        }
        if (ts_buf_printf(&r->location, NULL, "%s: record %" PRIu64, r->label, r->file_index)) return fail_oom(err);
        if (st == TS_EFORMAT && ts_record_reader_format(r->rr) == TS_REC_JSONL &&
            strcmp(err->msg, r->last_bad) != 0) {
            /* One bad line: the record is dropped and the file goes on. The
             * message names the line, so the same message twice means the
             * reader did not move (a broken compressed stream): fatal. */
            snprintf(r->last_bad, sizeof r->last_bad, "%s", err->msg);
            *bad = 1;
            return TS_OK;
        }
        if (st) return st;
        r->owned = *rec;
        return TS_OK;
    }
}

ts_status ts_source_reader_next(ts_source_reader *r, ts_source_record **out, ts_error *err) {
    *out = NULL;
    release_record(r);
    cJSON *raw;
    int bad;
    ts_error e = {0};
    ts_status st = next_raw(r, &raw, &bad, &e);
    if (st) {
        if (err) *err = e;
        return st;
    }
    ts_source_record *rec = &r->rec;
    r->map.location = (const char *)r->location.data;
    r->map.records_dir = r->dir;
    r->map.file_label = r->label;
    r->map.file_index = r->file_index;
    r->map.ordinal = rec->ordinal = r->next_ordinal++;
    rec->location = r->map.location;
    r->file_index++;
    r->map.drop_reason = NULL;
    if (bad) {
        r->map.drop_reason = "bad_record";
        ts_buf_reset(&r->map.message);
        st = ts_buf_printf(&r->map.message, err, "%s: %s", r->map.location, e.msg);
    } else {
        int matched;
        st = attach_joins(r, raw, &matched, err);
        if (!st && matched) st = src_map_record(&r->map, raw, &rec->sample, err);
    }
    if (st) return st;
    rec->drop_reason = r->map.drop_reason;
    rec->message = r->map.drop_reason ? (const char *)r->map.message.data : "";
    rec->image_urls = (const char *const *)r->map.urls;
    rec->n_image_urls = r->map.drop_reason ? 0 : r->map.n_urls;
    *out = rec;
    return TS_OK;
}

ts_status ts_source_reader_skip(ts_source_reader *r, uint64_t n, uint64_t *skipped, ts_error *err) {
    *skipped = 0;
    while (*skipped < n) {
        release_record(r);
        cJSON *raw;
        int bad;
        ts_error e = {0};
        ts_status st = next_raw(r, &raw, &bad, &e);
        if (st == TS_ENOTFOUND) return TS_OK;
        if (st) {
            if (err) *err = e;
            return st;
        }
        r->next_ordinal++;
        r->file_index++;
        (*skipped)++;
    }
    release_record(r);
    return TS_OK;
}
