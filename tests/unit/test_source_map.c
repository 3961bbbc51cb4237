/* ingest/source: every mapping shape end to end (manifest -> reader ->
 * samples/drops), ordinals, keys, joins and drop reasons. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../harness.h"
#include <cjson/cJSON.h>

#include "core/base64.h"
#include "core/io.h"
#include "ingest/source.h"
#include "ingest/zip_index.h"

static char dir[400];

static void setup(const char *name) {
    snprintf(dir, sizeof dir, "%s/srcmap_%d_%s", harness_tmpdir(), (int)getpid(), name);
    ts_mkdirs(dir, NULL);
}

static void put(const char *rel, const void *data, size_t n) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *slash = strrchr(p, '/');
    *slash = 0;
    ts_mkdirs(p, NULL);
    *slash = '/';
    ts_write_file_atomic(p, data, n, 0, NULL);
}
static void put_text(const char *rel, const char *text) { put(rel, text, strlen(text)); }

/* A real photo from the committed fixtures (40x32 JPEG). */
static ts_buf photo(const char *member) {
    ts_buf b = TS_BUF_INIT;
    ts_zip *z = NULL;
    if (!ts_zip_open("tests/fixtures/sources/coco_captions_2017/train2017.zip", &z, NULL)) {
        long i = ts_zip_find(z, member);
        if (i >= 0) ts_zip_read(z, (size_t)i, 0, &b, NULL);
        ts_zip_close(z);
    }
    return b;
}

typedef struct result {
    char *json;   /* sample JSON, or NULL */
    char *drop;
    char *msg;    /* the drop's message */
    char *urls;   /* "u1 u2" */
    uint64_t ordinal;
} result;

static result res[64];
static size_t nres;

static void clear_results(void) {
    for (size_t i = 0; i < nres; i++) {
        free(res[i].json);
        free(res[i].drop);
        free(res[i].msg);
        free(res[i].urls);
        memset(&res[i], 0, sizeof res[i]);
    }
    nres = 0;
}

/* Load manifest text, read every record. Returns the reader's final status. */
static ts_status run(const char *manifest) {
    clear_results();
    put_text("m.json", manifest);
    char p[600];
    snprintf(p, sizeof p, "%s/m.json", dir);
    ts_source *s = NULL;
    ts_source_reader *r = NULL;
    ts_error err = {0};
    ts_status st = ts_source_load(p, &s, &err);
    if (!st) st = ts_source_reader_open(s, NULL, &r, &err);
    while (!st) {
        ts_source_record *rec;
        st = ts_source_reader_next(r, &rec, &err);
        if (st) break;
        /* past 63 results, slot 63 keeps the latest */
        result *o = &res[nres < 64 ? nres++ : 63];
        free(o->json);
        free(o->drop);
        free(o->msg);
        free(o->urls);
        memset(o, 0, sizeof *o);
        o->ordinal = rec->ordinal;
        if (rec->drop_reason) {
            o->drop = strdup(rec->drop_reason);
            o->msg = strdup(rec->message);
            CHECK(strstr(rec->message, rec->location) == rec->message);
            continue;
        }
        cJSON *j = NULL;
        CHECK_OK(ts_sample_to_json(&rec->sample, 0, &j, &err), &err);
        o->json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        ts_buf u = TS_BUF_INIT;
        for (size_t i = 0; i < rec->n_image_urls; i++) ts_buf_printf(&u, NULL, "%s%s", i ? " " : "", rec->image_urls[i]);
        ts_buf_append(&u, "", 1, NULL);
        o->urls = (char *)u.data;
    }
    if (st && st != TS_ENOTFOUND) fprintf(stderr, "  run: %s\n", err.msg);
    ts_source_reader_close(r);
    ts_source_free(s);
    for (size_t i = 0; i < nres && i < 63; i++) CHECK_EQ(res[i].ordinal, i);
    return st;
}

static int has(size_t i, const char *needle) {
    int ok = i < nres && res[i].json && strstr(res[i].json, needle);
    if (!ok) fprintf(stderr, "  result %zu lacks %s: %s\n", i, needle, i < nres && res[i].json ? res[i].json : "(drop)");
    return ok;
}
static int dropped(size_t i, const char *reason) {
    int ok = i < nres && res[i].drop && strcmp(res[i].drop, reason) == 0;
    if (!ok) fprintf(stderr, "  result %zu is not dropped as %s: %s\n", i, reason,
                     i < nres ? (res[i].drop ? res[i].drop : res[i].json) : "(none)");
    return ok;
}

