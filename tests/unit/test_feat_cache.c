/* Tests of the feature cache: fp8 e4m3 coding, writer/reader round trips in
 * bf16 and fp8, resume, shard rollover, and detection of corrupt, truncated
 * and uncommitted shards. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "features/cache.h"
#include "features/features.h"
#include "tests/harness.h"

static void tmp_dir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/featcache-%ld-%s", harness_tmpdir(), (long)getpid(), name);
}

static void test_e4m3(void) {
    /* every finite code decodes and re-encodes to itself */
    int same = 1;
    for (int v = 0; v < 256; v++) {
        if ((v & 0x7f) == 0x7f) continue;
        uint8_t back = ts_f32_to_e4m3(ts_e4m3_to_f32((uint8_t)v));
        if (back != v && !(v == 0x80 && back == 0x80)) same = 0;
    }
    CHECK(same);
    CHECK(ts_e4m3_to_f32(0x7e) == 448.0f);
    CHECK(ts_e4m3_to_f32(0x01) == ldexpf(1, -9));
    CHECK(ts_e4m3_to_f32(0x38) == 1.0f);
    CHECK(isnan(ts_e4m3_to_f32(0x7f)));
    CHECK_EQ(ts_f32_to_e4m3(1000.0f), 0x7e);  /* saturates */
    CHECK_EQ(ts_f32_to_e4m3(-1000.0f), 0xfe);
    CHECK_EQ(ts_f32_to_e4m3(1.0625f), 0x38);  /* tie between 1 (even) and 1.125 */
    CHECK_EQ(ts_f32_to_e4m3(1.1875f), 0x3a);  /* tie between 1.125 and 1.25 (even) */
    CHECK_EQ(ts_f32_to_e4m3(1.07f), 0x39);
    CHECK_EQ(ts_f32_to_e4m3(ldexpf(1, -11)), 0x00); /* below half the smallest subnormal */
}

static ts_hash128 h128(uint64_t v) {
    ts_hash128 h = {v * 0x9E3779B97F4A7C15ull, ~v};
    return h;
}

