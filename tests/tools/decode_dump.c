/* Test-only tool: decode an image file with ts_decode_image and write the
 * RGB8 pixels raw, for cross-checks against Pillow.
 *
 *   decode_dump [--exif] [--white] [--min WxH] [--max-pixels N] [--repeat N] IN OUT.rgb...
 *
 * Several IN OUT pairs may follow the options (one process for many files).
 * --repeat decodes N times and adds "seconds_per_decode" (for bench/decode.sh).
 * Prints one JSON line per file to stdout: the decode info on success, or
 * {"error": "<status>", "code": N, "message": "..."}; the exit status is 1
 * when a decode failed, 2 on I/O errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tiler/decode.h"

static int usage(void) {
    fprintf(stderr,
            "usage: decode_dump [--exif] [--white] [--min WxH] [--max-pixels N] [--repeat N] "
            "IN OUT.rgb...\n");
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

/* Decodes one file; prints its JSON line. 0 decoded, 1 decode error, 2 I/O error. */
static int dump_one(const char *in, const char *out, const ts_decode_options *o, int repeat) {
    size_t len = 0;
    unsigned char *data = read_all(in, &len);
    if (!data) {
        fprintf(stderr, "decode_dump: cannot read %s\n", in);
        return 2;
    }
    ts_image img;
    ts_decode_info info;
    ts_error err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 1; r < repeat; r++) {
        if (ts_decode_image(data, len, o, &img, &info, &err) == TS_OK)
            ts_image_free(&img);
    }
    ts_status st = ts_decode_image(data, len, o, &img, &info, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double per = ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9) /
                 (repeat > 0 ? repeat : 1);
    free(data);
    if (st != TS_OK) {
        printf("{\"error\": \"%s\", \"code\": %d, \"message\": \"", ts_status_name(st), (int)st);
        for (const char *p = err.msg; *p; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                putchar(*p);
        printf("\"}\n");
        return 1;
    }
    FILE *f = fopen(out, "wb");
    size_t n = (size_t)img.width * img.height * 3;
    int ok = f && fwrite(img.rgb, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    int out_w = img.width, out_h = img.height;
    ts_image_free(&img);
    if (!ok) {
        fprintf(stderr, "decode_dump: cannot write %s\n", out);
        return 2;
    }
    printf("{\"format\": \"%s\", \"width\": %d, \"height\": %d, \"out_width\": %d, "
           "\"out_height\": %d, \"had_alpha\": %d, \"exif_orientation\": %d, \"frames\": %d",
           ts_format_name(info.format), info.width, info.height, out_w, out_h,
           info.had_alpha, info.exif_orientation, info.frames);
    if (repeat > 0)
        printf(", \"seconds_per_decode\": %.9f", per);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv) {
    ts_decode_options o = {0};
    int repeat = 0;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--exif") == 0)
            o.apply_exif_orientation = 1;
        else if (strcmp(argv[i], "--white") == 0)
            o.alpha_on_white = 1;
        else if (strcmp(argv[i], "--min") == 0 && i + 1 < argc)
            sscanf(argv[++i], "%dx%d", &o.min_width, &o.min_height);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-pixels") == 0 && i + 1 < argc)
            o.max_pixels = strtoull(argv[++i], NULL, 10);
        else
            return usage();
    }
    if (argc - i < 2 || (argc - i) % 2 != 0)
        return usage();
    int worst = 0;
    for (; i + 1 < argc; i += 2) {
        int rc = dump_one(argv[i], argv[i + 1], &o, repeat);
        if (rc > worst)
            worst = rc;
        fflush(stdout);
    }
    return worst;
}
