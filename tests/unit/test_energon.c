/* Energon writer pieces: ustar members, the key set, shard rotation and drop
 * accounting, the Megatron rules, metadata files, and the blend YAML. The
 * on-disk format is cross-checked by tests/reference/check_energon.sh with
 * readers we did not write; these cases pin the C behaviour. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/io.h"
#include "core/json.h"
#include "ingest/energon.h"
#include "ingest/energon_internal.h"
#include "ingest/tar_writer.h"
#include "mixers/metadataset.h"
#include "tests/harness.h"
#include "tiler/tile_png.h"

static unsigned long octal(const uint8_t *p, size_t n) {
    unsigned long v = 0;
    for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++) v = v * 8 + (unsigned long)(p[i] - '0');
    return v;
}

static void tmp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/test_energon_%s", harness_tmpdir(), name);
}

static void rm_rf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "  rm failed\n");
}

static void test_tar_members(void) {
    char path[512];
    tmp_path(path, sizeof path, "t.tar");
    ts_tar_writer *t;
    ts_error err;
    CHECK_OK(ts_tar_open(&t, path, &err), &err);
    CHECK_EQ(ts_tar_offset(t), 0);
    CHECK_OK(ts_tar_add(t, "k1.txt", "hello", 5, &err), &err);
    CHECK_EQ(ts_tar_offset(t), 1024);
    CHECK_OK(ts_tar_add(t, "k1.json", "", 0, &err), &err);
    CHECK_EQ(ts_tar_offset(t), 1536);
    char long_name[128];
    memset(long_name, 'a', 101);
    long_name[101] = 0;
    CHECK(ts_tar_add(t, long_name, "x", 1, &err) == TS_EINVAL);
    uint64_t size, xxh3;
    CHECK_OK(ts_tar_commit(t, &size, &xxh3, &err), &err);
    CHECK_EQ(size, 1536 + 1024);
    CHECK_EQ(ts_tar_member_size(0), 512);
    CHECK_EQ(ts_tar_member_size(512), 1024);
    CHECK_EQ(ts_tar_member_size(513), 1536);
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 20, &b, &err), &err);
    CHECK_EQ(b.len, size);
    CHECK(ts_xxh3_64(b.data, b.len) == xxh3);
    if (b.len == size) {
        const uint8_t *h = b.data;
        CHECK_STR((const char *)h, "k1.txt");
        CHECK_EQ(octal(h + 124, 12), 5);
        CHECK(memcmp(h + 257, "ustar\0" "00", 8) == 0);
        CHECK_EQ(h[156], '0');
        unsigned sum = 0;
        for (int i = 0; i < 512; i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
        CHECK_EQ(octal(h + 148, 8), sum);
        CHECK(memcmp(h + 512, "hello", 5) == 0);
        CHECK_STR((const char *)h + 1024, "k1.json");
        for (size_t i = 1536; i < b.len; i++) CHECK(b.data[i] == 0);
    }
    ts_buf_free(&b);
    remove(path);
    /* An aborted tar leaves nothing under its name. */
    CHECK_OK(ts_tar_open(&t, path, &err), &err);
    CHECK_OK(ts_tar_add(t, "a.txt", "x", 1, &err), &err);
    ts_tar_abort(t);
    struct stat sb;
    CHECK(stat(path, &sb) != 0);
}

/* Caption record "key" with a w x h PNG. */
static void caption(ts_sample *s, const char *key, int w, int h, ts_sample_task task) {
    ts_error err;
    ts_buf b = TS_BUF_INIT;
    uint8_t *rgb = calloc((size_t)w * h * 3, 1);
    uint32_t x = 2463534242u; /* xorshift noise: PNG cannot shrink it */
    for (int i = 0; i < w * h * 3; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        rgb[i] = (uint8_t)x;
    }
    ts_png_encode_rgb(rgb, w, h, &b, &err);
    free(rgb);
    ts_sample_clear(s);
    ts_sample_set_cstr(&s->key, key, &err);
    ts_sample_set_cstr(&s->source, "unit", &err);
    s->task = task;
    ts_sample_set_cstr(&s->text, "a caption", &err);
    CHECK_OK(ts_sample_add_image(s, b.data, b.len, &err), &err);
    ts_buf_free(&b);
}

