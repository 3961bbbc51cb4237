/* Energon reader: datasets written by the Energon writer read back field for
 * field (images byte-exact), split selection, and damaged shards and
 * metadata giving errors that name the shard, never crashes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "ingest/energon.h"
#include "ingest/energon_reader.h"
#include "ingest/tar_writer.h"
#include "tests/harness.h"
#include "tiler/tile_png.h"

static void dir_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/test_energon_read_%s", harness_tmpdir(), name);
}

static void rm_rf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "  rm failed\n");
}

static void add_png(ts_sample *s, int w, int h, uint32_t seed) {
    ts_error err;
    ts_buf b = TS_BUF_INIT;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        rgb[i] = (uint8_t)seed;
    }
    CHECK_OK(ts_png_encode_rgb(rgb, w, h, &b, &err), &err);
    CHECK_OK(ts_sample_add_image(s, b.data, b.len, &err), &err);
    free(rgb);
    ts_buf_free(&b);
}

static void base(ts_sample *s, const char *key, ts_sample_stage stage, ts_sample_task task) {
    ts_error err;
    ts_sample_init(s);
    ts_sample_set_cstr(&s->key, key, &err);
    ts_sample_set_cstr(&s->source, "unit_src", &err);
    s->stage = stage;
    s->task = task;
}

static void turn(ts_sample *s, ts_sample_role role, const char *text) {
    ts_error err;
    CHECK_OK(ts_sample_add_turn(s, role, text, strlen(text), &err), &err);
}

static int buf_eq(const ts_buf *a, const ts_buf *b) {
    return a->len == b->len && (a->len == 0 || !memcmp(a->data, b->data, a->len));
}

/* Every field the Energon layout stores. */
static void check_same(const ts_sample *want, const ts_sample *got) {
    CHECK_STR(ts_sample_str(&got->key), ts_sample_str(&want->key));
    CHECK_STR(ts_sample_str(&got->source), ts_sample_str(&want->source));
    CHECK_EQ(got->stage, want->stage);
    CHECK_EQ(got->task, want->task);
    CHECK(buf_eq(&got->text, &want->text));
    CHECK_EQ(got->n_images, want->n_images);
    for (size_t i = 0; i < got->n_images && i < want->n_images; i++) {
        CHECK_EQ(got->images[i].format, want->images[i].format);
        CHECK_EQ(got->images[i].width, want->images[i].width);
        CHECK_EQ(got->images[i].height, want->images[i].height);
        CHECK(ts_hash128_equal(got->images[i].xxh3, want->images[i].xxh3));
        CHECK(buf_eq(&got->images[i].bytes, &want->images[i].bytes));
    }
    CHECK_EQ(got->n_turns, want->n_turns);
    for (size_t i = 0; i < got->n_turns && i < want->n_turns; i++) {
        CHECK_EQ(got->turns[i].role, want->turns[i].role);
        CHECK(buf_eq(&got->turns[i].content, &want->turns[i].content));
    }
    CHECK_EQ(got->n_answers, want->n_answers);
    for (size_t i = 0; i < got->n_answers && i < want->n_answers; i++) {
        CHECK(buf_eq(&got->answers[i].text, &want->answers[i].text));
        CHECK(got->answers[i].weight == want->answers[i].weight);
    }
    CHECK_EQ(got->url.len + got->row.len + got->license.len, 0);
}

/* Write `n` records to DIR as `type`, shards of ~shard_bytes, every second shard val. */
static void write_dataset(const char *dir, ts_energon_type type, ts_sample *recs, size_t n, uint64_t shard_bytes) {
    ts_energon_options o;
    ts_energon_options_default(&o);
    o.type = type;
    o.shard_bytes = shard_bytes;
    o.val_every = 2;
    o.max_images = 0;
    ts_energon_writer *w;
    ts_error err;
    rm_rf(dir);
    CHECK_OK(ts_energon_open(&w, dir, &o, &err), &err);
    if (err.code && !w) return;
    for (size_t i = 0; i < n; i++) {
        const char *dropped = NULL;
        CHECK_OK(ts_energon_write(w, &recs[i], &dropped, &err), &err);
        CHECK(dropped == NULL);
    }
    CHECK_OK(ts_energon_finish(w, &err), &err);
    ts_energon_close(w);
}

