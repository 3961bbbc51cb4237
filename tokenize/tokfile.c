/* Writer, random-access reader and streaming reader of the
 * tokenized-sample file (tokfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/io.h"
#include "tokenize/tokfile.h"

#define HEADER_V1 16
#define HEADER_V2 32
#define FOOTER_BYTES 40
#define RECORD_HEAD 24
#define CHECK_CHUNK ((size_t)1 << 20)

static uint32_t header_bytes(uint32_t version) { return version == 1 ? HEADER_V1 : HEADER_V2; }
static uint32_t image_bytes(uint32_t version) {
    return version == 1 ? TS_TOKFILE_IMAGE_BYTES_V1 : TS_TOKFILE_IMAGE_BYTES;
}

struct ts_tokfile_writer {
    ts_writer *w;
    ts_buf rec;
    uint64_t *offsets;
    size_t n, cap;
};

ts_status ts_tokfile_create(const char *path, uint64_t tokenizer_hash, ts_tokfile_writer **out, ts_error *err) {
    ts_tokfile_writer *t = calloc(1, sizeof *t);
    if (!t) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = ts_writer_open(&t->w, path, err);
    uint8_t head[HEADER_V2] = {0};
    memcpy(head, TS_TOKFILE_MAGIC, 8);
    ts_put_u64le(head + 16, tokenizer_hash);
    if (!st) st = ts_writer_write(t->w, head, sizeof head, err);
    if (st) {
        ts_tokfile_abort(t);
        return st;
    }
    *out = t;
    return TS_OK;
}

static ts_status put_i64(ts_buf *b, int64_t v, ts_error *err) { return ts_buf_put_u64le(b, (uint64_t)v, err); }

static ts_status put_image(ts_buf *b, const ts_chat_slot *s, ts_error *err) {
    static const uint8_t zero[1] = {0};
    uint8_t kind[4] = {(uint8_t)s->layout, (uint8_t)s->form, (uint8_t)(s->has_hash ? 1 : 0), 0};
    ts_status st = ts_buf_put_u32le(b, (uint32_t)s->tiles, err);
    if (!st) st = ts_buf_put_u32le(b, (uint32_t)s->cap, err);
    if (!st) st = ts_buf_put_u32le(b, (uint32_t)s->retiled_from, err);
    if (!st) st = ts_buf_append(b, kind, 4, err);
    if (!st) st = put_i64(b, s->token_pos, err);
    for (int k = 0; k < TS_CHAT_MAX_TILES && !st; k++) st = put_i64(b, s->tag_pos[k], err);
    for (int k = 0; k < TS_CHAT_MAX_TILES && !st; k++) st = put_i64(b, s->feat_pos[k], err);
    if (!st) st = ts_buf_append(b, s->inline_tile, TS_CHAT_MAX_TILES, err);
    if (!st) st = ts_buf_append(b, zero, 1, err);
    if (!st) st = ts_buf_put_u64le(b, s->has_hash ? s->content_hash.hi : 0, err);
    if (!st) st = ts_buf_put_u64le(b, s->has_hash ? s->content_hash.lo : 0, err);
    return st;
}

ts_status ts_tokfile_add(ts_tokfile_writer *t, uint64_t source_record, const ts_chat_result *r, ts_error *err) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        uint64_t *p = realloc(t->offsets, nc * sizeof *p);
        if (!p) return ts_fail(err, TS_ENOMEM, "out of memory");
        t->offsets = p;
        t->cap = nc;
    }
    if (r->ids.len > UINT32_MAX || r->n_images > UINT32_MAX)
        return ts_fail(err, TS_ELIMIT, "record %llu too large", (unsigned long long)source_record);
    ts_buf *b = &t->rec;
    ts_buf_reset(b);
    ts_status st = ts_buf_put_u64le(b, source_record, err);
    if (!st) st = ts_buf_put_u32le(b, (uint32_t)r->ids.len, err);
    if (!st) st = ts_buf_put_u32le(b, (uint32_t)r->n_images, err);
    if (!st) st = put_i64(b, r->length, err);
    for (size_t i = 0; i < r->ids.len && !st; i++) st = ts_buf_put_u32le(b, (uint32_t)r->ids.v[i], err);
    if (!st) st = ts_buf_append(b, r->mask, r->ids.len, err);
    static const uint8_t zero[8] = {0};
    if (!st) st = ts_buf_append(b, zero, (4 - r->ids.len % 4) % 4, err);
    for (size_t i = 0; i < r->n_images && !st; i++) st = put_image(b, &r->images[i], err);
    if (st) return st;
    t->offsets[t->n++] = ts_writer_offset(t->w);
    return ts_writer_write(t->w, b->data, b->len, err);
}

ts_status ts_tokfile_finish(ts_tokfile_writer *t, ts_error *err) {
    ts_buf *b = &t->rec;
    ts_buf_reset(b);
    uint64_t index_off = ts_writer_offset(t->w);
    ts_status st = TS_OK;
    for (size_t i = 0; i < t->n && !st; i++) st = ts_buf_put_u64le(b, t->offsets[i], err);
    if (!st) st = ts_writer_write(t->w, b->data, b->len, err);
    if (st) {
        ts_tokfile_abort(t);
        return st;
    }
    uint8_t foot[FOOTER_BYTES];
    ts_put_u64le(foot, t->n);
    ts_put_u64le(foot + 8, index_off);
    ts_put_u64le(foot + 16, ts_writer_xxh3(t->w));
    ts_put_u32le(foot + 24, TS_TOKFILE_VERSION);
    ts_put_u32le(foot + 28, 0);
    memcpy(foot + 32, TS_TOKFILE_END, 8);
    st = ts_writer_write(t->w, foot, sizeof foot, err);
    if (!st) st = ts_writer_commit(t->w, err);
    else ts_writer_abort(t->w);
    t->w = NULL;
    ts_tokfile_abort(t);
    return st;
}

void ts_tokfile_abort(ts_tokfile_writer *t) {
    if (!t) return;
    ts_writer_abort(t->w);
    ts_buf_free(&t->rec);
    free(t->offsets);
    free(t);
}

/* Version from the magic at the start and the footer's version field. */
static ts_status check_ends(const char *path, const uint8_t *head, const uint8_t *foot, uint32_t *version,
                            ts_error *err) {
    int v1 = !memcmp(head, TS_TOKFILE_MAGIC_V1, 8), v2 = !memcmp(head, TS_TOKFILE_MAGIC, 8);
    if ((!v1 && !v2) || memcmp(foot + 32, TS_TOKFILE_END, 8) != 0)
        return ts_fail(err, TS_EFORMAT, "%s: not a tokenized-sample file (magic)", path);
    *version = ts_get_u32le(foot + 24);
    if (*version != (v1 ? 1u : 2u)) return ts_fail(err, TS_EUNSUPPORTED, "%s: version %u", path, *version);
    return TS_OK;
}

