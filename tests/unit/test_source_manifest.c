/* ingest/source: manifest schema checks (every error names the file and the
 * JSON path) and the manifest hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "core/io.h"
#include "ingest/source.h"

static char path_buf[512];

static const char *write_manifest(const char *name, const char *text) {
    snprintf(path_buf, sizeof path_buf, "%s/srcman_%d_%s.json", harness_tmpdir(), (int)getpid(), name);
    ts_write_file_atomic(path_buf, text, strlen(text), 0, NULL);
    return path_buf;
}

#define INPUT "\"inputs\": [{\"path\": \"x.jsonl\"}]"
#define CAPTION_HEAD "{\"name\": \"t\", \"stage\": \"pretrain\", \"task\": \"caption\", " INPUT ", "

/* Load `text`; expect failure whose message holds every `needles` (NULL-ended). */
static void expect_error(const char *name, const char *text, const char *needle1, const char *needle2) {
    const char *p = write_manifest(name, text);
    ts_source *s = NULL;
    ts_error err = {0};
    ts_status st = ts_source_load(p, &s, &err);
    CHECK(st == TS_EINVAL || st == TS_EFORMAT);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, p) != NULL);
    if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        fprintf(stderr, "  %s: message \"%s\" lacks \"%s\"/\"%s\"\n", name, err.msg, needle1, needle2 ? needle2 : "");
    CHECK(strstr(err.msg, needle1) != NULL);
    if (needle2) CHECK(strstr(err.msg, needle2) != NULL);
    ts_source_free(s);
}

static void test_schema_errors(void) {
    expect_error("notjson", "{\"name\": ", "manifest", NULL);
    expect_error("topkey", CAPTION_HEAD "\"mapping\": {\"images\": [{\"url\": \"u\"}], \"text\": \"c\"}, \"extra\": 1}",
                 "$: unknown key \"extra\"", NULL);
    expect_error("name", "{\"name\": \"a b\", \"stage\": \"sft\", \"task\": \"vqa\"}", "$.name", NULL);
    expect_error("stage", "{\"name\": \"a\", \"stage\": \"finetune\", \"task\": \"vqa\"}", "$.stage", NULL);
    expect_error("task", "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"chat\"}", "$.task", NULL);
    expect_error("noinputs", "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", \"mapping\": {}}", "$.inputs", NULL);
    expect_error("inputkey",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", \"inputs\": [{\"path\": \"x\"}, {\"path\": \"y\", \"fromat\": \"csv\"}], \"mapping\": {}}",
                 "$.inputs[1]", "unknown key \"fromat\"");
    expect_error("format",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", \"inputs\": [{\"path\": \"x\", \"format\": \"xlsx\"}], \"mapping\": {}}",
                 "$.inputs[0]", "\"format\"");
    expect_error("urlpath",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", \"inputs\": [{\"path\": \"x\", \"url\": \"https://h/x\"}], \"mapping\": {}}",
                 "$.inputs[0]", "exactly one of");
    expect_error("ftp",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", \"inputs\": [{\"url\": \"ftp://h/x\"}], \"mapping\": {}}",
                 "$.inputs[0]", "http");
    expect_error("sha",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", \"inputs\": [{\"url\": \"https://h/x\", \"sha256\": \"abc\"}], \"mapping\": {}}",
                 "$.inputs[0]", "sha256");
    expect_error("localurl",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", " INPUT ", \"local\": [{\"url\": \"https://h/x\"}], \"mapping\": {}}",
                 "$.local[0]", "path");
    expect_error("mapkey", CAPTION_HEAD "\"mapping\": {\"images\": [{\"url\": \"u\"}], \"text\": \"c\", \"caption\": \"c\"}}",
                 "$.mapping", "unknown key \"caption\"");
    expect_error("fpath", CAPTION_HEAD "\"mapping\": {\"images\": [{\"url\": \"u\"}], \"text\": \"a..b\"}}", "$.mapping",
                 "\"text\"");
    expect_error("tmpl", CAPTION_HEAD "\"mapping\": {\"images\": [{\"member\": \"x/{id:5d}\", \"archive\": \"z\"}], \"text\": \"c\"}}",
                 "$.mapping.images[0]", ":0Nd");
    expect_error("mix", CAPTION_HEAD "\"mapping\": {\"images\": [{\"url\": \"u\"}, {\"bytes\": \"b\"}], \"text\": \"c\"}}",
                 "$.mapping.images", "mixed");
    expect_error("twokinds", CAPTION_HEAD "\"mapping\": {\"images\": [{\"url\": \"u\", \"bytes\": \"b\"}], \"text\": \"c\"}}",
                 "$.mapping.images[0]", "exactly one");
    expect_error("captionneeds", CAPTION_HEAD "\"mapping\": {\"text\": \"c\"}}", "$.mapping", "needs \"images\"");
    expect_error("vqaneeds",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", " INPUT ", \"mapping\": {\"images\": [{\"url\": \"u\"}], \"question\": \"q\"}}",
                 "$.mapping", "\"answers\"");
    expect_error("textstage",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"text\", " INPUT ", \"mapping\": {\"text\": \"t\"}}", "$.stage", NULL);
    expect_error("archive", CAPTION_HEAD "\"mapping\": {\"images\": [{\"member\": \"m\", \"archive\": \"zz\"}], \"text\": \"c\"}}",
                 "$.mapping.images[0].archive", "no input named \"zz\"");
    expect_error("unused",
                 "{\"name\": \"a\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"x\"}, {\"name\": \"t\", \"role\": \"table\", \"path\": \"y.json\", \"select\": \"rows\"}], \"mapping\": {\"text\": \"t\"}}",
                 "$.inputs[1]", "never used");
    expect_error("tablesel",
                 "{\"name\": \"a\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"x\"}, {\"name\": \"t\", \"role\": \"table\", \"path\": \"y.json\"}], \"mapping\": {\"text\": \"t\"}}",
                 "$.inputs[1]", "select");
    expect_error("joinkey",
                 "{\"name\": \"a\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"x\"}, {\"name\": \"t\", \"role\": \"table\", \"path\": \"y.json\", \"select\": \"r\"}], \"mapping\": {\"text\": \"t\", \"joins\": [{\"table\": \"t\", \"as\": \"j\"}]}}",
                 "$.mapping.joins[0]", "\"key\"");
    expect_error("roles",
                 "{\"name\": \"a\", \"stage\": \"text\", \"task\": \"text\", " INPUT ", \"mapping\": {\"turns\": {\"list\": \"c\", \"roles\": {\"human\": \"person\"}}}}",
                 "$.mapping.turns.roles", "\"human\"");
    expect_error("weights",
                 "{\"name\": \"a\", \"stage\": \"sft\", \"task\": \"vqa\", " INPUT ", \"mapping\": {\"images\": [{\"url\": \"u\"}], \"question\": \"q\", \"answers\": \"a\", \"answer_weights\": \"w\", \"answers_rule\": \"count\"}}",
                 "$.mapping", "answers_rule");
    expect_error("dupkey", CAPTION_HEAD "\"mapping\": {\"images\": [{\"url\": \"u\"}], \"text\": \"c\", \"text\": \"d\"}}",
                 "$.mapping", "twice");
}