static void test_caption_urls(void) {
    setup("urls");
    put_text("a.jsonl", "{\"u\": \"https://h/1.jpg\", \"c\": \"one\"}\n"
                        "{\"u\": \"https://h/2.jpg\", \"c\": \"\"}\n"
                        "{\"c\": \"no url\"}\n"
                        "not json\n"
                        "{\"u\": \"https://h/3.jpg\", \"c\": 7}\n");
    put_text("b.jsonl", "{\"u\": \"https://h/4.jpg\", \"c\": \"four\", \"lic\": \"CC0\"}\n");
    CHECK_EQ(run("{\"name\": \"u\", \"stage\": \"pretrain\", \"task\": \"caption\", \"license\": \"L\","
                 " \"inputs\": [{\"path\": \"a.jsonl\"}, {\"path\": \"b.jsonl\"}],"
                 " \"mapping\": {\"images\": [{\"url\": \"u\"}], \"text\": \"c\", \"license\": \"lic\"}}"),
             TS_ENOTFOUND);
    CHECK_EQ(nres, 6);
    CHECK(has(0, "\"key\":\"0000000000\"") && has(0, "\"text\":\"one\"") && has(0, "\"url\":\"https://h/1.jpg\""));
    CHECK(has(0, "\"row\":\"a.jsonl:0\"") && has(0, "\"license\":\"L\""));
    CHECK_STR(res[0].urls, "https://h/1.jpg");
    CHECK(dropped(1, "empty_text"));
    CHECK(dropped(2, "missing_field"));
    CHECK(dropped(3, "bad_record"));
    CHECK(has(4, "\"text\":\"7\""));
    CHECK(has(5, "\"key\":\"0000000005\"") && has(5, "\"row\":\"b.jsonl:0\"") && has(5, "\"license\":\"CC0\""));
}

static void test_carried_images(void) {
    setup("carried");
    ts_buf jpg = photo("train2017/000000000009.jpg");
    CHECK(jpg.len > 0);
    ts_buf b64 = TS_BUF_INIT;
    ts_base64_encode(jpg.data, jpg.len, &b64, NULL);
    ts_buf_append(&b64, "", 1, NULL);
    put("imgs/p.jpg", jpg.data, jpg.len);
    put("archive/sub/q.jpg", jpg.data, jpg.len);
    put_text("secret.jpg", "x");
    ts_buf lines = TS_BUF_INIT;
    ts_buf_printf(&lines, NULL,
                  "{\"image\": {\"bytes\": \"%s\", \"path\": null}, \"t\": \"bytes\"}\n"
                  "{\"image\": {\"bytes\": \"%s\"}, \"f\": \"imgs/p.jpg\", \"m\": \"sub/q.jpg\", \"t\": \"all three\"}\n"
                  "{\"image\": {\"bytes\": \"@@notbase64\"}, \"t\": \"bad base64\"}\n"
                  "{\"image\": {\"bytes\": \"aGVsbG8=\"}, \"t\": \"not an image\"}\n"
                  "{\"image\": {\"bytes\": \"%s\"}, \"f\": \"../secret.jpg\", \"t\": \"escape\"}\n"
                  "{\"image\": {\"bytes\": \"%s\"}, \"f\": \"imgs/none.jpg\", \"t\": \"missing file\"}\n"
                  "{\"image\": {\"bytes\": \"%s\"}, \"m\": \"sub/none.jpg\", \"t\": \"missing member\"}\n",
                  (char *)b64.data, (char *)b64.data, (char *)b64.data, (char *)b64.data, (char *)b64.data);
    put("r.jsonl", lines.data, lines.len);
    CHECK_EQ(run("{\"name\": \"c\", \"stage\": \"pretrain\", \"task\": \"ocr\","
                 " \"inputs\": [{\"path\": \"r.jsonl\"}, {\"name\": \"arch\", \"role\": \"images\", \"path\": \"archive\", \"format\": \"dir\"}],"
                 " \"mapping\": {\"images\": [{\"bytes\": \"image.bytes\"}, {\"file\": \"f\", \"optional\": true},"
                 " {\"member\": \"m\", \"archive\": \"arch\", \"optional\": true}], \"text\": \"t\"}}"),
             TS_ENOTFOUND);
    CHECK_EQ(nres, 7);
    CHECK(has(0, "\"width\":40,\"height\":32") && has(0, "\"task\":\"ocr\""));
    CHECK_STR(res[0].urls, "");
    CHECK(res[1].json && strstr(res[1].json, "\"images\":[{") &&
          strstr(strstr(strstr(res[1].json, "\"width\":40") + 1, "\"width\":40") + 1, "\"width\":40"));
    CHECK(dropped(2, "bad_image_ref"));
    CHECK(dropped(3, "bad_image"));
    CHECK(dropped(4, "bad_image_ref"));
    CHECK(dropped(5, "bad_image_ref"));
    CHECK(dropped(6, "bad_image_ref"));
    ts_buf_free(&jpg);
    ts_buf_free(&b64);
    ts_buf_free(&lines);
}

