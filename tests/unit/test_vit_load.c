/* Tests of the safetensors reader and the InternViT loader: valid files,
 * every kind of broken file, shape validation against config.json, the
 * padded-head layout, dtype conversions and the FLOP count. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "features/features.h"
#include "tests/harness.h"

static void tmp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/vitload-%ld-%s", harness_tmpdir(), (long)getpid(), name);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* A safetensors file with the given header JSON and `data_len` data bytes
 * counting up from 0; `hlen_delta` corrupts the stored header length. */
static void write_st(const char *path, const char *header, size_t data_len, long hlen_delta) {
    size_t h = strlen(header);
    size_t total = 8 + h + data_len;
    unsigned char *buf = malloc(total);
    uint64_t stored = (uint64_t)((long)h + hlen_delta);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(stored >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data_len; i++) buf[8 + h + i] = (unsigned char)i;
    write_bytes(path, buf, total);
    free(buf);
}

static void test_safetensors_valid(void) {
    char p[512];
    tmp_path(p, sizeof p, "ok.safetensors");
    write_st(p,
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]},"
             "\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}}",
             32, 0);
    ts_error err = {0};
    ts_safetensors *st = NULL;
    CHECK_OK(ts_safetensors_open(p, &st, &err), &err);
    if (!st) return;
    const ts_tensor *t = NULL;
    CHECK_OK(ts_safetensors_find(st, "b", &t, &err), &err);
    if (t) {
        CHECK_EQ(t->dtype, TS_DTYPE_BF16);
        CHECK_EQ(t->numel, 3);
        CHECK_EQ(t->nbytes, 6);
        CHECK_EQ(t->data[0], 16);
    }
    CHECK_OK(ts_safetensors_find(st, "c", &t, &err), &err);
    if (t) CHECK_EQ(t->dtype, TS_DTYPE_OTHER);
    CHECK(ts_safetensors_has(st, "a"));
    CHECK(!ts_safetensors_has(st, "zz"));
    CHECK_EQ(ts_safetensors_find(st, "zz", &t, &err), TS_ENOTFOUND);
    CHECK(strstr(err.msg, "zz") != NULL);
    ts_safetensors_close(st);
}

static void expect_bad(const char *name, const char *header, size_t data_len, long delta,
                       const char *needle) {
    char p[512];
    tmp_path(p, sizeof p, name);
    write_st(p, header, data_len, delta);
    ts_error err = {0};
    ts_safetensors *st = NULL;
    ts_status s = ts_safetensors_open(p, &st, &err);
    CHECK_EQ(s, TS_EFORMAT);
    CHECK(st == NULL);
    if (!strstr(err.msg, needle)) fprintf(stderr, "  %s: message '%s' lacks '%s'\n", name, err.msg, needle);
    CHECK(strstr(err.msg, needle) != NULL);
}

static void test_safetensors_broken(void) {
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    /* header length beyond the file */
    expect_bad("long.st", good, 8, 1000, "header length");
    /* data truncated: offsets past the end */
    expect_bad("trunc.st", good, 4, 0, "truncated");
    /* not JSON */
    expect_bad("json.st", "{\"a\": [1, 2", 0, 0, "header");
    /* byte count that does not match the shape */
    expect_bad("size.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0,
               "elements");
    /* unknown dtype */
    expect_bad("dtype.st", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
               "dtype");
    /* negative shape */
    expect_bad("shape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0,
               "shape");
    /* a file shorter than the length prefix */
    char p[512];
    tmp_path(p, sizeof p, "tiny.st");
    write_bytes(p, "abc", 3);
    ts_error err = {0};
    ts_safetensors *st = NULL;
    CHECK_EQ(ts_safetensors_open(p, &st, &err), TS_EFORMAT);
    /* absent file */
    tmp_path(p, sizeof p, "absent.st");
    CHECK_EQ(ts_safetensors_open(p, &st, &err), TS_EIO);
}

/* ---- a whole model written by the test, all zeros but the shapes ---- */

typedef struct model_spec {
    int hidden, heads, mlp, layers, image, patch, pad_heads;
    const char *prefix;
    const char *bad_name; /* tensor whose first dim gets +1 */
    int proj_pad_nonzero;
} model_spec;

