/* Pillow-exact BICUBIC resize of RGB8 images (Pillow 9.4 ImagingResample).
 *
 * Numerics follow Pillow exactly: per output position, Keys cubic (a = -0.5)
 * weights computed in double over the clipped input span, normalized by their
 * sum, rounded half away from zero to 22-bit fixed point; each output sums
 * u8 * coefficient in int32 from 1 << 21, then >> 22 and clamps to 0..255.
 * The horizontal pass runs first (only over the rows the vertical pass reads)
 * into 8 bits, then the vertical pass. A pass is skipped when its dimension
 * is unchanged. Unlike Pillow, the horizontal results are streamed through a
 * window of rows instead of a whole intermediate image (same numbers).
 *
 * All arithmetic after the coefficient tables is exact integer arithmetic
 * that cannot overflow in any order (|partial sums| <= 2^21 + 255 * 2^22 *
 * sum|w| < 2^31, sum|w| <= 1.3 for this filter), so the order of summation is
 * free: AVX2 kernels (chosen at run time) and portable C kernels both give
 * the bytes of Pillow's scalar loops. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#include "tiler.h"

#define PRECISION_BITS (32 - 8 - 2)
#define ROUND_HALF (1 << (PRECISION_BITS - 1))

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

static inline uint8_t clamp_u8(int32_t v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The horizontal pass works on ROWS source rows at once, interleaved as
 * 16 bytes per pixel (R G B 0 of each row), so each coefficient is applied
 * to all of them in one vector step. */
enum { ROWS = 4, PIXEL_GROUP = 4 * ROWS };

/* Rows r = 0..3 into `group` (16 bytes per pixel), from pixel x0 on. */
static void interleave_scalar(const uint8_t *const rows[ROWS], size_t x0, size_t in_w,
                              uint8_t *group) {
    for (int r = 0; r < ROWS; r++)
        for (size_t x = x0; x < in_w; x++) {
            uint8_t *q = group + x * PIXEL_GROUP + 4 * r;
            q[0] = rows[r][3 * x];
            q[1] = rows[r][3 * x + 1];
            q[2] = rows[r][3 * x + 2];
            q[3] = 0;
        }
}

static void horizontal_group_scalar(const uint8_t *group, const coeffs *c, int out_w,
                                    uint8_t *const out[ROWS]) {
    for (int xx = 0; xx < out_w; xx++) {
        const int32_t *k = c->k + (size_t)xx * c->ksize;
        const uint8_t *p = group + (size_t)c->first[xx] * PIXEL_GROUP;
        int32_t acc[PIXEL_GROUP];
        for (int j = 0; j < PIXEL_GROUP; j++) acc[j] = ROUND_HALF;
        for (int t = 0; t < c->count[xx]; t++)
            for (int j = 0; j < PIXEL_GROUP; j++) acc[j] += p[t * PIXEL_GROUP + j] * k[t];
        for (int r = 0; r < ROWS; r++)
            for (int ch = 0; ch < 3; ch++) out[r][3 * xx + ch] = clamp_u8(acc[4 * r + ch]);
    }
}

static void vertical_row_scalar(const uint8_t *rows, size_t stride, int n, const int32_t *k,
                                size_t len, uint8_t *out) {
    enum { CHUNK = 64 };
    for (size_t i = 0; i < len; i += CHUNK) {
        size_t m = len - i < CHUNK ? len - i : CHUNK;
        int32_t acc[CHUNK];
        for (size_t j = 0; j < m; j++) acc[j] = ROUND_HALF;
        for (int t = 0; t < n; t++) {
            const uint8_t *r = rows + (size_t)t * stride + i;
            for (size_t j = 0; j < m; j++) acc[j] += r[j] * k[t];
        }
        for (size_t j = 0; j < m; j++) out[i + j] = clamp_u8(acc[j]);
    }
}

