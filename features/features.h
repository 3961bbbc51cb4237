/* InternViT feature extraction: the frozen vision encoder of NVLM, run once
 * per tile so that training can read cached features instead.
 *
 * Pieces (one file each):
 *   safetensors.c  mmap'd safetensors reader (single file or sharded index)
 *   model.c        config.json + the logical InternViT tensors, with NVLM-D's
 *                  32-head padding stripped and any stored dtype converted
 *   vit_cpu.c      plain-C fp32 reference forward (the tests' ground truth)
 *   cuda/ (*.cu)    the GPU forward (bf16 weights, cuBLASLt, fp32 accumulation)
 *   cache.c        the feature cache (sharded, indexed, checksummed, resumable)
 *
 * The forward, per tile: patch conv (patch x patch, stride patch, bias) ->
 * CLS prepended -> + position embedding -> L x [h += ls1*Attn(norm1(h));
 * h += ls2*MLP(norm2(h))] with RMSNorm, QK-norm over the full width, exact
 * GELU -> CLS dropped -> pixel shuffle 0.5: output token a*(g/2)+b is
 * concat(g[2a][2b], g[2a][2b+1], g[2a+1][2b], g[2a+1][2b+1]) of the g x g
 * patch grid. For InternViT-6B-448px: 256 tokens x 12800 per tile.
 *
 * Input tiles are normalized CHW float planes (ts_normalize_tile's output):
 * 3 * image_size^2 floats per tile. */
#ifndef TS_FEATURES_FEATURES_H
#define TS_FEATURES_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"
#include "../core/hash.h"
#include "../core/pool.h"
#include "../tiler/tiler.h"

/* ---- safetensors ------------------------------------------------------- */

typedef enum ts_dtype {
    TS_DTYPE_F32 = 0,
    TS_DTYPE_F16,
    TS_DTYPE_BF16,
    TS_DTYPE_OTHER, /* any other safetensors dtype: listed, never converted */
} ts_dtype;

size_t ts_dtype_size(ts_dtype t); /* 0 for TS_DTYPE_OTHER */

#define TS_TENSOR_MAX_DIMS 8

typedef struct ts_tensor {
    const char *name;
    ts_dtype dtype;
    char dtype_name[8]; /* as stored: "BF16", "F32", "I64", ... */
    int ndim;
    int64_t shape[TS_TENSOR_MAX_DIMS];
    int64_t numel;
    const uint8_t *data; /* inside the mapping; not aligned */
    size_t nbytes;
} ts_tensor;

/* A set of safetensors files read through mmap: `path` is a .safetensors
 * file, a model.safetensors.index.json, or a directory holding either.
 * Files of a sharded checkpoint are mapped on first use, so only the shards
 * that hold requested tensors are touched. */
typedef struct ts_safetensors ts_safetensors;

ts_status ts_safetensors_open(const char *path, ts_safetensors **out, ts_error *err);
/* Look a tensor up by its full name; TS_ENOTFOUND when absent. The returned
 * pointer lives as long as the set. */
ts_status ts_safetensors_find(ts_safetensors *st, const char *name, const ts_tensor **out,
                              ts_error *err);
/* 1 when `name` exists (in the index or a file), without mapping anything. */
int ts_safetensors_has(ts_safetensors *st, const char *name);
void ts_safetensors_close(ts_safetensors *st);

/* Convert `n` elements of `src` (dtype `from`, possibly unaligned) to f32. */
void ts_convert_to_f32(const void *src, ts_dtype from, size_t n, float *dst);
/* bf16 -> f32 and f16 -> f32, one value (f32 -> bf16 is the tiler's
 * ts_f32_to_bf16, round to nearest even). */
float ts_bf16_to_f32(uint16_t h);
float ts_f16_to_f32(uint16_t h);

/* ---- the model --------------------------------------------------------- */

typedef struct ts_vit_config {
    int hidden;      /* hidden_size */
    int heads;       /* num_attention_heads (real heads) */
    int head_dim;    /* hidden / heads */
    int mlp;         /* intermediate_size */
    int layers;      /* num_hidden_layers */
    int image_size;  /* tile side in pixels */
    int patch_size;
    int qk_norm;     /* qk_normalization */
    float eps;       /* layer_norm_eps */
} ts_vit_config;