static void test_vqa(void) {
    setup("vqa");
    put_text("q.jsonl",
             "{\"u\": \"https://h/a.jpg\", \"q\": \"What?\", \"a\": [\"x\", \"y\", \"x\", \"x\"]}\n"
             "{\"u\": \"https://h/a.jpg\", \"q\": \"Why?\", \"a\": \"because\"}\n"
             "{\"u\": \"https://h/a.jpg\", \"q\": \"Who?\", \"a\": []}\n"
             "{\"u\": \"https://h/a.jpg\", \"a\": [\"x\"]}\n"
             "{\"u\": \"https://h/a.jpg\", \"q\": \"How?\", \"a\": [\"x\", 3]}\n");
    const char *head = "{\"name\": \"v\", \"stage\": \"sft\", \"task\": \"vqa\", \"inputs\": [{\"path\": \"q.jsonl\"}],"
                       " \"mapping\": {\"images\": [{\"url\": \"u\"}], \"question\": \"q\", \"answers\": \"a\"";
    char m[1024];
    snprintf(m, sizeof m, "%s, \"answers_rule\": \"count\"}}", head);
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK(has(0, "\"turns\":[{\"role\":\"user\",\"content\":\"What?\"}]"));
    CHECK(has(0, "\"answers\":[{\"text\":\"x\",\"weight\":0.75},{\"text\":\"y\",\"weight\":0.25}]"));
    CHECK(has(1, "\"answers\":[{\"text\":\"because\",\"weight\":1}]"));
    CHECK(dropped(2, "missing_field"));
    CHECK(dropped(3, "missing_field"));
    CHECK(dropped(4, "bad_record"));
    snprintf(m, sizeof m, "%s}}", head);
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK(has(0, "{\"text\":\"x\",\"weight\":1},{\"text\":\"y\",\"weight\":1},{\"text\":\"x\",\"weight\":1}"));
    put_text("q.jsonl", "{\"u\": \"https://h/a.jpg\", \"q\": \"W?\", \"a\": [\"x\", \"y\"], \"w\": [0.5, 2]}\n"
                        "{\"u\": \"https://h/a.jpg\", \"q\": \"W?\", \"a\": [\"x\", \"y\"], \"w\": [1]}\n"
                        "{\"u\": \"https://h/a.jpg\", \"q\": \"W?\", \"a\": [\"x\"], \"w\": [-1]}\n");
    snprintf(m, sizeof m, "%s, \"answer_weights\": \"w\"}}", head);
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK(has(0, "{\"text\":\"x\",\"weight\":0.5},{\"text\":\"y\",\"weight\":2}"));
    CHECK(dropped(1, "bad_record"));
    CHECK(dropped(2, "bad_record"));
}

