#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Workers sleep on `wake` between batches. A batch is published by bumping
 * `generation`; items are claimed with an atomic counter so the split of work
 * between threads varies, but the item -> result-slot mapping never does. */
struct ts_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    unsigned long generation;
    int busy_workers;
    int stopping;
    /* current batch */
    ts_pool_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;
};

typedef struct worker_arg {
    ts_pool *pool;
    int id;
} worker_arg;

static void drain(ts_pool *p, int worker) {
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) break;
        p->fn(p->ctx, i, worker);
    }
}

static void *worker_main(void *argp) {
    worker_arg *arg = argp;
    ts_pool *p = arg->pool;
    int id = arg->id;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->generation == seen) pthread_cond_wait(&p->wake, &p->lock);
        if (p->stopping) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        drain(p, id);
        pthread_mutex_lock(&p->lock);
        if (--p->busy_workers == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int ts_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static int start_worker(ts_pool *p, int id) {
    worker_arg *arg = malloc(sizeof *arg);
    if (!arg) return 0;
    arg->pool = p;
    arg->id = id;
    if (pthread_create(&p->threads[id - 1], NULL, worker_main, arg) != 0) {
        free(arg);
        return 0;
    }
    return 1;
}

ts_pool *ts_pool_new(int nthreads) {
    if (nthreads <= 0) nthreads = ts_cpu_count();
    ts_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    p->nthreads = 1;
    if (nthreads > 1) {
        p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
        if (!p->threads) {
            ts_pool_free(p);
            return NULL;
        }
    }
    for (int i = 1; i < nthreads; i++) {
        if (!start_worker(p, i)) {
            ts_pool_free(p); /* joins the workers started so far */
            return NULL;
        }
        p->nthreads = i + 1;
    }
    return p;
}

int ts_pool_threads(const ts_pool *pool) { return pool ? pool->nthreads : 1; }

void ts_pool_run(ts_pool *p, size_t n, ts_pool_fn fn, void *ctx) {
    if (n == 0) return;
    if (!p || p->nthreads == 1 || n == 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->next, 0);
    p->busy_workers = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    drain(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->busy_workers > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void ts_pool_free(ts_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}