/* The InternViT-6B-448px-V1-5 shape. */
void ts_vit_config_internvit6b(ts_vit_config *c);
/* Patch grid side (image/patch), tokens with CLS, output tokens and width. */
int ts_vit_grid(const ts_vit_config *c);
int ts_vit_tokens(const ts_vit_config *c);
int ts_vit_out_tokens(const ts_vit_config *c);
int ts_vit_out_dim(const ts_vit_config *c);
/* Check the numbers are consistent (hidden = heads*head_dim, even grid...). */
ts_status ts_vit_config_check(const ts_vit_config *c, ts_error *err);
/* Exact multiply-add FLOPs (x2) of one tile's forward: every GEMM, the two
 * attention products, and the patch conv. Elementwise work is not counted. */
double ts_vit_flops_per_tile(const ts_vit_config *c);

/* The tensors of the model, addressed by kind and layer. */
typedef enum ts_vit_tensor {
    TS_VIT_CLS = 0,   /* [hidden] */
    TS_VIT_PATCH_W,   /* [hidden, 3*p*p] (conv weight flattened c,y,x) */
    TS_VIT_PATCH_B,   /* [hidden] */
    TS_VIT_POS,       /* [tokens, hidden] */
    TS_VIT_GLOBAL_COUNT,
    TS_VIT_QKV = TS_VIT_GLOBAL_COUNT, /* [3*hidden, hidden], rows q|k|v head-major */
    TS_VIT_Q_NORM,    /* [hidden] (only with qk_norm) */
    TS_VIT_K_NORM,    /* [hidden] (only with qk_norm) */
    TS_VIT_PROJ_W,    /* [hidden, hidden] */
    TS_VIT_PROJ_B,    /* [hidden] */
    TS_VIT_FC1_W,     /* [mlp, hidden] */
    TS_VIT_FC1_B,     /* [mlp] */
    TS_VIT_FC2_W,     /* [hidden, mlp] */
    TS_VIT_FC2_B,     /* [hidden] */
    TS_VIT_NORM1,     /* [hidden] */
    TS_VIT_NORM2,     /* [hidden] */
    TS_VIT_LS1,       /* [hidden] */
    TS_VIT_LS2,       /* [hidden] */
    TS_VIT_TENSOR_COUNT,
} ts_vit_tensor;

/* A loaded model: config.json + the weights, mapped, never copied whole. */
typedef struct ts_vit_model ts_vit_model;

/* `dir` holds config.json (InternVisionConfig, or a multimodal config with a
 * "vision_config" object) and the weights (model.safetensors, or
 * model.safetensors.index.json + shards). Tensor names may carry the
 * `vision_model.` prefix. Attention padded with zero heads (NVLM-D: 32 heads
 * for 25 real ones) is detected from the qkv shape and stripped; every shape
 * is validated against the config. */
ts_status ts_vit_model_open(const char *dir, ts_vit_model **out, ts_error *err);
const ts_vit_config *ts_vit_model_config(const ts_vit_model *m);
/* Heads as stored (== config heads unless padded). */
int ts_vit_model_stored_heads(const ts_vit_model *m);
/* Number of elements of the logical (unpadded) tensor. */
size_t ts_vit_tensor_numel(const ts_vit_config *c, ts_vit_tensor t);
/* Write the logical tensor `t` of `layer` (ignored for globals) into `dst`
 * as f32 or bf16 (`to` is TS_DTYPE_F32 or TS_DTYPE_BF16). */
ts_status ts_vit_model_read(ts_vit_model *m, ts_vit_tensor t, int layer, ts_dtype to, void *dst,
                            ts_error *err);
/* xxh3-128 over the config and every logical tensor's stored bytes; the
 * cache's model key. Computed once (reads every weight page once). */
ts_status ts_vit_model_hash(ts_vit_model *m, ts_pool *pool, ts_hash128 *out, ts_error *err);
void ts_vit_model_close(ts_vit_model *m);

/* ---- CPU reference forward (fp32) ------------------------------------- */

typedef struct ts_vit_cpu ts_vit_cpu;

/* Converts every weight to f32 (4 bytes per parameter: meant for small
 * models and spot checks). `pool` may be NULL (single thread); it is
 * borrowed. */
ts_status ts_vit_cpu_new(ts_vit_model *m, ts_pool *pool, ts_vit_cpu **out, ts_error *err);
/* `tiles`: n * 3 * image^2 floats (CHW). `out`: n * out_tokens * out_dim
 * floats. Bit-identical for any thread count. */
ts_status ts_vit_cpu_forward(ts_vit_cpu *v, const float *tiles, int n, float *out, ts_error *err);
void ts_vit_cpu_free(ts_vit_cpu *v);

