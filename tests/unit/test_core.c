/* Tests of the shared core: errors, buffers, hashing, atomic writer, zstd
 * blocks, the line reader and the thread pool. */
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hash_set.h"
#include "core/byte_source.h"
#include "core/io.h"
#include "core/json.h"
#include "core/pool.h"
#include "tests/harness.h"

static void path_in_tmp(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/core-%ld-%s", harness_tmpdir(), (long)getpid(), name);
}

static void test_error_context_chain(void) {
    ts_error err;
    ts_error_clear(&err);
    CHECK_EQ(ts_fail(&err, TS_EFORMAT, "jpeg: premature end"), TS_EFORMAT);
    ts_error_context(&err, "record %d (%s)", 17, "img.jpg");
    ts_error_context(&err, "%s", "photos.tar");
    CHECK_STR(err.msg, "photos.tar: record 17 (img.jpg): jpeg: premature end");
    CHECK_EQ(err.code, TS_EFORMAT);
    CHECK_STR(ts_status_name(TS_ELIMIT), "limit");
    /* NULL error is accepted everywhere. */
    CHECK_EQ(ts_fail(NULL, TS_EIO, "x"), TS_EIO);
    CHECK_EQ(ts_error_context(NULL, "y"), TS_OK);
}

static void test_error_context_truncates(void) {
    ts_error err;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ts_fail(&err, TS_EIO, "%s", big);
    ts_error_context(&err, "%s", big);
    CHECK_EQ(strlen(err.msg), TS_ERROR_MSG_MAX - 1);
}

static void test_buf_grow_and_le(void) {
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    for (int i = 0; i < 1000; i++) CHECK_OK(ts_buf_put_u32le(&b, (uint32_t)i * 2654435761u, &err), &err);
    CHECK_EQ(b.len, 4000);
    for (int i = 0; i < 1000; i++) CHECK_EQ(ts_get_u32le(b.data + 4 * i), (uint32_t)i * 2654435761u);
    ts_buf_reset(&b);
    CHECK_OK(ts_buf_put_u64le(&b, 0x0102030405060708ull, &err), &err);
    CHECK_EQ(b.data[0], 0x08);
    CHECK_EQ(b.data[7], 0x01);
    CHECK(ts_get_u64le(b.data) == 0x0102030405060708ull);
    ts_buf_reset(&b);
    CHECK_OK(ts_buf_printf(&b, &err, "%s-%d", "tile", 7), &err);
    CHECK_EQ(b.len, 6);
    CHECK(memcmp(b.data, "tile-7", 6) == 0);
    ts_buf_free(&b);
}

static void test_xxh3_known_values(void) {
    /* Reference values from the xxHash project's own sanity tests (empty input). */
    CHECK(ts_xxh3_64("", 0) == 0x2D06800538D394C2ull);
    ts_hash128 h = ts_xxh3_128("", 0);
    CHECK(h.hi == 0x99AA06D3014798D8ull && h.lo == 0x6001C324468D497Full);
    char hex[33];
    ts_hash128_hex(h, hex);
    CHECK_STR(hex, "99aa06d3014798d86001c324468d497f");
    /* Streaming equals one-shot. */
    const char *text = "the quick brown fox jumps over the lazy dog";
    ts_hasher *s = ts_hasher_new();
    ts_hasher_update(s, text, 10);
    ts_hasher_update(s, text + 10, strlen(text) - 10);
    CHECK(ts_hasher_digest(s) == ts_xxh3_64(text, strlen(text)));
    ts_hasher_free(s);
}

static void test_hash_set(void) {
    ts_hash_set set = TS_HASH_SET_INIT;
    CHECK(!ts_hash_set_contains(&set, (ts_hash128){1, 2}));
    for (uint64_t i = 0; i < 20000; i++)
        CHECK_EQ(ts_hash_set_insert(&set, (ts_hash128){i * 0x9E3779B97F4A7C15ull, i}), 1);
    for (uint64_t i = 0; i < 20000; i += 7)
        CHECK_EQ(ts_hash_set_insert(&set, (ts_hash128){i * 0x9E3779B97F4A7C15ull, i}), 0);
    CHECK(ts_hash_set_contains(&set, (ts_hash128){0, 0})); /* i == 0: the zero hash is a real member */
    CHECK(!ts_hash_set_contains(&set, (ts_hash128){5, 5}));
    CHECK_EQ(set.used, 20000);
    ts_hash_set_free(&set);
}

