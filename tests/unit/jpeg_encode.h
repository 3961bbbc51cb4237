/* Test fixture shared by unit tests: a JPEG encoded in memory by
 * libjpeg-turbo's own encoder, from packed RGB pixels. */
#ifndef TS_TESTS_JPEG_ENCODE_H
#define TS_TESTS_JPEG_ENCODE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

typedef struct test_jpeg_options {
    int quality, progressive, gray; /* gray: the first channel of each pixel */
    unsigned restart;               /* restart interval in MCUs, 0: none */
    int marker;                     /* a marker to write before the scan (0: none) */
    const uint8_t *marker_data;
    unsigned marker_len;
} test_jpeg_options;

static blob test_jpeg_encode(const uint8_t *rgb, int w, int h, const test_jpeg_options *o) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = o->gray ? 1 : 3;
    c.in_color_space = o->gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, o->quality, TRUE);
    if (o->progressive) jpeg_simple_progression(&c);
    c.restart_interval = o->restart;
    jpeg_start_compress(&c, TRUE);
    if (o->marker) jpeg_write_marker(&c, o->marker, o->marker_data, o->marker_len);
    uint8_t *row = malloc((size_t)w * 3);
    while (c.next_scanline < (JDIMENSION)h) {
        const uint8_t *src = rgb + (size_t)c.next_scanline * (size_t)w * 3;
        if (o->gray)
            for (int x = 0; x < w; x++) row[x] = src[3 * x];
        else
            memcpy(row, src, (size_t)w * 3);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    free(row);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    blob b = {malloc(out_len), out_len};
    memcpy(b.data, out, out_len);
    free(out);
    return b;
}

#endif
