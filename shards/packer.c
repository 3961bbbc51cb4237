/* The packer (pack.h): streams tokfiles record by record, prepares each
 * sample (positions, over-long handling), holds at most `window` of them in
 * the bin chooser and writes a sequence whenever the window is full, then
 * drains it at the end. Single-threaded, so deterministic by construction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "features/cache.h"
#include "shards/pack.h"
#include "tiler/tile_shard.h"
#include "tokenize/tokfile.h"

#define IMAGE_POSITIONS_PER_TILE (TS_CHAT_TAG_TOKENS + TS_CHAT_TILE_TOKENS)

typedef struct held {
    uint32_t input, flags, n_ids, n_images, length;
    uint64_t tok_record, source_record, arrival;
    int32_t *ids;
    uint8_t *mask;
    size_t cap_ids;
    ts_chat_slot *images;
    uint32_t *img_start; /* first token of each image */
    size_t cap_images;
} held;

typedef struct packer {
    const ts_pack_options *o;
    ts_pack_stats *stats;
    ts_binpack *bins;
    held *slots;
    uint32_t *free_slots, n_free, *chosen, *ends;
    ts_tile_shard **tiles;
    size_t n_tiles;
    ts_feat_cache *features; /* NULL without a feature cache */
    ts_hash128 feat_model;   /* the one model of its entries */
    ts_pack_writer *w;
    ts_pack_seq seq;
    uint64_t arrival, images_with_hash, images_tiles_mismatch;
} packer;

void ts_pack_options_default(ts_pack_options *o) {
    memset(o, 0, sizeof *o);
    o->window = 1000;
    o->min_fill = 0.999;
    o->seqs_per_block = 8;
    o->zstd_level = 3;
    o->overlong = TS_PACK_TRUNCATE;
}

/* Positions the token at t stands for: an IMG token its tiles' share, any
 * other token 1. */
static uint32_t img_width(const ts_chat_slot *s) {
    if (s->form != TS_FORM_MEGATRON || s->token_pos < 0) return 0;
    uint32_t n = 0;
    for (int k = 0; k < s->tiles; k++) n += s->inline_tile[k];
    return n * IMAGE_POSITIONS_PER_TILE;
}

/* Positions token t stands for; *img walks the images in order. */
static uint32_t token_width(const held *h, uint32_t *img, uint32_t t) {
    while (*img < h->n_images && h->images[*img].token_pos < (int64_t)t) (*img)++;
    if (*img < h->n_images && h->images[*img].token_pos == (int64_t)t) {
        uint32_t wd = img_width(&h->images[*img]);
        return wd ? wd : 1;
    }
    return 1;
}

static int64_t image_first(const ts_chat_slot *s) {
    int64_t first = s->token_pos;
    for (int k = 0; k < s->tiles; k++) {
        if (s->tag_pos[k] >= 0 && (first < 0 || s->tag_pos[k] < first)) first = s->tag_pos[k];
        if (s->feat_pos[k] >= 0 && (first < 0 || s->feat_pos[k] < first)) first = s->feat_pos[k];
    }
    return first;
}

/* Where the decoder features go: the IMG token, else the first feature
 * token (HF form), else (cross-attention only) the first tag token. */
static int64_t image_anchor(const ts_chat_slot *s) {
    if (s->token_pos >= 0) return s->token_pos;
    int64_t a = -1;
    for (int k = 0; k < s->tiles; k++)
        if (s->feat_pos[k] >= 0 && (a < 0 || s->feat_pos[k] < a)) a = s->feat_pos[k];
    for (int k = 0; k < s->tiles && a < 0; k++)
        if (s->tag_pos[k] >= 0 && (a < 0 || s->tag_pos[k] < a)) a = s->tag_pos[k];
    return a;
}

static int64_t image_last(const ts_chat_slot *s) {
    int64_t last = s->token_pos;
    for (int k = 0; k < s->tiles; k++) {
        if (s->tag_pos[k] > last) last = s->tag_pos[k];
        if (s->feat_pos[k] >= 0 && s->feat_pos[k] + TS_CHAT_TILE_TOKENS - 1 > last)
            last = s->feat_pos[k] + TS_CHAT_TILE_TOKENS - 1;
    }
    return last;
}

