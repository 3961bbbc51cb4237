/* Packed shard reader (pack.h): the file is memory-mapped; header, meta,
 * index and footer are checked on open, a block's checksums when it is
 * first decompressed, a sequence's structure on every get. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "shards/pack_layout.h"

struct ts_pack_reader {
    char *path;
    const uint8_t *map;
    size_t size;
    ts_pack_header h;
    uint64_t n_seqs, n_blocks;
    const uint8_t *index;
    char *meta;
    ts_buf block;         /* the decompressed block cached */
    uint64_t cached;      /* its number, UINT64_MAX when none */
};

static ts_status bad(const ts_pack_reader *r, ts_error *err, ts_status code, const char *what) {
    return ts_fail(err, code, "%s: %s", r->path, what);
}

static ts_status check_layout(ts_pack_reader *r, ts_error *err) {
    const uint8_t *m = r->map, *f = m + r->size - PACK_FOOTER_BYTES;
    if (memcmp(m, TS_PACK_MAGIC, 8) || memcmp(f + 56, TS_PACK_END, 8))
        return bad(r, err, TS_EFORMAT, "not a packed shard (magic)");
    if (ts_xxh3_64(m, 56) != ts_get_u64le(m + 56)) return bad(r, err, TS_ECHECKSUM, "header checksum mismatch");
    if (ts_get_u32le(m + 8) != TS_PACK_VERSION) return bad(r, err, TS_EUNSUPPORTED, "unknown version");
    r->h.max_len = ts_get_u32le(m + 16);
    r->h.seqs_per_block = ts_get_u32le(m + 20);
    r->h.tokenizer_hash = ts_get_u64le(m + 24);
    r->h.params_hash = ts_get_u64le(m + 32);
    r->h.zstd_level = ts_get_u32le(m + 40);
    r->h.window = ts_get_u32le(m + 44);
    r->h.recipe_hash = ts_get_u64le(m + 48);
    r->n_seqs = ts_get_u64le(f);
    r->n_blocks = ts_get_u64le(f + 8);
    uint64_t meta_off = ts_get_u64le(f + 16), meta_len = ts_get_u64le(f + 24), index_off = ts_get_u64le(f + 32);
    uint64_t end = r->size - PACK_FOOTER_BYTES;
    if (!r->h.max_len || r->h.max_len > TS_PACK_MAX_LEN_LIMIT || !r->h.seqs_per_block || ts_get_u32le(m + 12) ||
        ts_get_u64le(f + 40))
        return bad(r, err, TS_EFORMAT, "bad header or footer fields");
    if (meta_off < PACK_HEADER_BYTES || meta_off > end || meta_len > end - meta_off || index_off != meta_off + meta_len ||
        r->n_blocks > (end - index_off) / PACK_INDEX_ENTRY || end - index_off != r->n_blocks * PACK_INDEX_ENTRY ||
        r->n_blocks != (r->n_seqs + r->h.seqs_per_block - 1) / r->h.seqs_per_block)
        return bad(r, err, TS_EFORMAT, "bad footer offsets");
    ts_hasher *h = ts_hasher_new();
    if (!h) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_hasher_update(h, m, PACK_HEADER_BYTES);
    ts_hasher_update(h, m + meta_off, (size_t)(end - meta_off));
    ts_hasher_update(h, f, 48);
    uint64_t sum = ts_hasher_digest(h);
    ts_hasher_free(h);
    if (sum != ts_get_u64le(f + 48)) return bad(r, err, TS_ECHECKSUM, "footer checksum mismatch");
    r->index = m + index_off;
    uint64_t expect = PACK_HEADER_BYTES; /* blocks lie back to back from the header to the meta */
    for (uint64_t b = 0; b < r->n_blocks; b++) {
        const uint8_t *e = r->index + b * PACK_INDEX_ENTRY;
        if (ts_get_u64le(e) != expect || ts_get_u32le(e + 8) == 0) return bad(r, err, TS_EFORMAT, "bad block index");
        expect += ts_get_u32le(e + 8);
    }
    if (expect != meta_off) return bad(r, err, TS_EFORMAT, "blocks do not end at the meta");
    if (!(r->meta = malloc((size_t)meta_len + 1))) return ts_fail(err, TS_ENOMEM, "out of memory");
    memcpy(r->meta, m + meta_off, (size_t)meta_len);
    r->meta[meta_len] = 0;
    return TS_OK;
}

