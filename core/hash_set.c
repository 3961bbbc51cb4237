#include "hash_set.h"

#include <stdlib.h>
#include <string.h>

/* The all-zero hash marks an empty slot; a real zero hash is stored as 1. */
static ts_hash128 stored(ts_hash128 h) {
    if (!h.hi && !h.lo) h.lo = 1;
    return h;
}

static int empty(ts_hash128 h) { return !h.hi && !h.lo; }

static size_t probe(const ts_hash128 *slots, size_t cap, ts_hash128 h) {
    size_t j = (size_t)(h.lo ^ h.hi) & (cap - 1);
    while (!empty(slots[j]) && !ts_hash128_equal(slots[j], h)) j = (j + 1) & (cap - 1);
    return j;
}

static int grow(ts_hash_set *set) {
    size_t cap = set->cap ? set->cap * 2 : 1024;
    ts_hash128 *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < set->cap; i++)
        if (!empty(set->slots[i])) slots[probe(slots, cap, set->slots[i])] = set->slots[i];
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

int ts_hash_set_insert(ts_hash_set *set, ts_hash128 h) {
    h = stored(h);
    if ((set->used + 1) * 10 >= set->cap * 7 && grow(set) != 0) return -1;
    size_t j = probe(set->slots, set->cap, h);
    if (!empty(set->slots[j])) return 0;
    set->slots[j] = h;
    set->used++;
    return 1;
}

int ts_hash_set_contains(const ts_hash_set *set, ts_hash128 h) {
    if (!set->cap) return 0;
    return !empty(set->slots[probe(set->slots, set->cap, stored(h))]);
}

void ts_hash_set_free(ts_hash_set *set) {
    free(set->slots);
    memset(set, 0, sizeof *set);
}
