/* Pillow-exact BICUBIC resize of RGB8 images (Pillow 9.4 ImagingResample).
 *
 * Numerics follow Pillow exactly: per output position, Keys cubic (a = -0.5)
 * weights computed in double over the clipped input span, normalized by their
 * sum, rounded half away from zero to 22-bit fixed point; each output sums
 * u8 * coefficient in int32 from 1 << 21, then >> 22 and clamps to 0..255.
 * The horizontal pass runs first (only over the rows the vertical pass reads)
 * into an 8-bit image, then the vertical pass. A pass is skipped when its
 * dimension is unchanged.
 *
 * All arithmetic after the coefficient tables is exact integer arithmetic
 * that cannot overflow, so the order of summation is free: the passes below
 * are vectorized (GCC vector extensions, cloned for AVX2) and give the same
 * bytes as Pillow's scalar loops on every target. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tiler.h"

#define PRECISION_BITS (32 - 8 - 2)
#define ROUND_HALF (1 << (PRECISION_BITS - 1))

/* Cloned per ISA; the integer results are identical on every clone. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TS_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TS_SIMD_CLONES
#endif

typedef int32_t v8si __attribute__((vector_size(32)));
typedef uint8_t v8qu __attribute__((vector_size(8)));

/* Coefficients of one pass: for output position o, `count[o]` taps starting
 * at input `first[o]`, weights k[o * ksize ...]. */
typedef struct coeffs {
    int ksize;
    int *first;
    int *count;
    int32_t *k;
} coeffs;

static void coeffs_free(coeffs *c) {
    free(c->first);
    free(c->count);
    free(c->k);
    memset(c, 0, sizeof *c);
}

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for box (0, in_size). */
static ts_status coeffs_make(int in_size, int out_size, coeffs *c, ts_error *err) {
    memset(c, 0, sizeof *c);
    double scale = (double)(float)in_size / out_size; /* Pillow: (double)(in1 - in0) / outSize, floats */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    double ksize_d = ceil(support) * 2 + 1;
    if (ksize_d > INT_MAX / 2 || (double)out_size * ksize_d > (double)(SIZE_MAX / 16))
        return ts_fail(err, TS_ELIMIT, "resize: %d -> %d needs too many coefficients", in_size,
                       out_size);
    int ksize = (int)ksize_d;
    double *w = malloc((size_t)ksize * sizeof *w);
    c->ksize = ksize;
    c->first = malloc((size_t)out_size * sizeof *c->first);
    c->count = malloc((size_t)out_size * sizeof *c->count);
    c->k = calloc((size_t)out_size * (size_t)ksize, sizeof *c->k);
    if (!w || !c->first || !c->count || !c->k) {
        free(w);
        coeffs_free(c);
        return ts_fail(err, TS_ENOMEM, "resize: out of memory for %d x %d coefficients",
                       out_size, ksize);
    }
    double ss = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale; /* in0 = 0 */
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = c->k + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        c->first[xx] = xmin;
        c->count[xx] = xmax;
    }
    free(w);
    return TS_OK;
}

/* By pointer: passing 32-byte vectors by value changes the ABI per ISA. */
static inline void clamp_u8(v8si *acc) {
    v8si v = *acc >> PRECISION_BITS;
    v &= ~(v < 0);
    v8si hi = v > 255;
    *acc = (v & ~hi) | (hi & 255);
}

