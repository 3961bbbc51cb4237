/* Tile normalization to CHW planes, bit-exact with torchvision's
 * ToTensor + Normalize on CPU: x = float32(u8) / 255 in float32, then
 * (x - mean) / std in float32 with mean and std rounded to float32.
 * f16 and bf16 round that float32 to nearest, ties to even.
 * Each output depends only on (channel, byte), so a 3 x 256 table built with
 * exactly that arithmetic gives the same values as computing per pixel. */
#include <string.h>

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

void ts_normalize_tile(const uint8_t *rgb, int tile_size, ts_pixel_dtype dtype, void *out) {
    size_t n = (size_t)tile_size * (size_t)tile_size;
    if (dtype == TS_PIXEL_U8) {
        memcpy(out, rgb, n * 3);
        return;
    }
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)v / 255.0f;
            lut[c][v] = (x - ts_mean[c]) / ts_std[c];
        }
    if (dtype == TS_PIXEL_F32) {
        float *r = out, *g = r + n, *b = g + n;
        for (size_t i = 0; i < n; i++) {
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
    for (size_t i = 0; i < n; i++) {
        r[i] = lut16[0][rgb[3 * i]];
        g[i] = lut16[1][rgb[3 * i + 1]];
        b[i] = lut16[2][rgb[3 * i + 2]];
    }
}
