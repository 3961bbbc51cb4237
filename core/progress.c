#include "progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int progress_disabled;

struct ts_progress {
    char label[64];
    char unit[32];
    uint64_t total;
    int tty;
    double interval; /* seconds between redraws */
    double start;
    double last_draw;
    pthread_mutex_t lock;
    uint64_t items, failed, bytes;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ts_progress_disable(void) { atomic_store(&progress_disabled, 1); }

ts_progress *ts_progress_new(const char *label, uint64_t total, const char *unit) {
    if (atomic_load(&progress_disabled)) return NULL;
    ts_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->tty = isatty(STDERR_FILENO);
    const char *env = getenv("TESSERA_PROGRESS_SECONDS");
    p->interval = p->tty ? 0.1 : (env && atof(env) > 0 ? atof(env) : 10.0);
    p->start = p->last_draw = now_seconds();
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void format_eta(double seconds, char *out, size_t n) {
    if (seconds < 0 || seconds > 1e7) {
        snprintf(out, n, "--:--");
        return;
    }
    long s = (long)seconds;
    if (s >= 3600) snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(out, n, "%02ld:%02ld", s / 60, s % 60);
}

/* Called with the lock held. */
static void draw(ts_progress *p, double now, int final) {
    double elapsed = now - p->start > 1e-9 ? now - p->start : 1e-9;
    double rate = (double)p->items / elapsed;
    double mbs = (double)p->bytes / elapsed / 1e6;
    char tail[160];
    int t = snprintf(tail, sizeof tail, " %.1f %s/s", rate, p->unit);
    if (p->bytes) t += snprintf(tail + t, sizeof tail - (size_t)t, " %.1f MB/s", mbs);
    if (p->failed)
        t += snprintf(tail + t, sizeof tail - (size_t)t, " %llu failed", (unsigned long long)p->failed);
    if (p->total && !final) {
        char eta[32];
        format_eta(rate > 0 ? (double)(p->total - (p->items < p->total ? p->items : p->total)) / rate : -1,
                   eta, sizeof eta);
        snprintf(tail + t, sizeof tail - (size_t)t, " ETA %s", eta);
    }
    if (p->tty) {
        char bar[32] = "";
        if (p->total) {
            int fill = (int)(24.0 * (double)(p->items > p->total ? p->total : p->items) / (double)p->total);
            for (int i = 0; i < 24; i++) bar[i] = i < fill ? '#' : '.';
            bar[24] = '\0';
            fprintf(stderr, "\r\033[K%s [%s] %llu/%llu%s", p->label, bar, (unsigned long long)p->items,
                    (unsigned long long)p->total, tail);
        } else {
            fprintf(stderr, "\r\033[K%s %llu %s%s", p->label, (unsigned long long)p->items, p->unit, tail);
        }
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %llu", p->label, (unsigned long long)p->items);
        if (p->total) fprintf(stderr, "/%llu", (unsigned long long)p->total);
        fprintf(stderr, " %s%s%s\n", p->unit, tail, final ? " (done)" : "");
    }
    fflush(stderr);
    p->last_draw = now;
}

static void update(ts_progress *p, uint64_t items, uint64_t failed, uint64_t bytes) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->items += items;
    p->failed += failed;
    p->bytes += bytes;
    double now = now_seconds();
    if (now - p->last_draw >= p->interval) draw(p, now, 0);
    pthread_mutex_unlock(&p->lock);
}

void ts_progress_add(ts_progress *p, uint64_t items, uint64_t bytes) { update(p, items, 0, bytes); }

void ts_progress_add_failed(ts_progress *p, uint64_t items) { update(p, items, items, 0); }

void ts_progress_finish(ts_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    draw(p, now_seconds(), 1);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
