/* ingest/json_select: the elements of one array/object inside a JSON
 * document, read as a stream: paths with member and [N] steps, escaped
 * names, strings holding brackets, scalars, gzip, and errors naming the
 * place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/io.h"
#include "ingest/json_select.h"
#include "tests/harness.h"

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    return p;
}

static void write_text(const char *path, const char *text) {
    ts_write_file_atomic(path, text, strlen(text), 0, NULL);
}

/* "name=value;" per element (value unformatted), or the error text. */
static ts_status select_all(const char *path, const char *sel, char *out, size_t cap, ts_error *err) {
    out[0] = 0;
    ts_fpath *p = NULL;
    if (sel && ts_fpath_parse(sel, &p, err)) return TS_EINVAL;
    ts_json_select *s = NULL;
    ts_status st = ts_json_select_open(&s, path, p, 64, err);
    size_t used = 0;
    while (!st) {
        cJSON *v = NULL;
        const char *name = NULL;
        if ((st = ts_json_select_next(s, &v, &name, err))) break;
        char *text = cJSON_PrintUnformatted(v);
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s=%s;", name ? name : "", text);
        free(text);
        cJSON_Delete(v);
    }
    ts_json_select_close(s);
    ts_fpath_free(p);
    return st;
}

static void test_paths(void) {
    const char *f = tmp_path("sel.json");
    write_text(f, " {\"info\": {\"x\": [1, \"]}\\\"{\", {\"questions\": 0}]}, \"data\": [{\"a\": 1}, [true],"
                  " {\"rows\": [ 1 , -2.5e3,\"s\" ,null,{\"k\":[]}] }], \"qu\\u0065stions\": {\"a\": {\"b\": 1}, \"c\\n\": 2},"
                  " \"questions\": \"second, ignored\", \"empty\": []}");
    char out[1024];
    ts_error err = {0};
    CHECK_EQ(select_all(f, "data[2].rows", out, sizeof out, &err), TS_ENOTFOUND);
    CHECK_STR(out, "=1;=-2500;=\"s\";=null;={\"k\":[]};");
    /* the first member of a name wins (as cJSON's lookup); escapes in names are decoded */
    CHECK_EQ(select_all(f, "questions", out, sizeof out, &err), TS_ENOTFOUND);
    CHECK_STR(out, "a={\"b\":1};c\n=2;");
    CHECK_EQ(select_all(f, "empty", out, sizeof out, &err), TS_ENOTFOUND);
    CHECK_STR(out, "");
    CHECK_EQ(select_all(f, NULL, out, sizeof out, &err), TS_ENOTFOUND);
    CHECK(strncmp(out, "info={\"x\":[1,\"]}\\\"{\",{\"questions\":0}]};data=", 44) == 0);
    /* a node that is absent, a scalar, or out of range */
    CHECK_EQ(select_all(f, "nope", out, sizeof out, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "'nope' is not an array or object") != NULL);
    CHECK_EQ(select_all(f, "info.x[0]", out, sizeof out, &err), TS_EFORMAT);
    CHECK_EQ(select_all(f, "data[3]", out, sizeof out, &err), TS_EFORMAT);
    CHECK_EQ(select_all(f, "data[0].a", out, sizeof out, &err), TS_EFORMAT);
}

static void test_gzip_and_errors(void) {
    const char *gz = tmp_path("sel.json.gz");
    gzFile g = gzopen(gz, "wb");
    gzprintf(g, "{\"rows\": [");
    for (int i = 0; i < 5000; i++) gzprintf(g, "%s{\"i\": %d, \"t\": \"row %d\"}", i ? "," : "", i, i);
    gzprintf(g, "]}");
    gzclose(g);
    ts_fpath *p = NULL;
    ts_error err = {0};
    CHECK_OK(ts_fpath_parse("rows", &p, &err), &err);
    ts_json_select *s = NULL;
    CHECK_OK(ts_json_select_open(&s, gz, p, 0, &err), &err);
    int n = 0, in_order = 1;
    cJSON *v;
    while (s && ts_json_select_next(s, &v, NULL, &err) == TS_OK) {
        in_order &= cJSON_GetObjectItem(v, "i")->valueint == n;
        n++;
        cJSON_Delete(v);
    }
    ts_json_select_close(s);
    ts_fpath_free(p);
    CHECK_EQ(n, 5000);
    CHECK(in_order);

    const char *f = tmp_path("bad.json");
    char out[512];
    write_text(f, "{\"rows\": [{\"a\": 1}, {\"a\": }]}");
    CHECK_EQ(select_all(f, "rows", out, sizeof out, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "element 1") != NULL);
    CHECK_STR(out, "={\"a\":1};");
    write_text(f, "{\"rows\": [{\"a\": 1} {\"a\": 2}]}");
    CHECK_EQ(select_all(f, "rows", out, sizeof out, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "expected ',' or ']'") != NULL);
    write_text(f, "{\"rows\": [{\"a\": \"cut");
    CHECK_EQ(select_all(f, "rows", out, sizeof out, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "unexpected end") != NULL);
    /* an element over the limit (64 bytes here) */
    write_text(f, "{\"rows\": [\"0123456789012345678901234567890123456789012345678901234567890123456789\"]}");
    CHECK_EQ(select_all(f, "rows", out, sizeof out, &err), TS_ELIMIT);
    CHECK_EQ(select_all(tmp_path("absent.json"), "rows", out, sizeof out, &err), TS_EIO);
    write_text(f, "\xef\xbb\xbf[1, 2]");
    CHECK_EQ(select_all(f, NULL, out, sizeof out, &err), TS_ENOTFOUND);
    CHECK_STR(out, "=1;=2;");
}

int main(void) {
    RUN(test_paths);
    RUN(test_gzip_and_errors);
    return harness_report();
}
