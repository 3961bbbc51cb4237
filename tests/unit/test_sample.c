/* Sample records: setters, invariants, binary codec (round trip, every
 * truncation, every bit flip, streaming reader) and JSON form. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/io.h"
#include "tests/harness.h"
#include "core/base64.h"
#include "core/utf8.h"
#include "ingest/sample.h"
#include "tiler/tile_png.h"

static void png(int w, int h, ts_buf *out) {
    uint8_t rgb[3 * 64 * 64];
    for (int i = 0; i < 3 * w * h; i++) rgb[i] = (uint8_t)(i * 37 + w);
    ts_error err;
    ts_buf_reset(out);
    if (ts_png_encode_rgb(rgb, w, h, out, &err)) fprintf(stderr, "png: %s\n", err.msg);
}

/* A VQA record with two images, three turns, two answers and metadata. */
static void build(ts_sample *s) {
    ts_error err;
    ts_buf b = TS_BUF_INIT;
    ts_sample_clear(s);
    CHECK_OK(ts_sample_set_cstr(&s->key, "vqa-000017", &err), &err);
    CHECK_OK(ts_sample_set_cstr(&s->source, "vqav2", &err), &err);
    s->stage = TS_STAGE_SFT;
    s->task = TS_TASK_VQA;
    png(7, 5, &b);
    CHECK_OK(ts_sample_add_image(s, b.data, b.len, &err), &err);
    png(3, 9, &b);
    CHECK_OK(ts_sample_add_image(s, b.data, b.len, &err), &err);
    CHECK_OK(ts_sample_add_turn(s, TS_ROLE_SYSTEM, "Answer.", 7, &err), &err);
    CHECK_OK(ts_sample_add_turn(s, TS_ROLE_USER, "<image>\nWhat is \xc3\xa9?", 19, &err), &err);
    CHECK_OK(ts_sample_add_turn(s, TS_ROLE_ASSISTANT, "", 0, &err), &err);
    CHECK_OK(ts_sample_add_answer(s, "yes", 3, 0.7, &err), &err);
    CHECK_OK(ts_sample_add_answer(s, "no", 2, 0.3, &err), &err);
    CHECK_OK(ts_sample_set_cstr(&s->url, "http://images.cocodataset.org/val2014/x.jpg", &err), &err);
    CHECK_OK(ts_sample_set_cstr(&s->row, "17", &err), &err);
    CHECK_OK(ts_sample_set_cstr(&s->license, "CC-BY-4.0", &err), &err);
    ts_buf_free(&b);
}

static void test_setters_and_check(void) {
    ts_sample s;
    ts_sample_init(&s);
    build(&s);
    ts_error err;
    CHECK_EQ(s.n_images, 2);
    CHECK_EQ(s.images[0].format, TS_FMT_PNG);
    CHECK_EQ(s.images[0].width, 7);
    CHECK_EQ(s.images[1].height, 9);
    CHECK(ts_hash128_equal(s.images[1].xxh3, ts_xxh3_128(s.images[1].bytes.data, s.images[1].bytes.len)));
    CHECK_OK(ts_sample_check(&s, &err), &err);
    CHECK_STR(ts_sample_str(&s.text), "");

    const char *bad_keys[] = {"a.b", "a/b", "", "__key__", "sp ace",
                              "k123456789012345678901234567890123456789012345678901234567890123456789012345678901"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        ts_sample_set_cstr(&s.key, bad_keys[i], &err);
        CHECK(ts_sample_check(&s, &err) == TS_EINVAL);
    }
    ts_sample_set_cstr(&s.key, "ok_key-1", &err);
    CHECK_OK(ts_sample_check(&s, &err), &err);
    ts_sample_set(&s.license, "\xc3\x28", 2, &err); /* invalid UTF-8 */
    CHECK(ts_sample_check(&s, &err) == TS_EFORMAT);
    CHECK(strstr(err.msg, "ok_key-1") != NULL);
    ts_sample_set_cstr(&s.license, "", &err);
    s.answers[1].weight = -1;
    CHECK(ts_sample_check(&s, &err) == TS_EINVAL);
    s.answers[1].weight = 0.3;
    s.images[0].bytes.data[s.images[0].bytes.len - 1] ^= 1; /* hash no longer matches */
    CHECK(ts_sample_check(&s, &err) == TS_ECHECKSUM);
    s.images[0].bytes.data[s.images[0].bytes.len - 1] ^= 1;
    s.task = TS_TASK_CAPTION; /* a caption needs text */
    CHECK(ts_sample_check(&s, &err) == TS_EINVAL);
    ts_sample_set_cstr(&s.text, "a caption", &err);
    CHECK_OK(ts_sample_check(&s, &err), &err);
    CHECK(ts_sample_add_image(&s, "GIF87", 5, &err) != TS_OK); /* header too short */
    CHECK(ts_sample_add_image(&s, "nope nope nope", 14, &err) != TS_OK);
    CHECK_EQ(s.n_images, 2);
    ts_sample_free(&s);
}

