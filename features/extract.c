/* tile shards -> InternViT -> feature cache, with the device kept busy:
 * batch k+1 is read, decoded and submitted before batch k is collected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/log.h"
#include "../core/progress.h"
#include "../tiler/tile_shard.h"
#include "cache.h"
#include "features.h"

typedef struct pending {
    ts_hash128 image;
    char tiling[64];
    char *source;
    int tiles, received;
    float *features;
} pending;

typedef struct run {
    const ts_features_options *o;
    ts_vit_encoder *enc;
    ts_feat_writer *w;
    ts_hash128 model;
    ts_features_stats *stats;
    ts_progress *progress;
    size_t in_size, out_size; /* floats per tile */
    int tokens, dim, image_size;
    float *in, *out;
    int filled, in_flight; /* tiles in `in`; batches submitted, not collected */
    pending *q;            /* FIFO of images whose tiles are in flight */
    size_t qhead, qlen, qcap;
} run;

static void pending_free(pending *p) {
    free(p->source);
    free(p->features);
}

/* Hand a collected batch's features to the oldest pending images; write the
 * images that are complete. */
static ts_status distribute(run *r, const float *out, int n, ts_error *err) {
    ts_status s = TS_OK;
    for (int t = 0; t < n && s == TS_OK;) {
        if (r->qlen == 0) return ts_fail(err, TS_EINVAL, "features for no pending image");
        pending *p = &r->q[r->qhead];
        int k = p->tiles - p->received < n - t ? p->tiles - p->received : n - t;
        memcpy(p->features + (size_t)p->received * r->out_size, out + (size_t)t * r->out_size,
               (size_t)k * r->out_size * sizeof(float));
        p->received += k;
        t += k;
        if (p->received == p->tiles) {
            if (ts_feat_writer_has(r->w, p->image, p->tiling, r->model)) {
                r->stats->skipped++; /* a duplicate within this run */
            } else {
                s = ts_feat_writer_add(r->w, p->image, p->tiling, r->model, p->source, p->tiles,
                                       r->tokens, r->dim, p->features, err);
                r->stats->images++;
                r->stats->tiles += (uint64_t)p->tiles;
            }
            ts_progress_add(r->progress, 1, (uint64_t)p->tiles);
            pending_free(p);
            r->qhead = (r->qhead + 1) % r->qcap;
            r->qlen--;
        }
    }
    return s;
}

static ts_status collect_one(run *r, ts_error *err) {
    int n = 0;
    ts_status s = ts_vit_encoder_collect(r->enc, r->out, &n, err);
    r->in_flight--;
    return s == TS_OK ? distribute(r, r->out, n, err) : s;
}

static ts_status flush(run *r, ts_error *err) {
    if (r->filled == 0) return TS_OK;
    if (r->in_flight == 2) {
        ts_status s = collect_one(r, err);
        if (s != TS_OK) return s;
    }
    ts_status s = ts_vit_encoder_submit(r->enc, r->in, r->filled, err);
    if (s != TS_OK) return s;
    r->in_flight++;
    r->filled = 0;
    /* keep one batch queued on the device while the host prepares the next */
    return r->in_flight == 2 ? collect_one(r, err) : TS_OK;
}

static ts_status push_pending(run *r, const pending *p, ts_error *err) {
    if (r->qlen == r->qcap) {
        size_t cap = r->qcap ? 2 * r->qcap : 16;
        pending *nq = malloc(cap * sizeof *nq);
        if (!nq) return ts_fail(err, TS_ENOMEM, "out of memory");
        for (size_t i = 0; i < r->qlen; i++) nq[i] = r->q[(r->qhead + i) % r->qcap];
        free(r->q);
        r->q = nq;
        r->qcap = cap;
        r->qhead = 0;
    }
    r->q[(r->qhead + r->qlen) % r->qcap] = *p;
    r->qlen++;
    return TS_OK;
}

/* Normalized f32 CHW from one tile of the shard's payload. */
static void to_chw(const uint8_t *src, ts_pixel_dtype dt, int tile, float *dst) {
    size_t n = 3 * (size_t)tile * tile;
    switch (dt) {
    case TS_PIXEL_U8: ts_normalize_tile(src, tile, TS_PIXEL_F32, dst); break;
    case TS_PIXEL_F32: memcpy(dst, src, n * 4); break;
    case TS_PIXEL_F16: ts_convert_to_f32(src, TS_DTYPE_F16, n, dst); break;
    case TS_PIXEL_BF16: ts_convert_to_f32(src, TS_DTYPE_BF16, n, dst); break;
    }
}