ts_status ts_pack_open(const char *path, ts_pack_reader **out, ts_error *err) {
    *out = NULL;
    ts_pack_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    r->cached = UINT64_MAX;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ts_status st = TS_OK;
    struct stat sb;
    if (fd < 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot open", path);
    else if (fstat(fd, &sb) != 0) st = ts_fail_errno(err, TS_EIO, "%s: cannot stat", path);
    if (!st && (size_t)sb.st_size < PACK_HEADER_BYTES + PACK_FOOTER_BYTES)
        st = ts_fail(err, TS_EFORMAT, "%s: not a packed shard (too short)", path);
    if (!st) {
        r->size = (size_t)sb.st_size;
        void *m = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) st = ts_fail_errno(err, TS_EIO, "%s: cannot map", path);
        else r->map = m;
    }
    if (fd >= 0) close(fd);
    if (!st) st = check_layout(r, err);
    if (st) {
        ts_pack_close(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

uint64_t ts_pack_count(const ts_pack_reader *r) { return r->n_seqs; }
const ts_pack_header *ts_pack_info(const ts_pack_reader *r) { return &r->h; }
const char *ts_pack_meta(const ts_pack_reader *r) { return r->meta; }
const char *ts_pack_path(const ts_pack_reader *r) { return r->path; }

static ts_status load_block(ts_pack_reader *r, uint64_t b, ts_error *err) {
    if (r->cached == b) return TS_OK;
    r->cached = UINT64_MAX;
    const uint8_t *e = r->index + b * PACK_INDEX_ENTRY;
    uint64_t off = ts_get_u64le(e);
    uint32_t zlen = ts_get_u32le(e + 8), raw = ts_get_u32le(e + 12);
    if (ts_xxh3_64(r->map + off, zlen) != ts_get_u64le(e + 16))
        return ts_fail(err, TS_ECHECKSUM, "%s: block %llu: checksum mismatch", r->path, (unsigned long long)b);
    ts_buf_reset(&r->block);
    ts_status st = ts_zstd_decompress(r->map + off, zlen, raw, &r->block, err);
    if (st) return ts_error_context(err, "%s: block %llu: ", r->path, (unsigned long long)b);
    if (ts_xxh3_64(r->block.data, r->block.len) != ts_get_u64le(e + 24))
        return ts_fail(err, TS_ECHECKSUM, "%s: block %llu: raw checksum mismatch", r->path, (unsigned long long)b);
    uint64_t want = b + 1 < r->n_blocks ? r->h.seqs_per_block : r->n_seqs - b * r->h.seqs_per_block;
    if (r->block.len < 4 || ts_get_u32le(r->block.data) != want || r->block.len < 4 + 4 * want)
        return ts_fail(err, TS_EFORMAT, "%s: block %llu: bad sequence count", r->path, (unsigned long long)b);
    uint64_t prev = 4 + 4 * want; /* sequence offsets increase from the end of the table to the block's end */
    for (uint64_t i = 0; i < want; i++) {
        uint64_t o = ts_get_u32le(r->block.data + 4 + 4 * i);
        if ((i == 0 && o != prev) || o < prev || o > r->block.len)
            return ts_fail(err, TS_EFORMAT, "%s: block %llu: bad sequence offsets", r->path, (unsigned long long)b);
        prev = o;
    }
    r->cached = b;
    return TS_OK;
}

ts_status ts_pack_get(ts_pack_reader *r, uint64_t i, ts_pack_seq *s, ts_error *err) {
    if (i >= r->n_seqs) return ts_fail(err, TS_ENOTFOUND, "%s: sequence %llu of %llu", r->path, (unsigned long long)i,
                                       (unsigned long long)r->n_seqs);
    uint64_t b = i / r->h.seqs_per_block, k = i % r->h.seqs_per_block;
    ts_status st = load_block(r, b, err);
    if (st) return st;
    const uint8_t *d = r->block.data;
    uint32_t count = ts_get_u32le(d);
    uint64_t start = ts_get_u32le(d + 4 + 4 * k), end = k + 1 < count ? ts_get_u32le(d + 8 + 4 * k) : r->block.len;
    st = ts_pack_seq_decode(d + start, end - start, s, err);
    if (!st) st = ts_pack_seq_check(s, r->h.max_len, err);
    return st ? ts_error_context(err, "%s: sequence %llu: ", r->path, (unsigned long long)i) : TS_OK;
}

ts_status ts_pack_verify(ts_pack_reader *r, ts_error *err) {
    ts_pack_seq s = {0};
    ts_status st = TS_OK;
    for (uint64_t i = 0; i < r->n_seqs && !st; i++) st = ts_pack_get(r, i, &s, err);
    ts_pack_seq_free(&s);
    return st;
}

void ts_pack_close(ts_pack_reader *r) {
    if (!r) return;
    if (r->map) munmap((void *)r->map, r->size);
    ts_buf_free(&r->block);
    free(r->meta);
    free(r->path);
    free(r);
}
