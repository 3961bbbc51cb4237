/* The fp32 reference forward of InternViT in plain C. Written for clarity
 * and determinism, not speed: every output element is one fixed-order dot
 * product, so results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"

typedef struct cpu_layer {
    float *w[TS_VIT_TENSOR_COUNT]; /* indexed by ts_vit_tensor (per-layer kinds) */
} cpu_layer;

struct ts_vit_cpu {
    ts_vit_config cfg;
    ts_pool *pool;
    float *global[TS_VIT_GLOBAL_COUNT];
    cpu_layer *layers;
};

void ts_vit_cpu_free(ts_vit_cpu *v) {
    if (!v) return;
    for (int t = 0; t < TS_VIT_GLOBAL_COUNT; t++) free(v->global[t]);
    if (v->layers)
        for (int l = 0; l < v->cfg.layers; l++)
            for (int t = 0; t < TS_VIT_TENSOR_COUNT; t++) free(v->layers[l].w[t]);
    free(v->layers);
    free(v);
}

static ts_status load(ts_vit_model *m, ts_vit_tensor t, int layer, float **out, ts_error *err) {
    size_t n = ts_vit_tensor_numel(ts_vit_model_config(m), t);
    *out = malloc(n * sizeof **out);
    if (!*out) return ts_fail(err, TS_ENOMEM, "out of memory for %zu weights", n);
    return ts_vit_model_read(m, t, layer, TS_DTYPE_F32, *out, err);
}

ts_status ts_vit_cpu_new(ts_vit_model *m, ts_pool *pool, ts_vit_cpu **out, ts_error *err) {
    *out = NULL;
    ts_vit_cpu *v = calloc(1, sizeof *v);
    if (!v) return ts_fail(err, TS_ENOMEM, "out of memory");
    v->cfg = *ts_vit_model_config(m);
    v->pool = pool;
    v->layers = calloc((size_t)v->cfg.layers, sizeof *v->layers);
    ts_status s = v->layers ? TS_OK : ts_fail(err, TS_ENOMEM, "out of memory");
    for (int t = 0; s == TS_OK && t < TS_VIT_GLOBAL_COUNT; t++)
        s = load(m, (ts_vit_tensor)t, 0, &v->global[t], err);
    for (int l = 0; s == TS_OK && l < v->cfg.layers; l++)
        for (int t = TS_VIT_GLOBAL_COUNT; s == TS_OK && t < TS_VIT_TENSOR_COUNT; t++)
            if (v->cfg.qk_norm || (t != TS_VIT_Q_NORM && t != TS_VIT_K_NORM))
                s = load(m, (ts_vit_tensor)t, l, &v->layers[l].w[t], err);
    if (s != TS_OK) {
        ts_vit_cpu_free(v);
        return s;
    }
    *out = v;
    return TS_OK;
}

static void run(ts_vit_cpu *v, size_t n, ts_pool_fn fn, void *ctx) {
    if (v->pool) ts_pool_run(v->pool, n, fn, ctx);
    else
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
}

/* y[M,N] = x[M,K] . w[N,K]^T (+ bias), split into row x column-block items. */
typedef struct gemm_job {
    const float *x, *w, *bias;
    float *y;
    int M, N, K;
} gemm_job;

#define GEMM_NBLOCK 32

static void gemm_item(void *ctx, size_t i, int worker) {
    (void)worker;
    const gemm_job *g = ctx;
    int nblocks = (g->N + GEMM_NBLOCK - 1) / GEMM_NBLOCK;
    int row = (int)(i / (size_t)nblocks), n0 = (int)(i % (size_t)nblocks) * GEMM_NBLOCK;
    int n1 = n0 + GEMM_NBLOCK < g->N ? n0 + GEMM_NBLOCK : g->N;
    const float *xr = g->x + (size_t)row * g->K;
    for (int n = n0; n < n1; n++) {
        const float *wr = g->w + (size_t)n * g->K;
        float acc = 0;
        for (int k = 0; k < g->K; k++) acc += xr[k] * wr[k];
        g->y[(size_t)row * g->N + n] = acc + (g->bias ? g->bias[n] : 0.0f);
    }
}

