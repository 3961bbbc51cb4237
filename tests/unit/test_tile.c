/* Resize, tiling and normalization invariants (Pillow agreement itself is
 * checked in tests/reference/check_resize.sh). */
#include <math.h>

#include "tests/harness.h"
#include "tiler/tiler.h"

/* A deterministic test pattern with edges and gradients. */
static ts_image pattern(int w, int h) {
    ts_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)(((x / 7 + y / 5) & 1) ? 250 : 5);
            p[2] = (uint8_t)((x * 31 + y * 17) & 255);
        }
    return img;
}

static void test_resize_identity_and_errors(void) {
    ts_image src = pattern(37, 23), dst;
    ts_error err = {0};
    CHECK_OK(ts_resize_bicubic(&src, 37, 23, &dst, &err), &err);
    CHECK(dst.rgb && memcmp(dst.rgb, src.rgb, 37 * 23 * 3) == 0);
    free(dst.rgb);
    CHECK_EQ(ts_resize_bicubic(&src, 0, 5, &dst, &err), TS_EINVAL);
    CHECK(dst.rgb == NULL && strstr(err.msg, "positive"));
    CHECK_EQ(ts_resize_bicubic(&src, 5, -1, &dst, &err), TS_EINVAL);
    ts_image empty = {0, 0, NULL};
    CHECK_EQ(ts_resize_bicubic(&empty, 5, 5, &dst, &err), TS_EINVAL);
    free(src.rgb);
}

static void test_resize_constant(void) {
    /* Normalized weights keep a flat image flat, up and down, any shape. */
    const int sizes[][2] = {{1, 1}, {1, 500}, {500, 1}, {3, 977}, {448, 448}, {1344, 896}};
    ts_image src = {61, 47, malloc(61 * 47 * 3)};
    for (int i = 0; i < 61 * 47; i++) {
        src.rgb[3 * i] = 200;
        src.rgb[3 * i + 1] = 0;
        src.rgb[3 * i + 2] = 255;
    }
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        ts_image dst;
        ts_error err = {0};
        CHECK_OK(ts_resize_bicubic(&src, sizes[s][0], sizes[s][1], &dst, &err), &err);
        int bad = 0;
        for (int i = 0; i < sizes[s][0] * sizes[s][1]; i++)
            bad += dst.rgb[3 * i] != 200 || dst.rgb[3 * i + 1] != 0 || dst.rgb[3 * i + 2] != 255;
        CHECK_EQ(bad, 0);
        free(dst.rgb);
    }
    free(src.rgb);
}

static void test_resize_passes_independent(void) {
    /* Width-only then height-only equals the two-pass resize when the first
     * step keeps all rows (Pillow's passes are separable in the same order). */
    ts_image src = pattern(90, 70), a, b, both;
    ts_error err = {0};
    CHECK_OK(ts_resize_bicubic(&src, 40, 70, &a, &err), &err);
    CHECK_OK(ts_resize_bicubic(&a, 40, 150, &b, &err), &err);
    CHECK_OK(ts_resize_bicubic(&src, 40, 150, &both, &err), &err);
    CHECK(memcmp(b.rgb, both.rgb, 40 * 150 * 3) == 0);
    free(a.rgb);
    free(b.rgb);
    free(both.rgb);
    free(src.rgb);
}

