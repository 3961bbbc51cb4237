/* The RGB8 image buffer shared by the tiler steps. */
#include "image.h"

#include <stdint.h>
#include <stdlib.h>

ts_status ts_image_alloc(ts_image *img, int width, int height, ts_error *err) {
    img->width = 0;
    img->height = 0;
    img->rgb = NULL;
    if (width <= 0 || height <= 0)
        return ts_fail(err, TS_EINVAL, "image: invalid size %dx%d", width, height);
    size_t n = (size_t)width * (size_t)height;
    if (n > SIZE_MAX / 3)
        return ts_fail(err, TS_ELIMIT, "image: %dx%d is too large", width, height);
    img->rgb = malloc(n * 3);
    if (!img->rgb)
        return ts_fail(err, TS_ENOMEM, "image: cannot allocate %dx%d RGB", width, height);
    img->width = width;
    img->height = height;
    return TS_OK;
}

void ts_image_free(ts_image *img) {
    if (!img)
        return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = 0;
    img->height = 0;
}
