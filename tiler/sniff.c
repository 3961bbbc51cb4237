/* Format detection from magic bytes. */
#include <string.h>

#include "decode.h"

ts_image_format ts_sniff_format(const uint8_t *data, size_t len) {
    if (!data)
        return TS_FMT_UNKNOWN;
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return TS_FMT_JPEG;
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return TS_FMT_PNG;
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return TS_FMT_WEBP;
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return TS_FMT_GIF;
    return TS_FMT_UNKNOWN;
}

const char *ts_format_name(ts_image_format f) {
    switch (f) {
    case TS_FMT_JPEG: return "jpeg";
    case TS_FMT_PNG: return "png";
    case TS_FMT_WEBP: return "webp";
    case TS_FMT_GIF: return "gif";
    case TS_FMT_UNKNOWN: break;
    }
    return "unknown";
}

const char *ts_format_mime(ts_image_format f) {
    switch (f) {
    case TS_FMT_JPEG: return "image/jpeg";
    case TS_FMT_PNG: return "image/png";
    case TS_FMT_WEBP: return "image/webp";
    case TS_FMT_GIF: return "image/gif";
    case TS_FMT_UNKNOWN: break;
    }
    return NULL;
}
