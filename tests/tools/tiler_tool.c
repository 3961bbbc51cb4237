/* Test driver for the tiler's geometry, used by tests/reference/check_*.sh
 * and bench/tiler_resize.sh. Raw images are packed RGB8 files.
 *
 *   tiler_tool grid        stdin lines "W H MIN MAX TILE" -> "COLS ROWS"
 *   tiler_tool candidates  stdin lines "MIN MAX" -> "c r c r ..." in rule order
 *   tiler_tool resize      stdin lines "IN.rgb W H OUT_W OUT_H OUT.rgb"
 *   tiler_tool tile IN.rgb W H TILE MAX OUT.rgb   -> "COLS ROWS COUNT", tiles
 *   tiler_tool normalize IN.rgb TILE f32|f16|bf16 OUT.bin
 *   tiler_tool bench full|resize IN.rgb W H OUT_W OUT_H TILE ITERS -> seconds
 *              for ITERS x (resize to OUT_W x OUT_H and thumbnail to TILE x TILE;
 *              with `full` also crop the tiles and normalize them to f32)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tiler/tiler.h"

static uint8_t *read_file(const char *path, size_t want) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = malloc(want ? want : 1);
    size_t got = buf ? fread(buf, 1, want, f) : 0;
    fclose(f);
    if (got != want) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && put == len) ? 0 : -1;
}

static int load_image(const char *path, int w, int h, ts_image *img) {
    img->width = w;
    img->height = h;
    img->rgb = read_file(path, (size_t)w * h * 3);
    if (!img->rgb) fprintf(stderr, "tiler_tool: cannot read %dx%d RGB from %s\n", w, h, path);
    return img->rgb ? 0 : -1;
}

static int cmd_grid(void) {
    int w, h, mn, mx, tile;
    while (scanf("%d %d %d %d %d", &w, &h, &mn, &mx, &tile) == 5) {
        ts_grid g = ts_tiler_grid(w, h, mn, mx, tile);
        printf("%d %d\n", g.cols, g.rows);
    }
    return 0;
}

static int cmd_candidates(void) {
    ts_grid c[TS_TILER_MAX_CANDIDATES];
    int mn, mx;
    while (scanf("%d %d", &mn, &mx) == 2) {
        int n = ts_tiler_candidates(mn, mx, c, TS_TILER_MAX_CANDIDATES);
        if (n < 0) return 1;
        for (int i = 0; i < n; i++) printf("%s%d %d", i ? " " : "", c[i].cols, c[i].rows);
        printf("\n");
    }
    return 0;
}

static int cmd_resize(void) {
    char in[4096], out[4096];
    int w, h, ow, oh;
    while (scanf("%4095s %d %d %d %d %4095s", in, &w, &h, &ow, &oh, out) == 6) {
        ts_image src, dst;
        ts_error err = {0};
        if (load_image(in, w, h, &src) != 0) return 1;
        if (ts_resize_bicubic(&src, ow, oh, &dst, &err) != TS_OK) {
            fprintf(stderr, "tiler_tool: %s\n", err.msg);
            free(src.rgb);
            return 1;
        }
        int rc = write_file(out, dst.rgb, (size_t)ow * oh * 3);
        free(src.rgb);
        free(dst.rgb);
        if (rc != 0) return 1;
    }
    return 0;
}

static int cmd_tile(char **a) {
    ts_image img;
    if (load_image(a[0], atoi(a[1]), atoi(a[2]), &img) != 0) return 1;
    ts_tiler_options o;
    ts_tiler_options_default(&o);
    o.tile_size = atoi(a[3]);
    o.max_tiles = atoi(a[4]);
    ts_tiles t;
    ts_error err = {0};
    ts_status st = ts_tile_image(&img, &o, &t, &err);
    free(img.rgb);
    if (st != TS_OK) {
        fprintf(stderr, "tiler_tool: %s\n", err.msg);
        return 1;
    }
    printf("%d %d %d\n", t.grid.cols, t.grid.rows, t.count);
    int rc = write_file(a[5], t.rgb, (size_t)t.count * t.tile_size * t.tile_size * 3);
    ts_tiles_free(&t);
    return rc ? 1 : 0;
}

static int cmd_normalize(char **a) {
    int tile = atoi(a[1]);
    ts_pixel_dtype dt = !strcmp(a[2], "f32")   ? TS_PIXEL_F32
                        : !strcmp(a[2], "f16") ? TS_PIXEL_F16
                        : !strcmp(a[2], "bf16") ? TS_PIXEL_BF16
                                               : TS_PIXEL_U8;
    if (dt == TS_PIXEL_U8 || tile < 1) return 2;
    size_t n = (size_t)tile * tile * 3;
    uint8_t *rgb = read_file(a[0], n);
    void *out = malloc(n * ts_pixel_dtype_size(dt));
    if (!rgb || !out) return 1;
    ts_normalize_tile(rgb, tile, dt, out);
    int rc = write_file(a[3], out, n * ts_pixel_dtype_size(dt));
    free(rgb);
    free(out);
    return rc ? 1 : 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The tiling work of one image with a forced target size, as the benchmark
 * compares it with Pillow + numpy: resize, crop, thumbnail, normalize. */
