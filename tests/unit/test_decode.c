/* Unit tests of the image decoder: sniffing, probing, limits, options, EXIF,
 * and robustness (every truncation and random byte flips of each format must
 * fail cleanly, never crash). Fixtures are encoded here with the real
 * encoders of the same libraries (libjpeg-turbo, libspng, libwebp, giflib). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <spng.h>
#include <webp/encode.h>
#include <zlib.h>

#include "../harness.h"
#include "jpeg_encode.h"
#include "tiler/decode.h"
#include "tiler/exif.h"

#define W 64
#define H 48

static uint8_t *test_rgb(int channels) {
    uint8_t *p = malloc((size_t)W * H * channels);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *q = p + ((size_t)y * W + x) * channels;
            q[0] = (uint8_t)(x * 4);
            q[1] = (uint8_t)(y * 5);
            q[2] = (uint8_t)((x * y) & 0xFF);
            if (channels == 4)
                q[3] = (uint8_t)(x < 8 ? 0 : x * 4);
        }
    return p;
}

/* ---- encoders ---- */

static blob make_jpeg(int progressive, int gray, const uint8_t *app1, size_t app1_len) {
    uint8_t *rgb = test_rgb(3);
    test_jpeg_options o = {90, progressive, gray, 0, app1 ? JPEG_APP0 + 1 : 0, app1, (unsigned)app1_len};
    blob b = test_jpeg_encode(rgb, W, H, &o);
    free(rgb);
    return b;
}

static blob make_png(int alpha, int interlace, const uint8_t *exif, size_t exif_len) {
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {W, H, 8, alpha ? SPNG_COLOR_TYPE_TRUECOLOR_ALPHA
                                            : SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, (uint8_t)interlace};
    spng_set_ihdr(ctx, &ihdr);
    if (exif) {
        struct spng_exif ex = {exif_len, (char *)exif};
        spng_set_exif(ctx, &ex);
    }
    uint8_t *px = test_rgb(alpha ? 4 : 3);
    int rc = spng_encode_image(ctx, px, (size_t)W * H * (alpha ? 4 : 3), SPNG_FMT_PNG,
                               SPNG_ENCODE_FINALIZE);
    free(px);
    blob b = {NULL, 0};
    int e = 0;
    if (rc == 0)
        b.data = spng_get_png_buffer(ctx, &b.len, &e);
    spng_ctx_free(ctx);
    return b;
}

static blob make_webp(int lossless) {
    uint8_t *px = test_rgb(lossless ? 4 : 3), *out = NULL;
    size_t n = lossless ? WebPEncodeLosslessRGBA(px, W, H, W * 4, &out)
                        : WebPEncodeRGB(px, W, H, W * 3, 80, &out);
    free(px);
    blob b = {malloc(n), n};
    memcpy(b.data, out, n);
    WebPFree(out);
    return b;
}

typedef struct gif_sink {
    uint8_t *data;
    size_t len;
} gif_sink;

static int gif_write(GifFileType *g, const GifByteType *buf, int n) {
    gif_sink *s = g->UserData;
    s->data = realloc(s->data, s->len + (size_t)n);
    memcpy(s->data + s->len, buf, (size_t)n);
    s->len += (size_t)n;
    return n;
}

/* 16-color GIF, `frames` frames, index 3 transparent on the first. */
static blob make_gif(int frames, int interlace) {
    gif_sink sink = {NULL, 0};
    int gerr = 0;
    GifFileType *g = EGifOpen(&sink, gif_write, &gerr);
    GifColorType colors[16];
    for (int i = 0; i < 16; i++)
        colors[i] = (GifColorType){(GifByteType)(i * 16), (GifByteType)(255 - i * 16), 77};
    ColorMapObject *map = GifMakeMapObject(16, colors);
    EGifSetGifVersion(g, true);
    EGifPutScreenDesc(g, W, H, 4, 0, map);
    for (int f = 0; f < frames; f++) {
        GifByteType gce[4] = {f == 0 ? 1 : 0, 0, 0, 3};
        EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, gce);
        EGifPutImageDesc(g, 0, 0, W, H, interlace, NULL);
        /* giflib writes rows in the order given; interlaced files store the
         * passes in order, so feed the rows that way. */
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        for (int p = 0; p < (interlace ? 4 : 1); p++)
            for (int y = interlace ? start[p] : 0; y < H; y += interlace ? step[p] : 1) {
                GifPixelType row[W];
                for (int x = 0; x < W; x++)
                    row[x] = (GifPixelType)((x / 4 + y + f) % 16);
                EGifPutLine(g, row, W);
            }
    }
    EGifCloseFile(g, &gerr);
    GifFreeMapObject(map);
    return (blob){sink.data, sink.len};
}