#ifdef TS_HAVE_AVX2_KERNELS
/* 4 pixels of 4 rows per step: expand RGB to RGB0, then a 4x4 transpose. */
TS_AVX2 static void interleave_avx2(const uint8_t *const rows[ROWS], size_t in_w, uint8_t *group) {
    const __m128i expand = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    size_t x = 0;
    for (; x + 6 <= in_w; x += 4) { /* the 16-byte loads stay inside the row */
        __m128i r0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(rows[0] + 3 * x)), expand);
        __m128i r1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(rows[1] + 3 * x)), expand);
        __m128i r2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(rows[2] + 3 * x)), expand);
        __m128i r3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(rows[3] + 3 * x)), expand);
        __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
        __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
        uint8_t *q = group + x * PIXEL_GROUP;
        _mm_storeu_si128((__m128i *)q, _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(q + 16), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(q + 32), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128((__m128i *)(q + 48), _mm_unpackhi_epi64(t2, t3));
    }
    interleave_scalar(rows, x, in_w, group);
}

/* Output pixel xx of the 4 rows: rows 0,1 in *ab, rows 2,3 in *cd (int32). */
TS_AVX2 static inline void taps_avx2(const uint8_t *group, const coeffs *c, int xx, __m256i *ab,
                                     __m256i *cd) {
    const int32_t *k = c->k + (size_t)xx * c->ksize;
    const uint8_t *p = group + (size_t)c->first[xx] * PIXEL_GROUP;
    __m256i s01 = _mm256_set1_epi32(ROUND_HALF), s23 = s01;
    for (int t = 0; t < c->count[xx]; t++) {
        __m128i px = _mm_loadu_si128((const __m128i *)(p + (size_t)t * PIXEL_GROUP));
        __m256i kt = _mm256_set1_epi32(k[t]);
        s01 = _mm256_add_epi32(s01, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(px), kt));
        s23 = _mm256_add_epi32(s23, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(px, 8)), kt));
    }
    *ab = s01;
    *cd = s23;
}

/* >> 22, then saturate to i16: lane 0 = [row0, row2], lane 1 = [row1, row3].
 * The later u8 saturation completes the clamp to 0..255. */
TS_AVX2 static inline __m256i narrow_avx2(__m256i ab, __m256i cd) {
    return _mm256_packs_epi32(_mm256_srai_epi32(ab, PRECISION_BITS), _mm256_srai_epi32(cd, PRECISION_BITS));
}

TS_AVX2 static void horizontal_group_avx2(const uint8_t *group, const coeffs *c, int out_w,
                                          uint8_t *const out[ROWS]) {
    /* RGB0 RGB0 RGB0 RGB0 -> 12 packed bytes, in each 128-bit lane */
    const __m256i compact = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                             0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    int xx = 0;
    /* 4 output pixels at a time, transposed into one 16-byte store per row;
     * the 4 bytes past the 12 are rewritten by the next pixels. */
    for (; xx + 6 <= out_w; xx += 4) {
        __m256i ab, cd, w[4];
        for (int i = 0; i < 4; i++) {
            taps_avx2(group, c, xx + i, &ab, &cd);
            w[i] = narrow_avx2(ab, cd);
        }
        __m256i p = _mm256_packus_epi16(w[0], w[2]); /* lane 0: r0 x0, r2 x0, r0 x2, r2 x2 */
        __m256i q = _mm256_packus_epi16(w[1], w[3]); /* lane 0: r0 x1, r2 x1, r0 x3, r2 x3 */
        __m256i lo = _mm256_unpacklo_epi32(p, q), hi = _mm256_unpackhi_epi32(p, q);
        __m256i r01 = _mm256_shuffle_epi8(_mm256_unpacklo_epi64(lo, hi), compact); /* rows 0 | 1 */
        __m256i r23 = _mm256_shuffle_epi8(_mm256_unpackhi_epi64(lo, hi), compact); /* rows 2 | 3 */
        _mm_storeu_si128((__m128i *)(out[0] + 3 * xx), _mm256_castsi256_si128(r01));
        _mm_storeu_si128((__m128i *)(out[1] + 3 * xx), _mm256_extracti128_si256(r01, 1));
        _mm_storeu_si128((__m128i *)(out[2] + 3 * xx), _mm256_castsi256_si128(r23));
        _mm_storeu_si128((__m128i *)(out[3] + 3 * xx), _mm256_extracti128_si256(r23, 1));
    }
    for (; xx < out_w; xx++) {
        __m256i ab, cd;
        taps_avx2(group, c, xx, &ab, &cd);
        __m256i w = narrow_avx2(ab, cd);
        __m256i b = _mm256_packus_epi16(w, w);
        uint32_t v0 = (uint32_t)_mm256_extract_epi32(b, 0), v2 = (uint32_t)_mm256_extract_epi32(b, 1);
        uint32_t v1 = (uint32_t)_mm256_extract_epi32(b, 4), v3 = (uint32_t)_mm256_extract_epi32(b, 5);
        memcpy(out[0] + 3 * xx, &v0, 3);
        memcpy(out[1] + 3 * xx, &v1, 3);
        memcpy(out[2] + 3 * xx, &v2, 3);
        memcpy(out[3] + 3 * xx, &v3, 3);
    }
}