static int cmd_bench(char **a) {
    int full = !strcmp(*a++, "full");
    ts_image img;
    if (load_image(a[0], atoi(a[1]), atoi(a[2]), &img) != 0) return 1;
    int ow = atoi(a[3]), oh = atoi(a[4]), tile = atoi(a[5]), iters = atoi(a[6]);
    int cols = ow / tile, rows = oh / tile;
    size_t tile_px = (size_t)tile * tile;
    uint8_t *crop = malloc(tile_px * 3);
    /* The whole normalized batch, allocated once (as a DataLoader reuses its batch). */
    float *norm = malloc((size_t)(cols * rows + 1) * tile_px * 3 * sizeof(float));
    if (!crop || !norm || cols < 1 || rows < 1) return 1;
    double t0 = now();
    for (int it = 0; it < iters; it++) {
        ts_image big, thumb;
        ts_error err = {0};
        if (ts_resize_bicubic(&img, ow, oh, &big, &err) != TS_OK ||
            ts_resize_bicubic(&img, tile, tile, &thumb, &err) != TS_OK) {
            fprintf(stderr, "tiler_tool: %s\n", err.msg);
            return 1;
        }
        for (int k = 0; full && k < cols * rows; k++) {
            int c = k % cols, r = k / cols;
            for (int y = 0; y < tile; y++)
                memcpy(crop + (size_t)y * tile * 3,
                       big.rgb + ((size_t)(r * tile + y) * ow + (size_t)c * tile) * 3,
                       (size_t)tile * 3);
            ts_normalize_tile(crop, tile, TS_PIXEL_F32, norm + (size_t)k * tile_px * 3);
        }
        if (full)
            ts_normalize_tile(thumb.rgb, tile, TS_PIXEL_F32, norm + (size_t)cols * rows * tile_px * 3);
        free(big.rgb);
        free(thumb.rgb);
    }
    printf("%.6f\n", now() - t0);
    free(crop);
    free(norm);
    free(img.rgb);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "grid")) return cmd_grid();
    if (argc >= 2 && !strcmp(argv[1], "candidates")) return cmd_candidates();
    if (argc >= 2 && !strcmp(argv[1], "resize")) return cmd_resize();
    if (argc == 8 && !strcmp(argv[1], "tile")) return cmd_tile(argv + 2);
    if (argc == 6 && !strcmp(argv[1], "normalize")) return cmd_normalize(argv + 2);
    if (argc == 10 && !strcmp(argv[1], "bench")) return cmd_bench(argv + 2);
    fprintf(stderr, "usage: tiler_tool grid|candidates|resize|tile|normalize|bench ...\n");
    return 2;
}