static int count_suffix(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t a = strlen(e->d_name), b = strlen(suffix);
        n += a > b && !strcmp(e->d_name + a - b, suffix);
    }
    if (d) closedir(d);
    return n;
}

static void test_writer_rotation_and_drops(void) {
    char dir[512];
    tmp_path(dir, sizeof dir, "ds");
    rm_rf(dir);
    ts_energon_options o;
    ts_energon_options_default(&o);
    o.shard_bytes = 30000; /* 8704-byte samples (48x48 noise PNG + txt): three per shard */
    o.val_every = 2;
    ts_energon_writer *w;
    ts_error err;
    CHECK_OK(ts_energon_open(&w, dir, &o, &err), &err);
    ts_sample s;
    ts_sample_init(&s);
    const char *dropped;
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "c%02d", i);
        caption(&s, key, 48, 48, TS_TASK_CAPTION);
        CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
        CHECK(dropped == NULL);
    }
    caption(&s, "c03", 8, 8, TS_TASK_CAPTION);
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    CHECK(dropped && !strcmp(dropped, TS_DROP_DUP_KEY));
    caption(&s, "x_multi", 8, 8, TS_TASK_CAPTION);
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    CHECK(dropped && !strcmp(dropped, TS_DROP_ROUTING));
    caption(&s, "o1", 8, 8, TS_TASK_OCR);
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    CHECK(dropped && !strcmp(dropped, TS_DROP_TYPE));
    caption(&s, "big", 200, 200, TS_TASK_CAPTION); /* larger than a shard: a shard of its own */
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    CHECK(dropped == NULL);
    ts_sample_set_cstr(&s.text, "", &err);
    ts_sample_set_cstr(&s.key, "notext", &err);
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    CHECK(dropped && !strcmp(dropped, TS_DROP_INVALID));
    ts_energon_drop(w, "http_429", 3);
    ts_energon_drop(w, "Bad Reason!", 1);
    ts_energon_counts c;
    ts_energon_get_counts(w, &c);
    CHECK_EQ(c.written, 11);
    CHECK_EQ(c.dropped, 8);
    CHECK_EQ(c.records_in, 19);
    CHECK_OK(ts_energon_finish(w, &err), &err);
    ts_energon_get_counts(w, &c);
    CHECK_EQ(c.shards, 5); /* 3+3+3+1, then the big sample alone */
    CHECK_EQ(count_suffix(dir, ".tar"), (int)c.shards);
    CHECK_EQ(count_suffix(dir, ".tar.idx"), (int)c.shards);
    CHECK(ts_energon_write(w, &s, &dropped, &err) == TS_EINVAL); /* finished */
    ts_energon_close(w);
    ts_sample_free(&s);

    cJSON *sum = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/stats/summary.json", dir);
    CHECK_OK(ts_json_load_file(path, 1 << 20, &sum, &err), &err);
    cJSON *by = cJSON_GetObjectItem(sum, "dropped_by_reason");
    CHECK_EQ(cJSON_GetObjectItem(by, "http_429")->valuedouble, 3);
    CHECK_EQ(cJSON_GetObjectItem(by, "other")->valuedouble, 1);
    CHECK_EQ(cJSON_GetObjectItem(sum, "records_in")->valuedouble, 19);
    cJSON_Delete(sum);
    /* Every shard but the lone big sample's stays within the target. */
    for (uint64_t i = 0; i < c.shards; i++) {
        snprintf(path, sizeof path, "%s/shard-%06llu.tar", dir, (unsigned long long)i);
        struct stat sb;
        CHECK(stat(path, &sb) == 0);
        snprintf(path, sizeof path, "%s/shard-%06llu.tar.idx", dir, (unsigned long long)i);
        struct stat si;
        CHECK(stat(path, &si) == 0 && si.st_size >= 16 && si.st_size % 8 == 0);
        if (si.st_size == 16) continue; /* one sample */
        CHECK(sb.st_size <= 30000);
    }
    snprintf(path, sizeof path, "%s/.nv-meta/split.yaml", dir);
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 20, &b, &err), &err);
    ts_buf_append(&b, "", 1, &err);
    CHECK(strstr((char *)b.data, "  val:\n  - shard-000001.tar\n  - shard-000003.tar\n") != NULL);
    ts_buf_reset(&b);
    snprintf(path, sizeof path, "%s/.nv-meta/dataset.yaml", dir);
    CHECK_OK(ts_read_file(path, 1 << 20, &b, &err), &err);
    ts_buf_append(&b, "", 1, &err);
    CHECK_STR((char *)b.data, "sample_type:\n  __module__: megatron.energon\n  __class__: CaptioningSample\n"
                              "field_map:\n  image: png\n  caption: txt\n");
    ts_buf_free(&b);

    /* A second writer must not overwrite a finished dataset. */
    CHECK(ts_energon_open(&w, dir, &o, &err) == TS_EIO);
    rm_rf(dir);
    o.prefix = "a.b";
    CHECK(ts_energon_open(&w, dir, &o, &err) == TS_EINVAL);
    o.prefix = "llava";
    CHECK(ts_energon_open(&w, dir, &o, &err) == TS_EINVAL);
    o.prefix = "shard";
    o.val_every = 1;
    CHECK(ts_energon_open(&w, dir, &o, &err) == TS_EINVAL);
}