static ts_status check_index(const char *path, uint64_t file_bytes, uint32_t version, const uint8_t *foot,
                             uint64_t *n_records, uint64_t *index_off, ts_error *err) {
    *n_records = ts_get_u64le(foot);
    *index_off = ts_get_u64le(foot + 8);
    uint64_t end = file_bytes - FOOTER_BYTES;
    if (*index_off < header_bytes(version) || *index_off > end || (end - *index_off) % 8 ||
        *n_records != (end - *index_off) / 8)
        return ts_fail(err, TS_EFORMAT, "%s: bad index", path);
    return TS_OK;
}

/* Record at p with `avail` bytes up to the index; fills the pointers. */
static ts_status parse_record(const uint8_t *p, uint64_t avail, uint32_t version, uint64_t i,
                              ts_tokfile_record *r, ts_error *err) {
    if (avail < RECORD_HEAD) return ts_fail(err, TS_EFORMAT, "record %llu: truncated", (unsigned long long)i);
    r->version = version;
    r->source_record = ts_get_u64le(p);
    r->n_ids = ts_get_u32le(p + 8);
    r->n_images = ts_get_u32le(p + 12);
    r->length = (int64_t)ts_get_u64le(p + 16);
    uint64_t need = RECORD_HEAD + (uint64_t)r->n_ids * 5 + (4 - r->n_ids % 4) % 4 +
                    (uint64_t)r->n_images * image_bytes(version);
    if (need > avail) return ts_fail(err, TS_EFORMAT, "record %llu: truncated", (unsigned long long)i);
    if (r->length < (int64_t)r->n_ids) return ts_fail(err, TS_EFORMAT, "record %llu: length %lld below its %u ids",
                                                      (unsigned long long)i, (long long)r->length, r->n_ids);
    r->ids = p + RECORD_HEAD;
    r->mask = r->ids + 4 * (uint64_t)r->n_ids;
    r->images = r->mask + r->n_ids + (4 - r->n_ids % 4) % 4;
    return TS_OK;
}