static ts_status decode(const blob *b, const ts_decode_options *o, ts_image *img,
                        ts_decode_info *info, ts_error *err) {
    return ts_decode_image(b->data, b->len, o, img, info, err);
}

/* ---- sniffing ---- */

static void test_sniff(void) {
    CHECK_EQ(ts_sniff_format((const uint8_t *)"\xff\xd8\xff\xe0", 4), TS_FMT_JPEG);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), TS_FMT_PNG);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"\x89PNG\r\n\x1a", 7), TS_FMT_UNKNOWN);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), TS_FMT_WEBP);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"RIFF\0\0\0\0WAVEfmt ", 16), TS_FMT_UNKNOWN);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"GIF87a", 6), TS_FMT_GIF);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"GIF89a", 6), TS_FMT_GIF);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"GIF90a", 6), TS_FMT_UNKNOWN);
    CHECK_EQ(ts_sniff_format((const uint8_t *)"BM", 2), TS_FMT_UNKNOWN);
    CHECK_EQ(ts_sniff_format(NULL, 0), TS_FMT_UNKNOWN);
    CHECK_STR(ts_format_name(TS_FMT_WEBP), "webp");
    CHECK_STR(ts_format_mime(TS_FMT_JPEG), "image/jpeg");
    CHECK_STR(ts_format_mime(TS_FMT_GIF), "image/gif");
    CHECK(ts_format_mime(TS_FMT_UNKNOWN) == NULL);
}

/* ---- basic decodes and probes ---- */

static void test_decode_each_format(void) {
    blob bs[] = {make_jpeg(0, 0, NULL, 0), make_jpeg(1, 0, NULL, 0), make_jpeg(0, 1, NULL, 0),
                 make_png(0, 0, NULL, 0), make_png(1, 1, NULL, 0), make_webp(0), make_webp(1),
                 make_gif(1, 0)};
    ts_image_format fmts[] = {TS_FMT_JPEG, TS_FMT_JPEG, TS_FMT_JPEG, TS_FMT_PNG,
                              TS_FMT_PNG,  TS_FMT_WEBP, TS_FMT_WEBP, TS_FMT_GIF};
    int alpha[] = {0, 0, 0, 0, 1, 0, 1, 1};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        ts_image img;
        ts_decode_info info, probe;
        ts_error err_ = {0}, *err = &err_;
        CHECK(bs[i].data != NULL);
        CHECK_OK(decode(&bs[i], NULL, &img, &info, err), err);
        CHECK_EQ(info.format, fmts[i]);
        CHECK_EQ(img.width, W);
        CHECK_EQ(img.height, H);
        CHECK_EQ(info.had_alpha, alpha[i]);
        CHECK_EQ(info.frames, 1);
        CHECK_OK(ts_probe_image(bs[i].data, bs[i].len, &probe, err), err);
        CHECK_EQ(probe.width, W);
        CHECK_EQ(probe.height, H);
        CHECK_EQ(probe.format, fmts[i]);
        CHECK_EQ(probe.had_alpha, alpha[i]);
        ts_image_free(&img);
        free(bs[i].data);
    }
}

static void test_lossless_pixels_exact(void) {
    /* PNG and lossless WebP give back exactly the RGB that was encoded
     * (libwebp's lossless encoder may rewrite the RGB under alpha 0). */
    blob bs[] = {make_png(0, 0, NULL, 0), make_png(1, 1, NULL, 0), make_webp(1)};
    int channels[] = {3, 4, 4};
    for (int i = 0; i < 3; i++) {
        uint8_t *want = test_rgb(channels[i]);
        ts_image img;
        ts_error err_ = {0}, *err = &err_;
        CHECK_OK(decode(&bs[i], NULL, &img, NULL, err), err);
        int bad = 0;
        for (int p = 0; p < W * H; p++)
            if (channels[i] == 3 || want[4 * p + 3] != 0)
                bad += memcmp(img.rgb + 3 * p, want + channels[i] * p, 3) != 0;
        CHECK_EQ(bad, 0);
        ts_image_free(&img);
        free(want);
        free(bs[i].data);
    }
}

/* 2-bit gray, Adam7-interlaced, odd size: sub-byte samples de-interlaced
 * into place, scaled by 85 as Pillow's "L;2" unpacker does. */
