/* SHA-256 of buffers and files through OpenSSL's libcrypto (EVP). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "ingest/download.h"

static void to_hex(const unsigned char *md, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
}

ts_status ts_sha256_hex(const void *data, size_t len, char hex[65], ts_error *err) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return ts_fail(err, TS_EIO, "sha256: libcrypto failed");
    to_hex(md, hex);
    return TS_OK;
}

ts_status ts_sha256_file(const char *path, char hex[65], ts_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ts_fail_errno(err, TS_EIO, "%s: open", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ts_status st = TS_OK;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st = ts_fail(err, TS_ENOMEM, "sha256: libcrypto init failed");
        goto out;
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (!EVP_DigestUpdate(ctx, buf, n)) {
            st = ts_fail(err, TS_EIO, "sha256: libcrypto update failed");
            goto out;
        }
    if (ferror(f)) {
        st = ts_fail_errno(err, TS_EIO, "%s: read", path);
        goto out;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
        st = ts_fail(err, TS_EIO, "sha256: libcrypto final failed");
        goto out;
    }
    to_hex(md, hex);
out:
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return st;
}
