/* The decoded image every tiler step passes along: 8-bit RGB, interleaved,
 * rows packed (stride = 3 * width). */
#ifndef TS_TILER_IMAGE_H
#define TS_TILER_IMAGE_H

#include <stdint.h>

#include "../core/error.h"

typedef struct ts_image {
    int width;
    int height;
    uint8_t *rgb; /* width * height * 3 bytes, owned */
} ts_image;

ts_status ts_image_alloc(ts_image *img, int width, int height, ts_error *err);
void ts_image_free(ts_image *img);

#endif
