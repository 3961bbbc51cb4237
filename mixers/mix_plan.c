/* Mix planning: target counts per source (exact integer arithmetic), epochs,
 * and the item at an output position. The rules are in docs/MIXING.md. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "mix.h"

typedef unsigned __int128 u128;

ts_status ts_mix_apportion(uint64_t total, const uint64_t *units, size_t n, uint64_t *out, ts_error *err) {
    u128 sum = 0;
    for (size_t i = 0; i < n; i++) sum += units[i];
    if (n == 0 || sum == 0) return ts_fail(err, TS_EINVAL, "nothing to apportion over (all weights zero)");
    uint64_t given = 0;
    u128 *rem = malloc(n * sizeof *rem);
    if (!rem) return ts_fail(err, TS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        u128 q = (u128)total * units[i];
        out[i] = (uint64_t)(q / sum);
        rem[i] = q % sum;
        given += out[i];
    }
    /* total - given < n: hand one each to the largest remainders, lowest index on ties.
     * n is the number of sources (small), so repeated selection is fine. */
    for (uint64_t left = total - given; left > 0; left--) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (units[i] && rem[i] != (u128)-1 && (best == n || rem[i] > rem[best])) best = i;
        out[best]++;
        rem[best] = (u128)-1; /* taken */
    }
    free(rem);
    return TS_OK;
}

/* round(a * b / c), halves up; c > 0. */
static uint64_t mul_div_round(uint64_t a, uint64_t b, uint64_t c) {
    u128 q = ((u128)a * b + c / 2) / c;
    return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

/* The cap of a weighted source in the global target's unit. */
static uint64_t cap_of(const ts_mix_want *w, ts_mix_amount unit) {
    if (!w->max_epochs) return UINT64_MAX;
    u128 c = (u128)w->max_epochs * (unit == TS_MIX_TOKENS ? w->tokens : w->available);
    return c > UINT64_MAX ? UINT64_MAX : (uint64_t)c;
}

static ts_status check_wants(const ts_mix_want *wants, size_t n, ts_mix_amount target_kind, ts_error *err) {
    if (n == 0) return ts_fail(err, TS_EINVAL, "a mix needs at least one source");
    if (n > UINT32_MAX) return ts_fail(err, TS_ELIMIT, "too many sources");
    for (size_t i = 0; i < n; i++) {
        const ts_mix_want *w = &wants[i];
        size_t len = w->name ? strlen(w->name) : 0;
        if (len == 0 || len > TS_MIX_NAME_MAX) return ts_fail(err, TS_EINVAL, "source %zu: bad name", i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(wants[j].name, w->name)) return ts_fail(err, TS_EINVAL, "source %s: listed twice", w->name);
        if (w->available == 0) return ts_fail(err, TS_EINVAL, "source %s: no samples available", w->name);
        switch (w->amount) {
        case TS_MIX_WEIGHT:
            if (!w->weight_units) return ts_fail(err, TS_EINVAL, "source %s: weight must be > 0", w->name);
            if (target_kind == TS_MIX_NONE)
                return ts_fail(err, TS_EINVAL, "source %s: a weight needs the recipe's target", w->name);
            if (target_kind == TS_MIX_TOKENS && !w->tokens)
                return ts_fail(err, TS_EINVAL, "source %s: a token target needs the source's token count", w->name);
            break;
        case TS_MIX_TOKENS:
            if (!w->tokens) return ts_fail(err, TS_EINVAL, "source %s: a token target needs its token count", w->name);
            break;
        case TS_MIX_SAMPLES:
            if (target_kind == TS_MIX_TOKENS && !w->tokens)
                return ts_fail(err, TS_EINVAL, "source %s: a token target needs the source's token count", w->name);
            break;
        default: return ts_fail(err, TS_EINVAL, "source %s: no amount", w->name);
        }
    }
    return TS_OK;
}

/* Fixed (sample/token) targets: samples, and their cost in the global unit. */
static ts_status fixed_targets(const ts_mix_want *wants, size_t n, ts_mix_amount unit, uint64_t *samples,
                               uint64_t *cost, ts_error *err) {
    *cost = 0;
    for (size_t i = 0; i < n; i++) {
        const ts_mix_want *w = &wants[i];
        if (w->amount == TS_MIX_WEIGHT) continue;
        uint64_t s = w->amount == TS_MIX_SAMPLES ? w->target : mul_div_round(w->target, w->available, w->tokens);
        if (w->max_epochs && (u128)s > (u128)w->max_epochs * w->available)
            return ts_fail(err, TS_EINVAL, "source %s: target %llu samples exceeds max_epochs %u x %llu available",
                           w->name, (unsigned long long)s, w->max_epochs, (unsigned long long)w->available);
        samples[i] = s;
        uint64_t c = unit == TS_MIX_TOKENS ? mul_div_round(s, w->tokens, w->available) : s;
        if (*cost > UINT64_MAX - c) return ts_fail(err, TS_ELIMIT, "targets overflow");
        *cost += c;
    }
    return TS_OK;
}

/* Water-filling: apportion `budget` over the weighted sources; a source whose
 * share exceeds its cap gets the cap and leaves; repeat with the rest. */
static ts_status weighted_targets(const ts_mix_want *wants, size_t n, ts_mix_amount unit, uint64_t budget,
                                  uint64_t *samples, int *capped, ts_error *err) {
    uint64_t *units = calloc(n, sizeof *units), *share = calloc(n, sizeof *share);
    ts_status st = (!units || !share) ? ts_fail(err, TS_ENOMEM, "out of memory") : TS_OK;
    int active = 0;
    for (size_t i = 0; i < n && !st; i++)
        if (wants[i].amount == TS_MIX_WEIGHT) units[i] = wants[i].weight_units, active++;
    while (!st && active > 0) {
        if ((st = ts_mix_apportion(budget, units, n, share, err))) break;
        int changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (!units[i] || share[i] <= cap_of(&wants[i], unit)) continue;
            share[i] = cap_of(&wants[i], unit);
            budget -= share[i];
            units[i] = 0;
            capped[i] = 1;
            samples[i] = unit == TS_MIX_TOKENS ? (uint64_t)wants[i].max_epochs * wants[i].available : share[i];
            active--;
            changed = 1;
        }
        if (changed) continue;
        for (size_t i = 0; i < n; i++)
            if (units[i])
                samples[i] = unit == TS_MIX_TOKENS ? mul_div_round(share[i], wants[i].available, wants[i].tokens)
                                                   : share[i];
        break;
    }
    free(units);
    free(share);
    return st;
}

