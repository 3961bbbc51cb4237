/* The Split pre-tokenizer: hand-written matchers for the exact regex strings
 * of the Qwen2, Llama-3 (cl100k) and GPT-2 tokenizer.json files.
 *
 * HF compiles these with Oniguruma: leftmost-first alternation with
 * backtracking. Each matcher below follows that order alternative by
 * alternative; the comments show which alternative a branch is. Classes:
 * \p{L} = Lu Ll Lt Lm Lo, \p{N} = Nd Nl No (utf8proc categories), \s =
 * Oniguruma's Unicode \s = U+0009..U+000D, U+0085 and Zs Zl Zp. Every pattern
 * covers every character, so the pieces tile the text without gaps. */
#include <pthread.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize/tok_internal.h"

static const char PAT_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

int ts_pretok_from_pattern(const char *pattern, ts_pretok_kind *kind) {
    if (strcmp(pattern, PAT_QWEN2) == 0) *kind = TS_PRETOK_QWEN2;
    else if (strcmp(pattern, PAT_LLAMA3) == 0) *kind = TS_PRETOK_LLAMA3;
    else if (strcmp(pattern, PAT_GPT2) == 0) *kind = TS_PRETOK_GPT2;
    else return -1;
    return 0;
}

const char *ts_pretok_kind_name(ts_pretok_kind kind) {
    switch (kind) {
    case TS_PRETOK_QWEN2: return "qwen2";
    case TS_PRETOK_LLAMA3: return "llama3";
    case TS_PRETOK_GPT2: return "gpt2";
    }
    return "?";
}

enum { C_L = 1, C_N = 2, C_S = 4, C_NL = 8 };

static uint8_t ascii_class[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

static void init_ascii(void) {
    for (int c = 0; c < 128; c++) {
        uint8_t k = 0;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = C_L;
        else if (c >= '0' && c <= '9') k = C_N;
        else if ((c >= 9 && c <= 13) || c == ' ') k = C_S;
        if (c == '\r' || c == '\n') k |= C_NL;
        ascii_class[c] = k;
    }
}

static uint8_t class_of(uint32_t cp) {
    if (cp < 128) return ascii_class[cp];
    if (cp == 0x85) return C_S;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return C_L;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return C_N;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return C_S;
    default: return 0;
    }
}

int ts_unicode_is_space(uint32_t cp) {
    pthread_once(&ascii_once, init_ascii);
    return (class_of(cp) & C_S) != 0;
}

/* Rust regex \w, which HF's single_word check uses: Alphabetic, marks,
 * decimal digits, connector punctuation, joiners. Alphabetic is taken as the
 * letters, letter numbers and the Other_Alphabetic symbols (circled and
 * squared Latin letters); marks cover the rest of Other_Alphabetic. */
int ts_unicode_is_word(uint32_t cp) {
    pthread_once(&ascii_once, init_ascii);
    if (cp < 128) return (ascii_class[cp] & (C_L | C_N)) || cp == '_';
    if (cp == 0x200C || cp == 0x200D) return 1;
    if ((cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) ||
        (cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189))
        return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_PC: return 1;
    default: return 0;
    }
}

typedef struct cursor {
    const uint8_t *s;
    size_t n;
} cursor;

/* Class and length of the code point at p (p < n). */
static inline uint8_t cls_at(const cursor *c, size_t p, size_t *len, uint32_t *cp_out) {
    uint8_t b = c->s[p];
    if (b < 0x80) {
        *len = 1;
        if (cp_out) *cp_out = b;
        return ascii_class[b];
    }
    uint32_t cp = ts_utf8_next(c->s + p, c->n - p, len);
    if (cp_out) *cp_out = cp;
    return class_of(cp);
}

#define OTHER(k) (((k) & (C_L | C_N | C_S)) == 0)

/* End of the run of characters starting at p whose class satisfies `want`
 * (a mask that must intersect), or, with other=1, that are none of L N S. */
static size_t run_of(const cursor *c, size_t p, uint8_t want, int other, size_t max_chars) {
    size_t count = 0;
    while (p < c->n && count < max_chars) {
        size_t l;
        uint8_t k = cls_at(c, p, &l, NULL);
        if (other ? !OTHER(k) : !(k & want)) break;
        p += l;
        count++;
    }
    return p;
}

