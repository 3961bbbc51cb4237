/* Sequential, bounded-memory reader of the tokenized-sample file (tokfile_stream.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "tokenize/tokfile_stream.h"

/* The layout constants of tokfile.c (docs/TOKENIZER.md). */
#define HEADER_BYTES 16
#define FOOTER_BYTES 40
#define RECORD_HEAD 24
#define INDEX_CHUNK 4096 /* index entries read at a time */
#define READ_BUFFER ((size_t)1 << 20)

struct ts_tokfile_stream {
    FILE *f;
    char *path;
    ts_hasher *hash;
    uint64_t n_records, index_off, checksum;
    uint64_t next, pos; /* next record number, its byte offset */
    uint64_t index[INDEX_CHUNK];
    uint64_t index_first, index_n; /* entries held in index[] */
    ts_buf rec;
};

static ts_status read_at(ts_tokfile_stream *s, uint64_t off, void *dst, size_t n, ts_error *err) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fileno(s->f), (char *)dst + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return ts_fail_errno(err, TS_EIO, "%s: read", s->path);
        if (r == 0) return ts_fail(err, TS_EFORMAT, "%s: truncated", s->path);
        done += (size_t)r;
    }
    return TS_OK;
}

static ts_status read_seq(ts_tokfile_stream *s, void *dst, size_t n, ts_error *err) {
    if (n && fread(dst, 1, n, s->f) != n)
        return ferror(s->f) ? ts_fail_errno(err, TS_EIO, "%s: read", s->path)
                            : ts_fail(err, TS_EFORMAT, "%s: truncated", s->path);
    ts_hasher_update(s->hash, dst, n);
    return TS_OK;
}

ts_status ts_tokfile_stream_open(const char *path, ts_tokfile_stream **out, ts_error *err) {
    ts_tokfile_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path)) || !(s->hash = ts_hasher_new())) {
        ts_tokfile_stream_close(s);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    s->f = fopen(path, "rb");
    if (!s->f) {
        ts_tokfile_stream_close(s);
        return ts_fail_errno(err, TS_EIO, "%s: open", path);
    }
    setvbuf(s->f, NULL, _IOFBF, READ_BUFFER);
    struct stat sb;
    uint8_t head[HEADER_BYTES], foot[FOOTER_BYTES];
    ts_status st = TS_OK;
    if (fstat(fileno(s->f), &sb) != 0) st = ts_fail_errno(err, TS_EIO, "%s: stat", path);
    else if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size < HEADER_BYTES + FOOTER_BYTES)
        st = ts_fail(err, TS_EFORMAT, "%s: not a tokenized-sample file (size)", path);
    uint64_t size = st ? 0 : (uint64_t)sb.st_size;
    if (!st) st = read_at(s, size - FOOTER_BYTES, foot, sizeof foot, err);
    if (!st) st = read_seq(s, head, sizeof head, err);
    if (!st && (memcmp(head, TS_TOKFILE_MAGIC, 8) != 0 || memcmp(foot + 32, TS_TOKFILE_END, 8) != 0))
        st = ts_fail(err, TS_EFORMAT, "%s: not a tokenized-sample file (magic)", path);
    if (!st && ts_get_u32le(foot + 24) != TS_TOKFILE_VERSION)
        st = ts_fail(err, TS_EUNSUPPORTED, "%s: version %u", path, ts_get_u32le(foot + 24));
    if (!st) {
        s->n_records = ts_get_u64le(foot);
        s->index_off = ts_get_u64le(foot + 8);
        s->checksum = ts_get_u64le(foot + 16);
        uint64_t end = size - FOOTER_BYTES;
        if (s->index_off < HEADER_BYTES || s->index_off > end || (end - s->index_off) % 8 ||
            s->n_records != (end - s->index_off) / 8)
            st = ts_fail(err, TS_EFORMAT, "%s: bad index", path);
    }
    if (st) {
        ts_tokfile_stream_close(s);
        return st;
    }
    s->pos = HEADER_BYTES;
    *out = s;
    return TS_OK;
}

