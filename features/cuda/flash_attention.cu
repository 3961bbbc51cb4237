// Fused attention for head_dim 128 (flash-style): per block 128 queries of
// one (tile, head), 4 warps of 32 query rows (two m16 row tiles, so every
// K/V fragment read from shared memory feeds two tensor-core products);
// keys and values stream through shared memory 64 at a time,
// double-buffered with cp.async so the next block's copy overlaps this
// block's math; S = Q K^T and O += P V on the tensor cores (mma.sync
// m16n8k16, bf16 in, fp32 accumulate) with the online softmax in registers,
// so the T x T scores never touch device memory.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16): lane = 4*g + t;
// A rows g and g+8, columns 2t, 2t+1 (+8); B column g, rows 2t, 2t+1 (+8);
// C rows g and g+8, columns 2t, 2t+1. An S accumulator pair of n-tiles is
// exactly the A fragment of P for the next product.
#include "features/cuda/kernels.cuh"

namespace {

constexpr int HD = 128;     // head dim
constexpr int BM = 128;     // queries per block
constexpr int BN = 64;      // keys per step
constexpr int MT = 2;       // m16 row tiles per warp
constexpr int LDS = HD + 8; // padded smem row (elements): conflict-free ldmatrix
constexpr int THREADS = 128;
// Q + 2 x (K, V)
constexpr size_t SMEM = (size_t)(BM + 4 * BN) * LDS * sizeof(bf16);

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                        uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

__device__ __forceinline__ void ldsm_x4_t(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                          uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

__device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

// Start copying rows [row0, row0 + ROWS) of a [tokens, 128] matrix into smem;
// rows past `tokens` are zero-filled (cp.async with source size 0).
template <int ROWS>
__device__ __forceinline__ void load_tile(bf16 *dst, const bf16 *src, int row0, int tokens) {
    for (int c = threadIdx.x; c < ROWS * HD / 8; c += THREADS) {
        int r = c / (HD / 8), col = (c % (HD / 8)) * 8;
        bool valid = row0 + r < tokens;
        const bf16 *g = valid ? src + (size_t)(row0 + r) * HD + col : src;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst + r * LDS + col)),
                     "l"(g), "r"(valid ? 16 : 0));
    }
}

__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_wait_all_but_one() { asm volatile("cp.async.wait_group 1;\n" ::); }

__global__ void __launch_bounds__(THREADS, 2) k_flash(const bf16 *q, const bf16 *k, const bf16 *v,
                                                   bf16 *o, int heads, int tokens,
                                                   float scale_log2) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *const sq = reinterpret_cast<bf16 *>(smem_raw);
    bf16 *const sk = sq + BM * LDS;     // two buffers of BN rows
    bf16 *const sv = sk + 2 * BN * LDS; // two buffers of BN rows

    const int bh = blockIdx.y, q0 = blockIdx.x * BM;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const size_t base = (size_t)bh * tokens * HD;
    const int steps = (tokens + BN - 1) / BN;

    load_tile<BM>(sq, q + base, q0, tokens);
    load_tile<BN>(sk, k + base, 0, tokens);
    load_tile<BN>(sv, v + base, 0, tokens);
    cp_commit();

    float acc[MT][HD / 8][4]; // O accumulators: per row tile, 16 n-tiles of 8 columns
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
        for (int i = 0; i < HD / 8; i++) acc[m][i][0] = acc[m][i][1] = acc[m][i][2] = acc[m][i][3] = 0.f;
    float mx[MT][2], l[MT][2]; // running max and sum of rows g and g+8 of each row tile
#pragma unroll
    for (int m = 0; m < MT; m++) mx[m][0] = mx[m][1] = -INFINITY, l[m][0] = l[m][1] = 0.f;

    for (int step = 0; step < steps; step++) {
        const int kv0 = step * BN, buf = step & 1;
        if (step + 1 < steps) { // prefetch the next keys/values into the other buffer
            load_tile<BN>(sk + (buf ^ 1) * BN * LDS, k + base, kv0 + BN, tokens);
            load_tile<BN>(sv + (buf ^ 1) * BN * LDS, v + base, kv0 + BN, tokens);
        }
        cp_commit();
        cp_wait_all_but_one(); // this step's tiles (and Q) have landed
        __syncthreads();
        const bf16 *ck = sk + buf * BN * LDS, *cv = sv + buf * BN * LDS;

        float s[MT][BN / 8][4];
#pragma unroll
        for (int m = 0; m < MT; m++)
#pragma unroll
            for (int i = 0; i < BN / 8; i++) s[m][i][0] = s[m][i][1] = s[m][i][2] = s[m][i][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < HD / 16; ks++) {
            uint32_t qa[MT][4];
#pragma unroll
            for (int m = 0; m < MT; m++) {
                const bf16 *p = sq + (warp * 32 + m * 16 + (lane % 16)) * LDS + ks * 16 + (lane / 16) * 8;
                ldsm_x4(smem_u32(p), qa[m][0], qa[m][1], qa[m][2], qa[m][3]);
            }
#pragma unroll
            for (int np = 0; np < BN / 16; np++) {
                int i = lane / 8;
                const bf16 *p = ck + (np * 16 + (lane % 8) + ((i & 2) ? 8 : 0)) * LDS + ks * 16 +
                                ((i & 1) ? 8 : 0);
                uint32_t b0, b1, b2, b3;
                ldsm_x4(smem_u32(p), b0, b1, b2, b3);
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    mma(s[m][2 * np], qa[m], b0, b1);
                    mma(s[m][2 * np + 1], qa[m], b2, b3);
                }
            }
        }

        // online softmax (log2 units), keys past the end masked; s becomes p
