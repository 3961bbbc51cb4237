/* Test-only tool: encode raw 8-bit CMYK samples as a YCCK JPEG (Adobe
 * transform 2), which Pillow cannot write, for the decoder cross-check.
 *
 *   make_ycck WIDTH HEIGHT IN.cmyk OUT.jpg */
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: make_ycck WIDTH HEIGHT IN.cmyk OUT.jpg\n");
        return 2;
    }
    int w = atoi(argv[1]), h = atoi(argv[2]);
    if (w <= 0 || h <= 0)
        return 2;
    size_t n = (size_t)w * (size_t)h * 4;
    unsigned char *px = malloc(n);
    FILE *in = fopen(argv[3], "rb");
    if (!px || !in || fread(px, 1, n, in) != n) {
        fprintf(stderr, "make_ycck: cannot read %zu bytes from %s\n", n, argv[3]);
        return 1;
    }
    fclose(in);
    FILE *out = fopen(argv[4], "wb");
    if (!out)
        return 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, out);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, JCS_YCCK);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * (size_t)w * 4;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(px);
    return fclose(out) == 0 ? 0 : 1;
}
