#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "io.h"

#define WRITER_BUFFER (1u << 20)

struct ts_writer {
    int fd;
    char *path;
    char *tmp_path;
    uint8_t *buf;
    size_t used;
    uint64_t offset;
    ts_hasher *hash;
};

static void writer_free(ts_writer *w) {
    if (w->fd >= 0) close(w->fd);
    ts_hasher_free(w->hash);
    free(w->buf);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

ts_status ts_writer_open(ts_writer **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_writer *w = calloc(1, sizeof *w);
    if (!w) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    w->fd = -1;
    size_t n = strlen(path) + 32;
    w->path = strdup(path);
    w->tmp_path = malloc(n);
    w->buf = malloc(WRITER_BUFFER);
    w->hash = ts_hasher_new();
    if (!w->path || !w->tmp_path || !w->buf || !w->hash) {
        writer_free(w);
        return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    }
    /* The pid keeps concurrent writers of the same path from clobbering each
     * other's temporary; the final rename decides who wins. */
    snprintf(w->tmp_path, n, "%s.tmp-%ld", path, (long)getpid());
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        ts_status st = ts_fail_errno(err, TS_EIO, "%s: cannot create", w->tmp_path);
        writer_free(w);
        return st;
    }
    *out = w;
    return TS_OK;
}

static ts_status write_all(int fd, const char *name, const uint8_t *p, size_t n, ts_error *err) {
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ts_fail_errno(err, TS_EIO, "%s: write failed", name);
        }
        done += (size_t)w;
    }
    return TS_OK;
}

static ts_status flush_buffer(ts_writer *w, ts_error *err) {
    ts_status st = write_all(w->fd, w->tmp_path, w->buf, w->used, err);
    if (!st) w->used = 0;
    return st;
}

ts_status ts_writer_write(ts_writer *w, const void *data, size_t n, ts_error *err) {
    const uint8_t *p = data;
    ts_hasher_update(w->hash, data, n);
    w->offset += n;
    while (n > 0) {
        size_t room = WRITER_BUFFER - w->used;
        size_t take = n < room ? n : room;
        memcpy(w->buf + w->used, p, take);
        w->used += take;
        p += take;
        n -= take;
        if (w->used == WRITER_BUFFER) {
            ts_status st = flush_buffer(w, err);
            if (st) return st;
        }
    }
    return TS_OK;
}

uint64_t ts_writer_offset(const ts_writer *w) { return w->offset; }

uint64_t ts_writer_xxh3(const ts_writer *w) { return ts_hasher_digest(w->hash); }

ts_status ts_writer_commit(ts_writer *w, ts_error *err) {
    ts_status st = flush_buffer(w, err);
    if (!st && fsync(w->fd) != 0) st = ts_fail_errno(err, TS_EIO, "%s: fsync failed", w->tmp_path);
    if (!st && close(w->fd) != 0) st = ts_fail_errno(err, TS_EIO, "%s: close failed", w->tmp_path);
    w->fd = -1;
    if (!st && rename(w->tmp_path, w->path) != 0)
        st = ts_fail_errno(err, TS_EIO, "cannot rename %s to %s", w->tmp_path, w->path);
    if (st) unlink(w->tmp_path);
    writer_free(w);
    return st;
}

void ts_writer_abort(ts_writer *w) {
    if (!w) return;
    close(w->fd);
    w->fd = -1;
    unlink(w->tmp_path);
    writer_free(w);
}

ts_status ts_write_file_atomic(const char *path, const void *data, size_t n, int durable, ts_error *err) {
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid());
    ts_status st = TS_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot create", tmp);
    if (!st) st = write_all(fd, tmp, data, n, err);
    if (!st && durable && fsync(fd) != 0) st = ts_fail_errno(err, TS_EIO, "%s: fsync failed", tmp);
    if (fd >= 0 && close(fd) != 0 && !st) st = ts_fail_errno(err, TS_EIO, "%s: close failed", tmp);
    if (!st && rename(tmp, path) != 0) st = ts_fail_errno(err, TS_EIO, "cannot rename %s to %s", tmp, path);
    if (st) unlink(tmp);
    free(tmp);
    return st;
}
