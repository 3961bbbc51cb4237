/* ingest/zip_index: member lookup and reads on zips written by Python's
 * zipfile (tests/fixtures/sources), a hand-built zip64 archive, and corrupt
 * and truncated copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "core/io.h"
#include "ingest/sample.h"
#include "ingest/zip_index.h"

#define STORED_ZIP "tests/fixtures/sources/coco_captions_2017/train2017.zip"
#define DEFLATE_ZIP "tests/fixtures/sources/coco_captions_2017/annotations_trainval2017.zip"

static char tmp_path[512];
static const char *scratch(const char *name) {
    snprintf(tmp_path, sizeof tmp_path, "%s/zip_%d_%s", harness_tmpdir(), (int)getpid(), name);
    return tmp_path;
}

static void test_python_stored(void) {
    ts_error err = {0};
    ts_zip *z = NULL;
    CHECK_OK(ts_zip_open(STORED_ZIP, &z, &err), &err);
    if (!z) return;
    CHECK_EQ(ts_zip_count(z), 5); /* the folder entry and four photos */
    long i = ts_zip_find(z, "train2017/000000000009.jpg");
    CHECK(i >= 0);
    CHECK_EQ(ts_zip_find(z, "train2017/000000000009.jp"), -1);
    CHECK_EQ(ts_zip_find(z, "000000000009.jpg"), -1);
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_zip_read(z, (size_t)i, 0, &b, &err), &err);
    CHECK_EQ(b.len, ts_zip_size(z, (size_t)i));
    ts_sample s;
    ts_sample_init(&s);
    CHECK_OK(ts_sample_add_image(&s, b.data, b.len, &err), &err);
    CHECK_EQ(s.images[0].width, 40);
    CHECK_EQ(s.images[0].height, 32);
    /* every member by its name finds itself */
    for (size_t k = 0; k < ts_zip_count(z); k++) CHECK_EQ(ts_zip_find(z, ts_zip_name(z, k)), (long)k);
    /* the size limit */
    ts_buf_reset(&b);
    CHECK_EQ(ts_zip_read(z, (size_t)i, 100, &b, &err), TS_ELIMIT);
    ts_sample_free(&s);
    ts_buf_free(&b);
    ts_zip_close(z);
}

static void test_python_deflate(void) {
    ts_error err = {0};
    ts_zip *z = NULL;
    CHECK_OK(ts_zip_open(DEFLATE_ZIP, &z, &err), &err);
    if (!z) return;
    long i = ts_zip_find(z, "annotations/captions_train2017.json");
    CHECK(i >= 0);
    ts_buf b = TS_BUF_INIT;
    CHECK_OK(ts_zip_read(z, (size_t)i, 0, &b, &err), &err);
    CHECK(b.len > 100 && memcmp(b.data, "{\"info\"", 7) == 0);
    CHECK(memmem(b.data, b.len, "A flower vase is sitting on a porch stand.", 42) != NULL);
    ts_buf_free(&b);
    ts_zip_close(z);
}

static int copy_file(const char *from, const char *to, size_t keep, long flip_at) {
    ts_buf b = TS_BUF_INIT;
    if (ts_read_file(from, 1 << 20, &b, NULL)) return -1;
    if (flip_at >= 0 && (size_t)flip_at < b.len) b.data[flip_at] ^= 0x5a;
    FILE *f = fopen(to, "wb");
    int rc = f && fwrite(b.data, 1, keep < b.len ? keep : b.len, f) == (keep < b.len ? keep : b.len) ? 0 : -1;
    if (f) fclose(f);
    ts_buf_free(&b);
    return rc;
}

/* Find a member's data offset by reading its local header. */
static long data_offset(const char *path, const char *member) {
    ts_buf b = TS_BUF_INIT;
    if (ts_read_file(path, 1 << 20, &b, NULL)) return -1;
    long off = -1;
    uint8_t *p = memmem(b.data, b.len, member, strlen(member));
    if (p && p - b.data >= 30) off = (long)(p - b.data) + (long)strlen(member) + (p[-2] | p[-1] << 8);
    ts_buf_free(&b);
    return off;
}

