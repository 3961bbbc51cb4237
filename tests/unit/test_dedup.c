#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/io.h"
#include "ingest/dedup.h"
#include "tests/harness.h"

static char tmpdir[512];

static void tmp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static ts_dedup_verdict text_verdict(ts_dedup *d, const char *s) {
    ts_error err = {0};
    ts_dedup_verdict v = TS_DEDUP_KEPT;
    CHECK_OK(ts_dedup_text(d, s, strlen(s), &v, NULL, &err), &err);
    return v;
}

static ts_dedup_verdict image_verdict(ts_dedup *d, const void *bytes, size_t len) {
    ts_error err = {0};
    ts_dedup_verdict v = TS_DEDUP_KEPT;
    CHECK_OK(ts_dedup_image(d, bytes, len, &v, NULL, &err), &err);
    return v;
}

static void normalized_n(const char *in, size_t len, int casefold, const char *want,
                         size_t want_len) {
    ts_buf b = TS_BUF_INIT;
    ts_error err = {0};
    CHECK_OK(ts_dedup_normalize_text(in, len, casefold, &b, &err), &err);
    CHECK_EQ(b.len, want_len);
    CHECK(b.len == want_len && (!want_len || memcmp(b.data, want, b.len) == 0));
    ts_buf_free(&b);
}

static void normalized(const char *in, int casefold, const char *want) {
    normalized_n(in, strlen(in), casefold, want, strlen(want));
}

static void test_exact_duplicates(void) {
    ts_dedup *d;
    ts_error err = {0};
    CHECK_OK(ts_dedup_open(&d, NULL, NULL, &err), &err);
    const uint8_t img[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3};
    const uint8_t near[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 4};
    ts_hash128 k1, k2;
    ts_dedup_verdict v;
    CHECK_OK(ts_dedup_image(d, img, sizeof img, &v, &k1, &err), &err);
    CHECK_EQ(v, TS_DEDUP_KEPT);
    CHECK_OK(ts_dedup_image(d, img, sizeof img, &v, &k2, &err), &err);
    CHECK_EQ(v, TS_DEDUP_DUPLICATE);
    CHECK(ts_hash128_equal(k1, k2));
    CHECK(ts_hash128_equal(k1, ts_xxh3_128(img, sizeof img)));
    /* By a key the caller already holds: the same key space as the bytes'. */
    CHECK_OK(ts_dedup_image_key(d, ts_xxh3_128(img, sizeof img), &v, &err), &err);
    CHECK_EQ(v, TS_DEDUP_DUPLICATE);
    CHECK_EQ(image_verdict(d, near, sizeof near), TS_DEDUP_KEPT);
    CHECK_EQ(image_verdict(d, "", 0), TS_DEDUP_KEPT);
    CHECK_EQ(image_verdict(d, "", 0), TS_DEDUP_DUPLICATE);
    /* Images and texts are separate key spaces: same bytes, both kept. */
    CHECK_EQ(text_verdict(d, "abc"), TS_DEDUP_KEPT);
    CHECK_EQ(image_verdict(d, "abc", 3), TS_DEDUP_KEPT);
    CHECK_EQ(text_verdict(d, "abc"), TS_DEDUP_DUPLICATE);
    CHECK_EQ(text_verdict(d, "abd"), TS_DEDUP_KEPT);
    ts_dedup_counts ci = ts_dedup_counts_of(d, TS_DEDUP_IMAGE);
    ts_dedup_counts ct = ts_dedup_counts_of(d, TS_DEDUP_TEXT);
    CHECK_EQ(ci.seen, 7);
    CHECK_EQ(ci.kept, 4);
    CHECK_EQ(ci.dropped, 3);
    CHECK_EQ(ct.seen, 3);
    CHECK_EQ(ct.kept, 2);
    CHECK_EQ(ct.dropped, 1);
    CHECK_EQ(ci.loaded, 0);
    CHECK_STR(ts_dedup_reason(TS_DEDUP_IMAGE), "dup_image");
    CHECK_STR(ts_dedup_reason(TS_DEDUP_TEXT), "dup_text");
    ts_dedup_close(d);
}