static ts_status hold_room(held *h, uint32_t n_ids, uint32_t n_images, ts_error *err) {
    if (n_ids > h->cap_ids) {
        int32_t *ids = realloc(h->ids, (size_t)n_ids * sizeof *ids);
        if (ids) h->ids = ids;
        uint8_t *mask = ids ? realloc(h->mask, n_ids) : NULL;
        if (!mask) return ts_fail(err, TS_ENOMEM, "out of memory");
        h->mask = mask;
        h->cap_ids = n_ids;
    }
    if (n_images > h->cap_images) {
        ts_chat_slot *im = realloc(h->images, (size_t)n_images * sizeof *im);
        if (im) h->images = im;
        uint32_t *st = im ? realloc(h->img_start, (size_t)n_images * sizeof *st) : NULL;
        if (!st) return ts_fail(err, TS_ENOMEM, "out of memory");
        h->img_start = st;
        h->cap_images = n_images;
    }
    return TS_OK;
}

/* Copy a record into h, checking its images against its length; cut it to
 * max_len or report why it is left out (*keep = 0). */
static ts_status prepare(packer *p, const ts_tokfile_record *r, held *h, int *keep, ts_error *err) {
    *keep = 0;
    ts_status st = hold_room(h, r->n_ids, r->n_images, err);
    if (st) return st;
    int64_t length = r->n_ids;
    for (uint32_t i = 0; i < r->n_images; i++) {
        ts_chat_slot *s = &h->images[i];
        if ((st = ts_tokfile_image(r, i, s, err))) return st;
        int64_t first = image_first(s);
        if (first < 0 || (i && first <= (int64_t)h->img_start[i - 1]))
            return ts_fail(err, TS_EFORMAT, "source record %llu: image %u has no place or is out of order",
                           (unsigned long long)r->source_record, i);
        h->img_start[i] = (uint32_t)first;
        uint32_t wd = img_width(s);
        if (wd) length += wd - 1;
    }
    if (length != r->length)
        return ts_fail(err, TS_EFORMAT, "source record %llu: length %lld, but its ids and images make %lld",
                       (unsigned long long)r->source_record, (long long)r->length, (long long)length);
    for (uint32_t t = 0; t < r->n_ids; t++) {
        h->ids[t] = (int32_t)ts_get_u32le(r->ids + 4 * (uint64_t)t);
        h->mask[t] = r->mask[t];
        if (h->ids[t] < 0 || h->mask[t] > 1)
            return ts_fail(err, TS_EFORMAT, "source record %llu: token %u: bad id or mask",
                           (unsigned long long)r->source_record, t);
    }
    h->source_record = r->source_record;
    h->n_ids = r->n_ids;
    h->n_images = r->n_images;
    h->flags = 0;
    p->stats->samples_in++;
    if (!r->n_ids) {
        p->stats->dropped_empty++;
        return TS_OK;
    }
    uint32_t max_len = p->o->max_len;
    if (length > max_len) {
        if (p->o->overlong == TS_PACK_DROP) {
            p->stats->dropped_overlong++;
            return TS_OK;
        }
        /* the longest prefix that fits, never cutting through an image */
        uint64_t pos = 0;
        uint32_t n = 0, img = 0;
        while (n < h->n_ids) {
            uint32_t wd = token_width(h, &img, n);
            if (pos + wd > max_len) break;
            pos += wd;
            n++;
        }
        uint32_t kept = 0;
        while (kept < h->n_images && image_last(&h->images[kept]) < (int64_t)n) kept++;
        if (kept < h->n_images && h->img_start[kept] < n) n = h->img_start[kept];
        p->stats->images_dropped_by_truncation += h->n_images - kept;
        h->n_images = kept;
        h->n_ids = n;
        length = n;
        for (uint32_t i = 0; i < kept; i++) {
            uint32_t wd = img_width(&h->images[i]);
            if (wd) length += wd - 1;
        }
        int trained = 0;
        for (uint32_t t = 1; t < n && !trained; t++) trained = h->mask[t];
        if (!trained) {
            p->stats->dropped_no_labels++;
            return TS_OK;
        }
        h->flags = TS_PACK_SUB_TRUNCATED;
        p->stats->truncated++;
    }
    h->length = (uint32_t)length;
    *keep = 1;
    return TS_OK;
}