static void test_png_interlaced_2bit_gray(void) {
    enum { GW = 37, GH = 23, STRIDE = (GW * 2 + 7) / 8 };
    uint8_t packed[GH * STRIDE];
    memset(packed, 0, sizeof packed);
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++)
            packed[y * STRIDE + x / 4] |= (uint8_t)(((x + 2 * y) % 4) << (6 - 2 * (x % 4)));
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {GW, GH, 2, SPNG_COLOR_TYPE_GRAYSCALE, 0, 0, 1};
    spng_set_ihdr(ctx, &ihdr);
    int rc = spng_encode_image(ctx, packed, sizeof packed, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    CHECK_EQ(rc, 0);
    blob b = {NULL, 0};
    int e = 0;
    b.data = spng_get_png_buffer(ctx, &b.len, &e);
    spng_ctx_free(ctx);
    ts_image img;
    ts_error err_ = {0}, *err = &err_;
    CHECK_OK(decode(&b, NULL, &img, NULL, err), err);
    int bad = 0;
    for (int y = 0; y < GH && img.rgb; y++)
        for (int x = 0; x < GW; x++) {
            const uint8_t *p = img.rgb + 3 * (y * GW + x);
            int v = ((x + 2 * y) % 4) * 85;
            bad += p[0] != v || p[1] != v || p[2] != v;
        }
    CHECK_EQ(bad, 0);
    ts_image_free(&img);
    free(b.data);
}

static void test_gif_frames_and_transparency(void) {
    blob b = make_gif(3, 1);
    ts_image img;
    ts_decode_info info;
    ts_error err_ = {0}, *err = &err_;
    CHECK_OK(decode(&b, NULL, &img, &info, err), err);
    CHECK_EQ(info.frames, 3);
    CHECK_EQ(info.had_alpha, 1);
    /* first frame, interlaced rows put back in place: pixel (x, y) = (x/4+y) % 16 */
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int k = (x / 4 + y) % 16;
            const uint8_t *p = img.rgb + 3 * ((size_t)y * W + x);
            bad += p[0] != k * 16 || p[1] != 255 - k * 16 || p[2] != 77;
        }
    CHECK_EQ(bad, 0);
    ts_image_free(&img);
    /* over white, index 3 becomes white */
    ts_decode_options o = {.alpha_on_white = 1};
    CHECK_OK(decode(&b, &o, &img, &info, err), err);
    const uint8_t *p = img.rgb + 3 * (size_t)(3 * W); /* (0, 3): index 3 */
    CHECK(p[0] == 255 && p[1] == 255 && p[2] == 255);
    ts_image_free(&img);
    ts_decode_info probe;
    CHECK_OK(ts_probe_image(b.data, b.len, &probe, err), err);
    CHECK_EQ(probe.frames, 3);
    free(b.data);
}

static void test_alpha_on_white(void) {
    blob b = make_png(1, 0, NULL, 0);
    ts_image plain, white;
    ts_error err_ = {0}, *err = &err_;
    ts_decode_options o = {.alpha_on_white = 1};
    CHECK_OK(decode(&b, NULL, &plain, NULL, err), err);
    CHECK_OK(decode(&b, &o, &white, NULL, err), err);
    uint8_t *src = test_rgb(4);
    /* x < 8 is fully transparent: dropped alpha keeps the color, white gives 255 */
    CHECK_EQ(plain.rgb[3 * 5 + 1], src[4 * 5 + 1]);
    CHECK(white.rgb[3 * 5] == 255 && white.rgb[3 * 5 + 1] == 255 && white.rgb[3 * 5 + 2] == 255);
    /* x = 32: alpha 128; Pillow's alpha_composite rounds 0 over white to 127 */
    size_t i = (size_t)(2 * W + 32);
    int c = src[4 * i], want = c;
    {
        uint32_t a = 128, coef1 = a * 255 * 255 * 128 / (255 * 255), coef2 = 255 * 128 - coef1;
        uint32_t t = (uint32_t)c * coef1 + 255 * coef2 + (0x80u << 7);
        want = (int)((((t >> 8) + t) >> 8) >> 7);
    }
    CHECK_EQ(white.rgb[3 * i], want);
    CHECK(white.rgb[3 * i] != plain.rgb[3 * i]);
    ts_image_free(&plain);
    ts_image_free(&white);
    free(src);
    free(b.data);
}

/* ---- limits and bad input ---- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* crc32 of the PNG chunk type+data, for patched IHDRs */
static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* The same files with their headers claiming huge sizes. */
static blob bomb(ts_image_format f) {
    blob b;
    if (f == TS_FMT_PNG) {
        b = make_png(0, 0, NULL, 0);
        put_be32(b.data + 16, 100000);
        put_be32(b.data + 20, 100000);
        put_be32(b.data + 29, crc32_png(b.data + 12, 17));
    } else if (f == TS_FMT_JPEG) {
        b = make_jpeg(0, 0, NULL, 0);
        for (size_t i = 2; i + 9 < b.len; i++)
            if (b.data[i] == 0xFF && b.data[i + 1] == 0xC0) { /* SOF0: P, Y, X */
                b.data[i + 5] = b.data[i + 7] = 0xEA;
                b.data[i + 6] = b.data[i + 8] = 0x60; /* 60000 x 60000 */
                break;
            }
    } else if (f == TS_FMT_GIF) {
        b = make_gif(1, 0);
        b.data[6] = b.data[7] = b.data[8] = b.data[9] = 0xFF; /* 65535 x 65535 screen */
    } else {
        b = make_webp(1); /* VP8L: 14-bit width-1 and height-1 after the 0x2f signature */
        uint32_t bits = 16383u | 16383u << 14 | 1u << 28;
        memcpy(b.data + 21, &bits, 4); /* little-endian hosts only, as libwebp itself */
    }
    return b;
}