static void gemm(ts_vit_cpu *v, const float *x, const float *w, const float *bias, float *y, int M,
                 int N, int K) {
    gemm_job g = {x, w, bias, y, M, N, K};
    run(v, (size_t)M * (size_t)((N + GEMM_NBLOCK - 1) / GEMM_NBLOCK), gemm_item, &g);
}

/* RMSNorm of each row of x[M, width] (row stride `stride`) into y (stride
 * `stride` too): x * rsqrt(mean(x^2) + eps) * w. */
static void rmsnorm(const float *x, const float *w, float *y, int M, int width, int stride,
                    float eps) {
    for (int r = 0; r < M; r++) {
        const float *xr = x + (size_t)r * stride;
        float *yr = y + (size_t)r * stride;
        double ss = 0;
        for (int i = 0; i < width; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / width + eps));
        for (int i = 0; i < width; i++) yr[i] = xr[i] * inv * w[i];
    }
}

/* One (head, query) row of softmax(q k^T * scale) v. */
typedef struct attn_job {
    const float *qkv; /* [T, 3D]: q | k | v */
    float *out;       /* [T, D] */
    float *scores;    /* [workers, T] */
    int T, D, hd;
    float scale;
} attn_job;

static void attn_item(void *ctx, size_t i, int worker) {
    const attn_job *a = ctx;
    int head = (int)(i / (size_t)a->T), qi = (int)(i % (size_t)a->T);
    size_t stride = 3 * (size_t)a->D;
    const float *q = a->qkv + (size_t)qi * stride + (size_t)head * a->hd;
    float *s = a->scores + (size_t)worker * a->T;
    float mx = -INFINITY;
    for (int j = 0; j < a->T; j++) {
        const float *k = a->qkv + (size_t)j * stride + a->D + (size_t)head * a->hd;
        float acc = 0;
        for (int d = 0; d < a->hd; d++) acc += q[d] * k[d];
        s[j] = acc * a->scale;
        if (s[j] > mx) mx = s[j];
    }
    float sum = 0;
    for (int j = 0; j < a->T; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float *o = a->out + (size_t)qi * a->D + (size_t)head * a->hd;
    for (int d = 0; d < a->hd; d++) o[d] = 0;
    for (int j = 0; j < a->T; j++) {
        const float *vv = a->qkv + (size_t)j * stride + 2 * (size_t)a->D + (size_t)head * a->hd;
        float p = s[j] / sum;
        for (int d = 0; d < a->hd; d++) o[d] += p * vv[d];
    }
}

static float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* Forward one tile: `chw` -> `out` [out_tokens, 4D]. `ws` holds the scratch. */
typedef struct scratch {
    float *h, *xn, *qkv, *att, *tmp, *f, *scores, *patches;
} scratch;

static void forward_tile(ts_vit_cpu *v, const float *chw, float *out, scratch *ws) {
    const ts_vit_config *c = &v->cfg;
    int D = c->hidden, F = c->mlp, T = ts_vit_tokens(c), g = ts_vit_grid(c), ps = c->patch_size;
    int img = c->image_size, K = 3 * ps * ps;

    /* Patch embedding as a GEMM over gathered patches (c, y, x order). */
    for (int py = 0; py < g; py++)
        for (int px = 0; px < g; px++) {
            float *dst = ws->patches + (size_t)(py * g + px) * K;
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < ps; y++)
                    memcpy(dst + (ch * ps + y) * ps,
                           chw + ((size_t)ch * img + (size_t)(py * ps + y)) * img + (size_t)px * ps,
                           (size_t)ps * sizeof(float));
        }
    gemm(v, ws->patches, v->global[TS_VIT_PATCH_W], v->global[TS_VIT_PATCH_B], ws->h + D, g * g, D,
         K);
    memcpy(ws->h, v->global[TS_VIT_CLS], (size_t)D * sizeof(float));
    for (size_t i = 0; i < (size_t)T * D; i++) ws->h[i] += v->global[TS_VIT_POS][i];

    for (int l = 0; l < c->layers; l++) {
        float *const *w = v->layers[l].w;
        rmsnorm(ws->h, w[TS_VIT_NORM1], ws->xn, T, D, D, c->eps);
        gemm(v, ws->xn, w[TS_VIT_QKV], NULL, ws->qkv, T, 3 * D, D);
        if (c->qk_norm) {
            rmsnorm(ws->qkv, w[TS_VIT_Q_NORM], ws->qkv, T, D, 3 * D, c->eps);
            rmsnorm(ws->qkv + D, w[TS_VIT_K_NORM], ws->qkv + D, T, D, 3 * D, c->eps);
        }
        attn_job a = {ws->qkv, ws->att, ws->scores, T, D, c->head_dim,
                      1.0f / sqrtf((float)c->head_dim)};
        run(v, (size_t)c->heads * (size_t)T, attn_item, &a);
        gemm(v, ws->att, w[TS_VIT_PROJ_W], w[TS_VIT_PROJ_B], ws->tmp, T, D, D);
        for (size_t i = 0; i < (size_t)T * D; i++) ws->h[i] += w[TS_VIT_LS1][i % D] * ws->tmp[i];

        rmsnorm(ws->h, w[TS_VIT_NORM2], ws->xn, T, D, D, c->eps);
        gemm(v, ws->xn, w[TS_VIT_FC1_W], w[TS_VIT_FC1_B], ws->f, T, F, D);
        for (size_t i = 0; i < (size_t)T * F; i++) ws->f[i] = gelu(ws->f[i]);
        gemm(v, ws->f, w[TS_VIT_FC2_W], w[TS_VIT_FC2_B], ws->tmp, T, D, F);
        for (size_t i = 0; i < (size_t)T * D; i++) ws->h[i] += w[TS_VIT_LS2][i % D] * ws->tmp[i];
    }

    /* Drop CLS; pixel shuffle 0.5. */
    int half = g / 2;
    for (int a = 0; a < half; a++)
        for (int b = 0; b < half; b++) {
            float *dst = out + (size_t)(a * half + b) * 4 * D;
            const int src[4] = {(2 * a) * g + 2 * b, (2 * a) * g + 2 * b + 1,
                                (2 * a + 1) * g + 2 * b, (2 * a + 1) * g + 2 * b + 1};
            for (int q = 0; q < 4; q++)
                memcpy(dst + (size_t)q * D, ws->h + (size_t)(1 + src[q]) * D,
                       (size_t)D * sizeof(float));
        }
}

