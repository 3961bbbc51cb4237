// The InternViT forward on the GPU: bf16 weights resident on device 0,
// cuBLASLt for every linear layer (bias fused in the epilogue), fp32
// residual stream, RMSNorm/QK-norm/GELU/pixel-shuffle kernels, attention
// either fused (flash kernel, head_dim 128) or as batched cuBLAS GEMMs + a
// softmax kernel. Upload, compute and download run on three streams so a
// queued batch's copies overlap the previous batch's compute.
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include <cublas_v2.h>

#include "features/cuda/gemm.cuh"
#include "features/cuda/kernels.cuh"

extern "C" {
#include "features/features.h"
}

#define CU(expr)                                                                               \
    do {                                                                                       \
        cudaError_t e_ = (expr);                                                               \
        if (e_ != cudaSuccess)                                                                 \
            return ts_fail(err, TS_ECUDA, "%s (%s:%d): %s", #expr, __FILE__, __LINE__,          \
                           cudaGetErrorString(e_));                                            \
    } while (0)

#define BLAS(expr)                                                                             \
    do {                                                                                       \
        cublasStatus_t st_ = (expr);                                                           \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                                      \
            return ts_fail(err, TS_ECUDA, "%s (%s:%d): %s", #expr, __FILE__, __LINE__,          \
                           cublasGetStatusString(st_));                                        \
    } while (0)

#define LAUNCHED() CU(cudaGetLastError())

#define GEMM(x, w, b, y, M, N, K) GEMM_ACT(x, w, b, y, M, N, K, 0)
#define GEMM_ACT(x, w, b, y, M, N, K, gelu)                                                    \
    do {                                                                                       \
        char msg_[512];                                                                        \
        const char *e_ = gemm_run(&v->gemm, x, w, b, y, M, N, K, gelu, v->compute, msg_,       \
                                  sizeof msg_);                                                \
        if (e_) return ts_fail(err, TS_ECUDA, "GEMM %dx%dx%d: %s", (int)(M), (int)(N), (int)(K), e_); \
    } while (0)

namespace {

struct Layer {
    bf16 *qkv, *proj_w, *proj_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float *q_norm, *k_norm, *norm1, *norm2, *ls1, *ls2;
};

enum { SLOTS = 2 };

} // namespace

struct ts_vit_cuda {
    ts_vit_config cfg;
    int max_batch, T, Tp, G, Kp, flash, gelu_tanh;
    cudaStream_t up, compute, down;
    cublasHandle_t blas;
    Gemm gemm;
    // weights
    bf16 *patch_w, *patch_b;
    float *cls, *pos;
    std::vector<Layer> layers;
    std::vector<void *> allocs; // every device allocation, freed together
    // activations (sized for max_batch)
    bf16 *patches, *xn, *qkv, *q, *k, *vv, *att, *tmp, *f, *S;
    float *h;
    const void **attn_a, **attn_b; // device pointer arrays for the batched P.V
    void **attn_c;
    // pipeline slots
    float *in_host[SLOTS], *in_dev[SLOTS];
    uint16_t *out_host[SLOTS];
    bf16 *out_dev[SLOTS];
    int slot_n[SLOTS];
    cudaEvent_t uploaded[SLOTS], computed[SLOTS], downloaded[SLOTS];
    int head, queued;
};

template <typename T>
static ts_status dalloc(ts_vit_cuda *v, T **p, size_t count, ts_error *err) {
    void *q = NULL;
    cudaError_t e = cudaMalloc(&q, count * sizeof(T) > 0 ? count * sizeof(T) : 1);
    if (e != cudaSuccess)
        return ts_fail(err, TS_ECUDA, "cudaMalloc of %zu bytes: %s", count * sizeof(T),
                       cudaGetErrorString(e));
    v->allocs.push_back(q);
    *p = static_cast<T *>(q);
    return TS_OK;
}

#define TRY(expr)                                                                              \
    do {                                                                                       \
        ts_status s_ = (expr);                                                                 \
        if (s_ != TS_OK) return s_;                                                            \
    } while (0)

