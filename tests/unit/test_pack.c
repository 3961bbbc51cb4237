/* Packed shards: bin choice, format round trip, corruption, edge cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../harness.h"
#include "core/io.h"
#include "shards/pack.h"
#include "tokenize/tokfile.h"


static void tmp_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", harness_tmpdir(), name); }

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* ids 1000*src + t; mask 0 for the first 3 tokens; optionally a Megatron D
 * image of `tiles` tiles whose IMG token sits at img_at. */
static void add_sample(ts_tokfile_writer *w, uint64_t src, uint32_t n_ids, int img_at, int tiles) {
    ts_chat_result r = {0};
    ts_error err = {0};
    ts_chat_slot slot;
    for (uint32_t t = 0; t < n_ids; t++) ts_ids_push(&r.ids, (int32_t)(1000 * src + t), &err);
    r.mask = calloc(n_ids ? n_ids : 1, 1);
    for (uint32_t t = 3; t < n_ids; t++) r.mask[t] = 1;
    r.length = n_ids;
    if (img_at >= 0) {
        memset(&slot, 0, sizeof slot);
        slot.tiles = tiles;
        slot.cap = 6;
        slot.token_pos = img_at;
        for (int k = 0; k < 7; k++) slot.tag_pos[k] = slot.feat_pos[k] = -1;
        for (int k = 0; k < tiles; k++) slot.inline_tile[k] = 1;
        slot.has_hash = 1;
        slot.content_hash = (ts_hash128){src, ~src};
        r.mask[img_at] = 0;
        r.images = &slot;
        r.n_images = 1;
        r.length += tiles * 261 - 1;
    }
    CHECK_OK(ts_tokfile_add(w, src, &r, &err), &err);
    r.images = NULL;
    ts_chat_result_free(&r);
}

static uint32_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static void test_binpack(void) {
    enum { N = 3000, CAP = 1000, WIN = 50 };
    static uint32_t len[N], seen[N], slots[WIN], ends[WIN];
    uint64_t seed = 1;
    for (int i = 0; i < N; i++) len[i] = 1 + lcg(&seed) % (lcg(&seed) % 2 ? 100 : CAP);
    ts_binpack *b = NULL;
    ts_error err = {0};
    CHECK_OK(ts_binpack_new(CAP, WIN, &b, &err), &err);
    if (!b) return;
    uint32_t slot_item[WIN], free_slots[WIN], n_free = WIN, bins = 0, over = 0, empty = 0, rounds_without = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < WIN; i++) free_slots[i] = i;
    for (int i = 0; i <= N; i++) {
        if (i == N || ts_binpack_count(b) == WIN) {
            uint32_t k = ts_binpack_round(b, 0.999, i == N, slots, ends);
            rounds_without += k == 0;
            for (uint32_t m = 0, start = 0; m < k; start = ends[m++]) {
                uint32_t sum = 0;
                empty += ends[m] == start;
                for (uint32_t j = start; j < ends[m]; j++) {
                    sum += len[slot_item[slots[j]]];
                    seen[slot_item[slots[j]]]++;
                    free_slots[n_free++] = slots[j];
                }
                over += sum > CAP;
                total += sum;
                bins++;
            }
        }
        if (i < N) {
            uint32_t s = free_slots[--n_free];
            slot_item[s] = (uint32_t)i;
            ts_binpack_add(b, s, len[i]);
        }
    }
    CHECK_EQ(ts_binpack_count(b), 0);
    ts_binpack_free(b);
    int once = 1;
    for (int i = 0; i < N; i++) once &= seen[i] == 1;
    CHECK(once);
    CHECK_EQ(over, 0);
    CHECK_EQ(empty, 0);
    CHECK_EQ(rounds_without, 0);
    uint64_t bins2, total2, over2;
    CHECK_OK(ts_binpack_lengths(len, N, CAP, WIN, 0.999, &bins2, &total2, &over2, &err), &err);
    CHECK_EQ(bins2, bins);
    CHECK_EQ(total2, total);
    CHECK_EQ(over2, 0);
    CHECK((double)total / ((double)bins * CAP) > 0.99);
}

