/* An InternViT checkpoint: config.json + safetensors, exposed as logical
 * (unpadded) tensors in f32 or bf16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "features.h"

struct ts_vit_model {
    ts_vit_config cfg;
    ts_safetensors *st;
    const char *prefix; /* "vision_model." or "" */
    int stored_heads;   /* > cfg.heads when padded with zero heads */
    int hashed;
    ts_hash128 hash;
};

static const char *const tensor_names[TS_VIT_TENSOR_COUNT] = {
    [TS_VIT_CLS] = "embeddings.class_embedding",
    [TS_VIT_PATCH_W] = "embeddings.patch_embedding.weight",
    [TS_VIT_PATCH_B] = "embeddings.patch_embedding.bias",
    [TS_VIT_POS] = "embeddings.position_embedding",
    [TS_VIT_QKV] = "attn.qkv.weight",
    [TS_VIT_Q_NORM] = "attn.q_norm.weight",
    [TS_VIT_K_NORM] = "attn.k_norm.weight",
    [TS_VIT_PROJ_W] = "attn.proj.weight",
    [TS_VIT_PROJ_B] = "attn.proj.bias",
    [TS_VIT_FC1_W] = "mlp.fc1.weight",
    [TS_VIT_FC1_B] = "mlp.fc1.bias",
    [TS_VIT_FC2_W] = "mlp.fc2.weight",
    [TS_VIT_FC2_B] = "mlp.fc2.bias",
    [TS_VIT_NORM1] = "norm1.weight",
    [TS_VIT_NORM2] = "norm2.weight",
    [TS_VIT_LS1] = "ls1",
    [TS_VIT_LS2] = "ls2",
};

static int tensor_used(const ts_vit_config *c, ts_vit_tensor t) {
    return c->qk_norm || (t != TS_VIT_Q_NORM && t != TS_VIT_K_NORM);
}

static void full_name(const ts_vit_model *m, ts_vit_tensor t, int layer, char *out, size_t n) {
    if (t < TS_VIT_GLOBAL_COUNT) snprintf(out, n, "%s%s", m->prefix, tensor_names[t]);
    else snprintf(out, n, "%sencoder.layers.%d.%s", m->prefix, layer, tensor_names[t]);
}

/* The stored shape, squeezed of leading 1s, that tensor t must have. */
static int expected_shape(const ts_vit_model *m, ts_vit_tensor t, int64_t s[4]) {
    const ts_vit_config *c = &m->cfg;
    int64_t D = c->hidden, padded = (int64_t)m->stored_heads * c->head_dim;
    switch (t) {
    case TS_VIT_CLS: s[0] = D; return 1;
    case TS_VIT_PATCH_W: s[0] = D; s[1] = 3; s[2] = s[3] = c->patch_size; return 4;
    case TS_VIT_POS: s[0] = ts_vit_tokens(c); s[1] = D; return 2;
    case TS_VIT_QKV: s[0] = 3 * padded; s[1] = D; return 2;
    case TS_VIT_Q_NORM:
    case TS_VIT_K_NORM: s[0] = padded; return 1;
    case TS_VIT_PROJ_W: s[0] = D; s[1] = padded; return 2;
    case TS_VIT_FC1_W: s[0] = c->mlp; s[1] = D; return 2;
    case TS_VIT_FC1_B: s[0] = c->mlp; return 1;
    case TS_VIT_FC2_W: s[0] = D; s[1] = c->mlp; return 2;
    default: s[0] = D; return 1;
    }
}

size_t ts_vit_tensor_numel(const ts_vit_config *c, ts_vit_tensor t) {
    size_t D = (size_t)c->hidden;
    switch (t) {
    case TS_VIT_PATCH_W: return D * 3 * (size_t)c->patch_size * (size_t)c->patch_size;
    case TS_VIT_POS: return (size_t)ts_vit_tokens(c) * D;
    case TS_VIT_QKV: return 3 * D * D;
    case TS_VIT_PROJ_W: return D * D;
    case TS_VIT_FC1_W:
    case TS_VIT_FC2_W: return (size_t)c->mlp * D;
    case TS_VIT_FC1_B: return (size_t)c->mlp;
    default: return D;
    }
}