static void test_names_and_markers(void) {
    ts_sample_task t;
    ts_sample_stage st;
    ts_sample_role r;
    ts_image_format f;
    CHECK(ts_sample_task_parse("multi_turn", &t) == 0 && t == TS_TASK_MULTI_TURN);
    CHECK(ts_sample_task_parse("vision", &t) == -1);
    CHECK(ts_sample_stage_parse("sft", &st) == 0 && st == TS_STAGE_SFT);
    CHECK(ts_sample_role_parse("assistant", &r) == 0 && r == TS_ROLE_ASSISTANT);
    CHECK(ts_sample_role_parse("gpt", &r) == -1);
    CHECK(ts_media_type_parse("image/webp", &f) == 0 && f == TS_FMT_WEBP);
    CHECK(ts_media_type_parse("image/tiff", &f) == -1);
    CHECK_STR(ts_image_extension(TS_FMT_JPEG), "jpg");
    const char *m = "<image> a <image-2> <image-> <imag> <image-x> <image><image-10>";
    CHECK_EQ(ts_count_image_markers(m, strlen(m)), 4);
    CHECK_EQ(ts_count_image_markers("<image", 6), 0);
    CHECK(ts_utf8_valid("\xe2\x82\xac", 3));
    CHECK(!ts_utf8_valid("\xe0\x80\xaf", 3)); /* overlong */
    CHECK(!ts_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    CHECK(!ts_utf8_valid("a\0b", 3));
}

static void test_codec_roundtrip(void) {
    ts_sample a, b;
    ts_sample_init(&a);
    ts_sample_init(&b);
    build(&a);
    ts_buf f1 = TS_BUF_INIT, f2 = TS_BUF_INIT;
    ts_error err;
    CHECK_OK(ts_sample_encode(&a, &f1, &err), &err);
    CHECK(ts_sample_is_binary(f1.data, f1.len));
    size_t used = 0;
    CHECK_OK(ts_sample_decode(f1.data, f1.len, &b, &used, &err), &err);
    CHECK_EQ(used, f1.len);
    CHECK_STR(ts_sample_str(&b.key), "vqa-000017");
    CHECK_STR(ts_sample_str(&b.turns[1].content), "<image>\nWhat is \xc3\xa9?");
    CHECK_EQ(b.n_turns, 3);
    CHECK_EQ(b.turns[2].content.len, 0);
    CHECK(b.answers[0].weight == 0.7);
    CHECK_STR(ts_sample_str(&b.license), "CC-BY-4.0");
    CHECK_EQ(b.images[1].bytes.len, a.images[1].bytes.len);
    CHECK(memcmp(b.images[1].bytes.data, a.images[1].bytes.data, a.images[1].bytes.len) == 0);
    CHECK_OK(ts_sample_encode(&b, &f2, &err), &err);
    CHECK(f1.len == f2.len && memcmp(f1.data, f2.data, f1.len) == 0);
    /* An invalid record is refused by the encoder. */
    ts_sample_set_cstr(&a.key, "bad.key", &err);
    size_t before = f2.len;
    CHECK(ts_sample_encode(&a, &f2, &err) == TS_EINVAL);
    CHECK_EQ(f2.len, before);
    ts_buf_free(&f1);
    ts_buf_free(&f2);
    ts_sample_free(&a);
    ts_sample_free(&b);
}

/* Every truncation and every single-bit flip must fail cleanly. */
static void test_codec_damage(void) {
    ts_sample a, b;
    ts_sample_init(&a);
    ts_sample_init(&b);
    build(&a);
    ts_buf f = TS_BUF_INIT;
    ts_error err;
    CHECK_OK(ts_sample_encode(&a, &f, &err), &err);
    size_t used;
    int accepted = 0;
    for (size_t n = 0; n < f.len; n++)
        if (ts_sample_decode(f.data, n, &b, &used, &err) == TS_OK) accepted++;
    CHECK_EQ(accepted, 0);
    CHECK_EQ(b.n_images, 0); /* cleared after a failure */
    for (size_t bit = 0; bit < f.len * 8; bit++) {
        f.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (ts_sample_decode(f.data, f.len, &b, &used, &err) == TS_OK) accepted++;
        f.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK_EQ(accepted, 0);
    CHECK_OK(ts_sample_decode(f.data, f.len, &b, &used, &err), &err);
    /* Version 2 is reported as unsupported, not as corrupt. */
    f.data[4] = 2;
    CHECK(ts_sample_decode(f.data, f.len, &b, &used, &err) == TS_EUNSUPPORTED);
    ts_buf_free(&f);
    ts_sample_free(&a);
    ts_sample_free(&b);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite(data, 1, n, fp);
        fclose(fp);
    }
}

static void test_reader(void) {
    ts_sample a, b;
    ts_sample_init(&a);
    ts_sample_init(&b);
    build(&a);
    ts_buf f = TS_BUF_INIT;
    ts_error err;
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "r%d", i);
        ts_sample_set_cstr(&a.key, key, &err);
        CHECK_OK(ts_sample_encode(&a, &f, &err), &err);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/test_sample.records", harness_tmpdir());
    write_file(path, f.data, f.len);
    ts_sample_reader *r;
    CHECK_OK(ts_sample_reader_open(&r, path, &err), &err);
    int n = 0;
    ts_status st;
    while ((st = ts_sample_reader_next(r, &b, &err)) == TS_OK) {
        char key[16];
        snprintf(key, sizeof key, "r%d", n++);
        CHECK_STR(ts_sample_str(&b.key), key);
    }
    CHECK_EQ(st, TS_ENOTFOUND);
    CHECK_EQ(n, 3);
    ts_sample_reader_close(r);

    /* Cut inside the third frame: two records, then an error naming it. */
    write_file(path, f.data, f.len - 10);
    CHECK_OK(ts_sample_reader_open(&r, path, &err), &err);
    n = 0;
    while ((st = ts_sample_reader_next(r, &b, &err)) == TS_OK) n++;
    CHECK_EQ(n, 2);
    CHECK_EQ(st, TS_EFORMAT);
    CHECK(strstr(err.msg, "record 2") != NULL);
    ts_sample_reader_close(r);
    CHECK(ts_sample_reader_open(&r, "/nonexistent/x.records", &err) == TS_EIO);
    remove(path);
    ts_buf_free(&f);
    ts_sample_free(&a);
    ts_sample_free(&b);
}

