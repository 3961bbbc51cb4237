/* Sample record -> conversation, by the NVLM TaskEncoder's rules. */
#include "tests/harness.h"
#include "pipeline/sample_chat.h"

static ts_error err;

static void image(ts_sample *s, uint32_t w, uint32_t h) {
    static const char bytes[] = "stand-in bytes: only the size is read";
    CHECK_OK(ts_sample_add_image_known(s, TS_FMT_JPEG, w, h, ts_xxh3_128(bytes, sizeof bytes), bytes,
                                       sizeof bytes, &err),
             &err);
}

/* A sample, default options and the conversation they make. */
typedef struct fixture {
    ts_sample s;
    ts_sample_chat_options o;
    ts_sample_chat c;
} fixture;

/* An empty sample (as ts_sample_clear leaves it) with this key and task. */
static void restart(fixture *f, const char *key, ts_sample_task task) {
    ts_sample_clear(&f->s);
    CHECK_OK(ts_sample_set_cstr(&f->s.key, key, &err), &err);
    f->s.task = task;
}

static void setup(fixture *f, const char *key, ts_sample_task task) {
    ts_sample_init(&f->s);
    ts_sample_chat_options_default(&f->o);
    ts_sample_chat_init(&f->c);
    restart(f, key, task);
}

static void teardown(fixture *f) {
    ts_sample_chat_free(&f->c);
    ts_sample_free(&f->s);
}

static ts_status to_chat(fixture *f) { return ts_sample_to_chat(&f->s, &f->o, &f->c, &err); }

/* The conversation of the sample under the key "<prefix><k>". */
static ts_status to_chat_keyed(fixture *f, const char *prefix, int k) {
    char key[32];
    snprintf(key, sizeof key, "%s%d", prefix, k);
    ts_status st = ts_sample_set_cstr(&f->s.key, key, &err);
    return st ? st : to_chat(f);
}

static int is_prompt(ts_nvlm_prompt_set set, const char *text) {
    for (size_t i = 0; i < ts_nvlm_prompt_count(set); i++)
        if (!strcmp(ts_nvlm_prompt(set, i), text)) return 1;
    return 0;
}

static void test_caption(void) {
    fixture f;
    setup(&f, "c1", TS_TASK_CAPTION);
    ts_sample_chat *c = &f.c;
    image(&f.s, 1344, 896);
    CHECK_OK(ts_sample_set_cstr(&f.s.text, " \t A dog\u00a0on a beach.\n\u3000", &err), &err);
    CHECK_OK(to_chat(&f), &err);
    CHECK_EQ(c->chat.task, TS_CHAT_CAPTION);
    CHECK_EQ(c->chat.n_turns, 2); /* no system turn for captioning */
    CHECK_STR(c->chat.turns[0].role, "user");
    const char *u = c->chat.turns[0].content;
    CHECK(!strncmp(u, "<image>\n", 8));
    size_t n = strlen(u);
    CHECK(n > 9 && u[n - 1] == '\n');
    char prompt[256];
    snprintf(prompt, sizeof prompt, "%.*s", (int)(n - 9), u + 8);
    CHECK(is_prompt(TS_PROMPTS_CAPTIONING_PRETRAINING, prompt));
    CHECK_STR(c->chat.turns[1].content, "A dog\u00a0on a beach."); /* Python strip() */
    /* 1344x896 (3:2): cap 6 -> 3x2 + thumbnail, cap 4 -> 2x2 + 1 (tie to the larger grid),
     * cap 2 -> 2x1 + 1, cap 1 -> 1. */
    CHECK_EQ(c->chat.n_images, 1);
    CHECK_EQ(c->chat.images[0].tiles[6], 7);
    CHECK_EQ(c->chat.images[0].tiles[4], 5);
    CHECK_EQ(c->chat.images[0].tiles[2], 3);
    CHECK_EQ(c->chat.images[0].tiles[1], 1);
    /* The same key gives the same prompt; no tiling for pretraining. */
    char first[256];
    snprintf(first, sizeof first, "%s", u);
    f.o.max_tiles = 1;
    CHECK_OK(to_chat(&f), &err);
    CHECK_STR(c->chat.turns[0].content, first);
    CHECK_EQ(c->chat.images[0].tiles[6], 1);
    /* Prompts spread over the list as keys change. */
    int seen[16] = {0}, distinct = 0;
    for (int k = 0; k < 200; k++) {
        CHECK_OK(to_chat_keyed(&f, "k", k), &err);
        for (size_t i = 0; i < ts_nvlm_prompt_count(TS_PROMPTS_CAPTIONING_PRETRAINING); i++) {
            const char *p = ts_nvlm_prompt(TS_PROMPTS_CAPTIONING_PRETRAINING, i);
            if (!strncmp(c->chat.turns[0].content + 8, p, strlen(p)) && c->chat.turns[0].content[8 + strlen(p)] == '\n')
                distinct += !seen[i]++;
        }
    }
    CHECK_EQ(distinct, (long long)ts_nvlm_prompt_count(TS_PROMPTS_CAPTIONING_PRETRAINING));
    teardown(&f);
}