static void fill(float *x, size_t n, int seed) {
    uint32_t s = (uint32_t)seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (float)(1 + i % 7);
    }
}

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (double)(a[i] - b[i]) * (a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

enum { TOK = 4, DIM = 40 };

static void write_images(const char *dir, ts_feat_dtype dt, uint64_t shard_bytes, int first, int n,
                         int *written) {
    ts_feat_writer_options o = {dt, shard_bytes};
    ts_feat_writer *w = NULL;
    ts_error err = {0};
    CHECK_OK(ts_feat_writer_open(dir, &o, &w, &err), &err);
    if (!w) return;
    float x[3 * TOK * DIM];
    for (int i = first; i < first + n; i++) {
        if (ts_feat_writer_has(w, h128((uint64_t)i), "t56-m4-uint8", h128(99))) continue;
        int tiles = 1 + i % 3;
        fill(x, (size_t)tiles * TOK * DIM, i);
        char src[32];
        snprintf(src, sizeof src, "img%d", i);
        CHECK_OK(ts_feat_writer_add(w, h128((uint64_t)i), "t56-m4-uint8", h128(99), src, tiles, TOK,
                                    DIM, x, &err),
                 &err);
        (*written)++;
    }
    int shards = 0;
    CHECK_OK(ts_feat_writer_close(w, &shards, &err), &err);
}

static void check_all(const char *dir, int n, double tol) {
    ts_feat_cache *c = NULL;
    ts_error err = {0};
    CHECK_OK(ts_feat_cache_open(dir, &c, &err), &err);
    if (!c) return;
    CHECK_EQ(ts_feat_cache_count(c), n);
    float x[3 * TOK * DIM], y[3 * TOK * DIM];
    double worst = 0;
    for (int i = 0; i < n; i++) {
        size_t idx;
        CHECK_EQ(ts_feat_cache_find(c, h128((uint64_t)i), "t56-m4-uint8", h128(99), &idx), TS_OK);
        const ts_feat_entry *e = ts_feat_cache_entry(c, idx);
        CHECK_EQ(e->tiles, 1 + i % 3);
        CHECK_OK(ts_feat_cache_read(c, idx, y, &err), &err);
        fill(x, (size_t)e->tiles * TOK * DIM, i);
        double r = rel_err(y, x, (size_t)e->tiles * TOK * DIM);
        if (r > worst) worst = r;
    }
    CHECK(worst <= tol);
    size_t idx;
    CHECK_EQ(ts_feat_cache_find(c, h128(12345), "t56-m4-uint8", h128(99), &idx), TS_ENOTFOUND);
    CHECK_EQ(ts_feat_cache_find(c, h128(0), "t448-m6-uint8", h128(99), &idx), TS_ENOTFOUND);
    CHECK_OK(ts_feat_cache_verify(c, &err), &err);
    ts_feat_cache_close(c);
}

static void test_roundtrip_bf16_and_resume(void) {
    char d[512];
    tmp_dir(d, sizeof d, "bf16");
    int written = 0;
    write_images(d, TS_FEAT_BF16, 0, 0, 5, &written);
    CHECK_EQ(written, 5);
    written = 0;
    write_images(d, TS_FEAT_BF16, 0, 3, 5, &written); /* 3, 4 cached: only 5..7 */
    CHECK_EQ(written, 3);
    check_all(d, 8, 4e-3);
}

static void test_roundtrip_fp8_rollover(void) {
    char d[512];
    tmp_dir(d, sizeof d, "fp8");
    int written = 0;
    write_images(d, TS_FEAT_FP8_E4M3, 300, 0, 6, &written); /* a shard every ~2 images */
    CHECK_EQ(written, 6);
    check_all(d, 6, 6e-2);
    char idx[600];
    snprintf(idx, sizeof idx, "%s/feat-000002.idx.json", d);
    CHECK(access(idx, F_OK) == 0);
}

static void test_corrupt_truncated_uncommitted(void) {
    char d[512], p[600];
    tmp_dir(d, sizeof d, "bad");
    int written = 0;
    write_images(d, TS_FEAT_BF16, 0, 0, 3, &written);
    /* an uncommitted shard (a .bin without index) is ignored, its number skipped */
    snprintf(p, sizeof p, "%s/feat-000001.bin", d);
    FILE *f = fopen(p, "wb");
    fputs("partial", f);
    fclose(f);
    written = 0;
    write_images(d, TS_FEAT_BF16, 0, 3, 1, &written);
    snprintf(p, sizeof p, "%s/feat-000002.idx.json", d);
    CHECK(access(p, F_OK) == 0);
    check_all(d, 4, 4e-3);

    /* a flipped byte: the read fails with a checksum error */
    snprintf(p, sizeof p, "%s/feat-000000.bin", d);
    f = fopen(p, "r+b");
    fseek(f, 70, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 70, SEEK_SET);
    fputc(ch ^ 0x10, f);
    fclose(f);
    ts_feat_cache *c = NULL;
    ts_error err = {0};
    CHECK_OK(ts_feat_cache_open(d, &c, &err), &err);
    if (c) {
        float y[3 * TOK * DIM];
        int bad = 0;
        for (size_t i = 0; i < ts_feat_cache_count(c); i++)
            if (ts_feat_cache_read(c, i, y, &err) == TS_ECHECKSUM) bad++;
        CHECK_EQ(bad, 1);
        CHECK(strstr(err.msg, "checksum") != NULL);
        CHECK_EQ(ts_feat_cache_verify(c, &err), TS_ECHECKSUM);
        ts_feat_cache_close(c);
    }
    /* a broken index fails at open, naming the file */
    snprintf(p, sizeof p, "%s/feat-000002.idx.json", d);
    f = fopen(p, "wb");
    fputs("{\"format\": \"tessera-features\", \"version\": 1, \"entries\": [", f);
    fclose(f);
    CHECK(ts_feat_cache_open(d, &c, &err) != TS_OK);
    CHECK(strstr(err.msg, "feat-000002.idx.json") != NULL);
    /* a truncated shard fails at open */
    snprintf(p, sizeof p, "%s/feat-000000.bin", d);
    CHECK(truncate(p, 100) == 0);
    CHECK_EQ(ts_feat_cache_open(d, &c, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "truncated") != NULL);
}

static void test_rejects_nonfinite(void) {
    char d[512];
    tmp_dir(d, sizeof d, "nan");
    ts_feat_writer_options o = {TS_FEAT_BF16, 0};
    ts_feat_writer *w = NULL;
    ts_error err = {0};
    CHECK_OK(ts_feat_writer_open(d, &o, &w, &err), &err);
    if (!w) return;
    float x[TOK * DIM] = {0};
    x[17] = NAN;
    CHECK_EQ(ts_feat_writer_add(w, h128(1), "t", h128(2), "nan.png", 1, TOK, DIM, x, &err), TS_EINVAL);
    ts_feat_writer_abort(w);
}

int main(void) {
    RUN(test_e4m3);
    RUN(test_roundtrip_bf16_and_resume);
    RUN(test_roundtrip_fp8_rollover);
    RUN(test_corrupt_truncated_uncommitted);
    RUN(test_rejects_nonfinite);
    return harness_report();
}