static int pos_ok(int64_t p, uint32_t n_ids) { return p == -1 || (p >= 0 && p < (int64_t)n_ids); }

ts_status ts_tokfile_image(const ts_tokfile_record *r, uint32_t k, ts_chat_slot *s, ts_error *err) {
    const uint8_t *p = r->images + (uint64_t)k * image_bytes(r->version);
    memset(s, 0, sizeof *s);
    s->tiles = (int)ts_get_u32le(p);
    s->cap = (int)ts_get_u32le(p + 4);
    s->retiled_from = (int)ts_get_u32le(p + 8);
    s->token_pos = (int64_t)ts_get_u64le(p + 16);
    int ok = k < r->n_images && s->tiles >= 1 && s->tiles <= TS_CHAT_MAX_TILES && pos_ok(s->token_pos, r->n_ids);
    int n_inline = 0;
    for (int t = 0; t < TS_CHAT_MAX_TILES; t++) {
        s->tag_pos[t] = (int64_t)ts_get_u64le(p + 24 + 8 * t);
        s->feat_pos[t] = (int64_t)ts_get_u64le(p + 80 + 8 * t);
        s->inline_tile[t] = p[136 + t];
        ok = ok && pos_ok(s->tag_pos[t], r->n_ids) && pos_ok(s->feat_pos[t], r->n_ids) && s->inline_tile[t] <= 1;
        n_inline += s->inline_tile[t];
    }
    if (r->version == 1) { /* v1 did not record them: the positions tell */
        s->form = s->token_pos >= 0 || s->feat_pos[0] < 0 ? TS_FORM_MEGATRON : TS_FORM_HF;
        s->layout = n_inline == 0 ? TS_LAYOUT_X : n_inline == s->tiles ? TS_LAYOUT_D : TS_LAYOUT_H;
    } else {
        ok = ok && p[12] <= TS_LAYOUT_H && p[13] <= TS_FORM_HF && p[14] <= 1;
        s->layout = (ts_chat_layout)p[12];
        s->form = (ts_chat_form)p[13];
        s->has_hash = p[14];
        s->content_hash.hi = ts_get_u64le(p + 144);
        s->content_hash.lo = ts_get_u64le(p + 152);
    }
    if (!ok) return ts_fail(err, TS_EFORMAT, "source record %llu: image %u: bad entry",
                            (unsigned long long)r->source_record, k);
    return TS_OK;
}

struct ts_tokfile {
    int fd;
    char *path;
    uint32_t version;
    uint64_t n_records, index_off, tokenizer_hash;
    ts_buf rec; /* the last record read; grows to the largest */
};

