/* Plain, gzip (zlib) or zstd bytes, decompressed on the fly in blocks. */
#include "ingest/byte_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define BS_BLOCK (1u << 17)

typedef enum ts_compression { TS_COMP_NONE, TS_COMP_GZIP, TS_COMP_ZSTD } ts_compression;

struct ts_byte_source {
    char *path;
    ts_compression comp;
    FILE *f;        /* plain and zstd */
    gzFile gz;      /* gzip */
    ZSTD_DCtx *zd;
    uint8_t *in;    /* zstd input block */
    ZSTD_inBuffer zin;
    int in_eof;
    uint8_t *buf;   /* decoded bytes */
    size_t len, pos;
    uint64_t offset;
    int eof;
};

/* What the first bytes of a file say about its compression. */
static ts_status sniff_compression(const char *path, ts_compression *out, ts_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ts_fail_errno(err, TS_EIO, "%s", path);
    uint8_t m[4] = {0};
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) *out = TS_COMP_GZIP;
    else if (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) *out = TS_COMP_ZSTD;
    else *out = TS_COMP_NONE;
    return TS_OK;
}

ts_status ts_byte_source_open(ts_byte_source **out, const char *path, ts_error *err) {
    ts_compression comp = TS_COMP_NONE;
    ts_status st = sniff_compression(path, &comp, err);
    if (st) return st;
    ts_byte_source *s = calloc(1, sizeof *s);
    if (!s) return ts_fail(err, TS_ENOMEM, "out of memory");
    s->comp = comp;
    s->path = strdup(path);
    s->buf = malloc(BS_BLOCK);
    if (!s->path || !s->buf) {
        ts_byte_source_close(s);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    if (comp == TS_COMP_GZIP) {
        s->gz = gzopen(path, "rb");
        if (!s->gz) st = ts_fail_errno(err, TS_EIO, "%s", path);
    } else {
        s->f = fopen(path, "rb");
        if (!s->f) st = ts_fail_errno(err, TS_EIO, "%s", path);
        if (!st && comp == TS_COMP_ZSTD) {
            s->zd = ZSTD_createDCtx();
            s->in = malloc(BS_BLOCK);
            if (!s->zd || !s->in) st = ts_fail(err, TS_ENOMEM, "out of memory");
            s->zin.src = s->in;
        }
    }
    if (st) {
        ts_byte_source_close(s);
        return st;
    }
    *out = s;
    return TS_OK;
}

static ts_status refill(ts_byte_source *s, ts_error *err) {
    s->pos = s->len = 0;
    if (s->comp == TS_COMP_GZIP) {
        int n = gzread(s->gz, s->buf, BS_BLOCK);
        if (n < 0) {
            int code;
            const char *msg = gzerror(s->gz, &code);
            return ts_fail(err, TS_EFORMAT, "%s: gzip: %s", s->path, msg);
        }
        s->len = (size_t)n;
    } else if (s->comp == TS_COMP_ZSTD) {
        while (s->len == 0) {
            if (s->zin.pos == s->zin.size) {
                if (s->in_eof) break;
                s->zin.size = fread(s->in, 1, BS_BLOCK, s->f);
                s->zin.pos = 0;
                if (s->zin.size == 0) {
                    if (ferror(s->f)) return ts_fail_errno(err, TS_EIO, "%s", s->path);
                    s->in_eof = 1;
                    break;
                }
            }
            ZSTD_outBuffer zout = {s->buf, BS_BLOCK, 0};
            size_t rc = ZSTD_decompressStream(s->zd, &zout, &s->zin);
            if (ZSTD_isError(rc)) return ts_fail(err, TS_EFORMAT, "%s: zstd: %s", s->path, ZSTD_getErrorName(rc));
            s->len = zout.pos;
        }
    } else {
        s->len = fread(s->buf, 1, BS_BLOCK, s->f);
        if (s->len == 0 && ferror(s->f)) return ts_fail_errno(err, TS_EIO, "%s", s->path);
    }
    if (s->len == 0) s->eof = 1;
    return TS_OK;
}

int ts_byte_source_getc(ts_byte_source *s, ts_error *err) {
    if (s->pos == s->len) {
        if (s->eof) return -1;
        if (refill(s, err)) return -2;
        if (s->eof) return -1;
    }
    s->offset++;
    return s->buf[s->pos++];
}

uint64_t ts_byte_source_offset(const ts_byte_source *s) { return s->offset; }

void ts_byte_source_close(ts_byte_source *s) {
    if (!s) return;
    if (s->gz) gzclose(s->gz);
    if (s->f) fclose(s->f);
    ZSTD_freeDCtx(s->zd);
    free(s->in);
    free(s->buf);
    free(s->path);
    free(s);
}
