/* Encode and decode: the pipeline of tokenizer.h, step by step. */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tok_internal.h"

/* Steps 4-6 on NFC text: pre-tokenize and BPE each piece. */
static ts_status pretok_bpe(const ts_tokenizer *t, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                            ts_ids *out, ts_error *err) {
    size_t p = 0;
    while (p < n) {
        size_t e = ts_pretok_match(t->pretok, s, n, p);
        ts_status st = ts_bpe_word(t, sc, s + p, e - p, out, err);
        if (st) return st;
        p = e;
    }
    return TS_OK;
}

static size_t prev_char_start(const uint8_t *s, size_t p) {
    do p--;
    while (p > 0 && (s[p] & 0xC0) == 0x80);
    return p;
}

/* Longest added token of `set` at p; NULL if none. */
static const ts_added_token *added_at(const ts_added_set *set, const uint8_t *s, size_t n, size_t p) {
    uint8_t b = s[p];
    for (size_t i = set->first[b]; i < set->first[b + 1]; i++) {
        const ts_added_token *a = set->tok[i];
        if (a->len <= n - p && memcmp(a->content, s + p, a->len) == 0) return a;
    }
    return NULL;
}

/* single_word: no \w character right before or right after the match. */
static int single_word_ok(const uint8_t *s, size_t n, size_t start, size_t stop) {
    size_t l;
    if (start > 0) {
        size_t q = prev_char_start(s, start);
        if (ts_unicode_is_word(ts_utf8_next(s + q, n - q, &l))) return 0;
    }
    return stop >= n || !ts_unicode_is_word(ts_utf8_next(s + stop, n - stop, &l));
}

typedef ts_status (*piece_fn)(const ts_tokenizer *t, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                              ts_ids *out, ts_error *err);

/* Cut the added tokens of `set` out of s (leftmost-longest, non-overlapping,
 * lstrip/rstrip swallowing neighbouring whitespace), passing the text
 * between them to `rest`. */
static ts_status split_added(const ts_tokenizer *t, ts_tok_scratch *sc, const ts_added_set *set,
                             const uint8_t *s, size_t n, piece_fn rest, ts_ids *out, ts_error *err) {
    size_t done = 0, p = 0;
    ts_status st;
    while (set->n && p < n) {
        if (set->first[s[p]] == set->first[s[p] + 1]) {
            p++;
            continue;
        }
        const ts_added_token *a = added_at(set, s, n, p);
        if (!a) {
            p++;
            continue;
        }
        size_t start = p, stop = p + a->len, l;
        if (a->single_word && !single_word_ok(s, n, start, stop)) {
            p = stop; /* like HF: the rejected match still consumes its text */
            continue;
        }
        if (a->lstrip) {
            while (start > done) {
                size_t q = prev_char_start(s, start);
                if (!ts_unicode_is_space(ts_utf8_next(s + q, n - q, &l))) break;
                start = q;
            }
        }
        if (a->rstrip) {
            while (stop < n && ts_unicode_is_space(ts_utf8_next(s + stop, n - stop, &l))) stop += l;
        }
        if (start > done && (st = rest(t, sc, s + done, start - done, out, err))) return st;
        if ((st = ts_ids_push(out, a->id, err))) return st;
        done = p = stop;
    }
    return done < n ? rest(t, sc, s + done, n - done, out, err) : TS_OK;
}

static ts_status normalized_piece(const ts_tokenizer *t, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                                  ts_ids *out, ts_error *err) {
    return split_added(t, sc, &t->norm_set, s, n, pretok_bpe, out, err);
}

/* Text below U+0300 is always NFC: skip utf8proc for it. */
static int surely_nfc(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0xCC) return 0;
    return 1;
}

static ts_status raw_piece(const ts_tokenizer *t, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                           ts_ids *out, ts_error *err) {
    piece_fn next = sc && sc->plain ? pretok_bpe : normalized_piece;
    if (!t->nfc || surely_nfc(s, n)) return next(t, sc, s, n, out, err);
    ts_buf_reset(&sc->norm);
    ts_status st = ts_nfc_hf(s, n, &sc->norm, err);
    return st ? st : next(t, sc, sc->norm.data, sc->norm.len, out, err);
}

ts_status ts_tokenizer_encode(const ts_tokenizer *t, ts_tok_scratch *scratch, const char *text, size_t len,
                              unsigned flags, ts_ids *out, ts_error *err) {
    ts_tok_scratch *sc = scratch;
    if (sc && sc->serial != t->serial)
        return ts_fail(err, TS_EINVAL, "tokenizer scratch belongs to another tokenizer");
    if (!sc && !(sc = ts_tok_scratch_new(t))) return ts_fail(err, TS_ENOMEM, "out of memory for scratch");
    const uint8_t *s = (const uint8_t *)text;
    ts_status st = TS_OK;
    if (ts_utf8_valid_prefix(s, len) != len) {
        ts_buf_reset(&sc->text);
        if ((st = ts_utf8_lossy(s, len, &sc->text, err))) goto done;
        s = sc->text.data;
        len = sc->text.len;
    }
    sc->plain = (flags & TS_TOK_PLAIN_TEXT) != 0;
    if (sc->plain) st = raw_piece(t, sc, s, len, out, err);
    else st = split_added(t, sc, &t->raw_set, s, len, raw_piece, out, err);
done:
    if (sc != scratch) ts_tok_scratch_free(sc);
    return st;
}

ts_status ts_tokenizer_decode(const ts_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                              ts_buf *out, ts_error *err) {
    ts_buf raw = TS_BUF_INIT;
    ts_status st = TS_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= t->n_ids || t->tok_off[id] == UINT64_MAX) {
            st = ts_fail(err, TS_EINVAL, "decode: id %d at position %zu is not in the vocabulary", id, i);
            break;
        }
        if (skip_special && t->tok_special[id]) continue;
        st = ts_buf_append(&raw, t->pool + t->tok_off[id], t->tok_len[id], err);
    }
    if (!st && raw.len) st = ts_utf8_lossy(raw.data, raw.len, out, err);
    ts_buf_free(&raw);
    return st;
}