static void test_pixel_bombs_refused(void) {
    ts_image_format fmts[] = {TS_FMT_PNG, TS_FMT_JPEG, TS_FMT_GIF, TS_FMT_WEBP};
    for (int i = 0; i < 4; i++) {
        blob b = bomb(fmts[i]);
        ts_image img;
        ts_error err_ = {0}, *err = &err_;
        ts_status st = decode(&b, NULL, &img, NULL, err);
        CHECK_EQ(st, TS_ELIMIT);
        CHECK(img.rgb == NULL);
        CHECK(strstr(err->msg, "exceeds the limit") != NULL);
        ts_decode_info info;
        CHECK_OK(ts_probe_image(b.data, b.len, &info, err), err);
        CHECK(info.width >= 16383 && info.height >= 16383);
        free(b.data);
    }
}

/* Without sanitizers (which reserve huge shadow memory), cap the address
 * space of a child process: had a decoder allocated the claimed image before
 * checking the limit, it would fail with TS_ENOMEM instead of TS_ELIMIT. */
static void test_bombs_refused_before_allocating(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("  (skipped under AddressSanitizer)\n");
#else
    ts_image_format fmts[] = {TS_FMT_PNG, TS_FMT_JPEG, TS_FMT_GIF, TS_FMT_WEBP};
    blob bs[4];
    for (int i = 0; i < 4; i++)
        bs[i] = bomb(fmts[i]);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30}; /* 1 GiB < any bomb image */
        setrlimit(RLIMIT_AS, &rl);
        int bad = 0;
        for (int i = 0; i < 4; i++) {
            ts_image img;
            bad += decode(&bs[i], NULL, &img, NULL, NULL) != TS_ELIMIT;
        }
        _exit(bad);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    for (int i = 0; i < 4; i++)
        free(bs[i].data);
#endif
}

static void test_max_pixels_option(void) {
    blob b = make_png(0, 0, NULL, 0);
    ts_image img;
    ts_error err_ = {0}, *err = &err_;
    ts_decode_options o = {.max_pixels = W * H - 1};
    CHECK_EQ(decode(&b, &o, &img, NULL, err), TS_ELIMIT);
    o.max_pixels = W * H;
    CHECK_OK(decode(&b, &o, &img, NULL, err), err);
    ts_image_free(&img);
    free(b.data);
}

static void test_empty_and_garbage(void) {
    ts_image img;
    ts_error err_ = {0}, *err = &err_;
    CHECK_EQ(ts_decode_image((const uint8_t *)"", 0, NULL, &img, NULL, err), TS_EFORMAT);
    CHECK(strstr(err->msg, "empty") != NULL);
    CHECK_EQ(ts_decode_image(NULL, 0, NULL, &img, NULL, err), TS_EFORMAT);
    uint8_t junk[512];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
    junk[0] = 'x';
    CHECK_EQ(ts_decode_image(junk, sizeof junk, NULL, &img, NULL, err), TS_EUNSUPPORTED);
    CHECK(strstr(err->msg, "not a JPEG, PNG, WebP or GIF") != NULL);
    const char *text = "<html><body>not an image</body></html>";
    CHECK_EQ(ts_decode_image((const uint8_t *)text, strlen(text), NULL, &img, NULL, err),
             TS_EUNSUPPORTED);
    /* right magic, garbage after it */
    const char *magics[] = {"\xff\xd8\xff", "\x89PNG\r\n\x1a\n", "RIFF\x10\0\0\0WEBP", "GIF89a"};
    size_t mlen[] = {3, 8, 12, 6};
    for (int m = 0; m < 4; m++) {
        memcpy(junk, magics[m], mlen[m]);
        for (size_t n = mlen[m]; n <= sizeof junk; n += 101) {
            ts_status st = ts_decode_image(junk, n, NULL, &img, NULL, err);
            CHECK(st == TS_EFORMAT || st == TS_EUNSUPPORTED);
            CHECK(img.rgb == NULL);
            ts_decode_info info;
            CHECK(ts_probe_image(junk, n, &info, err) != TS_OK || info.width > 0);
        }
    }
    CHECK_EQ(ts_probe_image(junk, 0, &(ts_decode_info){0}, err), TS_EFORMAT);
}

/* Every prefix of every fixture: no crash, no leak, and an error for any
 * cut that loses image data. What follows the data may go, as Pillow lets it
 * go: a PNG's last IDAT CRC and IEND (16 bytes), a GIF's trailer byte. */