/* Read DIR's `splits` and compare with want[i] for i in order[]. */
static void read_back(const char *dir, unsigned splits, ts_sample *want, const size_t *order, size_t n) {
    ts_energon_read_options o = {splits, "unit_src"};
    ts_energon_reader *r;
    ts_error err;
    CHECK_OK(ts_energon_reader_open(&r, dir, &o, &err), &err);
    if (!r) return;
    ts_sample s;
    ts_sample_init(&s);
    size_t got = 0;
    ts_status st;
    while ((st = ts_energon_reader_next(r, &s, &err)) == TS_OK) {
        CHECK_EQ(ts_energon_reader_ordinal(r), got + 1);
        if (got < n) check_same(&want[order[got]], &s);
        got++;
    }
    CHECK_EQ(st, TS_ENOTFOUND);
    CHECK_EQ(got, n);
    ts_sample_free(&s);
    ts_energon_reader_close(r);
}

static void free_all(ts_sample *v, size_t n) {
    for (size_t i = 0; i < n; i++) ts_sample_free(&v[i]);
}

static void test_caption_ocr_roundtrip(void) {
    char dir[512];
    ts_sample recs[5];
    const char *texts[] = {"A cat.", "  über-relaxed \n", "ends with newline\n", "x", "line one\nline two"};
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof key, "cap-%03d", i);
        base(&recs[i], key, TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
        add_png(&recs[i], 20 + i * 7, 30 - i, 11u + (uint32_t)i);
        ts_error err;
        ts_sample_set_cstr(&recs[i].text, texts[i], &err);
    }
    dir_path(dir, sizeof dir, "cap");
    write_dataset(dir, TS_ENERGON_CAPTION, recs, 5, 4096); /* one sample per shard: 0 2 4 train, 1 3 val */
    size_t train[] = {0, 2, 4}, val[] = {1, 3}, all[] = {0, 2, 4, 1, 3};
    read_back(dir, TS_SPLIT_TRAIN, recs, train, 3);
    read_back(dir, TS_SPLIT_VAL, recs, val, 2);
    read_back(dir, TS_SPLIT_ALL, recs, all, 5);
    for (int i = 0; i < 5; i++) recs[i].task = TS_TASK_OCR;
    dir_path(dir, sizeof dir, "ocr");
    write_dataset(dir, TS_ENERGON_OCR, recs, 5, 1u << 30);
    size_t seq[] = {0, 1, 2, 3, 4};
    read_back(dir, TS_SPLIT_TRAIN, recs, seq, 5);
    free_all(recs, 5);
}

