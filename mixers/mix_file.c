/* Plan files (.tsmix): header, source table, fixed-width entries, footer.
 * Layout in docs/MIXING.md; all integers little-endian. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/pool.h"
#include "mix.h"

#define HEADER_BYTES 64
#define SOURCE_BYTES 96
#define ENTRY_BYTES 16
#define FOOTER_BYTES 16
static const char MAGIC[8] = {'T', 'S', 'M', 'I', 'X', 'P', 'L', '1'};
static const char END_MAGIC[8] = {'T', 'S', 'M', 'I', 'X', 'E', 'N', 'D'};
#define VERSION 1
#define FLAG_CAPPED 1u

static void put_header(const ts_mix_plan *p, uint8_t *h) {
    memset(h, 0, HEADER_BYTES);
    memcpy(h, MAGIC, 8);
    ts_put_u32le(h + 8, VERSION);
    ts_put_u32le(h + 12, (uint32_t)p->n_sources);
    ts_put_u64le(h + 16, p->seed);
    ts_put_u64le(h + 24, p->recipe_hash.hi);
    ts_put_u64le(h + 32, p->recipe_hash.lo);
    ts_put_u64le(h + 40, p->total);
    ts_put_u64le(h + 48, p->target);
    ts_put_u32le(h + 56, (uint32_t)p->target_kind);
    ts_put_u32le(h + 60, ENTRY_BYTES);
}

static void put_source(const ts_mix_source_plan *s, uint8_t *b) {
    memset(b, 0, SOURCE_BYTES);
    memcpy(b, s->name, strlen(s->name));
    ts_put_u64le(b + 64, s->available);
    ts_put_u64le(b + 72, s->tokens);
    ts_put_u64le(b + 80, s->target);
    ts_put_u32le(b + 88, s->epochs);
    ts_put_u32le(b + 92, s->capped ? FLAG_CAPPED : 0);
}

static void put_item(const ts_mix_item *it, uint8_t *b) {
    ts_put_u32le(b, it->source);
    ts_put_u32le(b + 4, it->epoch);
    ts_put_u64le(b + 8, it->record);
}

/* Entries are computed in batches of BATCH positions, each split into
 * SLICES slices that the pool fills in parallel. */
#define BATCH (1u << 18)
#define SLICES 64

typedef struct fill_ctx {
    const ts_mix_plan *plan;
    uint64_t first, count;
    uint8_t *out;
} fill_ctx;

static void fill_slice(void *ctx_, size_t slice, int worker) {
    (void)worker;
    fill_ctx *c = ctx_;
    uint64_t per = (c->count + SLICES - 1) / SLICES;
    uint64_t lo = slice * per, hi = lo + per < c->count ? lo + per : c->count;
    ts_mix_item it;
    for (uint64_t i = lo; i < hi; i++) {
        ts_mix_item_at(c->plan, c->first + i, &it);
        put_item(&it, c->out + i * ENTRY_BYTES);
    }
}