static void test_conversations(void) {
    setup("conv");
    put_text("c.json", "[{\"id\": \"a1\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nHi\"},"
                       " {\"from\": \"gpt\", \"value\": \"Hello\"}]},"
                       " {\"id\": \"a2\", \"conversations\": [{\"from\": \"bot\", \"value\": \"x\"}]},"
                       " {\"id\": \"a3\", \"conversations\": []},"
                       " {\"id\": \"a4\", \"conversations\": [{\"from\": \"human\", \"value\": 5}]},"
                       " {\"id\": \"multi_1\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]},"
                       " {\"id\": \"a b\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}]");
    CHECK_EQ(run("{\"name\": \"c\", \"stage\": \"sft\", \"task\": \"multi_turn\", \"inputs\": [{\"path\": \"c.json\"}],"
                 " \"mapping\": {\"key\": \"id\", \"turns\": {\"list\": \"conversations\", \"system\": \"Answer the questions.\"}}}"),
             TS_ENOTFOUND);
    CHECK_EQ(nres, 6);
    CHECK(has(0, "\"key\":\"a1\"") &&
          has(0, "[{\"role\":\"system\",\"content\":\"Answer the questions.\"},{\"role\":\"user\",\"content\":\"<image>\\nHi\"},"
                 "{\"role\":\"assistant\",\"content\":\"Hello\"}]"));
    CHECK(dropped(1, "bad_role"));
    CHECK(dropped(2, "missing_field"));
    CHECK(dropped(3, "bad_record"));
    CHECK(dropped(4, "routing_key"));
    CHECK(dropped(5, "bad_key"));
    /* messages: role/content */
    put_text("m.jsonl", "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U\"},"
                        " {\"role\": \"assistant\", \"content\": \"A\"}]}\n");
    CHECK_EQ(run("{\"name\": \"m\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"m.jsonl\"}],"
                 " \"mapping\": {\"turns\": {\"list\": \"messages\", \"role_key\": \"role\", \"content_key\": \"content\"}}}"),
             TS_ENOTFOUND);
    CHECK(has(0, "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"},{\"role\":\"assistant\",\"content\":\"A\"}]"));
    /* pairs (Docmatix texts) with the images list */
    ts_buf jpg = photo("train2017/000000000025.jpg");
    ts_buf b64 = TS_BUF_INIT, line = TS_BUF_INIT;
    ts_base64_encode(jpg.data, jpg.len, &b64, NULL);
    ts_buf_append(&b64, "", 1, NULL);
    ts_buf_printf(&line, NULL,
                  "{\"images\": [{\"bytes\": \"%s\"}, {\"bytes\": \"%s\"}], \"texts\": [{\"user\": \"Q1\", \"assistant\": \"A1\","
                  " \"source\": \"pdf\"}, {\"user\": \"Q2\", \"assistant\": \"A2\", \"source\": \"pdf\"}]}\n"
                  "{\"images\": [], \"texts\": [{\"user\": \"Q1\"}]}\n",
                  (char *)b64.data, (char *)b64.data);
    put("d.jsonl", line.data, line.len);
    CHECK_EQ(run("{\"name\": \"d\", \"stage\": \"sft\", \"task\": \"multi_turn\", \"inputs\": [{\"path\": \"d.jsonl\"}],"
                 " \"mapping\": {\"images\": [{\"bytes\": \"images[*].bytes\"}], \"turns\": {\"pairs\": \"texts\", \"user\": \"user\", \"assistant\": \"assistant\"}}}"),
             TS_ENOTFOUND);
    CHECK(has(0, "\"width\":36,\"height\":28") && has(0, "{\"role\":\"user\",\"content\":\"Q2\"},{\"role\":\"assistant\",\"content\":\"A2\"}"));
    CHECK(res[0].json && strstr(strstr(res[0].json, "\"width\":36") + 1, "\"width\":36"));
    CHECK(dropped(1, "missing_field"));
    ts_buf_free(&jpg);
    ts_buf_free(&b64);
    ts_buf_free(&line);
}

static void test_text_and_pairs(void) {
    setup("text");
    put_text("t.csv", "text,n\nhello world,1\n,2\n");
    CHECK_EQ(run("{\"name\": \"t\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"t.csv\"}],"
                 " \"mapping\": {\"key\": \"doc-{n}\", \"text\": \"text\"}}"),
             TS_ENOTFOUND);
    CHECK(has(0, "\"key\":\"doc-1\"") && has(0, "\"text\":\"hello world\"") && has(0, "\"turns\":[]"));
    CHECK(dropped(1, "empty_text"));
    put_text("g.jsonl", "{\"question\": \"1+1?\", \"answer\": \"2\"}\n{\"question\": \"x\"}\n");
    CHECK_EQ(run("{\"name\": \"g\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"g.jsonl\"}],"
                 " \"mapping\": {\"turns\": {\"user\": \"question\", \"assistant\": \"answer\"}}}"),
             TS_ENOTFOUND);
    CHECK(has(0, "[{\"role\":\"user\",\"content\":\"1+1?\"},{\"role\":\"assistant\",\"content\":\"2\"}]"));
    CHECK(dropped(1, "missing_field"));
}