static ts_status check_device(ts_error *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        return ts_fail(err, TS_EUNSUPPORTED, "no CUDA device (%s)",
                       e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    }
    cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    if (prop.major < 8)
        return ts_fail(err, TS_EUNSUPPORTED, "%s (sm_%d%d): bf16 tensor cores need sm_80 or newer",
                       prop.name, prop.major, prop.minor);
    CU(cudaSetDevice(0));
    return TS_OK;
}

// Everything but the weights' values: streams, handles, buffers.
static ts_status setup(ts_vit_cuda *v, const ts_vit_config *c, int max_batch, ts_error *err) {
    TRY(ts_vit_config_check(c, err));
    if (max_batch <= 0) return ts_fail(err, TS_EINVAL, "batch must be positive");
    v->cfg = *c;
    v->max_batch = max_batch;
    v->T = ts_vit_tokens(c);
    v->Tp = (v->T + 7) / 8 * 8; // 16-byte aligned rows of S
    v->G = ts_vit_grid(c) * ts_vit_grid(c);
    v->Kp = (3 * c->patch_size * c->patch_size + 7) / 8 * 8;
    const char *mode = getenv("TS_VIT_ATTENTION");
    v->flash = c->head_dim == 128 && !(mode && strcmp(mode, "batched") == 0);
    if (mode && strcmp(mode, "flash") == 0 && c->head_dim != 128)
        return ts_fail(err, TS_EUNSUPPORTED, "TS_VIT_ATTENTION=flash needs head_dim 128, not %d",
                       c->head_dim);
    // TS_VIT_GELU=tanh: GELU in fc1's cuBLASLt epilogue (tanh approximation,
    // |error| < 5e-4, far below bf16's rounding) instead of the exact erf kernel.
    const char *gelu = getenv("TS_VIT_GELU");
    v->gelu_tanh = gelu && strcmp(gelu, "tanh") == 0;
    if (gelu && *gelu && !v->gelu_tanh && strcmp(gelu, "erf") != 0)
        return ts_fail(err, TS_EINVAL, "TS_VIT_GELU is '%s': erf or tanh", gelu);
    CU(cudaStreamCreateWithFlags(&v->up, cudaStreamNonBlocking));
    CU(cudaStreamCreateWithFlags(&v->compute, cudaStreamNonBlocking));
    CU(cudaStreamCreateWithFlags(&v->down, cudaStreamNonBlocking));
    BLAS(cublasCreate(&v->blas));
    BLAS(cublasSetStream(v->blas, v->compute));
    const char *tune = getenv("TS_VIT_AUTOTUNE");
    char msg[512];
    const char *e = gemm_init(&v->gemm, !(tune && strcmp(tune, "0") == 0), msg, sizeof msg);
    if (e) return ts_fail(err, TS_ECUDA, "cuBLASLt: %s", e);
    if (v->flash) CU(flash_attention_prepare());

    size_t D = (size_t)c->hidden, M = (size_t)max_batch * v->T, B = (size_t)max_batch;
    size_t H = (size_t)c->heads, hd = (size_t)c->head_dim;
    TRY(dalloc(v, &v->patches, B * v->G * v->Kp, err));
    TRY(dalloc(v, &v->h, M * D, err));
    TRY(dalloc(v, &v->xn, M * D, err));
    TRY(dalloc(v, &v->qkv, M * 3 * D, err));
    TRY(dalloc(v, &v->q, M * D, err));
    TRY(dalloc(v, &v->k, M * D, err));
    TRY(dalloc(v, &v->vv, M * D, err));
    TRY(dalloc(v, &v->att, M * D, err));
    TRY(dalloc(v, &v->tmp, M * D, err));
    TRY(dalloc(v, &v->f, M * (size_t)c->mlp, err));
    if (!v->flash) {
        TRY(dalloc(v, &v->S, B * H * v->T * v->Tp, err));
        std::vector<const void *> a(B * H), b(B * H);
        std::vector<void *> cc(B * H);
        for (size_t i = 0; i < B * H; i++) {
            a[i] = v->vv + i * v->T * hd;
            b[i] = v->S + i * v->T * v->Tp;
            cc[i] = v->att + (i / H) * v->T * D + (i % H) * hd;
        }
        TRY(dalloc(v, &v->attn_a, B * H, err));
        TRY(dalloc(v, &v->attn_b, B * H, err));
        TRY(dalloc(v, &v->attn_c, B * H, err));
        CU(cudaMemcpy(v->attn_a, a.data(), B * H * sizeof(void *), cudaMemcpyHostToDevice));
        CU(cudaMemcpy(v->attn_b, b.data(), B * H * sizeof(void *), cudaMemcpyHostToDevice));
        CU(cudaMemcpy(v->attn_c, cc.data(), B * H * sizeof(void *), cudaMemcpyHostToDevice));
    }
    size_t in = B * 3 * c->image_size * c->image_size, out = B * ts_vit_out_tokens(c) * ts_vit_out_dim(c);
    for (int s = 0; s < SLOTS; s++) {
        TRY(dalloc(v, &v->in_dev[s], in, err));
        TRY(dalloc(v, &v->out_dev[s], out, err));
        CU(cudaMallocHost(&v->in_host[s], in * sizeof(float)));
        CU(cudaMallocHost(&v->out_host[s], out * sizeof(uint16_t)));
        CU(cudaEventCreateWithFlags(&v->uploaded[s], cudaEventDisableTiming));
        CU(cudaEventCreateWithFlags(&v->computed[s], cudaEventDisableTiming));
        CU(cudaEventCreateWithFlags(&v->downloaded[s], cudaEventDisableTiming));
    }
    // weights' buffers
    size_t F = (size_t)c->mlp;
    TRY(dalloc(v, &v->patch_w, D * v->Kp, err));
    TRY(dalloc(v, &v->patch_b, D, err));
    TRY(dalloc(v, &v->cls, D, err));
    TRY(dalloc(v, &v->pos, (size_t)v->T * D, err));
    v->layers.resize((size_t)c->layers);
    for (Layer &L : v->layers) {
        TRY(dalloc(v, &L.qkv, 3 * D * D, err));
        TRY(dalloc(v, &L.proj_w, D * D, err));
        TRY(dalloc(v, &L.proj_b, D, err));
        TRY(dalloc(v, &L.fc1_w, F * D, err));
        TRY(dalloc(v, &L.fc1_b, F, err));
        TRY(dalloc(v, &L.fc2_w, D * F, err));
        TRY(dalloc(v, &L.fc2_b, D, err));
        TRY(dalloc(v, &L.q_norm, D, err));
        TRY(dalloc(v, &L.k_norm, D, err));
        TRY(dalloc(v, &L.norm1, D, err));
        TRY(dalloc(v, &L.norm2, D, err));
        TRY(dalloc(v, &L.ls1, D, err));
        TRY(dalloc(v, &L.ls2, D, err));
    }
    return TS_OK;
}

