/* A fixed thread pool that runs index-addressed batches.
 *
 * Determinism is by construction: work item i always writes result slot i, and
 * the caller consumes slots in index order after ts_pool_run() returns. Stages
 * stream by reading a bounded batch, mapping it in parallel, and writing it out
 * in order, so output bytes never depend on the thread count. */
#ifndef TS_CORE_POOL_H
#define TS_CORE_POOL_H

#include <stddef.h>

typedef struct ts_pool ts_pool;

/* Called once per item; `worker` is in [0, nthreads) so callers can keep
 * per-thread scratch buffers. */
typedef void (*ts_pool_fn)(void *ctx, size_t index, int worker);

/* nthreads <= 0 means the number of online CPUs. Returns NULL on failure. */
ts_pool *ts_pool_new(int nthreads);
int ts_pool_threads(const ts_pool *pool);
/* Run fn(ctx, i, worker) for i in [0, n); returns when all are done.
 * The calling thread takes part as worker 0. Not re-entrant. */
void ts_pool_run(ts_pool *pool, size_t n, ts_pool_fn fn, void *ctx);
void ts_pool_free(ts_pool *pool);

/* Number of online CPUs (at least 1). */
int ts_cpu_count(void);

#endif