static inline int32_t clamp_u8_scalar(int32_t v) {
    v >>= PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* Horizontal pass over two rows at once. `pair` holds the two source rows
 * interleaved as 8 bytes per pixel: R G B 0 of row a, then R G B 0 of row b,
 * so one coefficient multiplies both rows in one 8-lane vector. */
TS_SIMD_CLONES
static void horizontal_pair(const uint8_t *pair, const coeffs *c, int out_w, uint8_t *out_a,
                            uint8_t *out_b) {
    for (int xx = 0; xx < out_w; xx++) {
        const int32_t *k = c->k + (size_t)xx * c->ksize;
        const uint8_t *p = pair + (size_t)c->first[xx] * 8;
        int n = c->count[xx];
        v8si acc = {ROUND_HALF, ROUND_HALF, ROUND_HALF, ROUND_HALF,
                    ROUND_HALF, ROUND_HALF, ROUND_HALF, ROUND_HALF};
        for (int t = 0; t < n; t++) {
            v8qu px;
            memcpy(&px, p + (size_t)t * 8, 8);
            acc += __builtin_convertvector(px, v8si) * k[t];
        }
        clamp_u8(&acc);
        out_a[3 * xx + 0] = (uint8_t)acc[0];
        out_a[3 * xx + 1] = (uint8_t)acc[1];
        out_a[3 * xx + 2] = (uint8_t)acc[2];
        out_b[3 * xx + 0] = (uint8_t)acc[4];
        out_b[3 * xx + 1] = (uint8_t)acc[5];
        out_b[3 * xx + 2] = (uint8_t)acc[6];
    }
}

/* Rows [y0, y1) of src, resized horizontally to out_w, into dst rows 0.. */
static ts_status horizontal_pass(const ts_image *src, int y0, int y1, int out_w, const coeffs *c,
                                 uint8_t *dst, ts_error *err) {
    size_t in_w = (size_t)src->width, out_stride = (size_t)out_w * 3;
    uint8_t *pair = malloc(in_w * 8);
    uint8_t *spare = malloc(out_stride);
    if (!pair || !spare) {
        free(pair);
        free(spare);
        return ts_fail(err, TS_ENOMEM, "resize: out of memory for a %zu-pixel row", in_w);
    }
    for (int y = y0; y < y1; y += 2) {
        const uint8_t *ra = src->rgb + (size_t)y * in_w * 3;
        const uint8_t *rb = y + 1 < y1 ? ra + in_w * 3 : ra;
        for (size_t x = 0; x < in_w; x++) {
            uint8_t *q = pair + x * 8;
            q[0] = ra[3 * x];
            q[1] = ra[3 * x + 1];
            q[2] = ra[3 * x + 2];
            q[3] = 0;
            q[4] = rb[3 * x];
            q[5] = rb[3 * x + 1];
            q[6] = rb[3 * x + 2];
            q[7] = 0;
        }
        uint8_t *oa = dst + (size_t)(y - y0) * out_stride;
        horizontal_pair(pair, c, out_w, oa, y + 1 < y1 ? oa + out_stride : spare);
    }
    free(pair);
    free(spare);
    return TS_OK;
}

/* One output row of the vertical pass: `n` source rows from `rows` (stride
 * bytes apart) weighted by k, over `len` bytes. Accumulators stay in
 * registers for a 32-byte chunk while the taps stream through. */
TS_SIMD_CLONES
static void vertical_row(const uint8_t *rows, size_t stride, int n, const int32_t *k, size_t len,
                         uint8_t *out) {
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        v8si a0, a1, a2, a3;
        a0 = a1 = a2 = a3 = (v8si){ROUND_HALF, ROUND_HALF, ROUND_HALF, ROUND_HALF,
                                   ROUND_HALF, ROUND_HALF, ROUND_HALF, ROUND_HALF};
        for (int t = 0; t < n; t++) {
            const uint8_t *r = rows + (size_t)t * stride + i;
            v8qu p0, p1, p2, p3;
            memcpy(&p0, r, 8);
            memcpy(&p1, r + 8, 8);
            memcpy(&p2, r + 16, 8);
            memcpy(&p3, r + 24, 8);
            int32_t kt = k[t];
            a0 += __builtin_convertvector(p0, v8si) * kt;
            a1 += __builtin_convertvector(p1, v8si) * kt;
            a2 += __builtin_convertvector(p2, v8si) * kt;
            a3 += __builtin_convertvector(p3, v8si) * kt;
        }
        clamp_u8(&a0);
        v8qu o0 = __builtin_convertvector(a0, v8qu);
        clamp_u8(&a1);
        v8qu o1 = __builtin_convertvector(a1, v8qu);
        clamp_u8(&a2);
        v8qu o2 = __builtin_convertvector(a2, v8qu);
        clamp_u8(&a3);
        v8qu o3 = __builtin_convertvector(a3, v8qu);
        memcpy(out + i, &o0, 8);
        memcpy(out + i + 8, &o1, 8);
        memcpy(out + i + 16, &o2, 8);
        memcpy(out + i + 24, &o3, 8);
    }
    for (; i < len; i++) {
        int32_t acc = ROUND_HALF;
        for (int t = 0; t < n; t++) acc += rows[(size_t)t * stride + i] * k[t];
        out[i] = (uint8_t)clamp_u8_scalar(acc);
    }
}