extern "C" void tsplug_vit_cuda_free(ts_vit_cuda *v) {
    if (!v) return;
    if (v->compute) cudaStreamSynchronize(v->compute);
    for (int s = 0; s < SLOTS; s++) {
        if (v->in_host[s]) cudaFreeHost(v->in_host[s]);
        if (v->out_host[s]) cudaFreeHost(v->out_host[s]);
        if (v->uploaded[s]) cudaEventDestroy(v->uploaded[s]);
        if (v->computed[s]) cudaEventDestroy(v->computed[s]);
        if (v->downloaded[s]) cudaEventDestroy(v->downloaded[s]);
    }
    for (void *p : v->allocs) cudaFree(p);
    gemm_free(&v->gemm);
    if (v->blas) cublasDestroy(v->blas);
    if (v->up) cudaStreamDestroy(v->up);
    if (v->compute) cudaStreamDestroy(v->compute);
    if (v->down) cudaStreamDestroy(v->down);
    delete v;
}


// Upload one logical tensor through a host staging buffer (pinned, reused).
static ts_status upload(ts_vit_model *m, ts_vit_tensor t, int layer, ts_dtype dt, void *dst,
                        void *stage, ts_error *err) {
    size_t n = ts_vit_tensor_numel(ts_vit_model_config(m), t);
    TRY(ts_vit_model_read(m, t, layer, dt, stage, err));
    CU(cudaMemcpy(dst, stage, n * ts_dtype_size(dt), cudaMemcpyHostToDevice));
    return TS_OK;
}

