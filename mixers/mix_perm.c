/* A keyed permutation of [0, n): a balanced Feistel network over 2h bits
 * (4^h >= n, h >= 1) with TS_PERM_ROUNDS rounds, and cycle walking (apply the
 * network again until the value falls below n), which keeps it a bijection
 * on [0, n). Since 4^h < 4n, a value walks fewer than 4 steps on average. */
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
    unsigned h = 1;
    while (h < 32 && (n - 1) >> (2 * h)) h++; /* n <= 4^h; n = 0 and 1 need no walking */
    p->half_bits = h;
    p->half_mask = (h == 32) ? 0xffffffffULL : ((1ULL << h) - 1);
    uint64_t k = key;
    for (int r = 0; r < TS_PERM_ROUNDS; r++) {
        k = mix64(k + 0x9e3779b97f4a7c15ULL);
        p->round_key[r] = k;
    }
}

static inline uint64_t feistel(const ts_perm *p, uint64_t x) {
    uint64_t l = x >> p->half_bits, r = x & p->half_mask;
    for (int i = 0; i < TS_PERM_ROUNDS; i++) {
        uint64_t f = mix64(r ^ p->round_key[i]) & p->half_mask;
        uint64_t t = l ^ f;
        l = r;
        r = t;
    }
    return (l << p->half_bits) | r;
}

uint64_t ts_perm_apply(const ts_perm *p, uint64_t x) {
    if (p->n <= 1) return x;
    do x = feistel(p, x);
    while (x >= p->n);
    return x;
}
