// Row-major linear layers on cuBLASLt: Y[M,N] = X[M,K] . W[N,K]^T (+ bias[N]),
// bf16 operands, fp32 accumulation and scaling, bf16 output, optionally
// followed by cuBLASLt's GELU epilogue (the tanh approximation). Plans (layouts
// + the algorithm) are cached per shape; with autotune the few best
// heuristic candidates are timed once on first use.
#ifndef TS_FEATURES_CUDA_GEMM_CUH
#define TS_FEATURES_CUDA_GEMM_CUH

#include <cublasLt.h>

#include "features/cuda/kernels.cuh"

struct GemmPlan {
    int M, N, K, bias, gelu;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
};

#define GEMM_MAX_PLANS 64

struct Gemm {
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_size;
    int autotune;
    GemmPlan plans[GEMM_MAX_PLANS];
    int nplans;
};

// Returns a message (static or in `msg`) on failure, NULL on success.
const char *gemm_init(Gemm *g, int autotune, char *msg, size_t msg_size);
const char *gemm_run(Gemm *g, const bf16 *x, const bf16 *w, const bf16 *bias, bf16 *y, int M, int N,
                     int K, int gelu, cudaStream_t s, char *msg, size_t msg_size);
void gemm_free(Gemm *g);

#endif