static ts_status load_weights(ts_vit_cuda *v, ts_vit_model *m, ts_error *err) {
    const ts_vit_config *c = &v->cfg;
    size_t D = (size_t)c->hidden, biggest = std::max({3 * D * D, (size_t)c->mlp * D,
                                                      (size_t)v->T * D, D * v->Kp});
    void *stage = NULL;
    CU(cudaMallocHost(&stage, biggest * sizeof(float)));
    ts_status s = TS_OK;
    // patch weight: [D, 3*p*p] padded to [D, Kp] with zeros
    size_t K = 3 * (size_t)c->patch_size * c->patch_size;
    std::vector<uint16_t> padded(D * v->Kp, 0);
    s = ts_vit_model_read(m, TS_VIT_PATCH_W, 0, TS_DTYPE_BF16, stage, err);
    if (s == TS_OK) {
        for (size_t r = 0; r < D; r++)
            memcpy(&padded[r * v->Kp], (uint16_t *)stage + r * K, K * 2);
        cudaError_t e = cudaMemcpy(v->patch_w, padded.data(), padded.size() * 2, cudaMemcpyHostToDevice);
        if (e != cudaSuccess) s = ts_fail(err, TS_ECUDA, "upload: %s", cudaGetErrorString(e));
    }
    if (s == TS_OK) s = upload(m, TS_VIT_PATCH_B, 0, TS_DTYPE_BF16, v->patch_b, stage, err);
    if (s == TS_OK) s = upload(m, TS_VIT_CLS, 0, TS_DTYPE_F32, v->cls, stage, err);
    if (s == TS_OK) s = upload(m, TS_VIT_POS, 0, TS_DTYPE_F32, v->pos, stage, err);
    for (int l = 0; s == TS_OK && l < c->layers; l++) {
        Layer &L = v->layers[(size_t)l];
        struct { ts_vit_tensor t; ts_dtype dt; void *dst; } list[] = {
            {TS_VIT_QKV, TS_DTYPE_BF16, L.qkv},      {TS_VIT_PROJ_W, TS_DTYPE_BF16, L.proj_w},
            {TS_VIT_PROJ_B, TS_DTYPE_BF16, L.proj_b}, {TS_VIT_FC1_W, TS_DTYPE_BF16, L.fc1_w},
            {TS_VIT_FC1_B, TS_DTYPE_BF16, L.fc1_b},  {TS_VIT_FC2_W, TS_DTYPE_BF16, L.fc2_w},
            {TS_VIT_FC2_B, TS_DTYPE_BF16, L.fc2_b},  {TS_VIT_NORM1, TS_DTYPE_F32, L.norm1},
            {TS_VIT_NORM2, TS_DTYPE_F32, L.norm2},   {TS_VIT_LS1, TS_DTYPE_F32, L.ls1},
            {TS_VIT_LS2, TS_DTYPE_F32, L.ls2},       {TS_VIT_Q_NORM, TS_DTYPE_F32, L.q_norm},
            {TS_VIT_K_NORM, TS_DTYPE_F32, L.k_norm},
        };
        for (auto &it : list) {
            if (!c->qk_norm && (it.t == TS_VIT_Q_NORM || it.t == TS_VIT_K_NORM)) continue;
            s = upload(m, it.t, l, it.dt, it.dst, stage, err);
            if (s != TS_OK) break;
        }
    }
    cudaFreeHost(stage);
    return s;
}

extern "C" ts_status tsplug_vit_cuda_new(ts_vit_model *m, int max_batch, ts_vit_cuda **out,
                                     ts_error *err) {
    *out = NULL;
    TRY(check_device(err));
    ts_vit_cuda *v = new ts_vit_cuda();
    ts_status s = setup(v, ts_vit_model_config(m), max_batch, err);
    if (s == TS_OK) s = load_weights(v, m, err);
    if (s != TS_OK) {
        tsplug_vit_cuda_free(v);
        return s;
    }
    *out = v;
    return TS_OK;
}

