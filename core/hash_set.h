/* A set of 128-bit content hashes (open addressing, linear probing): key
 * uniqueness and exact dedup. 16 bytes per entry at most 70% full; two
 * different inputs collide with odds of about n^2 / 2^129 (1e-23 for 100
 * million entries), so a hash stands for its content. */
#ifndef TS_CORE_HASH_SET_H
#define TS_CORE_HASH_SET_H

#include <stddef.h>

#include "hash.h"

typedef struct ts_hash_set {
    ts_hash128 *slots;
    size_t cap, used;
} ts_hash_set;

#define TS_HASH_SET_INIT {NULL, 0, 0}

/* 1 if inserted, 0 if already present, -1 out of memory. */
int ts_hash_set_insert(ts_hash_set *set, ts_hash128 h);
int ts_hash_set_contains(const ts_hash_set *set, ts_hash128 h);
void ts_hash_set_free(ts_hash_set *set);

#endif
