/* The Parquet reader on small DuckDB-written fixtures, and on broken copies of
 * them: bad magic, truncation at every length, corrupted page headers and
 * single-bit flips everywhere must end in a clean error that names the file
 * (and the row group, column and page where one is at fault), never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "core/buf.h"
#include "ingest/parquet.h"
#include "ingest/parquet_internal.h"
#include "ingest/thrift_compact.h"

#define FIX_V1 "tests/fixtures/parquet/small-v1-snappy.parquet"
#define FIX_V2 "tests/fixtures/parquet/small-v2-zstd.parquet"

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Open and read every row as JSON; returns the status and the row count. */
static ts_status read_all(const char *path, const ts_pq_options *opt, int64_t *rows, ts_error *err) {
    ts_parquet *pq;
    *rows = 0;
    ts_status st = ts_parquet_open(&pq, path, opt, err);
    if (st) return st;
    const ts_pq_value *row;
    while ((st = ts_parquet_next(pq, &row, err)) == TS_OK) {
        cJSON *j = ts_pq_row_to_json(pq, row);
        if (!j) {
            st = TS_ENOMEM;
            break;
        }
        cJSON_Delete(j);
        (*rows)++;
    }
    ts_parquet_close(pq);
    return st == TS_ENOTFOUND ? TS_OK : st;
}

static void test_reads_fixture_typed(void) {
    const char *files[] = {FIX_V1, FIX_V2};
    for (int f = 0; f < 2; f++) {
        ts_error errv = {0}, *err = &errv;
        ts_parquet *pq;
        CHECK_OK(ts_parquet_open(&pq, files[f], NULL, err), err);
        if (!pq) return;
        CHECK_EQ(ts_parquet_num_rows(pq), 40);
        CHECK(ts_parquet_num_row_groups(pq) >= 1);
        const char *cols[] = {"l", "id", "image"};
        CHECK_OK(ts_parquet_select(pq, cols, 3, err), err);
        CHECK_EQ(ts_parquet_num_selected(pq), 3);
        const ts_pq_node *image = ts_parquet_selected(pq, 2);
        CHECK_STR(image->name, "image");
        CHECK_EQ(image->nchildren, 2);
        const ts_pq_value *row;
        int64_t n = 0;
        ts_status st;
        while ((st = ts_parquet_next(pq, &row, err)) == TS_OK) {
            CHECK_EQ(row[1].kind, TS_PQ_V_INT64);
            CHECK_EQ(row[1].u.i64, n);
            ts_pq_list_view lv;
            if (n % 5 == 0) {
                CHECK(!ts_pq_list(ts_parquet_selected(pq, 0), &row[0], &lv));
            } else {
                CHECK(ts_pq_list(ts_parquet_selected(pq, 0), &row[0], &lv));
                CHECK_EQ(lv.n, n % 4);
                for (size_t i = 0; i < lv.n; i++) CHECK_EQ(ts_pq_list_at(&lv, i)->u.i32, (int)i);
            }
            CHECK_EQ(row[2].kind, TS_PQ_V_GROUP);
            CHECK_EQ(row[2].u.items[0].kind, TS_PQ_V_BYTES);
            CHECK_EQ(row[2].u.items[0].u.bytes[0], 0xFF);
            n++;
        }
        CHECK_EQ(st, TS_ENOTFOUND);
        CHECK_EQ(n, 40);
        ts_parquet_close(pq);
    }
}

static void test_unknown_column(void) {
    ts_error errv = {0}, *err = &errv;
    ts_parquet *pq;
    CHECK_OK(ts_parquet_open(&pq, FIX_V1, NULL, err), err);
    const char *cols[] = {"nope"};
    CHECK_EQ(ts_parquet_select(pq, cols, 1, err), TS_ENOTFOUND);
    CHECK(strstr(err->msg, "nope") != NULL);
    ts_parquet_close(pq);
}

static void test_bad_magic(void) {
    size_t n;
    uint8_t *b = slurp(FIX_V1, &n);
    CHECK(b != NULL);
    if (!b) return;
    char path[512];
    snprintf(path, sizeof path, "%s/pq_magic.parquet", harness_tmpdir());
    ts_error errv = {0}, *err = &errv;
    int64_t rows;
    b[0] = 'X';
    spit(path, b, n);
    CHECK_EQ(read_all(path, NULL, &rows, err), TS_EFORMAT);
    CHECK(strstr(err->msg, path) != NULL && strstr(err->msg, "magic") != NULL);
    b[0] = 'P';
    b[n - 1] = 'X';
    spit(path, b, n);
    CHECK_EQ(read_all(path, NULL, &rows, err), TS_EFORMAT);
    CHECK(strstr(err->msg, "magic") != NULL);
    free(b);
}