static void test_vqa_roundtrip(void) {
    ts_sample recs[3], want[3];
    ts_error err;
    base(&recs[0], "vqa-0", TS_STAGE_SFT, TS_TASK_VQA);
    add_png(&recs[0], 33, 17, 5);
    turn(&recs[0], TS_ROLE_USER, "<image>\nWhat colour is it?");
    ts_sample_add_answer(&recs[0], "red", 3, 0.3, &err);
    ts_sample_add_answer(&recs[0], "dark red", 8, 1.0 / 3.0, &err);
    ts_sample_add_answer(&recs[0], "", 0, 0.0, &err);
    /* An assistant turn instead of answers: stored as one answer of weight 1. */
    base(&recs[1], "vqa-1", TS_STAGE_SFT, TS_TASK_VQA);
    add_png(&recs[1], 8, 40, 6);
    turn(&recs[1], TS_ROLE_USER, "How many \"quotes\"\tand\\slashes?");
    turn(&recs[1], TS_ROLE_ASSISTANT, "Two.");
    base(&want[1], "vqa-1", TS_STAGE_SFT, TS_TASK_VQA);
    ts_sample_add_image(&want[1], recs[1].images[0].bytes.data, recs[1].images[0].bytes.len, &err);
    turn(&want[1], TS_ROLE_USER, "How many \"quotes\"\tand\\slashes?");
    ts_sample_add_answer(&want[1], "Two.", 4, 1.0, &err);
    base(&recs[2], "vqa-2", TS_STAGE_SFT, TS_TASK_VQA);
    add_png(&recs[2], 9, 9, 7);
    turn(&recs[2], TS_ROLE_USER, "数字は？");
    ts_sample_add_answer(&recs[2], "七", strlen("七"), 2.5e-7, &err);
    want[0] = recs[0];
    want[2] = recs[2];
    char dir[512];
    dir_path(dir, sizeof dir, "vqa");
    write_dataset(dir, TS_ENERGON_VQA, recs, 3, 1u << 30);
    size_t seq[] = {0, 1, 2};
    read_back(dir, TS_SPLIT_TRAIN, want, seq, 3);
    free_all(recs, 3);
    ts_sample_free(&want[1]);
}

static void test_interleaved_roundtrip(void) {
    ts_sample recs[2];
    base(&recs[0], "mt-0", TS_STAGE_SFT, TS_TASK_MULTI_TURN);
    add_png(&recs[0], 12, 12, 8);
    ts_error err;
    /* a JPEG-less mix: a second, different image */
    add_png(&recs[0], 50, 10, 9);
    turn(&recs[0], TS_ROLE_USER, "<image-2> then <image-1>: compare.");
    turn(&recs[0], TS_ROLE_ASSISTANT, "The first is wider.");
    turn(&recs[0], TS_ROLE_USER, "And?");
    turn(&recs[0], TS_ROLE_ASSISTANT, "That is all.\n");
    base(&recs[1], "txt-1", TS_STAGE_TEXT, TS_TASK_TEXT);
    turn(&recs[1], TS_ROLE_USER, "Say hi.");
    turn(&recs[1], TS_ROLE_ASSISTANT, "hi");
    (void)err;
    char dir[512];
    dir_path(dir, sizeof dir, "mt");
    write_dataset(dir, TS_ENERGON_INTERLEAVED, recs, 2, 1u << 30);
    size_t seq[] = {0, 1};
    read_back(dir, TS_SPLIT_TRAIN, recs, seq, 2);
    free_all(recs, 2);
}

/* The first error the reader gives for DIR (TS_OK when it reads through);
 * *fatal: whether it ended the reading; *after: samples read after it. */
static ts_status read_all(const char *dir, ts_error *err, int *fatal, int *after) {
    ts_energon_reader *r;
    *fatal = 1;
    *after = 0;
    ts_status st = ts_energon_reader_open(&r, dir, NULL, err), first = TS_OK;
    if (st) return st;
    ts_sample s;
    ts_sample_init(&s);
    ts_error e;
    while ((st = ts_energon_reader_next(r, &s, &e)) != TS_ENOTFOUND) {
        if (st == TS_OK) {
            *after += first != TS_OK;
            continue;
        }
        if (!first) first = st, *err = e;
        if (ts_energon_reader_failed(r)) {
            ts_error again;
            CHECK_EQ(ts_energon_reader_next(r, &s, &again), st); /* sticky */
            break;
        }
        *fatal = 0;
    }
    ts_sample_free(&s);
    ts_energon_reader_close(r);
    return first;
}

static ts_status first_error(const char *dir, ts_error *err) {
    int fatal, after;
    return read_all(dir, err, &fatal, &after);
}