static ts_status do_shard(run *r, const char *path, ts_error *err) {
    ts_tile_shard *sh = NULL;
    ts_status s = ts_tile_shard_open(&sh, path, err);
    if (s != TS_OK) return s;
    const ts_tile_shard_params *p = ts_tile_shard_info(sh);
    char tiling[64];
    if (p->tile_size != r->image_size) {
        s = ts_fail(err, TS_EINVAL, "%s: %d px tiles, the model takes %d px", path, p->tile_size,
                    r->image_size);
        ts_tile_shard_close(sh);
        return s;
    }
    size_t tile_bytes = ts_tile_payload_bytes(p->tile_size, p->dtype);
    ts_buf payload = TS_BUF_INIT;
    size_t n = ts_tile_shard_count(sh);
    for (size_t i = 0; i < n && s == TS_OK; i++) {
        ts_tile_record rec;
        ts_tile_shard_record(sh, i, &rec);
        ts_feat_tiling(p, &rec, tiling, sizeof tiling);
        if (ts_feat_writer_has(r->w, rec.content_hash, tiling, r->model)) {
            r->stats->skipped++;
            ts_progress_add(r->progress, 1, 0);
            continue;
        }
        ts_buf_reset(&payload);
        ts_error rerr = {0};
        if (ts_tile_shard_read(sh, i, &payload, &rerr) != TS_OK) {
            ts_warn("%s: record %zu (%s): %s", path, i, rec.key, rerr.msg);
            r->stats->failed++;
            ts_progress_add_failed(r->progress, 1);
            continue;
        }
        pending pd = {rec.content_hash, "", strdup(rec.key), rec.tiles, 0,
                      malloc((size_t)rec.tiles * r->out_size * sizeof(float))};
        memcpy(pd.tiling, tiling, sizeof tiling);
        if (!pd.source || !pd.features) {
            pending_free(&pd);
            s = ts_fail(err, TS_ENOMEM, "out of memory");
            break;
        }
        s = push_pending(r, &pd, err);
        if (s != TS_OK) {
            pending_free(&pd);
            break;
        }
        for (int t = 0; t < rec.tiles && s == TS_OK; t++) {
            to_chw(payload.data + (size_t)t * tile_bytes, p->dtype, p->tile_size,
                   r->in + (size_t)r->filled * r->in_size);
            if (++r->filled == ts_vit_encoder_max_batch(r->enc)) s = flush(r, err);
        }
    }
    ts_buf_free(&payload);
    ts_tile_shard_close(sh);
    return s;
}

static ts_status open_encoder(run *r, ts_vit_model *m, ts_pool *pool, ts_error *err) {
    const ts_features_options *o = r->o;
    int dev = o->device;
    if (dev < 0) {
        ts_error cerr = {0};
        if (ts_vit_encoder_open(m, TS_VIT_DEVICE_CUDA, o->batch, pool, &r->enc, &cerr) == TS_OK) {
            r->stats->device = TS_VIT_DEVICE_CUDA;
            return TS_OK;
        }
        if (cerr.code != TS_EUNSUPPORTED) {
            if (err) *err = cerr;
            return cerr.code;
        }
        ts_warn("features: %s; running the CPU reference (slow)", cerr.msg);
        dev = TS_VIT_DEVICE_CPU;
    }
    r->stats->device = dev;
    return ts_vit_encoder_open(m, (ts_vit_device)dev, o->batch, pool, &r->enc, err);
}

ts_status ts_features_run(char *const *inputs, int ninputs, const ts_features_options *o,
                          ts_features_stats *stats, ts_error *err) {
    memset(stats, 0, sizeof *stats);
    run r = {0};
    r.o = o;
    r.stats = stats;
    if (o->batch <= 0) return ts_fail(err, TS_EINVAL, "batch must be positive");
    ts_vit_model *m = NULL;
    ts_status s = ts_vit_model_open(o->model_dir, &m, err);
    if (s != TS_OK) return s;
    ts_pool *pool = ts_pool_new(o->threads);
    if (!pool) s = ts_fail(err, TS_ENOMEM, "no thread pool");
    if (s == TS_OK) s = ts_vit_model_hash(m, pool, &r.model, err);
    const ts_vit_config *c = ts_vit_model_config(m);
    r.in_size = 3 * (size_t)c->image_size * c->image_size;
    r.image_size = c->image_size;
    r.tokens = ts_vit_out_tokens(c);
    r.dim = ts_vit_out_dim(c);
    r.out_size = (size_t)r.tokens * r.dim;
    if (s == TS_OK) s = open_encoder(&r, m, pool, err);
    if (s == TS_OK) {
        r.in = malloc((size_t)o->batch * r.in_size * sizeof(float));
        r.out = malloc((size_t)o->batch * r.out_size * sizeof(float));
        if (!r.in || !r.out) s = ts_fail(err, TS_ENOMEM, "out of memory for a batch of %d", o->batch);
    }
    ts_feat_writer_options wo = {o->dtype, o->shard_bytes};
    if (s == TS_OK) s = ts_feat_writer_open(o->cache_dir, &wo, &r.w, err);
    if (s == TS_OK) {
        uint64_t total = 0; /* images, for the progress display */
        for (int i = 0; i < ninputs; i++) {
            ts_tile_shard *sh = NULL;
            if (ts_tile_shard_open(&sh, inputs[i], NULL) == TS_OK) total += ts_tile_shard_count(sh);
            ts_tile_shard_close(sh);
        }
        r.progress = ts_progress_new("features", total, "images");
    }
    for (int i = 0; s == TS_OK && i < ninputs; i++) s = do_shard(&r, inputs[i], err);
    if (s == TS_OK) s = flush(&r, err);
    while (s == TS_OK && r.in_flight > 0) s = collect_one(&r, err);
    ts_progress_finish(r.progress);
    if (s == TS_OK) {
        s = ts_feat_writer_close(r.w, &stats->shards, err);
    } else {
        ts_feat_writer_abort(r.w);
    }
    for (size_t i = 0; i < r.qlen; i++) pending_free(&r.q[(r.qhead + i) % r.qcap]);
    free(r.q);
    free(r.in);
    free(r.out);
    ts_vit_encoder_close(r.enc);
    ts_pool_free(pool);
    ts_vit_model_close(m);
    return s;
}
