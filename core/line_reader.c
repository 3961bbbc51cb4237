#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "io.h"

#define CHUNK (1u << 17)

typedef enum { SRC_PLAIN, SRC_ZSTD, SRC_GZIP } source_kind;

struct ts_line_reader {
    char *path;
    int fd;
    source_kind kind;
    ZSTD_DCtx *zstd;
    z_stream gz;
    int gz_ready;
    uint8_t *raw; /* compressed input for zstd/gzip */
    size_t raw_len, raw_pos;
    int raw_eof;
    ts_buf data; /* decompressed bytes not yet returned as lines */
    size_t data_pos;
    int eof;
    uint64_t line_no;
};

static ts_status fill_raw(ts_line_reader *r, ts_error *err) {
    if (r->raw_pos < r->raw_len || r->raw_eof) return TS_OK;
    for (;;) {
        ssize_t n = read(r->fd, r->raw, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ts_fail_errno(err, TS_EIO, "%s: read failed", r->path);
        r->raw_len = (size_t)n;
        r->raw_pos = 0;
        if (n == 0) r->raw_eof = 1;
        return TS_OK;
    }
}

/* Append up to CHUNK more decompressed bytes to r->data; sets r->eof at the end. */
static ts_status read_more(ts_line_reader *r, ts_error *err) {
    ts_status st = ts_buf_reserve(&r->data, CHUNK, err);
    if (st) return st;
    uint8_t *dst = r->data.data + r->data.len;
    if (r->kind == SRC_PLAIN) {
        if ((st = fill_raw(r, err))) return st;
        size_t n = r->raw_len - r->raw_pos;
        memcpy(dst, r->raw + r->raw_pos, n);
        r->raw_pos += n;
        r->data.len += n;
        if (r->raw_eof) r->eof = 1;
        return TS_OK;
    }
    size_t produced = 0;
    while (produced == 0) {
        if ((st = fill_raw(r, err))) return st;
        if (r->raw_eof && r->raw_pos == r->raw_len) {
            r->eof = 1;
            return TS_OK;
        }
        if (r->kind == SRC_ZSTD) {
            ZSTD_inBuffer in = {r->raw, r->raw_len, r->raw_pos};
            ZSTD_outBuffer out = {dst, CHUNK, 0};
            size_t ret = ZSTD_decompressStream(r->zstd, &out, &in);
            if (ZSTD_isError(ret))
                return ts_fail(err, TS_EFORMAT, "%s: zstd: %s", r->path, ZSTD_getErrorName(ret));
            r->raw_pos = in.pos;
            produced = out.pos;
        } else {
            r->gz.next_in = r->raw + r->raw_pos;
            r->gz.avail_in = (uInt)(r->raw_len - r->raw_pos);
            r->gz.next_out = dst;
            r->gz.avail_out = CHUNK;
            int ret = inflate(&r->gz, Z_NO_FLUSH);
            r->raw_pos = r->raw_len - r->gz.avail_in;
            produced = CHUNK - r->gz.avail_out;
            if (ret == Z_STREAM_END) {
                /* Concatenated gzip members continue after a reset. */
                if (inflateReset(&r->gz) != Z_OK) return ts_fail(err, TS_EFORMAT, "%s: gzip reset", r->path);
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                return ts_fail(err, TS_EFORMAT, "%s: gzip: %s", r->path, r->gz.msg ? r->gz.msg : "corrupt");
            }
        }
    }
    r->data.len += produced;
    return TS_OK;
}

ts_status ts_line_reader_open(ts_line_reader **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_line_reader *r = calloc(1, sizeof *r);
    if (!r) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    r->path = strdup(path);
    r->raw = malloc(CHUNK);
    r->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    ts_status st = TS_OK;
    if (!r->path || !r->raw) st = ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    else if (r->fd < 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    else st = fill_raw(r, err);
    if (!st) {
        const uint8_t *m = r->raw;
        if (r->raw_len >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD) {
            r->kind = SRC_ZSTD;
            r->zstd = ZSTD_createDCtx();
            if (!r->zstd) st = ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
        } else if (r->raw_len >= 2 && m[0] == 0x1F && m[1] == 0x8B) {
            r->kind = SRC_GZIP;
            if (inflateInit2(&r->gz, 15 + 16) != Z_OK) st = ts_fail(err, TS_ENOMEM, "%s: zlib init", path);
            else r->gz_ready = 1;
        }
    }
    if (st) {
        ts_line_reader_close(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

ts_status ts_line_reader_next(ts_line_reader *r, const char **line, size_t *len, ts_error *err) {
    size_t scan = r->data_pos;
    for (;;) {
        uint8_t *start = r->data.data + r->data_pos;
        size_t avail = r->data.len - r->data_pos;
        uint8_t *nl = avail ? memchr(r->data.data + scan, '\n', r->data.len - scan) : NULL;
        if (nl || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - start) : avail;
            r->data_pos += nl ? n + 1 : n;
            if (n > 0 && start[n - 1] == '\r') n--;
            if (!nl) { /* last line without '\n': make room for the NUL */
                ts_status st = ts_buf_reserve(&r->data, 1, err);
                if (st) return st;
                start = r->data.data + r->data_pos - n;
            }
            start[n] = '\0';
            r->line_no++;
            *line = (const char *)start;
            *len = n;
            return TS_OK;
        }
        if (r->eof) return TS_ENOTFOUND;
        if (avail > TS_LINE_MAX_BYTES)
            return ts_fail(err, TS_ELIMIT, "%s: line %llu is longer than %zu bytes", r->path,
                           (unsigned long long)r->line_no + 1, TS_LINE_MAX_BYTES);
        /* Slide the unread tail to the front before reading more. */
        if (r->data_pos > 0) {
            memmove(r->data.data, start, avail);
            r->data.len = avail;
            r->data_pos = 0;
        }
        scan = r->data.len;
        ts_status st = read_more(r, err);
        if (st) return st;
    }
}

uint64_t ts_line_reader_line_number(const ts_line_reader *r) { return r->line_no; }

void ts_line_reader_close(ts_line_reader *r) {
    if (!r) return;
    if (r->fd > STDIN_FILENO) close(r->fd);
    if (r->zstd) ZSTD_freeDCtx(r->zstd);
    if (r->gz_ready) inflateEnd(&r->gz);
    ts_buf_free(&r->data);
    free(r->raw);
    free(r->path);
    free(r);
}
