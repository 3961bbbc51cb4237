#include "simd.h"

#include <stdlib.h>

#ifdef TS_HAVE_AVX2_KERNELS
/* -1 until first asked; a benign race stores the same answer twice. */
static _Atomic int avx2_state = -1, f16c_state = -1;

static int allowed(_Atomic int *state, int cpu_has) {
    int v = cpu_has && !getenv("TS_TILER_NO_SIMD");
    *state = v;
    return v;
}

int ts_tiler_simd_avx2(void) {
    int v = avx2_state;
    if (v >= 0) return v;
    __builtin_cpu_init();
    return allowed(&avx2_state, __builtin_cpu_supports("avx2") != 0);
}

int ts_tiler_simd_f16c(void) {
    int v = f16c_state;
    if (v >= 0) return v;
    __builtin_cpu_init();
    return allowed(&f16c_state, ts_tiler_simd_avx2() && __builtin_cpu_supports("f16c") != 0);
}
#else
int ts_tiler_simd_avx2(void) { return 0; }
int ts_tiler_simd_f16c(void) { return 0; }
#endif