static void test_corrupt_member(void) {
    ts_error err = {0};
    const char *member = "train2017/000000000025.jpg";
    long off = data_offset(STORED_ZIP, member);
    CHECK(off > 0);
    const char *p = scratch("flip_stored.zip");
    CHECK_EQ(copy_file(STORED_ZIP, p, SIZE_MAX, off + 100), 0);
    ts_zip *z = NULL;
    CHECK_OK(ts_zip_open(p, &z, &err), &err);
    if (!z) return;
    ts_buf b = TS_BUF_INIT;
    CHECK_EQ(ts_zip_read(z, (size_t)ts_zip_find(z, member), 0, &b, &err), TS_ECHECKSUM);
    CHECK(strstr(err.msg, member) != NULL);
    /* the other members still read */
    CHECK_OK(ts_zip_read(z, (size_t)ts_zip_find(z, "train2017/000000000030.jpg"), 0, &b, &err), &err);
    ts_buf_free(&b);
    ts_zip_close(z);

    member = "annotations/captions_train2017.json";
    off = data_offset(DEFLATE_ZIP, member);
    p = scratch("flip_deflate.zip");
    CHECK_EQ(copy_file(DEFLATE_ZIP, p, SIZE_MAX, off + 20), 0);
    CHECK_OK(ts_zip_open(p, &z, &err), &err);
    if (!z) return;
    ts_status st = ts_zip_read(z, (size_t)ts_zip_find(z, member), 0, &b, &err);
    CHECK(st == TS_EFORMAT || st == TS_ECHECKSUM);
    ts_buf_free(&b);
    ts_zip_close(z);
}

/* Every truncation of both fixtures: open fails cleanly, or every read
 * either succeeds with the right size or fails with a format error. */
static void test_truncated(void) {
    const char *zips[] = {STORED_ZIP, DEFLATE_ZIP};
    for (int k = 0; k < 2; k++) {
        ts_buf whole = TS_BUF_INIT;
        CHECK_OK(ts_read_file(zips[k], 1 << 20, &whole, NULL), &(ts_error){0});
        int opened = 0;
        for (size_t keep = 0; keep < whole.len; keep += 7) {
            const char *p = scratch("cut.zip");
            CHECK_EQ(copy_file(zips[k], p, keep, -1), 0);
            ts_error err = {0};
            ts_zip *z = NULL;
            ts_status st = ts_zip_open(p, &z, &err);
            if (st) {
                CHECK(st == TS_EFORMAT);
                continue;
            }
            opened++;
            for (size_t i = 0; i < ts_zip_count(z); i++) {
                ts_buf b = TS_BUF_INIT;
                st = ts_zip_read(z, i, 0, &b, &err);
                CHECK(st == TS_OK || st == TS_EFORMAT || st == TS_ECHECKSUM);
                if (!st) CHECK_EQ(b.len, ts_zip_size(z, i));
                ts_buf_free(&b);
            }
            ts_zip_close(z);
        }
        CHECK_EQ(opened, 0); /* the directory is at the end: any cut loses the EOCD */
        ts_buf_free(&whole);
    }
}

static void test_not_a_zip(void) {
    ts_error err = {0};
    ts_zip *z = NULL;
    CHECK_EQ(ts_zip_open("tests/fixtures/sources/ocr_vqa/dataset.json", &z, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "dataset.json") != NULL);
    CHECK_EQ(ts_zip_open(scratch("absent.zip"), &z, &err), TS_EIO);
}

static void put16(ts_buf *b, unsigned v) {
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    ts_buf_append(b, p, 2, NULL);
}

/* A zip64 archive built from APPNOTE 4.3.14-4.3.15 and 4.5.3: the central
 * entry stores 0xFFFFFFFF sizes and offset with the real ones in the zip64
 * extra field; the end record points at a zip64 end record. */
