/* Plan files, the streaming reader, recipe loading/validation, counts files
 * and the Energon blend export (mixers/mix.h, mixers/recipe.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/io.h"
#include "mixers/mix.h"
#include "mixers/recipe.h"
#include "tests/harness.h"

static char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    return p;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static int read_all(const char *path, ts_buf *b) {
    ts_error err;
    ts_buf_reset(b);
    return ts_read_file(path, 1u << 30, b, &err) == TS_OK;
}

static void make_plan(ts_mix_plan *p, uint64_t seed) {
    ts_error err;
    ts_mix_want w[] = {{"laion", TS_MIX_WEIGHT, 579, 0, 0, 40000, 0},
                       {"coco", TS_MIX_WEIGHT, 20, 0, 0, 50, 0},
                       {"vqav2", TS_MIX_WEIGHT, 10, 0, 0, 3000, 0}};
    CHECK_OK(ts_mix_plan_make(w, 3, TS_MIX_SAMPLES, 1200000, seed, p, &err), &err);
}

static void test_plan_file_round_trip(void) {
    ts_error err;
    ts_mix_plan p;
    make_plan(&p, 5);
    p.recipe_hash = (ts_hash128){0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    const char *one = tmp_path("one.tsmix"), *two = tmp_path("two.tsmix");
    CHECK_OK(ts_mix_plan_write(&p, one, 1, &err), &err);
    CHECK_OK(ts_mix_plan_write(&p, two, 2, &err), &err);
    ts_buf a = TS_BUF_INIT, b = TS_BUF_INIT;
    CHECK(read_all(one, &a) && read_all(two, &b));
    CHECK(a.len == 64 + 3 * 96 + 16 * p.total + 16);
    CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len)); /* thread count does not matter */
    ts_mix_reader *r = NULL;
    CHECK_OK(ts_mix_reader_open(one, &r, &err), &err);
    if (!r) return;
    const ts_mix_plan *h = ts_mix_reader_header(r);
    CHECK(h->total == p.total && h->seed == 5 && h->n_sources == 3 && h->target == 1200000);
    CHECK(h->recipe_hash.hi == p.recipe_hash.hi && h->recipe_hash.lo == p.recipe_hash.lo);
    CHECK_STR(h->src[1].name, "coco");
    CHECK(h->src[1].target == p.src[1].target && h->src[1].epochs == p.src[1].epochs);
    ts_mix_item it, want;
    uint64_t n = 0, mismatch = 0;
    ts_status st;
    while ((st = ts_mix_reader_next(r, &it, &err)) == TS_OK) {
        ts_mix_item_at(&p, n++, &want);
        mismatch += memcmp(&it, &want, sizeof it) != 0;
    }
    CHECK_EQ(st, TS_ENOTFOUND);
    CHECK(n == p.total);
    CHECK_EQ(mismatch, 0);
    ts_mix_reader_close(r);
    ts_buf_free(&a);
    ts_buf_free(&b);
    ts_mix_plan_free(&p);
}

/* Writes the bytes of `b` (len of them) to `path`, then opens it as a plan file. */
static ts_status open_bytes(const char *path, const ts_buf *b, size_t len, ts_mix_reader **r, ts_error *err) {
    *r = NULL;
    CHECK_OK(ts_write_file_atomic(path, b->data, len, 0, err), err);
    return ts_mix_reader_open(path, r, err);
}

/* Opens the bytes of `b` as a plan file and reads it to the end: the status
 * that ended it (TS_ENOTFOUND at a clean end). */
static ts_status read_bytes(const char *path, const ts_buf *b, ts_error *err) {
    ts_mix_reader *r;
    ts_mix_item it;
    ts_status st = open_bytes(path, b, b->len, &r, err);
    CHECK_OK(st, err);
    while (r && (st = ts_mix_reader_next(r, &it, err)) == TS_OK) {}
    ts_mix_reader_close(r);
    return st;
}