/* Closing without finishing leaves no shard and no metadata behind. */
static void test_writer_abandoned(void) {
    char dir[512];
    tmp_path(dir, sizeof dir, "abandoned");
    rm_rf(dir);
    ts_energon_options o;
    ts_energon_options_default(&o);
    ts_energon_writer *w;
    ts_error err;
    CHECK_OK(ts_energon_open(&w, dir, &o, &err), &err);
    ts_sample s;
    ts_sample_init(&s);
    caption(&s, "k", 16, 16, TS_TASK_CAPTION);
    const char *dropped;
    CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    ts_energon_close(w);
    ts_sample_free(&s);
    CHECK_EQ(count_suffix(dir, ".tar"), 0);
    char meta[600];
    snprintf(meta, sizeof meta, "%s/.nv-meta", dir);
    CHECK_EQ(count_suffix(meta, ".yaml"), 0);
    DIR *d = opendir(dir);
    struct dirent *e;
    int tmp = 0;
    while (d && (e = readdir(d))) tmp += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    CHECK_EQ(tmp, 0);
    rm_rf(dir);
}

static const char *layout_reason(ts_energon_type type, ts_sample *s, unsigned max_images) {
    ts_energon_layout l = {0};
    const char *reason = NULL;
    ts_error err;
    ts_status st = ts_energon_layout_build(&l, type, s, max_images, &reason, &err);
    ts_energon_layout_free(&l);
    return st ? (reason ? reason : "error") : "ok";
}