static void shape_str(const int64_t *s, int n, char *out, size_t cap) {
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%lld", i ? "," : "[", (long long)s[i]);
    if (used < cap) snprintf(out + used, cap - used, "]");
}

static ts_status find_checked(ts_vit_model *m, ts_vit_tensor t, int layer, const ts_tensor **out,
                              ts_error *err) {
    char name[256];
    full_name(m, t, layer, name, sizeof name);
    const ts_tensor *x;
    ts_status s = ts_safetensors_find(m->st, name, &x, err);
    if (s != TS_OK) return s;
    if (x->dtype == TS_DTYPE_OTHER)
        return ts_fail(err, TS_EUNSUPPORTED, "tensor '%s': dtype %s (need F32, F16 or BF16)", name,
                       x->dtype_name);
    int64_t want[4];
    int nw = expected_shape(m, t, want);
    int skip = 0;
    while (x->ndim - skip > nw && x->shape[skip] == 1) skip++;
    int ok = x->ndim - skip == nw;
    for (int i = 0; ok && i < nw; i++) ok = x->shape[skip + i] == want[i];
    if (!ok) {
        char a[128], b[128];
        shape_str(x->shape, x->ndim, a, sizeof a);
        shape_str(want, nw, b, sizeof b);
        return ts_fail(err, TS_EFORMAT, "tensor '%s': shape %s, expected %s from config.json", name,
                       a, b);
    }
    *out = x;
    return TS_OK;
}

static ts_status parse_config(const char *dir, ts_vit_config *c, ts_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *root = NULL;
    ts_status s = ts_json_load_file(path, 16u << 20, &root, err);
    if (s != TS_OK) return s;
    const cJSON *vc = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
    if (!cJSON_IsObject(vc)) vc = root;
    static const char *const required[] = {"hidden_size", "num_attention_heads",
                                           "intermediate_size", "num_hidden_layers",
                                           "image_size", "patch_size"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(vc, required[i]))) {
            cJSON_Delete(root);
            return ts_fail(err, TS_EFORMAT, "%s: no number \"%s\"", path, required[i]);
        }
    c->hidden = (int)ts_json_int(vc, "hidden_size", 0);
    c->heads = (int)ts_json_int(vc, "num_attention_heads", 0);
    c->mlp = (int)ts_json_int(vc, "intermediate_size", 0);
    c->layers = (int)ts_json_int(vc, "num_hidden_layers", 0);
    c->image_size = (int)ts_json_int(vc, "image_size", 0);
    c->patch_size = (int)ts_json_int(vc, "patch_size", 0);
    c->head_dim = c->heads > 0 ? c->hidden / c->heads : 0;
    c->eps = (float)ts_json_num(vc, "layer_norm_eps", 1e-6);
    c->qk_norm = ts_json_bool(vc, "qk_normalization", 0);
    const char *norm = ts_json_str(vc, "norm_type", "rms_norm");
    const char *act = ts_json_str(vc, "hidden_act", "gelu");
    if (strcmp(norm, "rms_norm") != 0 && strcmp(norm, "rmsnorm") != 0)
        s = ts_fail(err, TS_EUNSUPPORTED, "%s: norm_type \"%s\" (only rms_norm)", path, norm);
    else if (strcmp(act, "gelu") != 0)
        s = ts_fail(err, TS_EUNSUPPORTED, "%s: hidden_act \"%s\" (only exact gelu)", path, act);
    else if (ts_json_bool(vc, "qkv_bias", 0))
        s = ts_fail(err, TS_EUNSUPPORTED, "%s: qkv_bias is true (InternViT-6B has none)", path);
    else if ((s = ts_vit_config_check(c, err)) != TS_OK)
        ts_error_context(err, "%s", path);
    cJSON_Delete(root);
    return s;
}

