/* The tile shard: round trip, lookups, duplicate keys, and damage detection
 * (every single flipped byte is caught, truncation is caught). */
#include <unistd.h>

#include "core/io.h"
#include "tests/harness.h"
#include "tiler/tile_shard.h"

#define TILE 8
#define RECORDS 12

static char path[512];

static void fill_payload(uint8_t *p, size_t n, int seed) {
    uint32_t x = 2166136261u ^ (uint32_t)seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(i % 7 == 0 ? x >> 24 : (i / 3) & 0xff); /* compressible but not trivial */
    }
}

static int tiles_of(int i) { return (int[]){1, 3, 4, 5, 6, 7}[i % 6]; }

static ts_status write_shard(const char *p, ts_error *err) {
    ts_tile_shard_params params = {TILE, 6, TS_PIXEL_U8, 0};
    ts_tile_shard_writer *w = NULL;
    ts_status st = ts_tile_shard_create(&w, p, &params, err);
    if (st) return st;
    size_t tile_bytes = ts_tile_payload_bytes(TILE, TS_PIXEL_U8);
    uint8_t *payload = malloc(7 * tile_bytes);
    for (int i = 0; i < RECORDS && !st; i++) {
        char key[32], content[32];
        snprintf(key, sizeof key, "img/%03d.jpg", (i * 5) % RECORDS); /* keys not in sorted order */
        snprintf(content, sizeof content, "bytes-%d", i % 9);      /* some equal content */
        int n = tiles_of(i);
        fill_payload(payload, (size_t)n * tile_bytes, i);
        ts_tile_record rec = {key, ts_xxh3_128(content, strlen(content)), 100 + i, 50 + i, {n > 1 ? n - 1 : 1, 1}, n,
                              (uint64_t)n * tile_bytes};
        st = ts_tile_shard_add(w, &rec, payload, (size_t)n * tile_bytes, err);
    }
    free(payload);
    if (st) {
        ts_tile_shard_abort(w);
        return st;
    }
    uint64_t xxh = 0, bytes = 0;
    st = ts_tile_shard_commit(w, &xxh, &bytes, err);
    if (!st) {
        ts_buf b = TS_BUF_INIT;
        ts_read_file(p, 1 << 30, &b, err);
        CHECK_EQ(b.len, bytes);
        CHECK(ts_xxh3_64(b.data, b.len) == xxh);
        ts_buf_free(&b);
    }
    return st;
}

static void test_round_trip_and_lookup(void) {
    ts_error err;
    CHECK_OK(write_shard(path, &err), &err);
    ts_tile_shard *s = NULL;
    CHECK_OK(ts_tile_shard_open(&s, path, &err), &err);
    if (!s) return;
    CHECK_EQ(ts_tile_shard_count(s), RECORDS);
    CHECK_EQ(ts_tile_shard_info(s)->tile_size, TILE);
    CHECK_EQ(ts_tile_shard_info(s)->dtype, TS_PIXEL_U8);
    size_t tile_bytes = ts_tile_payload_bytes(TILE, TS_PIXEL_U8);
    uint8_t *want = malloc(7 * tile_bytes);
    ts_buf got = TS_BUF_INIT;
    for (int i = 0; i < RECORDS; i++) {
        ts_tile_record rec;
        ts_tile_shard_record(s, (size_t)i, &rec);
        char key[32];
        snprintf(key, sizeof key, "img/%03d.jpg", (i * 5) % RECORDS);
        CHECK_STR(rec.key, key);
        CHECK_EQ(rec.tiles, tiles_of(i));
        CHECK_EQ(rec.width, 100 + i);
        size_t found = 999;
        CHECK_OK(ts_tile_shard_find_key(s, key, &found), &err);
        CHECK_EQ(found, i);
        ts_buf_reset(&got);
        CHECK_OK(ts_tile_shard_read(s, (size_t)i, &got, &err), &err);
        fill_payload(want, (size_t)rec.tiles * tile_bytes, i);
        CHECK(got.len == (size_t)rec.tiles * tile_bytes && memcmp(got.data, want, got.len) == 0);
    }
    /* Equal content: the hash lookup finds the first record in file order. */
    size_t found;
    CHECK_OK(ts_tile_shard_find_hash(s, ts_xxh3_128("bytes-2", 7), &found), &err);
    CHECK_EQ(found, 2); /* records 2 and 11 share this content */
    CHECK_EQ(ts_tile_shard_find_hash(s, ts_xxh3_128("nope", 4), &found), TS_ENOTFOUND);
    CHECK_EQ(ts_tile_shard_find_key(s, "img/999.jpg", &found), TS_ENOTFOUND);
    CHECK_EQ(ts_tile_shard_find_key(s, "img/00", &found), TS_ENOTFOUND);
    free(want);
    ts_buf_free(&got);
    ts_tile_shard_close(s);
}

