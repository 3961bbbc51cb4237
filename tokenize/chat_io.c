/* Conversation records from JSON, results to JSON lines and to the binary
 * sample file, in parallel batches with deterministic output order. */
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/line_batch.h"
#include "core/log.h"
#include "tokenize/chat.h"
#include "tokenize/tokfile.h"

#define BATCH_RECORDS 1024

static const char *role_name(const char *r) {
    if (!strcmp(r, "human") || !strcmp(r, "user")) return "user";
    if (!strcmp(r, "gpt") || !strcmp(r, "assistant")) return "assistant";
    if (!strcmp(r, "system")) return "system";
    return NULL;
}

static ts_status parse_tiles(const cJSON *t, ts_chat_image *img, size_t i, ts_error *err) {
    memset(img, 0, sizeof *img);
    img->tiles[1] = 1;
    if (cJSON_IsNumber(t)) {
        int n = (int)t->valuedouble;
        if (n < 1 || n > TS_CHAT_MAX_TILES || n == 2)
            return ts_fail(err, TS_EFORMAT, "image %zu: %d tiles (1, 3, 4, 5, 6 or 7)", i, n);
        img->tiles[TS_CHAT_MAX_CAP] = n;
        return TS_OK;
    }
    if (!cJSON_IsObject(t)) return ts_fail(err, TS_EFORMAT, "image %zu: tiles must be a number or an object", i);
    const cJSON *it;
    cJSON_ArrayForEach(it, t) {
        int cap = atoi(it->string), n = cJSON_IsNumber(it) ? (int)it->valuedouble : -1;
        if (cap < 1 || cap > TS_CHAT_MAX_CAP || n < 1 || n > cap + (cap > 1) || n == 2)
            return ts_fail(err, TS_EFORMAT, "image %zu: bad tile count %d for cap \"%s\"", i, n, it->string);
        img->tiles[cap] = n;
    }
    return TS_OK;
}

static int hex_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* {"tiles": <number or object>, "xxh3_128": "<32 hex digits, hi first>"} */
static ts_status parse_image(const cJSON *t, ts_chat_image *img, size_t i, ts_error *err) {
    if (!cJSON_IsObject(t)) return ts_fail(err, TS_EFORMAT, "image %zu: must be an object", i);
    const cJSON *tiles = cJSON_GetObjectItemCaseSensitive(t, "tiles");
    if (!tiles) return ts_fail(err, TS_EFORMAT, "image %zu: no \"tiles\"", i);
    ts_status st = parse_tiles(tiles, img, i, err);
    if (st) return st;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(t, "xxh3_128");
    if (!h) return TS_OK;
    const char *hex = cJSON_IsString(h) ? h->valuestring : NULL;
    if (!hex || strlen(hex) != 32 || hex_u64(hex, &img->content_hash.hi) || hex_u64(hex + 16, &img->content_hash.lo))
        return ts_fail(err, TS_EFORMAT, "image %zu: \"xxh3_128\" must be 32 hex digits", i);
    img->has_hash = 1;
    return TS_OK;
}

