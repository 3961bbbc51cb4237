#include "tile_run.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/hash.h"
#include "../core/inputs.h"
#include "../core/io.h"
#include "../core/json.h"
#include "../core/pool.h"
#include "../core/progress.h"
#include "tile_png.h"
#include "tile_shard.h"

void ts_tile_run_options_default(ts_tile_run_options *o) {
    memset(o, 0, sizeof *o);
    ts_tiler_options_default(&o->tiler);
    o->dtype = TS_PIXEL_U8;
}

int ts_is_image_name(const char *name) {
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".webp", ".gif", NULL};
    size_t n = strlen(name);
    for (int i = 0; exts[i]; i++) {
        size_t m = strlen(exts[i]);
        if (n >= m && strcasecmp(name + n - m, exts[i]) == 0) return 1;
    }
    return 0;
}

/* One image of a batch: its input, then what the worker made of it. */
typedef struct slot {
    ts_input_item item;
    ts_buf data;
    ts_status status;
    ts_error err;
    ts_tiled_image out;
} slot;

typedef struct run_ctx {
    const ts_tile_run_options *opts;
    slot *slots;
    ts_buf *scratch; /* one per worker: the normalized payload */
} run_ctx;

/* EXIF orientations 5..8 turn the image by 90 degrees. */
static int swaps_axes(const ts_decode_options *d, int orientation) {
    return d->apply_exif_orientation && orientation >= 5 && orientation <= 8;
}

ts_status ts_tile_encoded(const uint8_t *data, size_t len, const ts_tile_run_options *o, const char *png_base,
                          ts_buf *scratch, ts_tiled_image *out, ts_error *err) {
    out->content = ts_xxh3_128(data, len);
    ts_decode_options dopt = o->decode;
    ts_status st;
    if (o->fast) {
        /* Decode only as large as the exact resize needs (JPEG DCT scaling). */
        ts_decode_info probe;
        if ((st = ts_probe_image(data, len, &probe, err))) return st;
        int w = probe.width, h = probe.height;
        if (swaps_axes(&o->decode, probe.exif_orientation)) w = probe.height, h = probe.width;
        ts_grid g = ts_tiler_grid(w, h, o->tiler.min_tiles, o->tiler.max_tiles, o->tiler.tile_size);
        dopt.min_width = o->tiler.tile_size * g.cols;
        dopt.min_height = o->tiler.tile_size * g.rows;
        if (swaps_axes(&o->decode, probe.exif_orientation)) {
            int t = dopt.min_width;
            dopt.min_width = dopt.min_height;
            dopt.min_height = t;
        }
    }
    ts_image img = {0};
    if ((st = ts_decode_image(data, len, &dopt, &img, &out->info, err))) return st;
    ts_grid grid = ts_tiler_grid(out->info.width, out->info.height, o->tiler.min_tiles, o->tiler.max_tiles,
                                 o->tiler.tile_size);
    ts_tiles tiles = {0};
    st = ts_tile_image_grid(&img, grid, &o->tiler, &tiles, err);
    ts_image_free(&img);
    if (st) return st;
    out->grid = tiles.grid;
    out->tiles = tiles.count;
    if (o->png_dir && png_base) st = ts_write_tile_pngs(&tiles, o->png_dir, png_base, err);
    size_t tile_values = (size_t)tiles.tile_size * (size_t)tiles.tile_size * 3;
    const uint8_t *payload = tiles.rgb;
    size_t payload_bytes = (size_t)tiles.count * ts_tile_payload_bytes(tiles.tile_size, o->dtype);
    if (!st && o->dtype != TS_PIXEL_U8) {
        ts_buf_reset(scratch);
        st = ts_buf_reserve(scratch, payload_bytes, err);
        size_t out_tile = ts_tile_payload_bytes(tiles.tile_size, o->dtype);
        for (int k = 0; !st && k < tiles.count; k++)
            ts_normalize_tile(tiles.rgb + (size_t)k * tile_values, tiles.tile_size, o->dtype,
                              scratch->data + (size_t)k * out_tile);
        payload = scratch->data;
    }
    if (!st && o->shard_path) {
        out->payload_bytes = payload_bytes;
        out->payload_xxh3 = ts_xxh3_64(payload, payload_bytes);
        ts_buf_reset(&out->zframe);
        st = ts_zstd_compress(payload, payload_bytes, o->zstd_level ? o->zstd_level : TS_TILE_ZSTD_LEVEL_DEFAULT, &out->zframe, err);
    }
    ts_tiles_free(&tiles);
    return st;
}

static void work(void *ctxp, size_t i, int worker) {
    run_ctx *ctx = ctxp;
    slot *s = &ctx->slots[i];
    if (s->status) return; /* the read already failed */
    s->status = ts_tile_encoded(s->data.data, s->data.len, ctx->opts, s->item.base, &ctx->scratch[worker], &s->out,
                                &s->err);
}

