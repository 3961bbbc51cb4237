/* Stage keys, output listings and stamps (pipeline/stage_stamp.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "core/json.h"
#include "tests/harness.h"
#include "pipeline/stage_stamp.h"

static char root[512];

static void put(const char *rel, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    ts_error err;
    CHECK_OK(ts_write_file_atomic(p, text, strlen(text), 0, &err), &err);
}

static void make_key(ts_stage_key *k, const char *stage, uint64_t seed, const char *input_hash) {
    ts_error err;
    CHECK_OK(ts_stage_key_init(k, stage, &err), &err);
    CHECK_OK(ts_stage_key_add_u64(k, "seed", seed, &err), &err);
    CHECK_OK(ts_stage_key_add(k, "input", input_hash, &err), &err);
}

static void test_key_is_canonical(void) {
    ts_stage_key a, b, c;
    make_key(&a, "pack", 7, "abc");
    make_key(&b, "pack", 7, "abc");
    make_key(&c, "pack", 8, "abc");
    CHECK(ts_hash128_equal(ts_stage_key_digest(&a), ts_stage_key_digest(&b)));
    CHECK(!ts_hash128_equal(ts_stage_key_digest(&a), ts_stage_key_digest(&c)));
    /* Same values under another stage name: another key. */
    ts_stage_key d;
    make_key(&d, "mix", 7, "abc");
    CHECK(!ts_hash128_equal(ts_stage_key_digest(&a), ts_stage_key_digest(&d)));
    ts_error err;
    CHECK(ts_stage_key_add(&a, "Bad Name", "x", &err) == TS_EINVAL);
    CHECK(ts_stage_key_add(&a, "ok", "two\nlines", &err) == TS_EINVAL);
    CHECK(strstr((const char *)a.text.data, "version=") != NULL);
    ts_stage_key_free(&a);
    ts_stage_key_free(&b);
    ts_stage_key_free(&c);
    ts_stage_key_free(&d);
}

static int skip_log(const char *rel) {
    size_t n = strlen(rel);
    return n > 4 && strcmp(rel + n - 4, ".log") == 0;
}

static void test_tree_listing(void) {
    ts_error err;
    char d[1024];
    snprintf(d, sizeof d, "%s/out/sub", root);
    CHECK_OK(ts_mkdirs(d, &err), &err);
    put("out/b.bin", "bbbb");
    put("out/a.bin", "aa");
    put("out/sub/c.txt", "c");
    put("out/a.bin.tmp-1234", "partial"); /* a writer's temporary: never listed */
    put("out/skip.log", "x");
    ts_stage_outputs o = {0};
    CHECK_OK(ts_stage_outputs_add_tree(&o, root, "out", skip_log, &err), &err);
    CHECK_EQ(o.n, 3);
    if (o.n == 3) {
        CHECK_STR(o.v[0].path, "out/a.bin");
        CHECK_EQ(o.v[0].bytes, 2);
        CHECK_EQ(o.v[0].xxh3, ts_xxh3_64("aa", 2));
        CHECK_STR(o.v[1].path, "out/b.bin");
        CHECK_STR(o.v[2].path, "out/sub/c.txt");
    }
    ts_hash128 h1 = ts_stage_outputs_digest(&o);
    ts_stage_outputs_free(&o);
    put("out/sub/c.txt", "C");
    CHECK_OK(ts_stage_outputs_add_tree(&o, root, "out", skip_log, &err), &err);
    CHECK(!ts_hash128_equal(h1, ts_stage_outputs_digest(&o)));
    ts_stage_outputs_free(&o);
    CHECK(ts_stage_outputs_add_tree(&o, root, "absent", NULL, &err) == TS_ENOTFOUND);
    ts_stage_outputs_free(&o);
}

