/* The InternVL / NVLM grid rule (`dynamic_preprocess` +
 * `find_closest_aspect_ratio`), reproduced exactly, including the order of
 * candidates with equal products.
 *
 * InternVL builds the candidates as a Python set of (i, j) tuples and sorts
 * them by i*j with a stable sort, so among equal products the order is the
 * set's iteration order. That order is deterministic in CPython (hashes of
 * small-int tuples do not depend on PYTHONHASHSEED), and it matters on exact
 * ties between two candidates of the same product, which only happen when
 * min_tiles > 1 (with min_tiles == 1 a candidate of smaller product is always
 * strictly closer; see docs/TILING.md). We emulate CPython 3.11's tuple hash
 * and set table (insertion, probing, resizing) to get that order. */
#include <stdint.h>
#include <stdlib.h>

#include "tiler.h"

/* CPython >= 3.8 tuplehash (an xxHash variant) of (i, j); hash(int) == int. */
static uint64_t py_tuple2_hash(int64_t i, int64_t j) {
    const uint64_t p1 = 11400714785074694791ull, p2 = 14029467366897019727ull,
                   p5 = 2870177450012600261ull;
    uint64_t acc = p5;
    int64_t items[2] = {i, j};
    for (int k = 0; k < 2; k++) {
        acc += (uint64_t)items[k] * p2;
        acc = (acc << 31) | (acc >> 33);
        acc *= p1;
    }
    acc += 2ull ^ (p5 ^ 3527539ull);
    if (acc == UINT64_MAX) return 1546275796ull;
    return acc;
}

typedef struct py_set_entry {
    int used;
    int i, j;
    uint64_t hash;
} py_set_entry;

typedef struct py_set {
    py_set_entry *table;
    size_t mask;
    size_t fill;
} py_set;

enum { PY_LINEAR_PROBES = 9, PY_PERTURB_SHIFT = 5, PY_SET_MINSIZE = 8 };

/* setobject.c set_insert_clean: the slot for a key known to be absent. */
static py_set_entry *py_set_free_slot(py_set_entry *table, size_t mask, uint64_t hash) {
    size_t perturb = hash, i = hash & mask;
    for (;;) {
        py_set_entry *e = &table[i];
        if (!e->used) return e;
        if (i + PY_LINEAR_PROBES <= mask) {
            for (int k = 0; k < PY_LINEAR_PROBES; k++) {
                e++;
                if (!e->used) return e;
            }
        }
        perturb >>= PY_PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

static int py_set_resize(py_set *s, size_t minused) {
    size_t newsize = PY_SET_MINSIZE;
    while (newsize <= minused) newsize <<= 1;
    py_set_entry *nt = calloc(newsize, sizeof *nt);
    if (!nt) return -1;
    for (size_t k = 0; k <= s->mask; k++)
        if (s->table[k].used) *py_set_free_slot(nt, newsize - 1, s->table[k].hash) = s->table[k];
    free(s->table);
    s->table = nt;
    s->mask = newsize - 1;
    return 0;
}

/* setobject.c set_add_entry (no deletions happen, so no dummies). */
static int py_set_add(py_set *s, int i, int j) {
    uint64_t hash = py_tuple2_hash(i, j);
    size_t perturb = hash, idx = hash & s->mask;
    py_set_entry *e;
    for (;;) {
        e = &s->table[idx];
        int probes = idx + PY_LINEAR_PROBES <= s->mask ? PY_LINEAR_PROBES : 0;
        do {
            if (!e->used) goto found_unused;
            if (e->hash == hash && e->i == i && e->j == j) return 0;
            e++;
        } while (probes--);
        perturb >>= PY_PERTURB_SHIFT;
        idx = (idx * 5 + 1 + perturb) & s->mask;
    }
found_unused:
    e->used = 1;
    e->i = i;
    e->j = j;
    e->hash = hash;
    s->fill++;
    if (s->fill * 5 < s->mask * 3) return 0;
    return py_set_resize(s, s->fill > 50000 ? s->fill * 2 : s->fill * 4);
}

int ts_tiler_candidates(int min_tiles, int max_tiles, ts_grid *out, int cap) {
    if (min_tiles < 1 || max_tiles < min_tiles || max_tiles > TS_MAX_TILES_LIMIT) return -1;
    py_set s = {calloc(PY_SET_MINSIZE, sizeof(py_set_entry)), PY_SET_MINSIZE - 1, 0};
    if (!s.table) return -1;
    for (int n = min_tiles; n <= max_tiles; n++)
        for (int i = 1; i <= n; i++)
            for (int j = 1; j <= n; j++)
                if (i * j >= min_tiles && i * j <= max_tiles && py_set_add(&s, i, j) != 0) {
                    free(s.table);
                    return -1;
                }
    /* Iteration order, then a stable sort by product (counting by product). */
    int count = 0;
    for (int p = min_tiles; p <= max_tiles; p++)
        for (size_t k = 0; k <= s.mask; k++)
            if (s.table[k].used && s.table[k].i * s.table[k].j == p) {
                if (count < cap) out[count] = (ts_grid){s.table[k].i, s.table[k].j};
                count++;
            }
    free(s.table);
    return count;
}

ts_grid ts_tiler_grid(int width, int height, int min_tiles, int max_tiles, int tile_size) {
    ts_grid invalid = {0, 0};
    if (width < 1 || height < 1 || tile_size < 1) return invalid;
    ts_grid cand[TS_TILER_MAX_CANDIDATES];
    int n = ts_tiler_candidates(min_tiles, max_tiles, cand, TS_TILER_MAX_CANDIDATES);
    if (n < 1 || n > TS_TILER_MAX_CANDIDATES) return invalid;

    double aspect = (double)width / (double)height;
    double best_diff = __builtin_inf();
    ts_grid best = {1, 1};
    /* area > 0.5 * tile^2 * c * r, compared exactly (Python compares int and
     * float exactly): 2 * area > tile^2 * c * r. */
    unsigned __int128 area2 = (unsigned __int128)2 * (uint64_t)width * (uint64_t)height;
    unsigned __int128 tile2 = (unsigned __int128)(uint64_t)tile_size * (uint64_t)tile_size;
    for (int k = 0; k < n; k++) {
        double diff = __builtin_fabs(aspect - (double)cand[k].cols / (double)cand[k].rows);
        if (diff < best_diff) {
            best_diff = diff;
            best = cand[k];
        } else if (diff == best_diff) {
            if (area2 > tile2 * (unsigned)(cand[k].cols * cand[k].rows)) best = cand[k];
        }
    }
    return best;
}