ts_status ts_mix_plan_write(const ts_mix_plan *p, const char *path, int threads, ts_error *err) {
    ts_writer *w = NULL;
    ts_status st = ts_writer_open(&w, path, err);
    if (st) return st;
    uint8_t head[HEADER_BYTES > SOURCE_BYTES ? HEADER_BYTES : SOURCE_BYTES];
    put_header(p, head);
    st = ts_writer_write(w, head, HEADER_BYTES, err);
    for (size_t i = 0; i < p->n_sources && !st; i++) {
        put_source(&p->src[i], head);
        st = ts_writer_write(w, head, SOURCE_BYTES, err);
    }
    uint8_t *buf = NULL;
    ts_pool *pool = NULL;
    if (!st && p->total) {
        buf = malloc((size_t)BATCH * ENTRY_BYTES);
        pool = ts_pool_new(threads);
        if (!buf || !pool) st = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    for (uint64_t first = 0; first < p->total && !st; first += BATCH) {
        fill_ctx c = {p, first, p->total - first < BATCH ? p->total - first : BATCH, buf};
        ts_pool_run(pool, SLICES, fill_slice, &c);
        st = ts_writer_write(w, buf, (size_t)c.count * ENTRY_BYTES, err);
    }
    free(buf);
    ts_pool_free(pool);
    if (!st) {
        uint8_t foot[FOOTER_BYTES];
        ts_put_u64le(foot, ts_writer_xxh3(w));
        memcpy(foot + 8, END_MAGIC, 8);
        st = ts_writer_write(w, foot, FOOTER_BYTES, err);
    }
    if (st) {
        ts_writer_abort(w);
        return ts_error_context(err, "%s", path);
    }
    st = ts_writer_commit(w, err);
    return st ? ts_error_context(err, "%s", path) : TS_OK;
}

/* ---- reader ---- */

#define READ_ENTRIES 4096

struct ts_mix_reader {
    FILE *f;
    char *path;
    ts_mix_plan head;
    ts_hasher *hasher;
    uint64_t footer_hash;
    uint64_t next, buffered, used; /* items handed out; items in buf; items of buf used */
    uint8_t buf[READ_ENTRIES * ENTRY_BYTES];
};

static ts_status read_exact(ts_mix_reader *r, void *dst, size_t n, const char *what, ts_error *err) {
    if (fread(dst, 1, n, r->f) != n)
        return ts_fail(err, ferror(r->f) ? TS_EIO : TS_EFORMAT, "%s: truncated %s", r->path, what);
    return TS_OK;
}

static ts_status read_head(ts_mix_reader *r, ts_error *err) {
    uint8_t h[HEADER_BYTES];
    ts_status st = read_exact(r, h, HEADER_BYTES, "header", err);
    if (st) return st;
    if (memcmp(h, MAGIC, 8)) return ts_fail(err, TS_EFORMAT, "%s: not a tessera plan file (bad magic)", r->path);
    if (ts_get_u32le(h + 8) != VERSION)
        return ts_fail(err, TS_EUNSUPPORTED, "%s: plan version %u", r->path, ts_get_u32le(h + 8));
    if (ts_get_u32le(h + 60) != ENTRY_BYTES) return ts_fail(err, TS_EFORMAT, "%s: bad entry size", r->path);
    ts_hasher_update(r->hasher, h, HEADER_BYTES);
    ts_mix_plan *p = &r->head;
    p->n_sources = ts_get_u32le(h + 12);
    p->seed = ts_get_u64le(h + 16);
    p->recipe_hash.hi = ts_get_u64le(h + 24);
    p->recipe_hash.lo = ts_get_u64le(h + 32);
    p->total = ts_get_u64le(h + 40);
    p->target = ts_get_u64le(h + 48);
    p->target_kind = (ts_mix_amount)ts_get_u32le(h + 56);
    if (p->target_kind != TS_MIX_NONE && p->target_kind != TS_MIX_SAMPLES && p->target_kind != TS_MIX_TOKENS)
        return ts_fail(err, TS_EFORMAT, "%s: bad target kind", r->path);
    /* Check the size before allocating the source table. */
    if (fseeko(r->f, 0, SEEK_END)) return ts_fail_errno(err, TS_EIO, "%s: seek", r->path);
    uint64_t size = (uint64_t)ftello(r->f);
    unsigned __int128 want = HEADER_BYTES + (unsigned __int128)p->n_sources * SOURCE_BYTES +
                             (unsigned __int128)p->total * ENTRY_BYTES + FOOTER_BYTES;
    if (want != size)
        return ts_fail(err, TS_EFORMAT, "%s: %llu bytes, the header implies %llu", r->path,
                       (unsigned long long)size, (unsigned long long)(want > UINT64_MAX ? UINT64_MAX : (uint64_t)want));
    uint8_t foot[FOOTER_BYTES];
    if (fseeko(r->f, (off_t)(size - FOOTER_BYTES), SEEK_SET)) return ts_fail_errno(err, TS_EIO, "%s: seek", r->path);
    if ((st = read_exact(r, foot, FOOTER_BYTES, "footer", err))) return st;
    if (memcmp(foot + 8, END_MAGIC, 8)) return ts_fail(err, TS_EFORMAT, "%s: bad footer", r->path);
    r->footer_hash = ts_get_u64le(foot);
    if (fseeko(r->f, HEADER_BYTES, SEEK_SET)) return ts_fail_errno(err, TS_EIO, "%s: seek", r->path);
    p->src = calloc(p->n_sources ? p->n_sources : 1, sizeof *p->src);
    if (!p->src) return ts_fail(err, TS_ENOMEM, "out of memory");
    uint64_t sum = 0;
    for (size_t i = 0; i < p->n_sources; i++) {
        uint8_t b[SOURCE_BYTES];
        if ((st = read_exact(r, b, SOURCE_BYTES, "source table", err))) return st;
        ts_hasher_update(r->hasher, b, SOURCE_BYTES);
        ts_mix_source_plan *s = &p->src[i];
        if (!b[0] || memchr(b, 0, TS_MIX_NAME_MAX + 1) == NULL)
            return ts_fail(err, TS_EFORMAT, "%s: source %zu: bad name", r->path, i);
        memcpy(s->name, b, TS_MIX_NAME_MAX + 1);
        s->available = ts_get_u64le(b + 64);
        s->tokens = ts_get_u64le(b + 72);
        s->target = ts_get_u64le(b + 80);
        s->epochs = ts_get_u32le(b + 88);
        s->capped = (ts_get_u32le(b + 92) & FLAG_CAPPED) != 0;
        if (!s->available) return ts_fail(err, TS_EFORMAT, "%s: source %s: no samples available", r->path, s->name);
        s->full_epochs = s->target / s->available;
        s->partial = s->target % s->available;
        if (s->epochs != s->full_epochs + (s->partial > 0))
            return ts_fail(err, TS_EFORMAT, "%s: source %s: epochs do not match its counts", r->path, s->name);
        s->offset = sum;
        sum += s->target;
    }
    if (sum != p->total) return ts_fail(err, TS_EFORMAT, "%s: source targets do not sum to the item count", r->path);
    return TS_OK;
}

ts_status ts_mix_reader_open(const char *path, ts_mix_reader **out, ts_error *err) {
    *out = NULL;
    ts_mix_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) || !(r->hasher = ts_hasher_new())) {
        ts_mix_reader_close(r);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        ts_mix_reader_close(r);
        return ts_fail_errno(err, TS_EIO, "%s", path);
    }
    ts_status st = read_head(r, err);
    if (st) {
        ts_mix_reader_close(r);
        return st;
    }
    *out = r;
    return TS_OK;
}