ts_status ts_vit_cpu_forward(ts_vit_cpu *v, const float *tiles, int n, float *out, ts_error *err) {
    const ts_vit_config *c = &v->cfg;
    if (n < 0) return ts_fail(err, TS_EINVAL, "negative tile count");
    size_t D = (size_t)c->hidden, T = (size_t)ts_vit_tokens(c), g = (size_t)ts_vit_grid(c);
    size_t workers = v->pool ? (size_t)ts_pool_threads(v->pool) : 1;
    scratch ws;
    size_t K = 3 * (size_t)c->patch_size * (size_t)c->patch_size;
    ws.h = malloc(T * D * sizeof(float));
    ws.xn = malloc(T * D * sizeof(float));
    ws.qkv = malloc(T * 3 * D * sizeof(float));
    ws.att = malloc(T * D * sizeof(float));
    ws.tmp = malloc(T * D * sizeof(float));
    ws.f = malloc(T * (size_t)c->mlp * sizeof(float));
    ws.scores = malloc(workers * T * sizeof(float));
    ws.patches = malloc(g * g * K * sizeof(float));
    ts_status s = TS_OK;
    if (!ws.h || !ws.xn || !ws.qkv || !ws.att || !ws.tmp || !ws.f || !ws.scores || !ws.patches)
        s = ts_fail(err, TS_ENOMEM, "out of memory for activations");
    size_t in_size = 3 * (size_t)c->image_size * (size_t)c->image_size;
    size_t out_size = (size_t)ts_vit_out_tokens(c) * (size_t)ts_vit_out_dim(c);
    for (int i = 0; s == TS_OK && i < n; i++)
        forward_tile(v, tiles + (size_t)i * in_size, out + (size_t)i * out_size, &ws);
    free(ws.h);
    free(ws.xn);
    free(ws.qkv);
    free(ws.att);
    free(ws.tmp);
    free(ws.f);
    free(ws.scores);
    free(ws.patches);
    return s;
}
