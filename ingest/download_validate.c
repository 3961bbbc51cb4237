/* The full-decode check offered as a download validate hook. */
#include <stdio.h>

#include "ingest/download.h"
#include "tiler/decode.h"

ts_outcome ts_download_validate_decode(void *ctx, const ts_download_result *r, char *msg,
                                       size_t msg_cap) {
    (void)ctx;
    ts_image img = {0};
    ts_error e = {0};
    if (ts_decode_image(r->body->data, r->body->len, NULL, &img, NULL, &e) != TS_OK) {
        snprintf(msg, msg_cap, "decode: %s", e.msg);
        return TS_OUT_DECODE;
    }
    ts_image_free(&img);
    return TS_OUT_OK;
}