static void test_megatron_rules(void) {
    ts_sample s;
    ts_sample_init(&s);
    ts_error err;
    caption(&s, "m", 8, 8, TS_TASK_MULTI_TURN);
    ts_sample_add_turn(&s, TS_ROLE_USER, "<image>\nHi", 10, &err);
    ts_sample_add_turn(&s, TS_ROLE_ASSISTANT, "Hello", 5, &err);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 1), "ok");
    CHECK_STR(layout_reason(TS_ENERGON_CAPTION, &s, 1), TS_DROP_TYPE);
    ts_energon_layout l = {0};
    const char *reason;
    CHECK_OK(ts_energon_layout_build(&l, TS_ENERGON_INTERLEAVED, &s, 1, &reason, &err), &err);
    CHECK_EQ(l.n, 2);
    CHECK_STR(l.members[0].name, "m.json");
    CHECK_STR(l.members[1].name, "m.img0.png");
    CHECK(l.json.len && !memcmp(l.json.data, "{\"conversations\":[{\"from\":\"human\",\"value\":\"<image>\\nHi\"},"
                                            "{\"from\":\"gpt\",\"value\":\"Hello\"}],\"images\":[\"img0.png\"]}",
                                l.json.len));
    ts_energon_layout_free(&l);
    /* Two images over the default limit; allowed with a limit of 2. */
    ts_sample_add_image(&s, s.images[0].bytes.data, s.images[0].bytes.len, &err);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 1), TS_DROP_IMAGES);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 2), "ok");
    /* More markers than images. */
    s.n_images = 0;
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 0), TS_DROP_RULE);
    s.n_turns = 0;
    ts_sample_add_turn(&s, TS_ROLE_USER, "Hi", 2, &err);
    ts_sample_add_turn(&s, TS_ROLE_ASSISTANT, "<image>", 7, &err);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 0), TS_DROP_RULE); /* marker in assistant turn */
    s.n_turns = 0;
    ts_sample_add_turn(&s, TS_ROLE_USER, "Hi", 2, &err);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 0), TS_DROP_RULE); /* ends on a user turn */
    ts_sample_add_turn(&s, TS_ROLE_ASSISTANT, "", 0, &err);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 0), TS_DROP_RULE); /* empty turn */
    s.n_turns = 0;
    ts_sample_add_turn(&s, TS_ROLE_SYSTEM, "sys", 3, &err);
    ts_sample_add_turn(&s, TS_ROLE_USER, "Hi", 2, &err);
    CHECK_STR(layout_reason(TS_ENERGON_INTERLEAVED, &s, 0), TS_DROP_RULE); /* system role */

    /* VQA: answers from the assistant turn when none are given; zero weights refused. */
    caption(&s, "v", 8, 8, TS_TASK_VQA);
    ts_sample_add_turn(&s, TS_ROLE_USER, "Q?", 2, &err);
    ts_sample_add_turn(&s, TS_ROLE_ASSISTANT, "A.", 2, &err);
    memset(&l, 0, sizeof l);
    CHECK_OK(ts_energon_layout_build(&l, TS_ENERGON_VQA, &s, 0, &reason, &err), &err);
    CHECK(l.json.len && !memcmp(l.json.data, "{\"answers\":[\"A.\"],\"answer_weights\":[1],\"question\":\"Q?\"}",
                                l.json.len));
    CHECK_STR(l.members[0].name, "v.png");
    CHECK_STR(l.members[1].name, "v.json");
    ts_energon_layout_free(&l);
    ts_sample_add_answer(&s, "x", 1, 0, &err);
    CHECK_STR(layout_reason(TS_ENERGON_VQA, &s, 0), TS_DROP_RULE);
    ts_sample_free(&s);
}

static void test_weights_and_blend(void) {
    char w[32];
    struct { double v; const char *s; } cases[] = {
        {0.579, "0.579"}, {1, "1.0"}, {1e-05, "1.0e-05"}, {0.1 + 0.2, "0.30000000000000004"},
        {2.5e300, "2.5e+300"}, {1e22, "1.0e+22"}, {123.0, "123.0"}, {1.0 / 3, "0.3333333333333333"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ts_format_weight(cases[i].v, w);
        CHECK_STR(w, cases[i].s);
        CHECK(strtod(w, NULL) == cases[i].v);
    }
    ts_error err;
    ts_buf b = TS_BUF_INIT;
    cJSON *sub = cJSON_Parse("{\"VQASFT\": true, \"augmentation\": false}");
    ts_blend_entry e[2] = {{"laion", 0.579, NULL}, {"dir with \"quote\"", 0.01, sub}};
    CHECK_OK(ts_metadataset_render(e, 2, NULL, 0, &b, &err), &err);
    ts_buf_append(&b, "", 1, &err);
    CHECK_STR((char *)b.data, "__module__: megatron.energon\n__class__: Metadataset\nsplits:\n  train:\n    datasets:\n"
                              "      - weight: 0.579\n        path: \"laion\"\n        subflavors: {\"augmentation\":false}\n"
                              "      - weight: 0.01\n        path: \"dir with \\\"quote\\\"\"\n"
                              "        subflavors: {\"VQASFT\":true,\"augmentation\":false}\n");
    ts_buf_reset(&b);
    ts_blend_entry bad[] = {{"a", 0, NULL}, {"a", -1, NULL}, {"a", 0.0 / 0.0, NULL}, {"", 1, NULL},
                            {"a", 1, cJSON_GetObjectItem(sub, "VQASFT")}};
    for (size_t i = 0; i < 5; i++) CHECK(ts_metadataset_render(&bad[i], 1, NULL, 0, &b, &err) == TS_EINVAL);
    CHECK(ts_metadataset_render(e, 0, NULL, 0, &b, &err) == TS_EINVAL);
    cJSON_Delete(sub);
    ts_buf_free(&b);
}

int main(void) {
    RUN(test_tar_members);
    RUN(test_writer_rotation_and_drops);
    RUN(test_writer_abandoned);
    RUN(test_megatron_rules);
    RUN(test_weights_and_blend);
    return harness_report();
}
