/* Deterministic mixing (docs/MIXING.md): per-source target counts from a
 * recipe and the sources' available counts, and the mixed order of every
 * selected (source, epoch, record) item as a seeded permutation computed
 * item by item, in O(number of sources) memory.
 *
 * Counts. Each source asks for a weight (a share of the recipe's target),
 * a sample count or a token count. Shares are apportioned by the largest
 * remainder method in exact integer arithmetic, so they sum to the target
 * exactly; max_epochs caps a weighted source and its excess is re-apportioned
 * among the others (water-filling). A source's target t over its a available
 * records is t / a full epochs and a partial last epoch of t % a records.
 *
 * Items. Source s's items are j = 0 .. t_s-1: item j is epoch j / a_s, record
 * pi_s(j % a_s), where pi_s is a keyed permutation of [0, a_s) whose key comes
 * from the seed and the source's name. Every full epoch thus covers each
 * record once and the partial epoch takes the first (t % a) records of pi_s:
 * growing the target adds records to it and never swaps any out.
 *
 * Order. The items of all sources are numbered globally (source order, then
 * j); the output position p holds the item P(p), P a keyed permutation of
 * [0, total) (a Feistel network with cycle walking). Same plan, same order,
 * on any machine and any thread count. */
#ifndef TS_MIXERS_MIX_H
#define TS_MIXERS_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/hash.h"

/* ---- keyed permutation of [0, n) ---- */

#define TS_PERM_ROUNDS 6

typedef struct ts_perm {
    uint64_t n;
    unsigned lo_bits;            /* the network permutes [0, 2^bits) >= n: */
    uint64_t lo_mask, hi_mask;   /* hi = bits / 2 high bits, lo = the rest */
    uint64_t round_key[TS_PERM_ROUNDS];
} ts_perm;

void ts_perm_init(ts_perm *p, uint64_t n, uint64_t key);
/* The image of x (x < n) under the permutation; cycle walking keeps it < n. */
uint64_t ts_perm_apply(const ts_perm *p, uint64_t x);

/* ---- apportionment ---- */

/* Split `total` over n parts in proportion to units[] (not all zero):
 * out[i] = floor(total * units[i] / U) plus one for the parts with the largest
 * remainders (ties: lower index first), so sum(out) == total exactly. */
ts_status ts_mix_apportion(uint64_t total, const uint64_t *units, size_t n, uint64_t *out, ts_error *err);

/* ---- planning ---- */

typedef enum ts_mix_amount {
    TS_MIX_NONE = 0, /* (global target only) no target */
    TS_MIX_WEIGHT,   /* a share of the global target */
    TS_MIX_SAMPLES,  /* a number of samples */
    TS_MIX_TOKENS,   /* a number of tokens, via the source's mean tokens per sample */
} ts_mix_amount;

/* Weights are fixed-point: units = llround(weight * TS_MIX_WEIGHT_SCALE). */
#define TS_MIX_WEIGHT_SCALE 1000000000.0

typedef struct ts_mix_want {
    const char *name;        /* [A-Za-z0-9_-]{1,63}, unique in the plan */
    ts_mix_amount amount;    /* WEIGHT, SAMPLES or TOKENS */
    uint64_t weight_units;   /* WEIGHT */
    uint64_t target;         /* SAMPLES / TOKENS */
    uint32_t max_epochs;     /* 0: no limit */
    uint64_t available;      /* samples the source has */
    uint64_t tokens;         /* tokens in those samples; 0 = unknown */
} ts_mix_want;

#define TS_MIX_NAME_MAX 63

typedef struct ts_mix_source_plan {
    char name[TS_MIX_NAME_MAX + 1];
    uint64_t available, tokens; /* as given */
    uint64_t target;            /* items of this source in the mix */
    uint64_t full_epochs;       /* target / available */
    uint64_t partial;           /* target % available: records of the last, partial epoch */
    uint32_t epochs;            /* epochs touched: full_epochs + (partial > 0) */
    int capped;                 /* weighted share cut by max_epochs */
    uint64_t offset;            /* first global item index of this source */
    ts_perm records;            /* pi_s over [0, available) */
} ts_mix_source_plan;

typedef struct ts_mix_plan {
    size_t n_sources;
    ts_mix_source_plan *src;
    uint64_t total;             /* items in the mix: sum of targets */
    uint64_t seed;
    ts_mix_amount target_kind;  /* NONE, SAMPLES or TOKENS */
    uint64_t target;            /* as requested (0 with NONE) */
    ts_hash128 recipe_hash;     /* recorded in plan files; zero when not from a recipe */
    ts_perm order;              /* P over [0, total) */
} ts_mix_plan;

/* Compute the plan. target_kind/target: the global target (required when a
 * source asks for a weight). Errors name the source. */
ts_status ts_mix_plan_make(const ts_mix_want *wants, size_t n, ts_mix_amount target_kind, uint64_t target,
                           uint64_t seed, ts_mix_plan *out, ts_error *err);
void ts_mix_plan_free(ts_mix_plan *p);

typedef struct ts_mix_item {
    uint32_t source; /* index into the plan's sources */
    uint32_t epoch;
    uint64_t record; /* ordinal of the record within its source */
} ts_mix_item;

/* The item at output position `pos` (< total). O(log n_sources). */
void ts_mix_item_at(const ts_mix_plan *p, uint64_t pos, ts_mix_item *out);

/* ---- plan files (.tsmix, layout in docs/MIXING.md) ---- */

/* Write the whole order to `path` atomically, computing it in batches on
 * `threads` threads (<= 0: all CPUs); the bytes do not depend on threads. */
ts_status ts_mix_plan_write(const ts_mix_plan *p, const char *path, int threads, ts_error *err);

/* Streaming reader: holds the header and a fixed-size buffer, never the
 * order. The footer checksum is verified when the last entry has been read
 * (ts_mix_reader_next then returns TS_ECHECKSUM instead of TS_ENOTFOUND when
 * it does not match). */
typedef struct ts_mix_reader ts_mix_reader;
ts_status ts_mix_reader_open(const char *path, ts_mix_reader **out, ts_error *err);
/* The header: sources (name, available, tokens, target, epochs, capped;
 * offset and records are not stored, and are zero), totals, seed, hash. */
const ts_mix_plan *ts_mix_reader_header(const ts_mix_reader *r);
/* TS_OK with the next item; TS_ENOTFOUND after the last one. */
ts_status ts_mix_reader_next(ts_mix_reader *r, ts_mix_item *item, ts_error *err);
void ts_mix_reader_close(ts_mix_reader *r);

#endif