static ts_status pack1(const char *in, const char *out, uint32_t max_len, uint32_t window, ts_pack_overlong ol,
                       ts_pack_stats *st, ts_error *err) {
    ts_pack_options o;
    ts_pack_options_default(&o);
    o.max_len = max_len;
    o.window = window;
    o.seqs_per_block = 3;
    o.overlong = ol;
    o.recipe_hash = 0x5ec1be;
    return ts_pack_files(&in, 1, out, &o, st, err);
}

static void make_tokfile(const char *path, int n) {
    ts_error err = {0};
    ts_tokfile_writer *w = NULL;
    CHECK_OK(ts_tokfile_create(path, 42, &w, &err), &err);
    if (!w) return;
    uint64_t seed = 9;
    for (int i = 0; i < n; i++) {
        uint32_t len = 5 + lcg(&seed) % 40;
        int img = i % 3 == 0 ? (int)(len / 2) : -1;
        add_sample(w, (uint64_t)i, len, img, 1);
    }
    CHECK_OK(ts_tokfile_finish(w, &err), &err);
}

static void test_roundtrip(void) {
    char tok[512], out[512];
    tmp_path(tok, sizeof tok, "pack_rt.tstok");
    tmp_path(out, sizeof out, "pack_rt.tspack");
    make_tokfile(tok, 60);
    ts_pack_stats st;
    ts_error err = {0};
    CHECK_OK(pack1(tok, out, 700, 8, TS_PACK_TRUNCATE, &st, &err), &err);
    CHECK_EQ(st.samples_packed, 60);
    ts_pack_reader *r = NULL;
    CHECK_OK(ts_pack_open(out, &r, &err), &err);
    if (!r) return;
    CHECK_EQ(ts_pack_count(r), st.sequences);
    CHECK_EQ(ts_pack_info(r)->tokenizer_hash, 42);
    CHECK_EQ(ts_pack_info(r)->recipe_hash, 0x5ec1be);
    CHECK_EQ(ts_pack_info(r)->max_len, 700);
    CHECK_OK(ts_pack_verify(r, &err), &err);
    ts_pack_seq s = {0};
    int seen[60] = {0}, ok = 1;
    for (uint64_t i = 0; i < ts_pack_count(r); i++) {
        CHECK_OK(ts_pack_get(r, i, &s, &err), &err);
        for (uint32_t k = 0; k < s.n_subs; k++) {
            uint64_t src = s.subs[k].source_record;
            if (src >= 60) {
                ok = 0;
                continue;
            }
            seen[src]++;
            uint32_t a = s.cu_tokens[k], b = s.cu_tokens[k + 1], pos = 0;
            for (uint32_t t = a; t < b; t++) {
                ok &= s.ids[t] == 1000 * src + (t - a);
                ok &= s.positions[t] == (int32_t)pos;
                pos += 1;
                for (uint32_t m = 0; m < s.n_images; m++)
                    if (s.images[m].token_pos == t) pos += 260;
                int32_t want = t + 1 < b && (t + 1 - a) >= 3 && !(src % 3 == 0 && t + 1 - a == (b - a) / 2)
                                   ? (int32_t)(1000 * src + t + 1 - a)
                                   : TS_PACK_IGNORE;
                ok &= s.labels[t] == want;
            }
            ok &= s.cu_seqlens[k + 1] - s.cu_seqlens[k] == (int32_t)pos;
        }
        for (uint32_t m = 0; m < s.n_images; m++) {
            const ts_pack_image *im = &s.images[m];
            uint64_t src = s.subs[im->sub].source_record;
            ok &= im->tiles == 1 && im->layout == 0 && im->form == 0 && (im->flags & TS_PACK_IMG_HASH) &&
                  im->content_hash.hi == src && im->tile_shard == -1;
        }
    }
    CHECK(ok);
    int once = 1;
    for (int i = 0; i < 60; i++) once &= seen[i] == 1;
    CHECK(once);
    CHECK_EQ(ts_pack_get(r, ts_pack_count(r), &s, &err), TS_ENOTFOUND);
    ts_pack_seq_free(&s);
    ts_pack_close(r);
    /* same input and options: the same bytes */
    char out2[512];
    tmp_path(out2, sizeof out2, "pack_rt2.tspack");
    CHECK_OK(pack1(tok, out2, 700, 8, TS_PACK_TRUNCATE, &st, &err), &err);
    ts_buf a = TS_BUF_INIT, b = TS_BUF_INIT;
    CHECK_OK(ts_read_file(out, 1 << 26, &a, &err), &err);
    CHECK_OK(ts_read_file(out2, 1 << 26, &b, &err), &err);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    ts_buf_free(&a);
    ts_buf_free(&b);
}