ts_status ts_chat_sample_from_json(const cJSON *rec, ts_chat_task default_task, ts_chat_sample *out,
                                   ts_error *err) {
    memset(out, 0, sizeof *out);
    out->task = default_task;
    const char *task = ts_json_str(rec, "task", NULL);
    if (task && ts_chat_task_parse(task, &out->task))
        return ts_fail(err, TS_EFORMAT, "unknown task \"%s\"", task);
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(rec, "conversations");
    const char *rk = "from", *ck = "value";
    if (!conv) {
        conv = cJSON_GetObjectItemCaseSensitive(rec, "messages");
        rk = "role", ck = "content";
    }
    if (!conv) {
        out->text = ts_json_str(rec, "text", NULL);
        if (!out->text) return ts_fail(err, TS_EFORMAT, "record has no \"conversations\", \"messages\" or \"text\"");
        out->task = TS_CHAT_PRETRAIN;
        return TS_OK;
    }
    if (out->task == TS_CHAT_PRETRAIN) out->task = TS_CHAT_SFT;
    if (!cJSON_IsArray(conv) || cJSON_GetArraySize(conv) == 0)
        return ts_fail(err, TS_EFORMAT, "\"%s\" must be a non-empty array", conv->string);
    size_t n = (size_t)cJSON_GetArraySize(conv);
    ts_chat_turn *turns = calloc(n, sizeof *turns);
    if (!turns) return ts_fail(err, TS_ENOMEM, "out of memory");
    out->turns = turns;
    out->n_turns = n;
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, conv) {
        const char *role = ts_json_str(t, rk, NULL), *content = ts_json_str(t, ck, NULL);
        if (!role || !content) return ts_fail(err, TS_EFORMAT, "turn %zu: needs string \"%s\" and \"%s\"", i, rk, ck);
        if (!(turns[i].role = role_name(role))) return ts_fail(err, TS_EFORMAT, "turn %zu: unknown role \"%s\"", i, role);
        turns[i++].content = content;
    }
    const cJSON *tiles = cJSON_GetObjectItemCaseSensitive(rec, "tiles");
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(rec, "images");
    if (tiles && images) return ts_fail(err, TS_EFORMAT, "give \"tiles\" or \"images\", not both");
    const cJSON *list = tiles ? tiles : images;
    if (list) {
        if (!cJSON_IsArray(list)) return ts_fail(err, TS_EFORMAT, "\"%s\" must be an array", list->string);
        size_t k = (size_t)cJSON_GetArraySize(list);
        ts_chat_image *imgs = calloc(k ? k : 1, sizeof *imgs);
        if (!imgs) return ts_fail(err, TS_ENOMEM, "out of memory");
        out->images = imgs;
        out->n_images = k;
        size_t j = 0;
        cJSON_ArrayForEach(t, list) {
            ts_status st = images ? parse_image(t, &imgs[j], j, err) : parse_tiles(t, &imgs[j], j, err);
            if (st) return st;
            j++;
        }
    }
    return TS_OK;
}

void ts_chat_sample_free(ts_chat_sample *s) {
    free((void *)s->turns);
    free((void *)s->images);
    memset(s, 0, sizeof *s);
}

static cJSON *int_array(const int64_t *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateNumber((double)v[i]);
        if (!x) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

cJSON *ts_chat_result_json(const ts_chat_result *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int64_t *tmp = malloc((r->ids.len ? r->ids.len : 1) * sizeof *tmp);
    if (!tmp) {
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t i = 0; i < r->ids.len; i++) tmp[i] = r->ids.v[i];
    cJSON_AddItemToObject(o, "ids", int_array(tmp, r->ids.len));
    for (size_t i = 0; i < r->ids.len; i++) tmp[i] = r->mask[i];
    cJSON_AddItemToObject(o, "loss_mask", int_array(tmp, r->ids.len));
    free(tmp);
    cJSON_AddNumberToObject(o, "length", (double)r->length);
    cJSON *imgs = cJSON_AddArrayToObject(o, "images");
    for (size_t i = 0; imgs && i < r->n_images; i++) {
        const ts_chat_slot *s = &r->images[i];
        cJSON *im = cJSON_CreateObject();
        if (!im) break;
        cJSON_AddNumberToObject(im, "tiles", s->tiles);
        cJSON_AddNumberToObject(im, "cap", s->cap);
        if (s->retiled_from) cJSON_AddNumberToObject(im, "retiled_from", s->retiled_from);
        cJSON_AddNumberToObject(im, "token_pos", (double)s->token_pos);
        cJSON_AddItemToObject(im, "tag_pos", int_array(s->tag_pos, (size_t)s->tiles));
        cJSON_AddItemToObject(im, "feat_pos", int_array(s->feat_pos, (size_t)s->tiles));
        int64_t inl[TS_CHAT_MAX_TILES];
        for (int k = 0; k < s->tiles; k++) inl[k] = s->inline_tile[k];
        cJSON_AddItemToObject(im, "inline", int_array(inl, (size_t)s->tiles));
        if (s->has_hash) {
            char hex[33];
            ts_hash128_hex(s->content_hash, hex);
            cJSON_AddStringToObject(im, "xxh3_128", hex);
        }
        cJSON_AddItemToArray(imgs, im);
    }
    return o;
}

typedef struct chat_job {
    const ts_tokenizer *tok;
    const ts_chat_options *o;
    const char *path;
    ts_tok_scratch **scratch; /* per worker */
    ts_chat_result *res;
    char **json; /* the output line per record */
    FILE *out;
    ts_tokfile_writer *bin;
    size_t *failed;
} chat_job;

static ts_status chat_item(void *ctx, size_t i, int worker, const char *line, size_t len, ts_error *err) {
    chat_job *j = ctx;
    cJSON *rec = NULL;
    ts_status st = ts_json_parse(line, len, &rec, err);
    if (st) return st;
    ts_chat_sample s;
    st = ts_chat_sample_from_json(rec, j->o->task, &s, err);
    if (!st) st = ts_chat_tokenize(j->tok, j->scratch[worker], j->o, &s, &j->res[i], err);
    if (!st) {
        cJSON *o = ts_chat_result_json(&j->res[i]);
        j->json[i] = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!j->json[i]) st = ts_fail(err, TS_ENOMEM, "out of memory");
    }
    ts_chat_sample_free(&s);
    cJSON_Delete(rec);
    return st;
}

