/* A keyed permutation of [0, n): a Feistel network over b bits (the
 * smallest b >= 2 with 2^b >= n), split into hi = b/2 high bits and
 * lo = b - hi low bits, whose TS_PERM_ROUNDS rounds alternately XOR a keyed
 * hash of one half into the other (even rounds change hi, odd rounds lo);
 * each round is its own inverse, so the network is a bijection on [0, 2^b).
 * Cycle walking (apply the network again until the value falls below n)
 * keeps it a bijection on [0, n); since 2^b < 2n, a value walks fewer than
 * 2 steps on average. */
#include "mix.h"

static inline uint64_t mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z;
}

void ts_perm_init(ts_perm *p, uint64_t n, uint64_t key) {
    p->n = n;
    unsigned bits = 2;
    while (bits < 64 && (n - 1) >> bits) bits++; /* n <= 2^bits; n = 0 and 1 need no walking */
    unsigned hi = bits / 2;
    p->lo_bits = bits - hi;
    p->lo_mask = (1ULL << p->lo_bits) - 1;
    p->hi_mask = (1ULL << hi) - 1;
    uint64_t k = key;
    for (int r = 0; r < TS_PERM_ROUNDS; r++) {
        k = mix64(k + 0x9e3779b97f4a7c15ULL);
        p->round_key[r] = k;
    }
}

static inline uint64_t feistel(const ts_perm *p, uint64_t x) {
    uint64_t hi = x >> p->lo_bits, lo = x & p->lo_mask;
    for (int i = 0; i < TS_PERM_ROUNDS; i += 2) {
        hi ^= mix64(lo ^ p->round_key[i]) & p->hi_mask;
        lo ^= mix64(hi ^ p->round_key[i + 1]) & p->lo_mask;
    }
    return (hi << p->lo_bits) | lo;
}

uint64_t ts_perm_apply(const ts_perm *p, uint64_t x) {
    if (p->n <= 1) return x;
    do x = feistel(p, x);
    while (x >= p->n);
    return x;
}