static void test_truncations(void) {
    blob bs[] = {make_jpeg(0, 0, NULL, 0), make_jpeg(1, 0, NULL, 0), make_png(0, 0, NULL, 0),
                 make_png(1, 1, NULL, 0), make_webp(0), make_webp(1), make_gif(1, 1)};
    size_t optional_tail[] = {0, 0, 16, 16, 0, 0, 1};
    const char *names[] = {"jpeg", "jpeg progressive", "png", "png interlaced",
                           "webp lossy", "webp lossless", "gif"};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        size_t step = bs[i].len / 700 + 1;
        int wrong = 0;
        for (size_t n = 0; n < bs[i].len; n += step) {
            ts_image img;
            ts_error err_ = {0}, *err = &err_;
            ts_status st = ts_decode_image(bs[i].data, n, NULL, &img, NULL, err);
            if (st == TS_OK) {
                ts_image_free(&img);
                if (n + optional_tail[i] < bs[i].len && wrong++ < 3)
                    fprintf(stderr, "  %s cut at %zu of %zu decoded\n", names[i], n, bs[i].len);
            } else if (st != TS_EFORMAT && st != TS_EUNSUPPORTED) {
                wrong++;
                fprintf(stderr, "  %s cut at %zu: status %d\n", names[i], n, (int)st);
            } else if (err->msg[0] == '\0') {
                wrong++;
            }
        }
        CHECK_EQ(wrong, 0);
        free(bs[i].data);
    }
}

static void test_random_byte_flips(void) {
    blob bs[] = {make_jpeg(0, 0, NULL, 0), make_jpeg(1, 1, NULL, 0), make_png(1, 1, NULL, 0),
                 make_webp(0), make_webp(1), make_gif(2, 0)};
    uint32_t s = 2024;
    int odd = 0;
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        uint8_t *copy = malloc(bs[i].len);
        for (int round = 0; round < 250; round++) {
            memcpy(copy, bs[i].data, bs[i].len);
            int flips = 1 + round % 4;
            for (int k = 0; k < flips; k++) {
                s = s * 1103515245u + 12345u;
                size_t at = (s >> 8) % bs[i].len;
                s = s * 1103515245u + 12345u;
                copy[at] ^= (uint8_t)(1u << ((s >> 16) % 8));
            }
            ts_image img;
            ts_decode_info info;
            ts_error err_ = {0}, *err = &err_;
            ts_status st = ts_decode_image(copy, bs[i].len, NULL, &img, &info, err);
            if (st == TS_OK) {
                odd += img.width <= 0 || img.height <= 0 || !img.rgb;
                ts_image_free(&img);
            } else {
                odd += st != TS_EFORMAT && st != TS_EUNSUPPORTED && st != TS_ELIMIT;
            }
            ts_probe_image(copy, bs[i].len, &info, err);
        }
        free(copy);
        free(bs[i].data);
    }
    CHECK_EQ(odd, 0);
}

/* ---- EXIF ---- */

/* A TIFF block with IFD0 holding one entry. */
static size_t tiff_with(uint8_t *t, int le, uint16_t tag, uint16_t type, uint32_t count,
                        uint32_t value) {
    memcpy(t, le ? "II\x2a\0" : "MM\0\x2a", 4);
    uint8_t *p = t + 4;
#define PUT16(v) (le ? (p[0] = (uint8_t)(v), p[1] = (uint8_t)((v) >> 8)) : (p[0] = (uint8_t)((v) >> 8), p[1] = (uint8_t)(v)), p += 2)
#define PUT32(v) (le ? (PUT16((v) & 0xFFFF), PUT16((v) >> 16)) : (PUT16((v) >> 16), PUT16((v) & 0xFFFF)))
    PUT32(8u);
    PUT16(1u);
    PUT16(tag);
    PUT16(type);
    PUT32(count);
    if (type == 3 || type == 8) {
        PUT16(value);
        PUT16(0u);
    } else if (type == 1) {
        *p++ = (uint8_t)value;
        *p++ = 0;
        *p++ = 0;
        *p++ = 0;
    } else {
        PUT32(value);
    }
    PUT32(0u);
#undef PUT16
#undef PUT32
    return (size_t)(p - t);
}