const ts_mix_plan *ts_mix_reader_header(const ts_mix_reader *r) { return &r->head; }

ts_status ts_mix_reader_next(ts_mix_reader *r, ts_mix_item *item, ts_error *err) {
    if (r->next == r->head.total) {
        if (ts_hasher_digest(r->hasher) != r->footer_hash)
            return ts_fail(err, TS_ECHECKSUM, "%s: checksum mismatch (corrupt plan file)", r->path);
        return TS_ENOTFOUND;
    }
    if (r->used == r->buffered) {
        uint64_t left = r->head.total - r->next;
        size_t n = left < READ_ENTRIES ? (size_t)left : READ_ENTRIES;
        ts_status st = read_exact(r, r->buf, n * ENTRY_BYTES, "entries", err);
        if (st) return st;
        ts_hasher_update(r->hasher, r->buf, n * ENTRY_BYTES);
        r->buffered = n;
        r->used = 0;
    }
    const uint8_t *b = r->buf + r->used * ENTRY_BYTES;
    item->source = ts_get_u32le(b);
    item->epoch = ts_get_u32le(b + 4);
    item->record = ts_get_u64le(b + 8);
    const ts_mix_source_plan *s = item->source < r->head.n_sources ? &r->head.src[item->source] : NULL;
    if (!s || item->epoch >= s->epochs || item->record >= s->available)
        return ts_fail(err, TS_EFORMAT, "%s: entry %llu out of range", r->path, (unsigned long long)r->next);
    r->used++;
    r->next++;
    return TS_OK;
}

void ts_mix_reader_close(ts_mix_reader *r) {
    if (!r) return;
    if (r->f) fclose(r->f);
    ts_hasher_free(r->hasher);
    free(r->head.src);
    free(r->path);
    free(r);
}
