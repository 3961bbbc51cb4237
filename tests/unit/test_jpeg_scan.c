/* Unit tests of the JPEG marker walk (ingest/jpeg_scan.h) on JPEGs made here
 * with libjpeg-turbo's encoder: baseline, progressive, grayscale and with
 * restart markers pass; every truncation, a segment running past the end, an
 * EOI before any scan and a frame over the pixel limit fail; and the limit
 * of the walk: a bogus Huffman table passes it while the full decode
 * (tiler/decode.h) rejects it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "../harness.h"
#include "ingest/jpeg_scan.h"
#include "jpeg_encode.h"
#include "tiler/decode.h"

#define W 96
#define H 64

static blob make_jpeg(int progressive, int gray, int restart) {
    static uint8_t rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *q = rgb + 3 * ((size_t)y * W + x);
            q[0] = (uint8_t)(x * 2 + y);
            q[1] = (uint8_t)((x * y) & 0xFF);
            q[2] = (uint8_t)(y * 3);
        }
    static const char note[] = "a comment with \xff\xd9 inside";
    test_jpeg_options o = {85, progressive, gray, (unsigned)restart, JPEG_COM, (const uint8_t *)note, sizeof note};
    return test_jpeg_encode(rgb, W, H, &o);
}

/* Offset of the first marker m (0xFF m), or 0. */
static size_t find_marker(const blob *b, uint8_t m) {
    for (size_t i = 0; i + 1 < b->len; i++)
        if (b->data[i] == 0xFF && b->data[i + 1] == m) return i;
    return 0;
}

static int decodes(const uint8_t *d, size_t len) {
    ts_image img = {0};
    ts_error e = {0};
    ts_status st = ts_decode_image(d, len, NULL, &img, NULL, &e);
    ts_image_free(&img);
    return st == TS_OK;
}

static void test_valid_and_truncated(void) {
    int kinds[][3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 2}, {1, 0, 1}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        blob b = make_jpeg(kinds[k][0], kinds[k][1], kinds[k][2]);
        ts_error err = {0};
        CHECK_OK(ts_jpeg_scan(b.data, b.len, 0, &err), &err);
        CHECK(decodes(b.data, b.len));
        /* Every proper prefix lacks the EOI marker (or more). */
        size_t passed = 0;
        for (size_t n = 0; n < b.len; n++) passed += ts_jpeg_scan(b.data, n, 0, &err) == TS_OK;
        CHECK_EQ(passed, 0);
        CHECK_EQ(ts_jpeg_scan(b.data, b.len * 2 / 3, 0, &err), TS_EFORMAT);
        CHECK(strstr(err.msg, "truncated") != NULL);
        if (!strstr(err.msg, "truncated")) fprintf(stderr, "  %s\n", err.msg);
        free(b.data);
    }
}

static void test_bad_structure(void) {
    blob b = make_jpeg(0, 0, 0);
    ts_error err = {0};
    /* A frame header over the pixel limit (its height and width bytes). */
    size_t sof = find_marker(&b, 0xC0);
    CHECK(sof > 0);
    CHECK_OK(ts_jpeg_scan(b.data, b.len, (uint64_t)W * H, &err), &err);
    CHECK_EQ(ts_jpeg_scan(b.data, b.len, (uint64_t)W * H - 1, &err), TS_ELIMIT);
    uint8_t *p = malloc(b.len);
    memcpy(p, b.data, b.len);
    p[sof + 5] = p[sof + 6] = p[sof + 7] = p[sof + 8] = 0xFF;
    CHECK_EQ(ts_jpeg_scan(p, b.len, TS_DEFAULT_MAX_PIXELS, &err), TS_ELIMIT);
    /* A zero width. */
    memcpy(p, b.data, b.len);
    p[sof + 7] = p[sof + 8] = 0;
    CHECK_EQ(ts_jpeg_scan(p, b.len, 0, &err), TS_EFORMAT);
    /* The quantization table's segment length pointing past the end. */
    size_t dqt = find_marker(&b, 0xDB);
    memcpy(p, b.data, b.len);
    p[dqt + 2] = p[dqt + 3] = 0xFF;
    CHECK_EQ(ts_jpeg_scan(p, b.len, 0, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "runs past") != NULL);
    /* Not a marker where one must be. */
    memcpy(p, b.data, b.len);
    p[dqt] = 0x12;
    CHECK_EQ(ts_jpeg_scan(p, b.len, 0, &err), TS_EFORMAT);
    /* SOI then EOI; and no SOI at all. */
    static const uint8_t empty[] = {0xFF, 0xD8, 0xFF, 0xD9};
    CHECK_EQ(ts_jpeg_scan(empty, sizeof empty, 0, &err), TS_EFORMAT);
    CHECK_EQ(ts_jpeg_scan(b.data + 2, b.len - 2, 0, &err), TS_EFORMAT);
    CHECK_EQ(ts_jpeg_scan(NULL, 0, 0, &err), TS_EFORMAT);
    free(p);
    free(b.data);
}

/* What the walk does not see: the tables' contents and the scan data. A
 * Huffman table whose code counts are impossible keeps the segment intact:
 * the walk passes it, the decoder refuses the table. Scan data overwritten
 * with other bytes (never 0xFF, so no marker appears) passes the walk too. */
static void test_contents_are_not_decoded(void) {
    blob b = make_jpeg(0, 0, 0);
    size_t dht = find_marker(&b, 0xC4);
    CHECK(dht > 0);
    uint8_t *p = malloc(b.len);
    memcpy(p, b.data, b.len);
    for (int i = 0; i < 16; i++) p[dht + 5 + i] = 0x40; /* 16 x 64 codes: more than 256 */
    ts_error err = {0};
    CHECK(decodes(b.data, b.len));
    CHECK_OK(ts_jpeg_scan(p, b.len, 0, &err), &err);
    CHECK(!decodes(p, b.len));
    size_t sos = find_marker(&b, 0xDA);
    size_t data = sos + 2 + ((size_t)b.data[sos + 2] << 8 | b.data[sos + 3]);
    memcpy(p, b.data, b.len);
    for (size_t i = data + 16; i < b.len - 10; i++) p[i] = (uint8_t)(i * 37 % 255);
    CHECK_OK(ts_jpeg_scan(p, b.len, 0, &err), &err);
    free(p);
    free(b.data);
}

int main(void) {
    RUN(test_valid_and_truncated);
    RUN(test_bad_structure);
    RUN(test_contents_are_not_decoded);
    return harness_report();
}