static ts_status pread_exact(const ts_tokfile *f, void *dst, size_t n, uint64_t off, ts_error *err) {
    uint8_t *p = dst;
    while (n) {
        ssize_t got = pread(f->fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return ts_fail_errno(err, TS_EIO, "%s: read", f->path);
        if (got == 0) return ts_fail(err, TS_EFORMAT, "%s: truncated", f->path);
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return TS_OK;
}

/* One pass over every byte before the footer, in bounded chunks (a
 * scratch buffer freed after: a build holds one open file per source). */
static ts_status check_checksum(ts_tokfile *f, uint64_t bytes, uint64_t stored, ts_error *err) {
    ts_hasher *h = ts_hasher_new();
    ts_buf chunk = TS_BUF_INIT;
    ts_status st = h ? ts_buf_reserve(&chunk, CHECK_CHUNK, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    for (uint64_t off = 0; off < bytes && !st; off += CHECK_CHUNK) {
        size_t n = bytes - off < CHECK_CHUNK ? (size_t)(bytes - off) : CHECK_CHUNK;
        st = pread_exact(f, chunk.data, n, off, err);
        if (!st) ts_hasher_update(h, chunk.data, n);
    }
    if (!st && ts_hasher_digest(h) != stored) st = ts_fail(err, TS_ECHECKSUM, "%s: checksum mismatch", f->path);
    ts_buf_free(&chunk);
    ts_hasher_free(h);
    return st;
}

ts_status ts_tokfile_open(const char *path, ts_tokfile **out, ts_error *err) {
    *out = NULL;
    ts_tokfile *f = calloc(1, sizeof *f);
    if (!f) return ts_fail(err, TS_ENOMEM, "out of memory");
    f->fd = -1;
    ts_status st = (f->path = strdup(path)) ? TS_OK : ts_fail(err, TS_ENOMEM, "out of memory");
    struct stat sb;
    if (!st && ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->fd, &sb)))
        st = ts_fail_errno(err, TS_EIO, "%s: open", path);
    uint64_t bytes = st ? 0 : (uint64_t)sb.st_size;
    if (!st && bytes < HEADER_V2 + FOOTER_BYTES)
        st = ts_fail(err, TS_EFORMAT, "%s: not a tokenized-sample file (too short)", path);
    uint8_t head[HEADER_V2], foot[FOOTER_BYTES];
    if (!st) st = pread_exact(f, head, sizeof head, 0, err);
    if (!st) st = pread_exact(f, foot, sizeof foot, bytes - FOOTER_BYTES, err);
    if (!st) st = check_ends(path, head, foot, &f->version, err);
    if (!st) st = check_index(path, bytes, f->version, foot, &f->n_records, &f->index_off, err);
    if (!st) st = check_checksum(f, bytes - FOOTER_BYTES, ts_get_u64le(foot + 16), err);
    if (st) {
        ts_tokfile_close(f);
        return st;
    }
    f->tokenizer_hash = f->version == 1 ? 0 : ts_get_u64le(head + 16);
    *out = f;
    return TS_OK;
}

uint64_t ts_tokfile_count(const ts_tokfile *f) { return f->n_records; }
uint64_t ts_tokfile_tokenizer_hash(const ts_tokfile *f) { return f->tokenizer_hash; }

/* Record i spans from its index entry to the next one (the last one to the
 * index): two reads, whatever the record's size. */
ts_status ts_tokfile_get(ts_tokfile *f, uint64_t i, ts_tokfile_record *r, ts_error *err) {
    if (i >= f->n_records) return ts_fail(err, TS_ENOTFOUND, "record %llu of %llu", (unsigned long long)i,
                                          (unsigned long long)f->n_records);
    uint8_t offs[16];
    int last = i + 1 == f->n_records;
    ts_status st = pread_exact(f, offs, last ? 8 : 16, f->index_off + 8 * i, err);
    if (st) return st;
    uint64_t off = ts_get_u64le(offs), end = last ? f->index_off : ts_get_u64le(offs + 8);
    if (off < header_bytes(f->version) || end > f->index_off || end < off)
        return ts_fail(err, TS_EFORMAT, "%s: record %llu: bad offset", f->path, (unsigned long long)i);
    ts_buf_reset(&f->rec);
    if ((st = ts_buf_reserve(&f->rec, (size_t)(end - off), err)) ||
        (st = pread_exact(f, f->rec.data, (size_t)(end - off), off, err)))
        return st;
    st = parse_record(f->rec.data, end - off, f->version, i, r, err);
    return st ? ts_error_context(err, "%s: ", f->path) : TS_OK;
}

void ts_tokfile_close(ts_tokfile *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    ts_buf_free(&f->rec);
    free(f->path);
    free(f);
}

struct ts_tokfile_reader {
    FILE *fp;
    char *path;
    uint32_t version;
    uint64_t n_records, index_off, pos, next_record, file_bytes, stored_xxh3, tokenizer_hash;
    ts_hasher *file_hash, *offsets_hash; /* every byte read; the offsets we saw, as the index stores them */
    ts_buf rec;
    int done;
};

static ts_status read_exact(ts_tokfile_reader *r, void *dst, size_t n, ts_error *err) {
    if (fread(dst, 1, n, r->fp) != n) return ts_fail_errno(err, TS_EIO, "%s: read", r->path);
    ts_hasher_update(r->file_hash, dst, n);
    r->pos += n;
    return TS_OK;
}

ts_status ts_tokfile_reader_open(const char *path, ts_tokfile_reader **out, ts_error *err) {
    *out = NULL;
    ts_tokfile_reader *r = calloc(1, sizeof *r);
    if (!r) return ts_fail(err, TS_ENOMEM, "out of memory");
    r->path = strdup(path);
    r->file_hash = ts_hasher_new();
    r->offsets_hash = ts_hasher_new();
    ts_status st = r->path && r->file_hash && r->offsets_hash ? TS_OK : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st && !(r->fp = fopen(path, "rb"))) st = ts_fail_errno(err, TS_EIO, "%s: open", path);
    uint8_t head[HEADER_V2], foot[FOOTER_BYTES];
    if (!st && (fseeko(r->fp, 0, SEEK_END) || (r->file_bytes = (uint64_t)ftello(r->fp)) == (uint64_t)-1))
        st = ts_fail_errno(err, TS_EIO, "%s: seek", path);
    if (!st && r->file_bytes < HEADER_V1 + FOOTER_BYTES)
        st = ts_fail(err, TS_EFORMAT, "%s: not a tokenized-sample file (too short)", path);
    if (!st && (fseeko(r->fp, (off_t)(r->file_bytes - FOOTER_BYTES), SEEK_SET) ||
                fread(foot, 1, FOOTER_BYTES, r->fp) != FOOTER_BYTES || fseeko(r->fp, 0, SEEK_SET)))
        st = ts_fail_errno(err, TS_EIO, "%s: read footer", path);
    if (!st && fread(head, 1, 8, r->fp) != 8) st = ts_fail_errno(err, TS_EIO, "%s: read header", path);
    if (!st) st = check_ends(path, head, foot, &r->version, err);
    if (!st && r->file_bytes < header_bytes(r->version) + FOOTER_BYTES)
        st = ts_fail(err, TS_EFORMAT, "%s: truncated", path);
    if (!st) st = check_index(path, r->file_bytes, r->version, foot, &r->n_records, &r->index_off, err);
    if (!st && fseeko(r->fp, 0, SEEK_SET)) st = ts_fail_errno(err, TS_EIO, "%s: seek", path);
    if (!st) st = read_exact(r, head, header_bytes(r->version), err);
    if (st) {
        ts_tokfile_reader_close(r);
        return st;
    }
    r->tokenizer_hash = r->version == 1 ? 0 : ts_get_u64le(head + 16);
    r->stored_xxh3 = ts_get_u64le(foot + 16);
    *out = r;
    return TS_OK;
}

