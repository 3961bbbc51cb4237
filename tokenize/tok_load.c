/* Loading a tokenizer.json: every component is checked against what the
 * encoder implements; anything else is refused, naming the feature. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/hash.h"
#include "core/io.h"
#include "core/json.h"
#include "tokenize/tok_internal.h"

#define TOKENIZER_JSON_MAX ((size_t)1 << 30)

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100.. in byte order. */
static void byte_level_map(uint32_t byte_to_cp[256]) {
    uint32_t extra = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        byte_to_cp[b] = printable ? (uint32_t)b : extra++;
    }
}

/* Byte-level text -> raw bytes; a character outside the map keeps its UTF-8
 * bytes (what HF's ByteLevel decoder does). Appends to out. */
static ts_status byte_level_decode(const int16_t *cp_to_byte, const char *s, size_t n, ts_buf *out,
                                   ts_error *err) {
    size_t p = 0;
    while (p < n) {
        size_t l;
        uint32_t cp = ts_utf8_next((const uint8_t *)s + p, n - p, &l);
        if (cp < 324 && cp_to_byte[cp] >= 0) {
            uint8_t b = (uint8_t)cp_to_byte[cp];
            if (ts_buf_append(out, &b, 1, err)) return TS_ENOMEM;
        } else if (ts_buf_append(out, s + p, l, err)) {
            return TS_ENOMEM;
        }
        p += l;
    }
    return TS_OK;
}

static const uint8_t *tok_bytes(const ts_tokenizer *t, int32_t id, size_t *len) {
    *len = t->tok_len[id];
    return t->pool + t->tok_off[id];
}

int32_t ts_tok_vocab_find(const ts_tokenizer *t, const uint8_t *s, size_t n) {
    size_t i = ts_xxh3_64(s, n) & t->vocab.mask;
    for (;;) {
        uint32_t v = t->vocab.slot_id[i];
        if (!v) return -1;
        size_t l;
        const uint8_t *b = tok_bytes(t, (int32_t)(v - 1), &l);
        if (l == n && memcmp(b, s, n) == 0) return (int32_t)(v - 1);
        i = (i + 1) & t->vocab.mask;
    }
}

static size_t pow2_above(size_t n) {
    size_t c = 16;
    while (c < n * 2) c *= 2;
    return c;
}

typedef struct loader {
    ts_tokenizer *t;
    ts_buf pool;
    int16_t cp_to_byte[324];
    size_t n_vocab_entries;
    int32_t max_added;
    ts_error *err;
} loader;

static ts_status unsupported(ts_error *err, const char *what, const char *detail) {
    return ts_fail(err, TS_EUNSUPPORTED, "tokenizer.json: unsupported %s%s%s", what,
                   detail ? ": " : "", detail ? detail : "");
}

static const char *type_of(const cJSON *o) { return ts_json_str(o, "type", "(no type)"); }

static ts_status check_normalizer(ts_tokenizer *t, const cJSON *n, ts_error *err) {
    if (!n || cJSON_IsNull(n)) return TS_OK;
    const char *ty = type_of(n);
    if (strcmp(ty, "NFC") == 0) {
        t->nfc = 1;
        return TS_OK;
    }
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers"), *it;
        cJSON_ArrayForEach(it, list) {
            if (strcmp(type_of(it), "NFC") != 0) return unsupported(err, "normalizer", type_of(it));
            t->nfc = 1;
        }
        return TS_OK;
    }
    return unsupported(err, "normalizer", ty);
}

static ts_status check_byte_level(const cJSON *p, int want_regex, ts_error *err) {
    if (ts_json_bool(p, "add_prefix_space", 0))
        return unsupported(err, "pre_tokenizer option", "ByteLevel add_prefix_space=true");
    if (ts_json_bool(p, "use_regex", 1) != want_regex)
        return unsupported(err, "pre_tokenizer option",
                           want_regex ? "ByteLevel use_regex=false without a Split"
                                      : "ByteLevel use_regex=true after a Split");
    return TS_OK;
}

