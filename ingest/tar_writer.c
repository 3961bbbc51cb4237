#include "tar_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"

struct ts_tar_writer {
    ts_writer *w;
    char *path;
};

static const uint8_t zeros[2 * TS_TAR_BLOCK];

ts_status ts_tar_open(ts_tar_writer **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_tar_writer *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    }
    ts_status st = ts_writer_open(&t->w, path, err);
    if (st) {
        free(t->path);
        free(t);
        return st;
    }
    *out = t;
    return TS_OK;
}

uint64_t ts_tar_offset(const ts_tar_writer *t) { return ts_writer_offset(t->w); }

uint64_t ts_tar_member_size(uint64_t n) {
    return TS_TAR_BLOCK + (n + TS_TAR_BLOCK - 1) / TS_TAR_BLOCK * TS_TAR_BLOCK;
}

/* Octal number right-aligned in `width - 1` digits plus a NUL. */
static void put_octal(uint8_t *field, size_t width, uint64_t v) {
    field[width - 1] = 0;
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (uint8_t)('0' + (v & 7));
        v >>= 3;
    }
}

ts_status ts_tar_add(ts_tar_writer *t, const char *name, const void *data, size_t n, ts_error *err) {
    size_t len = strlen(name);
    if (len == 0 || len > TS_TAR_NAME_MAX)
        return ts_fail(err, TS_EINVAL, "%s: member name \"%s\" is not 1..%u bytes", t->path, name, TS_TAR_NAME_MAX);
    if ((uint64_t)n > TS_TAR_MEMBER_MAX)
        return ts_fail(err, TS_ELIMIT, "%s: member %s is %zu bytes (ustar limit 8 GiB)", t->path, name, n);
    uint8_t h[TS_TAR_BLOCK] = {0};
    memcpy(h, name, len);              /* name[100] */
    put_octal(h + 100, 8, 0644);       /* mode */
    put_octal(h + 108, 8, 0);          /* uid */
    put_octal(h + 116, 8, 0);          /* gid */
    put_octal(h + 124, 12, n);         /* size */
    put_octal(h + 136, 12, 0);         /* mtime */
    memset(h + 148, ' ', 8);           /* checksum: spaces while summing */
    h[156] = '0';                      /* typeflag: regular file */
    memcpy(h + 257, "ustar", 6);       /* magic "ustar\0" */
    memcpy(h + 263, "00", 2);          /* version */
    put_octal(h + 329, 8, 0);          /* devmajor */
    put_octal(h + 337, 8, 0);          /* devminor */
    unsigned sum = 0;
    for (size_t i = 0; i < TS_TAR_BLOCK; i++) sum += h[i];
    put_octal(h + 148, 7, sum);        /* 6 digits + NUL, then the space kept at 155 */
    ts_status st = ts_writer_write(t->w, h, sizeof h, err);
    if (!st) st = ts_writer_write(t->w, data, n, err);
    size_t pad = (TS_TAR_BLOCK - n % TS_TAR_BLOCK) % TS_TAR_BLOCK;
    if (!st && pad) st = ts_writer_write(t->w, zeros, pad, err);
    return st;
}

ts_status ts_tar_commit(ts_tar_writer *t, uint64_t *size, uint64_t *xxh3, ts_error *err) {
    ts_status st = ts_writer_write(t->w, zeros, sizeof zeros, err);
    if (st) {
        ts_tar_abort(t);
        return st;
    }
    if (size) *size = ts_writer_offset(t->w);
    if (xxh3) *xxh3 = ts_writer_xxh3(t->w);
    st = ts_writer_commit(t->w, err);
    free(t->path);
    free(t);
    return st;
}

void ts_tar_abort(ts_tar_writer *t) {
    if (!t) return;
    ts_writer_abort(t->w);
    free(t->path);
    free(t);
}
