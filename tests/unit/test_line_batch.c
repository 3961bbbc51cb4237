/* core/line_batch.h: bounded batches of owned lines, and the ordered map. */
#include <unistd.h>
#include <zstd.h>

#include "../harness.h"
#include "core/line_batch.h"

static void path_in_tmp(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/line-batch-%ld-%s", harness_tmpdir(), (long)getpid(), name);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* "line 0\n" ... "line N-1\n" in a file; returns its path in `path`. */
static void numbered_file(char *path, size_t size, const char *name, int lines) {
    path_in_tmp(path, size, name);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < lines; i++) fprintf(f, "line %d\n", i);
    fclose(f);
}

static void test_batches_by_line_count(void) {
    char path[512];
    numbered_file(path, sizeof path, "seven.txt", 7);
    ts_line_reader *r = NULL;
    ts_error err;
    CHECK_OK(ts_line_reader_open(&r, path, &err), &err);
    ts_line_batch b;
    CHECK_OK(ts_line_batch_init(&b, 3, 0, &err), &err);
    size_t sizes[4] = {0};
    int eofs[4] = {0}, batches = 0, next = 0;
    for (int eof = 0; !eof && batches < 4; batches++) {
        CHECK_OK(ts_line_batch_read(&b, r, &eof, &err), &err);
        sizes[batches] = b.n;
        eofs[batches] = eof;
        for (size_t i = 0; i < b.n; i++, next++) {
            char want[32];
            snprintf(want, sizeof want, "line %d", next);
            CHECK_STR(b.lines[i], want);
            CHECK_EQ(b.lens[i], strlen(want));
        }
    }
    CHECK_EQ(batches, 3);
    CHECK_EQ(sizes[0], 3);
    CHECK_EQ(sizes[1], 3);
    CHECK_EQ(sizes[2], 1);
    CHECK(!eofs[0] && !eofs[1] && eofs[2]);
    ts_line_batch_free(&b);
    CHECK(b.lines == NULL && b.n == 0);
    ts_line_batch_free(&b); /* twice is fine */
    ts_line_reader_close(r);
}

static void test_batches_by_bytes_and_empty_input(void) {
    char path[512];
    numbered_file(path, sizeof path, "bytes.txt", 10); /* "line 0".."line 9": 6 bytes each */
    ts_line_reader *r = NULL;
    ts_error err;
    CHECK_OK(ts_line_reader_open(&r, path, &err), &err);
    ts_line_batch b;
    CHECK_OK(ts_line_batch_init(&b, 100, 13, &err), &err);
    int eof = 0;
    CHECK_OK(ts_line_batch_read(&b, r, &eof, &err), &err);
    CHECK_EQ(b.n, 3); /* 6 + 6 < 13, the third line reaches it */
    CHECK_STR(b.lines[2], "line 2");
    CHECK_EQ(eof, 0);
    ts_line_batch_free(&b);
    ts_line_reader_close(r);

    path_in_tmp(path, sizeof path, "empty.txt");
    write_bytes(path, "", 0);
    CHECK_OK(ts_line_reader_open(&r, path, &err), &err);
    CHECK_OK(ts_line_batch_init(&b, 4, 0, &err), &err);
    eof = 0;
    CHECK_OK(ts_line_batch_read(&b, r, &eof, &err), &err);
    CHECK_EQ(b.n, 0);
    CHECK_EQ(eof, 1);
    ts_line_batch_free(&b);
    ts_line_reader_close(r);

    CHECK_EQ(ts_line_batch_init(&b, 0, 0, &err), TS_EINVAL);
    CHECK(b.lines == NULL);
}

typedef struct map_ctx {
    size_t lens[8];   /* per slot: the line's length, set by the map */
    int workers[8];   /* per slot: the worker that mapped it */
    ts_buf seen;      /* "record:len," (or "record:error,") in the order consume saw them */
    uint64_t fail_at; /* consume fails at this record; UINT64_MAX: never */
    int max_workers;
} map_ctx;

/* A line's length; a line that starts with '!' fails (with the line as the message). */
static ts_status map_len(void *ctxp, size_t slot, int worker, const char *line, size_t len, ts_error *err) {
    map_ctx *c = ctxp;
    c->lens[slot] = strlen(line) == len ? len : 0;
    c->workers[slot] = worker;
    return line[0] == '!' ? ts_fail(err, TS_EFORMAT, "%s", line) : TS_OK;
}