ts_status ts_vit_model_open(const char *dir, ts_vit_model **out, ts_error *err) {
    *out = NULL;
    ts_vit_model *m = calloc(1, sizeof *m);
    if (!m) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status s = parse_config(dir, &m->cfg, err);
    if (s == TS_OK) s = ts_safetensors_open(dir, &m->st, err);
    if (s == TS_OK) {
        m->prefix = ts_safetensors_has(m->st, "vision_model.embeddings.class_embedding")
                        ? "vision_model."
                        : "";
        /* Zero-head padding shows in the qkv rows: 3 * stored_heads * head_dim. */
        char name[256];
        snprintf(name, sizeof name, "%sencoder.layers.0.attn.qkv.weight", m->prefix);
        const ts_tensor *qkv;
        s = ts_safetensors_find(m->st, name, &qkv, err);
        if (s == TS_OK) {
            int64_t per = 3 * (int64_t)m->cfg.head_dim;
            if (qkv->ndim != 2 || qkv->shape[0] % per != 0 || qkv->shape[0] / per < m->cfg.heads)
                s = ts_fail(err, TS_EFORMAT, "tensor '%s': %lld rows is not 3 x heads x %d", name,
                            qkv->ndim ? (long long)qkv->shape[0] : 0LL, m->cfg.head_dim);
            else
                m->stored_heads = (int)(qkv->shape[0] / per);
        }
    }
    /* Validate every tensor's presence, dtype and shape up front. */
    for (int l = -1; s == TS_OK && l < m->cfg.layers; l++)
        for (int t = l < 0 ? 0 : TS_VIT_GLOBAL_COUNT;
             s == TS_OK && t < (l < 0 ? TS_VIT_GLOBAL_COUNT : TS_VIT_TENSOR_COUNT); t++) {
            const ts_tensor *x;
            if (tensor_used(&m->cfg, (ts_vit_tensor)t))
                s = find_checked(m, (ts_vit_tensor)t, l < 0 ? 0 : l, &x, err);
        }
    if (s != TS_OK) {
        ts_error_context(err, "model %s", dir);
        ts_vit_model_close(m);
        return s;
    }
    *out = m;
    return TS_OK;
}

const ts_vit_config *ts_vit_model_config(const ts_vit_model *m) { return &m->cfg; }
int ts_vit_model_stored_heads(const ts_vit_model *m) { return m->stored_heads; }

static void put_values(const uint8_t *src, ts_dtype from, size_t n, ts_dtype to, void *dst) {
    if (to == TS_DTYPE_BF16 && from == TS_DTYPE_BF16) {
        memcpy(dst, src, n * 2);
        return;
    }
    float tmp[1024];
    size_t esz = ts_dtype_size(from);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 1024 ? n - done : 1024;
        if (to == TS_DTYPE_F32) {
            ts_convert_to_f32(src + done * esz, from, k, (float *)dst + done);
        } else {
            ts_convert_to_f32(src + done * esz, from, k, tmp);
            uint16_t *d = (uint16_t *)dst + done;
            for (size_t i = 0; i < k; i++) d[i] = ts_f32_to_bf16(tmp[i]);
        }
        done += k;
    }
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

ts_status ts_vit_model_read(ts_vit_model *m, ts_vit_tensor t, int layer, ts_dtype to, void *dst,
                            ts_error *err) {
    if ((to != TS_DTYPE_F32 && to != TS_DTYPE_BF16) || t >= TS_VIT_TENSOR_COUNT ||
        (t >= TS_VIT_GLOBAL_COUNT && (layer < 0 || layer >= m->cfg.layers)))
        return ts_fail(err, TS_EINVAL, "ts_vit_model_read: bad arguments");
    if (!tensor_used(&m->cfg, t))
        return ts_fail(err, TS_EINVAL, "tensor %s: the config has no QK normalization",
                       tensor_names[t]);
    const ts_tensor *x;
    ts_status s = find_checked(m, t, layer, &x, err);
    if (s != TS_OK) return s;
    size_t esz = ts_dtype_size(x->dtype), osz = ts_dtype_size(to);
    size_t D = (size_t)m->cfg.hidden, padded = (size_t)m->stored_heads * (size_t)m->cfg.head_dim;
    uint8_t *out = dst;
    if (padded == D || (t != TS_VIT_QKV && t != TS_VIT_Q_NORM && t != TS_VIT_K_NORM &&
                        t != TS_VIT_PROJ_W)) {
        put_values(x->data, x->dtype, (size_t)x->numel, to, out);
        return TS_OK;
    }
    switch (t) {
    case TS_VIT_QKV: /* rows q|k|v, each padded to `padded`: keep the first D of each */
        for (size_t part = 0; part < 3; part++)
            put_values(x->data + part * padded * D * esz, x->dtype, D * D, to,
                       out + part * D * D * osz);
        break;
    case TS_VIT_Q_NORM:
    case TS_VIT_K_NORM:
        put_values(x->data, x->dtype, D, to, out);
        break;
    default: /* proj: columns padded; the padded columns must be zero */
        for (size_t r = 0; r < D; r++) {
            const uint8_t *row = x->data + r * padded * esz;
            if (!all_zero(row + D * esz, (padded - D) * esz)) {
                char name[256];
                full_name(m, t, layer, name, sizeof name);
                return ts_fail(err, TS_EFORMAT,
                               "tensor '%s': padded head columns %zu..%zu of row %zu are not zero",
                               name, D, padded - 1, r);
            }
            put_values(row, x->dtype, D, to, out + r * D * osz);
        }
        break;
    }
    return TS_OK;
}