static void test_plan_file_corruption(void) {
    ts_error err;
    ts_mix_plan p;
    make_plan(&p, 6);
    const char *path = tmp_path("c.tsmix"), *bad = tmp_path("bad.tsmix");
    CHECK_OK(ts_mix_plan_write(&p, path, 2, &err), &err);
    ts_buf b = TS_BUF_INIT;
    CHECK(read_all(path, &b));
    /* A changed record number (still in range): the checksum catches it. */
    size_t at = 64 + 3 * 96 + 16 * 1000 + 8;
    b.data[at] ^= 1;
    CHECK_EQ(read_bytes(bad, &b, &err), TS_ECHECKSUM);
    b.data[at] ^= 1;
    /* An out-of-range source id fails at that entry. */
    b.data[64 + 3 * 96 + 16 * 7] = 9;
    CHECK_EQ(read_bytes(bad, &b, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "entry 7") != NULL);
    b.data[64 + 3 * 96 + 16 * 7] = 0;
    /* Truncated, bad magic, wrong epochs in the table: refused at open. */
    ts_mix_reader *r = NULL;
    CHECK(open_bytes(bad, &b, b.len - 1, &r, &err) == TS_EFORMAT);
    b.data[0] = 'X';
    CHECK(open_bytes(bad, &b, b.len, &r, &err) == TS_EFORMAT);
    b.data[0] = 'T';
    b.data[64 + 96 + 88] ^= 4;
    CHECK(open_bytes(bad, &b, b.len, &r, &err) == TS_EFORMAT);
    CHECK(ts_mix_reader_open(tmp_path("absent.tsmix"), &r, &err) == TS_EIO);
    ts_buf_free(&b);
    ts_mix_plan_free(&p);
}

static void test_plan_file_empty(void) {
    ts_error err;
    ts_mix_plan p;
    ts_mix_want w[] = {{"a", TS_MIX_SAMPLES, 0, 0, 0, 10, 0}};
    CHECK_OK(ts_mix_plan_make(w, 1, TS_MIX_NONE, 0, 1, &p, &err), &err);
    const char *path = tmp_path("empty.tsmix");
    CHECK_OK(ts_mix_plan_write(&p, path, 0, &err), &err);
    ts_mix_reader *r = NULL;
    ts_mix_item it;
    CHECK_OK(ts_mix_reader_open(path, &r, &err), &err);
    if (r) CHECK_EQ(ts_mix_reader_next(r, &it, &err), TS_ENOTFOUND);
    ts_mix_reader_close(r);
    ts_mix_plan_free(&p);
}

static const char *good_recipe =
    "{\"name\": \"t\", \"stage\": \"sft\", \"seed\": 3, \"target\": {\"samples\": 1000},\n"
    " \"output\": {\"max_len\": 3200, \"layout\": \"D\", \"form\": \"megatron\", \"tokenizer\": \"qwen2\"},\n"
    " \"sources\": [\n"
    "  {\"name\": \"a\", \"manifest\": \"src/a.json\", \"weight\": 0.75, \"subflavors\": {\"VQASFT\": true}},\n"
    "  {\"name\": \"b\", \"manifest\": \"src/b.json\", \"weight\": 0.25, \"max_epochs\": 2, \"split\": \"val\","
    " \"energon\": \"sets/b\"},\n"
    "  {\"name\": \"c\", \"manifest\": \"src/c.json\", \"samples\": 100, \"note\": \"all of it\"}]}\n";

/* good_recipe, written to the scratch folder and loaded (NULL on failure). */
static ts_recipe *load_good_recipe(void) {
    ts_error err;
    const char *path = tmp_path("good.json");
    write_text(path, good_recipe);
    ts_recipe *r = NULL;
    CHECK_OK(ts_recipe_load(path, &r, &err), &err);
    return r;
}

static void test_recipe_load(void) {
    ts_error err;
    ts_recipe *r = load_good_recipe();
    if (!r) return;
    CHECK_STR(r->name, "t");
    CHECK_STR(r->stage, "sft");
    CHECK(r->seed == 3 && r->max_len == 3200 && r->layout == 'D' && r->target == 1000);
    CHECK_STR(r->form, "megatron");
    CHECK_EQ(r->n_sources, 3);
    CHECK_EQ(r->sources[0].weight_units, 750000000);
    CHECK_EQ(r->sources[1].max_epochs, 2);
    CHECK_STR(r->sources[1].split, "val");
    CHECK_STR(r->sources[0].split, "train");
    CHECK_STR(r->sources[1].energon, "sets/b");
    CHECK_STR(r->sources[0].energon, "a");
    CHECK(r->sources[2].amount == TS_MIX_SAMPLES && r->sources[2].target == 100);
    char want[600];
    snprintf(want, sizeof want, "%s/src/a.json", harness_tmpdir());
    CHECK_STR(r->sources[0].manifest_path, want);
    /* The hash ignores key order and whitespace. */
    const char *p2 = tmp_path("good2.json");
    write_text(p2, "{\"sources\":[{\"weight\":0.75,\"manifest\":\"src/a.json\",\"name\":\"a\",\"subflavors\":{\"VQASFT\":true}},"
                   "{\"name\":\"b\",\"manifest\":\"src/b.json\",\"weight\":0.25,\"max_epochs\":2,\"split\":\"val\","
                   "\"energon\":\"sets/b\"},{\"name\":\"c\",\"manifest\":\"src/c.json\",\"samples\":100,\"note\":\"all of it\"}],"
                   "\"target\":{\"samples\":1000},\"seed\":3,\"stage\":\"sft\",\"name\":\"t\",\"output\":{\"tokenizer\":"
                   "\"qwen2\",\"form\":\"megatron\",\"layout\":\"D\",\"max_len\":3200}}");
    ts_recipe *r2 = NULL;
    CHECK_OK(ts_recipe_load(p2, &r2, &err), &err);
    if (r2) CHECK(ts_hash128_equal(r->hash, r2->hash));
    ts_recipe_free(r2);
    write_text(p2, "{\"name\":\"t\",\"stage\":\"sft\",\"seed\":4,\"target\":{\"samples\":1000},\"sources\":[{\"name\":\"a\","
                   "\"manifest\":\"a.json\",\"weight\":1}]}");
    CHECK_OK(ts_recipe_load(p2, &r2, &err), &err);
    if (r2) CHECK(!ts_hash128_equal(r->hash, r2->hash));
    ts_recipe_free(r2);
    ts_recipe_free(r);
}