static void test_joins_and_select(void) {
    setup("join");
    put_text("doc.json", "{\"items\": {\"k1\": {\"t\": \"a\", \"id\": 1}, \"k2\": {\"t\": \"b\", \"id\": 2},"
                         " \"k3\": {\"t\": \"c\", \"id\": 3}},"
                         " \"notes\": [{\"ref\": 2, \"n\": \"second\"}, {\"ref\": 1, \"n\": \"first-a\"}, {\"ref\": \"1\", \"n\": \"first-b\"}]}");
    const char *m = "{\"name\": \"j\", \"stage\": \"text\", \"task\": \"text\","
                    " \"inputs\": [{\"path\": \"doc.json\", \"select\": \"items\"},"
                    " {\"name\": \"notes\", \"role\": \"table\", \"path\": \"doc.json\", \"select\": \"notes\"}],"
                    " \"mapping\": {\"key\": \"__key__\", \"joins\": [{\"table\": \"notes\", \"key\": \"ref\", \"on\": \"id\", \"as\": \"ns\", \"many\": true}],"
                    " \"text\": \"{t}:{ns[0].n}\"}}";
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK_EQ(nres, 3);
    CHECK(has(0, "\"key\":\"k1\"") && has(0, "\"text\":\"a:first-a\""));
    CHECK(has(1, "\"key\":\"k2\"") && has(1, "\"text\":\"b:second\""));
    CHECK(dropped(2, "missing_join"));
    /* the same again: records lent from the document are restored */
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK(has(0, "\"text\":\"a:first-a\""));
    /* an optional single join */
    CHECK_EQ(run("{\"name\": \"j\", \"stage\": \"text\", \"task\": \"text\","
                 " \"inputs\": [{\"path\": \"doc.json\", \"select\": \"items\"},"
                 " {\"name\": \"notes\", \"role\": \"table\", \"path\": \"doc.json\", \"select\": \"notes\"}],"
                 " \"mapping\": {\"joins\": [{\"table\": \"notes\", \"key\": \"ref\", \"on\": \"id\", \"as\": \"note\", \"required\": false}],"
                 " \"text\": \"note.n\"}}"),
             TS_ENOTFOUND);
    CHECK(has(0, "\"text\":\"first-a\"") && has(1, "\"text\":\"second\""));
    CHECK(dropped(2, "missing_field"));
}

/* Join tables keep only what the mapping reads of a row, packed: values
 * must come back as they were (numbers, escapes, nesting, the first of
 * duplicate members), rows in file order, first row for single joins. */