/* Every flipped byte and every truncation of a shard is caught on open or verify. */
static void test_corruption(void) {
    char tok[512], out[512], bad[512];
    tmp_path(tok, sizeof tok, "pack_c.tstok");
    tmp_path(out, sizeof out, "pack_c.tspack");
    tmp_path(bad, sizeof bad, "pack_c_bad.tspack");
    make_tokfile(tok, 12);
    ts_pack_stats st;
    ts_error err = {0};
    CHECK_OK(pack1(tok, out, 300, 4, TS_PACK_TRUNCATE, &st, &err), &err);
    ts_buf f = TS_BUF_INIT;
    CHECK_OK(ts_read_file(out, 1 << 26, &f, &err), &err);
    size_t undetected = 0, crashed_open = 0;
    for (size_t i = 0; i < f.len; i++) {
        f.data[i] ^= 0x20;
        ts_status s = ts_write_file_atomic(bad, f.data, f.len, 0, &err);
        f.data[i] ^= 0x20;
        if (s) {
            crashed_open++;
            continue;
        }
        ts_pack_reader *r = NULL;
        s = ts_pack_open(bad, &r, &err);
        if (!s) s = ts_pack_verify(r, &err);
        ts_pack_close(r);
        if (!s) {
            if (!undetected) fprintf(stderr, "  flip at %zu of %zu not detected\n", i, f.len);
            undetected++;
        }
    }
    CHECK_EQ(undetected, 0);
    CHECK_EQ(crashed_open, 0);
    size_t trunc_ok = 0;
    for (size_t n = 0; n < f.len; n++) {
        CHECK_OK(ts_write_file_atomic(bad, f.data, n, 0, &err), &err);
        ts_pack_reader *r = NULL;
        ts_status s = ts_pack_open(bad, &r, &err);
        if (!s) s = ts_pack_verify(r, &err);
        ts_pack_close(r);
        trunc_ok += s == TS_OK;
    }
    CHECK_EQ(trunc_ok, 0);
    ts_buf_free(&f);
    /* a corrupt tokfile fails the packer, and no output appears */
    ts_buf t = TS_BUF_INIT;
    CHECK_OK(ts_read_file(tok, 1 << 26, &t, &err), &err);
    t.data[t.len / 2] ^= 1;
    CHECK_OK(ts_write_file_atomic(tok, t.data, t.len, 0, &err), &err);
    ts_buf_free(&t);
    char out3[512];
    tmp_path(out3, sizeof out3, "pack_c3.tspack");
    CHECK(pack1(tok, out3, 300, 4, TS_PACK_TRUNCATE, &st, &err) != TS_OK);
    CHECK(!exists(out3));
}