uint64_t ts_tokfile_reader_count(const ts_tokfile_reader *r) { return r->n_records; }
uint32_t ts_tokfile_reader_version(const ts_tokfile_reader *r) { return r->version; }
uint64_t ts_tokfile_reader_tokenizer_hash(const ts_tokfile_reader *r) { return r->tokenizer_hash; }
uint64_t ts_tokfile_reader_checksum(const ts_tokfile_reader *r) { return r->stored_xxh3; }

/* After the last record: the index must list the offsets we read, and the
 * checksum must cover every byte. */
static ts_status finish_stream(ts_tokfile_reader *r, ts_error *err) {
    uint8_t chunk[8192];
    ts_hasher *index_hash = ts_hasher_new();
    if (!index_hash) return ts_fail(err, TS_ENOMEM, "out of memory");
    uint64_t left = r->file_bytes - FOOTER_BYTES - r->index_off;
    ts_status st = TS_OK;
    while (left && !st) {
        size_t n = left < sizeof chunk ? (size_t)left : sizeof chunk;
        st = read_exact(r, chunk, n, err);
        ts_hasher_update(index_hash, chunk, n);
        left -= n;
    }
    if (!st && ts_hasher_digest(r->file_hash) != r->stored_xxh3)
        st = ts_fail(err, TS_ECHECKSUM, "%s: checksum mismatch", r->path);
    if (!st && ts_hasher_digest(index_hash) != ts_hasher_digest(r->offsets_hash))
        st = ts_fail(err, TS_EFORMAT, "%s: index does not match the records", r->path);
    ts_hasher_free(index_hash);
    return st;
}

