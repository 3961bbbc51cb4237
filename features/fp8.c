/* OCP fp8 e4m3fn (bias 7, no infinities, 0x7f/0xff NaN, max 448): decode by
 * formula, encode by binary search over the 127 non-negative finite codes,
 * which are ordered like their values, rounding ties to the even code. */
#include <math.h>

#include "cache.h"

float ts_e4m3_to_f32(uint8_t v) {
    int sign = v >> 7, e = (v >> 3) & 0xf, m = v & 7;
    float x;
    if (e == 0xf && m == 7) return NAN;
    if (e == 0) x = ldexpf((float)m, -9);
    else x = ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return sign ? -x : x;
}

uint8_t ts_f32_to_e4m3(float x) {
    if (isnan(x)) return 0x7f;
    uint8_t sign = signbit(x) ? 0x80 : 0;
    float a = fabsf(x);
    if (a >= 448.0f) return sign | 0x7e; /* saturate */
    int lo = 0, hi = 0x7e;                /* largest code with value <= a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (ts_e4m3_to_f32((uint8_t)mid) <= a) lo = mid;
        else hi = mid - 1;
    }
    if (lo == 0x7e) return sign | 0x7e;
    float below = ts_e4m3_to_f32((uint8_t)lo), above = ts_e4m3_to_f32((uint8_t)(lo + 1));
    int code = lo;
    if (a - below > above - a || (a - below == above - a && (lo & 1))) code = lo + 1;
    return sign | (uint8_t)code;
}
