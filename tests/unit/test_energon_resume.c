/* Energon writer resume (ingest checkpoints): a dataset written with a
 * simulated crash and ts_energon_resume must equal one written in one go. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "ingest/energon.h"
#include "tests/harness.h"
#include "tiler/tile_png.h"

static void tmp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/test_energon_resume_%s", harness_tmpdir(), name);
}

static void rm_rf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "  rm failed\n");
}

/* Sample i: a 48x48 noise PNG (8704 bytes with its caption: three per 30000-byte shard). */
static void make(ts_sample *s, int i) {
    ts_error err;
    ts_buf b = TS_BUF_INIT;
    uint8_t rgb[48 * 48 * 3];
    uint32_t x = 2463534242u + (uint32_t)i * 7919u;
    for (size_t k = 0; k < sizeof rgb; k++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        rgb[k] = (uint8_t)x;
    }
    ts_png_encode_rgb(rgb, 48, 48, &b, &err);
    ts_sample_clear(s);
    char key[32];
    snprintf(key, sizeof key, "k%03d", i);
    ts_sample_set_cstr(&s->key, key, &err);
    ts_sample_set_cstr(&s->source, "unit", &err);
    s->task = TS_TASK_CAPTION;
    ts_sample_set_cstr(&s->text, "a caption", &err);
    CHECK_OK(ts_sample_add_image(s, b.data, b.len, &err), &err);
    ts_buf_free(&b);
}

