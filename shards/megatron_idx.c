/* The Megatron .bin/.idx writer (megatron.h): ids to the .bin as they come,
 * lengths and document ends spooled, the .idx streamed from the spools. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "shards/megatron.h"

#define IDX_MAGIC "MMIDIDX\0\0"
#define IDX_MAGIC_BYTES 9
#define IDX_VERSION 1u
#define SPOOL_CHUNK 8192 /* entries copied at a time from a spool to the .idx */

struct ts_megatron_writer {
    char *bin_path, *idx_path;
    ts_megatron_dtype dtype;
    ts_writer *bin;
    FILE *lengths;   /* int32 per sequence, host order */
    FILE *doc_ends;  /* int64 per document, host order */
    uint64_t documents, sequences, tokens;
    ts_buf scratch;
};

ts_megatron_dtype ts_megatron_dtype_for_vocab(size_t vocab_size) {
    return vocab_size < 65500 ? TS_MEGATRON_UINT16 : TS_MEGATRON_INT32;
}

const char *ts_megatron_dtype_name(ts_megatron_dtype d) { return d == TS_MEGATRON_UINT16 ? "uint16" : "int32"; }

static size_t item_size(ts_megatron_dtype d) { return d == TS_MEGATRON_UINT16 ? 2 : 4; }

static char *join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

/* An anonymous temporary beside the outputs (same file system, no leftovers). */
static ts_status open_spool(const char *prefix, FILE **out, ts_error *err) {
    char *tmpl = join(prefix, ".spool-XXXXXX");
    if (!tmpl) return ts_fail(err, TS_ENOMEM, "out of memory");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        ts_status st = ts_fail_errno(err, TS_EIO, "%s: creating a temporary file", tmpl);
        free(tmpl);
        return st;
    }
    unlink(tmpl);
    free(tmpl);
    *out = fdopen(fd, "w+b");
    if (!*out) {
        close(fd);
        return ts_fail_errno(err, TS_EIO, "temporary file");
    }
    return TS_OK;
}

ts_status ts_megatron_writer_open(const char *prefix, ts_megatron_dtype dtype, ts_megatron_writer **out,
                                  ts_error *err) {
    if (dtype != TS_MEGATRON_INT32 && dtype != TS_MEGATRON_UINT16)
        return ts_fail(err, TS_EINVAL, "Megatron dtype code %d: only 4 (int32) and 8 (uint16) are written", (int)dtype);
    ts_megatron_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->bin_path = join(prefix, ".bin")) || !(w->idx_path = join(prefix, ".idx"))) {
        ts_megatron_writer_abort(w);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    w->dtype = dtype;
    ts_status st = ts_writer_open(&w->bin, w->bin_path, err);
    if (!st) st = open_spool(prefix, &w->lengths, err);
    if (!st) st = open_spool(prefix, &w->doc_ends, err);
    if (st) {
        ts_megatron_writer_abort(w);
        return st;
    }
    *out = w;
    return TS_OK;
}

static ts_status spool_put(FILE *f, const void *v, size_t n, ts_error *err) {
    if (fwrite(v, n, 1, f) != 1) return ts_fail_errno(err, TS_EIO, "writing a temporary file");
    return TS_OK;
}

ts_status ts_megatron_writer_add(ts_megatron_writer *w, const int32_t *ids, size_t n, ts_error *err) {
    if (n > INT32_MAX) return ts_fail(err, TS_ELIMIT, "document of %zu ids: Megatron lengths are int32", n);
    int64_t max = w->dtype == TS_MEGATRON_UINT16 ? UINT16_MAX : INT32_MAX;
    size_t isz = item_size(w->dtype);
    ts_buf_reset(&w->scratch);
    ts_status st = ts_buf_reserve(&w->scratch, n * isz + 1, err);
    if (st) return st;
    uint8_t *p = w->scratch.data;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] > max)
            return ts_fail(err, TS_ELIMIT, "token id %d at position %zu does not fit Megatron's %s", (int)ids[i], i,
                           ts_megatron_dtype_name(w->dtype));
        uint32_t v = (uint32_t)ids[i];
        if (isz == 2) {
            p[2 * i] = (uint8_t)v;
            p[2 * i + 1] = (uint8_t)(v >> 8);
        } else {
            ts_put_u32le(p + 4 * i, v);
        }
    }
    if (n) {
        st = ts_writer_write(w->bin, p, n * isz, err);
        int32_t len = (int32_t)n;
        if (!st) st = spool_put(w->lengths, &len, sizeof len, err);
        if (st) return st;
        w->sequences++;
        w->tokens += n;
    }
    int64_t end = (int64_t)w->sequences;
    st = spool_put(w->doc_ends, &end, sizeof end, err);
    if (!st) w->documents++;
    return st;
}