static void copy_file(const char *from, const char *to, size_t keep) {
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    CHECK_OK(ts_read_file(from, 1u << 30, &b, &err), &err);
    CHECK_OK(ts_write_file_atomic(to, b.data, keep < b.len ? keep : b.len, 0, &err), &err);
    ts_buf_free(&b);
}

static void test_damaged(void) {
    ts_sample recs[3];
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "d-%d", i);
        base(&recs[i], key, TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
        add_png(&recs[i], 40, 40, 20u + (uint32_t)i);
        ts_error err;
        ts_sample_set_cstr(&recs[i].text, "text", &err);
    }
    char dir[512], tar[600], saved[600], idx[600];
    dir_path(dir, sizeof dir, "bad");
    write_dataset(dir, TS_ENERGON_CAPTION, recs, 3, 1u << 30);
    snprintf(tar, sizeof tar, "%s/shard-000000.tar", dir);
    snprintf(saved, sizeof saved, "%s/saved.tar", dir);
    snprintf(idx, sizeof idx, "%s/shard-000000.tar.idx", dir);
    ts_error err;
    CHECK_OK(first_error(dir, &err), &err);
    copy_file(tar, saved, (size_t)-1);
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_read_file(idx, 1 << 20, &b, &err), &err);
    CHECK_EQ(b.len, 32);
    if (b.len != 32) return;
    /* truncated inside the second sample's image */
    copy_file(saved, tar, ts_get_u64le(b.data + 8) + 512 + 700);
    ts_status st = first_error(dir, &err);
    CHECK_EQ(st, TS_EFORMAT);
    CHECK(strstr(err.msg, "shard-000000.tar") != NULL);
    /* cut at a sample boundary: the .tar.idx count no longer matches */
    copy_file(saved, tar, ts_get_u64le(b.data + 16));
    st = first_error(dir, &err);
    CHECK(st != TS_OK);
    CHECK(strstr(err.msg, "shard-000000.tar") != NULL);
    /* a flipped byte in a header: the checksum fails */
    copy_file(saved, tar, (size_t)-1);
    CHECK_OK(ts_read_file(tar, 1u << 30, &b, &err), &err);
    b.data[3] ^= 0x40; /* in the first member's name: header checksum */
    CHECK_OK(ts_write_file_atomic(tar, b.data, b.len, 0, &err), &err);
    CHECK(first_error(dir, &err) != TS_OK);
    CHECK(strstr(err.msg, "shard-000000.tar") != NULL);
    ts_buf_free(&b);
    /* a sample missing its text member, and one with an undecodable image:
     * errors for that sample only, the next one is read */
    ts_tar_writer *t;
    CHECK_OK(ts_tar_open(&t, tar, &err), &err);
    CHECK_OK(ts_tar_add(t, "d-0.png", recs[0].images[0].bytes.data, recs[0].images[0].bytes.len, &err), &err);
    CHECK_OK(ts_tar_add(t, "d-1.png", recs[1].images[0].bytes.data, recs[1].images[0].bytes.len, &err), &err);
    CHECK_OK(ts_tar_add(t, "d-1.txt", "t", 1, &err), &err);
    uint64_t size, x;
    CHECK_OK(ts_tar_commit(t, &size, &x, &err), &err);
    remove(idx);
    int fatal, after;
    CHECK_EQ(read_all(dir, &err, &fatal, &after), TS_EFORMAT);
    CHECK(strstr(err.msg, "shard-000000.tar: sample 0: d-0.txt: member missing") != NULL);
    CHECK_EQ(fatal, 0);
    CHECK_EQ(after, 1);
    CHECK_OK(ts_tar_open(&t, tar, &err), &err);
    CHECK_OK(ts_tar_add(t, "d-0.png", "not a png", 9, &err), &err);
    CHECK_OK(ts_tar_add(t, "d-0.txt", "t", 1, &err), &err);
    CHECK_OK(ts_tar_commit(t, &size, &x, &err), &err);
    CHECK(first_error(dir, &err) != TS_OK);
    CHECK(strstr(err.msg, "d-0.png") != NULL);
    /* a missing shard */
    remove(tar);
    CHECK_EQ(first_error(dir, &err), TS_EIO);
    /* not a dataset; a sample class tessera does not read */
    char meta[700];
    snprintf(meta, sizeof meta, "%s/.nv-meta/dataset.yaml", dir);
    const char *yaml = "sample_type:\n  __module__: megatron.energon\n  __class__: ImageClassificationSample\n";
    CHECK_OK(ts_write_file_atomic(meta, yaml, strlen(yaml), 0, &err), &err);
    CHECK_EQ(first_error(dir, &err), TS_EUNSUPPORTED);
    snprintf(meta, sizeof meta, "%s/.nv-meta", dir);
    rm_rf(meta);
    CHECK_EQ(first_error(dir, &err), TS_ENOTFOUND);
    free_all(recs, 3);
}