ts_status ts_mix_plan_make(const ts_mix_want *wants, size_t n, ts_mix_amount target_kind, uint64_t target,
                           uint64_t seed, ts_mix_plan *out, ts_error *err) {
    memset(out, 0, sizeof *out);
    if (target_kind != TS_MIX_NONE && target_kind != TS_MIX_SAMPLES && target_kind != TS_MIX_TOKENS)
        return ts_fail(err, TS_EINVAL, "the global target is samples or tokens");
    ts_status st = check_wants(wants, n, target_kind, err);
    if (st) return st;
    uint64_t *samples = calloc(n, sizeof *samples);
    int *capped = calloc(n, sizeof *capped);
    out->src = calloc(n, sizeof *out->src);
    if (!samples || !capped || !out->src) st = ts_fail(err, TS_ENOMEM, "out of memory");
    uint64_t fixed_cost = 0;
    if (!st) st = fixed_targets(wants, n, target_kind, samples, &fixed_cost, err);
    if (!st && target_kind != TS_MIX_NONE && fixed_cost > target)
        st = ts_fail(err, TS_EINVAL, "fixed source targets (%llu) exceed the recipe's target (%llu)",
                     (unsigned long long)fixed_cost, (unsigned long long)target);
    if (!st) st = weighted_targets(wants, n, target_kind, target - fixed_cost, samples, capped, err);
    uint64_t total = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const ts_mix_want *w = &wants[i];
        ts_mix_source_plan *s = &out->src[i];
        memcpy(s->name, w->name, strlen(w->name) + 1);
        s->available = w->available;
        s->tokens = w->tokens;
        s->target = samples[i];
        s->full_epochs = samples[i] / w->available;
        s->partial = samples[i] % w->available;
        if (s->full_epochs + (s->partial > 0) > UINT32_MAX) {
            st = ts_fail(err, TS_ELIMIT, "source %s: more than 2^32 epochs", w->name);
            break;
        }
        s->epochs = (uint32_t)(s->full_epochs + (s->partial > 0));
        s->capped = capped[i];
        s->offset = total;
        if (s->target > (1ULL << 62) - total) st = ts_fail(err, TS_ELIMIT, "the mix has more than 2^62 items");
        total += s->target;
        /* The record permutation depends on the seed and the name only, so
         * adding, removing or reordering other sources leaves it unchanged. */
        ts_perm_init(&s->records, w->available, ts_xxh3_64(w->name, strlen(w->name)) ^ (seed * 0x9e3779b97f4a7c15ULL));
    }
    free(samples);
    free(capped);
    if (st) {
        ts_mix_plan_free(out);
        return st;
    }
    out->n_sources = n;
    out->total = total;
    out->seed = seed;
    out->target_kind = target_kind;
    out->target = target_kind == TS_MIX_NONE ? 0 : target;
    ts_perm_init(&out->order, total, seed ^ 0x6a09e667f3bcc909ULL);
    return TS_OK;
}

void ts_mix_plan_free(ts_mix_plan *p) {
    free(p->src);
    memset(p, 0, sizeof *p);
}

void ts_mix_item_at(const ts_mix_plan *p, uint64_t pos, ts_mix_item *out) {
    uint64_t g = ts_perm_apply(&p->order, pos);
    /* The last source whose offset is <= g holds g: an empty source shares
     * its offset with the next one, so it is never the last such source. */
    size_t lo = 0, hi = p->n_sources;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->src[mid].offset <= g) lo = mid;
        else hi = mid;
    }
    const ts_mix_source_plan *s = &p->src[lo];
    uint64_t j = g - s->offset;
    out->source = (uint32_t)lo;
    out->epoch = (uint32_t)(j / s->available);
    out->record = ts_perm_apply(&s->records, j % s->available);
}
