/* Authenticated sources: the manifest's "auth" object names an environment
 * variable whose value is sent as a Bearer token with the downloads of the
 * source's own inputs on the hosts it lists (docs/MANIFESTS.md, "Gated
 * sources"). The token itself is read only when a download starts, kept only
 * in the environment and in libcurl, and never put into a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "ingest/source_internal.h"

static ts_status bad(ts_error *err, const char *file, const char *jpath, const char *msg, const char *arg) {
    return ts_fail(err, TS_EINVAL, "%s: %s: %s%s%s", file, jpath, msg, arg ? arg : "", arg ? "\"" : "");
}

/* Environment variable names as POSIX shells write them. */
static int is_env_name(const char *s) {
    if (!*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Host names and IP literals; no port, no brackets, no user info. */
static int is_host(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '-' || *s == ':'))
            return 0;
    return 1;
}

/* The host libcurl will connect to for `url` (its own URL parser, so that
 * "https://huggingface.co@evil.example/" is evil.example), lower-cased;
 * NULL when the URL does not parse. Free with curl_free(). */
static char *url_host(const char *url) {
    CURLU *u = curl_url();
    char *host = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        for (char *p = host; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    curl_url_cleanup(u);
    return host;
}

static int is_loopback(const char *host) {
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0;
}

ts_status src_auth_parse(const char *file, const cJSON *o, ts_source *s, ts_error *err) {
    const char *jp = "$.auth";
    if (!cJSON_IsObject(o)) return bad(err, file, jp, "expected an object {\"bearer_env\": NAME, \"hosts\": [HOST, ...]}", NULL);
    for (const cJSON *m = o->child; m; m = m->next)
        if (strcmp(m->string, "bearer_env") != 0 && strcmp(m->string, "hosts") != 0)
            return bad(err, file, jp, "unknown key \"", m->string);
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "bearer_env");
    const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(o, "hosts");
    if (cJSON_GetArraySize(o) != 2 || !env || !hosts)
        return bad(err, file, jp, "give \"bearer_env\" and \"hosts\", once each", NULL);
    if (!cJSON_IsString(env) || !is_env_name(env->valuestring))
        return bad(err, file, jp, "\"bearer_env\" must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)", NULL);
    if (!cJSON_IsArray(hosts) || !cJSON_GetArraySize(hosts))
        return bad(err, file, jp, "\"hosts\" must be a non-empty array of host names", NULL);
    if (!(s->auth_env = strdup(env->valuestring))) return ts_fail(err, TS_ENOMEM, "%s: out of memory", file);
    s->n_auth_hosts = (size_t)cJSON_GetArraySize(hosts);
    if (!(s->auth_hosts = calloc(s->n_auth_hosts, sizeof *s->auth_hosts)))
        return ts_fail(err, TS_ENOMEM, "%s: out of memory", file);
    size_t i = 0;
    for (const cJSON *h = hosts->child; h; h = h->next, i++) {
        if (!cJSON_IsString(h) || !is_host(h->valuestring))
            return bad(err, file, jp, "\"hosts\" holds host names only (no scheme, port or path)", NULL);
        if (!(s->auth_hosts[i] = strdup(h->valuestring))) return ts_fail(err, TS_ENOMEM, "%s: out of memory", file);
    }
    /* Mark the inputs the token goes with. */
    size_t marked = 0;
    for (size_t k = 0; k < s->n_inputs; k++) {
        src_input *in = &s->inputs[k];
        if (!in->url) continue;
        char *host = url_host(in->url);
        if (!host) return bad(err, file, in->jpath, "\"url\" does not parse", NULL);
        for (size_t h = 0; h < s->n_auth_hosts && !in->auth; h++) in->auth = strcasecmp(host, s->auth_hosts[h]) == 0;
        /* A token over plain http is readable on the way; loopback (tests) only. */
        int plain = in->auth && strncasecmp(in->url, "https://", 8) != 0 && !is_loopback(host);
        curl_free(host);
        if (plain) return bad(err, file, in->jpath, "a bearer token is sent over https only (\"auth\" lists this host)", NULL);
        marked += in->auth;
    }
    if (!marked) return bad(err, file, jp, "\"hosts\" matches the host of no \"url\" input", NULL);
    return TS_OK;
}

/* RFC 6750 b64token: what can follow "Bearer " in a header. */
static int is_b64token(const char *t) {
    size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    if (!n) return 0;
    while (t[n] == '=') n++;
    return t[n] == 0;
}

ts_status src_auth_download_options(const ts_source *s, const src_input *in, const ts_download_options *base,
                                    ts_download_options *out, ts_error *err) {
    if (base) *out = *base;
    else ts_download_options_default(out);
    out->bearer_token = NULL; /* the manifest decides, never the caller's options */
    if (!in->auth) return TS_OK;
    const char *token = getenv(s->auth_env);
    if (!token || !*token)
        return ts_fail(err, TS_EINVAL,
                       "%s: %s needs an access token: set the environment variable %s (named by the manifest's "
                       "\"auth.bearer_env\")%s",
                       s->name, in->jpath, s->auth_env, token ? "; it is empty" : "");
    if (!is_b64token(token))
        return ts_fail(err, TS_EINVAL,
                       "%s: the environment variable %s does not hold a bearer token (letters, digits, -._~+/ and "
                       "trailing =; the value is not shown)",
                       s->name, s->auth_env);
    out->bearer_token = token;
    return TS_OK;
}