static void test_writer_commit_and_abort(void) {
    char path[512], tmp[600];
    path_in_tmp(path, sizeof path, "out.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    ts_error err;
    ts_writer *w = NULL;
    CHECK_OK(ts_writer_open(&w, path, &err), &err);
    if (!w) return;
    uint8_t block[3000];
    for (size_t i = 0; i < sizeof block; i++) block[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 1000; i++) CHECK_OK(ts_writer_write(w, block, sizeof block, &err), &err);
    CHECK_EQ(ts_writer_offset(w), 3000000);
    CHECK(access(path, F_OK) != 0); /* nothing under the final name yet */
    CHECK(access(tmp, F_OK) == 0);
    uint64_t digest = ts_writer_xxh3(w);
    CHECK_OK(ts_writer_commit(w, &err), &err);
    CHECK(access(tmp, F_OK) != 0);
    ts_buf back = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 30, &back, &err), &err);
    CHECK_EQ(back.len, 3000000);
    CHECK(ts_xxh3_64(back.data, back.len) == digest);
    ts_buf_reset(&back);
    CHECK_EQ(ts_read_file(path, 100, &back, &err), TS_ELIMIT);
    CHECK_EQ(back.len, 0);
    ts_buf_free(&back);
    unlink(path);

    CHECK_OK(ts_writer_open(&w, path, &err), &err);
    CHECK_OK(ts_writer_write(w, "partial", 7, &err), &err);
    ts_writer_abort(w);
    CHECK(access(path, F_OK) != 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_EQ(ts_writer_open(&w, "/nonexistent-dir/x", &err), TS_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/x") != NULL);
}

static void test_write_file_atomic(void) {
    char path[512], tmp[600];
    path_in_tmp(path, sizeof path, "oneshot.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    ts_error err;
    for (int durable = 0; durable <= 1; durable++) {
        CHECK_OK(ts_write_file_atomic(path, "tessera", 7, durable, &err), &err);
        ts_buf back = TS_BUF_INIT;
        CHECK_OK(ts_read_file(path, 100, &back, &err), &err);
        CHECK(back.len == 7 && memcmp(back.data, "tessera", 7) == 0);
        CHECK(access(tmp, F_OK) != 0);
        ts_buf_free(&back);
    }
    CHECK_EQ(ts_write_file_atomic("/nonexistent-dir/x", "a", 1, 0, &err), TS_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/x") != NULL);
}

static void test_zstd_block_roundtrip(void) {
    ts_buf z = TS_BUF_INIT, back = TS_BUF_INIT;
    ts_error err;
    char text[5000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = "tessera"[i % 7];
    CHECK_OK(ts_zstd_compress(text, sizeof text, 3, &z, &err), &err);
    CHECK(z.len < 200);
    CHECK_OK(ts_zstd_decompress(z.data, z.len, sizeof text, &back, &err), &err);
    CHECK(back.len == sizeof text && memcmp(back.data, text, sizeof text) == 0);
    ts_buf_reset(&back);
    CHECK_EQ(ts_zstd_decompress(z.data, z.len, sizeof text + 1, &back, &err), TS_EFORMAT);
    z.data[z.len / 2] ^= 0x55;
    ts_buf_reset(&back);
    CHECK(ts_zstd_decompress(z.data, z.len, sizeof text, &back, &err) != TS_OK);
    ts_buf_reset(&back);
    CHECK_EQ(ts_zstd_decompress("garbage!", 8, 8, &back, &err), TS_EFORMAT);
    ts_buf_free(&z);
    ts_buf_free(&back);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static int read_lines(const char *path, char lines[][64], int max) {
    ts_line_reader *r = NULL;
    ts_error err;
    if (ts_line_reader_open(&r, path, &err)) return -1;
    const char *line;
    size_t len;
    int n = 0;
    ts_status st;
    while ((st = ts_line_reader_next(r, &line, &len, &err)) == TS_OK && n < max) {
        CHECK_EQ(strlen(line), len);
        snprintf(lines[n++], 64, "%s", line);
    }
    CHECK_EQ(st, TS_ENOTFOUND);
    ts_line_reader_close(r);
    return n;
}

static void test_line_reader_plain_zstd_gzip(void) {
    const char *text = "alpha\r\nbeta\n\ngamma"; /* CRLF, an empty line, no final newline */
    char path[512];
    char lines[8][64];

    path_in_tmp(path, sizeof path, "lines.txt");
    write_bytes(path, text, strlen(text));
    CHECK_EQ(read_lines(path, lines, 8), 4);
    CHECK_STR(lines[0], "alpha");
    CHECK_STR(lines[1], "beta");
    CHECK_STR(lines[2], "");
    CHECK_STR(lines[3], "gamma");

    uint8_t z[256];
    size_t zn = ZSTD_compress(z, sizeof z, text, strlen(text), 3);
    path_in_tmp(path, sizeof path, "lines.bin"); /* no extension: sniffed by magic */
    write_bytes(path, z, zn);
    CHECK_EQ(read_lines(path, lines, 8), 4);
    CHECK_STR(lines[3], "gamma");

    path_in_tmp(path, sizeof path, "lines.gz");
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
    CHECK_EQ(read_lines(path, lines, 8), 4);
    CHECK_STR(lines[1], "beta");

    ts_line_reader *r = NULL;
    ts_error err;
    CHECK_EQ(ts_line_reader_open(&r, "/nonexistent/file.jsonl", &err), TS_EIO);
}

/* Whole bytes of a (compressed) file through the byte source; the status
 * that ended the read in *end. */
static size_t drain(const char *path, ts_status *end, ts_error *err) {
    ts_byte_source *s = NULL;
    *end = ts_byte_source_open(&s, path, err);
    if (*end) return 0;
    size_t total = 0;
    const uint8_t *d;
    size_t n;
    while ((*end = ts_byte_source_next(s, &d, &n, err)) == TS_OK) total += n;
    ts_byte_source_close(s);
    return total;
}

static void test_byte_source_truncated_and_drained(void) {
    /* 8 MiB of one byte compresses to a few KB, so the last input block
     * yields many output blocks after the file has been read to its end. */
    size_t big = 8u << 20;
    char *text = malloc(big);
    memset(text, 'x', big);
    size_t cap = ZSTD_compressBound(big);
    uint8_t *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, text, big, 3);
    char path[512];
    ts_error err;
    ts_status end;
    path_in_tmp(path, sizeof path, "big.zst");
    write_bytes(path, z, zn);
    CHECK_EQ(drain(path, &end, &err), big);
    CHECK_EQ(end, TS_ENOTFOUND);
    write_bytes(path, z, zn - 3); /* cut inside the frame */
    drain(path, &end, &err);
    CHECK_EQ(end, TS_EFORMAT);
    CHECK(strstr(err.msg, "truncated zstd") != NULL);

    path_in_tmp(path, sizeof path, "big.gz");
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)big);
    gzclose(g);
    CHECK_EQ(drain(path, &end, &err), big);
    CHECK_EQ(end, TS_ENOTFOUND);
    FILE *f = fopen(path, "rb");
    size_t gn = fread(z, 1, cap, f);
    fclose(f);
    write_bytes(path, z, gn - 8); /* the trailer (CRC, size) missing */
    drain(path, &end, &err);
    CHECK_EQ(end, TS_EFORMAT);
    CHECK(strstr(err.msg, "truncated gzip") != NULL);
    free(z);
    free(text);
}

static void test_line_reader_long_lines(void) {
    /* Lines that straddle the internal chunk boundary many times. */
    char path[512];
    path_in_tmp(path, sizeof path, "long.txt");
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 50; i++) {
        for (int k = 0; k < 10000 + i * 997; k++) fputc('a' + i % 26, f);
        fputc('\n', f);
    }
    fclose(f);
    ts_line_reader *r = NULL;
    ts_error err;
    CHECK_OK(ts_line_reader_open(&r, path, &err), &err);
    const char *line;
    size_t len;
    int n = 0;
    while (ts_line_reader_next(r, &line, &len, &err) == TS_OK) {
        CHECK_EQ(len, (size_t)(10000 + n * 997));
        CHECK(line[0] == 'a' + n % 26 && line[len - 1] == 'a' + n % 26);
        n++;
    }
    CHECK_EQ(n, 50);
    CHECK_EQ(ts_line_reader_line_number(r), 50);
    ts_line_reader_close(r);
}

typedef struct pool_ctx {
    uint64_t *out;
    atomic_int calls;
} pool_ctx;

static void square(void *ctxp, size_t i, int worker) {
    pool_ctx *ctx = ctxp;
    (void)worker;
    ctx->out[i] = (uint64_t)i * i;
    atomic_fetch_add(&ctx->calls, 1);
}

static void test_pool_runs_every_index_once(void) {
    for (int threads = 1; threads <= 4; threads++) {
        ts_pool *p = ts_pool_new(threads);
        CHECK(p != NULL);
        CHECK_EQ(ts_pool_threads(p), threads);
        for (size_t n = 0; n < 2000; n += 333) {
            pool_ctx ctx = {calloc(n + 1, sizeof(uint64_t)), 0};
            ts_pool_run(p, n, square, &ctx);
            CHECK_EQ(atomic_load(&ctx.calls), (int)n);
            for (size_t i = 0; i < n; i++) CHECK(ctx.out[i] == (uint64_t)i * i);
            free(ctx.out);
        }
        ts_pool_free(p);
    }
    CHECK(ts_cpu_count() >= 1);
}

static void test_json_helpers(void) {
    cJSON *j = NULL;
    ts_error err;
    const char *text = "{\"a\": \"x\", \"n\": 3, \"f\": 2.5, \"b\": true}";
    CHECK_OK(ts_json_parse(text, strlen(text), &j, &err), &err);
    CHECK_STR(ts_json_str(j, "a", NULL), "x");
    CHECK_EQ(ts_json_int(j, "n", -1), 3);
    CHECK_EQ(ts_json_int(j, "f", -1), -1); /* not an integer */
    CHECK(ts_json_num(j, "f", 0) == 2.5);
    CHECK_EQ(ts_json_bool(j, "b", 0), 1);
    CHECK(ts_json_str(j, "missing", NULL) == NULL);
    cJSON_Delete(j);
    CHECK_EQ(ts_json_parse("{\"a\": [1, 2", 11, &j, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "byte") != NULL);
    /* A record's string member. */
    const char *value = NULL;
    CHECK_OK(ts_json_parse_str_member(text, strlen(text), "a", &j, &value, &err), &err);
    CHECK_STR(value, "x");
    cJSON_Delete(j);
    CHECK_EQ(ts_json_parse_str_member(text, strlen(text), "n", &j, &value, &err), TS_EFORMAT);
    CHECK_STR(err.msg, "no string member \"n\"");
    CHECK(j == NULL);
    CHECK_EQ(ts_json_parse_str_member("[1", 2, "a", &j, &value, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "invalid JSON") != NULL && j == NULL);
}

static void test_mkdirs(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "a/b/c");
    ts_error err;
    CHECK_OK(ts_mkdirs(path, &err), &err);
    CHECK_OK(ts_mkdirs(path, &err), &err); /* idempotent */
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

int main(void) {
    RUN(test_error_context_chain);
    RUN(test_error_context_truncates);
    RUN(test_buf_grow_and_le);
    RUN(test_xxh3_known_values);
    RUN(test_hash_set);
    RUN(test_writer_commit_and_abort);
    RUN(test_write_file_atomic);
    RUN(test_zstd_block_roundtrip);
    RUN(test_line_reader_plain_zstd_gzip);
    RUN(test_line_reader_long_lines);
    RUN(test_byte_source_truncated_and_drained);
    RUN(test_pool_runs_every_index_once);
    RUN(test_json_helpers);
    RUN(test_mkdirs);
    return harness_report();
}