/* Accumulators stay in registers for a 32-byte chunk while the taps stream. */
TS_AVX2 static void vertical_row_avx2(const uint8_t *rows, size_t stride, int n, const int32_t *k,
                                      size_t len, uint8_t *out) {
    const __m256i half = _mm256_set1_epi32(ROUND_HALF);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        for (int t = 0; t < n; t++) {
            const uint8_t *r = rows + (size_t)t * stride + i;
            __m256i kt = _mm256_set1_epi32(k[t]);
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)r)), kt));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r + 8))), kt));
            a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r + 16))), kt));
            a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r + 24))), kt));
        }
        __m256i w01 = _mm256_packs_epi32(_mm256_srai_epi32(a0, PRECISION_BITS), _mm256_srai_epi32(a1, PRECISION_BITS));
        __m256i w23 = _mm256_packs_epi32(_mm256_srai_epi32(a2, PRECISION_BITS), _mm256_srai_epi32(a3, PRECISION_BITS));
        __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
        _mm256_storeu_si256((__m256i *)(out + i), b);
    }
    if (i < len) vertical_row_scalar(rows + i, stride, n, k, len - i, out + i);
}
#endif

static void interleave(const uint8_t *const rows[ROWS], size_t in_w, uint8_t *group) {
#ifdef TS_HAVE_AVX2_KERNELS
    if (ts_tiler_simd_avx2()) {
        interleave_avx2(rows, in_w, group);
        return;
    }
#endif
    interleave_scalar(rows, 0, in_w, group);
}

static void horizontal_group(const uint8_t *group, const coeffs *c, int out_w,
                             uint8_t *const out[ROWS]) {
#ifdef TS_HAVE_AVX2_KERNELS
    if (ts_tiler_simd_avx2()) {
        horizontal_group_avx2(group, c, out_w, out);
        return;
    }
#endif
    horizontal_group_scalar(group, c, out_w, out);
}

static void vertical_row(const uint8_t *rows, size_t stride, int n, const int32_t *k, size_t len,
                         uint8_t *out) {
#ifdef TS_HAVE_AVX2_KERNELS
    if (ts_tiler_simd_avx2()) {
        vertical_row_avx2(rows, stride, n, k, len, out);
        return;
    }
#endif
    vertical_row_scalar(rows, stride, n, k, len, out);
}

/* Where the output goes: output row y, pixels [c * seg_w, (c + 1) * seg_w),
 * is row y % seg_h of block (y / seg_h) * segs + c, blocks of seg_w x seg_h
 * pixels back to back. An image is one block (segs 1, seg_h = height); a
 * tile grid is `cols` segments of `tile` pixels, so the resize writes the
 * tiles themselves and no whole resized image is ever stored. */
typedef struct layout {
    uint8_t *base;
    int seg_w, seg_h, segs;
} layout;

static uint8_t *layout_row(const layout *l, int y, int c) {
    size_t seg = (size_t)l->seg_w * 3;
    size_t block = (size_t)(y / l->seg_h) * (size_t)l->segs + (size_t)c;
    return l->base + (block * (size_t)l->seg_h + (size_t)(y % l->seg_h)) * seg;
}

/* One whole output row (seg_w * segs pixels) into the layout. */
static void layout_put_row(const layout *l, int y, const uint8_t *row) {
    size_t seg = (size_t)l->seg_w * 3;
    for (int c = 0; c < l->segs; c++) memcpy(layout_row(l, y, c), row + (size_t)c * seg, seg);
}

