/* Ingest pipeline pieces: the text dedup key, the retry set read back from a
 * drop log, the checkpoint round trip, and a whole run over a real manifest
 * with file:// image URLs (servers and faults: check_ingest.sh). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/json.h"
#include "ingest/ingest.h"
#include "ingest/ingest_internal.h"
#include "tests/harness.h"
#include "tiler/tile_png.h"

static void tmp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/test_ingest_%s", harness_tmpdir(), name);
}

static void rm_rf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "  rm failed\n");
}

static void write_text(const char *path, const char *text) {
    ts_error err;
    CHECK_OK(ts_write_file_atomic(path, text, strlen(text), 0, &err), &err);
}

static void test_text_key(void) {
    ts_sample s;
    ts_sample_init(&s);
    ts_error err;
    ts_buf key = TS_BUF_INIT;
    int has;
    s.task = TS_TASK_CAPTION;
    ts_sample_set_cstr(&s.text, "a cat", &err);
    CHECK_OK(ts_ingest_text_key(&s, &key, &has, &err), &err);
    CHECK(has && key.len == 5 && !memcmp(key.data, "a cat", 5));
    ts_sample_clear(&s);
    s.task = TS_TASK_TEXT;
    ts_sample_add_turn(&s, TS_ROLE_USER, "hi", 2, &err);
    ts_sample_add_turn(&s, TS_ROLE_ASSISTANT, "hello", 5, &err);
    CHECK_OK(ts_ingest_text_key(&s, &key, &has, &err), &err);
    CHECK(has);
    CHECK_EQ(key.len, strlen("user: hi\nassistant: hello\n"));
    CHECK(!memcmp(key.data, "user: hi\nassistant: hello\n", key.len));
    /* VQA with an image: the key is the image's hash and the turns, so
     * another question about the same image is another key. */
    ts_sample_clear(&s);
    s.task = TS_TASK_VQA;
    uint8_t rgb[8 * 8 * 3] = {0};
    ts_buf png = TS_BUF_INIT;
    ts_png_encode_rgb(rgb, 8, 8, &png, &err);
    CHECK_OK(ts_sample_add_image(&s, png.data, png.len, &err), &err);
    ts_sample_add_turn(&s, TS_ROLE_USER, "what is it?", 11, &err);
    CHECK_OK(ts_ingest_text_key(&s, &key, &has, &err), &err);
    char hex[33], want[128];
    ts_hash128_hex(s.images[0].xxh3, hex);
    snprintf(want, sizeof want, "image: %s\nuser: what is it?\n", hex);
    CHECK(has && key.len == strlen(want) && !memcmp(key.data, want, key.len));
    ts_sample_add_answer(&s, "a square", 8, 1.0, &err);
    CHECK_OK(ts_ingest_text_key(&s, &key, &has, &err), &err);
    CHECK(key.len > strlen(want) && strstr((const char *)key.data, "answer: a square\n") != NULL);
    ts_buf_free(&png);
    ts_buf_free(&key);
    ts_sample_free(&s);
}

static void test_retry_set(void) {
    char path[512];
    tmp_path(path, sizeof path, "drops.jsonl");
    write_text(path,
               "{\"ordinal\":3,\"pass\":1,\"reason\":\"http_5xx\"}\n"
               "{\"ordinal\":5,\"pass\":1,\"reason\":\"http_4xx\"}\n"
               "{\"ordinal\":7,\"pass\":1,\"reason\":\"timeout\"}\n"
               "{\"ordinal\":9,\"pass\":1,\"reason\":\"network\"}\n"
               "{\"ordinal\":12,\"pass\":1,\"reason\":\"http_429\"}\n"
               "{\"ordinal\":3,\"pass\":2,\"kept\":true}\n"
               "{\"ordinal\":7,\"pass\":2,\"reason\":\"connect\"}\n");
    ts_ingest_retry_set s;
    ts_error err;
    CHECK_OK(ts_ingest_retry_set_load(path, 10, &s, &err), &err);
    ts_outcome o;
    CHECK_EQ(s.n, 2); /* 7 (now connect) and 9; 3 was kept, 5 is final, 12 is past the frontier */
    CHECK(!ts_ingest_retry_set_find(&s, 3, &o));
    CHECK(!ts_ingest_retry_set_find(&s, 5, &o));
    CHECK(ts_ingest_retry_set_find(&s, 7, &o) && o == TS_OUT_CONNECT);
    CHECK(ts_ingest_retry_set_find(&s, 9, &o) && o == TS_OUT_NETWORK);
    CHECK(!ts_ingest_retry_set_find(&s, 12, &o));
    ts_ingest_retry_set_free(&s);
    write_text(path, "{\"ordinal\":1}\nnot json\n");
    CHECK_EQ(ts_ingest_retry_set_load(path, 10, &s, &err), TS_EFORMAT);
}