static void test_split_yaml_forms(void) {
    /* energon prepare's yaml.dump form: lists at the key's indent, flow lists */
    char dir[512], path[700];
    dir_path(dir, sizeof dir, "yaml");
    rm_rf(dir);
    snprintf(path, sizeof path, "%s/.nv-meta", dir);
    ts_error err;
    CHECK_OK(ts_mkdirs(path, &err), &err);
    snprintf(path, sizeof path, "%s/.nv-meta/split.yaml", dir);
    const char *split = "exclude: []\nsplit_parts:\n  test: []\n  train:\n  - a.tar\n  - 'sub/b.tar'\n  val: [c.tar, \"d.tar\"]\n";
    CHECK_OK(ts_write_file_atomic(path, split, strlen(split), 0, &err), &err);
    snprintf(path, sizeof path, "%s/.nv-meta/dataset.yaml", dir);
    const char *ds = "sample_type:\n  __module__: megatron.energon\n  __class__: 'OCRSample'\nfield_map:\n  image: jpg\n";
    CHECK_OK(ts_write_file_atomic(path, ds, strlen(ds), 0, &err), &err);
    snprintf(path, sizeof path, "%s/.nv-meta/.info.json", dir);
    CHECK_OK(ts_write_file_atomic(path, "{}", 2, 0, &err), &err);
    ts_energon_read_options o = {TS_SPLIT_TRAIN | TS_SPLIT_VAL, NULL};
    ts_energon_reader *r = NULL;
    CHECK_OK(ts_energon_reader_open(&r, dir, &o, &err), &err);
    if (r) {
        CHECK_EQ(ts_energon_reader_type(r), TS_ENERGON_OCR);
        CHECK_EQ(ts_energon_reader_shard_count(r), 4);
        CHECK_STR(ts_energon_reader_shard(r, 0), "a.tar");
        CHECK_STR(ts_energon_reader_shard(r, 1), "sub/b.tar");
        CHECK_STR(ts_energon_reader_shard(r, 2), "c.tar");
        CHECK_STR(ts_energon_reader_shard(r, 3), "d.tar");
        ts_energon_reader_close(r);
    }
    unsigned v;
    CHECK_EQ(ts_energon_split_parse("train,val", &v), 0);
    CHECK_EQ(v, TS_SPLIT_TRAIN | TS_SPLIT_VAL);
    CHECK_EQ(ts_energon_split_parse("all", &v), 0);
    CHECK_EQ(v, TS_SPLIT_ALL);
    CHECK_EQ(ts_energon_split_parse("dev", &v), -1);
    CHECK_EQ(ts_energon_split_parse("", &v), -1);
    rm_rf(dir);
}

int main(void) {
    RUN(test_caption_ocr_roundtrip);
    RUN(test_vqa_roundtrip);
    RUN(test_interleaved_roundtrip);
    RUN(test_damaged);
    RUN(test_split_yaml_forms);
    return harness_report();
}
