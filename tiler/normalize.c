/* Tile normalization to CHW planes, bit-exact with torchvision's
 * ToTensor + Normalize on CPU: x = float32(u8) / 255 in float32, then
 * (x - mean) / std in float32 with mean and std rounded to float32.
 * f16 and bf16 round that float32 to nearest, ties to even.
 * The AVX2 kernel does that arithmetic 8 pixels at a time (IEEE division and
 * subtraction are exact-rounded in every lane); the portable kernel uses a
 * 3 x 256 table built with the same arithmetic. Both give the same bits. */
#include <string.h>

#include "simd.h"
#include "tiler.h"

static const float ts_mean[3] = {0.485f, 0.456f, 0.406f};
static const float ts_std[3] = {0.229f, 0.224f, 0.225f};

size_t ts_pixel_dtype_size(ts_pixel_dtype t) {
    switch (t) {
    case TS_PIXEL_U8: return 1;
    case TS_PIXEL_F32: return 4;
    case TS_PIXEL_F16:
    case TS_PIXEL_BF16: return 2;
    }
    return 0;
}

const char *ts_pixel_dtype_name(ts_pixel_dtype t) {
    switch (t) {
    case TS_PIXEL_U8: return "uint8";
    case TS_PIXEL_F32: return "float32";
    case TS_PIXEL_F16: return "float16";
    case TS_PIXEL_BF16: return "bfloat16";
    }
    return "unknown";
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

uint16_t ts_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

uint16_t ts_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00; /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: infinity */
    int exp = (int)(a >> 23) - 127;
    uint32_t mant = (a & 0x7fffffu) | 0x800000u; /* 24 bits with the implicit one */
    if (exp >= -14) { /* normal half: keep 11 bits, drop 13 */
        uint32_t h = ((uint32_t)(exp + 15) << 10) | ((mant >> 13) & 0x3ff);
        uint32_t rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; /* carry may bump the exponent */
        return (uint16_t)(sign | h);
    }
    if (exp < -25 || a == 0) return sign; /* below half the smallest subnormal */
    /* subnormal half: value = mant * 2^(exp-23), unit 2^-24 */
    int shift = -exp - 1; /* 14..24 bits dropped from the 24-bit mantissa */
    uint32_t h = mant >> shift;
    uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static inline float normalize_value(int c, uint8_t v) {
    float x = (float)v / 255.0f;
    return (x - ts_mean[c]) / ts_std[c];
}

#ifdef TS_HAVE_AVX2_KERNELS
/* Pixels [0, n & ~7) with vector arithmetic; returns how many were done. */
TS_AVX2 static size_t normalize_avx2(const uint8_t *rgb, size_t n, ts_pixel_dtype dtype,
                                     void *out) {
    /* 8 RGB pixels = 24 bytes: a = bytes 0..15, b = bytes 8..23. */
    const __m128i ra = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i rb = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i ga = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i gb = _mm_setr_epi8(-1, -1, -1, -1, -1, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i ba = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i bb = _mm_setr_epi8(-1, -1, -1, -1, -1, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256 k255 = _mm256_set1_ps(255.0f);
    __m256 mean[3], sd[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = _mm256_set1_ps(ts_mean[c]);
        sd[c] = _mm256_set1_ps(ts_std[c]);
    }
    const __m256i round = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
    size_t done = n & ~(size_t)7;
    for (size_t i = 0; i < done; i += 8) {
        __m128i a = _mm_loadu_si128((const __m128i *)(rgb + 3 * i));
        __m128i b = _mm_loadu_si128((const __m128i *)(rgb + 3 * i + 8));
        __m128i bytes[3] = {
            _mm_or_si128(_mm_shuffle_epi8(a, ra), _mm_shuffle_epi8(b, rb)),
            _mm_or_si128(_mm_shuffle_epi8(a, ga), _mm_shuffle_epi8(b, gb)),
            _mm_or_si128(_mm_shuffle_epi8(a, ba), _mm_shuffle_epi8(b, bb)),
        };
        for (int c = 0; c < 3; c++) {
            __m256 x = _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes[c])), k255);
            __m256 v = _mm256_div_ps(_mm256_sub_ps(x, mean[c]), sd[c]);
            size_t at = (size_t)c * n + i;
            if (dtype == TS_PIXEL_F32) {
                _mm256_storeu_ps((float *)out + at, v);
            } else if (dtype == TS_PIXEL_F16) {
                _mm_storeu_si128((__m128i *)((uint16_t *)out + at),
                                 _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            } else { /* bf16: round to nearest even on the bits (values are finite) */
                __m256i u = _mm256_castps_si256(v);
                __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
                u = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, round), odd), 16);
                __m128i h = _mm_packus_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
                _mm_storeu_si128((__m128i *)((uint16_t *)out + at), h);
            }
        }
    }
    return done;
}
#endif

void ts_normalize_tile(const uint8_t *rgb, int tile_size, ts_pixel_dtype dtype, void *out) {
    size_t n = (size_t)tile_size * (size_t)tile_size;
    if (dtype == TS_PIXEL_U8) {
        memcpy(out, rgb, n * 3);
        return;
    }
    size_t start = 0;
#ifdef TS_HAVE_AVX2_KERNELS
    if (dtype == TS_PIXEL_F16 ? ts_tiler_simd_f16c() : ts_tiler_simd_avx2())
        start = normalize_avx2(rgb, n, dtype, out);
    if (start == n) return;
#endif
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = normalize_value(c, (uint8_t)v);
    if (dtype == TS_PIXEL_F32) {
        float *r = out, *g = r + n, *b = g + n;
        for (size_t i = start; i < n; i++) {
            r[i] = lut[0][rgb[3 * i]];
            g[i] = lut[1][rgb[3 * i + 1]];
            b[i] = lut[2][rgb[3 * i + 2]];
        }
        return;
    }
    uint16_t lut16[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut16[c][v] = dtype == TS_PIXEL_F16 ? ts_f32_to_f16(lut[c][v]) : ts_f32_to_bf16(lut[c][v]);
    uint16_t *r = out, *g = r + n, *b = g + n;
    for (size_t i = start; i < n; i++) {
        r[i] = lut16[0][rgb[3 * i]];
        g[i] = lut16[1][rgb[3 * i + 1]];
        b[i] = lut16[2][rgb[3 * i + 2]];
    }
}
