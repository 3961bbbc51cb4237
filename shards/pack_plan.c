/* The bin choice of the packer (pack.h): a Fenwick tree of item counts per
 * length finds the longest item that fits in O(log capacity); items of one
 * length wait in FIFO order, so ties go to the earliest added. */
#include <stdlib.h>

#include "shards/pack.h"

struct ts_binpack {
    uint32_t capacity, window, count, top; /* top: highest power of two <= capacity */
    uint32_t *tree;                 /* Fenwick over lengths 1..capacity */
    uint32_t *head, *tail;          /* per length: FIFO of slots, UINT32_MAX when empty */
    uint32_t *next, *length;        /* per slot */
    uint32_t *sums, *order;         /* per bin of a round: its sum; bins fullest first */
    uint8_t *keep;                  /* per bin of a round */
};

ts_status ts_binpack_new(uint32_t capacity, uint32_t window, ts_binpack **out, ts_error *err) {
    *out = NULL;
    if (!capacity || !window) return ts_fail(err, TS_EINVAL, "bin packing needs a capacity and a window");
    ts_binpack *b = calloc(1, sizeof *b);
    if (!b) return ts_fail(err, TS_ENOMEM, "out of memory");
    b->capacity = capacity;
    b->window = window;
    b->tree = calloc((size_t)capacity + 1, sizeof *b->tree);
    b->head = malloc(((size_t)capacity + 1) * sizeof *b->head);
    b->tail = malloc(((size_t)capacity + 1) * sizeof *b->tail);
    b->next = malloc((size_t)window * sizeof *b->next);
    b->length = malloc((size_t)window * sizeof *b->length);
    b->sums = malloc((size_t)window * sizeof *b->sums);
    b->order = malloc((size_t)window * sizeof *b->order);
    b->keep = malloc(window);
    if (!b->tree || !b->head || !b->tail || !b->next || !b->length || !b->sums || !b->order || !b->keep) {
        ts_binpack_free(b);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i <= capacity; i++) b->head[i] = b->tail[i] = UINT32_MAX;
    for (b->top = 1; b->top <= capacity / 2; b->top <<= 1) {}
    *out = b;
    return TS_OK;
}

static void tree_add(ts_binpack *b, uint32_t len, int delta) {
    for (uint32_t i = len; i <= b->capacity; i += i & -i) b->tree[i] += (uint32_t)delta;
}

static uint32_t prefix(const ts_binpack *b, uint32_t len) {
    uint32_t s = 0;
    for (uint32_t i = len; i; i -= i & -i) s += b->tree[i];
    return s;
}

/* Smallest length whose prefix count reaches k (k >= 1). */
static uint32_t kth(const ts_binpack *b, uint32_t k) {
    uint32_t pos = 0;
    for (uint32_t step = b->top; step; step >>= 1) {
        if (pos + step <= b->capacity && b->tree[pos + step] < k) {
            pos += step;
            k -= b->tree[pos];
        }
    }
    return pos + 1;
}

void ts_binpack_add(ts_binpack *b, uint32_t slot, uint32_t length) {
    b->length[slot] = length;
    b->next[slot] = UINT32_MAX;
    if (b->tail[length] == UINT32_MAX) b->head[length] = slot;
    else b->next[b->tail[length]] = slot;
    b->tail[length] = slot;
    tree_add(b, length, 1);
    b->count++;
}

uint32_t ts_binpack_count(const ts_binpack *b) { return b->count; }

static uint32_t pop(ts_binpack *b, uint32_t length) {
    uint32_t slot = b->head[length];
    b->head[length] = b->next[slot];
    if (b->head[length] == UINT32_MAX) b->tail[length] = UINT32_MAX;
    tree_add(b, length, -1);
    b->count--;
    return slot;
}

/* Longest held length <= room, 0 when none. */
static uint32_t longest_fit(const ts_binpack *b, uint32_t room) {
    if (room > b->capacity) room = b->capacity;
    uint32_t fit = room ? prefix(b, room) : 0;
    return fit ? kth(b, fit) : 0;
}

