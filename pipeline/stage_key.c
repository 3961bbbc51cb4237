/* Stage keys and output listings (stage_stamp.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* File hashes stream the file through one 1 MiB buffer. */
static ts_status hash_fd(int fd, const char *path, ts_hasher *h, uint64_t *bytes, ts_error *err) {
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
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
        ts_hasher_update(h, buf, (size_t)r);
        total += (uint64_t)r;
    }
    free(buf);
    if (!st) *bytes = total;
    return st;
}

static ts_status open_file(const char *path, int *fd, ts_error *err) {
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return ts_fail_errno(err, errno == ENOENT ? TS_ENOTFOUND : TS_EIO, "%s: cannot open", path);
    return TS_OK;
}

ts_status ts_file_xxh3_64(const char *path, uint64_t *out, uint64_t *bytes, ts_error *err) {
    int fd;
    ts_status st = open_file(path, &fd, err);
    if (st) return st;
    ts_hasher *h = ts_hasher_new();
    uint64_t n = 0;
    st = h ? hash_fd(fd, path, h, &n, err) : ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    if (!st) *out = ts_hasher_digest(h);
    if (!st && bytes) *bytes = n;
    ts_hasher_free(h);
    close(fd);
    return st;
}

static int64_t mtime_ns(const struct stat *sb) {
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

static int same_state(const struct stat *a, const struct stat *b) {
    return a->st_size == b->st_size && mtime_ns(a) == mtime_ns(b) && a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

/* The clock the kernel stamps mtimes with (a coarse tick: a write later in
 * the same tick as an earlier one leaves mtime unchanged). */
static int64_t mtime_clock_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME_COARSE, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Wait (at most ~20 ms: a tick) until the mtime clock is past `m`; 0 when
 * it is not, e.g. an mtime set in the future. */
static int wait_past(int64_t m) {
    for (int i = 0; i < 20; i++) {
        if (mtime_clock_ns() > m) return 1;
        if (m - mtime_clock_ns() > 50000000) return 0;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return mtime_clock_ns() > m;
}

ts_status ts_stage_output_measure(const char *path, ts_stage_output *o, ts_error *err) {
    o->has_stat = 0;
    int hashed = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd;
        ts_status st = open_file(path, &fd, err);
        if (st) return st;
        struct stat before, after;
        ts_hasher *h = ts_hasher_new();
        uint64_t n = 0;
        if (!h) st = ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
        else if (fstat(fd, &before) != 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", path);
        if (!st) st = hash_fd(fd, path, h, &n, err);
        if (!st && fstat(fd, &after) != 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", path);
        if (!st) o->xxh3 = ts_hasher_digest(h);
        ts_hasher_free(h);
        close(fd);
        if (st) return st;
        if (!same_state(&before, &after) || (uint64_t)after.st_size != n) continue; /* written while read */
        o->bytes = n;
        hashed = 1;
        if (mtime_ns(&after) < mtime_clock_ns()) {
            o->has_stat = 1;
            o->mtime_ns = mtime_ns(&after);
            o->inode = (uint64_t)after.st_ino;
            o->device = (uint64_t)after.st_dev;
            return TS_OK;
        }
        /* Modified in the current tick: only a hash taken after the tick
         * can be tied to this mtime. */
        if (!wait_past(mtime_ns(&after))) return TS_OK;
    }
    if (hashed) return TS_OK; /* hashed, but its mtime never settled: no identity */
    return ts_fail(err, TS_EIO, "%s: kept changing while it was hashed", path);
}

static ts_status push_output(ts_stage_outputs *o, const char *rel, const ts_stage_output *m, ts_error *err) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        ts_stage_output *v = realloc(o->v, cap * sizeof *v);
        if (!v) return ts_fail(err, TS_ENOMEM, "out of memory");
        o->v = v;
        o->cap = cap;
    }
    char *p = strdup(rel);
    if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
    o->v[o->n] = *m;
    o->v[o->n++].path = p;
    return TS_OK;
}

ts_status ts_stage_outputs_push(ts_stage_outputs *o, const char *rel, uint64_t bytes, uint64_t xxh3,
                                ts_error *err) {
    ts_stage_output m = {.bytes = bytes, .xxh3 = xxh3};
    return push_output(o, rel, &m, err);
}

ts_status ts_stage_outputs_push_output(ts_stage_outputs *o, const ts_stage_output *m, ts_error *err) {
    return push_output(o, m->path, m, err);
}

static ts_status join(const char *root, const char *rel, ts_buf *out, ts_error *err) {
    ts_buf_reset(out);
    return ts_buf_printf(out, err, "%s/%s", root, rel);
}

ts_status ts_stage_outputs_add_file(ts_stage_outputs *o, const char *root, const char *rel, ts_error *err) {
    ts_buf full = TS_BUF_INIT;
    ts_stage_output m = {0};
    ts_status st = join(root, rel, &full, err);
    if (!st) st = ts_stage_output_measure((const char *)full.data, &m, err);
    if (!st) st = push_output(o, rel, &m, err);
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

typedef struct tree_walk {
    ts_stage_skip_fn skip;
    const ts_stage_outputs *known; /* files whose records may be reused, or NULL */
    size_t cursor;                 /* where the next lookup in known starts */
    int rehash;
    uint64_t *counts;              /* trusted, hashed, hashed bytes (with known) */
} tree_walk;

/* known's record of `rel`: both listings come in the same order, so the
 * search starts after the last hit. */
static const ts_stage_output *find_known(tree_walk *t, const char *rel) {
    size_t n = t->known->n;
    for (size_t k = 0; k < n; k++) {
        size_t i = (t->cursor + k) % n;
        if (strcmp(t->known->v[i].path, rel) == 0) {
            t->cursor = i + 1;
            return &t->known->v[i];
        }
    }
    return NULL;
}

static ts_status add_file(ts_stage_outputs *o, const char *root, const char *rel, const struct stat *sb, tree_walk *t,
                          ts_error *err) {
    const ts_stage_output *k = t->known && !t->rehash ? find_known(t, rel) : NULL;
    if (k && k->has_stat && (uint64_t)sb->st_size == k->bytes && mtime_ns(sb) == k->mtime_ns &&
        (uint64_t)sb->st_ino == k->inode && (uint64_t)sb->st_dev == k->device) {
        t->counts[0]++;
        return push_output(o, rel, k, err);
    }
    ts_status st = ts_stage_outputs_add_file(o, root, rel, err);
    if (!st && t->counts) {
        t->counts[1]++;
        t->counts[2] += o->v[o->n - 1].bytes;
    }
    return st;
}

static ts_status add_tree(ts_stage_outputs *o, const char *root, const char *rel, tree_walk *t, ts_error *err) {
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
        if (st || (t->skip && t->skip((const char *)child.data))) continue;
        struct stat sb;
        ts_buf full = TS_BUF_INIT;
        st = join(root, (const char *)child.data, &full, err);
        if (!st && lstat((const char *)full.data, &sb) != 0)
            st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", (char *)full.data);
        ts_buf_free(&full);
        if (st) break;
        if (S_ISDIR(sb.st_mode)) st = add_tree(o, root, (const char *)child.data, t, err);
        else if (S_ISREG(sb.st_mode)) st = add_file(o, root, (const char *)child.data, &sb, t, err);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    ts_buf_free(&child);
    ts_buf_free(&path);
    return st;
}

ts_status ts_stage_outputs_add_tree(ts_stage_outputs *o, const char *root, const char *rel_dir,
                                    ts_stage_skip_fn skip, ts_error *err) {
    tree_walk t = {.skip = skip};
    return add_tree(o, root, rel_dir, &t, err);
}

ts_status ts_stage_outputs_add_tree_known(ts_stage_outputs *o, const char *root, const char *rel_dir,
                                          const ts_stage_outputs *known, int rehash, uint64_t counts[3],
                                          ts_error *err) {
    tree_walk t = {.known = known, .rehash = rehash, .counts = counts};
    return add_tree(o, root, rel_dir, &t, err);
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
