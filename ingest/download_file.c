/* Resumable download of one large file (parquet, zip, tar sources) with
 * Range requests into "<path>.part", verified against size and sha256 and
 * then renamed into place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/download_internal.h"

typedef struct file_xfer {
    FILE *f;
    int64_t offset;   /* bytes of .part before this attempt */
    int restarted;    /* the server ignored Range: the .part was emptied */
    int write_failed;
    ts_dl_headers hdr;
    const ts_download_options *o;
} file_xfer;

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
    file_xfer *x = ud;
    ts_dl_headers_line(&x->hdr, x->o, line, size * n);
    return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    file_xfer *x = ud;
    size_t len = size * n;
    long st = x->hdr.status;
    if (st >= 300) return len; /* error or redirect body */
    if (x->offset > 0 && st == 200 && !x->restarted) {
        /* Range ignored: the body is the whole file from byte 0. */
        if (fflush(x->f) != 0 || ftruncate(fileno(x->f), 0) != 0 || fseeko(x->f, 0, SEEK_SET) != 0) {
            x->write_failed = errno ? errno : EIO;
            return 0;
        }
        x->restarted = 1;
    }
    if (fwrite(data, 1, len, x->f) != len) {
        x->write_failed = errno ? errno : EIO;
        return 0;
    }
    return len;
}

static int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* One attempt: continue .part from its current size. */
static ts_outcome attempt(const ts_download_options *o, const char *url, const char *part,
                          long *status, char *msg, size_t msg_cap) {
    file_xfer x = {.o = o};
    ts_dl_headers_reset(&x.hdr);
    x.offset = file_size(part);
    if (x.offset < 0) x.offset = 0;
    x.f = fopen(part, "ab");
    if (!x.f) {
        snprintf(msg, msg_cap, "%s: %s", part, strerror(errno));
        return TS_OUT_IO;
    }
    char errbuf[CURL_ERROR_SIZE], range[32];
    /* CURLOPT_RANGE, not RESUME_FROM: a 200 answer (Range ignored) then
     * restarts the .part instead of failing the transfer. */
    snprintf(range, sizeof range, "%lld-", (long long)x.offset);
    CURL *easy = ts_dl_new_easy();
    ts_error e = {0};
    ts_outcome out;
    if (!easy || ts_dl_setup_easy(easy, o, url, -1, errbuf, &e) != TS_OK ||
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &x) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &x) != CURLE_OK ||
        (x.offset > 0 && curl_easy_setopt(easy, CURLOPT_RANGE, range) != CURLE_OK)) {
        snprintf(msg, msg_cap, "cannot set up the transfer: %.400s", e.msg[0] ? e.msg : "libcurl init failed");
        out = TS_OUT_OTHER;
        goto done;
    }
    CURLcode rc = curl_easy_perform(easy);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
    if (x.write_failed) {
        snprintf(msg, msg_cap, "%s: write: %s", part, strerror(x.write_failed));
        out = TS_OUT_IO;
    } else if (rc == CURLE_OK && *status == 416) {
        out = TS_OUT_OK; /* nothing past our offset: .part is whole (verified next) */
    } else {
        out = ts_outcome_classify(rc, *status);
        if (out == TS_OUT_BAD_URL && x.hdr.saw_redirect) out = TS_OUT_REDIRECT;
        if (rc != CURLE_OK) snprintf(msg, msg_cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        else if (out != TS_OUT_OK && (*status == 401 || *status == 403))
            snprintf(msg, msg_cap, "HTTP %ld: %s", *status,
                     o->bearer_token ? "the server refused the bearer token (wrong, expired, or without access)"
                                     : "the server wants authorization (a manifest's \"auth\" sends a token)");
        else if (out != TS_OUT_OK) snprintf(msg, msg_cap, "HTTP %ld", *status);
    }
done:
    if (easy) curl_easy_cleanup(easy);
    if (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0) {
        if (out == TS_OUT_OK) snprintf(msg, msg_cap, "%s: %s", part, strerror(errno));
        if (out == TS_OUT_OK) out = TS_OUT_IO;
    }
    fclose(x.f);
    return out;
}

static ts_status verify(const char *part, int64_t expected_size, const char *sha256_hex, char *msg,
                        size_t msg_cap, ts_error *err) {
    int64_t size = file_size(part);
    if (expected_size >= 0 && size != expected_size) {
        snprintf(msg, msg_cap, "size %lld, expected %lld", (long long)size, (long long)expected_size);
        return TS_ECHECKSUM;
    }
    if (sha256_hex) {
        char hex[65];
        ts_status st = ts_sha256_file(part, hex, err);
        if (st != TS_OK) return st;
        if (strcasecmp(hex, sha256_hex)) {
            snprintf(msg, msg_cap, "sha256 %s, expected %s", hex, sha256_hex);
            return TS_ECHECKSUM;
        }
    }
    return TS_OK;
}

ts_status ts_download_file(const ts_download_options *opts, const char *url, const char *path,
                           int64_t expected_size, const char *sha256_hex, ts_outcome *outcome,
                           ts_error *err) {
    ts_dl_global_init();
    *outcome = TS_OUT_OTHER;
    size_t plen = strlen(path);
    char *part = malloc(plen + 6);
    if (!part) return ts_fail(err, TS_ENOMEM, "out of memory");
    memcpy(part, path, plen);
    memcpy(part + plen, ".part", 6);
    ts_status st = TS_OK;
    char msg[512] = "";
    int attempts = 0, checksum_restarts = 0;
    for (;;) {
        int64_t before = file_size(part);
        if (expected_size >= 0 && before > expected_size) {
            /* Longer than the file can be: start over. */
            unlink(part);
            before = -1;
        }
        ts_outcome out = TS_OUT_OK;
        long status = 0;
        attempts++;
        msg[0] = 0;
        if (!(expected_size >= 0 && before == expected_size))
            out = attempt(opts, url, part, &status, msg, sizeof msg);
        if (out == TS_OUT_OK) {
            st = verify(part, expected_size, sha256_hex, msg, sizeof msg, err);
            if (st == TS_ECHECKSUM && checksum_restarts++ == 0 && file_size(part) > 0) {
                /* The resumed bytes may be stale: one clean retry from zero. */
                unlink(part);
                attempts = 0;
                continue;
            }
            if (st == TS_ECHECKSUM) {
                unlink(part);
                *outcome = TS_OUT_CHECKSUM;
                st = ts_fail(err, TS_ECHECKSUM, "%s: %s", url, msg);
            } else if (st == TS_OK) {
                if (rename(part, path) != 0) st = ts_fail_errno(err, TS_EIO, "%s: rename", part);
                else *outcome = TS_OUT_OK;
            }
            break;
        }
        /* Progress made: the attempt budget restarts (the .part keeps it). */
        if (file_size(part) > (before < 0 ? 0 : before)) attempts = 1;
        char why[160];
        long delay = ts_dl_retry_delay(opts, url, out, attempts + 1, -1, 0, why, sizeof why);
        if (delay < 0) {
            *outcome = out;
            st = ts_fail(err, out == TS_OUT_IO ? TS_EIO : TS_ENET, "%s: %s: %s%s%s", url,
                         ts_outcome_name(out), msg, why[0] ? "; " : "", why);
            break;
        }
        usleep((useconds_t)delay * 1000);
    }
    free(part);
    return st;
}