static void test_vqa(void) {
    fixture f;
    setup(&f, "v1", TS_TASK_VQA);
    ts_sample_chat *c = &f.c;
    image(&f.s, 448, 448);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_USER, "WHAT?", 5, &err), &err);
    CHECK_OK(ts_sample_add_answer(&f.s, "ANSWER", 6, 1.0, &err), &err);
    CHECK_OK(to_chat(&f), &err);
    /* The reference's exact NVLM SFT VQA sample. */
    CHECK_EQ(c->chat.n_turns, 3);
    CHECK_STR(c->chat.turns[0].content, "Answer the questions.");
    CHECK_STR(c->chat.turns[1].content, "<image>\nWHAT?");
    CHECK_STR(c->chat.turns[2].content, "ANSWER");
    CHECK_EQ(c->chat.images[0].tiles[6], 1);
    /* Weighted answers: drawn in proportion to the weights over many keys. */
    restart(&f, "v2", TS_TASK_VQA);
    image(&f.s, 448, 448);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_USER, "<image>\nQ", 9, &err), &err);
    CHECK_OK(ts_sample_add_answer(&f.s, "yes", 3, 3.0, &err), &err);
    CHECK_OK(ts_sample_add_answer(&f.s, "no", 2, 1.0, &err), &err);
    CHECK_OK(ts_sample_add_answer(&f.s, "never", 5, 0.0, &err), &err);
    int yes = 0, never = 0;
    for (int k = 0; k < 4000; k++) {
        CHECK_OK(to_chat_keyed(&f, "q", k), &err);
        yes += !strcmp(c->chat.turns[2].content, "yes");
        never += !strcmp(c->chat.turns[2].content, "never");
    }
    CHECK_STR(c->chat.turns[1].content, "<image>\nQ"); /* a marker present: none added */
    CHECK(yes > 2850 && yes < 3150);                   /* 3/4 of 4000, about 4 sigma */
    CHECK_EQ(never, 0);
    /* The VQASFT template. */
    f.o.vqa_sft_prompts = 1;
    int with_suffix = 0;
    for (int k = 0; k < 100; k++) {
        CHECK_OK(to_chat_keyed(&f, "t", k), &err);
        with_suffix += !strcmp(c->chat.turns[1].content,
                               "<image>\nQ\nAnswer the question using a single word or phrase.");
    }
    CHECK(with_suffix > 20 && with_suffix < 80);
    teardown(&f);
}

static void test_conversation(void) {
    fixture f;
    setup(&f, "m1", TS_TASK_MULTI_TURN);
    ts_sample_chat *c = &f.c;
    image(&f.s, 448, 448); /* image 1: one tile */
    image(&f.s, 896, 448); /* image 2: 2x1 + thumbnail */
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_USER, "Compare <image-2> and <image-1>.", 32, &err), &err);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_ASSISTANT, "They differ.", 12, &err), &err);
    CHECK_OK(to_chat(&f), &err);
    CHECK_EQ(c->chat.n_turns, 3);
    CHECK_STR(c->chat.turns[0].role, "system");
    CHECK_STR(c->chat.turns[1].content, "Compare <image> and <image>.");
    CHECK_EQ(c->chat.n_images, 2); /* in marker order: image 2 first */
    CHECK_EQ(c->chat.images[0].tiles[6], 3);
    CHECK_EQ(c->chat.images[1].tiles[6], 1);
    /* No marker: the image goes first in the first user turn. */
    restart(&f, "m2", TS_TASK_MULTI_TURN);
    image(&f.s, 448, 448);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_SYSTEM, "Be brief.", 9, &err), &err);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_USER, "What is it?", 11, &err), &err);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_ASSISTANT, "A cat.", 6, &err), &err);
    CHECK_OK(to_chat(&f), &err);
    CHECK_EQ(c->chat.n_turns, 3); /* the record's own system turn */
    CHECK_STR(c->chat.turns[0].content, "Be brief.");
    CHECK_STR(c->chat.turns[1].content, "<image>\nWhat is it?");
    CHECK_EQ(c->chat.n_images, 1);
    /* Refused as Megatron refuses: a marker in an assistant turn, a marker past the images. */
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_ASSISTANT, "<image>", 7, &err), &err);
    CHECK_EQ(to_chat(&f), TS_EFORMAT);
    CHECK(strstr(err.msg, "m2") != NULL);
    restart(&f, "m3", TS_TASK_MULTI_TURN);
    image(&f.s, 448, 448);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_USER, "<image><image-2>", 16, &err), &err);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_ASSISTANT, "x", 1, &err), &err);
    CHECK_EQ(to_chat(&f), TS_EFORMAT);
    teardown(&f);
}

static void test_text(void) {
    fixture f;
    setup(&f, "t1", TS_TASK_TEXT);
    ts_sample_chat *c = &f.c;
    CHECK_OK(ts_sample_set_cstr(&f.s.text, "Plain document.", &err), &err);
    CHECK_OK(to_chat(&f), &err);
    CHECK_EQ(c->chat.task, TS_CHAT_PRETRAIN);
    CHECK_STR(c->chat.text, "Plain document.");
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_USER, "2+2?", 4, &err), &err);
    CHECK_OK(ts_sample_add_turn(&f.s, TS_ROLE_ASSISTANT, "4", 1, &err), &err);
    CHECK_OK(to_chat(&f), &err);
    CHECK_EQ(c->chat.task, TS_CHAT_SFT);
    CHECK_EQ(c->chat.n_turns, 3);
    CHECK_EQ(c->chat.n_images, 0);
    CHECK_STR(c->chat.turns[1].content, "2+2?");
    f.o.max_tiles = 7;
    CHECK_EQ(to_chat(&f), TS_EINVAL);
    teardown(&f);
}

int main(void) {
    RUN(test_caption);
    RUN(test_vqa);
    RUN(test_conversation);
    RUN(test_text);
    return harness_report();
}