static void test_exif_tiff_parsing(void) {
    uint8_t t[64];
    for (int le = 0; le < 2; le++)
        for (uint32_t o = 1; o <= 8; o++) {
            CHECK_EQ(ts_exif_tiff_orientation(t, tiff_with(t, le, 0x0112, 3, 1, o)), (int)o);
            CHECK_EQ(ts_exif_tiff_orientation(t, tiff_with(t, le, 0x0112, 4, 1, o)), (int)o);
            CHECK_EQ(ts_exif_tiff_orientation(t, tiff_with(t, le, 0x0112, 1, 1, o)), (int)o);
        }
    size_t n = tiff_with(t, 1, 0x0112, 3, 1, 9);
    CHECK_EQ(ts_exif_tiff_orientation(t, n), 0);  /* out of range */
    n = tiff_with(t, 1, 0x0112, 3, 2, 6);
    CHECK_EQ(ts_exif_tiff_orientation(t, n), 0);  /* count 2: a tuple in Pillow */
    n = tiff_with(t, 1, 0x0110, 3, 1, 6);
    CHECK_EQ(ts_exif_tiff_orientation(t, n), 0);  /* another tag */
    n = tiff_with(t, 0, 0x0112, 8, 1, 0xFFFA);
    CHECK_EQ(ts_exif_tiff_orientation(t, n), 0);  /* SSHORT -6 */
    n = tiff_with(t, 1, 0x0112, 3, 1, 6);
    for (size_t cut = 0; cut < n; cut++)          /* short reads never overrun */
        CHECK(ts_exif_tiff_orientation(t, cut) == 0 || cut >= 22);
    uint8_t pre[70] = "Exif\0\0";
    n = tiff_with(pre + 6, 0, 0x0112, 3, 1, 5);
    CHECK_EQ(ts_exif_tiff_orientation(pre, n + 6), 5);
    t[4] = 0xFF; /* IFD offset past the end */
    CHECK_EQ(ts_exif_tiff_orientation(t, n), 0);
    memcpy(t, "XX\x2a\0", 4);
    CHECK_EQ(ts_exif_tiff_orientation(t, n), 0);
}

static void test_exif_in_containers(void) {
    uint8_t app1[64] = "Exif\0\0";
    size_t n = 6 + tiff_with(app1 + 6, 0, 0x0112, 3, 1, 6);
    blob j = make_jpeg(0, 0, app1, n);
    CHECK_EQ(ts_exif_orientation(j.data, j.len, TS_FMT_JPEG), 6);
    ts_image img;
    ts_decode_info info;
    ts_error err_ = {0}, *err = &err_;
    CHECK_OK(decode(&j, NULL, &img, &info, err), err);
    CHECK_EQ(info.exif_orientation, 6);
    CHECK_EQ(img.width, W); /* not applied by default */
    ts_image_free(&img);
    ts_decode_options o = {.apply_exif_orientation = 1};
    CHECK_OK(decode(&j, &o, &img, &info, err), err);
    CHECK_EQ(img.width, H);
    CHECK_EQ(img.height, W);
    CHECK_EQ(info.width, H);
    ts_image_free(&img);
    free(j.data);

    uint8_t tiff[64];
    n = tiff_with(tiff, 1, 0x0112, 3, 1, 3);
    blob p = make_png(0, 0, tiff, n);
    CHECK_EQ(ts_exif_orientation(p.data, p.len, TS_FMT_PNG), 3);
    ts_decode_info probe;
    CHECK_OK(ts_probe_image(p.data, p.len, &probe, err), err);
    CHECK_EQ(probe.exif_orientation, 3);
    free(p.data);
    CHECK_EQ(ts_exif_orientation(tiff, n, TS_FMT_GIF), 0);
}

/* PNG chunk list (signature + chunks with zero CRCs: only scanned here). */
typedef struct png_builder {
    uint8_t data[8192];
    size_t len;
} png_builder;

static void pb_start(png_builder *b) {
    memcpy(b->data, "\x89PNG\r\n\x1a\n", 8);
    b->len = 8;
}

static void pb_chunk(png_builder *b, const char *type, const void *data, size_t n) {
    put_be32(b->data + b->len, (uint32_t)n);
    memcpy(b->data + b->len + 4, type, 4);
    memcpy(b->data + b->len + 8, data, n);
    memset(b->data + b->len + 8 + n, 0, 4);
    b->len += 12 + n;
}

static void pb_text(png_builder *b, const char *type, const char *key, const char *value) {
    uint8_t buf[4096];
    size_t k = strlen(key) + 1, v = strlen(value);
    memcpy(buf, key, k);
    if (strcmp(type, "iTXt") == 0) { /* uncompressed, empty language and translation */
        memcpy(buf + k, "\0\0\0\0", 4);
        k += 4;
    }
    memcpy(buf + k, value, v);
    pb_chunk(b, type, buf, k + v);
}

