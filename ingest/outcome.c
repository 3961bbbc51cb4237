/* The fixed outcome taxonomy: names and which outcomes a re-run retries. */
#include <curl/curl.h>
#include <string.h>

#include "ingest/download.h"

static const char *const names[TS_OUT_COUNT] = {
    [TS_OUT_OK] = "ok",
    [TS_OUT_DNS] = "dns",
    [TS_OUT_CONNECT] = "connect",
    [TS_OUT_TLS] = "tls",
    [TS_OUT_TIMEOUT] = "timeout",
    [TS_OUT_HTTP_4XX] = "http_4xx",
    [TS_OUT_HTTP_429] = "http_429",
    [TS_OUT_HTTP_5XX] = "http_5xx",
    [TS_OUT_TOO_LARGE] = "too_large",
    [TS_OUT_OPT_OUT] = "opt_out",
    [TS_OUT_NOT_IMAGE] = "not_image",
    [TS_OUT_DECODE] = "decode",
    [TS_OUT_DUP] = "dup",
    [TS_OUT_NETWORK] = "network",
    [TS_OUT_REDIRECT] = "redirect",
    [TS_OUT_BAD_URL] = "bad_url",
    [TS_OUT_CHECKSUM] = "checksum",
    [TS_OUT_IO] = "io",
    [TS_OUT_OTHER] = "other",
};

const char *ts_outcome_name(ts_outcome o) {
    return (unsigned)o < TS_OUT_COUNT ? names[o] : "invalid";
}

ts_status ts_outcome_parse(const char *name, ts_outcome *out) {
    for (int i = 0; i < TS_OUT_COUNT; i++)
        if (!strcmp(name, names[i])) {
            *out = (ts_outcome)i;
            return TS_OK;
        }
    return TS_ENOTFOUND;
}

int ts_outcome_is_retryable(ts_outcome o) {
    switch (o) {
    case TS_OUT_DNS:
    case TS_OUT_CONNECT:
    case TS_OUT_TIMEOUT:
    case TS_OUT_HTTP_429:
    case TS_OUT_HTTP_5XX:
    case TS_OUT_NETWORK:
        return 1;
    default:
        return 0;
    }
}

int ts_outcome_retry_now(ts_outcome o) {
    return o == TS_OUT_TIMEOUT || o == TS_OUT_HTTP_429 || o == TS_OUT_HTTP_5XX || o == TS_OUT_NETWORK;
}

ts_outcome ts_outcome_classify(int curl_code, long http_status) {
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        if (http_status == 0 || (http_status >= 200 && http_status < 300)) return TS_OUT_OK;
        if (http_status == 429) return TS_OUT_HTTP_429;
        if (http_status >= 500) return TS_OUT_HTTP_5XX;
        if (http_status >= 300 && http_status < 400) return TS_OUT_REDIRECT; /* 3xx without a usable Location */
        return TS_OUT_HTTP_4XX;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return TS_OUT_DNS;
    case CURLE_COULDNT_CONNECT:
        return TS_OUT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return TS_OUT_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return TS_OUT_TLS;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return TS_OUT_NETWORK;
    case CURLE_TOO_MANY_REDIRECTS:
        return TS_OUT_REDIRECT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return TS_OUT_BAD_URL;
    case CURLE_FILE_COULDNT_READ_FILE:
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
        return TS_OUT_IO;
    case CURLE_FILESIZE_EXCEEDED:
        return TS_OUT_TOO_LARGE;
    default:
        return TS_OUT_OTHER;
    }
}