/* A manifest over JSONL records whose images are file:// URLs: 6 distinct
 * PNGs, a repeat, a missing file, a record without a URL. */
static void make_source(const char *dir, char *manifest, size_t n) {
    char path[1024];
    ts_buf recs = TS_BUF_INIT;
    ts_error err;
    for (int i = 0; i < 6; i++) {
        uint8_t rgb[16 * 16 * 3];
        for (size_t k = 0; k < sizeof rgb; k++) rgb[k] = (uint8_t)(k * (unsigned)(i + 3));
        ts_buf png = TS_BUF_INIT;
        ts_png_encode_rgb(rgb, 16, 16, &png, &err);
        snprintf(path, sizeof path, "%s/img%d.png", dir, i);
        CHECK_OK(ts_write_file_atomic(path, png.data, png.len, 0, &err), &err);
        ts_buf_free(&png);
        ts_buf_printf(&recs, &err, "{\"url\": \"file://%s\", \"caption\": \"picture %d\"}\n", path, i);
    }
    ts_buf_printf(&recs, &err, "{\"url\": \"file://%s/img2.png\", \"caption\": \"again\"}\n", dir);
    ts_buf_printf(&recs, &err, "{\"url\": \"file://%s/none.png\", \"caption\": \"gone\"}\n", dir);
    ts_buf_printf(&recs, &err, "{\"caption\": \"no url\"}\n");
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    CHECK_OK(ts_write_file_atomic(path, recs.data, recs.len, 0, &err), &err);
    ts_buf_free(&recs);
    snprintf(manifest, n, "%s/m.json", dir);
    write_text(manifest, "{\"name\": \"unit\", \"stage\": \"pretrain\", \"task\": \"caption\", "
                         "\"inputs\": [{\"path\": \"records.jsonl\"}], "
                         "\"mapping\": {\"images\": [{\"url\": \"url\"}], \"text\": \"caption\"}}");
}

static void test_run_and_continue(void) {
    char dir[512], manifest[1024], out[1024], path[1200];
    tmp_path(dir, sizeof dir, "src");
    rm_rf(dir);
    ts_error err;
    CHECK_OK(ts_mkdirs(dir, &err), &err);
    make_source(dir, manifest, sizeof manifest);
    snprintf(out, sizeof out, "%s/ds", dir);
    ts_ingest_options o;
    ts_ingest_options_default(&o);
    o.progress = 0;
    o.jobs = 2;
    o.shard_bytes = 4096;
    o.max_records = 4;
    ts_ingest_stats st;
    CHECK_OK(ts_ingest_run(manifest, out, &o, &st, &err), &err);
    CHECK_EQ(st.records_in, 4);
    CHECK_EQ(st.written, 4);
    CHECK_EQ(st.pass, 1);
    /* Raising the limit: pass 2 reads on past the frontier. */
    o.max_records = 0;
    CHECK_OK(ts_ingest_run(manifest, out, &o, &st, &err), &err);
    CHECK_EQ(st.pass, 2);
    CHECK_EQ(st.records_in, 9);
    CHECK_EQ(st.written, 6);
    CHECK_EQ(st.processed, 5);
    snprintf(path, sizeof path, "%s/stats/summary.json", out);
    cJSON *sum;
    CHECK_OK(ts_json_load_file(path, 1 << 20, &sum, &err), &err);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(sum, "dropped_by_reason");
    CHECK_EQ(ts_json_int(by, "dup_image", 0), 1);
    CHECK_EQ(ts_json_int(by, "io", 0), 1);
    CHECK_EQ(ts_json_int(by, "missing_field", 0), 1);
    CHECK_EQ(ts_json_int(sum, "records_in", 0), 9);
    cJSON_Delete(sum);
    /* The checkpoint round trip. */
    ts_ingest_checkpoint ck;
    snprintf(path, sizeof path, "%s/state/checkpoint.json", out);
    CHECK_OK(ts_ingest_checkpoint_load(path, &ck, &err), &err);
    CHECK(ck.finished);
    CHECK_EQ(ck.frontier, 9);
    CHECK_EQ(ck.written, 6);
    CHECK_EQ(ck.n_reasons, 3);
    ts_ingest_checkpoint_free(&ck);
    /* Other dataset options on the same DIR are refused. */
    o.shard_bytes = 8192;
    CHECK_EQ(ts_ingest_run(manifest, out, &o, &st, &err), TS_EINVAL);
    rm_rf(dir);
}

int main(void) {
    RUN(test_text_key);
    RUN(test_retry_set);
    RUN(test_run_and_continue);
    return harness_report();
}