static void test_duplicate_key_refused(void) {
    char p[600];
    snprintf(p, sizeof p, "%s.dup", path);
    ts_tile_shard_params params = {TILE, 6, TS_PIXEL_U8, 0};
    ts_tile_shard_writer *w = NULL;
    ts_error err;
    CHECK_OK(ts_tile_shard_create(&w, p, &params, &err), &err);
    size_t tile_bytes = ts_tile_payload_bytes(TILE, TS_PIXEL_U8);
    uint8_t *payload = calloc(1, tile_bytes);
    ts_tile_record rec = {"a.jpg", {1, 2}, 10, 10, {1, 1}, 1, tile_bytes};
    CHECK_OK(ts_tile_shard_add(w, &rec, payload, tile_bytes, &err), &err);
    CHECK_EQ(ts_tile_shard_add(w, &rec, payload, tile_bytes, &err), TS_EINVAL);
    CHECK(strstr(err.msg, "duplicate key 'a.jpg'") != NULL);
    rec.key = "b.jpg";
    CHECK_EQ(ts_tile_shard_add(w, &rec, payload, tile_bytes - 1, &err), TS_EINVAL);
    CHECK_OK(ts_tile_shard_add(w, &rec, payload, tile_bytes, &err), &err);
    CHECK_OK(ts_tile_shard_commit(w, NULL, NULL, &err), &err);
    ts_tile_shard *s = NULL;
    CHECK_OK(ts_tile_shard_open(&s, p, &err), &err);
    if (s) CHECK_EQ(ts_tile_shard_count(s), 2);
    ts_tile_shard_close(s);
    free(payload);
}

/* Open and read every record; returns the first failure (TS_OK if none). */
static ts_status open_and_read_all(const char *p, ts_error *err) {
    ts_tile_shard *s = NULL;
    ts_status st = ts_tile_shard_open(&s, p, err);
    if (st) return st;
    ts_buf got = TS_BUF_INIT;
    for (size_t i = 0; i < ts_tile_shard_count(s) && !st; i++) {
        ts_buf_reset(&got);
        st = ts_tile_shard_read(s, i, &got, err);
    }
    ts_buf_free(&got);
    ts_tile_shard_close(s);
    return st;
}

/* Flip one byte in place: rewriting whole files would make ext4 flush each
 * one on close (auto_da_alloc) and turn seconds into minutes. */
static void flip_byte(FILE *f, size_t off, uint8_t value) {
    fseek(f, (long)off, SEEK_SET);
    fputc(value, f);
    fflush(f);
}

static void test_every_flipped_byte_detected(void) {
    ts_error err;
    ts_buf orig = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 30, &orig, &err), &err);
    char p[600];
    snprintf(p, sizeof p, "%s.flip", path);
    FILE *f = fopen(p, "w+b");
    fwrite(orig.data, 1, orig.len, f);
    fflush(f);
    int undetected = 0;
    for (size_t off = 0; off < orig.len; off++) {
        flip_byte(f, off, orig.data[off] ^ 0x40);
        /* Reserved bytes are covered by checksums too, so every flip must fail. */
        if (open_and_read_all(p, &err) == TS_OK) {
            if (undetected++ < 5) fprintf(stderr, "  flip at %zu not detected\n", off);
        }
        flip_byte(f, off, orig.data[off]);
    }
    fclose(f);
    CHECK_EQ(undetected, 0);
    CHECK_OK(open_and_read_all(p, &err), &err); /* restored: reads again */
    ts_buf_free(&orig);
}

static void test_truncation_detected(void) {
    ts_error err;
    ts_buf orig = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 30, &orig, &err), &err);
    char p[600];
    snprintf(p, sizeof p, "%s.cut", path);
    FILE *f = fopen(p, "wb");
    fwrite(orig.data, 1, orig.len, f);
    fclose(f);
    /* Shrink step by step (truncating in place avoids rewriting the file). */
    for (size_t len = orig.len - 1; len > 0; len = len > 7 ? len - 7 : 0) {
        CHECK(truncate(p, (off_t)len) == 0);
        CHECK(open_and_read_all(p, &err) != TS_OK);
    }
    CHECK_EQ(ts_tile_shard_open(&(ts_tile_shard *){NULL}, "/nonexistent.tiles", &err), TS_EIO);
    ts_buf_free(&orig);
}

int main(void) {
    snprintf(path, sizeof path, "%s/shard-%ld.tiles", harness_tmpdir(), (long)getpid());
    RUN(test_round_trip_and_lookup);
    RUN(test_duplicate_key_refused);
    RUN(test_every_flipped_byte_detected);
    RUN(test_truncation_detected);
    return harness_report();
}