static void test_json_roundtrip(void) {
    ts_sample a, b;
    ts_sample_init(&a);
    ts_sample_init(&b);
    build(&a);
    ts_error err;
    cJSON *j = NULL;
    CHECK_OK(ts_sample_to_json(&a, 1, &j, &err), &err);
    CHECK_OK(ts_sample_from_json(j, NULL, &b, &err), &err);
    ts_buf fa = TS_BUF_INIT, fb = TS_BUF_INIT;
    CHECK_OK(ts_sample_encode(&a, &fa, &err), &err);
    CHECK_OK(ts_sample_encode(&b, &fb, &err), &err);
    CHECK(fa.len == fb.len && memcmp(fa.data, fb.data, fa.len) == 0);

    /* Stated metadata must agree with the bytes. */
    cJSON *im = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "images"), 0);
    cJSON_ReplaceItemInObject(im, "width", cJSON_CreateNumber(8));
    CHECK(ts_sample_from_json(j, NULL, &b, &err) == TS_EFORMAT);
    CHECK(strstr(err.msg, "vqa-000017") != NULL);
    cJSON_ReplaceItemInObject(im, "width", cJSON_CreateNumber(7));
    cJSON_ReplaceItemInObject(im, "xxh3_128", cJSON_CreateString("00000000000000000000000000000000"));
    CHECK(ts_sample_from_json(j, NULL, &b, &err) == TS_ECHECKSUM);
    cJSON_DeleteItemFromObject(im, "xxh3_128");
    cJSON_ReplaceItemInObject(im, "data_base64", cJSON_CreateString("iVBO*w=="));
    CHECK(ts_sample_from_json(j, NULL, &b, &err) == TS_EFORMAT);
    CHECK_EQ(b.n_images, 0);
    cJSON_Delete(j);

    /* Paths are relative to base_dir; answers may be plain strings. */
    ts_buf p = TS_BUF_INIT;
    png(4, 4, &p);
    char path[512];
    snprintf(path, sizeof path, "%s/test_sample_img.png", harness_tmpdir());
    write_file(path, p.data, p.len);
    const char *text = "{\"key\":\"k1\",\"source\":\"s\",\"stage\":\"pretrain\",\"task\":\"vqa\","
                       "\"images\":[{\"path\":\"test_sample_img.png\",\"media_type\":\"image/png\"}],"
                       "\"turns\":[{\"role\":\"user\",\"content\":\"Q?\"}],\"answers\":[\"a\",{\"text\":\"b\",\"weight\":2}],"
                       "\"meta\":{\"row\":12}}";
    j = cJSON_Parse(text);
    CHECK_OK(ts_sample_from_json(j, harness_tmpdir(), &b, &err), &err);
    CHECK_EQ(b.images[0].width, 4);
    CHECK_EQ(b.n_answers, 2);
    CHECK(b.answers[0].weight == 1.0 && b.answers[1].weight == 2.0);
    CHECK_STR(ts_sample_str(&b.row), "12");
    CHECK(ts_sample_from_json(j, "/nonexistent", &b, &err) == TS_EIO);
    cJSON_Delete(j);
    const char *bad[] = {
        "[]",
        "{\"key\":\"k\",\"source\":\"s\",\"stage\":\"pre\",\"task\":\"text\",\"text\":\"x\"}",
        "{\"key\":\"k\",\"source\":\"s\",\"stage\":\"text\",\"task\":\"text\",\"turns\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
        "{\"key\":\"k\",\"source\":\"s\",\"stage\":\"text\",\"task\":\"text\",\"turns\":[{\"role\":\"user\"}]}",
        "{\"key\":\"k\",\"source\":\"s\",\"stage\":\"text\",\"task\":\"text\",\"answers\":[3],\"text\":\"x\"}",
        "{\"key\":\"k\",\"source\":\"s\",\"stage\":\"text\",\"task\":\"text\"}",
        "{\"source\":\"s\",\"stage\":\"text\",\"task\":\"text\",\"text\":\"x\"}",
        "{\"key\":\"k\",\"source\":\"s\",\"stage\":\"text\",\"task\":\"caption\",\"text\":\"x\",\"images\":[{}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = cJSON_Parse(bad[i]);
        CHECK(j != NULL);
        if (ts_sample_from_json(j, NULL, &b, &err) == TS_OK) {
            fprintf(stderr, "  accepted bad record %zu\n", i);
            CHECK(0);
        }
        cJSON_Delete(j);
    }
    remove(path);
    ts_buf_free(&p);
    ts_buf_free(&fa);
    ts_buf_free(&fb);
    ts_sample_free(&a);
    ts_sample_free(&b);
}