#pragma unroll
        for (int m = 0; m < MT; m++) {
            float r0 = -INFINITY, r1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < BN / 8; nt++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int key = kv0 + nt * 8 + 2 * t + (e & 1);
                    s[m][nt][e] = key < tokens ? s[m][nt][e] * scale_log2 : -INFINITY;
                }
                r0 = fmaxf(r0, fmaxf(s[m][nt][0], s[m][nt][1]));
                r1 = fmaxf(r1, fmaxf(s[m][nt][2], s[m][nt][3]));
            }
#pragma unroll
            for (int off = 1; off < 4; off <<= 1) {
                r0 = fmaxf(r0, __shfl_xor_sync(0xffffffffu, r0, off));
                r1 = fmaxf(r1, __shfl_xor_sync(0xffffffffu, r1, off));
            }
            float n0 = fmaxf(mx[m][0], r0), n1 = fmaxf(mx[m][1], r1);
            float c0 = exp2f(mx[m][0] - n0), c1 = exp2f(mx[m][1] - n1); // 0 on the first step
            mx[m][0] = n0;
            mx[m][1] = n1;
            l[m][0] *= c0;
            l[m][1] *= c1;
#pragma unroll
            for (int i = 0; i < HD / 8; i++) {
                acc[m][i][0] *= c0;
                acc[m][i][1] *= c0;
                acc[m][i][2] *= c1;
                acc[m][i][3] *= c1;
            }
#pragma unroll
            for (int nt = 0; nt < BN / 8; nt++) {
                s[m][nt][0] = exp2f(s[m][nt][0] - n0);
                s[m][nt][1] = exp2f(s[m][nt][1] - n0);
                s[m][nt][2] = exp2f(s[m][nt][2] - n1);
                s[m][nt][3] = exp2f(s[m][nt][3] - n1);
                l[m][0] += s[m][nt][0] + s[m][nt][1];
                l[m][1] += s[m][nt][2] + s[m][nt][3];
            }
        }

        // O += P V: the P accumulator pairs of n-tiles are the A fragments
#pragma unroll
        for (int j = 0; j < BN / 16; j++) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int m = 0; m < MT; m++) {
                pa[m][0] = pack_bf16(s[m][2 * j][0], s[m][2 * j][1]);
                pa[m][1] = pack_bf16(s[m][2 * j][2], s[m][2 * j][3]);
                pa[m][2] = pack_bf16(s[m][2 * j + 1][0], s[m][2 * j + 1][1]);
                pa[m][3] = pack_bf16(s[m][2 * j + 1][2], s[m][2 * j + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < HD / 16; dp++) {
                int i = lane / 8;
                const bf16 *p = cv + (j * 16 + (lane % 8) + ((i & 1) ? 8 : 0)) * LDS + dp * 16 +
                                ((i & 2) ? 8 : 0);
                uint32_t b0, b1, b2, b3;
                ldsm_x4_t(smem_u32(p), b0, b1, b2, b3);
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    mma(acc[m][2 * dp], pa[m], b0, b1);
                    mma(acc[m][2 * dp + 1], pa[m], b2, b3);
                }
            }
        }
        __syncthreads(); // all warps are done with `buf` before it is refilled
    }

    const int b = bh / heads, h = bh % heads;
    const size_t ld = (size_t)heads * HD;
#pragma unroll
    for (int m = 0; m < MT; m++) {
        float l0 = l[m][0], l1 = l[m][1];
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            l0 += __shfl_xor_sync(0xffffffffu, l0, off);
            l1 += __shfl_xor_sync(0xffffffffu, l1, off);
        }
        float inv0 = 1.f / l0, inv1 = 1.f / l1;
        const int r0 = q0 + warp * 32 + m * 16 + g, r1 = r0 + 8;
#pragma unroll
        for (int nt = 0; nt < HD / 8; nt++) {
            int col = h * HD + nt * 8 + 2 * t;
            if (r0 < tokens)
                *reinterpret_cast<uint32_t *>(o + ((size_t)b * tokens + r0) * ld + col) =
                    pack_bf16(acc[m][nt][0] * inv0, acc[m][nt][1] * inv0);
            if (r1 < tokens)
                *reinterpret_cast<uint32_t *>(o + ((size_t)b * tokens + r1) * ld + col) =
                    pack_bf16(acc[m][nt][2] * inv1, acc[m][nt][3] * inv1);
        }
    }
}

} // namespace

cudaError_t flash_attention_prepare(void) {
    return cudaFuncSetAttribute(k_flash, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM);
}

void launch_flash_attention(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *o, int batch,
                            int heads, int tokens, float scale, cudaStream_t s) {
    dim3 grid((unsigned)((tokens + BM - 1) / BM), (unsigned)(batch * heads));
    k_flash<<<grid, THREADS, SMEM, s>>>(q, k, v, o, heads, tokens, scale * 1.4426950408889634f);
}