typedef struct hash_job {
    ts_vit_model *m;
    ts_hash128 *hashes;
    ts_status *status;
    ts_error *errs;
} hash_job;

static void hash_one(void *ctx, size_t i, int worker) {
    (void)worker;
    hash_job *j = ctx;
    int layer = i < TS_VIT_GLOBAL_COUNT ? 0 : (int)((i - TS_VIT_GLOBAL_COUNT) / (TS_VIT_TENSOR_COUNT - TS_VIT_GLOBAL_COUNT));
    int t = i < TS_VIT_GLOBAL_COUNT
                ? (int)i
                : TS_VIT_GLOBAL_COUNT +
                      (int)((i - TS_VIT_GLOBAL_COUNT) % (TS_VIT_TENSOR_COUNT - TS_VIT_GLOBAL_COUNT));
    memset(&j->hashes[i], 0, sizeof j->hashes[i]);
    j->status[i] = TS_OK;
    if (!tensor_used(&j->m->cfg, (ts_vit_tensor)t)) return;
    char name[256];
    full_name(j->m, (ts_vit_tensor)t, layer, name, sizeof name);
    const ts_tensor *x;
    /* Lookups only read the already-validated, already-mapped tables. */
    j->status[i] = ts_safetensors_find(j->m->st, name, &x, &j->errs[i]);
    if (j->status[i] == TS_OK) j->hashes[i] = ts_xxh3_128(x->data, x->nbytes);
}

ts_status ts_vit_model_hash(ts_vit_model *m, ts_pool *pool, ts_hash128 *out, ts_error *err) {
    if (m->hashed) {
        *out = m->hash;
        return TS_OK;
    }
    size_t per = TS_VIT_TENSOR_COUNT - TS_VIT_GLOBAL_COUNT;
    size_t n = TS_VIT_GLOBAL_COUNT + (size_t)m->cfg.layers * per;
    /* Layout: 9 config numbers, then per tensor its hash (hi, lo). */
    size_t words = 9 + 2 * n;
    uint64_t *buf = calloc(words, sizeof *buf);
    ts_hash128 *hashes = calloc(n, sizeof *hashes);
    ts_status *status = calloc(n, sizeof *status);
    ts_error *errs = calloc(n, sizeof *errs);
    ts_status s = TS_OK;
    if (!buf || !hashes || !status || !errs) {
        s = ts_fail(err, TS_ENOMEM, "out of memory");
    } else {
        hash_job j = {m, hashes, status, errs};
        if (pool) ts_pool_run(pool, n, hash_one, &j);
        else
            for (size_t i = 0; i < n; i++) hash_one(&j, i, 0);
        const ts_vit_config *c = &m->cfg;
        float eps = c->eps;
        uint32_t eps_bits;
        memcpy(&eps_bits, &eps, 4);
        uint64_t cfgw[9] = {(uint64_t)c->hidden, (uint64_t)c->heads,      (uint64_t)c->head_dim,
                            (uint64_t)c->mlp,    (uint64_t)c->layers,     (uint64_t)c->image_size,
                            (uint64_t)c->patch_size, (uint64_t)c->qk_norm, eps_bits};
        memcpy(buf, cfgw, sizeof cfgw);
        for (size_t i = 0; i < n && s == TS_OK; i++) {
            if (status[i] != TS_OK) {
                if (err) *err = errs[i];
                s = status[i];
            }
            buf[9 + 2 * i] = hashes[i].hi;
            buf[10 + 2 * i] = hashes[i].lo;
        }
        if (s == TS_OK) {
            m->hash = ts_xxh3_128(buf, words * sizeof *buf);
            m->hashed = 1;
            *out = m->hash;
        }
    }
    free(buf);
    free(hashes);
    free(status);
    free(errs);
    return s;
}

void ts_vit_model_close(ts_vit_model *m) {
    if (!m) return;
    ts_safetensors_close(m->st);
    free(m);
}