static ts_status fill_random(ts_vit_cuda *v, uint64_t seed, ts_error *err) {
    const ts_vit_config *c = &v->cfg;
    size_t D = (size_t)c->hidden, F = (size_t)c->mlp;
    float r3 = 1.7320508f; // uniform amplitude for unit variance
    uint64_t k = seed * 1000;
    cudaStream_t s = v->compute;
    launch_fill_bf16(v->patch_w, D * v->Kp, k++, r3 / sqrtf((float)v->Kp), 0, s);
    launch_fill_bf16(v->patch_b, D, k++, 0.1f, 0, s);
    launch_fill_f32(v->cls, D, k++, 0.5f, 0, s);
    launch_fill_f32(v->pos, (size_t)v->T * D, k++, 0.3f, 0, s);
    for (Layer &L : v->layers) {
        launch_fill_bf16(L.qkv, 3 * D * D, k++, r3 / sqrtf((float)D), 0, s);
        launch_fill_bf16(L.proj_w, D * D, k++, r3 / sqrtf((float)D), 0, s);
        launch_fill_bf16(L.proj_b, D, k++, 0.1f, 0, s);
        launch_fill_bf16(L.fc1_w, F * D, k++, r3 / sqrtf((float)D), 0, s);
        launch_fill_bf16(L.fc1_b, F, k++, 0.1f, 0, s);
        launch_fill_bf16(L.fc2_w, D * F, k++, r3 / sqrtf((float)F), 0, s);
        launch_fill_bf16(L.fc2_b, D, k++, 0.1f, 0, s);
        launch_fill_f32(L.q_norm, D, k++, 0.2f, 1, s);
        launch_fill_f32(L.k_norm, D, k++, 0.2f, 1, s);
        launch_fill_f32(L.norm1, D, k++, 0.2f, 1, s);
        launch_fill_f32(L.norm2, D, k++, 0.2f, 1, s);
        launch_fill_f32(L.ls1, D, k++, 0.05f, 0.1f, s);
        launch_fill_f32(L.ls2, D, k++, 0.05f, 0.1f, s);
        LAUNCHED();
    }
    CU(cudaStreamSynchronize(s));
    return TS_OK;
}

extern "C" ts_status tsplug_vit_cuda_new_random(const ts_vit_config *c, int max_batch, uint64_t seed,
                                            ts_vit_cuda **out, ts_error *err) {
    *out = NULL;
    TRY(check_device(err));
    ts_vit_cuda *v = new ts_vit_cuda();
    ts_status s = setup(v, c, max_batch, err);
    if (s == TS_OK) s = fill_random(v, seed, err);
    if (s != TS_OK) {
        tsplug_vit_cuda_free(v);
        return s;
    }
    *out = v;
    return TS_OK;
}

static ts_status attention(ts_vit_cuda *v, int n, ts_error *err) {
    const ts_vit_config *c = &v->cfg;
    int T = v->T, hd = c->head_dim, H = c->heads;
    float scale = 1.f / sqrtf((float)hd);
    if (v->flash) {
        launch_flash_attention(v->q, v->k, v->vv, v->att, n, H, T, scale, v->compute);
        LAUNCHED();
        return TS_OK;
    }
    const float one = 1.f, zero = 0.f;
    // S[query][key] = q . k, per (tile, head); row stride Tp
    BLAS(cublasGemmStridedBatchedEx(v->blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hd, &one, v->k,
                                    CUDA_R_16BF, hd, (long long)T * hd, v->q, CUDA_R_16BF, hd,
                                    (long long)T * hd, &zero, v->S, CUDA_R_16BF, v->Tp,
                                    (long long)T * v->Tp, n * H, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT));
    launch_softmax(v->S, n * H * T, T, v->Tp, scale, v->compute);
    LAUNCHED();
    // att[b, t, h*hd + d] = sum_key P[t][key] v[key][d]
    BLAS(cublasGemmBatchedEx(v->blas, CUBLAS_OP_N, CUBLAS_OP_N, hd, T, T, &one, v->attn_a,
                             CUDA_R_16BF, hd, v->attn_b, CUDA_R_16BF, v->Tp, &zero, v->attn_c,
                             CUDA_R_16BF, c->hidden, n * H, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT));
    return TS_OK;
}