static void test_reuse(void) {
    ts_sample s;
    ts_sample_init(&s);
    for (int i = 0; i < 50; i++) build(&s);
    CHECK_EQ(s.n_images, 2);
    CHECK_EQ(s.n_turns, 3);
    CHECK(s.cap_images >= 2 && s.cap_images <= 4);
    ts_sample_clear(&s);
    CHECK_EQ(s.n_images, 0);
    CHECK_STR(ts_sample_str(&s.key), "");
    ts_sample_free(&s);
    ts_sample_free(&s); /* free twice is harmless */
}

static void test_base64(void) {
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    ts_error err;
    for (int i = 0; i < 7; i++) {
        ts_buf b = TS_BUF_INIT, d = TS_BUF_INIT;
        CHECK_OK(ts_base64_encode(plain[i], strlen(plain[i]), &b, &err), &err);
        CHECK(b.len == strlen(coded[i]) && (b.len == 0 || memcmp(b.data, coded[i], b.len) == 0));
        CHECK_OK(ts_base64_decode(coded[i], strlen(coded[i]), &d, &err), &err);
        CHECK(d.len == strlen(plain[i]) && (d.len == 0 || memcmp(d.data, plain[i], d.len) == 0));
        ts_buf_free(&b);
        ts_buf_free(&d);
    }
    const char *bad[] = {"Zg=", "Z===", "Zg=a", "Zm9v\n", "Zm=v", "Zg==Zg=="};
    for (int i = 0; i < 6; i++) {
        ts_buf d = TS_BUF_INIT;
        CHECK(ts_base64_decode(bad[i], strlen(bad[i]), &d, &err) == TS_EFORMAT);
        ts_buf_free(&d);
    }
}

int main(void) {
    RUN(test_setters_and_check);
    RUN(test_names_and_markers);
    RUN(test_codec_roundtrip);
    RUN(test_codec_damage);
    RUN(test_reader);
    RUN(test_json_roundtrip);
    RUN(test_reuse);
    RUN(test_base64);
    return harness_report();
}
