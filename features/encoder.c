/* One submit/collect interface over the CPU reference and the CUDA forward,
 * so the feature writer pipelines host work with the device either way. */
#include <stdlib.h>
#include <string.h>

#include "features.h"

#define QUEUE 2

struct ts_vit_encoder {
    ts_vit_device dev;
    int max_batch;
    size_t in_size, out_size; /* floats per tile */
    ts_vit_cpu *cpu;
    ts_vit_cuda *cuda;
    uint16_t *bf16; /* CUDA: one batch of bf16 features */
    float *done[QUEUE]; /* CPU: finished batches, oldest at head */
    int done_n[QUEUE];
    int head, queued;
};

ts_status ts_vit_encoder_open(ts_vit_model *m, ts_vit_device dev, int max_batch, ts_pool *pool,
                              ts_vit_encoder **out, ts_error *err) {
    *out = NULL;
    if (max_batch <= 0 || max_batch > 4096)
        return ts_fail(err, TS_EINVAL, "batch must be in 1..4096, not %d", max_batch);
    const ts_vit_config *c = ts_vit_model_config(m);
    ts_vit_encoder *e = calloc(1, sizeof *e);
    if (!e) return ts_fail(err, TS_ENOMEM, "out of memory");
    e->dev = dev;
    e->max_batch = max_batch;
    e->in_size = 3 * (size_t)c->image_size * (size_t)c->image_size;
    e->out_size = (size_t)ts_vit_out_tokens(c) * (size_t)ts_vit_out_dim(c);
    ts_status s;
    if (dev == TS_VIT_DEVICE_CUDA) {
        s = ts_vit_cuda_new(m, max_batch, &e->cuda, err);
        if (s == TS_OK && !(e->bf16 = malloc((size_t)max_batch * e->out_size * 2)))
            s = ts_fail(err, TS_ENOMEM, "out of memory");
    } else {
        s = ts_vit_cpu_new(m, pool, &e->cpu, err);
        for (int i = 0; s == TS_OK && i < QUEUE; i++)
            if (!(e->done[i] = malloc((size_t)max_batch * e->out_size * sizeof(float))))
                s = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    if (s != TS_OK) {
        ts_vit_encoder_close(e);
        return s;
    }
    *out = e;
    return TS_OK;
}

int ts_vit_encoder_max_batch(const ts_vit_encoder *e) { return e->max_batch; }

ts_status ts_vit_encoder_submit(ts_vit_encoder *e, const float *tiles, int n, ts_error *err) {
    if (n <= 0 || n > e->max_batch)
        return ts_fail(err, TS_EINVAL, "batch of %d tiles (1..%d)", n, e->max_batch);
    if (e->queued == QUEUE) return ts_fail(err, TS_EINVAL, "two batches already queued");
    if (e->dev == TS_VIT_DEVICE_CUDA) {
        ts_status s = ts_vit_cuda_submit(e->cuda, tiles, n, err);
        if (s == TS_OK) e->queued++;
        return s;
    }
    int slot = (e->head + e->queued) % QUEUE;
    ts_status s = ts_vit_cpu_forward(e->cpu, tiles, n, e->done[slot], err);
    if (s == TS_OK) {
        e->done_n[slot] = n;
        e->queued++;
    }
    return s;
}

ts_status ts_vit_encoder_collect(ts_vit_encoder *e, float *out, int *n, ts_error *err) {
    *n = 0;
    if (e->queued == 0) return ts_fail(err, TS_EINVAL, "no batch queued");
    if (e->dev == TS_VIT_DEVICE_CUDA) {
        ts_status s = ts_vit_cuda_collect(e->cuda, e->bf16, n, err);
        e->queued--;
        if (s != TS_OK) return s;
        size_t total = (size_t)*n * e->out_size;
        for (size_t i = 0; i < total; i++) out[i] = ts_bf16_to_f32(e->bf16[i]);
        return TS_OK;
    }
    *n = e->done_n[e->head];
    memcpy(out, e->done[e->head], (size_t)*n * e->out_size * sizeof(float));
    e->head = (e->head + 1) % QUEUE;
    e->queued--;
    return TS_OK;
}

void ts_vit_encoder_close(ts_vit_encoder *e) {
    if (!e) return;
    ts_vit_cpu_free(e->cpu);
    ts_vit_cuda_free(e->cuda);
    free(e->bf16);
    for (int i = 0; i < QUEUE; i++) free(e->done[i]);
    free(e);
}
