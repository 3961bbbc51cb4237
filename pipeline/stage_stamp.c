/* Stamp files: what a finished stage wrote, under which key (stage_stamp.h). */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "core/log.h"
#include "core/version.h"
#include "pipeline/stage_stamp.h"

#define STAMP_MAX_BYTES ((size_t)64 << 20)

static int valid_stage(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 127 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static ts_status stamp_path(const char *root, const char *stage, const char *suffix, ts_buf *out, ts_error *err) {
    if (!valid_stage(stage)) return ts_fail(err, TS_EINVAL, "bad stage name \"%s\"", stage);
    ts_buf_reset(out);
    return ts_buf_printf(out, err, "%s/.stamps/%s%s", root, stage, suffix);
}

static ts_status stamps_dir(const char *root, ts_error *err) {
    ts_buf d = TS_BUF_INIT;
    ts_status st = ts_buf_printf(&d, err, "%s/.stamps", root);
    if (!st) st = ts_mkdirs((const char *)d.data, err);
    ts_buf_free(&d);
    return st;
}

static void key_hex(const ts_stage_key *k, char hex[33]) {
    ts_hash128_hex(ts_stage_key_digest(k), hex);
}

ts_status ts_stamp_begin(const char *root, const char *stage, const ts_stage_key *key, int *resumable,
                         ts_error *err) {
    *resumable = 0;
    ts_buf path = TS_BUF_INIT, old = TS_BUF_INIT;
    char hex[33];
    key_hex(key, hex);
    ts_status st = stamps_dir(root, err);
    if (!st) st = stamp_path(root, stage, ".started", &path, err);
    if (!st && ts_read_file((const char *)path.data, 64, &old, NULL) == TS_OK)
        *resumable = old.len == 32 && memcmp(old.data, hex, 32) == 0;
    if (!st) st = ts_write_file_atomic((const char *)path.data, hex, 32, 1, err);
    ts_buf_free(&path);
    ts_buf_free(&old);
    return st;
}

/* The identity fields as decimal strings (they exceed a double's 53 bits). */
static int add_identity(cJSON *e, const ts_stage_output *o) {
    if (!o->has_stat) return 1;
    char m[24], ino[24], dev[24];
    snprintf(m, sizeof m, "%" PRId64, o->mtime_ns);
    snprintf(ino, sizeof ino, "%" PRIu64, o->inode);
    snprintf(dev, sizeof dev, "%" PRIu64, o->device);
    return cJSON_AddStringToObject(e, "mtime_ns", m) && cJSON_AddStringToObject(e, "inode", ino) &&
           cJSON_AddStringToObject(e, "device", dev);
}

static cJSON *outputs_json(const ts_stage_outputs *o) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < o->n; i++) {
        cJSON *e = cJSON_CreateObject();
        char h[17];
        ts_hash64_hex(o->v[i].xxh3, h);
        if (!e || !cJSON_AddStringToObject(e, "path", o->v[i].path) ||
            !cJSON_AddNumberToObject(e, "bytes", (double)o->v[i].bytes) || !cJSON_AddStringToObject(e, "xxh3", h) ||
            !add_identity(e, &o->v[i])) {
            cJSON_Delete(e);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

/* The key's input lines as a JSON array of strings. */
static cJSON *inputs_json(const ts_stage_key *k) {
    cJSON *arr = cJSON_CreateArray();
    const char *p = (const char *)k->text.data, *end = p + k->text.len;
    while (arr && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = strndup(p, n);
        cJSON *s = line ? cJSON_CreateString(line) : NULL;
        free(line);
        if (!s) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, s);
        p += n + 1;
    }
    return arr;
}

ts_status ts_stamp_write(const char *root, const char *stage, const ts_stage_key *key,
                         const ts_stage_outputs *outputs, double seconds, const cJSON *info, ts_error *err) {
    char hex[33];
    key_hex(key, hex);
    cJSON *doc = cJSON_CreateObject();
    int ok = doc && cJSON_AddStringToObject(doc, "stage", stage) &&
             cJSON_AddStringToObject(doc, "version", TS_VERSION) && cJSON_AddStringToObject(doc, "key", hex);
    cJSON *in = ok ? inputs_json(key) : NULL, *out = ok && in ? outputs_json(outputs) : NULL;
    ok = ok && in && out;
    if (ok) {
        cJSON_AddItemToObject(doc, "inputs", in);
        cJSON_AddItemToObject(doc, "outputs", out);
        in = out = NULL;
        ok = cJSON_AddNumberToObject(doc, "seconds", seconds) != NULL;
    }
    if (ok && info) {
        cJSON *copy = cJSON_Duplicate(info, 1);
        ok = copy != NULL;
        if (ok) cJSON_AddItemToObject(doc, "info", copy);
    }
    cJSON_Delete(in);
    cJSON_Delete(out);
    char *text = ok ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) return ts_fail(err, TS_ENOMEM, "stamp %s: out of memory", stage);
    ts_buf path = TS_BUF_INIT;
    ts_status st = stamps_dir(root, err);
    if (!st) st = stamp_path(root, stage, ".json", &path, err);
    if (!st) st = ts_write_file_atomic((const char *)path.data, text, strlen(text), 1, err);
    free(text);
    if (!st) st = stamp_path(root, stage, ".started", &path, err);
    if (!st && unlink((const char *)path.data) != 0 && errno != ENOENT)
        st = ts_fail_errno(err, TS_EIO, "%s: cannot remove", (char *)path.data);
    ts_buf_free(&path);
    return st;
}