static void test_join_tables(void) {
    setup("jtab");
    put_text("recs.json", "{\"meta\": {\"n\": [1, \"]\"]}, \"recs\": [{\"id\": 1, \"q\": \"one\"}, {\"id\": \"2\", \"q\": \"two\"},"
                          " {\"id\": 3.5, \"q\": \"three\"}, {\"q\": \"none\"}, {\"id\": [1], \"q\": \"list\"}]}");
    put_text("tab.json", "{\"rows\": {"
                         "\"r1\": {\"k\": 2, \"v\": \"first\", \"v\": \"dup\", \"deep\": {\"x\": [10, {\"y\": \"b\\\"q\\u00e9\"}]}, \"big\": 1e300},"
                         "\"r2\": {\"k\": 1, \"v\": \"a1\", \"deep\": {\"x\": [11, {\"y\": -7}]}, \"big\": 9007199254740993},"
                         "\"r3\": {\"k\": \"2\", \"v\": \"second\", \"deep\": {\"x\": [12]}, \"big\": -0.25},"
                         "\"r4\": {\"k\": 3.5, \"v\": \"half\", \"deep\": null, \"big\": 0},"
                         "\"r5\": {\"k\": 2, \"v\": \"third\", \"deep\": {\"x\": [13, {\"y\": true}]}, \"big\": 12345678901234567890}}}");
    const char *head = "{\"name\": \"jt\", \"stage\": \"text\", \"task\": \"text\","
                       " \"inputs\": [{\"path\": \"recs.json\", \"select\": \"recs\"},"
                       " {\"name\": \"t\", \"role\": \"table\", \"path\": \"tab.json\", \"select\": \"rows\"}], \"mapping\": ";
    char m[2048];
    /* single: the first row of a key, keys as text (2 and "2" match) */
    snprintf(m, sizeof m, "%s{\"joins\": [{\"table\": \"t\", \"key\": \"k\", \"on\": \"id\", \"as\": \"row\"}],"
                          " \"text\": \"{q}|{row.v}|{row.deep.x[1].y}|{row.big}\"}}", head);
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK_EQ(nres, 5);
    CHECK(has(0, "\"text\":\"one|a1|-7|9007199254740992\""));
    CHECK(has(1, "\"text\":\"two|first|b\\\"q\xc3\xa9|1.0000000000000001e+300\"")); /* duplicate "v": the first */
    CHECK(dropped(2, "missing_field")); /* r4 has no deep.x */
    CHECK(dropped(3, "missing_join") && strstr(res[3].msg, "has k = '(missing)'"));
    CHECK(dropped(4, "missing_join") && strstr(res[4].msg, "has k = '(not a string or number)'"));
    /* many: every row of the key in file order; a path into the array */
    snprintf(m, sizeof m, "%s{\"joins\": [{\"table\": \"t\", \"key\": \"k\", \"on\": \"id\", \"as\": \"rs\", \"many\": true,"
                          " \"required\": false}], \"text\": \"{q}:{rs[0].v}:{rs[1].v}:{rs[2].v}:{rs[2].deep.x[0]}\"}}", head);
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK(dropped(0, "missing_field")); /* one row: no rs[1] */
    CHECK(has(1, "\"text\":\"two:first:second:third:13\""));
    CHECK(dropped(3, "missing_field")); /* no match, not required: an empty array */
    /* a second join on a member of the first */
    put_text("names.json", "[{\"n\": \"first\", \"label\": \"F\"}, {\"n\": \"a1\", \"label\": \"A\"}]");
    snprintf(m, sizeof m, "{\"name\": \"jt\", \"stage\": \"text\", \"task\": \"text\","
                          " \"inputs\": [{\"path\": \"recs.json\", \"select\": \"recs\"},"
                          " {\"name\": \"t\", \"role\": \"table\", \"path\": \"tab.json\", \"select\": \"rows\"},"
                          " {\"name\": \"n\", \"role\": \"table\", \"path\": \"names.json\", \"select\": \"\"}],"
                          " \"mapping\": {\"joins\": [{\"table\": \"t\", \"key\": \"k\", \"on\": \"id\", \"as\": \"row\"},"
                          " {\"table\": \"n\", \"key\": \"n\", \"on\": \"row.v\", \"as\": \"name\"}], \"text\": \"{q}={name.label}\"}}");
    CHECK_EQ(run(m), TS_ENOTFOUND);
    CHECK(has(0, "\"text\":\"one=A\"") && has(1, "\"text\":\"two=F\""));
    CHECK(dropped(2, "missing_join") && strstr(res[2].msg, "no row of table 'n' has n = 'half'"));
    /* an empty key is a key like any other */
    put_text("names.json", "[{\"n\": \"first\", \"label\": \"F\"}, {\"n\": \"\", \"label\": \"E\"}]");
    put_text("recs2.json", "{\"recs\": [{\"id\": \"\", \"q\": \"empty\"}, {\"id\": \"x\", \"q\": \"x\"}]}");
    CHECK_EQ(run("{\"name\": \"jt\", \"stage\": \"text\", \"task\": \"text\","
                 " \"inputs\": [{\"path\": \"recs2.json\", \"select\": \"recs\"},"
                 " {\"name\": \"n\", \"role\": \"table\", \"path\": \"names.json\", \"select\": \"\"}],"
                 " \"mapping\": {\"joins\": [{\"table\": \"n\", \"key\": \"n\", \"on\": \"id\", \"as\": \"name\"}],"
                 " \"text\": \"{q}={name.label}\"}}"),
             TS_ENOTFOUND);
    CHECK(has(0, "\"text\":\"empty=E\"") && dropped(1, "missing_join"));
    /* a table that is not valid JSON fails the open, naming the table */
    put_text("tab.json", "{\"rows\": [{\"k\": 1}, {\"k\": ]}");
    snprintf(m, sizeof m, "%s{\"joins\": [{\"table\": \"t\", \"key\": \"k\", \"on\": \"id\", \"as\": \"row\"}], \"text\": \"q\"}}", head);
    CHECK_EQ(run(m), TS_EFORMAT);
}

