/* Page decompression: snappy (libsnappy's C API), gzip (zlib), zstd. */
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "ingest/parquet_internal.h"

const char *pq_codec_name(int codec) {
    static const char *names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                  "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec <= 7 ? names[codec] : "unknown";
}

static ts_status gunzip(const uint8_t *src, size_t len, uint8_t *out, size_t out_len,
                        ts_error *err) {
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 32) != Z_OK) return ts_fail(err, TS_ENOMEM, "gzip: init failed");
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int rc = inflate(&z, Z_FINISH);
    /* Some writers concatenate gzip members; keep inflating while room is left. */
    while (rc == Z_STREAM_END && z.avail_in > 0 && z.avail_out > 0) {
        if (inflateReset(&z) != Z_OK) break;
        rc = inflate(&z, Z_FINISH);
    }
    size_t produced = out_len - z.avail_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END)
        return ts_fail(err, TS_EFORMAT, "gzip: %s", rc == Z_BUF_ERROR ? "truncated or larger than declared"
                                                                      : "corrupt data");
    if (produced != out_len)
        return ts_fail(err, TS_EFORMAT, "gzip: %zu bytes where %zu declared", produced, out_len);
    return TS_OK;
}

ts_status pq_decompress(int codec, const uint8_t *src, size_t len, uint8_t *out, size_t out_len,
                        ts_error *err) {
    switch (codec) {
    case PQ_SNAPPY: {
        size_t n;
        if (snappy_uncompressed_length((const char *)src, len, &n) != SNAPPY_OK)
            return ts_fail(err, TS_EFORMAT, "snappy: corrupt header");
        if (n != out_len)
            return ts_fail(err, TS_EFORMAT, "snappy: %zu bytes where %zu declared", n, out_len);
        if (snappy_uncompress((const char *)src, len, (char *)out, &n) != SNAPPY_OK || n != out_len)
            return ts_fail(err, TS_EFORMAT, "snappy: corrupt data");
        return TS_OK;
    }
    case PQ_GZIP:
        return gunzip(src, len, out, out_len, err);
    case PQ_ZSTD: {
        size_t n = ZSTD_decompress(out, out_len, src, len);
        if (ZSTD_isError(n)) return ts_fail(err, TS_EFORMAT, "zstd: %s", ZSTD_getErrorName(n));
        if (n != out_len)
            return ts_fail(err, TS_EFORMAT, "zstd: %zu bytes where %zu declared", n, out_len);
        return TS_OK;
    }
    default:
        return ts_fail(err, TS_EUNSUPPORTED, "compression codec %s (%d) is not supported",
                       pq_codec_name(codec), codec);
    }
}