static void add_tensor(char **hdr, size_t *hlen, size_t *off, const char *name, const int64_t *shape,
                       int nd) {
    char tmp[512];
    int64_t numel = 1;
    int n = snprintf(tmp, sizeof tmp, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[", *hlen > 1 ? "," : "",
                     name);
    for (int i = 0; i < nd; i++) {
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%s%lld", i ? "," : "", (long long)shape[i]);
        numel *= shape[i];
    }
    n += snprintf(tmp + n, sizeof tmp - (size_t)n, "],\"data_offsets\":[%zu,%zu]}", *off,
                  *off + (size_t)numel * 2);
    *off += (size_t)numel * 2;
    *hdr = realloc(*hdr, *hlen + (size_t)n + 2);
    memcpy(*hdr + *hlen, tmp, (size_t)n + 1);
    *hlen += (size_t)n;
}

static void write_model(const char *dir, const model_spec *m) {
    mkdir(dir, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    fprintf(f,
            "{\"hidden_size\":%d,\"num_attention_heads\":%d,\"intermediate_size\":%d,"
            "\"num_hidden_layers\":%d,\"image_size\":%d,\"patch_size\":%d,"
            "\"qk_normalization\":true,\"norm_type\":\"rms_norm\",\"layer_norm_eps\":1e-6}",
            m->hidden, m->heads, m->mlp, m->layers, m->image, m->patch);
    fclose(f);
    int64_t D = m->hidden, hd = D / m->heads, P = (m->pad_heads ? m->pad_heads : m->heads) * hd;
    int64_t g = m->image / m->patch;
    char *hdr = malloc(2);
    hdr[0] = '{';
    hdr[1] = 0;
    size_t hlen = 1, off = 0;
    char name[256];
#define T(nm, ...)                                                                  \
    do {                                                                            \
        int64_t sh[] = {__VA_ARGS__};                                               \
        int nd = (int)(sizeof sh / sizeof sh[0]);                                   \
        snprintf(name, sizeof name, "%s%s", m->prefix, nm);                         \
        if (m->bad_name && strcmp(nm, m->bad_name) == 0) sh[0]++;                   \
        add_tensor(&hdr, &hlen, &off, name, sh, nd);                                \
    } while (0)
    T("embeddings.class_embedding", 1, 1, D);
    T("embeddings.patch_embedding.weight", D, 3, m->patch, m->patch);
    T("embeddings.patch_embedding.bias", D);
    T("embeddings.position_embedding", 1, g * g + 1, D);
    for (int l = 0; l < m->layers; l++) {
        char b[128];
#define L(suffix, ...)                                             \
    do {                                                           \
        snprintf(b, sizeof b, "encoder.layers.%d.%s", l, suffix);  \
        T(b, __VA_ARGS__);                                         \
    } while (0)
        L("attn.qkv.weight", 3 * P, D);
        L("attn.q_norm.weight", P);
        L("attn.k_norm.weight", P);
        L("attn.proj.weight", D, P);
        L("attn.proj.bias", D);
        L("mlp.fc1.weight", m->mlp, D);
        L("mlp.fc1.bias", m->mlp);
        L("mlp.fc2.weight", D, m->mlp);
        L("mlp.fc2.bias", D);
        L("norm1.weight", D);
        L("norm2.weight", D);
        L("ls1", D);
        L("ls2", D);
    }
    hdr[hlen++] = '}';
    hdr[hlen] = 0;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    uint64_t h = hlen;
    for (int i = 0; i < 8; i++) fputc((int)((h >> (8 * i)) & 0xff), f);
    fwrite(hdr, 1, hlen, f);
    unsigned char *zeros = calloc(off, 1);
    if (m->proj_pad_nonzero && P > D) {
        /* Find layer 0's proj weight offset: recompute by scanning the header. */
        char key[256];
        snprintf(key, sizeof key, "\"%sencoder.layers.0.attn.proj.weight\"", m->prefix);
        const char *at = strstr(hdr, key);
        const char *o = at ? strstr(at, "data_offsets\":[") : NULL;
        if (o) zeros[strtoull(o + 15, NULL, 10) + 2 * (size_t)D] = 1; /* row 0, column D */
    }
    fwrite(zeros, 1, off, f);
    free(zeros);
    fclose(f);
    free(hdr);
#undef L
#undef T
}

static const model_spec base = {64, 4, 256, 2, 56, 14, 0, "", NULL, 0};

static void test_model_valid_and_padded(void) {
    char d[512];
    tmp_path(d, sizeof d, "model_ok");
    write_model(d, &base);
    ts_error err = {0};
    ts_vit_model *m = NULL;
    CHECK_OK(ts_vit_model_open(d, &m, &err), &err);
    if (m) {
        const ts_vit_config *c = ts_vit_model_config(m);
        CHECK_EQ(c->hidden, 64);
        CHECK_EQ(c->head_dim, 16);
        CHECK_EQ(c->layers, 2);
        CHECK_EQ(ts_vit_model_stored_heads(m), 4);
        CHECK_EQ(ts_vit_tokens(c), 17);
        CHECK_EQ(ts_vit_out_tokens(c), 4);
        ts_hash128 h1, h2;
        CHECK_OK(ts_vit_model_hash(m, NULL, &h1, &err), &err);
        CHECK_OK(ts_vit_model_hash(m, NULL, &h2, &err), &err);
        CHECK(ts_hash128_equal(h1, h2));
        ts_vit_model_close(m);
    }
    model_spec padded = base;
    padded.pad_heads = 6;
    padded.prefix = "vision_model.";
    tmp_path(d, sizeof d, "model_padded");
    write_model(d, &padded);
    CHECK_OK(ts_vit_model_open(d, &m, &err), &err);
    if (m) {
        CHECK_EQ(ts_vit_model_stored_heads(m), 6);
        float *w = malloc(ts_vit_tensor_numel(ts_vit_model_config(m), TS_VIT_PROJ_W) * sizeof(float));
        CHECK_OK(ts_vit_model_read(m, TS_VIT_PROJ_W, 1, TS_DTYPE_F32, w, &err), &err);
        free(w);
        ts_vit_model_close(m);
    }
    padded.proj_pad_nonzero = 1;
    tmp_path(d, sizeof d, "model_padded_bad");
    write_model(d, &padded);
    CHECK_OK(ts_vit_model_open(d, &m, &err), &err);
    if (m) {
        float *w = malloc(64 * 64 * sizeof(float));
        CHECK_EQ(ts_vit_model_read(m, TS_VIT_PROJ_W, 0, TS_DTYPE_F32, w, &err), TS_EFORMAT);
        CHECK(strstr(err.msg, "not zero") != NULL);
        free(w);
        ts_vit_model_close(m);
    }
}

static void test_model_bad_shapes(void) {
    static const char *const names[] = {"embeddings.position_embedding", "encoder.layers.1.mlp.fc1.weight",
                                        "encoder.layers.0.attn.proj.weight",
                                        "encoder.layers.1.attn.k_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        model_spec s = base;
        s.bad_name = names[i];
        char d[512];
        tmp_path(d, sizeof d, "model_bad");
        char sub[600];
        snprintf(sub, sizeof sub, "%s%zu", d, i);
        write_model(sub, &s);
        ts_error err = {0};
        ts_vit_model *m = NULL;
        CHECK_EQ(ts_vit_model_open(sub, &m, &err), TS_EFORMAT);
        CHECK(m == NULL);
        CHECK(strstr(err.msg, names[i]) != NULL);
        CHECK(strstr(err.msg, "expected") != NULL);
    }
    /* qkv rows that are not 3 x heads x head_dim */
    model_spec s = base;
    s.bad_name = "encoder.layers.0.attn.qkv.weight";
    char d[512];
    tmp_path(d, sizeof d, "model_badqkv");
    write_model(d, &s);
    ts_error err = {0};
    ts_vit_model *m = NULL;
    CHECK_EQ(ts_vit_model_open(d, &m, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "qkv") != NULL);
    /* config problems */
    s = base;
    s.image = 42; /* 3x3 grid: cannot pixel-shuffle */
    tmp_path(d, sizeof d, "model_oddgrid");
    write_model(d, &s);
    CHECK_EQ(ts_vit_model_open(d, &m, &err), TS_EUNSUPPORTED);
    CHECK(strstr(err.msg, "pixel-shuffle") != NULL);
    char p[600];
    snprintf(p, sizeof p, "%s/config.json", d);
    write_bytes(p, "{\"hidden_size\": 64}", 19);
    CHECK_EQ(ts_vit_model_open(d, &m, &err), TS_EFORMAT);
    CHECK(strstr(err.msg, "num_attention_heads") != NULL);
}

static void test_dtypes(void) {
    CHECK_EQ(ts_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ(ts_f32_to_bf16(1.00390625f), 0x3f80);   /* tie -> even */
    CHECK_EQ(ts_f32_to_bf16(1.01171875f), 0x3f82);   /* tie -> even (up) */
    CHECK(ts_bf16_to_f32(0xc000) == -2.0f);
    CHECK(ts_f16_to_f32(0x3c00) == 1.0f);
    CHECK(ts_f16_to_f32(0xc000) == -2.0f);
    CHECK(ts_f16_to_f32(0x0001) == ldexpf(1, -24));
    CHECK(isinf(ts_f16_to_f32(0x7c00)));
    CHECK(isnan(ts_bf16_to_f32(ts_f32_to_bf16(NAN))));
}

static void test_flops(void) {
    ts_vit_config c;
    ts_vit_config_internvit6b(&c);
    double T = 1025, D = 3200, F = 12800;
    double want = 2.0 * 1024 * 3200 * 588 +
                  45 * (2 * T * D * 3 * D + 4 * T * T * D + 2 * T * D * D + 4 * T * D * F);
    CHECK(fabs(ts_vit_flops_per_tile(&c) - want) < 1);
    CHECK(ts_vit_flops_per_tile(&c) > 11e12 && ts_vit_flops_per_tile(&c) < 12.5e12);
    ts_error err = {0};
    CHECK_OK(ts_vit_config_check(&c, &err), &err);
    CHECK_EQ(ts_vit_out_tokens(&c), 256);
    CHECK_EQ(ts_vit_out_dim(&c), 12800);
}

int main(void) {
    RUN(test_safetensors_valid);
    RUN(test_safetensors_broken);
    RUN(test_model_valid_and_padded);
    RUN(test_model_bad_shapes);
    RUN(test_dtypes);
    RUN(test_flops);
    return harness_report();
}
