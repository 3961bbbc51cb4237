/* Internals shared by the tokenizer's files (not a public contract). */
#ifndef TS_TOKENIZE_TOK_INTERNAL_H
#define TS_TOKENIZE_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenize/tokenizer.h"

/* Which of the recognised Split regexes the file uses (tok_pretok.c). */
typedef enum ts_pretok_kind {
    TS_PRETOK_QWEN2 = 0, /* Llama-3 pattern with \p{N} single digits */
    TS_PRETOK_LLAMA3,    /* cl100k / Llama-3: \p{N}{1,3} */
    TS_PRETOK_GPT2,      /* 's|'t|... ?\p{L}+| ?\p{N}+|... */
} ts_pretok_kind;

/* Recognise a regex string; returns 0 and sets *kind, or -1. */
int ts_pretok_from_pattern(const char *pattern, ts_pretok_kind *kind);
const char *ts_pretok_kind_name(ts_pretok_kind kind);
/* End offset of the regex match starting at `pos` of valid UTF-8 `s[0..n)`
 * (always > pos: every pattern covers every character). */
size_t ts_pretok_match(ts_pretok_kind kind, const uint8_t *s, size_t n, size_t pos);

/* Decode one code point of valid UTF-8 at s (n > 0 bytes left); sets *len. */
static inline uint32_t ts_utf8_next(const uint8_t *s, size_t n, size_t *len) {
    uint8_t c = s[0];
    if (c < 0x80 || n < 2) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (c < 0xF0 || n < 4) {
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
           ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* Length of the longest valid-UTF-8 prefix of s, and a lossy copy: appends s
 * to out with each maximal invalid subpart replaced by U+FFFD. */
size_t ts_utf8_valid_prefix(const uint8_t *s, size_t n);
ts_status ts_utf8_lossy(const uint8_t *s, size_t n, ts_buf *out, ts_error *err);

/* Append the NFC form of valid UTF-8 s as HF computes it (tok_nfc.c). */
ts_status ts_nfc_hf(const uint8_t *s, size_t n, ts_buf *out, ts_error *err);

/* Unicode White_Space (Rust char::is_whitespace), used by lstrip/rstrip. */
int ts_unicode_is_space(uint32_t cp);
/* Rust regex \w (HF's single_word boundaries). */
int ts_unicode_is_word(uint32_t cp);

typedef struct ts_added_token {
    char *content; /* as matched: NFC-normalized when `normalized` */
    size_t len;
    int32_t id;
    uint8_t special, lstrip, rstrip, single_word, normalized;
} ts_added_token;

/* An added-token matcher over one group (normalized or not). */
typedef struct ts_added_set {
    ts_added_token **tok; /* sorted by first byte, then longer first */
    size_t n;
    uint16_t first[257]; /* tok index range per first byte: [first[b], first[b+1]) */
} ts_added_set;

/* Open addressing, key and value side by side: one cache line per probe. */
typedef struct ts_merge_entry {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    uint32_t rank;
    int32_t new_id;
} ts_merge_entry;

typedef struct ts_merge_map {
    ts_merge_entry *e;
    size_t mask;
} ts_merge_map;

static inline uint64_t ts_merge_hash(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

typedef struct ts_str_map {
    uint32_t *slot_id; /* id + 1; 0 = empty */
    size_t mask;
} ts_str_map;

struct ts_tokenizer {
    size_t n_ids;
    uint8_t *pool;        /* token bytes (added tokens already through the ByteLevel decoder map) */
    uint64_t *tok_off;    /* offset into pool, per id; UINT64_MAX = no token */
    uint32_t *tok_len;
    uint8_t *tok_special; /* 1: an added token flagged special */
    ts_str_map vocab;     /* model vocab bytes -> id */
    ts_merge_map merges;
    int32_t byte_id[256];
    int ignore_merges;
    int nfc;
    ts_pretok_kind pretok;
    ts_added_token *added;
    size_t n_added;
    ts_added_set raw_set, norm_set;
    size_t memory;
    uint64_t serial;
    uint64_t json_xxh3; /* xxh3-64 of the tokenizer.json bytes it was loaded from */
};

/* Lookup in the model vocab by raw bytes; -1 when absent. */
int32_t ts_tok_vocab_find(const ts_tokenizer *tok, const uint8_t *s, size_t n);

/* BPE of one pre-token (tok_bpe.c). */
ts_status ts_bpe_word(const ts_tokenizer *tok, ts_tok_scratch *sc, const uint8_t *s, size_t n,
                      ts_ids *out, ts_error *err);

/* Scratch (tok_bpe.c owns the layout). */
#define TS_TOK_CACHE_SLOTS 65536
#define TS_TOK_CACHE_BYTES 22
#define TS_TOK_CACHE_IDS 6
typedef struct ts_tok_cache_slot {
    uint64_t hash;
    uint8_t len, nids;
    uint8_t bytes[TS_TOK_CACHE_BYTES];
    int32_t ids[TS_TOK_CACHE_IDS];
} ts_tok_cache_slot;

struct ts_tok_scratch {
    uint64_t serial; /* the tokenizer it was made for */
    int plain;       /* this call: TS_TOK_PLAIN_TEXT */
    ts_tok_cache_slot *cache;
    ts_buf text;     /* repaired UTF-8 */
    ts_buf norm;     /* NFC output */
    /* BPE work arrays for long words */
    int32_t *sym;
    int32_t *prev, *next;
    uint64_t *heap;
    size_t cap, heap_cap;
};

#endif