/* Skipping passes records without mapping them; ordinals go on. */
static void test_skip(void) {
    setup("skip");
    put_text("a.jsonl", "{\"t\": \"a\"}\nbroken\n{\"t\": \"c\"}\n");
    put_text("b.jsonl", "{\"t\": \"d\"}\n{\"t\": \"e\"}\n");
    put_text("m.json", "{\"name\": \"s\", \"stage\": \"text\", \"task\": \"text\","
                       " \"inputs\": [{\"path\": \"a.jsonl\"}, {\"path\": \"b.jsonl\"}], \"mapping\": {\"text\": \"t\"}}");
    char p[600];
    snprintf(p, sizeof p, "%s/m.json", dir);
    ts_source *s = NULL;
    ts_source_reader *r = NULL;
    ts_error err = {0};
    CHECK_OK(ts_source_load(p, &s, &err), &err);
    if (s) CHECK_OK(ts_source_reader_open(s, NULL, &r, &err), &err);
    if (!r) {
        ts_source_free(s);
        return;
    }
    uint64_t n = 0;
    ts_source_record *rec = NULL;
    CHECK_OK(ts_source_reader_skip(r, 3, &n, &err), &err);
    CHECK_EQ(n, 3);
    CHECK_OK(ts_source_reader_next(r, &rec, &err), &err);
    CHECK(rec && rec->ordinal == 3 && !rec->drop_reason && strcmp(ts_sample_str(&rec->sample.text), "d") == 0);
    CHECK(rec && strcmp(rec->location, "b.jsonl: record 0") == 0);
    CHECK_OK(ts_source_reader_skip(r, 5, &n, &err), &err);
    CHECK_EQ(n, 1);
    CHECK_EQ(ts_source_reader_next(r, &rec, &err), TS_ENOTFOUND);
    ts_source_reader_close(r);
    ts_source_free(s);
}

static void test_fatal_input(void) {
    setup("fatal");
    /* a truncated gzip stream ends the run, never a loop of drops */
    char gz[600];
    snprintf(gz, sizeof gz, "%s/cut.jsonl.gz", dir);
    gzFile g = gzopen(gz, "wb");
    for (int i = 0; i < 2000; i++) gzprintf(g, "{\"t\": \"line %d with some text to compress\"}\n", i);
    gzclose(g);
    ts_buf whole = TS_BUF_INIT;
    ts_read_file(gz, 1 << 20, &whole, NULL);
    ts_write_file_atomic(gz, whole.data, whole.len / 2, 0, NULL);
    ts_buf_free(&whole);
    ts_status st = run("{\"name\": \"f\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"cut.jsonl.gz\", \"format\": \"jsonl\"}],"
                       " \"mapping\": {\"text\": \"t\"}}");
    /* core's gzip line reader ends a cut stream after the partial line: that
     * line is the last record, a bad_record drop (res[63] holds the last) */
    CHECK(st == TS_ENOTFOUND || st == TS_EFORMAT);
    if (st == TS_ENOTFOUND) CHECK(dropped(63, "bad_record"));
    CHECK_EQ(run("{\"name\": \"f\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"absent.jsonl\"}],"
                 " \"mapping\": {\"text\": \"t\"}}"),
             TS_EIO);
    put_text("bad.json", "{\"rows\": 5}");
    CHECK_EQ(run("{\"name\": \"f\", \"stage\": \"text\", \"task\": \"text\", \"inputs\": [{\"path\": \"bad.json\", \"select\": \"rows\"}],"
                 " \"mapping\": {\"text\": \"t\"}}"),
             TS_EFORMAT);
}

int main(void) {
    RUN(test_caption_urls);
    RUN(test_carried_images);
    RUN(test_vqa);
    RUN(test_conversations);
    RUN(test_text_and_pairs);
    RUN(test_joins_and_select);
    RUN(test_join_tables);
    RUN(test_skip);
    RUN(test_fatal_input);
    clear_results();
    return harness_report();
}
