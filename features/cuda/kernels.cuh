// The element-wise and row-wise kernels of the InternViT forward, and the
// fused attention kernel. Launch helpers take the stream and never
// synchronize; callers check cudaGetLastError() after each launch.
#ifndef TS_FEATURES_CUDA_KERNELS_CUH
#define TS_FEATURES_CUDA_KERNELS_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

// tiles f32 [B,3,S,S] -> patches bf16 [B*g*g, kp] (k = (c*ps + y)*ps + x, zero past 3*ps*ps).
void launch_im2col(const float *tiles, bf16 *patches, int batch, int image, int ps, int kp,
                   cudaStream_t s);
// h f32 [B*T, D]: row 0 of each tile = cls + pos[0]; row 1+p = patch_out[p] + pos[1+p].
void launch_embed(const bf16 *patch_out, const float *cls, const float *pos, float *h, int batch,
                  int tokens, int D, cudaStream_t s);
// Per row of h f32 [M, D]: if y, h += ls * y (bf16); then if out, out = bf16(rmsnorm(h) * w).
void launch_residual_norm(float *h, const bf16 *y, const float *ls, const float *w, bf16 *out,
                          int M, int D, float eps, cudaStream_t s);
// qkv bf16 [B*T, 3D] -> q, k (RMS-normalized over the full width D, times qw/kw when
// qk_norm) and v, each bf16 [B*H, T, hd].
void launch_qk_norm_split(const bf16 *qkv, const float *qw, const float *kw, bf16 *q, bf16 *k,
                          bf16 *v, int batch, int tokens, int D, int heads, int qk_norm, float eps,
                          cudaStream_t s);
// In place over rows of S bf16 [rows, ld]: softmax(scale * S[:, :n]).
void launch_softmax(bf16 *S, int rows, int n, int ld, float scale, cudaStream_t s);
// In place exact GELU (erf) over n bf16 values.
void launch_gelu(bf16 *x, size_t n, cudaStream_t s);
// h f32 [B*T, D] -> out bf16 [B, (g/2)^2, 4D], CLS dropped, pixel shuffle 0.5.
void launch_pixel_shuffle(const float *h, bf16 *out, int batch, int grid, int D, cudaStream_t s);
// Uniform random values in [offset - amp, offset + amp], a hash of (seed, index).
void launch_fill_bf16(bf16 *x, size_t n, uint64_t seed, float amp, float offset, cudaStream_t s);
void launch_fill_f32(float *x, size_t n, uint64_t seed, float amp, float offset, cudaStream_t s);
// Fused attention (flash-style, online softmax, mma.sync bf16 with fp32
// accumulation) for head_dim 128: q, k, v bf16 [B*H, T, 128] -> o bf16 [B, T, H*128].
void launch_flash_attention(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *o, int batch,
                            int heads, int tokens, float scale, cudaStream_t s);
// Shared memory the flash kernel needs (set as its dynamic limit once).
cudaError_t flash_attention_prepare(void);

#endif