/* Vertical taps of output row y over `rows` (full rows, `stride` apart). */
static void vertical_out(const layout *l, int y, const uint8_t *rows, size_t stride, int n, const int32_t *k) {
    size_t seg = (size_t)l->seg_w * 3;
    for (int c = 0; c < l->segs; c++) vertical_row(rows + (size_t)c * seg, stride, n, k, seg, layout_row(l, y, c));
}

/* The horizontal pass, ROWS source rows at a time. */
typedef struct hpass {
    const ts_image *src;
    const coeffs *c;
    int out_w;
    uint8_t *group; /* ROWS interleaved source rows */
    uint8_t *spare; /* where results for rows past the end go */
} hpass;

static ts_status hpass_init(hpass *h, const ts_image *src, const coeffs *c, int out_w,
                            ts_error *err) {
    h->src = src;
    h->c = c;
    h->out_w = out_w;
    h->group = malloc((size_t)src->width * PIXEL_GROUP);
    h->spare = malloc((size_t)out_w * 3);
    if (!h->group || !h->spare) {
        free(h->group);
        free(h->spare);
        return ts_fail(err, TS_ENOMEM, "resize: out of memory for a %d-pixel row", src->width);
    }
    return TS_OK;
}

static void hpass_free(hpass *h) {
    free(h->group);
    free(h->spare);
}

/* Source rows y .. min(y + ROWS, y_end) - 1, resized, into dst rows 0.. */
static int hpass_rows(hpass *h, int y, int y_end, uint8_t *dst) {
    size_t in_w = (size_t)h->src->width, out_stride = (size_t)h->out_w * 3;
    const uint8_t *rows[ROWS];
    uint8_t *out[ROWS];
    for (int r = 0; r < ROWS; r++) { /* past y_end: repeat row y, into the spare row */
        rows[r] = h->src->rgb + (size_t)(y + r < y_end ? y + r : y) * in_w * 3;
        out[r] = y + r < y_end ? dst + (size_t)r * out_stride : h->spare;
    }
    interleave(rows, in_w, h->group);
    horizontal_group(h->group, h->c, h->out_w, out);
    return y_end - y < ROWS ? y_end - y : ROWS;
}

/* Both passes, streaming: the horizontally resized rows live in a window
 * that holds what the current output row needs (plus a group), so memory is
 * bounded by the filter size, not by the image height. */
static ts_status two_pass(const ts_image *src, const coeffs *ch, const coeffs *cv, int out_w,
                          int out_h, const layout *out, ts_error *err) {
    size_t stride = (size_t)out_w * 3;
    int maxn = 0;
    for (int yy = 0; yy < out_h; yy++) maxn = cv->count[yy] > maxn ? cv->count[yy] : maxn;
    size_t cap = 2 * ((size_t)maxn + 2 * ROWS);
    hpass h;
    ts_status st = hpass_init(&h, src, ch, out_w, err);
    if (st != TS_OK) return st;
    uint8_t *win = malloc(cap * stride);
    if (!win) {
        hpass_free(&h);
        return ts_fail(err, TS_ENOMEM, "resize: out of memory for %zu rows of %d pixels", cap,
                       out_w);
    }
    int y_end = cv->first[out_h - 1] + cv->count[out_h - 1]; /* last source row read + 1 */
    int held = 0, count = 0;  /* source rows [held, held + count) ... */
    size_t at = 0;            /* ... are window rows [at, at + count) */
    for (int yy = 0; yy < out_h; yy++) {
        int first = cv->first[yy], end = first + cv->count[yy];
        if (count == 0 || first >= held + count) { /* nothing kept is needed */
            held = first;
            count = 0;
            at = 0;
        } else if (first > held) {
            at += (size_t)(first - held);
            count -= first - held;
            held = first;
        }
        while (held + count < end) {
            if (at + (size_t)count + ROWS > cap) {
                memmove(win, win + at * stride, (size_t)count * stride);
                at = 0;
            }
            count += hpass_rows(&h, held + count, y_end, win + (at + (size_t)count) * stride);
        }
        vertical_out(out, yy, win + at * stride, stride, cv->count[yy], cv->k + (size_t)yy * cv->ksize);
    }
    free(win);
    hpass_free(&h);
    return TS_OK;
}