static void test_truncated_everywhere(void) {
    size_t n;
    uint8_t *b = slurp(FIX_V1, &n);
    CHECK(b != NULL);
    if (!b) return;
    char path[512];
    snprintf(path, sizeof path, "%s/pq_trunc.parquet", harness_tmpdir());
    int bad = 0;
    for (size_t len = 0; len < n; len++) {
        spit(path, b, len);
        ts_error errv = {0}, *err = &errv;
        int64_t rows;
        ts_status st = read_all(path, NULL, &rows, err);
        if (st == TS_OK || strncmp(err->msg, path, strlen(path)) != 0) {
            if (!bad++) fprintf(stderr, "  length %zu: status %d: %s\n", len, st, err->msg);
        }
    }
    CHECK_EQ(bad, 0);
    free(b);
}

/* The footer length field says more than the file holds. */
static void test_footer_length(void) {
    size_t n;
    uint8_t *b = slurp(FIX_V1, &n);
    if (!b) return;
    char path[512];
    snprintf(path, sizeof path, "%s/pq_flen.parquet", harness_tmpdir());
    ts_put_u32le(b + n - 8, (uint32_t)n);
    spit(path, b, n);
    ts_error errv = {0}, *err = &errv;
    int64_t rows;
    CHECK_EQ(read_all(path, NULL, &rows, err), TS_EFORMAT);
    CHECK(strstr(err->msg, "footer length") != NULL);
    free(b);
}

/* Garbage where the first page header of the first column chunk sits. */
static void test_corrupt_page_header(void) {
    size_t n;
    uint8_t *b = slurp(FIX_V1, &n);
    if (!b) return;
    char path[512];
    snprintf(path, sizeof path, "%s/pq_page.parquet", harness_tmpdir());
    memset(b + 4, 0xEE, 6);
    spit(path, b, n);
    ts_error errv = {0}, *err = &errv;
    int64_t rows;
    CHECK_EQ(read_all(path, NULL, &rows, err), TS_EFORMAT);
    CHECK(strstr(err->msg, path) != NULL);
    CHECK(strstr(err->msg, "row group 0") != NULL);
    CHECK(strstr(err->msg, "column id") != NULL);
    CHECK(strstr(err->msg, "page 0") != NULL);
    fprintf(stderr, "  (message: %s)\n", err->msg);
    free(b);
}

/* Flip one bit in every byte of both fixtures: each read succeeds or fails
 * with a message that starts with the file name; none may crash (ASan/UBSan
 * builds check the rest). */
static void test_bit_flips(void) {
    const char *files[] = {FIX_V1, FIX_V2};
    for (int f = 0; f < 2; f++) {
        size_t n;
        uint8_t *b = slurp(files[f], &n);
        if (!b) return;
        char path[512];
        snprintf(path, sizeof path, "%s/pq_flip.parquet", harness_tmpdir());
        int bad = 0, failed = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t bit = (uint8_t)(1u << (i * 5 % 8));
            b[i] ^= bit;
            spit(path, b, n);
            ts_error errv = {0}, *err = &errv;
            int64_t rows;
            ts_status st = read_all(path, NULL, &rows, err);
            if (st) {
                failed++;
                if (strncmp(err->msg, path, strlen(path)) != 0 && !bad++)
                    fprintf(stderr, "  byte %zu: status %d: %s\n", i, st, err->msg);
            }
            b[i] ^= bit;
        }
        CHECK_EQ(bad, 0);
        CHECK(failed > 0); /* corruption is seen somewhere */
        free(b);
    }
}

static void test_row_group_cap(void) {
    ts_pq_options opt = {64};
    ts_error errv = {0}, *err = &errv;
    int64_t rows;
    CHECK_EQ(read_all(FIX_V1, &opt, &rows, err), TS_ELIMIT);
    CHECK(strstr(err->msg, "row group 0") != NULL && strstr(err->msg, "cap") != NULL);
}

static void test_codecs_refused(void) {
    ts_error errv = {0}, *err = &errv;
    uint8_t out[4];
    CHECK_EQ(pq_decompress(PQ_LZ4, (const uint8_t *)"abcd", 4, out, 4, err), TS_EUNSUPPORTED);
    CHECK(strstr(err->msg, "LZ4") != NULL);
    CHECK_EQ(pq_decompress(PQ_BROTLI, (const uint8_t *)"abcd", 4, out, 4, err), TS_EUNSUPPORTED);
    CHECK_EQ(pq_decompress(PQ_SNAPPY, (const uint8_t *)"\xff\xff\xff\xff", 4, out, 4, err), TS_EFORMAT);
    CHECK_EQ(pq_decompress(PQ_GZIP, (const uint8_t *)"abcd", 4, out, 4, err), TS_EFORMAT);
    CHECK_EQ(pq_decompress(PQ_ZSTD, (const uint8_t *)"abcd", 4, out, 4, err), TS_EFORMAT);
}

/* RLE/bit-packed hybrid: the spec's example (bit width 3, values 0..7 packed)
 * followed by a run of five 4s. */
static void test_rle_hybrid(void) {
    const uint8_t data[] = {0x03, 0x88, 0xC6, 0xFA, 0x0A, 0x04};
    uint32_t out[13];
    pq_rle r;
    ts_error errv = {0}, *err = &errv;
    pq_rle_init(&r, data, data + sizeof data, 3);
    CHECK_OK(pq_rle_read(&r, out, 13, err), err);
    for (uint32_t i = 0; i < 8; i++) CHECK_EQ(out[i], i);
    for (int i = 8; i < 13; i++) CHECK_EQ(out[i], 4);
    CHECK_EQ(pq_rle_read(&r, out, 1, err), TS_EFORMAT); /* nothing left */
}