/* The record of the slot's image with the slot's tile count: prepare stores
 * an image under its xxh3-128 hex the first time, and under "<hex>-<N>" the
 * tiling a sample re-tiled to N tiles needs (docs/PREPARE.md). */
static int find_tiling(const ts_tile_shard *sh, const ts_chat_slot *s, size_t *idx, ts_tile_record *rec) {
    if (ts_tile_shard_find_hash(sh, s->content_hash, idx) != TS_OK) return -1;
    ts_tile_shard_record(sh, *idx, rec);
    if (rec->tiles == s->tiles) return 1;
    char key[48];
    ts_hash128_hex(s->content_hash, key);
    snprintf(key + 32, sizeof key - 32, "-%d", s->tiles);
    if (ts_tile_shard_find_key(sh, key, idx) != TS_OK) return 0;
    ts_tile_shard_record(sh, *idx, rec);
    return rec->tiles == s->tiles;
}

static void tile_ref(packer *p, const ts_chat_slot *s, ts_pack_image *im) {
    im->tile_shard = -1;
    im->tile_record = 0;
    if (!s->has_hash) return;
    for (size_t k = 0; k < p->n_tiles; k++) {
        size_t idx;
        ts_tile_record rec;
        int found = find_tiling(p->tiles[k], s, &idx, &rec);
        if (found < 0) continue;
        if (!found) { /* the image is there, but not in this tiling */
            p->images_tiles_mismatch++;
            return;
        }
        im->tile_shard = (int32_t)k;
        im->tile_record = (uint32_t)idx;
        im->flags |= TS_PACK_IMG_TILES;
        p->stats->images_with_tiles++;
        if (p->features) {
            char tiling[TS_FEAT_TILING_MAX];
            size_t fi;
            ts_feat_tiling(ts_tile_shard_info(p->tiles[k]), &rec, tiling, sizeof tiling);
            if (ts_feat_cache_find(p->features, s->content_hash, tiling, p->feat_model, &fi) == TS_OK) {
                im->flags |= TS_PACK_IMG_FEATURES;
                p->stats->images_with_features++;
            }
        }
        return;
    }
}

static int by_arrival(const void *a, const void *b, void *ctx) {
    const held *s = ctx;
    uint64_t x = s[*(const uint32_t *)a].arrival, y = s[*(const uint32_t *)b].arrival;
    return x < y ? -1 : x > y;
}

/* One bin (n slots at chosen), written as a sequence in arrival order. */
static ts_status emit(packer *p, uint32_t *chosen, uint32_t n, ts_error *err) {
    qsort_r(chosen, n, sizeof *chosen, by_arrival, p->slots);
    size_t tokens = 0, images = 0;
    for (uint32_t k = 0; k < n; k++) tokens += p->slots[chosen[k]].n_ids, images += p->slots[chosen[k]].n_images;
    ts_pack_seq *q = &p->seq;
    ts_status st = ts_pack_seq_reserve(q, tokens, n, images, err);
    if (st) return st;
    q->n_tokens = (uint32_t)tokens;
    q->n_subs = n;
    q->n_images = (uint32_t)images;
    q->cu_seqlens[0] = 0;
    q->cu_tokens[0] = 0;
    uint32_t T = 0, I = 0;
    for (uint32_t k = 0; k < n; k++) {
        held *h = &p->slots[chosen[k]];
        uint32_t pos = 0, img = 0;
        for (uint32_t t = 0; t < h->n_ids; t++) {
            q->ids[T + t] = (uint32_t)h->ids[t];
            q->labels[T + t] = t + 1 < h->n_ids && h->mask[t + 1] ? h->ids[t + 1] : TS_PACK_IGNORE;
            q->positions[T + t] = (int32_t)pos;
            pos += token_width(h, &img, t);
        }
        for (uint32_t i = 0; i < h->n_images; i++, I++) {
            const ts_chat_slot *s = &h->images[i];
            ts_pack_image *im = &q->images[I];
            memset(im, 0, sizeof *im);
            im->sub = k;
            im->tiles = (uint32_t)s->tiles;
            im->layout = (uint8_t)s->layout;
            im->form = (uint8_t)s->form;
            im->flags = s->has_hash ? TS_PACK_IMG_HASH : 0;
            for (int t = 0; t < s->tiles; t++) im->n_inline += s->inline_tile[t];
            im->token_pos = T + (uint32_t)image_anchor(s);
            im->position = (uint32_t)q->positions[im->token_pos];
            im->retiled_from = (uint32_t)s->retiled_from;
            im->content_hash = s->content_hash;
            tile_ref(p, s, im);
            p->stats->images++;
            p->images_with_hash += s->has_hash != 0;
        }
        T += h->n_ids;
        q->cu_tokens[k + 1] = T;
        q->cu_seqlens[k + 1] = q->cu_seqlens[k] + (int32_t)h->length;
        q->subs[k] = (ts_pack_sub){h->input, h->flags, h->source_record, h->tok_record};
        p->stats->positions += h->length;
        p->free_slots[p->n_free++] = chosen[k];
    }
    p->stats->tokens += T;
    p->stats->samples_packed += n;
    p->stats->sequences++;
    return ts_pack_writer_add(p->w, q, err);
}

