/* ts_probe_image: format, size and metadata without decoding pixels. */
#include <string.h>

#include "decode_internal.h"
#include "exif.h"

ts_status ts_probe_image(const uint8_t *data, size_t len, ts_decode_info *info, ts_error *err) {
    memset(info, 0, sizeof *info);
    if (!data || len == 0)
        return ts_fail(err, TS_EFORMAT, "probe: empty input (0 bytes)");
    info->format = ts_sniff_format(data, len);
    info->exif_orientation = ts_exif_orientation(data, len, info->format);
    switch (info->format) {
    case TS_FMT_JPEG: return ts_probe_jpeg(data, len, info, err);
    case TS_FMT_PNG: return ts_probe_png(data, len, info, err);
    case TS_FMT_WEBP: return ts_probe_webp(data, len, info, err);
    case TS_FMT_GIF: return ts_probe_gif(data, len, info, err);
    case TS_FMT_UNKNOWN: break;
    }
    return ts_fail(err, TS_EUNSUPPORTED, "probe: not a JPEG, PNG, WebP or GIF image");
}