static ts_status check_pre_tokenizer(ts_tokenizer *t, const cJSON *p, ts_error *err) {
    if (!p || cJSON_IsNull(p)) return unsupported(err, "pre_tokenizer", "none (byte-level BPE needs one)");
    const char *ty = type_of(p);
    if (strcmp(ty, "ByteLevel") == 0) { /* GPT-2: ByteLevel with its built-in regex */
        t->pretok = TS_PRETOK_GPT2;
        return check_byte_level(p, 1, err);
    }
    if (strcmp(ty, "Sequence") != 0) return unsupported(err, "pre_tokenizer", ty);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
    if (cJSON_GetArraySize(list) != 2)
        return unsupported(err, "pre_tokenizer", "Sequence other than [Split, ByteLevel]");
    const cJSON *split = cJSON_GetArrayItem(list, 0), *bl = cJSON_GetArrayItem(list, 1);
    if (strcmp(type_of(split), "Split") != 0) return unsupported(err, "pre_tokenizer", type_of(split));
    if (strcmp(type_of(bl), "ByteLevel") != 0) return unsupported(err, "pre_tokenizer", type_of(bl));
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(split, "pattern");
    const char *re = ts_json_str(pat, "Regex", NULL);
    if (!re) return unsupported(err, "Split pattern", "a String pattern (only Regex is supported)");
    if (ts_pretok_from_pattern(re, &t->pretok))
        return ts_fail(err, TS_EUNSUPPORTED,
                       "tokenizer.json: unsupported Split regex %s (known: Qwen2, Llama-3/cl100k, GPT-2)",
                       re);
    const char *beh = ts_json_str(split, "behavior", "");
    if (strcmp(beh, "Isolated") != 0) return unsupported(err, "Split behavior", beh);
    if (ts_json_bool(split, "invert", 0)) return unsupported(err, "Split option", "invert=true");
    return check_byte_level(bl, 0, err);
}

static ts_status check_model_options(ts_tokenizer *t, const cJSON *m, ts_error *err) {
    if (strcmp(type_of(m), "BPE") != 0) return unsupported(err, "model", type_of(m));
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (d && !cJSON_IsNull(d)) return unsupported(err, "BPE option", "dropout");
    const char *csp = ts_json_str(m, "continuing_subword_prefix", "");
    const char *eow = ts_json_str(m, "end_of_word_suffix", "");
    if (*csp) return unsupported(err, "BPE option", "continuing_subword_prefix");
    if (*eow) return unsupported(err, "BPE option", "end_of_word_suffix");
    if (ts_json_bool(m, "byte_fallback", 0)) return unsupported(err, "BPE option", "byte_fallback");
    t->ignore_merges = ts_json_bool(m, "ignore_merges", 0);
    return TS_OK;
}

static ts_status check_decoder_and_rest(const cJSON *root, ts_error *err) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (d && !cJSON_IsNull(d) && strcmp(type_of(d), "ByteLevel") != 0)
        return unsupported(err, "decoder", type_of(d));
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (pp && !cJSON_IsNull(pp) && strcmp(type_of(pp), "ByteLevel") != 0)
        return unsupported(err, "post_processor", type_of(pp));
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    if (tr && !cJSON_IsNull(tr)) return unsupported(err, "option", "truncation");
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "padding");
    if (pad && !cJSON_IsNull(pad)) return unsupported(err, "option", "padding");
    return TS_OK;
}

/* Store token bytes for `id` (first definition wins: the model vocab). */
static ts_status set_token(loader *L, int32_t id, const void *bytes, size_t n) {
    ts_tokenizer *t = L->t;
    if (t->tok_off[id] != UINT64_MAX) return TS_OK;
    t->tok_off[id] = L->pool.len;
    t->tok_len[id] = (uint32_t)n;
    return ts_buf_append(&L->pool, bytes, n, L->err);
}

static ts_status load_vocab(loader *L, const cJSON *vocab) {
    ts_tokenizer *t = L->t;
    ts_buf tmp = TS_BUF_INIT;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it)) {
            ts_buf_free(&tmp);
            return ts_fail(L->err, TS_EFORMAT, "tokenizer.json: vocab entry \"%s\" is not a number",
                           it->string);
        }
        int32_t id = (int32_t)it->valuedouble;
        L->n_vocab_entries++;
        ts_buf_reset(&tmp);
        if (byte_level_decode(L->cp_to_byte, it->string, strlen(it->string), &tmp, L->err) ||
            set_token(L, id, tmp.data, tmp.len)) {
            ts_buf_free(&tmp);
            return TS_ENOMEM;
        }
    }
    ts_buf_free(&tmp);
    t->pool = L->pool.data; /* the vocab map reads token bytes from the pool */
    t->vocab.mask = pow2_above(t->n_ids) - 1;
    t->vocab.slot_id = calloc(t->vocab.mask + 1, sizeof *t->vocab.slot_id);
    if (!t->vocab.slot_id) return ts_fail(L->err, TS_ENOMEM, "out of memory for the vocab");
    cJSON_ArrayForEach(it, vocab) {
        int32_t id = (int32_t)it->valuedouble;
        size_t l;
        const uint8_t *b = tok_bytes(t, id, &l);
        if (ts_tok_vocab_find(t, b, l) >= 0) continue; /* duplicate bytes: first id wins */
        size_t i = ts_xxh3_64(b, l) & t->vocab.mask;
        while (t->vocab.slot_id[i]) i = (i + 1) & t->vocab.mask;
        t->vocab.slot_id[i] = (uint32_t)id + 1;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = ts_tok_vocab_find(t, &c, 1);
        if (t->byte_id[b] < 0)
            return unsupported(L->err, "vocab", "not every byte has a token (not byte-level BPE)");
    }
    return TS_OK;
}