/* A round of the bin chooser; every bin it keeps becomes a sequence. */
static ts_status pack_round(packer *p, int drain, ts_error *err) {
    uint32_t k = ts_binpack_round(p->bins, p->o->min_fill, drain, p->chosen, p->ends);
    ts_status st = TS_OK;
    for (uint32_t i = 0, start = 0; i < k && !st; start = p->ends[i++])
        st = emit(p, p->chosen + start, p->ends[i] - start, err);
    return st;
}

static ts_status open_inputs(const char *const *inputs, size_t n, ts_tokfile_reader **rd, uint64_t *tok_hash,
                             ts_hasher *params, ts_error *err) {
    *tok_hash = 0;
    for (size_t i = 0; i < n; i++) {
        ts_status st = ts_tokfile_reader_open(inputs[i], &rd[i], err);
        if (st) return st;
        uint64_t th = ts_tokfile_reader_tokenizer_hash(rd[i]), sum = ts_tokfile_reader_checksum(rd[i]);
        if (th && *tok_hash && th != *tok_hash)
            return ts_fail(err, TS_EINVAL, "%s: tokenized with another tokenizer than %s", inputs[i], inputs[0]);
        if (th) *tok_hash = th;
        ts_hasher_update(params, &sum, sizeof sum);
    }
    return TS_OK;
}

/* `path` relative to the folder of the shard being written, as the meta
 * records it (the folder exists: the writer's temporary is in it). */
static cJSON *relative_path(const char *path, const char *out_path, ts_status *st, ts_error *err) {
    if (*st) return NULL;
    ts_buf rel = TS_BUF_INIT;
    *st = ts_pack_relative_path(path, out_path, &rel, err);
    cJSON *j = *st ? NULL : cJSON_CreateString((const char *)rel.data);
    ts_buf_free(&rel);
    return j;
}

/* The cache's entries must share one model: a slot's flag then names one
 * entry, found by (content hash, tiling of its tile record, that model). */
static ts_status open_features(packer *p, const char *dir, ts_error *err) {
    ts_status st = ts_feat_cache_open(dir, &p->features, err);
    size_t n = st ? 0 : ts_feat_cache_count(p->features);
    if (n) p->feat_model = ts_feat_cache_entry(p->features, 0)->model;
    for (size_t i = 1; i < n && !st; i++)
        if (!ts_hash128_equal(ts_feat_cache_entry(p->features, i)->model, p->feat_model))
            st = ts_fail(err, TS_EINVAL, "%s: the feature cache holds features of more than one model", dir);
    return st;
}