static ts_status rewind_spool(FILE *f, ts_error *err) {
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0) return ts_fail_errno(err, TS_EIO, "temporary file");
    return TS_OK;
}

/* Stream `count` host-order entries of the spool into the .idx as LE:
 * as they are (int32 lengths, int64 document ends) or, with `pointers`, the
 * int32 lengths turned into int64 byte offsets of each sequence. */
static ts_status copy_spool(FILE *f, uint64_t count, int wide, int pointers, size_t isz, ts_writer *idx,
                            ts_error *err) {
    ts_status st = rewind_spool(f, err);
    size_t in_size = wide ? 8 : 4, out_size = wide || pointers ? 8 : 4;
    uint8_t in[SPOOL_CHUNK * 8], out[SPOOL_CHUNK * 8];
    int64_t offset = 0;
    for (uint64_t done = 0; !st && done < count;) {
        size_t n = count - done < SPOOL_CHUNK ? (size_t)(count - done) : SPOOL_CHUNK;
        if (fread(in, in_size, n, f) != n) return ts_fail_errno(err, TS_EIO, "reading a temporary file");
        for (size_t i = 0; i < n; i++) {
            if (wide) {
                int64_t v;
                memcpy(&v, in + 8 * i, 8);
                ts_put_u64le(out + 8 * i, (uint64_t)v);
            } else {
                int32_t v;
                memcpy(&v, in + 4 * i, 4);
                if (pointers) {
                    ts_put_u64le(out + 8 * i, (uint64_t)offset);
                    offset += (int64_t)v * (int64_t)isz;
                } else {
                    ts_put_u32le(out + 4 * i, (uint32_t)v);
                }
            }
        }
        st = ts_writer_write(idx, out, n * out_size, err);
        done += n;
    }
    return st;
}

static ts_status write_idx(ts_megatron_writer *w, ts_writer *idx, ts_error *err) {
    uint8_t head[IDX_MAGIC_BYTES + 8 + 1 + 8 + 8];
    memcpy(head, IDX_MAGIC, IDX_MAGIC_BYTES);
    ts_put_u64le(head + 9, IDX_VERSION);
    head[17] = (uint8_t)w->dtype;
    ts_put_u64le(head + 18, w->sequences);
    ts_put_u64le(head + 26, w->documents + 1);
    ts_status st = ts_writer_write(idx, head, sizeof head, err);
    size_t isz = item_size(w->dtype);
    if (!st) st = copy_spool(w->lengths, w->sequences, 0, 0, isz, idx, err);
    if (!st) st = copy_spool(w->lengths, w->sequences, 0, 1, isz, idx, err);
    uint8_t zero[8] = {0};
    if (!st) st = ts_writer_write(idx, zero, sizeof zero, err);
    if (!st) st = copy_spool(w->doc_ends, w->documents, 1, 0, isz, idx, err);
    return st;
}

ts_status ts_megatron_writer_finish(ts_megatron_writer *w, ts_megatron_summary *s, ts_error *err) {
    ts_writer *idx = NULL;
    ts_status st = ts_writer_open(&idx, w->idx_path, err);
    if (!st) st = write_idx(w, idx, err);
    if (st) {
        ts_writer_abort(idx);
        ts_megatron_writer_abort(w);
        return st;
    }
    s->documents = w->documents;
    s->sequences = w->sequences;
    s->tokens = w->tokens;
    s->dtype = w->dtype;
    s->bin_bytes = ts_writer_offset(w->bin);
    s->bin_xxh3 = ts_writer_xxh3(w->bin);
    s->idx_bytes = ts_writer_offset(idx);
    s->idx_xxh3 = ts_writer_xxh3(idx);
    /* The old .idx goes first and the new one comes last: no moment pairs a
     * new .bin with an old .idx. */
    if (unlink(w->idx_path) != 0 && errno != ENOENT)
        st = ts_fail_errno(err, TS_EIO, "%s: removing the old index", w->idx_path);
    if (!st) st = ts_writer_commit(w->bin, err);
    else ts_writer_abort(w->bin);
    w->bin = NULL;
    if (!st) {
        st = ts_writer_commit(idx, err);
        if (st) unlink(w->bin_path); /* a .bin without its .idx is of no use */
    } else {
        ts_writer_abort(idx);
    }
    ts_megatron_writer_abort(w);
    return st;
}

void ts_megatron_writer_abort(ts_megatron_writer *w) {
    if (!w) return;
    ts_writer_abort(w->bin);
    if (w->lengths) fclose(w->lengths);
    if (w->doc_ends) fclose(w->doc_ends);
    ts_buf_free(&w->scratch);
    free(w->bin_path);
    free(w->idx_path);
    free(w);
}