static void test_edges(void) {
    char tok[512], out[512];
    tmp_path(tok, sizeof tok, "pack_e.tstok");
    tmp_path(out, sizeof out, "pack_e.tspack");
    ts_error err = {0};
    ts_pack_stats st;
    ts_tokfile_writer *w = NULL;
    /* empty input: a valid shard with no sequences */
    CHECK_OK(ts_tokfile_create(tok, 0, &w, &err), &err);
    CHECK_OK(ts_tokfile_finish(w, &err), &err);
    CHECK_OK(pack1(tok, out, 64, 4, TS_PACK_TRUNCATE, &st, &err), &err);
    ts_pack_reader *r = NULL;
    ts_pack_seq s = {0};
    CHECK_OK(ts_pack_open(out, &r, &err), &err);
    if (r) CHECK_EQ(ts_pack_count(r), 0);
    if (r) CHECK_EQ(ts_pack_get(r, 0, &s, &err), TS_ENOTFOUND);
    ts_pack_close(r);
    /* exactly max_len: one full sequence; an empty record is dropped and counted */
    CHECK_OK(ts_tokfile_create(tok, 0, &w, &err), &err);
    add_sample(w, 1, 64, -1, 0);
    add_sample(w, 2, 0, -1, 0);
    CHECK_OK(ts_tokfile_finish(w, &err), &err);
    CHECK_OK(pack1(tok, out, 64, 4, TS_PACK_TRUNCATE, &st, &err), &err);
    CHECK_EQ(st.sequences, 1);
    CHECK_EQ(st.positions, 64);
    CHECK_EQ(st.dropped_empty, 1);
    CHECK_EQ(st.truncated, 0);
    /* over-long: a 600-token sample with an image (261 positions) at token 100,
     * max_len 300: truncation stops before the image (100 tokens); drop counts it */
    CHECK_OK(ts_tokfile_create(tok, 0, &w, &err), &err);
    add_sample(w, 3, 600, 100, 1);
    add_sample(w, 4, 2, -1, 0);   /* no trained label at all: kept, it fits */
    add_sample(w, 5, 400, -1, 0); /* trained from token 3: truncated to 300 */
    CHECK_OK(ts_tokfile_finish(w, &err), &err);
    CHECK_OK(pack1(tok, out, 300, 4, TS_PACK_TRUNCATE, &st, &err), &err);
    CHECK_EQ(st.truncated, 2);
    CHECK_EQ(st.images_dropped_by_truncation, 1);
    CHECK_EQ(st.samples_packed, 3);
    CHECK_EQ(st.positions, 100 + 2 + 300);
    CHECK_OK(ts_pack_open(out, &r, &err), &err);
    int found = 0;
    for (uint64_t i = 0; r && i < ts_pack_count(r); i++) {
        CHECK_OK(ts_pack_get(r, i, &s, &err), &err);
        for (uint32_t k = 0; k < s.n_subs; k++)
            if (s.subs[k].source_record == 3) {
                found = 1;
                CHECK_EQ(s.cu_tokens[k + 1] - s.cu_tokens[k], 100);
                CHECK(s.subs[k].flags & TS_PACK_SUB_TRUNCATED);
            }
    }
    CHECK(found);
    ts_pack_close(r);
    CHECK_OK(pack1(tok, out, 300, 4, TS_PACK_DROP, &st, &err), &err);
    CHECK_EQ(st.dropped_overlong, 2);
    CHECK_EQ(st.samples_packed, 1);
    /* truncation that leaves no trained label drops the sample, counted */
    CHECK_OK(ts_tokfile_create(tok, 0, &w, &err), &err);
    add_sample(w, 6, 50, 2, 1); /* IMG at 2: the cut falls before it, only 2 untrained tokens remain */
    CHECK_OK(ts_tokfile_finish(w, &err), &err);
    CHECK_OK(pack1(tok, out, 100, 4, TS_PACK_TRUNCATE, &st, &err), &err);
    CHECK_EQ(st.dropped_no_labels, 1);
    CHECK_EQ(st.sequences, 0);
    /* bad options */
    CHECK_EQ(pack1(tok, out, 0, 4, TS_PACK_TRUNCATE, &st, &err), TS_EINVAL);
    CHECK_EQ(pack1(tok, out, 64, 0, TS_PACK_TRUNCATE, &st, &err), TS_EINVAL);
    ts_pack_seq_free(&s);
}