/* DELTA_BINARY_PACKED: the spec's example 1..5 (all deltas 1, width 0). */
static void test_delta_binary(void) {
    const uint8_t data[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00};
    int32_t out[5];
    size_t used;
    ts_error errv = {0}, *err = &errv;
    CHECK_OK(pq_delta_binary_decode(data, data + sizeof data, 0, out, 5, &used, err), err);
    for (int i = 0; i < 5; i++) CHECK_EQ(out[i], i + 1);
    CHECK_EQ(used, sizeof data);
    CHECK_EQ(pq_delta_binary_decode(data, data + 5, 0, out, 5, &used, err), TS_EFORMAT);
}

/* A list header claiming more elements than bytes left is refused before any
 * allocation; deep nesting is capped. */
static void test_thrift_bounds(void) {
    ts_error errv = {0}, *err = &errv;
    tc_reader r;
    const uint8_t list[] = {0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
    int et;
    uint32_t count;
    tc_init(&r, list, sizeof list, err);
    CHECK_EQ(tc_list(&r, TC_LIST, &et, &count), TS_EFORMAT);
    uint8_t deep[200];
    memset(deep, 0x1C, sizeof deep); /* field 1, type struct, nested forever */
    tc_init(&r, deep, sizeof deep, err);
    CHECK_EQ(tc_skip(&r, TC_STRUCT), TS_EFORMAT);
    CHECK(strstr(err->msg, "nesting") != NULL);
}

static char *json_text(const ts_pq_node *n, const ts_pq_value *v) {
    cJSON *j = ts_pq_value_to_json(n, v);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Legacy list shapes no writer at hand produces: 2-level LIST of a repeated
 * primitive, a repeated group named "array" (elements are structs), and a
 * bare repeated field. */
static void test_legacy_lists(void) {
    ts_pq_node elem = {.name = "array", .physical = TS_PQ_INT32, .repetition = TS_PQ_REPEATED};
    ts_pq_node *kids[] = {&elem};
    ts_pq_node list = {.name = "a", .physical = TS_PQ_GROUP, .repetition = TS_PQ_OPTIONAL,
                       .logical = TS_PQ_L_LIST, .nchildren = 1, .children = kids};
    ts_pq_value items[] = {{TS_PQ_V_INT32, 0, {.i32 = 7}}, {TS_PQ_V_INT32, 0, {.i32 = -1}}};
    ts_pq_value inner = {TS_PQ_V_LIST, 2, {.items = items}};
    ts_pq_value v = {TS_PQ_V_GROUP, 1, {.items = &inner}};
    char *s = json_text(&list, &v);
    CHECK_STR(s, "[7,-1]");
    free(s);
    s = json_text(&elem, &inner); /* the bare repeated field */
    CHECK_STR(s, "[7,-1]");
    free(s);

    ts_pq_node x = {.name = "x", .physical = TS_PQ_INT32, .repetition = TS_PQ_REQUIRED};
    ts_pq_node y = {.name = "y", .physical = TS_PQ_BYTE_ARRAY, .repetition = TS_PQ_OPTIONAL,
                    .logical = TS_PQ_L_STRING};
    ts_pq_node *fields[] = {&x, &y};
    ts_pq_node arr = {.name = "array", .physical = TS_PQ_GROUP, .repetition = TS_PQ_REPEATED,
                      .nchildren = 1, .children = fields};
    ts_pq_node *arrk[] = {&arr};
    ts_pq_node list2 = {.name = "b", .physical = TS_PQ_GROUP, .repetition = TS_PQ_OPTIONAL,
                        .logical = TS_PQ_L_LIST, .nchildren = 1, .children = arrk};
    ts_pq_value f0[] = {{TS_PQ_V_INT32, 0, {.i32 = 1}}};
    ts_pq_value el[] = {{TS_PQ_V_GROUP, 1, {.items = f0}}};
    ts_pq_value in2 = {TS_PQ_V_LIST, 1, {.items = el}};
    ts_pq_value v2 = {TS_PQ_V_GROUP, 1, {.items = &in2}};
    s = json_text(&list2, &v2); /* one-field struct elements, not unwrapped */
    CHECK_STR(s, "[{\"x\":1}]");
    free(s);
    ts_pq_value null_list = {TS_PQ_V_NULL, 0, {0}};
    s = json_text(&list2, &null_list);
    CHECK_STR(s, "null");
    free(s);
}

int main(void) {
    RUN(test_legacy_lists);
    RUN(test_reads_fixture_typed);
    RUN(test_unknown_column);
    RUN(test_bad_magic);
    RUN(test_truncated_everywhere);
    RUN(test_footer_length);
    RUN(test_corrupt_page_header);
    RUN(test_bit_flips);
    RUN(test_row_group_cap);
    RUN(test_codecs_refused);
    RUN(test_rle_hybrid);
    RUN(test_delta_binary);
    RUN(test_thrift_bounds);
    return harness_report();
}