static void test_exif_png_text_sources(void) {
    uint8_t tiff[64];
    size_t n = tiff_with(tiff, 1, 0x0112, 3, 1, 6);
    char hex[200] = "\nexif\n      26\n";
    for (size_t i = 0; i < n; i++)
        sprintf(hex + strlen(hex), "%02x%s", tiff[i], i == 10 ? "\n" : (i == 15 ? " " : ""));
    png_builder b;
    pb_start(&b);
    pb_text(&b, "tEXt", "Raw profile type exif", hex);
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 6);
    pb_start(&b); /* a bad hex digit: Pillow raises, no orientation */
    hex[strlen(hex) - 3] = 'g';
    pb_text(&b, "tEXt", "Raw profile type exif", hex);
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 0);
    pb_start(&b);
    pb_text(&b, "iTXt", "XML:com.adobe.xmp", "<a tiff:Orientation=\"5\"/>");
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 5);
    pb_start(&b);
    pb_text(&b, "tEXt", "XML:com.adobe.xmp", "tiff:Orientation=5 <tiff:Orientation>9<");
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 0); /* first match is 9 */
    pb_start(&b);
    pb_text(&b, "tEXt", "XML:com.adobe.xmpX", "<tiff:Orientation>4<");
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 0); /* another keyword */
    /* eXIf with the tag (even 1) stops the XMP fallback; without it, XMP counts */
    pb_start(&b);
    pb_chunk(&b, "eXIf", tiff, tiff_with(tiff, 0, 0x0112, 3, 1, 1));
    pb_text(&b, "tEXt", "XML:com.adobe.xmp", "<tiff:Orientation>8<");
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 1);
    pb_start(&b);
    pb_chunk(&b, "eXIf", tiff, tiff_with(tiff, 0, 0x010F, 3, 1, 1));
    pb_text(&b, "tEXt", "XML:com.adobe.xmp", "<tiff:Orientation>8<");
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 8);
    /* the last eXIf wins; chunks after IEND are not read */
    pb_start(&b);
    pb_chunk(&b, "eXIf", tiff, tiff_with(tiff, 1, 0x0112, 3, 1, 2));
    pb_chunk(&b, "eXIf", tiff, tiff_with(tiff, 1, 0x0112, 3, 1, 4));
    pb_chunk(&b, "IEND", "", 0);
    pb_chunk(&b, "eXIf", tiff, tiff_with(tiff, 1, 0x0112, 3, 1, 7));
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 4);
    /* compressed text that inflates past 1 MiB is ignored */
    uLong big = 2u << 20;
    uint8_t *big_text = calloc(1, big);
    memset(big_text, 'a', big);
    uLongf zlen = compressBound(big);
    uint8_t *z = malloc(zlen + 32);
    memcpy(z, "XML:com.adobe.xmp\0\0", 19);
    compress(z + 19, &zlen, big_text, big);
    pb_start(&b);
    if (zlen + 19 < sizeof b.data - 100)
        pb_chunk(&b, "zTXt", z, zlen + 19);
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 0);
    CHECK(b.len > 100);
    free(z);
    free(big_text);
    /* every truncation of a chunk list is safe */
    pb_start(&b);
    pb_text(&b, "iTXt", "XML:com.adobe.xmp", "<tiff:Orientation>8<");
    for (size_t cut = 0; cut < b.len; cut++)
        CHECK_EQ(ts_exif_png_orientation(b.data, cut), 0);
    CHECK_EQ(ts_exif_png_orientation(b.data, b.len), 8);
}

static void test_exif_apply_all_orientations(void) {
    /* 3x2 image with pixel value = 10*y + x; expected layouts per Pillow. */
    static const int want[9][6] = {
        {0},
        {0, 1, 2, 10, 11, 12},  /* 1 */
        {2, 1, 0, 12, 11, 10},  /* 2 FLIP_LEFT_RIGHT */
        {12, 11, 10, 2, 1, 0},  /* 3 ROTATE_180 */
        {10, 11, 12, 0, 1, 2},  /* 4 FLIP_TOP_BOTTOM */
        {0, 10, 1, 11, 2, 12},  /* 5 TRANSPOSE (2x3) */
        {10, 0, 11, 1, 12, 2},  /* 6 ROTATE_270: clockwise */
        {12, 2, 11, 1, 10, 0},  /* 7 TRANSVERSE */
        {2, 12, 1, 11, 0, 10},  /* 8 ROTATE_90: counter-clockwise */
    };
    for (int o = 1; o <= 8; o++) {
        ts_image img;
        ts_error err_ = {0}, *err = &err_;
        CHECK_OK(ts_image_alloc(&img, 3, 2, err), err);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                memset(img.rgb + 3 * (y * 3 + x), 10 * y + x, 3);
        CHECK_OK(ts_exif_apply(&img, o, err), err);
        CHECK_EQ(img.width, o >= 5 ? 2 : 3);
        CHECK_EQ(img.height, o >= 5 ? 3 : 2);
        int bad = 0;
        for (int i = 0; i < 6; i++)
            bad += img.rgb[3 * i] != want[o][i];
        if (bad)
            fprintf(stderr, "  orientation %d wrong\n", o);
        CHECK_EQ(bad, 0);
        ts_image_free(&img);
    }
}

