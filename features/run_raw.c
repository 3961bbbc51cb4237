/* `tessera vit`: the encoder over a raw f32 tile file, raw f32 features out.
 * The debugging and cross-checking path (no cache, no tile shard). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../core/io.h"
#include "../core/progress.h"
#include "features.h"

ts_status ts_vit_run_raw(const char *model_dir, const char *tiles_path, const char *out_path,
                         ts_vit_device dev, int batch, int threads, ts_error *err) {
    ts_vit_model *m = NULL;
    ts_status s = ts_vit_model_open(model_dir, &m, err);
    if (s != TS_OK) return s;
    const ts_vit_config *c = ts_vit_model_config(m);
    size_t in_size = 3 * (size_t)c->image_size * (size_t)c->image_size;
    size_t out_size = (size_t)ts_vit_out_tokens(c) * (size_t)ts_vit_out_dim(c);

    FILE *f = fopen(tiles_path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) {
        s = ts_fail_errno(err, TS_EIO, "%s", tiles_path);
        if (f) fclose(f);
        ts_vit_model_close(m);
        return s;
    }
    size_t tile_bytes = in_size * sizeof(float);
    if (sb.st_size == 0 || (size_t)sb.st_size % tile_bytes != 0) {
        fclose(f);
        ts_vit_model_close(m);
        return ts_fail(err, TS_EFORMAT, "%s: %lld bytes is not a whole number of %zu-byte tiles",
                       tiles_path, (long long)sb.st_size, tile_bytes);
    }
    size_t total = (size_t)sb.st_size / tile_bytes;

    ts_pool *pool = dev == TS_VIT_DEVICE_CPU ? ts_pool_new(threads) : NULL;
    ts_vit_encoder *enc = NULL;
    ts_writer *w = NULL;
    float *in = malloc((size_t)batch * tile_bytes);
    float *out = malloc((size_t)batch * out_size * sizeof(float));
    if (!in || !out || (dev == TS_VIT_DEVICE_CPU && !pool)) s = ts_fail(err, TS_ENOMEM, "out of memory");
    if (s == TS_OK) s = ts_vit_encoder_open(m, dev, batch, pool, &enc, err);
    if (s == TS_OK) s = ts_writer_open(&w, out_path, err);
    ts_progress *p = s == TS_OK ? ts_progress_new("vit", total, "tiles") : NULL;
    /* Submit batch k+1 before collecting batch k so reading overlaps the device. */
    int queued = 0;
    for (size_t done = 0; s == TS_OK && (done < total || queued > 0);) {
        if (done < total) {
            int n = total - done < (size_t)batch ? (int)(total - done) : batch;
            if (fread(in, tile_bytes, (size_t)n, f) != (size_t)n) {
                s = ts_fail_errno(err, TS_EIO, "%s: read", tiles_path);
                break;
            }
            s = ts_vit_encoder_submit(enc, in, n, err);
            if (s != TS_OK) break;
            queued++;
            done += (size_t)n;
            if (queued < 2 && done < total) continue;
        }
        int got = 0;
        s = ts_vit_encoder_collect(enc, out, &got, err);
        queued--;
        if (s == TS_OK) s = ts_writer_write(w, out, (size_t)got * out_size * sizeof(float), err);
        ts_progress_add(p, (uint64_t)got, (uint64_t)got * tile_bytes);
    }
    ts_progress_finish(p);
    if (s == TS_OK) s = ts_writer_commit(w, err);
    else ts_writer_abort(w);
    fclose(f);
    free(in);
    free(out);
    ts_vit_encoder_close(enc);
    ts_pool_free(pool);
    ts_vit_model_close(m);
    return s;
}