static ts_status report_line(const ts_tile_run_options *o, const slot *s, ts_error *err) {
    if (!o->report) return TS_OK;
    cJSON *j = cJSON_CreateObject();
    if (!j) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddStringToObject(j, "input", s->item.name);
    if (s->status) {
        cJSON_AddStringToObject(j, "error", s->err.msg);
        cJSON_AddStringToObject(j, "reason", ts_status_name(s->status));
    } else {
        char hex[33], tag[40];
        ts_hash128_hex(s->out.content, hex);
        cJSON_AddNumberToObject(j, "width", s->out.info.width);
        cJSON_AddNumberToObject(j, "height", s->out.info.height);
        cJSON_AddStringToObject(j, "format", ts_format_name(s->out.info.format));
        int grid[2] = {s->out.grid.cols, s->out.grid.rows};
        cJSON_AddItemToObject(j, "grid", cJSON_CreateIntArray(grid, 2));
        cJSON_AddNumberToObject(j, "tiles", s->out.tiles);
        cJSON *tags = cJSON_AddArrayToObject(j, "tags");
        int has_thumbnail = s->out.tiles > s->out.grid.cols * s->out.grid.rows;
        for (int k = 0; k < s->out.tiles; k++)
            cJSON_AddItemToArray(tags, cJSON_CreateString(ts_tile_tag(k, s->out.tiles, has_thumbnail, o->tiler.max_tiles,
                                                                      tag, sizeof tag)));
        cJSON_AddStringToObject(j, "xxh3_128", hex);
    }
    ts_status st = ts_json_write_line(o->report, j, err);
    cJSON_Delete(j);
    return st;
}

/* Write finished slots in input order. A record the shard refuses (a
 * duplicate name) fails that image only. */
static ts_status emit_batch(const ts_tile_run_options *o, slot *slots, size_t n, ts_tile_shard_writer *shard,
                            ts_tile_run_stats *stats, ts_progress *progress, ts_error *err) {
    for (size_t i = 0; i < n; i++) {
        slot *s = &slots[i];
        if (!s->status && shard) {
            ts_tile_record rec = {s->item.name, s->out.content, s->out.info.width, s->out.info.height,
                                  s->out.grid, s->out.tiles, s->out.payload_bytes};
            ts_status st = ts_tile_shard_add_compressed(shard, &rec, s->out.payload_xxh3, s->out.zframe.data,
                                                        s->out.zframe.len, &s->err);
            if (st == TS_EIO || st == TS_ENOMEM) return ts_fail(err, st, "%s", s->err.msg);
            s->status = st;
        }
        ts_status st = report_line(o, s, err);
        if (st) return st;
        if (s->status) {
            stats->images_failed++;
            ts_progress_add_failed(progress, 1);
        } else {
            stats->images_ok++;
            stats->input_bytes += s->data.len;
            stats->tiles += (uint64_t)s->out.tiles;
            ts_progress_add(progress, 1, s->data.len);
        }
    }
    return TS_OK;
}

static ts_status check_options(const ts_tile_run_options *o, ts_error *err) {
    const ts_tiler_options *t = &o->tiler;
    if (t->tile_size < 14 || t->tile_size > 4096)
        return ts_fail(err, TS_EINVAL, "tile size %d out of range [14, 4096]", t->tile_size);
    if (t->max_tiles < 1 || t->max_tiles > TS_MAX_TILES_LIMIT || t->min_tiles < 1 || t->min_tiles > t->max_tiles)
        return ts_fail(err, TS_EINVAL, "tile counts out of range (min %d, max %d)", t->min_tiles, t->max_tiles);
    if (!o->shard_path && !o->png_dir && !o->report)
        return ts_fail(err, TS_EINVAL, "nothing to write: give a shard path, a PNG directory or a report");
    return TS_OK;
}

ts_status ts_tile_run(char *const *inputs, int ninputs, const ts_tile_run_options *opts,
                      ts_tile_run_stats *stats, ts_error *err) {
    memset(stats, 0, sizeof *stats);
    ts_status st = check_options(opts, err);
    if (st) return st;
    if (opts->png_dir && (st = ts_mkdirs(opts->png_dir, err))) return st;
    ts_pool *pool = ts_pool_new(opts->threads);
    if (!pool) return ts_fail(err, TS_ENOMEM, "cannot start threads");
    int threads = ts_pool_threads(pool);
    size_t batch = opts->batch > 0 ? (size_t)opts->batch : (size_t)threads * 8;
    run_ctx ctx = {opts, calloc(batch, sizeof(slot)), calloc((size_t)threads, sizeof(ts_buf))};
    ts_inputs_options iopt = {0, ts_is_image_name, 1};
    ts_inputs *in = NULL;
    ts_tile_shard_writer *shard = NULL;
    if (!ctx.slots || !ctx.scratch) st = ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) st = ts_inputs_open(&in, inputs, ninputs, &iopt, err);
    if (!st && opts->shard_path) {
        ts_tile_shard_params sp = {opts->tiler.tile_size, opts->tiler.max_tiles, opts->dtype, opts->zstd_level};
        st = ts_tile_shard_create(&shard, opts->shard_path, &sp, err);
    }
    ts_progress *progress = st ? NULL : ts_progress_new("tile", 0, "images");
    int done = 0;
    while (!st && !done) {
        size_t n = 0;
        while (n < batch) {
            slot *s = &ctx.slots[n];
            ts_error_clear(&s->err);
            s->status = ts_inputs_next(in, &s->item, &s->data, &s->err);
            if (s->status == TS_ENOTFOUND) {
                done = 1;
                break;
            }
            n++;
        }
        ts_pool_run(pool, n, work, &ctx);
        st = emit_batch(opts, ctx.slots, n, shard, stats, progress, err);
    }
    ts_progress_finish(progress);
    if (shard) {
        if (st) ts_tile_shard_abort(shard);
        else st = ts_tile_shard_commit(shard, &stats->shard_xxh3, &stats->shard_bytes, err);
    }
    ts_inputs_close(in);
    for (size_t i = 0; ctx.slots && i < batch; i++) {
        ts_buf_free(&ctx.slots[i].data);
        ts_buf_free(&ctx.slots[i].out.zframe);
    }
    for (int w = 0; ctx.scratch && w < threads; w++) ts_buf_free(&ctx.scratch[w]);
    free(ctx.slots);
    free(ctx.scratch);
    ts_pool_free(pool);
    return st;
}
