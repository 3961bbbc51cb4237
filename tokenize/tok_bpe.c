/* BPE merges of one pre-token, the per-thread scratch and its piece cache.
 *
 * Order of merges is HF's: the adjacent pair with the lowest merge rank
 * first, the leftmost one on ties. Short words use a rank array rescanned per
 * merge (fast for the usual < 20 bytes); long words a binary heap of
 * (rank, position) over a linked list, O(n log n) even for a 1 MB word. */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tok_internal.h"

#define BPE_SHORT 64
#define NO_RANK UINT32_MAX

ts_status ts_ids_push(ts_ids *ids, int32_t id, ts_error *err) {
    if (ids->len == ids->cap) {
        size_t nc = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, nc * sizeof *v);
        if (!v) return ts_fail(err, TS_ENOMEM, "out of memory for %zu token ids", nc);
        ids->v = v;
        ids->cap = nc;
    }
    ids->v[ids->len++] = id;
    return TS_OK;
}

ts_status ts_ids_append(ts_ids *ids, const int32_t *v, size_t n, ts_error *err) {
    if (ids->cap - ids->len < n) {
        size_t nc = ids->cap ? ids->cap : 64;
        while (nc - ids->len < n) nc *= 2;
        int32_t *nv = realloc(ids->v, nc * sizeof *nv);
        if (!nv) return ts_fail(err, TS_ENOMEM, "out of memory for %zu token ids", nc);
        ids->v = nv;
        ids->cap = nc;
    }
    if (n) memcpy(ids->v + ids->len, v, n * sizeof *v);
    ids->len += n;
    return TS_OK;
}

void ts_ids_free(ts_ids *ids) {
    free(ids->v);
    ids->v = NULL;
    ids->len = ids->cap = 0;
}

/* Rank and result of merging (a, b); NO_RANK when no such merge. */
static inline uint32_t merge_rank(const ts_merge_map *m, int32_t a, int32_t b, int32_t *new_id) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = ts_merge_hash(key) & m->mask;
    for (;;) {
        const ts_merge_entry *e = &m->e[i];
        if (e->key == key) {
            *new_id = e->new_id;
            return e->rank;
        }
        if (!e->key) return NO_RANK;
        i = (i + 1) & m->mask;
    }
}

ts_tok_scratch *ts_tok_scratch_new(const ts_tokenizer *tok) {
    ts_tok_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->serial = tok->serial;
    s->cache = calloc(TS_TOK_CACHE_SLOTS, sizeof *s->cache);
    if (!s->cache) {
        free(s);
        return NULL;
    }
    return s;
}

void ts_tok_scratch_free(ts_tok_scratch *s) {
    if (!s) return;
    free(s->cache);
    ts_buf_free(&s->text);
    ts_buf_free(&s->norm);
    free(s->sym);
    free(s->prev);
    free(s->next);
    free(s->heap);
    free(s);
}

static ts_status bpe_short(const ts_tokenizer *tok, const uint8_t *s, size_t n, ts_ids *out,
                           ts_error *err) {
    int32_t sym[BPE_SHORT], nid[BPE_SHORT] = {0};
    uint32_t rank[BPE_SHORT];
    for (size_t i = 0; i < n; i++) sym[i] = tok->byte_id[s[i]];
    size_t m = n;
    for (size_t i = 0; i + 1 < m; i++) rank[i] = merge_rank(&tok->merges, sym[i], sym[i + 1], &nid[i]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == NO_RANK) break;
        sym[best] = nid[best];
        /* drop symbol best+1 and the pair (best+1, best+2) */
        memmove(sym + best + 1, sym + best + 2, (m - best - 2) * sizeof *sym);
        if (best + 3 <= m) {
            memmove(rank + best + 1, rank + best + 2, (m - best - 3) * sizeof *rank);
            memmove(nid + best + 1, nid + best + 2, (m - best - 3) * sizeof *nid);
        }
        m--;
        if (best > 0) rank[best - 1] = merge_rank(&tok->merges, sym[best - 1], sym[best], &nid[best - 1]);
        if (best + 1 < m) rank[best] = merge_rank(&tok->merges, sym[best], sym[best + 1], &nid[best]);
    }
    return ts_ids_append(out, sym, m, err);
}

static int grow_long(ts_tok_scratch *sc, size_t n) {
    if (sc->cap < n) {
        int32_t *a = realloc(sc->sym, n * sizeof *a), *b = NULL, *c = NULL;
        if (a) sc->sym = a;
        if (a) b = realloc(sc->prev, n * sizeof *b);
        if (b) sc->prev = b;
        if (b) c = realloc(sc->next, n * sizeof *c);
        if (c) sc->next = c;
        if (!c) return -1;
        sc->cap = n;
    }
    if (sc->heap_cap < n) {
        uint64_t *h = realloc(sc->heap, n * sizeof *h);
        if (!h) return -1;
        sc->heap = h;
        sc->heap_cap = n;
    }
    return 0;
}

