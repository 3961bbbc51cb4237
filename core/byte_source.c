#include "byte_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define CHUNK (1u << 17)

typedef enum { SRC_PLAIN, SRC_ZSTD, SRC_GZIP } source_kind;

struct ts_byte_source {
    char *path;
    int fd;
    source_kind kind;
    ZSTD_DCtx *zstd;
    z_stream gz;
    int gz_ready;
    int frame_open; /* inside a zstd frame or gzip member: its end must come */
    uint8_t *raw; /* bytes as read from the file */
    size_t raw_len, raw_pos;
    int raw_eof;
    uint8_t *out; /* decompressed block (zstd/gzip) */
    const uint8_t *block; /* what getc hands out: raw or out */
    size_t block_len, block_pos;
    uint64_t offset;
};

static ts_status fill_raw(ts_byte_source *s, ts_error *err) {
    if (s->raw_pos < s->raw_len || s->raw_eof) return TS_OK;
    for (;;) {
        ssize_t n = read(s->fd, s->raw, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ts_fail_errno(err, TS_EIO, "%s: read failed", s->path);
        s->raw_len = (size_t)n;
        s->raw_pos = 0;
        if (n == 0) s->raw_eof = 1;
        return TS_OK;
    }
}

ts_status ts_byte_source_open(ts_byte_source **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_byte_source *s = calloc(1, sizeof *s);
    if (!s) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    s->path = strdup(path);
    s->raw = malloc(CHUNK);
    s->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    ts_status st = TS_OK;
    if (!s->path || !s->raw) st = ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    else if (s->fd < 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    else st = fill_raw(s, err);
    if (!st) {
        const uint8_t *m = s->raw;
        if (s->raw_len >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD) {
            s->kind = SRC_ZSTD;
            s->zstd = ZSTD_createDCtx();
        } else if (s->raw_len >= 2 && m[0] == 0x1F && m[1] == 0x8B) {
            s->kind = SRC_GZIP;
            s->gz_ready = inflateInit2(&s->gz, 15 + 16) == Z_OK;
        }
        if (s->kind != SRC_PLAIN && (!(s->out = malloc(CHUNK)) || (s->kind == SRC_ZSTD ? !s->zstd : !s->gz_ready)))
            st = ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    }
    if (st) {
        ts_byte_source_close(s);
        return st;
    }
    *out = s;
    return TS_OK;
}

/* One step of decompression into s->out; *produced may be 0 (need input). */
static ts_status inflate_step(ts_byte_source *s, size_t *produced, ts_error *err) {
    if (s->kind == SRC_ZSTD) {
        ZSTD_inBuffer in = {s->raw, s->raw_len, s->raw_pos};
        ZSTD_outBuffer o = {s->out, CHUNK, 0};
        size_t ret = ZSTD_decompressStream(s->zstd, &o, &in);
        if (ZSTD_isError(ret)) return ts_fail(err, TS_EFORMAT, "%s: zstd: %s", s->path, ZSTD_getErrorName(ret));
        s->raw_pos = in.pos;
        *produced = o.pos;
        s->frame_open = ret != 0; /* 0: frame decoded and flushed */
        return TS_OK;
    }
    s->gz.next_in = s->raw + s->raw_pos;
    s->gz.avail_in = (uInt)(s->raw_len - s->raw_pos);
    s->gz.next_out = s->out;
    s->gz.avail_out = CHUNK;
    uInt before = s->gz.avail_in;
    int ret = inflate(&s->gz, Z_NO_FLUSH);
    s->raw_pos = s->raw_len - s->gz.avail_in;
    *produced = CHUNK - s->gz.avail_out;
    if (ret == Z_STREAM_END) {
        /* Concatenated gzip members continue after a reset. */
        if (inflateReset(&s->gz) != Z_OK) return ts_fail(err, TS_EFORMAT, "%s: gzip reset", s->path);
        s->frame_open = 0;
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
        return ts_fail(err, TS_EFORMAT, "%s: gzip: %s", s->path, s->gz.msg ? s->gz.msg : "corrupt data");
    } else if (*produced || s->gz.avail_in != before) {
        s->frame_open = 1;
    }
    return TS_OK;
}

ts_status ts_byte_source_next(ts_byte_source *s, const uint8_t **data, size_t *len, ts_error *err) {
    ts_status st;
    if (s->block_pos < s->block_len) { /* what getc left of the current block */
        *data = s->block + s->block_pos;
        *len = s->block_len - s->block_pos;
        s->offset += *len;
        s->block_pos = s->block_len;
        return TS_OK;
    }
    for (;;) {
        if ((st = fill_raw(s, err))) return st;
        size_t n = 0;
        if (s->raw_eof && s->raw_pos == s->raw_len) {
            if (s->kind == SRC_PLAIN || !s->frame_open) return TS_ENOTFOUND;
            /* The file ended inside a frame: the codec may still hold output
             * (a full output buffer stops it early); once that is drained, a
             * frame that never closed means a truncated file. */
            if ((st = inflate_step(s, &n, err))) return st;
            if (n == 0)
                return ts_fail(err, TS_EFORMAT, "%s: truncated %s stream (the file ends inside a frame)",
                               s->path, s->kind == SRC_ZSTD ? "zstd" : "gzip");
            *data = s->out;
            *len = n;
            s->offset += n;
            return TS_OK;
        }
        if (s->kind == SRC_PLAIN) {
            *data = s->raw + s->raw_pos;
            n = s->raw_len - s->raw_pos;
            s->raw_pos = s->raw_len;
        } else {
            if ((st = inflate_step(s, &n, err))) return st;
            *data = s->out;
        }
        if (n == 0) continue;
        *len = n;
        s->offset += n;
        return TS_OK;
    }
}

int ts_byte_source_getc(ts_byte_source *s, ts_error *err) {
    if (s->block_pos == s->block_len) {
        const uint8_t *data;
        size_t len;
        ts_status st = ts_byte_source_next(s, &data, &len, err);
        if (st == TS_ENOTFOUND) return -1;
        if (st) return -2;
        s->offset -= len; /* getc counts bytes as it hands them out */
        s->block = data;
        s->block_len = len;
        s->block_pos = 0;
    }
    s->offset++;
    return s->block[s->block_pos++];
}

uint64_t ts_byte_source_offset(const ts_byte_source *s) { return s->offset; }

const char *ts_byte_source_path(const ts_byte_source *s) { return s->path; }

void ts_byte_source_close(ts_byte_source *s) {
    if (!s) return;
    if (s->fd > STDIN_FILENO) close(s->fd);
    if (s->zstd) ZSTD_freeDCtx(s->zstd);
    if (s->gz_ready) inflateEnd(&s->gz);
    free(s->out);
    free(s->raw);
    free(s->path);
    free(s);
}
