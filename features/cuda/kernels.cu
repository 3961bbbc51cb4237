// Element-wise and row-wise kernels of the InternViT forward. Math in fp32;
// activations between GEMMs in bf16; the residual stream in fp32.
#include "features/cuda/kernels.cuh"

namespace {

__device__ __forceinline__ float block_sum(float v, float *red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads(); // red may still be read by a previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float t = 0;
    for (int i = 0; i < (int)(blockDim.x / 32); i++) t += red[i];
    return t;
}

__global__ void k_im2col(const float *tiles, bf16 *patches, int image, int ps, int kp, int grid,
                         size_t total) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= total) return;
    int k = (int)(i % kp);
    size_t row = i / kp;
    int p = (int)(row % ((size_t)grid * grid));
    size_t b = row / ((size_t)grid * grid);
    float v = 0.f;
    if (k < 3 * ps * ps) {
        int c = k / (ps * ps), y = (k / ps) % ps, x = k % ps;
        int py = p / grid, px = p % grid;
        v = tiles[((b * 3 + c) * image + (size_t)(py * ps + y)) * image + (size_t)(px * ps + x)];
    }
    patches[i] = __float2bfloat16(v);
}

__global__ void k_embed(const bf16 *patch_out, const float *cls, const float *pos, float *h,
                        int tokens, int D) {
    size_t row = blockIdx.x; // b * tokens + t
    int t = (int)(row % tokens);
    size_t b = row / tokens;
    const float *pr = pos + (size_t)t * D;
    float *hr = h + row * D;
    if (t == 0) {
        for (int i = threadIdx.x; i < D; i += blockDim.x) hr[i] = cls[i] + pr[i];
    } else {
        const bf16 *src = patch_out + (b * (tokens - 1) + (size_t)(t - 1)) * D;
        for (int i = threadIdx.x; i < D; i += blockDim.x) hr[i] = __bfloat162float(src[i]) + pr[i];
    }
}

__global__ void k_residual_norm(float *h, const bf16 *y, const float *ls, const float *w, bf16 *out,
                                int D, float eps) {
    __shared__ float red[32];
    float *hr = h + (size_t)blockIdx.x * D;
    float ss = 0;
    if (y) {
        const bf16 *yr = y + (size_t)blockIdx.x * D;
        for (int i = threadIdx.x; i < D; i += blockDim.x) {
            float v = hr[i] + ls[i] * __bfloat162float(yr[i]);
            hr[i] = v;
            ss += v * v;
        }
    } else {
        for (int i = threadIdx.x; i < D; i += blockDim.x) ss += hr[i] * hr[i];
    }
    if (!out) return;
    float inv = rsqrtf(block_sum(ss, red) / D + eps);
    bf16 *orow = out + (size_t)blockIdx.x * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) orow[i] = __float2bfloat16(hr[i] * inv * w[i]);
}

__global__ void k_qk_norm_split(const bf16 *qkv, const float *qw, const float *kw, bf16 *q, bf16 *k,
                                bf16 *v, int tokens, int D, int heads, int qk_norm, float eps) {
    __shared__ float red[32];
    size_t row = blockIdx.x;
    int t = (int)(row % tokens);
    size_t b = row / tokens;
    int hd = D / heads;
    const bf16 *src = qkv + row * 3 * (size_t)D;
    float inv[2] = {1.f, 1.f};
    if (qk_norm)
        for (int part = 0; part < 2; part++) {
            float ss = 0;
            for (int i = threadIdx.x; i < D; i += blockDim.x) {
                float x = __bfloat162float(src[(size_t)part * D + i]);
                ss += x * x;
            }
            inv[part] = rsqrtf(block_sum(ss, red) / D + eps);
        }
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        int head = i / hd, d = i % hd;
        size_t dst = ((b * heads + head) * tokens + t) * hd + d;
        float xq = __bfloat162float(src[i]) * inv[0], xk = __bfloat162float(src[D + i]) * inv[1];
        if (qk_norm) {
            xq *= qw[i];
            xk *= kw[i];
        }
        q[dst] = __float2bfloat16(xq);
        k[dst] = __float2bfloat16(xk);
        v[dst] = src[2 * (size_t)D + i];
    }
}

// Sum of two values over the block, for blocks of whole warps (<= 1024 threads).
__device__ __forceinline__ float2 block_sum2(float a, float b, float (*red)[32]) {
    for (int o = 16; o > 0; o >>= 1) {
        a += __shfl_xor_sync(0xffffffffu, a, o);
        b += __shfl_xor_sync(0xffffffffu, b, o);
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        red[0][warp] = a;
        red[1][warp] = b;
    }
    __syncthreads();
    float2 r = make_float2(0.f, 0.f);
    for (int i = 0; i < (int)(blockDim.x / 32); i++) {
        r.x += red[0][i];
        r.y += red[1][i];
    }
    return r;
}