/* Odd and degenerate sizes, and sizes crossing the 64-pixel blocks, against
 * a pixel-by-pixel statement of each transposition. */
static void test_exif_apply_sizes(void) {
    int sizes[][2] = {{1, 1}, {1, 5}, {5, 1}, {2, 2}, {67, 3}, {130, 70}, {65, 129}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int o = 2; o <= 8; o++) {
            int w = sizes[s][0], h = sizes[s][1];
            ts_image img;
            ts_error err_ = {0}, *err = &err_;
            CHECK_OK(ts_image_alloc(&img, w, h, err), err);
            for (int i = 0; i < w * h * 3; i++)
                img.rgb[i] = (uint8_t)(i * 7 + i / 251);
            uint8_t *orig = malloc((size_t)w * h * 3);
            memcpy(orig, img.rgb, (size_t)w * h * 3);
            CHECK_OK(ts_exif_apply(&img, o, err), err);
            int bad = 0;
            for (int y = 0; y < img.height; y++)
                for (int x = 0; x < img.width; x++) {
                    int sx, sy;
                    switch (o) {
                    case 2: sx = w - 1 - x; sy = y; break;
                    case 3: sx = w - 1 - x; sy = h - 1 - y; break;
                    case 4: sx = x; sy = h - 1 - y; break;
                    case 5: sx = y; sy = x; break;
                    case 6: sx = y; sy = h - 1 - x; break;
                    case 7: sx = w - 1 - y; sy = h - 1 - x; break;
                    default: sx = w - 1 - y; sy = x; break;
                    }
                    bad += memcmp(img.rgb + 3 * (y * img.width + x), orig + 3 * (sy * w + sx), 3) != 0;
                }
            if (bad)
                fprintf(stderr, "  %dx%d orientation %d: %d pixels wrong\n", w, h, o, bad);
            CHECK_EQ(bad, 0);
            free(orig);
            ts_image_free(&img);
        }
}

/* ---- JPEG fast mode ---- */

static void test_jpeg_dct_scaling(void) {
    blob j = make_jpeg(0, 0, NULL, 0);
    ts_image img;
    ts_decode_info info;
    ts_error err_ = {0}, *err = &err_;
    struct { int mw, mh, w, h; } cases[] = {
        {16, 12, 16, 12}, {17, 12, 24, 18}, {1, 1, 8, 6}, {33, 10, 40, 30},
        {64, 48, 64, 48}, {100, 100, 64, 48}, {0, 30, 64, 48},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ts_decode_options o = {.min_width = cases[i].mw, .min_height = cases[i].mh};
        CHECK_OK(decode(&j, &o, &img, &info, err), err);
        CHECK_EQ(img.width, cases[i].w);
        CHECK_EQ(img.height, cases[i].h);
        CHECK_EQ(info.width, W); /* the original size is still reported */
        CHECK_EQ(info.height, H);
        ts_image_free(&img);
    }
    ts_decode_options bad = {.min_width = -1, .min_height = 5};
    CHECK_EQ(decode(&j, &bad, &img, NULL, err), TS_EINVAL);
    /* Other formats ignore the request. */
    blob p = make_png(0, 0, NULL, 0);
    ts_decode_options o = {.min_width = 8, .min_height = 8};
    CHECK_OK(decode(&p, &o, &img, NULL, err), err);
    CHECK_EQ(img.width, W);
    ts_image_free(&img);
    free(p.data);
    free(j.data);
}

static void test_image_alloc(void) {
    ts_image img;
    ts_error err_ = {0}, *err = &err_;
    CHECK_EQ(ts_image_alloc(&img, 0, 5, err), TS_EINVAL);
    CHECK(img.rgb == NULL);
    CHECK_OK(ts_image_alloc(&img, 7, 5, err), err);
    CHECK(img.rgb != NULL && img.width == 7 && img.height == 5);
    ts_image_free(&img);
    CHECK(img.rgb == NULL && img.width == 0);
    ts_image_free(&img); /* twice is fine */
}

int main(void) {
    RUN(test_sniff);
    RUN(test_image_alloc);
    RUN(test_decode_each_format);
    RUN(test_lossless_pixels_exact);
    RUN(test_png_interlaced_2bit_gray);
    RUN(test_gif_frames_and_transparency);
    RUN(test_alpha_on_white);
    RUN(test_pixel_bombs_refused);
    RUN(test_bombs_refused_before_allocating);
    RUN(test_max_pixels_option);
    RUN(test_empty_and_garbage);
    RUN(test_truncations);
    RUN(test_random_byte_flips);
    RUN(test_exif_tiff_parsing);
    RUN(test_exif_in_containers);
    RUN(test_exif_png_text_sources);
    RUN(test_exif_apply_all_orientations);
    RUN(test_exif_apply_sizes);
    RUN(test_jpeg_dct_scaling);
    return harness_report();
}