static ts_status consume_len(void *ctxp, size_t slot, uint64_t record, const ts_error *failed, ts_error *err) {
    map_ctx *c = ctxp;
    if (record == c->fail_at) return ts_fail(err, TS_EIO, "record %llu refused", (unsigned long long)record);
    if (c->workers[slot] < 0 || c->workers[slot] >= c->max_workers) c->lens[slot] = 0;
    char item[48];
    int n = failed ? snprintf(item, sizeof item, "%llu:%s/%d,", (unsigned long long)record, failed->msg, failed->code)
                   : snprintf(item, sizeof item, "%llu:%zu,", (unsigned long long)record, c->lens[slot]);
    return ts_buf_append(&c->seen, item, (size_t)n, err);
}

/* Runs ts_map_lines over `path` with `threads`; the consumed sequence in *out. */
static ts_status map_file(const char *path, int threads, size_t max_lines, uint64_t fail_at, ts_buf *out,
                          ts_error *err) {
    ts_line_reader *r = NULL;
    ts_status st = ts_line_reader_open(&r, path, err);
    if (st) return st;
    ts_pool *pool = ts_pool_new(threads);
    map_ctx c = {.fail_at = fail_at, .max_workers = ts_pool_threads(pool), .seen = TS_BUF_INIT};
    st = ts_map_lines(r, pool, max_lines, 0, map_len, consume_len, &c, err);
    ts_buf_append(out, c.seen.data, c.seen.len, NULL);
    ts_buf_free(&c.seen);
    ts_pool_free(pool);
    ts_line_reader_close(r);
    return st;
}

static void test_map_lines_in_order_any_thread_count(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "map.txt");
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 23; i++) fprintf(f, "%.*s\n", i * 7 % 13, "abcdefghijklmnop");
    fclose(f);
    ts_buf want = TS_BUF_INIT;
    for (int i = 0; i < 23; i++) {
        char item[32];
        int n = snprintf(item, sizeof item, "%d:%d,", i, i * 7 % 13);
        ts_buf_append(&want, item, (size_t)n, NULL);
    }
    ts_error err;
    for (int threads = 1; threads <= 4; threads++) {
        for (size_t max_lines = 1; max_lines <= 8; max_lines += 3) {
            ts_buf got = TS_BUF_INIT;
            CHECK_OK(map_file(path, threads, max_lines, UINT64_MAX, &got, &err), &err);
            CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
            ts_buf_free(&got);
        }
    }
    ts_buf_free(&want);
}

/* A line the map fails reaches consume with its own error; the run goes on. */
static void test_map_lines_passes_line_failures(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "fail.txt");
    const char *text = "ab\n!x\nabc\n!yz\n";
    write_bytes(path, text, strlen(text));
    char want[64];
    snprintf(want, sizeof want, "0:2,1:!x/%d,2:3,3:!yz/%d,", TS_EFORMAT, TS_EFORMAT);
    ts_error err;
    for (int threads = 1; threads <= 3; threads++) {
        ts_buf got = TS_BUF_INIT;
        CHECK_OK(map_file(path, threads, 3, UINT64_MAX, &got, &err), &err);
        ts_buf_append(&got, "", 1, NULL);
        CHECK_STR((const char *)got.data, want);
        ts_buf_free(&got);
    }
}

static void test_map_lines_stops_at_failures(void) {
    char path[512];
    numbered_file(path, sizeof path, "stop.txt", 20);
    ts_error err;
    ts_buf got = TS_BUF_INIT;
    CHECK_EQ(map_file(path, 2, 8, 9, &got, &err), TS_EIO); /* in the second batch */
    CHECK_STR(err.msg, "record 9 refused");
    ts_buf_append(&got, "", 1, NULL);
    CHECK_STR((const char *)got.data, "0:6,1:6,2:6,3:6,4:6,5:6,6:6,7:6,8:6,");
    ts_buf_free(&got);

    /* A read error (a zstd file cut short) ends the run with that error. */
    char text[4000];
    size_t n = 0;
    for (int i = 0; i < 400; i++) n += (size_t)snprintf(text + n, sizeof text - n, "%d\n", i * 7919);
    uint8_t z[4096];
    size_t zn = ZSTD_compress(z, sizeof z, text, n, 3);
    path_in_tmp(path, sizeof path, "cut.zst");
    write_bytes(path, z, zn - 4);
    CHECK_EQ(map_file(path, 2, 8, UINT64_MAX, &got, &err), TS_EFORMAT);
    ts_buf_free(&got);
}

int main(void) {
    RUN(test_batches_by_line_count);
    RUN(test_batches_by_bytes_and_empty_input);
    RUN(test_map_lines_in_order_any_thread_count);
    RUN(test_map_lines_passes_line_failures);
    RUN(test_map_lines_stops_at_failures);
    return harness_report();
}