/* Each broken recipe fails with the file and the JSON path in the message. */
static void test_recipe_errors(void) {
    static const struct { const char *doc, *expect; } cases[] = {
        {"[1]", "$: a recipe is a JSON object"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[],\"extra\":1}", "$: unknown key \"extra\""},
        {"{\"name\":\"t t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[]}", "$.name: must match"},
        {"{\"name\":\"t\",\"stage\":\"mid\",\"seed\":1,\"sources\":[]}", "$.stage: must be"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":-1,\"sources\":[]}", "$.seed: must be a whole number"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1.5,\"sources\":[]}", "$.seed: must be a whole number"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[]}", "$.sources: must be a non-empty array"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"output\":{\"layout\":\"Q\"},\"sources\":[1]}",
         "$.output.layout: must be"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"output\":{\"form\":\"x\"},\"sources\":[1]}", "$.output.form"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"output\":{\"max_len\":0},\"sources\":[1]}", "$.output.max_len"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"target\":{\"samples\":5},\"sources\":[1]}",
         "$.sources[0]: must be an object"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"target\":{\"samples\":5},\"sources\":[{\"name\":\"a\","
         "\"manifest\":\"a.json\",\"weight\":0}]}",
         "$.sources[0].weight: must be a number > 0"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"target\":{\"samples\":5},\"sources\":[{\"name\":\"a\","
         "\"manifest\":\"a.json\",\"weight\":1,\"samples\":3}]}",
         "$.sources[0]: give only one of"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"a.json\"}]}",
         "$.sources[0]: needs one of weight"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"/abs.json\","
         "\"samples\":3}]}",
         "$.sources[0].manifest: must be a relative path"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"a.json\","
         "\"samples\":3,\"max_epochs\":0}]}",
         "$.sources[0].max_epochs: must be a whole number in [1"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"a.json\","
         "\"samples\":3},{\"name\":\"a\",\"manifest\":\"b.json\",\"samples\":3}]}",
         "$.sources[1].name: \"a\" is already $.sources[0]"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"a.json\","
         "\"weight\":3}]}",
         "$.target: required when a source has a weight"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"target\":{\"samples\":3},\"sources\":[{\"name\":\"a\","
         "\"manifest\":\"a.json\",\"samples\":3}]}",
         "$.target: only meaningful"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"target\":{\"weight\":3},\"sources\":[{\"name\":\"a\","
         "\"manifest\":\"a.json\",\"weight\":3}]}",
         "$.target: unknown key \"weight\""},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"a.json\","
         "\"samples\":3,\"subflavors\":[1]}]}",
         "$.sources[0]: subflavors must be an object"},
        {"{\"name\":\"t\",\"stage\":\"sft\",\"seed\":1,\"sources\":[{\"name\":\"a\",\"manifest\":\"a.json\","
         "\"samples\":3,\"color\":1}]}",
         "$.sources[0]: unknown key \"color\""},
        {"{\"name\":\"t\",\"stage\":", "invalid JSON"},
    };
    const char *path = tmp_path("bad_recipe.json");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_text(path, cases[i].doc);
        ts_error err;
        ts_error_clear(&err);
        ts_recipe *r = NULL;
        ts_status st = ts_recipe_load(path, &r, &err);
        CHECK(st != TS_OK && r == NULL);
        if (!strstr(err.msg, cases[i].expect) || !strstr(err.msg, "bad_recipe.json")) {
            fprintf(stderr, "  case %zu: got \"%s\", want \"%s\"\n", i, err.msg, cases[i].expect);
            CHECK(0);
        }
    }
}

