#include <stdlib.h>
#include <string.h>

#include "byte_source.h"
#include "io.h"

struct ts_line_reader {
    ts_byte_source *src;
    ts_buf data; /* decompressed bytes not yet returned as lines */
    size_t data_pos;
    int eof;
    uint64_t line_no;
};

ts_status ts_line_reader_open(ts_line_reader **out, const char *path, ts_error *err) {
    *out = NULL;
    ts_line_reader *r = calloc(1, sizeof *r);
    if (!r) return ts_fail(err, TS_ENOMEM, "%s: out of memory", path);
    ts_status st = ts_byte_source_open(&r->src, path, err);
    if (st) {
        free(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

/* Append the next decompressed block to r->data; sets r->eof at the end. */
static ts_status read_more(ts_line_reader *r, ts_error *err) {
    const uint8_t *block;
    size_t n;
    ts_status st = ts_byte_source_next(r->src, &block, &n, err);
    if (st == TS_ENOTFOUND) {
        r->eof = 1;
        return TS_OK;
    }
    return st ? st : ts_buf_append(&r->data, block, n, err);
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
            return ts_fail(err, TS_ELIMIT, "%s: line %llu is longer than %zu bytes", ts_byte_source_path(r->src),
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
    ts_byte_source_close(r->src);
    ts_buf_free(&r->data);
    free(r);
}