/* `in` holds rows starting at source row `row0`. */
static void vertical_pass(const uint8_t *in, int row0, int width, const coeffs *c, int out_h,
                          uint8_t *out) {
    size_t stride = (size_t)width * 3;
    for (int yy = 0; yy < out_h; yy++)
        vertical_row(in + (size_t)(c->first[yy] - row0) * stride, stride, c->count[yy],
                     c->k + (size_t)yy * c->ksize, stride, out + (size_t)yy * stride);
}

ts_status ts_resize_bicubic(const ts_image *src, int out_w, int out_h, ts_image *dst,
                            ts_error *err) {
    memset(dst, 0, sizeof *dst);
    if (!src || !src->rgb || src->width < 1 || src->height < 1)
        return ts_fail(err, TS_EINVAL, "resize: empty source image");
    if (out_w < 1 || out_h < 1)
        return ts_fail(err, TS_EINVAL, "resize: target size %dx%d must be positive", out_w,
                       out_h);
    if ((uint64_t)out_w * (uint64_t)out_h > SIZE_MAX / 8)
        return ts_fail(err, TS_ELIMIT, "resize: target size %dx%d too large", out_w, out_h);
    size_t out_bytes = (size_t)out_w * (size_t)out_h * 3;
    uint8_t *out = malloc(out_bytes);
    if (!out) return ts_fail(err, TS_ENOMEM, "resize: out of memory for %dx%d", out_w, out_h);

    int need_h = out_w != src->width, need_v = out_h != src->height;
    coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    ts_status st = TS_OK;
    if (!need_h && !need_v) {
        memcpy(out, src->rgb, out_bytes);
        goto done;
    }
    if (need_h && (st = coeffs_make(src->width, out_w, &ch, err)) != TS_OK) goto done;
    if (need_v && (st = coeffs_make(src->height, out_h, &cv, err)) != TS_OK) goto done;
    if (!need_v) {
        st = horizontal_pass(src, 0, src->height, out_w, &ch, out, err);
        goto done;
    }
    if (!need_h) {
        vertical_pass(src->rgb, 0, src->width, &cv, out_h, out);
        goto done;
    }
    /* Only the source rows the vertical pass reads. */
    int y0 = cv.first[0], y1 = cv.first[out_h - 1] + cv.count[out_h - 1];
    tmp = malloc((size_t)out_w * 3 * (size_t)(y1 - y0));
    if (!tmp) {
        st = ts_fail(err, TS_ENOMEM, "resize: out of memory for the %dx%d intermediate", out_w,
                     y1 - y0);
        goto done;
    }
    if ((st = horizontal_pass(src, y0, y1, out_w, &ch, tmp, err)) != TS_OK) goto done;
    vertical_pass(tmp, y0, out_w, &cv, out_h, out);
done:
    free(tmp);
    coeffs_free(&ch);
    coeffs_free(&cv);
    if (st != TS_OK) {
        free(out);
        return st;
    }
    dst->width = out_w;
    dst->height = out_h;
    dst->rgb = out;
    return TS_OK;
}