// The forward of n tiles from in (f32, device) to out (bf16, device), queued on `compute`.
static ts_status forward(ts_vit_cuda *v, const float *in, bf16 *out, int n, ts_error *err) {
    const ts_vit_config *c = &v->cfg;
    int D = c->hidden, F = c->mlp, M = n * v->T;
    cudaStream_t s = v->compute;
    launch_im2col(in, v->patches, n, c->image_size, c->patch_size, v->Kp, s);
    LAUNCHED();
    GEMM(v->patches, v->patch_w, v->patch_b, v->tmp, n * v->G, D, v->Kp);
    launch_embed(v->tmp, v->cls, v->pos, v->h, n, v->T, D, s);
    launch_residual_norm(v->h, NULL, NULL, v->layers[0].norm1, v->xn, M, D, c->eps, s);
    LAUNCHED();
    for (int l = 0; l < c->layers; l++) {
        const Layer &L = v->layers[(size_t)l];
        GEMM(v->xn, L.qkv, NULL, v->qkv, M, 3 * D, D);
        launch_qk_norm_split(v->qkv, L.q_norm, L.k_norm, v->q, v->k, v->vv, n, v->T, D, c->heads,
                             c->qk_norm, c->eps, s);
        LAUNCHED();
        TRY(attention(v, n, err));
        GEMM(v->att, L.proj_w, L.proj_b, v->tmp, M, D, D);
        launch_residual_norm(v->h, v->tmp, L.ls1, L.norm2, v->xn, M, D, c->eps, s);
        LAUNCHED();
        GEMM_ACT(v->xn, L.fc1_w, L.fc1_b, v->f, M, F, D, v->gelu_tanh);
        if (!v->gelu_tanh) launch_gelu(v->f, (size_t)M * F, s);
        LAUNCHED();
        GEMM(v->f, L.fc2_w, L.fc2_b, v->tmp, M, D, F);
        bool last = l + 1 == c->layers;
        launch_residual_norm(v->h, v->tmp, L.ls2, last ? NULL : v->layers[(size_t)l + 1].norm1,
                             last ? NULL : v->xn, M, D, c->eps, s);
        LAUNCHED();
    }
    launch_pixel_shuffle(v->h, out, n, ts_vit_grid(c), D, s);
    LAUNCHED();
    return TS_OK;
}

extern "C" ts_status tsplug_vit_cuda_submit(ts_vit_cuda *v, const float *tiles, int n, ts_error *err) {
    if (n <= 0 || n > v->max_batch)
        return ts_fail(err, TS_EINVAL, "batch of %d tiles (1..%d)", n, v->max_batch);
    if (v->queued == SLOTS) return ts_fail(err, TS_EINVAL, "two batches already queued");
    int slot = (v->head + v->queued) % SLOTS;
    size_t in = (size_t)n * 3 * v->cfg.image_size * v->cfg.image_size;
    memcpy(v->in_host[slot], tiles, in * sizeof(float));
    CU(cudaMemcpyAsync(v->in_dev[slot], v->in_host[slot], in * sizeof(float),
                       cudaMemcpyHostToDevice, v->up));
    CU(cudaEventRecord(v->uploaded[slot], v->up));
    CU(cudaStreamWaitEvent(v->compute, v->uploaded[slot], 0));
    TRY(forward(v, v->in_dev[slot], v->out_dev[slot], n, err));
    CU(cudaEventRecord(v->computed[slot], v->compute));
    CU(cudaStreamWaitEvent(v->down, v->computed[slot], 0));
    size_t out = (size_t)n * ts_vit_out_tokens(&v->cfg) * ts_vit_out_dim(&v->cfg);
    CU(cudaMemcpyAsync(v->out_host[slot], v->out_dev[slot], out * 2, cudaMemcpyDeviceToHost,
                       v->down));
    CU(cudaEventRecord(v->downloaded[slot], v->down));
    v->slot_n[slot] = n;
    v->queued++;
    return TS_OK;
}