// The vectorized forms below give each thread 8 consecutive channels (16-byte
// bf16 accesses) and read every row once; they need D % 8 == 0 (and
// head_dim % 8 == 0) and D <= 8192. Blocks are D/8 threads rounded up to a warp.
__global__ void k_qk_norm_split8(const bf16 *qkv, const float *qw, const float *kw, bf16 *q, bf16 *k,
                                 bf16 *v, int tokens, int D, int heads, int qk_norm, float eps) {
    __shared__ float red[2][32];
    size_t row = blockIdx.x;
    int t = (int)(row % tokens);
    size_t b = row / tokens;
    int i = threadIdx.x * 8, hd = D / heads;
    bool active = i < D;
    const bf16 *src = qkv + row * 3 * (size_t)D;
    uint4 rq = make_uint4(0, 0, 0, 0), rk = rq, rv = rq;
    float xq[8], xk[8], ssq = 0, ssk = 0;
    if (active) {
        rq = *reinterpret_cast<const uint4 *>(src + i);
        rk = *reinterpret_cast<const uint4 *>(src + D + i);
        rv = *reinterpret_cast<const uint4 *>(src + 2 * (size_t)D + i);
    }
    const bf16 *eq = reinterpret_cast<const bf16 *>(&rq), *ek = reinterpret_cast<const bf16 *>(&rk);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        xq[j] = __bfloat162float(eq[j]);
        xk[j] = __bfloat162float(ek[j]);
        ssq += xq[j] * xq[j];
        ssk += xk[j] * xk[j];
    }
    float iq = 1.f, ik = 1.f;
    if (qk_norm) {
        float2 ss = block_sum2(ssq, ssk, red);
        iq = rsqrtf(ss.x / D + eps);
        ik = rsqrtf(ss.y / D + eps);
    }
    if (!active) return;
    size_t dst = ((b * heads + (size_t)(i / hd)) * tokens + t) * hd + (size_t)(i % hd);
    uint4 oq, ok;
    bf16 *pq = reinterpret_cast<bf16 *>(&oq), *pk = reinterpret_cast<bf16 *>(&ok);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        pq[j] = __float2bfloat16(xq[j] * iq * (qk_norm ? qw[i + j] : 1.f));
        pk[j] = __float2bfloat16(xk[j] * ik * (qk_norm ? kw[i + j] : 1.f));
    }
    *reinterpret_cast<uint4 *>(q + dst) = oq;
    *reinterpret_cast<uint4 *>(k + dst) = ok;
    *reinterpret_cast<uint4 *>(v + dst) = rv;
}

__global__ void k_residual_norm8(float *h, const bf16 *y, const float *ls, const float *w, bf16 *out,
                                 int D, float eps) {
    __shared__ float red[2][32];
    int i = threadIdx.x * 8;
    bool active = i < D;
    float *hr = h + (size_t)blockIdx.x * D + i;
    float x[8], ss = 0;
    if (active) {
        float4 a = *reinterpret_cast<const float4 *>(hr), c = *reinterpret_cast<const float4 *>(hr + 4);
        x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w, x[4] = c.x, x[5] = c.y, x[6] = c.z, x[7] = c.w;
        if (y) {
            uint4 ry = *reinterpret_cast<const uint4 *>(y + (size_t)blockIdx.x * D + i);
            const bf16 *ey = reinterpret_cast<const bf16 *>(&ry);
#pragma unroll
            for (int j = 0; j < 8; j++) x[j] += ls[i + j] * __bfloat162float(ey[j]);
            *reinterpret_cast<float4 *>(hr) = make_float4(x[0], x[1], x[2], x[3]);
            *reinterpret_cast<float4 *>(hr + 4) = make_float4(x[4], x[5], x[6], x[7]);
        }
#pragma unroll
        for (int j = 0; j < 8; j++) ss += x[j] * x[j];
    }
    if (!out) return;
    float inv = rsqrtf(block_sum2(ss, 0.f, red).x / D + eps);
    if (!active) return;
    uint4 o;
    bf16 *po = reinterpret_cast<bf16 *>(&o);
#pragma unroll
    for (int j = 0; j < 8; j++) po[j] = __float2bfloat16(x[j] * inv * w[i + j]);
    *reinterpret_cast<uint4 *>(out + (size_t)blockIdx.x * D + i) = o;
}

// One warp per row; the row (<= a few KB) stays in L1 across the passes.
__global__ void k_softmax(bf16 *S, int rows, int n, int ld, float scale_log2) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return;
    bf16 *r = S + (size_t)row * ld;
    float mx = -INFINITY;
    for (int j = lane; j < n; j += 32) mx = fmaxf(mx, __bfloat162float(r[j]));
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0;
    for (int j = lane; j < n; j += 32) sum += exp2f((__bfloat162float(r[j]) - mx) * scale_log2);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    float inv = 1.f / sum;
    for (int j = lane; j < n; j += 32)
        r[j] = __float2bfloat16(exp2f((__bfloat162float(r[j]) - mx) * scale_log2) * inv);
}

