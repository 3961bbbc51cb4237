/* Stage keys and output listings (stage_stamp.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/version.h"
#include "pipeline/stage_stamp.h"

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

ts_status ts_stage_key_init(ts_stage_key *k, const char *stage, ts_error *err) {
    ts_buf empty = TS_BUF_INIT;
    k->text = empty;
    ts_status st = ts_buf_printf(&k->text, err, "stage=%s\nversion=%s\n", stage, TS_VERSION);
    if (st) ts_buf_free(&k->text);
    return st;
}

ts_status ts_stage_key_add(ts_stage_key *k, const char *name, const char *value, ts_error *err) {
    if (!valid_name(name)) return ts_fail(err, TS_EINVAL, "stage key: bad input name \"%s\"", name);
    if (strchr(value, '\n')) return ts_fail(err, TS_EINVAL, "stage key: value of %s holds a newline", name);
    return ts_buf_printf(&k->text, err, "%s=%s\n", name, value);
}

ts_status ts_stage_key_add_u64(ts_stage_key *k, const char *name, uint64_t value, ts_error *err) {
    char v[24];
    snprintf(v, sizeof v, "%" PRIu64, value);
    return ts_stage_key_add(k, name, v, err);
}

ts_status ts_stage_key_add_f64(ts_stage_key *k, const char *name, double value, ts_error *err) {
    char v[40];
    snprintf(v, sizeof v, "%.17g", value);
    return ts_stage_key_add(k, name, v, err);
}

ts_status ts_stage_key_add_hash(ts_stage_key *k, const char *name, ts_hash128 value, ts_error *err) {
    char v[33];
    ts_hash128_hex(value, v);
    return ts_stage_key_add(k, name, v, err);
}

ts_hash128 ts_stage_key_digest(const ts_stage_key *k) {
    return ts_xxh3_128(k->text.data, k->text.len);
}

void ts_stage_key_free(ts_stage_key *k) {
    ts_buf_free(&k->text);
}

/* Both file hashes stream the file through one 1 MiB buffer. */
typedef void (*chunk_fn)(void *ctx, const void *data, size_t n);

static ts_status stream_file(const char *path, chunk_fn fn, void *ctx, uint64_t *bytes, ts_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ts_fail_errno(err, errno == ENOENT ? TS_ENOTFOUND : TS_EIO, "%s: cannot open", path);
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    }
    uint64_t total = 0;
    ts_status st = TS_OK;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0) {
            if (errno == EINTR) continue;
            st = ts_fail_errno(err, TS_EIO, "%s: read failed", path);
            break;
        }
        if (r == 0) break;
        fn(ctx, buf, (size_t)r);
        total += (uint64_t)r;
    }
    free(buf);
    close(fd);
    if (!st && bytes) *bytes = total;
    return st;
}

static void hasher_chunk(void *ctx, const void *data, size_t n) {
    ts_hasher_update(ctx, data, n);
}

ts_status ts_file_xxh3_64(const char *path, uint64_t *out, uint64_t *bytes, ts_error *err) {
    ts_hasher *h = ts_hasher_new();
    if (!h) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    ts_status st = stream_file(path, hasher_chunk, h, bytes, err);
    if (!st) *out = ts_hasher_digest(h);
    ts_hasher_free(h);
    return st;
}

ts_status ts_stage_outputs_push(ts_stage_outputs *o, const char *rel, uint64_t bytes, uint64_t xxh3,
                                ts_error *err) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        ts_stage_output *v = realloc(o->v, cap * sizeof *v);
        if (!v) return ts_fail(err, TS_ENOMEM, "out of memory");
        o->v = v;
        o->cap = cap;
    }
    char *p = strdup(rel);
    if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
    o->v[o->n++] = (ts_stage_output){p, bytes, xxh3};
    return TS_OK;
}