static ts_status meta_json(const char *const *inputs, size_t n_inputs, ts_tokfile_reader **rd, const ts_pack_options *o,
                           const ts_pack_stats *s, const packer *p, uint64_t tok_hash, uint64_t params_hash,
                           const char *out_path, char **out, ts_error *err) {
    cJSON *m = cJSON_CreateObject(), *a, *st;
    ts_status rc = TS_OK;
    char hex[17];
    cJSON_AddStringToObject(m, "format", "tessera-packed");
    cJSON_AddNumberToObject(m, "version", TS_PACK_VERSION);
    cJSON_AddNumberToObject(m, "max_len", o->max_len);
    cJSON_AddNumberToObject(m, "window", o->window);
    cJSON_AddNumberToObject(m, "min_fill", o->min_fill);
    cJSON_AddStringToObject(m, "overlong", o->overlong == TS_PACK_DROP ? "drop" : "truncate");
    cJSON_AddNumberToObject(m, "seqs_per_block", o->seqs_per_block);
    ts_hash64_hex(tok_hash, hex);
    cJSON_AddStringToObject(m, "tokenizer_xxh3_64", hex);
    ts_hash64_hex(params_hash, hex);
    cJSON_AddStringToObject(m, "params_xxh3_64", hex);
    cJSON_AddStringToObject(m, "path_base", "shard_dir");
    a = cJSON_AddArrayToObject(m, "inputs");
    for (size_t i = 0; a && i < n_inputs; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "path", relative_path(inputs[i], out_path, &rc, err));
        cJSON_AddNumberToObject(e, "records", (double)ts_tokfile_reader_count(rd[i]));
        ts_hash64_hex(ts_tokfile_reader_checksum(rd[i]), hex);
        cJSON_AddStringToObject(e, "xxh3_64", hex);
        cJSON_AddItemToArray(a, e);
    }
    a = cJSON_AddArrayToObject(m, "tile_shards");
    for (size_t i = 0; a && i < o->n_tile_shards; i++)
        cJSON_AddItemToArray(a, relative_path(o->tile_shards[i], out_path, &rc, err));
    if (o->feature_cache) {
        cJSON *fc = cJSON_AddObjectToObject(m, "feature_cache");
        char model[33] = "";
        if (p->features && ts_feat_cache_count(p->features)) ts_hash128_hex(p->feat_model, model);
        cJSON_AddItemToObject(fc, "path", relative_path(o->feature_cache, out_path, &rc, err));
        cJSON_AddStringToObject(fc, "model", model);
    }
    st = cJSON_AddObjectToObject(m, "stats");
    if (st) {
        cJSON_AddNumberToObject(st, "samples_in", (double)s->samples_in);
        cJSON_AddNumberToObject(st, "samples_packed", (double)s->samples_packed);
        cJSON_AddNumberToObject(st, "sequences", (double)s->sequences);
        cJSON_AddNumberToObject(st, "tokens", (double)s->tokens);
        cJSON_AddNumberToObject(st, "positions", (double)s->positions);
        cJSON_AddNumberToObject(st, "fill", s->sequences ? (double)s->positions / ((double)s->sequences * o->max_len) : 0);
        cJSON_AddNumberToObject(st, "truncated", (double)s->truncated);
        cJSON *d = cJSON_AddObjectToObject(st, "dropped");
        cJSON_AddNumberToObject(d, "over_max_len", (double)s->dropped_overlong);
        cJSON_AddNumberToObject(d, "empty", (double)s->dropped_empty);
        cJSON_AddNumberToObject(d, "no_labels_after_truncation", (double)s->dropped_no_labels);
        cJSON_AddNumberToObject(st, "images", (double)s->images);
        cJSON_AddNumberToObject(st, "images_with_hash", (double)p->images_with_hash);
        cJSON_AddNumberToObject(st, "images_with_tiles", (double)s->images_with_tiles);
        cJSON_AddNumberToObject(st, "images_with_features", (double)s->images_with_features);
        cJSON_AddNumberToObject(st, "images_tile_count_mismatch", (double)p->images_tiles_mismatch);
        cJSON_AddNumberToObject(st, "images_dropped_by_truncation", (double)s->images_dropped_by_truncation);
    }
    *out = rc ? NULL : cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    if (!rc && !*out) rc = ts_fail(err, TS_ENOMEM, "out of memory");
    return rc;
}