static void test_zip64(void) {
    const char *data = "hello zip64";
    size_t n = strlen(data);
    uint32_t crc = 0x0;
    {
        /* CRC-32 of the data, computed bitwise here, independent of zlib */
        uint32_t c = 0xFFFFFFFFu;
        for (size_t i = 0; i < n; i++) {
            c ^= (uint8_t)data[i];
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
        }
        crc = ~c;
    }
    ts_buf b = TS_BUF_INIT;
    const char *name = "dir/a.txt";
    ts_buf_put_u32le(&b, 0x04034b50, NULL);
    put16(&b, 45); put16(&b, 0); put16(&b, 0); put16(&b, 0); put16(&b, 0);
    ts_buf_put_u32le(&b, crc, NULL);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    put16(&b, (unsigned)strlen(name)); put16(&b, 20);
    ts_buf_append(&b, name, strlen(name), NULL);
    put16(&b, 1); put16(&b, 16);
    ts_buf_put_u64le(&b, n, NULL);
    ts_buf_put_u64le(&b, n, NULL);
    ts_buf_append(&b, data, n, NULL);
    uint64_t cd = b.len;
    ts_buf_put_u32le(&b, 0x02014b50, NULL);
    put16(&b, 45); put16(&b, 45); put16(&b, 0); put16(&b, 0); put16(&b, 0); put16(&b, 0);
    ts_buf_put_u32le(&b, crc, NULL);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    put16(&b, (unsigned)strlen(name)); put16(&b, 28); put16(&b, 0); put16(&b, 0); put16(&b, 0);
    ts_buf_put_u32le(&b, 0, NULL);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    ts_buf_append(&b, name, strlen(name), NULL);
    put16(&b, 1); put16(&b, 24);
    ts_buf_put_u64le(&b, n, NULL);
    ts_buf_put_u64le(&b, n, NULL);
    ts_buf_put_u64le(&b, 0, NULL);
    uint64_t cd_size = b.len - cd, eocd64 = b.len;
    ts_buf_put_u32le(&b, 0x06064b50, NULL);
    ts_buf_put_u64le(&b, 44, NULL);
    put16(&b, 45); put16(&b, 45);
    ts_buf_put_u32le(&b, 0, NULL);
    ts_buf_put_u32le(&b, 0, NULL);
    ts_buf_put_u64le(&b, 1, NULL);
    ts_buf_put_u64le(&b, 1, NULL);
    ts_buf_put_u64le(&b, cd_size, NULL);
    ts_buf_put_u64le(&b, cd, NULL);
    ts_buf_put_u32le(&b, 0x07064b50, NULL);
    ts_buf_put_u32le(&b, 0, NULL);
    ts_buf_put_u64le(&b, eocd64, NULL);
    ts_buf_put_u32le(&b, 1, NULL);
    ts_buf_put_u32le(&b, 0x06054b50, NULL);
    put16(&b, 0); put16(&b, 0); put16(&b, 0xFFFF); put16(&b, 0xFFFF);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    ts_buf_put_u32le(&b, 0xFFFFFFFFu, NULL);
    put16(&b, 0);
    const char *p = scratch("zip64.zip");
    ts_error err = {0};
    CHECK_OK(ts_write_file_atomic(p, b.data, b.len, 0, &err), &err);
    ts_buf_free(&b);
    ts_zip *z = NULL;
    CHECK_OK(ts_zip_open(p, &z, &err), &err);
    if (!z) return;
    CHECK_EQ(ts_zip_count(z), 1);
    CHECK_STR(ts_zip_name(z, 0), name);
    CHECK_EQ(ts_zip_size(z, 0), n);
    ts_buf out = TS_BUF_INIT;
    CHECK_OK(ts_zip_read(z, 0, 0, &out, &err), &err);
    CHECK(out.len == n && memcmp(out.data, data, n) == 0);
    ts_buf_free(&out);
    ts_zip_close(z);
}

int main(void) {
    RUN(test_python_stored);
    RUN(test_python_deflate);
    RUN(test_corrupt_member);
    RUN(test_truncated);
    RUN(test_not_a_zip);
    RUN(test_zip64);
    return harness_report();
}
