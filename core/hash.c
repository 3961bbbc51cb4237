#include "hash.h"

#include <stdio.h>
#include <xxhash.h>

uint64_t ts_xxh3_64(const void *data, size_t len) { return XXH3_64bits(data, len); }

ts_hash128 ts_xxh3_128(const void *data, size_t len) {
    XXH128_hash_t h = XXH3_128bits(data, len);
    return (ts_hash128){h.high64, h.low64};
}

void ts_hash128_hex(ts_hash128 h, char out[33]) {
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.hi, (unsigned long long)h.lo);
}

void ts_hash64_hex(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

int ts_hash128_equal(ts_hash128 a, ts_hash128 b) { return a.hi == b.hi && a.lo == b.lo; }

/* ts_hasher is XXH3_state_t behind an opaque name, so callers need no xxhash.h. */
ts_hasher *ts_hasher_new(void) {
    XXH3_state_t *s = XXH3_createState();
    if (!s) return NULL;
    XXH3_64bits_reset(s);
    return (ts_hasher *)s;
}

void ts_hasher_update(ts_hasher *h, const void *data, size_t len) {
    XXH3_64bits_update((XXH3_state_t *)h, data, len);
}

uint64_t ts_hasher_digest(const ts_hasher *h) { return XXH3_64bits_digest((const XXH3_state_t *)h); }

void ts_hasher_free(ts_hasher *h) { XXH3_freeState((XXH3_state_t *)h); }