static void test_loads_and_hash(void) {
    const char *a = "{\"name\": \"laion_x\", \"stage\": \"pretrain\", \"task\": \"caption\", \"license\": \"CC-BY-4.0\","
                    " \"inputs\": [{\"url\": \"https://h/p.parquet\", \"size\": 12, \"format\": \"parquet\"}],"
                    " \"mapping\": {\"images\": [{\"url\": \"url\"}], \"text\": \"caption\"}}";
    const char *b = "{\"mapping\": {\"text\": \"caption\", \"images\": [{\"url\": \"url\"}]}, \"task\": \"caption\","
                    " \"inputs\": [{\"format\": \"parquet\", \"size\": 12, \"url\": \"https://h/p.parquet\"}],"
                    " \"license\": \"CC-BY-4.0\", \"stage\": \"pretrain\", \"name\": \"laion_x\"}";
    const char *c = "{\"name\": \"laion_x\", \"stage\": \"pretrain\", \"task\": \"caption\", \"license\": \"CC-BY-4.0\","
                    " \"inputs\": [{\"url\": \"https://h/p.parquet\", \"size\": 12, \"format\": \"parquet\"}],"
                    " \"mapping\": {\"images\": [{\"url\": \"url\"}], \"text\": \"TEXT\"}}";
    ts_source *sa = NULL, *sb = NULL, *sc = NULL;
    ts_error err = {0};
    CHECK_OK(ts_source_load(write_manifest("a", a), &sa, &err), &err);
    CHECK_OK(ts_source_load(write_manifest("b", b), &sb, &err), &err);
    CHECK_OK(ts_source_load(write_manifest("c", c), &sc, &err), &err);
    if (!sa || !sb || !sc) goto out;
    CHECK_STR(ts_source_name(sa), "laion_x");
    CHECK_EQ(ts_source_stage(sa), TS_STAGE_PRETRAIN);
    CHECK_EQ(ts_source_task(sa), TS_TASK_CAPTION);
    CHECK_STR(ts_source_license(sa), "CC-BY-4.0");
    CHECK(ts_hash128_equal(ts_source_hash(sa), ts_source_hash(sb)));
    CHECK(!ts_hash128_equal(ts_source_hash(sa), ts_source_hash(sc)));
    /* a URL input needs a cache folder; there are no local copies */
    ts_source_reader *r = NULL;
    ts_source_open_options o = {0};
    CHECK_EQ(ts_source_reader_open(sa, &o, &r, &err), TS_EINVAL);
    CHECK(strstr(err.msg, "cache") != NULL);
    o.use_local = 1;
    CHECK_EQ(ts_source_reader_open(sa, &o, &r, &err), TS_EINVAL);
    CHECK(strstr(err.msg, "local") != NULL);
out:
    ts_source_free(sa);
    ts_source_free(sb);
    ts_source_free(sc);
}