uint64_t ts_tokfile_stream_records(const ts_tokfile_stream *s) { return s->n_records; }

static ts_status index_entry(ts_tokfile_stream *s, uint64_t i, uint64_t *off, ts_error *err) {
    if (i < s->index_first || i >= s->index_first + s->index_n) {
        uint64_t n = s->n_records - i < INDEX_CHUNK ? s->n_records - i : INDEX_CHUNK;
        uint8_t raw[INDEX_CHUNK * 8];
        ts_status st = read_at(s, s->index_off + 8 * i, raw, (size_t)(8 * n), err);
        if (st) return st;
        for (uint64_t k = 0; k < n; k++) s->index[k] = ts_get_u64le(raw + 8 * k);
        s->index_first = i;
        s->index_n = n;
    }
    *off = s->index[i - s->index_first];
    return TS_OK;
}

/* After the last record: hash the index and compare with the footer. */
static ts_status verify_end(ts_tokfile_stream *s, ts_error *err) {
    if (s->pos != s->index_off)
        return ts_fail(err, TS_EFORMAT, "%s: %llu bytes between the last record and the index", s->path,
                       (unsigned long long)(s->index_off - s->pos));
    uint8_t raw[INDEX_CHUNK * 8];
    for (uint64_t i = 0; i < s->n_records; i += INDEX_CHUNK) {
        size_t n = (size_t)(8 * (s->n_records - i < INDEX_CHUNK ? s->n_records - i : INDEX_CHUNK));
        ts_status st = read_seq(s, raw, n, err);
        if (st) return st;
    }
    if (ts_hasher_digest(s->hash) != s->checksum) return ts_fail(err, TS_ECHECKSUM, "%s: checksum mismatch", s->path);
    return TS_OK;
}

ts_status ts_tokfile_stream_next(ts_tokfile_stream *s, ts_tokfile_record *r, ts_error *err) {
    if (s->next == s->n_records) {
        ts_status st = verify_end(s, err);
        return st ? st : TS_ENOTFOUND;
    }
    uint64_t i = s->next, off;
    ts_status st = index_entry(s, i, &off, err);
    if (st) return st;
    if (off != s->pos || s->index_off - s->pos < RECORD_HEAD)
        return ts_fail(err, TS_EFORMAT, "%s: record %llu: bad offset", s->path, (unsigned long long)i);
    uint8_t head[RECORD_HEAD];
    st = read_seq(s, head, sizeof head, err);
    if (st) return st;
    r->source_record = ts_get_u64le(head);
    r->n_ids = ts_get_u32le(head + 8);
    r->n_images = ts_get_u32le(head + 12);
    r->length = (int64_t)ts_get_u64le(head + 16);
    uint64_t body = (uint64_t)r->n_ids * 5 + (4 - r->n_ids % 4) % 4 + (uint64_t)r->n_images * TS_TOKFILE_IMAGE_BYTES;
    if (body > s->index_off - s->pos - RECORD_HEAD)
        return ts_fail(err, TS_EFORMAT, "%s: record %llu: truncated", s->path, (unsigned long long)i);
    ts_buf_reset(&s->rec);
    st = ts_buf_reserve(&s->rec, (size_t)body + 1, err); /* never NULL, even for an empty record */
    if (!st) st = read_seq(s, s->rec.data, (size_t)body, err);
    if (st) return st;
    s->rec.len = (size_t)body;
    r->ids = s->rec.data;
    r->mask = r->ids + 4 * (uint64_t)r->n_ids;
    r->images = r->mask + r->n_ids + (4 - r->n_ids % 4) % 4;
    s->pos += RECORD_HEAD + body;
    s->next++;
    return TS_OK;
}

void ts_tokfile_stream_close(ts_tokfile_stream *s) {
    if (!s) return;
    if (s->f) fclose(s->f);
    ts_hasher_free(s->hash);
    ts_buf_free(&s->rec);
    free(s->path);
    free(s);
}