static ts_status write_line(FILE *out, const char *s, ts_error *err) {
    if (fputs(s, out) < 0 || fputc('\n', out) == EOF) return ts_fail_errno(err, TS_EIO, "writing output");
    return TS_OK;
}

static ts_status error_line(FILE *out, uint64_t record, const char *msg, ts_error *err) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return ts_fail(err, TS_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "record", (double)record);
    cJSON_AddStringToObject(o, "error", msg);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return ts_fail(err, TS_ENOMEM, "out of memory");
    ts_status st = write_line(out, s, err);
    free(s);
    return st;
}

/* A failed record becomes an error line; the others their JSON line and, with
 * a binary file, its record. */
static ts_status chat_consume(void *ctx, size_t i, uint64_t record, const ts_error *failed, ts_error *err) {
    chat_job *j = ctx;
    ts_status st;
    if (failed) {
        ts_warn("%s: record %llu: %s", j->path, (unsigned long long)record, failed->msg);
        if (j->failed) (*j->failed)++;
        st = error_line(j->out, record, failed->msg, err);
    } else {
        st = write_line(j->out, j->json[i], err);
        if (!st && j->bin) st = ts_tokfile_add(j->bin, record, &j->res[i], err);
    }
    free(j->json[i]);
    j->json[i] = NULL;
    return st;
}

ts_status ts_chat_jsonl(const ts_tokenizer *tok, const ts_chat_options *o, const char *path, int threads,
                        FILE *out, const char *bin_path, size_t *failed, ts_error *err) {
    ts_line_reader *r = NULL;
    ts_status st = ts_line_reader_open(&r, path, err);
    if (st) return st;
    ts_tokfile_writer *bin = NULL;
    if (bin_path && (st = ts_tokfile_create(bin_path, ts_tokenizer_hash(tok), &bin, err))) {
        ts_line_reader_close(r);
        return st;
    }
    ts_tok_workers tw;
    chat_job j = {.tok = tok, .o = o, .path = path, .out = out, .bin = bin, .failed = failed};
    j.res = calloc(BATCH_RECORDS, sizeof *j.res);
    j.json = calloc(BATCH_RECORDS, sizeof *j.json);
    st = j.res && j.json ? ts_tok_workers_new(tok, threads, &tw, err) : ts_fail(err, TS_ENOMEM, "out of memory");
    if (!st) {
        j.scratch = tw.scratch;
        st = ts_map_lines(r, tw.pool, BATCH_RECORDS, 0, chat_item, chat_consume, &j, err);
        ts_tok_workers_free(&tw);
    }
    for (size_t i = 0; j.res && i < BATCH_RECORDS; i++) ts_chat_result_free(&j.res[i]);
    for (size_t i = 0; j.json && i < BATCH_RECORDS; i++) free(j.json[i]); /* those left after a failure */
    free(j.res);
    free(j.json);
    ts_line_reader_close(r);
    if (bin) {
        if (st) ts_tokfile_abort(bin);
        else st = ts_tokfile_finish(bin, err);
    }
    return st ? ts_error_context(err, "%s: ", path) : TS_OK;
}