/* One bin: the longest item, then repeatedly the longest that still fits. */
static uint32_t take_one(ts_binpack *b, uint32_t *out, uint32_t *sum) {
    uint32_t n = 0, room = b->capacity, len;
    while ((len = longest_fit(b, room))) {
        out[n++] = pop(b, len);
        room -= len;
    }
    *sum = b->capacity - room;
    return n;
}

static int fuller_first(const void *a, const void *b, void *ctx) {
    const uint32_t *sums = ctx, x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (sums[x] != sums[y]) return sums[x] > sums[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

uint32_t ts_binpack_round(ts_binpack *b, double min_fill, int drain, uint32_t *slots, uint32_t *ends) {
    uint32_t n_bins = 0, used = 0, *sums = b->sums, *order = b->order;
    while (b->count) { /* every bin the window makes, in order */
        uint32_t sum, k = take_one(b, slots + used, &sum);
        used += k;
        sums[n_bins] = sum;
        ends[n_bins++] = used;
    }
    /* Keep the bins full enough (all when draining). So that every round
     * frees a quarter of the window at least (bounded work per sample), the
     * fullest of the others are kept too until it does. */
    uint32_t min_sum = (uint32_t)(min_fill * b->capacity), quota = b->window / 4 ? b->window / 4 : 1, freed = 0;
    for (uint32_t i = 0; i < n_bins; i++) order[i] = i;
    qsort_r(order, n_bins, sizeof *order, fuller_first, sums);
    for (uint32_t r = 0; r < n_bins; r++) {
        uint32_t i = order[r], size = ends[i] - (i ? ends[i - 1] : 0);
        b->keep[i] = drain || sums[i] >= min_sum || freed < quota;
        if (b->keep[i]) freed += size;
    }
    uint32_t out_bins = 0, out_used = 0;
    for (uint32_t i = 0, start = 0; i < n_bins; start = ends[i++]) {
        if (!b->keep[i]) {
            for (uint32_t j = start; j < ends[i]; j++) ts_binpack_add(b, slots[j], b->length[slots[j]]);
            continue;
        }
        for (uint32_t j = start; j < ends[i]; j++) slots[out_used++] = slots[j];
        ends[out_bins++] = out_used;
    }
    return out_bins;
}

void ts_binpack_free(ts_binpack *b) {
    if (!b) return;
    free(b->tree);
    free(b->head);
    free(b->tail);
    free(b->next);
    free(b->length);
    free(b->sums);
    free(b->order);
    free(b->keep);
    free(b);
}

ts_status ts_binpack_lengths(const uint32_t *lengths, size_t n, uint32_t capacity, uint32_t window, double min_fill,
                             uint64_t *bins, uint64_t *packed_total, uint64_t *over, ts_error *err) {
    *bins = *packed_total = *over = 0;
    ts_binpack *b = NULL;
    ts_status st = ts_binpack_new(capacity, window, &b, err);
    uint32_t *free_slots = NULL, *slots = NULL, *ends = NULL, n_free = window;
    if (!st && (!(free_slots = malloc((size_t)window * sizeof *free_slots)) ||
                !(slots = malloc((size_t)window * sizeof *slots)) || !(ends = malloc((size_t)window * sizeof *ends))))
        st = ts_fail(err, TS_ENOMEM, "out of memory");
    for (uint32_t i = 0; !st && i < window; i++) free_slots[i] = window - 1 - i;
    for (size_t i = 0; !st && i <= n; i++) {
        int end = i == n;
        if (!end && (lengths[i] == 0 || lengths[i] > capacity)) {
            *over += lengths[i] > capacity;
            continue;
        }
        if (end || ts_binpack_count(b) == window) { /* a full window (or the end) forms bins */
            uint32_t k = ts_binpack_round(b, min_fill, end, slots, ends);
            for (uint32_t j = 0; k && j < ends[k - 1]; j++) free_slots[n_free++] = slots[j];
            *bins += k;
        }
        if (!end) {
            ts_binpack_add(b, free_slots[--n_free], lengths[i]);
            *packed_total += lengths[i];
        }
    }
    free(free_slots);
    free(slots);
    free(ends);
    ts_binpack_free(b);
    return st;
}