static void test_stamp_round_trip(void) {
    ts_error err;
    put("x.out", "hello");
    ts_stage_key k;
    make_key(&k, "demo", 1, "in1");
    int resumable = -1;
    CHECK_OK(ts_stamp_begin(root, "demo", &k, &resumable, &err), &err);
    CHECK_EQ(resumable, 0);
    /* Killed before the stamp: the same key may resume, another may not. */
    CHECK_OK(ts_stamp_begin(root, "demo", &k, &resumable, &err), &err);
    CHECK_EQ(resumable, 1);
    ts_stamp_check c;
    CHECK_OK(ts_stamp_verify(root, "demo", &k, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_EQ(c.valid, 0);
    CHECK_STR(c.why, "no stamp");
    ts_stamp_check_free(&c);

    ts_stage_outputs o = {0};
    CHECK_OK(ts_stage_outputs_add_file(&o, root, "x.out", &err), &err);
    cJSON *info = cJSON_CreateObject();
    cJSON_AddNumberToObject(info, "records", 42);
    CHECK_OK(ts_stamp_write(root, "demo", &k, &o, 1.5, info, &err), &err);
    cJSON_Delete(info);
    ts_stage_outputs_free(&o);
    char started[1024];
    snprintf(started, sizeof started, "%s/.stamps/demo.started", root);
    CHECK(access(started, F_OK) != 0);

    CHECK_OK(ts_stamp_verify(root, "demo", &k, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_EQ(c.valid, 1);
    CHECK_EQ(c.outputs.n, 1);
    CHECK_EQ(ts_json_int(c.info, "records", 0), 42);
    CHECK(c.seconds == 1.5);
    ts_stamp_check_free(&c);

    /* A parameter changes: invalid, and the reason names it. */
    ts_stage_key k2;
    make_key(&k2, "demo", 2, "in1");
    CHECK_OK(ts_stamp_verify(root, "demo", &k2, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_EQ(c.valid, 0);
    CHECK(strstr(c.why, "seed=2 (was 1)") != NULL);
    ts_stamp_check_free(&c);
    CHECK_OK(ts_stamp_begin(root, "demo", &k2, &resumable, &err), &err);
    CHECK_EQ(resumable, 0);

    /* An output changes (same size) or disappears: invalid. */
    put("x.out", "jello");
    CHECK_OK(ts_stamp_verify(root, "demo", &k, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_EQ(c.valid, 0);
    CHECK(strstr(c.why, "output changed: x.out") != NULL);
    ts_stamp_check_free(&c);
    char p[1024];
    snprintf(p, sizeof p, "%s/x.out", root);
    unlink(p);
    CHECK_OK(ts_stamp_verify(root, "demo", &k, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_EQ(c.valid, 0);
    CHECK(strstr(c.why, "output missing: x.out") != NULL);
    ts_stamp_check_free(&c);

    /* A damaged stamp is just invalid. */
    put(".stamps/demo.json", "{not json");
    CHECK_OK(ts_stamp_verify(root, "demo", &k, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_EQ(c.valid, 0);
    CHECK(strncmp(c.why, "unreadable stamp", 16) == 0);
    ts_stamp_check_free(&c);
    ts_stamp_remove(root, "demo");
    CHECK_OK(ts_stamp_verify(root, "demo", &k, TS_STAMP_TRUST_STAT, &c, &err), &err);
    CHECK_STR(c.why, "no stamp");
    ts_stamp_check_free(&c);
    CHECK(ts_stamp_verify(root, "../evil", &k, TS_STAMP_TRUST_STAT, &c, &err) == TS_EINVAL);
    ts_stamp_check_free(&c);
    ts_stage_key_free(&k);
    ts_stage_key_free(&k2);
}

/* Overwrite ROOT/rel in place (same inode); with keep_mtime, put its mtime back. */
static void overwrite(const char *rel, const char *text, int keep_mtime) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    struct stat sb;
    CHECK_EQ(stat(p, &sb), 0);
    FILE *f = fopen(p, "r+");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
    if (keep_mtime) {
        struct timespec t[2] = {sb.st_atim, sb.st_mtim};
        CHECK_EQ(utimensat(AT_FDCWD, p, t, 0), 0);
    }
}

static void verify(const ts_stage_key *k, ts_stamp_mode mode, ts_stamp_check *c) {
    ts_error err;
    CHECK_OK(ts_stamp_verify(root, "ident", k, mode, c, &err), &err);
}

/* Size, mtime, inode and device decide whether an output is read again. */
static void test_identity_trust(void) {
    ts_error err;
    put("y.out", "hello");
    put("z.out", "world!");
    ts_stage_key k;
    make_key(&k, "ident", 1, "in");
    ts_stage_outputs o = {0};
    CHECK_OK(ts_stage_outputs_add_file(&o, root, "y.out", &err), &err);
    CHECK_OK(ts_stage_outputs_add_file(&o, root, "z.out", &err), &err);
    /* Written just now: measuring waits out the clock tick, so both keep an identity. */
    CHECK(o.n == 2 && o.v[0].has_stat && o.v[1].has_stat);
    CHECK_OK(ts_stamp_write(root, "ident", &k, &o, 0, NULL, &err), &err);
    ts_stage_outputs_free(&o);

    ts_stamp_check c;
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 2 && c.rehashed == 0 && c.rehashed_bytes == 0);
    ts_stamp_check_free(&c);
    verify(&k, TS_STAMP_REHASH, &c);
    CHECK(c.valid && c.trusted == 0 && c.rehashed == 2 && c.rehashed_bytes == 11);
    ts_stamp_check_free(&c);

    /* Same size, mtime put back: trusted by default, caught by a re-hash. */
    overwrite("y.out", "jello", 1);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 2);
    ts_stamp_check_free(&c);
    verify(&k, TS_STAMP_REHASH, &c);
    CHECK(!c.valid && strstr(c.why, "output changed: y.out") != NULL);
    ts_stamp_check_free(&c);

    /* Back to its content, with a new mtime: re-hashed, still valid, and the
     * stamp takes the new identity, so the next check reads nothing. */
    overwrite("y.out", "hello", 0);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 1 && c.rehashed == 1);
    ts_stamp_check_free(&c);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 2 && c.rehashed == 0);
    ts_stamp_check_free(&c);

    /* A new mtime and new content of the same size: caught without --verify. */
    overwrite("z.out", "WORLD!", 0);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(!c.valid && strstr(c.why, "output changed: z.out") != NULL);
    ts_stamp_check_free(&c);
    overwrite("z.out", "world!", 0);

    /* A stamp written before identities were kept: read, its outputs
     * re-hashed once, then trusted. */
    char p[1024];
    snprintf(p, sizeof p, "%s/.stamps/ident.json", root);
    cJSON *doc = NULL;
    CHECK_OK(ts_json_load_file(p, 1 << 20, &doc, &err), &err);
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "outputs")) {
        cJSON_DeleteItemFromObjectCaseSensitive(e, "mtime_ns");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "inode");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "device");
    }
    char *text = cJSON_Print(doc);
    CHECK_OK(ts_write_file_atomic(p, text, strlen(text), 0, &err), &err);
    free(text);
    cJSON_Delete(doc);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 0 && c.rehashed == 2);
    ts_stamp_check_free(&c);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 2 && c.rehashed == 0);
    ts_stamp_check_free(&c);

    /* A malformed identity is only a reason to re-hash. */
    CHECK_OK(ts_json_load_file(p, 1 << 20, &doc, &err), &err);
    e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "outputs"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(e, "inode", cJSON_CreateString("-3"));
    text = cJSON_Print(doc);
    CHECK_OK(ts_write_file_atomic(p, text, strlen(text), 0, &err), &err);
    free(text);
    cJSON_Delete(doc);
    verify(&k, TS_STAMP_TRUST_STAT, &c);
    CHECK(c.valid && c.trusted == 1 && c.rehashed == 1);
    ts_stamp_check_free(&c);
    ts_stage_key_free(&k);
}

static void test_remove_tree(void) {
    ts_error err;
    char d[1024];
    snprintf(d, sizeof d, "%s/gone/a/b", root);
    CHECK_OK(ts_mkdirs(d, &err), &err);
    put("gone/a/b/f", "x");
    snprintf(d, sizeof d, "%s/gone", root);
    CHECK_OK(ts_remove_tree(d, &err), &err);
    CHECK(access(d, F_OK) != 0);
    CHECK_OK(ts_remove_tree(d, &err), &err); /* missing is fine */
    CHECK(ts_remove_tree("/", &err) == TS_EINVAL);
    CHECK(ts_remove_tree("a/../b", &err) == TS_EINVAL);
}

int main(void) {
    snprintf(root, sizeof root, "%s/stage_stamp_%d", harness_tmpdir(), (int)getpid());
    ts_error err;
    if (ts_mkdirs(root, &err)) return 1;
    RUN(test_key_is_canonical);
    RUN(test_tree_listing);
    RUN(test_stamp_round_trip);
    RUN(test_identity_trust);
    RUN(test_remove_tree);
    ts_remove_tree(root, &err);
    return harness_report();
}