extern "C" ts_status tsplug_vit_cuda_collect(ts_vit_cuda *v, uint16_t *out, int *n, ts_error *err) {
    *n = 0;
    if (v->queued == 0) return ts_fail(err, TS_EINVAL, "no batch queued");
    int slot = v->head;
    v->head = (v->head + 1) % SLOTS;
    v->queued--;
    CU(cudaEventSynchronize(v->downloaded[slot]));
    CU(cudaGetLastError());
    *n = v->slot_n[slot];
    memcpy(out, v->out_host[slot],
           (size_t)*n * ts_vit_out_tokens(&v->cfg) * ts_vit_out_dim(&v->cfg) * 2);
    return TS_OK;
}

extern "C" ts_status tsplug_vit_cuda_forward(ts_vit_cuda *v, const float *tiles, int n, uint16_t *out,
                                         ts_error *err) {
    int got = 0;
    TRY(tsplug_vit_cuda_submit(v, tiles, n, err));
    return tsplug_vit_cuda_collect(v, out, &got, err);
}

extern "C" ts_status tsplug_vit_cuda_time(ts_vit_cuda *v, int n, int iters, double *ms,
                                      ts_error *err) {
    *ms = 0;
    if (n <= 0 || n > v->max_batch || iters <= 0)
        return ts_fail(err, TS_EINVAL, "time: batch %d (1..%d), iterations %d", n, v->max_batch,
                       iters);
    size_t in = (size_t)n * 3 * v->cfg.image_size * v->cfg.image_size;
    launch_fill_f32(v->in_dev[0], in, 77, 1.7f, 0, v->compute);
    LAUNCHED();
    TRY(forward(v, v->in_dev[0], v->out_dev[0], n, err)); // warm-up (and GEMM autotuning)
    CU(cudaStreamSynchronize(v->compute));
    cudaEvent_t e0, e1;
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    std::vector<double> t;
    ts_status s = TS_OK;
    for (int i = 0; i < iters && s == TS_OK; i++) {
        cudaEventRecord(e0, v->compute);
        s = forward(v, v->in_dev[0], v->out_dev[0], n, err);
        cudaEventRecord(e1, v->compute);
        cudaError_t e = cudaEventSynchronize(e1);
        if (s == TS_OK && e != cudaSuccess)
            s = ts_fail(err, TS_ECUDA, "forward: %s", cudaGetErrorString(e));
        float f = 0;
        cudaEventElapsedTime(&f, e0, e1);
        t.push_back(f);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (s != TS_OK) return s;
    std::sort(t.begin(), t.end());
    *ms = t[t.size() / 2];
    return TS_OK;
}

// Median ms of `reps` runs of one stage of layer 0 (after a warm-up run).
template <typename F> static ts_status time_stage(ts_vit_cuda *v, int reps, F stage, double *ms,
                                                 ts_error *err) {
    TRY(stage());
    cudaEvent_t e0, e1;
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    std::vector<float> t;
    ts_status s = TS_OK;
    for (int i = 0; i < reps && s == TS_OK; i++) {
        cudaEventRecord(e0, v->compute);
        s = stage();
        cudaEventRecord(e1, v->compute);
        cudaEventSynchronize(e1);
        float f = 0;
        cudaEventElapsedTime(&f, e0, e1);
        t.push_back(f);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    CU(cudaGetLastError());
    std::sort(t.begin(), t.end());
    *ms = t.empty() ? 0 : t[t.size() / 2];
    return s;
}

extern "C" ts_status tsplug_vit_cuda_profile(ts_vit_cuda *v, int n, double ms[TS_VIT_STAGES],
                                         ts_error *err) {
    if (n <= 0 || n > v->max_batch) return ts_fail(err, TS_EINVAL, "profile: batch %d", n);
    const ts_vit_config *c = &v->cfg;
    int D = c->hidden, F = c->mlp, M = n * v->T;
    cudaStream_t s = v->compute;
    const Layer &L = v->layers[0];
    launch_fill_f32(v->h, (size_t)M * D, 5, 1.f, 0, s);
    launch_fill_bf16(v->xn, (size_t)M * D, 6, 1.f, 0, s);
    LAUNCHED();
    int reps = 5;
    TRY(time_stage(v, reps, [&] {
        GEMM(v->xn, L.qkv, NULL, v->qkv, M, 3 * D, D);
        return TS_OK;
    }, &ms[0], err));
    TRY(time_stage(v, reps, [&] {
        launch_qk_norm_split(v->qkv, L.q_norm, L.k_norm, v->q, v->k, v->vv, n, v->T, D, c->heads,
                             c->qk_norm, c->eps, s);
        LAUNCHED();
        return TS_OK;
    }, &ms[1], err));
    TRY(time_stage(v, reps, [&] { return attention(v, n, err); }, &ms[2], err));
    TRY(time_stage(v, reps, [&] {
        GEMM(v->att, L.proj_w, L.proj_b, v->tmp, M, D, D);
        return TS_OK;
    }, &ms[3], err));
    TRY(time_stage(v, reps, [&] {
        launch_residual_norm(v->h, v->tmp, L.ls1, L.norm2, v->xn, M, D, c->eps, s);
        LAUNCHED();
        return TS_OK;
    }, &ms[4], err));
    TRY(time_stage(v, reps, [&] {
        GEMM_ACT(v->xn, L.fc1_w, L.fc1_b, v->f, M, F, D, v->gelu_tanh);
        return TS_OK;
    }, &ms[5], err));
    TRY(time_stage(v, reps, [&] { // 0 when fc1's epilogue does it
        if (!v->gelu_tanh) launch_gelu(v->f, (size_t)M * F, s);
        LAUNCHED();
        return TS_OK;
    }, &ms[6], err));
    TRY(time_stage(v, reps, [&] {
        GEMM(v->f, L.fc2_w, L.fc2_b, v->tmp, M, D, F);
        return TS_OK;
    }, &ms[7], err));
    return TS_OK;
}

extern "C" ts_status tsplug_vit_cuda_gemm_peak(int m, int n, int k, int iters, double *tflops,
                                           ts_error *err) {
    *tflops = 0;
    TRY(check_device(err));
    bf16 *x = NULL, *w = NULL, *y = NULL;
    CU(cudaMalloc(&x, (size_t)m * k * 2));
    CU(cudaMalloc(&w, (size_t)n * k * 2));
    CU(cudaMalloc(&y, (size_t)m * n * 2));
    launch_fill_bf16(x, (size_t)m * k, 1, 1.f, 0, 0);
    launch_fill_bf16(w, (size_t)n * k, 2, 1.f, 0, 0);
    Gemm g;
    char msg[512];
    const char *e = gemm_init(&g, 1, msg, sizeof msg);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    std::vector<float> t;
    for (int i = 0; i < iters + 1 && !e; i++) {
        cudaEventRecord(e0, 0);
        e = gemm_run(&g, x, w, NULL, y, m, n, k, 0, 0, msg, sizeof msg);
        cudaEventRecord(e1, 0);
        cudaEventSynchronize(e1);
        float f = 0;
        cudaEventElapsedTime(&f, e0, e1);
        if (i > 0) t.push_back(f); // the first includes autotuning
    }
    cudaError_t last = cudaGetLastError();
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    gemm_free(&g);
    cudaFree(x);
    cudaFree(w);
    cudaFree(y);
    if (e) return ts_fail(err, TS_ECUDA, "GEMM peak: %s", e);
    if (last != cudaSuccess) return ts_fail(err, TS_ECUDA, "GEMM peak: %s", cudaGetErrorString(last));
    std::sort(t.begin(), t.end());
    *tflops = 2.0 * m * n * k / (t[t.size() / 2] * 1e-3) / 1e12;
    return TS_OK;
}