__global__ void k_gelu(bf16 *x, size_t n) {
    size_t i = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) * 8;
    if (i + 8 <= n) {
        uint4 raw = *reinterpret_cast<uint4 *>(x + i);
        bf16 *e = reinterpret_cast<bf16 *>(&raw);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            float f = __bfloat162float(e[j]);
            e[j] = __float2bfloat16(0.5f * f * (1.f + erff(f * 0.70710678118654752f)));
        }
        *reinterpret_cast<uint4 *>(x + i) = raw;
    } else {
        for (; i < n; i++) {
            float f = __bfloat162float(x[i]);
            x[i] = __float2bfloat16(0.5f * f * (1.f + erff(f * 0.70710678118654752f)));
        }
    }
}

__global__ void k_pixel_shuffle(const float *h, bf16 *out, int grid, int D) {
    // one block per (b, output token, quarter)
    int half = grid / 2, tokens = grid * grid + 1;
    size_t idx = blockIdx.x;
    int q = (int)(idx % 4);
    size_t bo = idx / 4;
    int o = (int)(bo % ((size_t)half * half));
    size_t b = bo / ((size_t)half * half);
    int a = o / half, bb = o % half;
    int src = 1 + (2 * a + q / 2) * grid + 2 * bb + q % 2;
    const float *hr = h + (b * tokens + (size_t)src) * D;
    bf16 *orow = out + bo * 4 * (size_t)D + (size_t)q * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) orow[i] = __float2bfloat16(hr[i]);
}

__device__ __forceinline__ float hash_uniform(uint64_t seed, size_t i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f; // [-1, 1)
}

__global__ void k_fill_bf16(bf16 *x, size_t n, uint64_t seed, float amp, float offset) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) x[i] = __float2bfloat16(offset + amp * hash_uniform(seed, i));
}

__global__ void k_fill_f32(float *x, size_t n, uint64_t seed, float amp, float offset) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) x[i] = offset + amp * hash_uniform(seed, i);
}

unsigned blocks_for(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

} // namespace

void launch_im2col(const float *tiles, bf16 *patches, int batch, int image, int ps, int kp,
                   cudaStream_t s) {
    int grid = image / ps;
    size_t total = (size_t)batch * grid * grid * kp;
    k_im2col<<<blocks_for(total, 256), 256, 0, s>>>(tiles, patches, image, ps, kp, grid, total);
}

void launch_embed(const bf16 *patch_out, const float *cls, const float *pos, float *h, int batch,
                  int tokens, int D, cudaStream_t s) {
    k_embed<<<(unsigned)((size_t)batch * tokens), 256, 0, s>>>(patch_out, cls, pos, h, tokens, D);
}

static bool vec8(int D) { return D % 8 == 0 && D <= 8192; }
static unsigned vec8_threads(int D) { return (unsigned)((D / 8 + 31) / 32 * 32); }

void launch_residual_norm(float *h, const bf16 *y, const float *ls, const float *w, bf16 *out,
                          int M, int D, float eps, cudaStream_t s) {
    if (vec8(D)) k_residual_norm8<<<(unsigned)M, vec8_threads(D), 0, s>>>(h, y, ls, w, out, D, eps);
    else k_residual_norm<<<(unsigned)M, 256, 0, s>>>(h, y, ls, w, out, D, eps);
}

void launch_qk_norm_split(const bf16 *qkv, const float *qw, const float *kw, bf16 *q, bf16 *k,
                          bf16 *v, int batch, int tokens, int D, int heads, int qk_norm, float eps,
                          cudaStream_t s) {
    unsigned rows = (unsigned)((size_t)batch * tokens);
    if (vec8(D) && (D / heads) % 8 == 0)
        k_qk_norm_split8<<<rows, vec8_threads(D), 0, s>>>(qkv, qw, kw, q, k, v, tokens, D, heads,
                                                          qk_norm, eps);
    else
        k_qk_norm_split<<<rows, 256, 0, s>>>(qkv, qw, kw, q, k, v, tokens, D, heads, qk_norm, eps);
}

void launch_softmax(bf16 *S, int rows, int n, int ld, float scale, cudaStream_t s) {
    k_softmax<<<blocks_for((size_t)rows, 8), 256, 0, s>>>(S, rows, n, ld,
                                                          scale * 1.4426950408889634f);
}

void launch_gelu(bf16 *x, size_t n, cudaStream_t s) {
    k_gelu<<<blocks_for((n + 7) / 8, 256), 256, 0, s>>>(x, n);
}

void launch_pixel_shuffle(const float *h, bf16 *out, int batch, int grid, int D, cudaStream_t s) {
    size_t rows = (size_t)batch * (grid / 2) * (grid / 2) * 4;
    k_pixel_shuffle<<<(unsigned)rows, 256, 0, s>>>(h, out, grid, D);
}

void launch_fill_bf16(bf16 *x, size_t n, uint64_t seed, float amp, float offset, cudaStream_t s) {
    k_fill_bf16<<<blocks_for(n, 256), 256, 0, s>>>(x, n, seed, amp, offset);
}

void launch_fill_f32(float *x, size_t n, uint64_t seed, float amp, float offset, cudaStream_t s) {
    k_fill_f32<<<blocks_for(n, 256), 256, 0, s>>>(x, n, seed, amp, offset);
}