/* Every committed manifest loads. */
static void test_committed_manifests(void) {
    const char *names[] = {"chartqa", "coco_captions_2017", "coco_instruct_150k", "docmatix", "gsm8k",
                           "laion_relaion2b", "ocr_vqa", "slimorca", "vqav2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "manifests/sources/%s.json", names[i]);
        ts_source *s = NULL;
        ts_error err = {0};
        CHECK_OK(ts_source_load(p, &s, &err), &err);
        if (s) CHECK_STR(ts_source_name(s), names[i]);
        ts_source_free(s);
    }
}

#define AUTH_HEAD(url) \
    "{\"name\": \"g\", \"stage\": \"pretrain\", \"task\": \"caption\", \"inputs\": [{\"url\": \"" url "\"}], " \
    "\"mapping\": {\"images\": [{\"url\": \"u\"}], \"text\": \"c\"}, "

/* "auth": shape errors, hosts that match no input (libcurl's own URL parser
 * decides the host: user info is no host), a token over plain http. */
static void test_auth_errors(void) {
    expect_error("auth_type", AUTH_HEAD("https://huggingface.co/x.parquet") "\"auth\": \"HF_TOKEN\"}", "$.auth",
                 "expected an object");
    expect_error("auth_key", AUTH_HEAD("https://huggingface.co/x.parquet")
                 "\"auth\": {\"bearer_env\": \"HF_TOKEN\", \"hosts\": [\"huggingface.co\"], \"token\": \"x\"}}",
                 "$.auth", "unknown key \"token\"");
    expect_error("auth_nohosts", AUTH_HEAD("https://huggingface.co/x.parquet") "\"auth\": {\"bearer_env\": \"HF_TOKEN\"}}",
                 "$.auth", "\"hosts\"");
    expect_error("auth_env", AUTH_HEAD("https://huggingface.co/x.parquet")
                 "\"auth\": {\"bearer_env\": \"hf token\", \"hosts\": [\"huggingface.co\"]}}",
                 "$.auth", "environment variable");
    expect_error("auth_hostform", AUTH_HEAD("https://huggingface.co/x.parquet")
                 "\"auth\": {\"bearer_env\": \"HF_TOKEN\", \"hosts\": [\"https://huggingface.co/\"]}}",
                 "$.auth", "host names only");
    expect_error("auth_nomatch", AUTH_HEAD("https://cdn.example.org/x.parquet")
                 "\"auth\": {\"bearer_env\": \"HF_TOKEN\", \"hosts\": [\"huggingface.co\"]}}",
                 "$.auth", "matches the host of no");
    expect_error("auth_userinfo", AUTH_HEAD("https://huggingface.co@evil.example/x.parquet")
                 "\"auth\": {\"bearer_env\": \"HF_TOKEN\", \"hosts\": [\"huggingface.co\"]}}",
                 "$.auth", "matches the host of no");
    expect_error("auth_http", AUTH_HEAD("http://huggingface.co/x.parquet")
                 "\"auth\": {\"bearer_env\": \"HF_TOKEN\", \"hosts\": [\"huggingface.co\"]}}",
                 "$.inputs[0]", "https only");
}

/* The token comes from the environment when a download starts: absent or
 * empty is an error naming the variable; with --local none is needed. */
static void test_auth_token_needed(void) {
    ts_source *s = NULL;
    ts_error err = {0};
    const char *m = AUTH_HEAD("https://HuggingFace.co/x.parquet")
        "\"auth\": {\"bearer_env\": \"TS_TEST_ABSENT_TOKEN\", \"hosts\": [\"huggingface.co\"]}, "
        "\"local\": [{\"path\": \"x.jsonl\"}]}";
    CHECK_OK(ts_source_load(write_manifest("auth_ok", m), &s, &err), &err);
    if (!s) return;
    unsetenv("TS_TEST_ABSENT_TOKEN");
    ts_source_reader *r = NULL;
    ts_source_open_options o = {.cache_dir = harness_tmpdir()};
    CHECK_EQ(ts_source_reader_open(s, &o, &r, &err), TS_EINVAL);
    CHECK(strstr(err.msg, "set the environment variable TS_TEST_ABSENT_TOKEN") != NULL);
    setenv("TS_TEST_ABSENT_TOKEN", "", 1);
    CHECK_EQ(ts_source_reader_open(s, &o, &r, &err), TS_EINVAL);
    CHECK(strstr(err.msg, "it is empty") != NULL);
    setenv("TS_TEST_ABSENT_TOKEN", "hf_abc\r\nX-Evil: 1", 1);
    CHECK_EQ(ts_source_reader_open(s, &o, &r, &err), TS_EINVAL);
    CHECK(strstr(err.msg, "does not hold a bearer token") != NULL);
    CHECK(strstr(err.msg, "hf_abc") == NULL); /* the value is never shown */
    unsetenv("TS_TEST_ABSENT_TOKEN");
    ts_source_free(s);
}

int main(void) {
    RUN(test_schema_errors);
    RUN(test_auth_errors);
    RUN(test_auth_token_needed);
    RUN(test_loads_and_hash);
    RUN(test_committed_manifests);
    return harness_report();
}