/* The first input line that differs between the stamp and the current key. */
static void explain_key_change(const cJSON *stamp_inputs, const ts_stage_key *k, char *why, size_t n) {
    const char *p = (const char *)k->text.data, *end = p + k->text.len;
    const cJSON *old = cJSON_IsArray(stamp_inputs) ? stamp_inputs->child : NULL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *was = old && cJSON_IsString(old) ? old->valuestring : NULL;
        if (!was || strlen(was) != len || memcmp(was, p, len) != 0) {
            /* Same input name: its old value; else the old line whole. */
            const char *eq = was ? strchr(was, '=') : NULL, *neq = memchr(p, '=', len);
            int same = eq && neq && eq - was == neq - p && memcmp(was, p, (size_t)(eq - was)) == 0;
            snprintf(why, n, "input changed: %.*s (was %.200s)", (int)(len > 200 ? 200 : len), p,
                     same ? eq + 1 : was ? was : "absent");
            return;
        }
        old = old->next;
        p += len + 1;
    }
    snprintf(why, n, "input changed: %s", old ? "an input was removed" : "key differs");
}

/* A decimal u64 field; 0 when absent or malformed. */
static int decimal_field(const cJSON *e, const char *name, uint64_t *out) {
    const char *v = ts_json_str(e, name, NULL);
    char *end = NULL;
    if (!v || !*v || *v == '-') return 0;
    errno = 0;
    *out = strtoull(v, &end, 10);
    return !*end && errno == 0;
}

static ts_status load_outputs(const cJSON *arr, ts_stage_outputs *o, int *ok, ts_error *err) {
    *ok = cJSON_IsArray(arr);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        const char *path = ts_json_str(e, "path", NULL), *hex = ts_json_str(e, "xxh3", NULL);
        double bytes = ts_json_num(e, "bytes", -1);
        char *endp = NULL;
        uint64_t h = hex ? strtoull(hex, &endp, 16) : 0;
        if (!path || !hex || strlen(hex) != 16 || *endp || bytes < 0 || strstr(path, "..")) {
            *ok = 0;
            return TS_OK;
        }
        /* Stamps written before identities were kept lack them: such an
         * output is re-hashed. */
        uint64_t m = 0;
        ts_stage_output rec = {.path = (char *)path, .bytes = (uint64_t)bytes, .xxh3 = h};
        rec.has_stat = decimal_field(e, "mtime_ns", &m) && decimal_field(e, "inode", &rec.inode) &&
                       decimal_field(e, "device", &rec.device) && m <= INT64_MAX;
        rec.mtime_ns = (int64_t)m;
        ts_status st = ts_stage_outputs_push_output(o, &rec, err);
        if (st) return st;
    }
    return TS_OK;
}

/* The file still is what the stamp says. Trusted without reading when its
 * identity matches; else re-hashed (o's identity then updated, *refresh set). */
static ts_status check_output(const char *root, ts_stage_output *o, ts_stamp_mode mode, ts_stamp_check *c,
                              int *refresh, ts_error *err) {
    ts_buf full = TS_BUF_INIT;
    ts_status st = ts_buf_printf(&full, err, "%s/%s", root, o->path);
    if (st) goto done;
    const char *path = (const char *)full.data;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) snprintf(c->why, sizeof c->why, "output missing: %.400s", o->path);
        else st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", path);
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(c->why, sizeof c->why, "output changed: %.400s (not a file)", o->path);
        goto done;
    }
    if (mode == TS_STAMP_TRUST_STAT && o->has_stat && (uint64_t)sb.st_size == o->bytes &&
        (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec == o->mtime_ns &&
        (uint64_t)sb.st_ino == o->inode && (uint64_t)sb.st_dev == o->device) {
        c->trusted++;
        goto done;
    }
    if ((uint64_t)sb.st_size != o->bytes) { /* no need to read it */
        snprintf(c->why, sizeof c->why, "output changed: %.400s", o->path);
        goto done;
    }
    ts_stage_output now = {0};
    ts_error fe;
    ts_status fs = ts_stage_output_measure(path, &now, &fe);
    if (fs == TS_ENOTFOUND) {
        snprintf(c->why, sizeof c->why, "output missing: %.400s", o->path);
        goto done;
    }
    if (fs) {
        st = ts_fail(err, fs, "%s", fe.msg);
        goto done;
    }
    c->rehashed++;
    c->rehashed_bytes += now.bytes;
    if (now.bytes != o->bytes || now.xxh3 != o->xxh3) {
        snprintf(c->why, sizeof c->why, "output changed: %.400s", o->path);
        goto done;
    }
    if (now.has_stat != o->has_stat || now.mtime_ns != o->mtime_ns || now.inode != o->inode ||
        now.device != o->device) {
        o->has_stat = now.has_stat;
        o->mtime_ns = now.mtime_ns;
        o->inode = now.inode;
        o->device = now.device;
        *refresh = 1;
    }
done:
    ts_buf_free(&full);
    return st;
}