static ts_status merge_parts(const cJSON *m, const char **a, size_t *al, const char **b, size_t *bl) {
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' ')) return TS_EFORMAT;
        *a = s, *al = (size_t)(sp - s), *b = sp + 1, *bl = strlen(sp + 1);
        return TS_OK;
    }
    if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        *a = cJSON_GetArrayItem(m, 0)->valuestring, *al = strlen(*a);
        *b = cJSON_GetArrayItem(m, 1)->valuestring, *bl = strlen(*b);
        return TS_OK;
    }
    return TS_EFORMAT;
}

static ts_status load_merges(loader *L, const cJSON *merges) {
    ts_tokenizer *t = L->t;
    size_t n = (size_t)cJSON_GetArraySize(merges);
    t->merges.mask = pow2_above(n) - 1;
    t->merges.e = calloc(t->merges.mask + 1, sizeof *t->merges.e);
    if (!t->merges.e) return ts_fail(L->err, TS_ENOMEM, "out of memory for merges");
    ts_buf ab = TS_BUF_INIT;
    ts_status st = TS_OK;
    uint32_t rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        size_t al, bl;
        if (merge_parts(m, &a, &al, &b, &bl)) {
            st = ts_fail(L->err, TS_EFORMAT, "tokenizer.json: merge %u is not \"a b\" or [a, b]", rank);
            break;
        }
        ts_buf_reset(&ab);
        if ((st = byte_level_decode(L->cp_to_byte, a, al, &ab, L->err))) break;
        size_t split = ab.len;
        if ((st = byte_level_decode(L->cp_to_byte, b, bl, &ab, L->err))) break;
        int32_t ia = ts_tok_vocab_find(t, ab.data, split);
        int32_t ib = ts_tok_vocab_find(t, ab.data + split, ab.len - split);
        int32_t ic = ts_tok_vocab_find(t, ab.data, ab.len);
        if (ia < 0 || ib < 0 || ic < 0) {
            st = ts_fail(L->err, TS_EFORMAT, "tokenizer.json: merge %u (%.*s %.*s) uses a token not in the vocab",
                         rank, (int)al, a, (int)bl, b);
            break;
        }
        uint64_t key = (((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib) + 1;
        size_t i = ts_merge_hash(key) & t->merges.mask;
        while (t->merges.e[i].key && t->merges.e[i].key != key) i = (i + 1) & t->merges.mask;
        if (!t->merges.e[i].key) { /* a repeated pair keeps its first (lowest) rank */
            t->merges.e[i] = (ts_merge_entry){key, rank, ic};
        }
        rank++;
    }
    ts_buf_free(&ab);
    return st;
}

static ts_status nfc_copy(const char *s, size_t n, char **out, size_t *out_len, ts_error *err) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0) return ts_fail(err, TS_EFORMAT, "NFC of \"%.*s\": %s", (int)n, s, utf8proc_errmsg(r));
    *out = (char *)dst;
    *out_len = (size_t)r;
    return TS_OK;
}

static int cmp_added(const void *a, const void *b) {
    const ts_added_token *x = *(ts_added_token *const *)a, *y = *(ts_added_token *const *)b;
    uint8_t fx = (uint8_t)x->content[0], fy = (uint8_t)y->content[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static ts_status build_set(ts_tokenizer *t, ts_added_set *set, int normalized) {
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized) set->n++;
    if (set->n > UINT16_MAX) return TS_ELIMIT;
    set->tok = calloc(set->n ? set->n : 1, sizeof *set->tok);
    if (!set->tok) return TS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized) set->tok[k++] = &t->added[i];
    qsort(set->tok, set->n, sizeof *set->tok, cmp_added);
    size_t j = 0;
    for (int b = 0; b <= 256; b++) {
        while (j < set->n && (uint8_t)set->tok[j]->content[0] < b) j++;
        set->first[b] = (uint16_t)j;
    }
    return TS_OK;
}