/* The writer refuses sequences that break the rules readers rely on. */
static void test_writer_checks(void) {
    char out[512];
    tmp_path(out, sizeof out, "pack_w.tspack");
    ts_error err = {0};
    ts_pack_header h = {16, 2, 3, 1, 0, 0, 0};
    ts_pack_writer *w = NULL;
    CHECK_OK(ts_pack_writer_open(out, &h, &w, &err), &err);
    if (!w) return;
    ts_pack_seq s = {0};
    CHECK_OK(ts_pack_seq_reserve(&s, 4, 1, 1, &err), &err);
    s.n_tokens = 4;
    s.n_subs = 1;
    s.cu_seqlens[0] = 0, s.cu_seqlens[1] = 4;
    s.cu_tokens[0] = 0, s.cu_tokens[1] = 4;
    for (uint32_t t = 0; t < 4; t++) s.ids[t] = 10 + t, s.positions[t] = (int32_t)t, s.labels[t] = TS_PACK_IGNORE;
    s.subs[0] = (ts_pack_sub){0, 0, 0, 0};
    s.labels[1] = 12;
    CHECK_OK(ts_pack_writer_add(w, &s, &err), &err);
    s.labels[1] = 13; /* not the next token */
    CHECK_EQ(ts_pack_writer_add(w, &s, &err), TS_EFORMAT);
    s.labels[1] = 12;
    s.labels[3] = 10; /* a label across the end of the sample */
    CHECK_EQ(ts_pack_writer_add(w, &s, &err), TS_EFORMAT);
    s.labels[3] = TS_PACK_IGNORE;
    s.positions[2] = 1; /* positions must increase */
    CHECK_EQ(ts_pack_writer_add(w, &s, &err), TS_EFORMAT);
    s.positions[2] = 2;
    s.cu_seqlens[1] = 17; /* over max_len */
    CHECK_EQ(ts_pack_writer_add(w, &s, &err), TS_EFORMAT);
    s.cu_seqlens[1] = 4;
    s.n_images = 1; /* an image at token 1 with a tile reference */
    s.images[0] = (ts_pack_image){.sub = 0, .tiles = 1, .flags = TS_PACK_IMG_HASH | TS_PACK_IMG_TILES, .token_pos = 1,
                                  .position = 1, .tile_shard = 0};
    CHECK_OK(ts_pack_writer_add(w, &s, &err), &err);
    s.images[0].flags |= TS_PACK_IMG_FEATURES;
    CHECK_OK(ts_pack_writer_add(w, &s, &err), &err);
    s.images[0].flags = TS_PACK_IMG_HASH | TS_PACK_IMG_FEATURES; /* cached features need a tile record */
    s.images[0].tile_shard = -1;
    CHECK_EQ(ts_pack_writer_add(w, &s, &err), TS_EFORMAT);
    s.images[0].flags = 8; /* unknown flag */
    CHECK_EQ(ts_pack_writer_add(w, &s, &err), TS_EFORMAT);
    s.n_images = 0;
    CHECK_OK(ts_pack_writer_finish(w, "{}", &err), &err);
    ts_pack_reader *r = NULL;
    CHECK_OK(ts_pack_open(out, &r, &err), &err);
    if (r) CHECK_EQ(ts_pack_count(r), 3);
    if (r) CHECK_OK(ts_pack_verify(r, &err), &err);
    ts_pack_close(r);
    ts_pack_seq_free(&s);
}

static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

static int same_bytes(const char *a, const char *b) {
    ts_buf x = TS_BUF_INIT, y = TS_BUF_INIT;
    ts_error err;
    int same = ts_read_file(a, 1 << 26, &x, &err) == TS_OK && ts_read_file(b, 1 << 26, &y, &err) == TS_OK &&
               x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    ts_buf_free(&x);
    ts_buf_free(&y);
    return same;
}

/* The meta records input paths relative to the shard's folder: the bytes do
 * not depend on where the tree lies, and a moved tree still resolves. */
