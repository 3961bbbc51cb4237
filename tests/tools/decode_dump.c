/* Test-only tool: decode an image file with ts_decode_image and write the
 * RGB8 pixels raw, for cross-checks against Pillow.
 *
 *   decode_dump [--exif] [--white] [--min WxH] [--max-pixels N] IN OUT.rgb
 *
 * Prints one JSON line to stdout: the decode info on success, or
 * {"error": "<status>", "code": N, "message": "..."} with exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiler/decode.h"

static int usage(void) {
    fprintf(stderr,
            "usage: decode_dump [--exif] [--white] [--min WxH] [--max-pixels N] IN OUT.rgb\n");
    return 2;
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    ts_decode_options o = {0};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--exif") == 0)
            o.apply_exif_orientation = 1;
        else if (strcmp(argv[i], "--white") == 0)
            o.alpha_on_white = 1;
        else if (strcmp(argv[i], "--min") == 0 && i + 1 < argc)
            sscanf(argv[++i], "%dx%d", &o.min_width, &o.min_height);
        else if (strcmp(argv[i], "--max-pixels") == 0 && i + 1 < argc)
            o.max_pixels = strtoull(argv[++i], NULL, 10);
        else
            return usage();
    }
    if (argc - i != 2)
        return usage();
    size_t len = 0;
    unsigned char *data = read_all(argv[i], &len);
    if (!data) {
        fprintf(stderr, "decode_dump: cannot read %s\n", argv[i]);
        return 2;
    }
    ts_image img;
    ts_decode_info info;
    ts_error err = {0};
    ts_status st = ts_decode_image(data, len, &o, &img, &info, &err);
    free(data);
    if (st != TS_OK) {
        printf("{\"error\": \"%s\", \"code\": %d, \"message\": \"", ts_status_name(st), (int)st);
        for (const char *p = err.msg; *p; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                putchar(*p);
        printf("\"}\n");
        return 1;
    }
    FILE *f = fopen(argv[i + 1], "wb");
    size_t n = (size_t)img.width * img.height * 3;
    int ok = f && fwrite(img.rgb, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    int out_w = img.width, out_h = img.height;
    ts_image_free(&img);
    if (!ok) {
        fprintf(stderr, "decode_dump: cannot write %s\n", argv[i + 1]);
        return 2;
    }
    printf("{\"format\": \"%s\", \"width\": %d, \"height\": %d, \"out_width\": %d, "
           "\"out_height\": %d, \"had_alpha\": %d, \"exif_orientation\": %d, \"frames\": %d}\n",
           ts_format_name(info.format), info.width, info.height, out_w, out_h,
           info.had_alpha, info.exif_orientation, info.frames);
    return 0;
}
