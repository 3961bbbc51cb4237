/* The CUDA entry points of a build with nvcc: they forward to the CUDA
 * forward compiled into a plugin, libtessera-cuda.so, which is loaded on
 * first use.
 *
 * Why a plugin: linking cuBLAS, cuBLASLt and cudart into the tessera
 * executable made every command, `tessera cat` included, spend about 2 s and
 * 220 MB of memory loading them at start-up. Now only `features` and
 * `vit-bench` on a CUDA device pay for them.
 *
 * Where it is looked for, first match wins: $TESSERA_CUDA_PLUGIN; beside the
 * executable; one folder up (build/tests/x -> build/); ../lib/tessera/ from
 * the executable (the `make install` layout). The plugin takes the library
 * functions it needs (errors, model reading) from the executable, which
 * exports them (-rdynamic). */
#ifdef TS_HAVE_CUDA
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features.h"

#define PLUGIN_NAME "libtessera-cuda.so"

static struct {
    void *handle;
    char why[1024]; /* why it could not be loaded */
    ts_status (*new_)(ts_vit_model *, int, ts_vit_cuda **, ts_error *);
    ts_status (*new_random)(const ts_vit_config *, int, uint64_t, ts_vit_cuda **, ts_error *);
    ts_status (*forward)(ts_vit_cuda *, const float *, int, uint16_t *, ts_error *);
    ts_status (*submit)(ts_vit_cuda *, const float *, int, ts_error *);
    ts_status (*collect)(ts_vit_cuda *, uint16_t *, int *, ts_error *);
    ts_status (*time)(ts_vit_cuda *, int, int, double *, ts_error *);
    ts_status (*profile)(ts_vit_cuda *, int, double *, ts_error *);
    ts_status (*gemm_peak)(int, int, int, int, double *, ts_error *);
    void (*free_)(ts_vit_cuda *);
} P;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int try_open(const char *path) {
    P.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (P.handle) return 1;
    const char *e = dlerror();
    size_t used = strlen(P.why);
    snprintf(P.why + used, sizeof P.why - used, "%s%s", used ? "; " : "", e ? e : path);
    return 0;
}

static void load(void) {
    const char *env = getenv("TESSERA_CUDA_PLUGIN");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int found = env && *env ? try_open(env) : 0;
    if (!found && n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const rel[] = {"/" PLUGIN_NAME, "/../" PLUGIN_NAME, "/../lib/tessera/" PLUGIN_NAME};
        char path[PATH_MAX + 64];
        for (size_t i = 0; i < sizeof rel / sizeof rel[0] && !found; i++) {
            snprintf(path, sizeof path, "%s%s", exe, rel[i]);
            if (access(path, F_OK) == 0) found = try_open(path);
        }
    }
    if (!found) {
        if (!P.why[0]) snprintf(P.why, sizeof P.why, "%s not found beside the executable", PLUGIN_NAME);
        return;
    }
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define SYM(field, name)                                                  \
    do {                                                                  \
        *(void **)&P.field = dlsym(P.handle, name);                       \
        if (!P.field) {                                                   \
            snprintf(P.why, sizeof P.why, "%s lacks %s", PLUGIN_NAME, name); \
            dlclose(P.handle);                                            \
            P.handle = NULL;                                              \
            return;                                                       \
        }                                                                 \
    } while (0)
    SYM(new_, "tsplug_vit_cuda_new");
    SYM(new_random, "tsplug_vit_cuda_new_random");
    SYM(forward, "tsplug_vit_cuda_forward");
    SYM(submit, "tsplug_vit_cuda_submit");
    SYM(collect, "tsplug_vit_cuda_collect");
    SYM(time, "tsplug_vit_cuda_time");
    SYM(profile, "tsplug_vit_cuda_profile");
    SYM(gemm_peak, "tsplug_vit_cuda_gemm_peak");
    SYM(free_, "tsplug_vit_cuda_free");
#undef SYM
}

static int loaded(void) {
    pthread_once(&once, load);
    return P.handle != NULL;
}

#define NEED_PLUGIN(err)                                                                           \
    do {                                                                                           \
        if (!loaded())                                                                             \
            return ts_fail(err, TS_EUNSUPPORTED, "no CUDA device: the CUDA plugin did not load (%s)", \
                           P.why);                                                                 \
    } while (0)

int ts_vit_cuda_compiled(void) { return loaded(); }

ts_status ts_vit_cuda_new(ts_vit_model *m, int max_batch, ts_vit_cuda **out, ts_error *err) {
    *out = NULL;
    NEED_PLUGIN(err);
    return P.new_(m, max_batch, out, err);
}

ts_status ts_vit_cuda_new_random(const ts_vit_config *c, int max_batch, uint64_t seed, ts_vit_cuda **out,
                                 ts_error *err) {
    *out = NULL;
    NEED_PLUGIN(err);
    return P.new_random(c, max_batch, seed, out, err);
}

ts_status ts_vit_cuda_forward(ts_vit_cuda *v, const float *tiles, int n, uint16_t *out, ts_error *err) {
    NEED_PLUGIN(err);
    return P.forward(v, tiles, n, out, err);
}

ts_status ts_vit_cuda_submit(ts_vit_cuda *v, const float *tiles, int n, ts_error *err) {
    NEED_PLUGIN(err);
    return P.submit(v, tiles, n, err);
}

ts_status ts_vit_cuda_collect(ts_vit_cuda *v, uint16_t *out, int *n, ts_error *err) {
    *n = 0;
    NEED_PLUGIN(err);
    return P.collect(v, out, n, err);
}

ts_status ts_vit_cuda_time(ts_vit_cuda *v, int n, int iters, double *ms, ts_error *err) {
    NEED_PLUGIN(err);
    return P.time(v, n, iters, ms, err);
}

ts_status ts_vit_cuda_profile(ts_vit_cuda *v, int n, double ms[TS_VIT_STAGES], ts_error *err) {
    NEED_PLUGIN(err);
    return P.profile(v, n, ms, err);
}

ts_status ts_vit_cuda_gemm_peak(int m, int n, int k, int iters, double *tflops, ts_error *err) {
    NEED_PLUGIN(err);
    return P.gemm_peak(m, n, k, iters, tflops, err);
}

void ts_vit_cuda_free(ts_vit_cuda *v) {
    if (v && loaded()) P.free_(v);
}
#endif