/* The id HF gives an added token when it loads the file (it does not read
 * the "id" field): the vocab id of the same string, else one past the largest
 * added id so far when that is past the vocab, else the vocab's entry count. */
static int32_t expected_added_id(loader *L, const char *content) {
    ts_tokenizer *t = L->t;
    for (size_t i = 0; i < t->n_added; i++)
        if (strcmp(t->added[i].content, content) == 0) return t->added[i].id;
    ts_buf raw = TS_BUF_INIT;
    int32_t id = -1;
    int mappable = 1;
    for (size_t p = 0, n = strlen(content); p < n;) {
        size_t l;
        uint32_t cp = ts_utf8_next((const uint8_t *)content + p, n - p, &l);
        if (cp >= 324 || L->cp_to_byte[cp] < 0) mappable = 0;
        p += l;
    }
    if (mappable && !byte_level_decode(L->cp_to_byte, content, strlen(content), &raw, NULL))
        id = ts_tok_vocab_find(t, raw.data, raw.len);
    ts_buf_free(&raw);
    if (id >= 0) return id;
    if (t->n_added && (size_t)L->max_added >= L->n_vocab_entries) return L->max_added + 1;
    return (int32_t)L->n_vocab_entries;
}

static ts_status load_added(loader *L, const cJSON *list) {
    ts_tokenizer *t = L->t;
    size_t n = (size_t)cJSON_GetArraySize(list);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added) return ts_fail(L->err, TS_ENOMEM, "out of memory for added tokens");
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const char *content = ts_json_str(it, "content", NULL);
        int64_t id = ts_json_int(it, "id", -1);
        if (!content || !*content || id < 0 || (size_t)id >= t->n_ids)
            return ts_fail(L->err, TS_EFORMAT, "tokenizer.json: added token %zu has no content or a bad id",
                           t->n_added);
        int32_t want = expected_added_id(L, content);
        if (want != (int32_t)id)
            return ts_fail(L->err, TS_EFORMAT,
                           "tokenizer.json: added token \"%s\" has id %lld but Hugging Face assigns it %d "
                           "(ids must follow the vocab, then count up)",
                           content, (long long)id, want);
        ts_added_token *a = &t->added[t->n_added++];
        a->id = (int32_t)id;
        a->special = (uint8_t)ts_json_bool(it, "special", 0);
        a->lstrip = (uint8_t)ts_json_bool(it, "lstrip", 0);
        a->rstrip = (uint8_t)ts_json_bool(it, "rstrip", 0);
        a->single_word = (uint8_t)ts_json_bool(it, "single_word", 0);
        a->normalized = (uint8_t)ts_json_bool(it, "normalized", !a->special);
        if (a->normalized && t->nfc) {
            ts_status st = nfc_copy(content, strlen(content), &a->content, &a->len, L->err);
            if (st) return st;
        } else {
            a->len = strlen(content);
            a->content = malloc(a->len + 1);
            if (!a->content) return ts_fail(L->err, TS_ENOMEM, "out of memory");
            memcpy(a->content, content, a->len + 1);
        }
        if (a->id > L->max_added) L->max_added = a->id;
        t->tok_special[a->id] = a->special;
        /* decoding an added token reads its content through the ByteLevel
         * decoder (HF: the added vocabulary answers before the model) */
        t->tok_off[a->id] = UINT64_MAX;
        ts_buf bytes = TS_BUF_INIT;
        ts_status st = byte_level_decode(L->cp_to_byte, content, strlen(content), &bytes, L->err);
        if (!st) st = set_token(L, a->id, bytes.data, bytes.len);
        ts_buf_free(&bytes);
        if (st) return st;
    }
    if (build_set(t, &t->raw_set, 0) || build_set(t, &t->norm_set, 1))
        return ts_fail(L->err, TS_ENOMEM, "out of memory for added tokens");
    return TS_OK;
}

static size_t max_id(const cJSON *vocab, const cJSON *added) {
    double mx = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) if (cJSON_IsNumber(it) && it->valuedouble > mx) mx = it->valuedouble;
    cJSON_ArrayForEach(it, added) {
        double v = ts_json_num(it, "id", -1);
        if (v > mx) mx = v;
    }
    return (size_t)(mx + 1);
}