static void test_resize_into_tiles(void) {
    /* The tile layout equals the whole resized image cropped, on every path:
     * both passes, width only, height only, no resize. */
    const int cases[][4] = {{100, 80, 3, 2}, {48, 50, 3, 2}, {70, 32, 3, 2}, {48, 32, 3, 2}, {33, 90, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int cols = cases[i][2], rows = cases[i][3], tile = 16;
        ts_image src = pattern(cases[i][0], cases[i][1]), whole;
        ts_error err = {0};
        uint8_t *tiles = malloc((size_t)cols * rows * tile * tile * 3);
        CHECK_OK(ts_resize_bicubic(&src, cols * tile, rows * tile, &whole, &err), &err);
        CHECK_OK(ts_resize_bicubic_tiles(&src, tile, cols, rows, tiles, &err), &err);
        int bad = 0;
        for (int k = 0; k < cols * rows; k++)
            for (int y = 0; y < tile; y++)
                bad += memcmp(tiles + ((size_t)k * tile + y) * tile * 3,
                              whole.rgb + (((size_t)(k / cols) * tile + y) * cols * tile + (k % cols) * tile) * 3,
                              (size_t)tile * 3) != 0;
        CHECK_EQ(bad, 0);
        CHECK_EQ(ts_resize_bicubic_tiles(&src, 0, cols, rows, tiles, &err), TS_EINVAL);
        free(tiles);
        free(whole.rgb);
        free(src.rgb);
    }
}

static void test_tile_image(void) {
    /* 100x80 (W/H 1.25) with tile 16: area 8000 > 0.5*16^2*6 = 768 -> 3x2. */
    ts_image src = pattern(100, 80), big, thumb;
    ts_tiler_options o;
    ts_tiler_options_default(&o);
    CHECK_EQ(o.tile_size, 448);
    CHECK_EQ(o.max_tiles, 6);
    CHECK_EQ(o.min_tiles, 1);
    CHECK_EQ(o.thumbnail, 1);
    o.tile_size = 16;
    ts_tiles t;
    ts_error err = {0};
    CHECK_OK(ts_tile_image(&src, &o, &t, &err), &err);
    CHECK_EQ(t.grid.cols, 3);
    CHECK_EQ(t.grid.rows, 2);
    CHECK_EQ(t.count, 7);
    CHECK_EQ(t.tile_size, 16);
    CHECK_OK(ts_resize_bicubic(&src, 48, 32, &big, &err), &err);
    CHECK_OK(ts_resize_bicubic(&src, 16, 16, &thumb, &err), &err);
    for (int k = 0; k < 6; k++) {
        int c = k % 3, r = k / 3, bad = 0;
        for (int y = 0; y < 16; y++)
            bad += memcmp(t.rgb + (size_t)k * 768 + y * 48, big.rgb + ((r * 16 + y) * 48 + c * 16) * 3,
                          48) != 0;
        CHECK_EQ(bad, 0);
    }
    CHECK(memcmp(t.rgb + 6 * 768, thumb.rgb, 768) == 0);
    ts_tiles_free(&t);
    CHECK(t.rgb == NULL);

    o.thumbnail = 0;
    CHECK_OK(ts_tile_image(&src, &o, &t, &err), &err);
    CHECK_EQ(t.count, 6);
    ts_tiles_free(&t);

    /* A single tile has no thumbnail: the image resized to the tile. */
    o.thumbnail = 1;
    o.max_tiles = 1;
    CHECK_OK(ts_tile_image(&src, &o, &t, &err), &err);
    CHECK_EQ(t.count, 1);
    CHECK(memcmp(t.rgb, thumb.rgb, 768) == 0);
    ts_tiles_free(&t);

    /* A given grid (fast decode mode): 2x1 with the thumbnail. */
    o.max_tiles = 6;
    CHECK_OK(ts_tile_image_grid(&src, (ts_grid){2, 1}, &o, &t, &err), &err);
    CHECK_EQ(t.count, 3);
    CHECK(memcmp(t.rgb + 2 * 768, thumb.rgb, 768) == 0);
    ts_tiles_free(&t);
    CHECK_EQ(ts_tile_image_grid(&src, (ts_grid){0, 1}, &o, &t, &err), TS_EINVAL);
    CHECK_EQ(ts_tile_image_grid(&src, (ts_grid){65, 1}, &o, &t, &err), TS_EINVAL);

    o.max_tiles = 0;
    CHECK_EQ(ts_tile_image(&src, &o, &t, &err), TS_EINVAL);
    CHECK(t.rgb == NULL);
    o.max_tiles = 6;
    o.tile_size = 0;
    CHECK_EQ(ts_tile_image(&src, &o, &t, &err), TS_EINVAL);
    free(big.rgb);
    free(thumb.rgb);
    free(src.rgb);
}

static void test_normalize_f32(void) {
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    ts_image src = pattern(8, 8);
    float out[3 * 64];
    ts_normalize_tile(src.rgb, 8, TS_PIXEL_F32, out);
    int bad = 0;
    for (int i = 0; i < 64; i++)
        for (int c = 0; c < 3; c++) {
            volatile float x = (float)src.rgb[3 * i + c] / 255.0f;
            volatile float d = x - mean[c];
            float want = d / std[c];
            bad += memcmp(&out[c * 64 + i], &want, 4) != 0;
        }
    CHECK_EQ(bad, 0);
    CHECK(fabsf(out[0] - (0.0f - 0.485f) / 0.229f) < 1e-6f); /* CHW: R plane first */
    free(src.rgb);
}

static void test_half_conversions(void) {
    CHECK_EQ(ts_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ(ts_f32_to_f16(-2.0f), 0xc000);
    CHECK_EQ(ts_f32_to_f16(0.1f), 0x2e66);
    CHECK_EQ(ts_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ(ts_f32_to_f16(65519.0f), 0x7bff);
    CHECK_EQ(ts_f32_to_f16(65520.0f), 0x7c00);
    CHECK_EQ(ts_f32_to_f16(ldexpf(1.0f, -24)), 0x0001);
    CHECK_EQ(ts_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);              /* tie to even */
    CHECK_EQ(ts_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);              /* 1.5 ulp: tie to even */
    CHECK_EQ(ts_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);       /* tie to even */
    CHECK_EQ(ts_f32_to_f16(1.0f + ldexpf(3.0f, -11)), 0x3c02);       /* tie to even, up */
    CHECK_EQ(ts_f32_to_f16(ldexpf(1023.0f, -24) + ldexpf(1.0f, -25)), 0x0400); /* to normal */
    CHECK_EQ(ts_f32_to_f16(NAN) & 0x7e00, 0x7e00);
    CHECK_EQ(ts_f32_to_f16(-INFINITY), 0xfc00);
    CHECK_EQ(ts_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ(ts_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80); /* tie to even */
    CHECK_EQ(ts_f32_to_bf16(1.0f + ldexpf(3.0f, -8)), 0x3f82); /* tie to even, up */
    CHECK_EQ(ts_f32_to_bf16(-INFINITY), 0xff80);
    CHECK_EQ(ts_f32_to_bf16(NAN) & 0x7fc0, 0x7fc0);

    ts_image src = pattern(4, 4);
    float f[48];
    uint16_t h[48], b[48];
    ts_normalize_tile(src.rgb, 4, TS_PIXEL_F32, f);
    ts_normalize_tile(src.rgb, 4, TS_PIXEL_F16, h);
    ts_normalize_tile(src.rgb, 4, TS_PIXEL_BF16, b);
    int bad = 0;
    for (int i = 0; i < 48; i++) bad += h[i] != ts_f32_to_f16(f[i]) || b[i] != ts_f32_to_bf16(f[i]);
    CHECK_EQ(bad, 0);
    free(src.rgb);
    CHECK_EQ(ts_pixel_dtype_size(TS_PIXEL_BF16), 2);
    CHECK_EQ(ts_pixel_dtype_size(TS_PIXEL_F32), 4);
    CHECK_STR(ts_pixel_dtype_name(TS_PIXEL_F16), "float16");
    CHECK_STR(ts_pixel_dtype_name(TS_PIXEL_U8), "uint8");
}

int main(void) {
    RUN(test_resize_identity_and_errors);
    RUN(test_resize_constant);
    RUN(test_resize_passes_independent);
    RUN(test_resize_into_tiles);
    RUN(test_tile_image);
    RUN(test_normalize_f32);
    RUN(test_half_conversions);
    return harness_report();
}
