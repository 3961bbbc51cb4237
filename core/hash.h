/* Content hashing (xxh3 from libxxhash): the checksums of every output and
 * the content keys of images and texts. */
#ifndef TS_CORE_HASH_H
#define TS_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_hash128 {
    uint64_t hi, lo;
} ts_hash128;

uint64_t ts_xxh3_64(const void *data, size_t len);
ts_hash128 ts_xxh3_128(const void *data, size_t len);

/* 32 lowercase hex digits + NUL, hi first (the canonical XXH128 order). */
void ts_hash128_hex(ts_hash128 h, char out[33]);
/* 16 hex digits + NUL. */
void ts_hash64_hex(uint64_t h, char out[17]);
int ts_hash128_equal(ts_hash128 a, ts_hash128 b);

/* Streaming xxh3-64 for files written in pieces. */
typedef struct ts_hasher ts_hasher;
ts_hasher *ts_hasher_new(void);
void ts_hasher_update(ts_hasher *h, const void *data, size_t len);
uint64_t ts_hasher_digest(const ts_hasher *h);
void ts_hasher_free(ts_hasher *h);

#endif