static int same_file(const char *a, const char *b) {
    ts_buf x = TS_BUF_INIT, y = TS_BUF_INIT;
    int ok = ts_read_file(a, 1 << 24, &x, NULL) == TS_OK && ts_read_file(b, 1 << 24, &y, NULL) == TS_OK &&
             x.len == y.len && (x.len == 0 || !memcmp(x.data, y.data, x.len));
    ts_buf_free(&x);
    ts_buf_free(&y);
    return ok;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* Writes records [from, to) with reserve before each; record 4 is an upstream
 * drop. At each rotation the state is captured as a checkpoint would. */
typedef struct ckpt {
    int next; /* first record not covered */
    size_t shards;
    uint64_t written;
} ckpt;

static void write_range(ts_energon_writer *w, int from, int to, ckpt *ck) {
    ts_sample s;
    ts_sample_init(&s);
    ts_error err;
    for (int i = from; i < to; i++) {
        if (i == 4) {
            ts_energon_drop(w, "http_5xx", 1);
            continue;
        }
        make(&s, i);
        int rotated = 0;
        CHECK_OK(ts_energon_reserve(w, &s, &rotated, &err), &err);
        if (rotated && ck) {
            ts_energon_counts c;
            ts_energon_get_counts(w, &c);
            ck->next = i;
            ck->shards = c.shards;
            ck->written = c.written;
        }
        const char *dropped;
        CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
        CHECK(dropped == NULL);
    }
    ts_sample_free(&s);
}

static void test_resume_equals_uninterrupted(void) {
    char a[512], b[512], pa[1024], pb[1024];
    tmp_path(a, sizeof a, "a");
    tmp_path(b, sizeof b, "b");
    rm_rf(a);
    rm_rf(b);
    ts_energon_options o;
    ts_energon_options_default(&o);
    o.shard_bytes = 30000;
    o.val_every = 3;
    ts_error err;
    ts_energon_writer *w;
    CHECK_OK(ts_energon_open(&w, a, &o, &err), &err);
    write_range(w, 0, 14, NULL);
    CHECK_OK(ts_energon_finish(w, &err), &err);
    ts_energon_close(w);

    /* Run b: crash after record 10, having finalized shards. */
    ckpt ck = {0};
    CHECK_OK(ts_energon_open(&w, b, &o, &err), &err);
    write_range(w, 0, 11, &ck);
    ts_energon_close(w); /* removes the open shard's temporary, like a crash would leave one */
    CHECK(ck.shards >= 2);
    /* What kill -9 leaves: a temporary and a shard past the checkpoint. */
    snprintf(pb, sizeof pb, "%s/shard-000000.tar.tmp-99999", b);
    CHECK_OK(ts_write_file_atomic(pb, "x", 1, 0, &err), &err);
    snprintf(pb, sizeof pb, "%s/shard-%06zu.tar", b, ck.shards);
    CHECK_OK(ts_write_file_atomic(pb, "stale", 5, 0, &err), &err);
    const char *reasons[] = {"http_5xx"};
    const uint64_t counts[] = {1};
    /* A wrong sample total is refused. */
    CHECK_EQ(ts_energon_resume(&w, b, &o, ck.shards, ck.written + 1, reasons, counts, 1, &err), TS_EFORMAT);
    CHECK_OK(ts_energon_resume(&w, b, &o, ck.shards, ck.written, reasons, counts, 1, &err), &err);
    CHECK(!exists(pb));
    snprintf(pb, sizeof pb, "%s/shard-000000.tar.tmp-99999", b);
    CHECK(!exists(pb));
    /* The restored key set still refuses a key written before the crash. */
    ts_sample s;
    ts_sample_init(&s);
    make(&s, 0);
    const char *dropped;
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    CHECK_STR(dropped, TS_DROP_DUP_KEY);
    ts_energon_undrop(w, TS_DROP_DUP_KEY, 1);
    ts_sample_free(&s);
    write_range(w, ck.next, 14, NULL);
    CHECK_OK(ts_energon_finish(w, &err), &err);
    ts_energon_counts c;
    ts_energon_get_counts(w, &c);
    CHECK_EQ(c.written, 13);
    CHECK_EQ(c.dropped, 1);
    ts_energon_close(w);

    const char *files[] = {"shard-000000.tar", "shard-000001.tar", "shard-000002.tar", "shard-000003.tar",
                           "shard-000004.tar.idx", "shard-000002.tar.idx", ".nv-meta/.info.yaml",
                           ".nv-meta/split.yaml", ".nv-meta/dataset.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        CHECK(exists(pa));
        if (!same_file(pa, pb)) fprintf(stderr, "  differs: %s\n", files[i]);
        CHECK(same_file(pa, pb));
    }
    snprintf(pb, sizeof pb, "%s/stats/summary.json", b);
    cJSON *sum;
    CHECK_OK(ts_json_load_file(pb, 1 << 20, &sum, &err), &err);
    CHECK_EQ(ts_json_int(sum, "records_in", -1), 14);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(sum, "dropped_by_reason");
    CHECK_EQ(ts_json_int(by, "http_5xx", -1), 1);
    CHECK_EQ(ts_json_int(by, TS_DROP_DUP_KEY, -1), -1); /* taken back */
    cJSON_Delete(sum);
    rm_rf(a);
    rm_rf(b);
}

static void test_resume_finished_dataset(void) {
    char a[512], p[1024];
    tmp_path(a, sizeof a, "fin");
    rm_rf(a);
    ts_energon_options o;
    ts_energon_options_default(&o);
    o.shard_bytes = 30000;
    ts_error err;
    ts_energon_writer *w;
    CHECK_OK(ts_energon_open(&w, a, &o, &err), &err);
    write_range(w, 0, 4, NULL);
    CHECK_OK(ts_energon_finish(w, &err), &err);
    ts_energon_counts c;
    ts_energon_get_counts(w, &c);
    ts_energon_close(w);
    /* A finished dataset cannot be opened, but resumes after its last shard. */
    CHECK_EQ(ts_energon_open(&w, a, &o, &err), TS_EIO);
    CHECK_OK(ts_energon_resume(&w, a, &o, c.shards, c.written, NULL, NULL, 0, &err), &err);
    snprintf(p, sizeof p, "%s/.nv-meta/.info.yaml", a);
    CHECK(!exists(p));
    write_range(w, 5, 8, NULL);
    CHECK_OK(ts_energon_finish(w, &err), &err);
    CHECK(exists(p));
    ts_energon_get_counts(w, &c);
    CHECK_EQ(c.written, 7);
    CHECK_EQ(c.shards, 3);
    ts_energon_close(w);
    /* A damaged shard (idx and tar disagree) is refused. */
    snprintf(p, sizeof p, "%s/shard-000001.tar", a);
    CHECK(truncate(p, 1024) == 0);
    CHECK_EQ(ts_energon_resume(&w, a, &o, 3, 7, NULL, NULL, 0, &err), TS_EFORMAT);
    CHECK(w == NULL);
    rm_rf(a);
}

int main(void) {
    RUN(test_resume_equals_uninterrupted);
    RUN(test_resume_finished_dataset);
    return harness_report();
}