static ts_status build(ts_tokenizer *t, const cJSON *root, ts_error *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(model)) return ts_fail(err, TS_EFORMAT, "tokenizer.json: no \"model\" object");
    ts_status st;
    if ((st = check_model_options(t, model, err)) || (st = check_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), err)) ||
        (st = check_pre_tokenizer(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), err)) ||
        (st = check_decoder_and_rest(root, err)))
        return st;
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return ts_fail(err, TS_EFORMAT, "tokenizer.json: model.vocab must be an object and model.merges an array");
    if (added && !cJSON_IsArray(added)) return ts_fail(err, TS_EFORMAT, "tokenizer.json: added_tokens is not an array");
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (double)INT32_MAX)
            return ts_fail(err, TS_EFORMAT, "tokenizer.json: vocab entry \"%s\" has a bad id", it->string);
    }
    t->n_ids = max_id(vocab, added);
    t->tok_off = malloc(t->n_ids * sizeof *t->tok_off);
    t->tok_len = calloc(t->n_ids, sizeof *t->tok_len);
    t->tok_special = calloc(t->n_ids, 1);
    if (!t->tok_off || !t->tok_len || !t->tok_special)
        return ts_fail(err, TS_ENOMEM, "out of memory for %zu tokens", t->n_ids);
    memset(t->tok_off, 0xFF, t->n_ids * sizeof *t->tok_off);
    loader L = {.t = t, .err = err};
    uint32_t b2c[256];
    byte_level_map(b2c);
    memset(L.cp_to_byte, 0xFF, sizeof L.cp_to_byte);
    for (int b = 0; b < 256; b++) L.cp_to_byte[b2c[b]] = (int16_t)b;
    st = load_vocab(&L, vocab);
    if (!st) st = load_merges(&L, merges);
    if (!st && added) st = load_added(&L, added);
    t->pool = L.pool.data;
    t->memory = L.pool.cap + t->n_ids * (sizeof *t->tok_off + sizeof *t->tok_len + 1) +
                (t->vocab.mask + 1) * sizeof *t->vocab.slot_id + (t->merges.mask + 1) * sizeof *t->merges.e;
    return st;
}

ts_status ts_tokenizer_load_json(const char *json, size_t len, ts_tokenizer **out, ts_error *err) {
    static uint64_t serial_counter;
    *out = NULL;
    cJSON *root = NULL;
    ts_status st = ts_json_parse(json, len, &root, err);
    if (st) return ts_error_context(err, "tokenizer.json: ");
    ts_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        cJSON_Delete(root);
        return ts_fail(err, TS_ENOMEM, "out of memory");
    }
    t->serial = __atomic_add_fetch(&serial_counter, 1, __ATOMIC_RELAXED);
    t->json_xxh3 = ts_xxh3_64(json, len);
    st = build(t, root, err);
    cJSON_Delete(root);
    if (st) {
        ts_tokenizer_free(t);
        return st;
    }
    *out = t;
    return TS_OK;
}

ts_status ts_tokenizer_load(const char *path, ts_tokenizer **out, ts_error *err) {
    ts_buf b = TS_BUF_INIT;
    ts_status st = ts_read_file(path, TOKENIZER_JSON_MAX, &b, err);
    if (!st) st = ts_tokenizer_load_json((const char *)b.data, b.len, out, err);
    ts_buf_free(&b);
    return st ? ts_error_context(err, "%s: ", path) : TS_OK;
}

uint64_t ts_tokenizer_hash(const ts_tokenizer *t) { return t->json_xxh3; }

void ts_tokenizer_free(ts_tokenizer *t) {
    if (!t) return;
    free(t->pool);
    free(t->tok_off);
    free(t->tok_len);
    free(t->tok_special);
    free(t->vocab.slot_id);
    free(t->merges.e);
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->raw_set.tok);
    free(t->norm_set.tok);
    free(t);
}

size_t ts_tokenizer_vocab_size(const ts_tokenizer *t) { return t->n_ids; }
size_t ts_tokenizer_memory(const ts_tokenizer *t) { return t->memory; }
const char *ts_tokenizer_pretok_name(const ts_tokenizer *t) { return ts_pretok_kind_name(t->pretok); }

int32_t ts_tokenizer_token_id(const ts_tokenizer *t, const char *text) {
    size_t n = strlen(text);
    for (size_t i = 0; i < t->n_added; i++)
        if (strcmp(t->added[i].content, text) == 0) return t->added[i].id;
    return ts_tok_vocab_find(t, (const uint8_t *)text, n);
}