static void test_normalization(void) {
    /* NFD "e" + U+0301 and NFC U+00E9 are one text. */
    normalized("caf\x65\xCC\x81", 1, "caf\xC3\xA9");
    normalized("caf\xC3\xA9", 0, "caf\xC3\xA9");
    normalized("CAF\x45\xCC\x81", 0, "CAF\xC3\x89"); /* NFC also without folding */
    /* Whitespace runs (tab, newline, NBSP, ideographic space) -> one space; trimmed. */
    normalized(" \t a \n\n b\xC2\xA0\xE3\x80\x80 c \r\n", 1, "a b c");
    normalized("   ", 1, "");
    normalized("", 1, "");
    /* Case folding, on and off; German sharp s folds to "ss". */
    normalized("Hello WORLD Stra\xC3\x9F" "e", 1, "hello world strasse");
    normalized("Hello WORLD", 0, "Hello WORLD");
    /* Invalid UTF-8: raw bytes, unchanged (no trimming either). */
    normalized(" A\xFF  B ", 1, " A\xFF  B ");
    /* Embedded NUL is a character like any other. */
    normalized_n("a\0b", 3, 1, "a\0b", 3);

    ts_dedup *d;
    ts_error err = {0};
    CHECK_OK(ts_dedup_open(&d, NULL, NULL, &err), &err);
    CHECK_EQ(text_verdict(d, "Caf\xC3\xA9  au lait"), TS_DEDUP_KEPT);
    CHECK_EQ(text_verdict(d, "  caf\x65\xCC\x81 au\tLAIT\n"), TS_DEDUP_DUPLICATE);
    CHECK_EQ(text_verdict(d, "cafe au lait"), TS_DEDUP_KEPT); /* no accent: different */
    ts_dedup_close(d);

    ts_dedup_options o;
    ts_dedup_options_default(&o);
    CHECK_EQ(o.casefold, 1);
    o.casefold = 0;
    CHECK_OK(ts_dedup_open(&d, NULL, &o, &err), &err);
    CHECK_EQ(text_verdict(d, "Hello"), TS_DEDUP_KEPT);
    CHECK_EQ(text_verdict(d, "hello"), TS_DEDUP_KEPT);
    CHECK_EQ(text_verdict(d, " Hello "), TS_DEDUP_DUPLICATE);
    ts_dedup_close(d);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_persistence(void) {
    char idx[600], idx2[600];
    tmp_path(idx, sizeof idx, "run.idx");
    tmp_path(idx2, sizeof idx2, "run2.idx");
    ts_error err = {0};
    ts_dedup *d;
    /* Run 1: no index yet = fresh start. */
    CHECK_OK(ts_dedup_open(&d, idx, NULL, &err), &err);
    CHECK_EQ(ts_dedup_counts_of(d, TS_DEDUP_TEXT).loaded, 0);
    CHECK_EQ(text_verdict(d, "first caption"), TS_DEDUP_KEPT);
    CHECK_EQ(text_verdict(d, "second caption"), TS_DEDUP_KEPT);
    CHECK_EQ(image_verdict(d, "IMG1", 4), TS_DEDUP_KEPT);
    CHECK_OK(ts_dedup_save(d, idx, &err), &err);
    ts_dedup_close(d);

    /* Run 2 drops what run 1 kept, keeps new records; it crashes (never saves). */
    CHECK_OK(ts_dedup_open(&d, idx, NULL, &err), &err);
    CHECK_EQ(ts_dedup_counts_of(d, TS_DEDUP_TEXT).loaded, 2);
    CHECK_EQ(ts_dedup_counts_of(d, TS_DEDUP_IMAGE).loaded, 1);
    CHECK_EQ(text_verdict(d, "First  Caption"), TS_DEDUP_DUPLICATE);
    CHECK_EQ(image_verdict(d, "IMG1", 4), TS_DEDUP_DUPLICATE);
    CHECK_EQ(image_verdict(d, "IMG2", 4), TS_DEDUP_KEPT);
    ts_dedup_close(d);

    /* Run 3: the old index is intact (IMG2 is new again); it saves elsewhere. */
    CHECK_OK(ts_dedup_open(&d, idx, NULL, &err), &err);
    CHECK_EQ(image_verdict(d, "IMG2", 4), TS_DEDUP_KEPT);
    CHECK_OK(ts_dedup_save(d, idx2, &err), &err);
    ts_dedup_close(d);
    CHECK_OK(ts_dedup_open(&d, idx2, NULL, &err), &err);
    CHECK_EQ(ts_dedup_counts_of(d, TS_DEDUP_IMAGE).loaded, 2);
    CHECK_EQ(image_verdict(d, "IMG2", 4), TS_DEDUP_DUPLICATE);
    ts_dedup_close(d);

    /* Layout: 32-byte header + 3 keys + checksum. */
    struct stat sb;
    CHECK_EQ(stat(idx, &sb), 0);
    CHECK_EQ(sb.st_size, 32 + 3 * 16 + 8);
}

static void expect_damaged(const char *path, ts_status code, const char *phrase) {
    ts_error err = {0};
    ts_dedup *d = (ts_dedup *)1;
    CHECK_EQ(ts_dedup_open(&d, path, NULL, &err), code);
    CHECK(d == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    if (!strstr(err.msg, phrase)) fprintf(stderr, "  message: %s\n", err.msg);
    CHECK(strstr(err.msg, phrase) != NULL);
}

static void test_damaged_index(void) {
    char idx[600], bad[600];
    tmp_path(idx, sizeof idx, "good.idx");
    tmp_path(bad, sizeof bad, "bad.idx");
    ts_error err = {0};
    ts_dedup *d;
    CHECK_OK(ts_dedup_open(&d, NULL, NULL, &err), &err);
    for (int i = 0; i < 50; i++) {
        char s[32];
        snprintf(s, sizeof s, "text %d", i);
        text_verdict(d, s);
        image_verdict(d, s, strlen(s));
    }
    CHECK_OK(ts_dedup_save(d, idx, &err), &err);
    ts_dedup_close(d);
    ts_buf good = TS_BUF_INIT;
    CHECK_OK(ts_read_file(idx, 1 << 20, &good, &err), &err);
    CHECK_EQ(good.len, 32 + 100 * 16 + 8);
    if (good.len != 32 + 100 * 16 + 8) return;

    /* Every truncation fails cleanly. */
    for (size_t n = 0; n < good.len; n += 7) {
        write_file(bad, good.data, n);
        CHECK(ts_dedup_open(&d, bad, NULL, &err) != TS_OK);
        CHECK(strstr(err.msg, bad) != NULL);
    }
    write_file(bad, good.data, 20);
    expect_damaged(bad, TS_EFORMAT, "truncated");
    write_file(bad, good.data, good.len - 1);
    expect_damaged(bad, TS_EFORMAT, "do not match");
    /* A flipped byte anywhere fails: in a key, the checksum or the header. */
    for (size_t at = 0; at < good.len; at++) {
        good.data[at] ^= 0x10;
        write_file(bad, good.data, good.len);
        CHECK(ts_dedup_open(&d, bad, NULL, &err) != TS_OK);
        good.data[at] ^= 0x10;
    }
    good.data[40] ^= 1;
    write_file(bad, good.data, good.len);
    good.data[40] ^= 1;
    ts_dedup_open(&d, bad, NULL, &err);
    CHECK(err.code == TS_ECHECKSUM || err.code == TS_EFORMAT);
    good.data[good.len - 1] ^= 1;
    write_file(bad, good.data, good.len);
    good.data[good.len - 1] ^= 1;
    expect_damaged(bad, TS_ECHECKSUM, "checksum");
    good.data[0] = 'X';
    write_file(bad, good.data, good.len);
    expect_damaged(bad, TS_EFORMAT, "magic");
    good.data[0] = 'T';
    good.data[8] = 2;
    write_file(bad, good.data, good.len);
    expect_damaged(bad, TS_EUNSUPPORTED, "version 2");
    good.data[8] = 1;
    /* A count that would overflow the size arithmetic. */
    memset(good.data + 16, 0xFF, 8);
    write_file(bad, good.data, good.len);
    expect_damaged(bad, TS_EFORMAT, "do not match");
    write_file(bad, "", 0);
    expect_damaged(bad, TS_EFORMAT, "truncated");
    /* A directory is not a missing file. */
    CHECK(ts_dedup_open(&d, tmpdir, NULL, &err) != TS_OK);
    ts_buf_free(&good);
}

/* 1e5 inserts of each kind; reconciles counters. No timing assertion. */
static void test_many(void) {
    ts_error err = {0};
    ts_dedup *d;
    char idx[600];
    tmp_path(idx, sizeof idx, "many.idx");
    CHECK_OK(ts_dedup_open(&d, NULL, NULL, &err), &err);
    uint64_t dups = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        char s[48];
        uint32_t v = i % 7 == 0 ? i / 7 : i; /* every 7th repeats an earlier value */
        int n = snprintf(s, sizeof s, "Record number %u", v);
        ts_dedup_verdict vt, vi;
        CHECK_OK(ts_dedup_text(d, s, (size_t)n, &vt, NULL, &err), &err);
        CHECK_OK(ts_dedup_image(d, &v, sizeof v, &vi, NULL, &err), &err);
        CHECK_EQ(vt, vi);
        dups += vt == TS_DEDUP_DUPLICATE;
    }
    for (int k = 0; k < 2; k++) {
        ts_dedup_counts c = ts_dedup_counts_of(d, (ts_dedup_kind)k);
        CHECK_EQ(c.seen, 100000);
        CHECK_EQ(c.seen, c.kept + c.dropped);
        CHECK_EQ(c.dropped, dups);
    }
    CHECK(dups > 10000);
    CHECK_OK(ts_dedup_save(d, idx, &err), &err);
    uint64_t kept = ts_dedup_counts_of(d, TS_DEDUP_TEXT).kept;
    ts_dedup_close(d);
    CHECK_OK(ts_dedup_open(&d, idx, NULL, &err), &err);
    CHECK_EQ(ts_dedup_counts_of(d, TS_DEDUP_TEXT).loaded, kept);
    CHECK_EQ(ts_dedup_counts_of(d, TS_DEDUP_IMAGE).loaded, kept);
    ts_dedup_close(d);
}

int main(void) {
    const char *base = getenv("TS_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_dedup.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_exact_duplicates);
    RUN(test_normalization);
    RUN(test_persistence);
    RUN(test_damaged_index);
    RUN(test_many);
    return harness_report();
}