ts_status ts_pack_files(const char *const *inputs, size_t n_inputs, const char *out_path, const ts_pack_options *o,
                        ts_pack_stats *stats, ts_error *err) {
    memset(stats, 0, sizeof *stats);
    if (!o->max_len || o->max_len > TS_PACK_MAX_LEN_LIMIT || !o->window || o->window > (1u << 24) || !(o->min_fill > 0 && o->min_fill <= 1) ||
        !o->seqs_per_block || o->seqs_per_block > 65536 || o->zstd_level < 1 || o->zstd_level > 19)
        return ts_fail(err, TS_EINVAL, "pack: max_len 1..%u, window 1..16777216, min_fill in (0, 1], seqs_per_block 1..65536, zstd 1..19",
                       TS_PACK_MAX_LEN_LIMIT);
    packer p = {.o = o, .stats = stats};
    ts_tokfile_reader **rd = calloc(n_inputs ? n_inputs : 1, sizeof *rd);
    ts_hasher *params = ts_hasher_new();
    p.slots = calloc(o->window, sizeof *p.slots);
    p.free_slots = malloc((size_t)o->window * sizeof *p.free_slots);
    p.chosen = malloc((size_t)o->window * sizeof *p.chosen);
    p.ends = malloc((size_t)o->window * sizeof *p.ends);
    p.tiles = calloc(o->n_tile_shards ? o->n_tile_shards : 1, sizeof *p.tiles);
    ts_status st = rd && params && p.slots && p.free_slots && p.chosen && p.ends && p.tiles ? TS_OK
                                                                                  : ts_fail(err, TS_ENOMEM, "out of memory");
    for (uint32_t i = 0; !st && i < o->window; i++) p.free_slots[p.n_free++] = o->window - 1 - i;
    if (!st) st = ts_binpack_new(o->max_len, o->window, &p.bins, err);
    for (size_t i = 0; !st && i < o->n_tile_shards; i++, p.n_tiles++) st = ts_tile_shard_open(&p.tiles[i], o->tile_shards[i], err);
    if (!st && o->feature_cache) st = open_features(&p, o->feature_cache, err);
    char canon[256];
    snprintf(canon, sizeof canon,
             "tessera-pack/%u max_len=%u window=%u min_fill=%.6f overlong=%d seqs_per_block=%u zstd=%d tiles=%zu features=%zu",
             TS_PACK_VERSION, o->max_len, o->window, o->min_fill, (int)o->overlong, o->seqs_per_block, o->zstd_level,
             o->n_tile_shards, p.features ? ts_feat_cache_count(p.features) : 0);
    if (params) ts_hasher_update(params, canon, strlen(canon));
    ts_pack_header h = {o->max_len, o->seqs_per_block, (uint32_t)o->zstd_level, o->window, 0, 0, o->recipe_hash};
    if (!st) st = open_inputs(inputs, n_inputs, rd, &h.tokenizer_hash, params, err);
    if (!st) h.params_hash = ts_hasher_digest(params);
    if (!st) st = ts_pack_writer_open(out_path, &h, &p.w, err);
    for (size_t i = 0; !st && i < n_inputs; i++) {
        ts_tokfile_record rec;
        for (uint64_t k = 0; !st; k++) {
            st = ts_tokfile_reader_next(rd[i], &rec, err);
            if (st == TS_ENOTFOUND) {
                st = TS_OK;
                break;
            }
            if (st) break;
            if (ts_binpack_count(p.bins) == o->window) st = pack_round(&p, 0, err);
            if (st) break;
            held *hd = &p.slots[p.free_slots[p.n_free - 1]];
            int keep = 0;
            st = prepare(&p, &rec, hd, &keep, err);
            if (st) st = ts_error_context(err, "%s: ", inputs[i]);
            if (st || !keep) continue;
            hd->input = (uint32_t)i;
            hd->tok_record = k;
            hd->arrival = p.arrival++;
            ts_binpack_add(p.bins, p.free_slots[--p.n_free], hd->length);
        }
    }
    if (!st) st = pack_round(&p, 1, err);
    char *meta = NULL;
    if (!st) st = meta_json(inputs, n_inputs, rd, o, stats, &p, h.tokenizer_hash, h.params_hash, out_path, &meta, err);
    if (!st) st = ts_pack_writer_finish(p.w, meta, err);
    else ts_pack_writer_abort(p.w);
    free(meta);
    for (size_t i = 0; rd && i < n_inputs; i++) ts_tokfile_reader_close(rd[i]);
    for (size_t i = 0; i < p.n_tiles; i++) ts_tile_shard_close(p.tiles[i]);
    ts_feat_cache_close(p.features);
    for (uint32_t i = 0; p.slots && i < o->window; i++) {
        free(p.slots[i].ids);
        free(p.slots[i].mask);
        free(p.slots[i].images);
        free(p.slots[i].img_start);
    }
    free(rd);
    free(p.slots);
    free(p.free_slots);
    free(p.chosen);
    free(p.ends);
    free(p.tiles);
    ts_hasher_free(params);
    ts_binpack_free(p.bins);
    ts_pack_seq_free(&p.seq);
    return st;
}