/* ---- CUDA forward (bf16 weights, fp32 accumulation) --------------------- */

/* 1 when this build has CUDA support compiled in. */
int ts_vit_cuda_compiled(void);

typedef struct ts_vit_cuda ts_vit_cuda;

/* Uploads the weights as bf16 to device 0. Fails with TS_EUNSUPPORTED and
 * "no CUDA device" when the build has no CUDA or the machine has no GPU.
 * `max_batch` bounds the tiles per forward call (activations are sized for
 * it). */
ts_status ts_vit_cuda_new(ts_vit_model *m, int max_batch, ts_vit_cuda **out, ts_error *err);
/* Same, with random weights (normal * `scale`, seeded) generated on the GPU
 * for the given config: benchmarks of the full-size model need no file. */
ts_status ts_vit_cuda_new_random(const ts_vit_config *c, int max_batch, uint64_t seed,
                                 ts_vit_cuda **out, ts_error *err);
/* Forward n <= max_batch tiles from host memory (f32 CHW) into host memory:
 * `out` gets n * out_tokens * out_dim values as bf16 (uint16) bits. The
 * copy in runs on its own stream and overlaps the previous batch's compute
 * when the caller pipelines with ts_vit_cuda_submit/collect. */
ts_status ts_vit_cuda_forward(ts_vit_cuda *v, const float *tiles, int n, uint16_t *out,
                              ts_error *err);
/* Pipelined form: submit stages the tiles into a pinned buffer and queues the
 * batch; collect waits for the oldest queued batch and copies its features
 * out. At most two batches are in flight. */
ts_status ts_vit_cuda_submit(ts_vit_cuda *v, const float *tiles, int n, ts_error *err);
ts_status ts_vit_cuda_collect(ts_vit_cuda *v, uint16_t *out, int *n, ts_error *err);
/* Time `iters` forwards of `n` device-resident random tiles (no host
 * copies): milliseconds per forward, median of the iterations. */
ts_status ts_vit_cuda_time(ts_vit_cuda *v, int n, int iters, double *ms, ts_error *err);
/* Per-stage timing of one layer for n tiles (median ms of 5 runs each):
 * qkv GEMM, QK-norm+split, attention, proj GEMM, residual+norm, fc1 GEMM,
 * GELU, fc2 GEMM (the second residual+norm costs the same as the first). */
#define TS_VIT_STAGES 8
ts_status ts_vit_cuda_profile(ts_vit_cuda *v, int n, double ms[TS_VIT_STAGES], ts_error *err);
/* Dense bf16 GEMM rate of cuBLASLt on this device for an m x n x k product
 * (TFLOP/s, median of `iters`), the measured ceiling for MFU. */
ts_status ts_vit_cuda_gemm_peak(int m, int n, int k, int iters, double *tflops, ts_error *err);
void ts_vit_cuda_free(ts_vit_cuda *v);

/* ---- one interface over both devices ---------------------------------- */

typedef enum ts_vit_device { TS_VIT_DEVICE_CPU = 0, TS_VIT_DEVICE_CUDA } ts_vit_device;

typedef struct ts_vit_encoder ts_vit_encoder;

/* `pool` serves the CPU forward (may be NULL); borrowed. */
ts_status ts_vit_encoder_open(ts_vit_model *m, ts_vit_device dev, int max_batch, ts_pool *pool,
                              ts_vit_encoder **out, ts_error *err);
int ts_vit_encoder_max_batch(const ts_vit_encoder *e);
/* Queue n <= max_batch tiles (f32 CHW; the encoder copies them before
 * returning), then collect the oldest queued batch's features as f32
 * (bf16-exact on CUDA). At most two batches are queued: submit batch i+1
 * before collecting batch i so host work overlaps the device. */
ts_status ts_vit_encoder_submit(ts_vit_encoder *e, const float *tiles, int n, ts_error *err);
ts_status ts_vit_encoder_collect(ts_vit_encoder *e, float *out, int *n, ts_error *err);
void ts_vit_encoder_close(ts_vit_encoder *e);

/* Run the encoder over a raw file of f32 CHW tiles (n x 3 x S x S, no
 * header) and write n x out_tokens x out_dim f32 values to `out_path`. */
ts_status ts_vit_run_raw(const char *model_dir, const char *tiles_path, const char *out_path,
                         ts_vit_device dev, int batch, int threads, ts_error *err);

#endif