static void heap_push(uint64_t *h, size_t *len, uint64_t v) {
    size_t i = (*len)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *len) {
    uint64_t top = h[0], v = h[--*len];
    size_t i = 0, n = *len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = v;
    return top;
}

/* Heap entries are rank << 32 | position: popping the minimum gives the
 * lowest rank, leftmost first. An entry is stale when the pair now at that
 * position has another rank (a rank names exactly one pair). */
static ts_status bpe_long(const ts_tokenizer *tok, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                          ts_ids *out, ts_error *err) {
    if (n > UINT32_MAX) return ts_fail(err, TS_ELIMIT, "pre-token of %zu bytes is too long", n);
    if (grow_long(sc, n)) return ts_fail(err, TS_ENOMEM, "out of memory for a %zu-byte word", n);
    int32_t *sym = sc->sym, *prev = sc->prev, *next = sc->next;
    uint64_t *heap = sc->heap;
    size_t hl = 0;
    for (size_t i = 0; i < n; i++) {
        sym[i] = tok->byte_id[s[i]];
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t nid = -1;
        uint32_t r = merge_rank(&tok->merges, sym[i], sym[i + 1], &nid);
        if (r != NO_RANK) heap_push(heap, &hl, (uint64_t)r << 32 | i);
    }
    while (hl) {
        uint64_t top = heap_pop(heap, &hl);
        uint32_t r = (uint32_t)(top >> 32);
        int32_t i = (int32_t)(uint32_t)top, j;
        if (sym[i] < 0 || (j = next[i]) < 0) continue;
        int32_t nid = -1;
        if (merge_rank(&tok->merges, sym[i], sym[j], &nid) != r) continue;
        sym[i] = nid;
        sym[j] = -1;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        if (prev[i] >= 0) {
            uint32_t pr = merge_rank(&tok->merges, sym[prev[i]], nid, &nid);
            if (pr != NO_RANK) heap_push(heap, &hl, (uint64_t)pr << 32 | (uint32_t)prev[i]);
        }
        if (next[i] >= 0) {
            uint32_t nr = merge_rank(&tok->merges, sym[i], sym[next[i]], &nid);
            if (nr != NO_RANK) heap_push(heap, &hl, (uint64_t)nr << 32 | (uint32_t)i);
        }
    }
    for (int32_t i = 0; i >= 0; i = next[i])
        if (ts_ids_push(out, sym[i], err)) return TS_ENOMEM;
    return TS_OK;
}

/* Hash of a short piece (<= TS_TOK_CACHE_BYTES), inlined: this is the hot path. */
static inline uint64_t piece_hash(const uint8_t *s, size_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 29);
}

ts_status ts_bpe_word(const ts_tokenizer *tok, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                      ts_ids *out, ts_error *err) {
    if (n == 1) return ts_ids_push(out, tok->byte_id[s[0]], err);
    if (tok->ignore_merges) {
        int32_t id = ts_tok_vocab_find(tok, s, n);
        if (id >= 0) return ts_ids_push(out, id, err);
    }
    ts_tok_cache_slot *slot = NULL;
    uint64_t h = 0;
    if (sc && n <= TS_TOK_CACHE_BYTES) {
        h = piece_hash(s, n);
        slot = &sc->cache[h & (TS_TOK_CACHE_SLOTS - 1)];
        if (slot->hash == h && slot->len == n && memcmp(slot->bytes, s, n) == 0) {
            if (out->cap - out->len >= TS_TOK_CACHE_IDS) { /* the common case, without a call */
                memcpy(out->v + out->len, slot->ids, TS_TOK_CACHE_IDS * sizeof(int32_t));
                out->len += slot->nids;
                return TS_OK;
            }
            return ts_ids_append(out, slot->ids, slot->nids, err);
        }
    }
    size_t before = out->len;
    ts_status st;
    if (n <= BPE_SHORT || !sc) {
        if (n <= BPE_SHORT) st = bpe_short(tok, s, n, out, err);
        else {
            ts_tok_scratch *tmp = ts_tok_scratch_new(tok);
            if (!tmp) return ts_fail(err, TS_ENOMEM, "out of memory for BPE scratch");
            st = bpe_long(tok, tmp, s, n, out, err);
            ts_tok_scratch_free(tmp);
        }
    } else {
        st = bpe_long(tok, sc, s, n, out, err);
    }
    if (st) return st;
    size_t k = out->len - before;
    if (slot && k <= TS_TOK_CACHE_IDS) {
        slot->hash = h;
        slot->len = (uint8_t)n;
        slot->nids = (uint8_t)k;
        memcpy(slot->bytes, s, n);
        memcpy(slot->ids, out->v + before, k * sizeof(int32_t));
    }
    return TS_OK;
}
