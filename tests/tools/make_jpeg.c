/* Test-only tool: encode raw 8-bit samples as JPEG variants Pillow cannot
 * write, for the decoder cross-check against Pillow.
 *
 *   make_jpeg MODE WIDTH HEIGHT IN.raw OUT.jpg
 *
 * MODE: ycck     IN is CMYK, stored as YCCK (Adobe transform 2)
 *       rgb      IN is RGB, stored without color transform (Adobe transform 0)
 *       restart  IN is RGB, YCbCr with a restart marker every 3 MCUs
 *       arith    IN is RGB, YCbCr with arithmetic coding */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: make_jpeg ycck|rgb|restart|arith WIDTH HEIGHT IN.raw OUT.jpg\n");
        return 2;
    }
    const char *mode = argv[1];
    int cmyk = strcmp(mode, "ycck") == 0;
    int w = atoi(argv[2]), h = atoi(argv[3]), comps = cmyk ? 4 : 3;
    if (w <= 0 || h <= 0)
        return 2;
    size_t n = (size_t)w * (size_t)h * (size_t)comps;
    unsigned char *px = malloc(n);
    FILE *in = fopen(argv[4], "rb");
    if (!px || !in || fread(px, 1, n, in) != n) {
        fprintf(stderr, "make_jpeg: cannot read %zu bytes from %s\n", n, argv[4]);
        return 1;
    }
    fclose(in);
    FILE *out = fopen(argv[5], "wb");
    if (!out)
        return 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, out);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    if (cmyk)
        jpeg_set_colorspace(&c, JCS_YCCK);
    else if (strcmp(mode, "rgb") == 0)
        jpeg_set_colorspace(&c, JCS_RGB);
    else if (strcmp(mode, "restart") == 0)
        c.restart_interval = 3;
    else if (strcmp(mode, "arith") == 0)
        c.arith_code = TRUE;
    else
        return 2;
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * (size_t)w * (size_t)comps;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(px);
    return fclose(out) == 0 ? 0 : 1;
}