static int lower_is(uint32_t cp, char want, int ci) {
    if (cp == (uint32_t)want) return 1;
    if (!ci) return 0;
    if (cp < 128 && cp >= 'A' && cp <= 'Z' && cp + 32 == (uint32_t)want) return 1;
    /* U+017F LATIN SMALL LETTER LONG S case-folds to 's' (the only non-ASCII
     * simple folding onto one of the letters s t r e v m l d). */
    return want == 's' && cp == 0x17F;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive: match end or 0. */
static size_t contraction(const cursor *c, size_t p, int ci) {
    if (c->s[p] != '\'' || p + 1 >= c->n) return 0;
    size_t l1, l2;
    uint32_t a = ts_utf8_next(c->s + p + 1, c->n - p - 1, &l1);
    size_t q = p + 1 + l1;
    if (lower_is(a, 's', ci) || lower_is(a, 't', ci) || lower_is(a, 'm', ci) || lower_is(a, 'd', ci))
        return q;
    if (q >= c->n) return 0;
    uint32_t b = ts_utf8_next(c->s + q, c->n - q, &l2);
    if ((lower_is(a, 'r', ci) && lower_is(b, 'e', ci)) || (lower_is(a, 'v', ci) && lower_is(b, 'e', ci)) ||
        (lower_is(a, 'l', ci) && lower_is(b, 'l', ci)))
        return q + l2;
    return 0;
}

/* \s+(?!\S) then \s+ (and, for the Llama family, \s*[\r\n]+ first) at a
 * whitespace character p. */
static size_t whitespace(const cursor *c, size_t p, int newline_alt) {
    size_t q = p, last_start = p, after_nl = 0, count = 0;
    while (q < c->n) {
        size_t l;
        uint8_t k = cls_at(c, q, &l, NULL);
        if (!(k & C_S)) break;
        if (k & C_NL) after_nl = q + l;
        last_start = q;
        q += l;
        count++;
    }
    if (newline_alt && after_nl) return after_nl; /* \s*[\r\n]+ backtracks to the last newline */
    if (q == c->n || count == 1) return q;       /* \s+(?!\S) at the end, or \s+ */
    return last_start;                            /* \s+(?!\S) gives back one */
}

static size_t match_llama(const cursor *c, size_t p, size_t max_digits) {
    size_t l0;
    uint8_t k0 = cls_at(c, p, &l0, NULL);
    size_t e;
    if (c->s[p] == '\'' && (e = contraction(c, p, 1))) return e;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (k0 & C_L) return run_of(c, p, C_L, 0, SIZE_MAX);
    if (!(k0 & (C_NL | C_N)) && p + l0 < c->n) {
        size_t l1;
        if (cls_at(c, p + l0, &l1, NULL) & C_L) return run_of(c, p + l0, C_L, 0, SIZE_MAX);
    }
    /* \p{N} or \p{N}{1,3} */
    if (k0 & C_N) return run_of(c, p, C_N, 0, max_digits);
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t start = SIZE_MAX;
    if (OTHER(k0)) start = p;
    else if (c->s[p] == ' ' && p + 1 < c->n) {
        size_t l1;
        if (OTHER(cls_at(c, p + 1, &l1, NULL))) start = p + 1;
    }
    if (start != SIZE_MAX) {
        e = run_of(c, start, 0, 1, SIZE_MAX);
        while (e < c->n && (c->s[e] == '\r' || c->s[e] == '\n')) e++;
        return e;
    }
    return whitespace(c, p, 1);
}

static size_t match_gpt2(const cursor *c, size_t p) {
    size_t e;
    if (c->s[p] == '\'' && (e = contraction(c, p, 0))) return e;
    size_t l0, l1;
    uint8_t k0 = cls_at(c, p, &l0, NULL);
    size_t start = p;
    uint8_t k = k0;
    if (c->s[p] == ' ' && p + 1 < c->n) { /* the optional leading space of the next three */
        uint8_t k1 = cls_at(c, p + 1, &l1, NULL);
        if ((k1 & (C_L | C_N)) || OTHER(k1)) {
            start = p + 1;
            k = k1;
        }
    }
    if (k & C_L) return run_of(c, start, C_L, 0, SIZE_MAX);
    if (k & C_N) return run_of(c, start, C_N, 0, SIZE_MAX);
    if (OTHER(k)) return run_of(c, start, 0, 1, SIZE_MAX);
    return whitespace(c, p, 0);
}

size_t ts_pretok_match(ts_pretok_kind kind, const uint8_t *s, size_t n, size_t pos) {
    pthread_once(&ascii_once, init_ascii);
    cursor c = {s, n};
    switch (kind) {
    case TS_PRETOK_QWEN2: return match_llama(&c, pos, 1);
    case TS_PRETOK_LLAMA3: return match_llama(&c, pos, 3);
    case TS_PRETOK_GPT2: return match_gpt2(&c, pos);
    }
    return n;
}
