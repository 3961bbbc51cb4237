/* Scalar conversions between the weight dtypes. bf16 is the top half of an
 * IEEE f32; f16 is IEEE half. Sources may be unaligned (safetensors data). */
#include <math.h>
#include <string.h>

#include "features.h"

float ts_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ts_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        float f = ldexpf((float)man, -24); /* zero or subnormal */
        return sign ? -f : f;
    } else {
        u = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void ts_convert_to_f32(const void *src, ts_dtype from, size_t n, float *dst) {
    const uint8_t *p = src;
    switch (from) {
    case TS_DTYPE_F32:
        memcpy(dst, p, n * 4);
        break;
    case TS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = ts_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case TS_DTYPE_F16:
        for (size_t i = 0; i < n; i++) dst[i] = ts_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    default:
        break;
    }
}