static void test_meta_paths(void) {
    char base[512], other[512], dir[700], tok[700], out[700], tok2[700], out2[700];
    ts_error err = {0};
    snprintf(base, sizeof base, "%s/paths_%d", harness_tmpdir(), (int)getpid());
    snprintf(other, sizeof other, "%s/paths_other_%d", harness_tmpdir(), (int)getpid());
    const char *roots[2] = {base, other};
    char *toks[2] = {tok, tok2}, *outs[2] = {out, out2};
    for (int i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/a", roots[i]);
        CHECK_OK(ts_mkdirs(dir, &err), &err);
        snprintf(dir, sizeof dir, "%s/b/c", roots[i]);
        CHECK_OK(ts_mkdirs(dir, &err), &err);
        snprintf(toks[i], sizeof tok, "%s/a/in.tstok", roots[i]);
        snprintf(outs[i], sizeof out, "%s/b/c/out.tspack", roots[i]);
        make_tokfile(toks[i], 20);
        ts_pack_stats st;
        CHECK_OK(pack1(toks[i], outs[i], 700, 8, TS_PACK_TRUNCATE, &st, &err), &err);
    }
    CHECK(same_bytes(out, out2));
    ts_pack_reader *r = NULL;
    CHECK_OK(ts_pack_open(out, &r, &err), &err);
    if (!r) return;
    CHECK(strstr(ts_pack_meta(r), "\"path\":\"../../a/in.tstok\"") != NULL);
    CHECK(strstr(ts_pack_meta(r), "\"path_base\":\"shard_dir\"") != NULL);
    CHECK(strstr(ts_pack_meta(r), harness_tmpdir()) == NULL);
    ts_buf path = TS_BUF_INIT;
    CHECK_OK(ts_pack_input_path(r, 0, &path, &err), &err);
    CHECK(same_file((const char *)path.data, tok));
    CHECK_EQ(ts_pack_input_path(r, 1, &path, &err), TS_ENOTFOUND);
    CHECK_EQ(ts_pack_tile_shard_path(r, 0, &path, &err), TS_ENOTFOUND);
    ts_pack_close(r);

    /* The whole tree moved; the shard opened through a link elsewhere. */
    char moved[600], link[600], moved_tok[700];
    snprintf(moved, sizeof moved, "%s_moved", base);
    CHECK_EQ(rename(base, moved), 0);
    snprintf(link, sizeof link, "%s/paths_link_%d.tspack", harness_tmpdir(), (int)getpid());
    snprintf(out, sizeof out, "%s/b/c/out.tspack", moved);
    snprintf(moved_tok, sizeof moved_tok, "%s/a/in.tstok", moved);
    unlink(link);
    CHECK_EQ(symlink(out, link), 0);
    CHECK_OK(ts_pack_open(link, &r, &err), &err);
    if (r) {
        CHECK_OK(ts_pack_input_path(r, 0, &path, &err), &err);
        CHECK(same_file((const char *)path.data, moved_tok));
        ts_pack_close(r);
    }

    /* The path computation itself. */
    CHECK_OK(ts_pack_relative_path(moved_tok, moved_tok, &path, &err), &err);
    CHECK_STR((const char *)path.data, "in.tstok");
    CHECK_OK(ts_pack_relative_path(out, moved_tok, &path, &err), &err);
    CHECK_STR((const char *)path.data, "../b/c/out.tspack");
    CHECK_EQ(ts_pack_relative_path("/no/such/file", out, &path, &err), TS_ENOTFOUND);
    CHECK_OK(ts_pack_resolve_path(out, "/abs/x", &path, &err), &err);
    CHECK_STR((const char *)path.data, "/abs/x");
    ts_buf_free(&path);
    unlink(link);
    const char *roots2[2] = {moved, other};
    static const char *const parts[] = {"a/in.tstok", "b/c/out.tspack", "b/c", "b", "a", ""};
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            snprintf(dir, sizeof dir, "%s/%s", roots2[i], parts[k]);
            remove(dir);
        }
}

int main(void) {
    RUN(test_binpack);
    RUN(test_roundtrip);
    RUN(test_corruption);
    RUN(test_edges);
    RUN(test_writer_checks);
    RUN(test_meta_paths);
    return harness_report();
}
