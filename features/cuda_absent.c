/* The CUDA entry points of a build without nvcc: each reports that this
 * tessera has no CUDA, so callers fall back to (or ask for) --device cpu. */
#ifndef TS_HAVE_CUDA
#include "features.h"

#define NO_CUDA(err) \
    ts_fail(err, TS_EUNSUPPORTED, "no CUDA device: this tessera was built without CUDA (nvcc)")

int ts_vit_cuda_compiled(void) { return 0; }

ts_status ts_vit_cuda_new(ts_vit_model *m, int max_batch, ts_vit_cuda **out, ts_error *err) {
    (void)m, (void)max_batch;
    *out = NULL;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_new_random(const ts_vit_config *c, int max_batch, uint64_t seed,
                                 ts_vit_cuda **out, ts_error *err) {
    (void)c, (void)max_batch, (void)seed;
    *out = NULL;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_forward(ts_vit_cuda *v, const float *tiles, int n, uint16_t *out,
                              ts_error *err) {
    (void)v, (void)tiles, (void)n, (void)out;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_submit(ts_vit_cuda *v, const float *tiles, int n, ts_error *err) {
    (void)v, (void)tiles, (void)n;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_collect(ts_vit_cuda *v, uint16_t *out, int *n, ts_error *err) {
    (void)v, (void)out;
    *n = 0;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_time(ts_vit_cuda *v, int n, int iters, double *ms, ts_error *err) {
    (void)v, (void)n, (void)iters;
    *ms = 0;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_profile(ts_vit_cuda *v, int n, double ms[TS_VIT_STAGES], ts_error *err) {
    (void)v, (void)n;
    for (int i = 0; i < TS_VIT_STAGES; i++) ms[i] = 0;
    return NO_CUDA(err);
}

ts_status ts_vit_cuda_gemm_peak(int m, int n, int k, int iters, double *tflops, ts_error *err) {
    (void)m, (void)n, (void)k, (void)iters;
    *tflops = 0;
    return NO_CUDA(err);
}

void ts_vit_cuda_free(ts_vit_cuda *v) { (void)v; }
#else
typedef int ts_cuda_absent_unused; /* ISO C forbids an empty translation unit */
#endif