static void test_counts_and_check(void) {
    ts_error err;
    ts_recipe *r = load_good_recipe();
    if (!r) return;
    ts_mix_count c[3];
    const char *cp = tmp_path("counts.json");
    write_text(cp, "{\"a\": 100, \"b\": {\"samples\": 40, \"tokens\": 4000}, \"c\": {\"samples\": 100}, \"zzz\": 1}");
    CHECK_OK(ts_mix_counts_load(cp, r, c, &err), &err);
    CHECK(c[0].samples == 100 && c[0].tokens == 0 && c[1].tokens == 4000 && c[2].samples == 100);
    ts_mix_plan p;
    CHECK_OK(ts_recipe_plan(r, c, 0, 0, &p, &err), &err);
    CHECK(p.seed == 3 && ts_hash128_equal(p.recipe_hash, r->hash));
    CHECK(p.src[0].target == 820 && p.src[1].target == 80 && p.src[1].capped && p.src[2].target == 100);
    ts_mix_plan_free(&p);
    CHECK_OK(ts_recipe_plan(r, c, 1, 99, &p, &err), &err);
    CHECK(p.seed == 99);
    ts_mix_plan_free(&p);
    write_text(cp, "{\"a\": 100, \"b\": {\"samples\": 40, \"tokens\": -1}, \"c\": 1}");
    CHECK(ts_mix_counts_load(cp, r, c, &err) == TS_EINVAL);
    CHECK(strstr(err.msg, "$.b.tokens") != NULL);
    write_text(cp, "{\"a\": 100, \"c\": 1}");
    CHECK(ts_mix_counts_load(cp, r, c, &err) == TS_EINVAL);
    CHECK(strstr(err.msg, "no count for source b") != NULL);
    /* Manifests: a missing, b present, c names another source. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/src", harness_tmpdir());
    CHECK_OK(ts_mkdirs(dir, &err), &err);
    write_text(r->sources[1].manifest_path, "{\"name\": \"b\"}");
    write_text(r->sources[2].manifest_path, "{\"name\": \"other\"}");
    CHECK_EQ(ts_recipe_check_manifest(&r->sources[0], &err), TS_ENOTFOUND);
    CHECK_OK(ts_recipe_check_manifest(&r->sources[1], &err), &err);
    CHECK_EQ(ts_recipe_check_manifest(&r->sources[2], &err), TS_EFORMAT);
    ts_recipe_free(r);
}

static void test_metadataset_export(void) {
    ts_error err;
    ts_recipe *r = load_good_recipe();
    if (!r) return;
    const char *yaml = tmp_path("blend.yaml");
    /* Without counts every source needs a weight. */
    CHECK(ts_recipe_metadataset_write(r, NULL, "", yaml, &err) == TS_EINVAL);
    CHECK(strstr(err.msg, "source c") != NULL);
    ts_mix_count c[3] = {{100, 0}, {40, 0}, {100, 0}};
    ts_mix_plan p;
    CHECK_OK(ts_recipe_plan(r, c, 0, 0, &p, &err), &err);
    CHECK_OK(ts_recipe_metadataset_write(r, &p, "../data", yaml, &err), &err);
    ts_buf b = TS_BUF_INIT;
    CHECK(read_all(yaml, &b));
    CHECK_OK(ts_buf_append(&b, "", 1, &err), &err);
    const char *want =
        "__module__: megatron.energon\n__class__: Metadataset\nsplits:\n  train:\n    datasets:\n"
        "      - weight: 0.82\n        path: \"../data/a\"\n        subflavors: {\"VQASFT\":true,\"augmentation\":false}\n"
        "      - weight: 0.08\n        path: \"../data/sets/b\"\n        subflavors: {\"augmentation\":false}\n"
        "        split_part: \"val\"\n"
        "      - weight: 0.1\n        path: \"../data/c\"\n        subflavors: {\"augmentation\":false}\n";
    CHECK_STR((const char *)b.data, want);
    ts_buf_free(&b);
    ts_mix_plan_free(&p);
    ts_recipe_free(r);
}

int main(void) {
    RUN(test_plan_file_round_trip);
    RUN(test_plan_file_corruption);
    RUN(test_plan_file_empty);
    RUN(test_recipe_load);
    RUN(test_recipe_errors);
    RUN(test_counts_and_check);
    RUN(test_metadataset_export);
    return harness_report();
}