/* The vertical pass alone, from the whole source image. */
static void vertical_pass(const uint8_t *in, int width, const coeffs *c, int out_h, const layout *out) {
    size_t stride = (size_t)width * 3;
    for (int yy = 0; yy < out_h; yy++)
        vertical_out(out, yy, in + (size_t)c->first[yy] * stride, stride, c->count[yy], c->k + (size_t)yy * c->ksize);
}

/* The horizontal pass alone, ROWS rows at a time through a small buffer. */
static ts_status horizontal_pass(const ts_image *src, const coeffs *c, int out_w, const layout *out,
                                 ts_error *err) {
    size_t stride = (size_t)out_w * 3;
    uint8_t *rows = malloc(ROWS * stride);
    hpass h;
    if (!rows) return ts_fail(err, TS_ENOMEM, "resize: out of memory for %d rows of %d pixels", ROWS, out_w);
    ts_status st = hpass_init(&h, src, c, out_w, err);
    for (int y = 0; !st && y < src->height; y += ROWS) {
        int got = hpass_rows(&h, y, src->height, rows);
        for (int r = 0; r < got; r++) layout_put_row(out, y + r, rows + (size_t)r * stride);
    }
    if (!st) hpass_free(&h);
    free(rows);
    return st;
}

/* Resize into the layout (its blocks cover out_w x out_h exactly). */
static ts_status resize_into(const ts_image *src, int out_w, int out_h, const layout *out, ts_error *err) {
    int need_h = out_w != src->width, need_v = out_h != src->height;
    if (!need_h && !need_v) {
        for (int y = 0; y < out_h; y++) layout_put_row(out, y, src->rgb + (size_t)y * (size_t)out_w * 3);
        return TS_OK;
    }
    coeffs ch = {0}, cv = {0};
    ts_status st = TS_OK;
    if (need_h) st = coeffs_make(src->width, out_w, &ch, err);
    if (!st && need_v) st = coeffs_make(src->height, out_h, &cv, err);
    if (!st) {
        if (!need_v) st = horizontal_pass(src, &ch, out_w, out, err);
        else if (!need_h) vertical_pass(src->rgb, src->width, &cv, out_h, out);
        else st = two_pass(src, &ch, &cv, out_w, out_h, out, err);
    }
    coeffs_free(&ch);
    coeffs_free(&cv);
    return st;
}

static ts_status check_sizes(const ts_image *src, int out_w, int out_h, ts_error *err) {
    if (!src || !src->rgb || src->width < 1 || src->height < 1)
        return ts_fail(err, TS_EINVAL, "resize: empty source image");
    if (out_w < 1 || out_h < 1)
        return ts_fail(err, TS_EINVAL, "resize: target size %dx%d must be positive", out_w, out_h);
    return TS_OK;
}

ts_status ts_resize_bicubic(const ts_image *src, int out_w, int out_h, ts_image *dst,
                            ts_error *err) {
    memset(dst, 0, sizeof *dst);
    ts_status st = check_sizes(src, out_w, out_h, err);
    if (st != TS_OK) return st;
    ts_image res;
    if ((st = ts_image_alloc(&res, out_w, out_h, err)) != TS_OK) return st;
    layout l = {res.rgb, out_w, out_h, 1};
    if ((st = resize_into(src, out_w, out_h, &l, err)) != TS_OK) {
        ts_image_free(&res);
        return st;
    }
    *dst = res;
    return TS_OK;
}

ts_status ts_resize_bicubic_tiles(const ts_image *src, int tile, int cols, int rows, uint8_t *out,
                                  ts_error *err) {
    if (tile < 1 || cols < 1 || rows < 1 || cols > INT_MAX / tile || rows > INT_MAX / tile)
        return ts_fail(err, TS_EINVAL, "resize: bad tile grid %dx%d of %d", cols, rows, tile);
    ts_status st = check_sizes(src, tile * cols, tile * rows, err);
    if (st != TS_OK) return st;
    layout l = {out, tile, tile, cols};
    return resize_into(src, tile * cols, tile * rows, &l, err);
}