ts_status ts_tokfile_reader_next(ts_tokfile_reader *r, ts_tokfile_record *rec, ts_error *err) {
    if (r->done) return TS_ENOTFOUND;
    if (r->next_record == r->n_records) {
        if (r->pos != r->index_off)
            return ts_fail(err, TS_EFORMAT, "%s: %llu bytes between the last record and the index", r->path,
                           (unsigned long long)(r->index_off - r->pos));
        ts_status st = finish_stream(r, err);
        if (st) return st;
        r->done = 1;
        return TS_ENOTFOUND;
    }
    uint8_t head[RECORD_HEAD];
    uint64_t avail = r->index_off - r->pos, i = r->next_record;
    if (avail < RECORD_HEAD) return ts_fail(err, TS_EFORMAT, "%s: record %llu: truncated", r->path, (unsigned long long)i);
    uint8_t off_le[8];
    ts_put_u64le(off_le, r->pos);
    ts_hasher_update(r->offsets_hash, off_le, 8);
    ts_status st = read_exact(r, head, RECORD_HEAD, err);
    if (st) return st;
    uint32_t n_ids = ts_get_u32le(head + 8), n_images = ts_get_u32le(head + 12);
    uint64_t body = (uint64_t)n_ids * 5 + (4 - n_ids % 4) % 4 + (uint64_t)n_images * image_bytes(r->version);
    if (body > avail - RECORD_HEAD)
        return ts_fail(err, TS_EFORMAT, "%s: record %llu: truncated", r->path, (unsigned long long)i);
    ts_buf_reset(&r->rec);
    if ((st = ts_buf_append(&r->rec, head, RECORD_HEAD, err)) || (st = ts_buf_reserve(&r->rec, (size_t)body, err)))
        return st;
    if ((st = read_exact(r, r->rec.data + RECORD_HEAD, (size_t)body, err))) return st;
    r->rec.len += (size_t)body;
    r->next_record++;
    st = parse_record(r->rec.data, r->rec.len, r->version, i, rec, err);
    return st ? ts_error_context(err, "%s: ", r->path) : TS_OK;
}

void ts_tokfile_reader_close(ts_tokfile_reader *r) {
    if (!r) return;
    if (r->fp) fclose(r->fp);
    ts_hasher_free(r->file_hash);
    ts_hasher_free(r->offsets_hash);
    ts_buf_free(&r->rec);
    free(r->path);
    free(r);
}