/* Rewrite the stamp with its outputs' new identities (same key, same
 * outputs): an optimisation, so a failure is only logged. */
static void refresh_stamp(const char *path, cJSON *doc, const ts_stage_outputs *outputs) {
    cJSON *out = outputs_json(outputs);
    char *text = NULL;
    if (out && cJSON_ReplaceItemInObjectCaseSensitive(doc, "outputs", out)) {
        out = NULL;
        text = cJSON_Print(doc);
    }
    cJSON_Delete(out);
    ts_error e;
    if (!text) ts_warn("%s: cannot refresh the stamp: out of memory", path);
    else if (ts_write_file_atomic(path, text, strlen(text), 1, &e) != TS_OK)
        ts_warn("cannot refresh the stamp: %s", e.msg);
    free(text);
}

ts_status ts_stamp_verify(const char *root, const char *stage, const ts_stage_key *key, ts_stamp_mode mode,
                          ts_stamp_check *c, ts_error *err) {
    memset(c, 0, sizeof *c);
    ts_buf path = TS_BUF_INIT;
    ts_status st = stamp_path(root, stage, ".json", &path, err);
    cJSON *doc = NULL;
    if (st) goto done;
    struct stat sb;
    if (stat((const char *)path.data, &sb) != 0) {
        snprintf(c->why, sizeof c->why, "no stamp");
        goto done;
    }
    ts_error e2;
    if (ts_json_load_file((const char *)path.data, STAMP_MAX_BYTES, &doc, &e2) != TS_OK) {
        snprintf(c->why, sizeof c->why, "unreadable stamp: %.400s", e2.msg);
        goto done;
    }
    char hex[33];
    key_hex(key, hex);
    if (strcmp(ts_json_str(doc, "key", ""), hex) != 0) {
        explain_key_change(cJSON_GetObjectItemCaseSensitive(doc, "inputs"), key, c->why, sizeof c->why);
        goto done;
    }
    int ok;
    if ((st = load_outputs(cJSON_GetObjectItemCaseSensitive(doc, "outputs"), &c->outputs, &ok, err))) goto done;
    if (!ok) {
        snprintf(c->why, sizeof c->why, "stamp lists a malformed output");
        goto done;
    }
    int refresh = 0;
    for (size_t i = 0; i < c->outputs.n && !st && !c->why[0]; i++)
        st = check_output(root, &c->outputs.v[i], mode, c, &refresh, err);
    if (st || c->why[0]) goto done;
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(doc, "info");
    if (info && !(c->info = cJSON_Duplicate(info, 1))) {
        st = ts_fail(err, TS_ENOMEM, "out of memory");
        goto done;
    }
    c->seconds = ts_json_num(doc, "seconds", 0);
    c->valid = 1;
    if (refresh) refresh_stamp((const char *)path.data, doc, &c->outputs);
done:
    cJSON_Delete(doc);
    ts_buf_free(&path);
    if (!c->valid) ts_stage_outputs_free(&c->outputs);
    return st;
}

ts_status ts_stamp_load_outputs(const char *root, const char *stage, ts_stage_outputs *out, ts_error *err) {
    ts_buf path = TS_BUF_INIT;
    cJSON *doc = NULL;
    ts_error ignored;
    int ok = 1;
    ts_status st = stamp_path(root, stage, ".json", &path, err);
    if (!st && ts_json_load_file((const char *)path.data, STAMP_MAX_BYTES, &doc, &ignored) == TS_OK)
        st = load_outputs(cJSON_GetObjectItemCaseSensitive(doc, "outputs"), out, &ok, err);
    if (!st && !ok) ts_stage_outputs_free(out); /* malformed: nothing to reuse */
    cJSON_Delete(doc);
    ts_buf_free(&path);
    return st;
}

void ts_stamp_check_free(ts_stamp_check *c) {
    ts_stage_outputs_free(&c->outputs);
    cJSON_Delete(c->info);
    c->info = NULL;
}

void ts_stamp_remove(const char *root, const char *stage) {
    ts_buf path = TS_BUF_INIT;
    if (stamp_path(root, stage, ".json", &path, NULL) == TS_OK) unlink((const char *)path.data);
    ts_buf_free(&path);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

ts_status ts_remove_tree(const char *path, ts_error *err) {
    if (!*path || strcmp(path, "/") == 0 || strstr(path, ".."))
        return ts_fail(err, TS_EINVAL, "refusing to remove \"%s\"", path);
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? TS_OK : ts_fail_errno(err, TS_EIO, "%s: cannot stat", path);
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return ts_fail_errno(err, TS_EIO, "%s: cannot remove", path);
    return TS_OK;
}
