/* Which vector kernels the tiler uses. The AVX2 kernels run on x86-64 CPUs
 * that have AVX2 (and F16C for float16 output) unless the environment sets
 * TS_TILER_NO_SIMD (the tests run both); the portable kernels produce the
 * same bytes. Internal to tiler/. */
#ifndef TS_TILER_SIMD_H
#define TS_TILER_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TS_HAVE_AVX2_KERNELS 1
#define TS_AVX2 __attribute__((target("avx2,f16c")))
#endif

int ts_tiler_simd_avx2(void);
int ts_tiler_simd_f16c(void);

#endif