static ts_status join(const char *root, const char *rel, ts_buf *out, ts_error *err) {
    ts_buf_reset(out);
    return ts_buf_printf(out, err, "%s/%s", root, rel);
}

ts_status ts_stage_outputs_add_file(ts_stage_outputs *o, const char *root, const char *rel, ts_error *err) {
    ts_buf full = TS_BUF_INIT;
    uint64_t h = 0, n = 0;
    ts_status st = join(root, rel, &full, err);
    if (!st) st = ts_file_xxh3_64((const char *)full.data, &h, &n, err);
    if (!st) st = ts_stage_outputs_push(o, rel, n, h, err);
    ts_buf_free(&full);
    return st;
}

static int is_writer_temp(const char *name) {
    const char *t = strstr(name, ".tmp-");
    if (!t) return 0;
    for (t += 5; *t; t++)
        if (*t < '0' || *t > '9') return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ts_status add_tree(ts_stage_outputs *o, const char *root, const char *rel, ts_stage_skip_fn skip,
                          ts_error *err) {
    ts_buf path = TS_BUF_INIT;
    ts_status st = join(root, rel, &path, err);
    if (st) return st;
    DIR *d = opendir((const char *)path.data);
    if (!d) {
        st = ts_fail_errno(err, errno == ENOENT ? TS_ENOTFOUND : TS_EIO, "%s: cannot list", (char *)path.data);
        ts_buf_free(&path);
        return st;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || is_writer_temp(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                st = ts_fail(err, TS_ENOMEM, "out of memory");
                break;
            }
            names = v;
        }
        if (!(names[n] = strdup(e->d_name))) st = ts_fail(err, TS_ENOMEM, "out of memory");
        else n++;
    }
    closedir(d);
    if (!st) qsort(names, n, sizeof *names, cmp_str);
    ts_buf child = TS_BUF_INIT;
    for (size_t i = 0; i < n && !st; i++) {
        ts_buf_reset(&child);
        st = ts_buf_printf(&child, err, "%s/%s", rel, names[i]);
        if (st || (skip && skip((const char *)child.data))) continue;
        struct stat sb;
        ts_buf full = TS_BUF_INIT;
        st = join(root, (const char *)child.data, &full, err);
        if (!st && lstat((const char *)full.data, &sb) != 0)
            st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", (char *)full.data);
        ts_buf_free(&full);
        if (st) break;
        if (S_ISDIR(sb.st_mode)) st = add_tree(o, root, (const char *)child.data, skip, err);
        else if (S_ISREG(sb.st_mode)) st = ts_stage_outputs_add_file(o, root, (const char *)child.data, err);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    ts_buf_free(&child);
    ts_buf_free(&path);
    return st;
}

ts_status ts_stage_outputs_add_tree(ts_stage_outputs *o, const char *root, const char *rel_dir,
                                    ts_stage_skip_fn skip, ts_error *err) {
    return add_tree(o, root, rel_dir, skip, err);
}

ts_hash128 ts_stage_outputs_digest(const ts_stage_outputs *o) {
    ts_buf text = TS_BUF_INIT;
    int failed = 0;
    for (size_t i = 0; i < o->n && !failed; i++)
        failed = ts_buf_printf(&text, NULL, "%s %" PRIu64 " %016" PRIx64 "\n", o->v[i].path, o->v[i].bytes,
                               o->v[i].xxh3) != TS_OK;
    /* Out of memory here makes the digest a fixed value that matches no real
     * listing's, so the next stage reruns rather than being skipped wrongly. */
    ts_hash128 h = failed ? (ts_hash128){~0ull, ~0ull} : ts_xxh3_128(text.data, text.len);
    ts_buf_free(&text);
    return h;
}

void ts_stage_outputs_free(ts_stage_outputs *o) {
    for (size_t i = 0; i < o->n; i++) free(o->v[i].path);
    free(o->v);
    o->v = NULL;
    o->n = o->cap = 0;
}
