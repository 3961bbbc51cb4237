/* Samples from tar/zip archives, grouped by key as WebDataset does. */
#include "ingest/tar_records.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "ingest/json_bytes.h"

struct ts_tar_records {
    char *path;
    struct archive *a;
    size_t max;
    /* the member read past the current sample, if any */
    char *pending_name;
    ts_buf pending;
    int have_pending, eof;
};

ts_status ts_tar_records_open(ts_tar_records **out, const char *path, size_t max_member_bytes,
                              ts_error *err) {
    ts_tar_records *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path)) || !(t->a = archive_read_new())) {
        ts_tar_records_close(t);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    t->max = max_member_bytes;
    archive_read_support_filter_all(t->a);
    archive_read_support_format_tar(t->a);
    archive_read_support_format_zip(t->a);
    if (archive_read_open_filename(t->a, path, 1 << 16) != ARCHIVE_OK) {
        ts_status st = ts_fail(err, TS_EIO, "%s: %s", path, archive_error_string(t->a));
        ts_tar_records_close(t);
        return st;
    }
    *out = t;
    return TS_OK;
}

/* The next regular member into t->pending; sets t->eof at the end. */
static ts_status read_member(ts_tar_records *t, ts_error *err) {
    struct archive_entry *e;
    for (;;) {
        int rc = archive_read_next_header(t->a, &e);
        if (rc == ARCHIVE_EOF) {
            t->eof = 1;
            return TS_OK;
        }
        if (rc < ARCHIVE_WARN)
            return ts_fail(err, TS_EFORMAT, "%s: %s", t->path, archive_error_string(t->a));
        if (archive_entry_filetype(e) == AE_IFREG) break;
    }
    const char *name = archive_entry_pathname(e);
    free(t->pending_name);
    t->pending_name = strdup(name ? name : "");
    if (!t->pending_name) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_buf_reset(&t->pending);
    char block[1 << 16];
    for (;;) {
        la_ssize_t n = archive_read_data(t->a, block, sizeof block);
        if (n == 0) break;
        if (n < 0)
            return ts_fail(err, TS_EFORMAT, "%s: member %s: %s", t->path, t->pending_name,
                           archive_error_string(t->a));
        if (t->pending.len + (size_t)n > t->max)
            return ts_fail(err, TS_ELIMIT, "%s: member %s is larger than %zu bytes", t->path,
                           t->pending_name, t->max);
        if (ts_buf_append(&t->pending, block, (size_t)n, err)) return TS_ENOMEM;
    }
    t->have_pending = 1;
    return TS_OK;
}

/* Key and extension of a member name: "a/b.c.jpg" -> "a/b" and "c.jpg". */
static void split_name(const char *name, size_t *key_len, const char **ext) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strchr(base, '.');
    *key_len = dot ? (size_t)(dot - name) : strlen(name);
    *ext = dot ? dot + 1 : "";
}

ts_status ts_tar_records_next(ts_tar_records *t, cJSON **out, ts_error *err) {
    ts_status st;
    if (!t->have_pending && !t->eof && (st = read_member(t, err))) return st;
    if (!t->have_pending) return TS_ENOTFOUND;
    size_t key_len;
    const char *ext;
    split_name(t->pending_name, &key_len, &ext);
    char *key = strndup(t->pending_name, key_len);
    cJSON *obj = cJSON_CreateObject();
    if (!key || !obj || !cJSON_AddStringToObject(obj, "__key__", key)) {
        free(key);
        cJSON_Delete(obj);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    st = TS_OK;
    while (t->have_pending) {
        size_t kl;
        split_name(t->pending_name, &kl, &ext);
        if (kl != key_len || strncmp(t->pending_name, key, key_len) != 0) break;
        const uint8_t *p = t->pending.data ? t->pending.data : (const uint8_t *)"";
        cJSON *v = ts_utf8_valid(p, t->pending.len) ? ts_json_utf8(p, t->pending.len)
                                                     : ts_json_base64(p, t->pending.len);
        if (!v) {
            st = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, ext); /* a repeated extension: the last wins */
        cJSON_AddItemToObject(obj, ext, v);
        t->have_pending = 0;
        if ((st = read_member(t, err))) break;
    }
    free(key);
    if (st) {
        cJSON_Delete(obj);
        return st;
    }
    *out = obj;
    return TS_OK;
}

void ts_tar_records_close(ts_tar_records *t) {
    if (!t) return;
    if (t->a) archive_read_free(t->a);
    free(t->pending_name);
    ts_buf_free(&t->pending);
    free(t->path);
    free(t);
}
