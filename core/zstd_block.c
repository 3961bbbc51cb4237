#include <zstd.h>

#include "io.h"

/* Frames carry zstd's own content checksum, so a corrupted block fails in
 * the decoder even before the caller's xxh3 check. A context per call costs
 * what ZSTD_compress() costs anyway (it builds one internally). */
ts_status ts_zstd_compress(const void *src, size_t n, int level, ts_buf *out, ts_error *err) {
    size_t bound = ZSTD_compressBound(n);
    ts_status st = ts_buf_reserve(out, bound, err);
    if (st) return st;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx) return ts_fail(err, TS_ENOMEM, "zstd: out of memory");
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    size_t got = ZSTD_compress2(cctx, out->data + out->len, bound, src, n);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(got)) return ts_fail(err, TS_EIO, "zstd compress: %s", ZSTD_getErrorName(got));
    out->len += got;
    return TS_OK;
}

ts_status ts_zstd_decompress(const void *src, size_t n, size_t expected, ts_buf *out,
                             ts_error *err) {
    unsigned long long declared = ZSTD_getFrameContentSize(src, n);
    if (declared == ZSTD_CONTENTSIZE_ERROR)
        return ts_fail(err, TS_EFORMAT, "zstd: not a zstd frame");
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected)
        return ts_fail(err, TS_EFORMAT, "zstd: frame holds %llu bytes, expected %zu", declared, expected);
    ts_status st = ts_buf_reserve(out, expected, err);
    if (st) return st;
    size_t got = ZSTD_decompress(out->data + out->len, expected, src, n);
    if (ZSTD_isError(got)) return ts_fail(err, TS_EFORMAT, "zstd: %s", ZSTD_getErrorName(got));
    if (got != expected)
        return ts_fail(err, TS_EFORMAT, "zstd: decompressed %zu bytes, expected %zu", got, expected);
    out->len += got;
    return TS_OK;
}
