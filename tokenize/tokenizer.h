/* Byte-level BPE tokenizers loaded from a Hugging Face tokenizer.json
 * (Qwen2 / Qwen2.5 / Qwen3, GPT-2, Llama-3 style), id-for-id identical to
 * Hugging Face `tokenizers` (checked by tests/reference/check_tokenizer_parity.sh).
 *
 * Pipeline of ts_tokenizer_encode, as HF runs it:
 *   1. invalid UTF-8 is replaced by U+FFFD, one per maximal invalid subpart
 *      (what Rust's String::from_utf8_lossy and Node's Buffer.toString do);
 *   2. added tokens (the file's "added_tokens") are cut out first, leftmost-
 *      longest, honouring their special/lstrip/rstrip/single_word/normalized
 *      flags; they become their own id and never reach the steps below;
 *   3. the NFC normalizer (utf8proc) on each remaining piece;
 *   4. the Split pre-tokenizer: a hand-written matcher for the regexes this
 *      file recognises exactly (Qwen2, Llama-3 / cl100k, GPT-2), Unicode
 *      letter/number/space classes from utf8proc;
 *   5. ByteLevel: every piece becomes its UTF-8 bytes;
 *   6. BPE: merges applied lowest rank first, leftmost on ties, in O(n log n)
 *      for long pieces.
 * A tokenizer.json using any feature outside this list is refused with
 * TS_EUNSUPPORTED and a message naming the feature; it is never tokenized
 * differently.
 *
 * A loaded tokenizer is immutable and may be shared by any number of
 * threads. Each thread passes its own ts_tok_scratch (a bounded cache of
 * recently seen pieces plus work buffers); NULL works too, just slower. */
#ifndef TS_TOKENIZE_TOKENIZER_H
#define TS_TOKENIZE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/pool.h"

typedef struct ts_tokenizer ts_tokenizer;
typedef struct ts_tok_scratch ts_tok_scratch;

/* A growable array of token ids. */
typedef struct ts_ids {
    int32_t *v;
    size_t len;
    size_t cap;
} ts_ids;

#define TS_IDS_INIT {NULL, 0, 0}

ts_status ts_ids_push(ts_ids *ids, int32_t id, ts_error *err);
ts_status ts_ids_append(ts_ids *ids, const int32_t *v, size_t n, ts_error *err);
void ts_ids_free(ts_ids *ids);

ts_status ts_tokenizer_load(const char *path, ts_tokenizer **out, ts_error *err);
ts_status ts_tokenizer_load_json(const char *json, size_t len, ts_tokenizer **out, ts_error *err);
void ts_tokenizer_free(ts_tokenizer *tok);
/* xxh3-64 of the tokenizer.json bytes: identifies the tokenizer in outputs. */
uint64_t ts_tokenizer_hash(const ts_tokenizer *tok);

/* Flags of ts_tokenizer_encode. */
enum {
    /* Treat the text of added/special tokens as plain text: "<|im_end|>" in
     * user data becomes the ids of '<', '|', 'im', ... never the control id. */
    TS_TOK_PLAIN_TEXT = 1u << 0,
};

/* Append the ids of `len` bytes of `text` to `out`. No BOS/EOS is added (the
 * Qwen files have no template; chat.h places control tokens explicitly). */
ts_status ts_tokenizer_encode(const ts_tokenizer *tok, ts_tok_scratch *scratch, const char *text,
                              size_t len, unsigned flags, ts_ids *out, ts_error *err);

/* Append the text of `ids` to `out`: the ByteLevel decoder, then invalid
 * UTF-8 replaced by U+FFFD as HF does. skip_special drops the ids of added
 * tokens flagged "special". An id outside the vocabulary fails (TS_EINVAL). */
ts_status ts_tokenizer_decode(const ts_tokenizer *tok, const int32_t *ids, size_t n,
                              int skip_special, ts_buf *out, ts_error *err);

/* The id of a token given as its text: an added token's content or a vocab
 * entry's decoded bytes. -1 when absent. */
int32_t ts_tokenizer_token_id(const ts_tokenizer *tok, const char *text);
/* One more than the largest id. */
size_t ts_tokenizer_vocab_size(const ts_tokenizer *tok);
/* Bytes held by the loaded tokenizer (tables, strings). */
size_t ts_tokenizer_memory(const ts_tokenizer *tok);
/* The pre-tokenizer recognised ("qwen2", "llama3", "gpt2"). */
const char *ts_tokenizer_pretok_name(const ts_tokenizer *tok);

/* Per-thread scratch: created for one tokenizer, used by one thread at a time. */
ts_tok_scratch *ts_tok_scratch_new(const ts_tokenizer *tok);
void ts_tok_scratch_free(ts_tok_scratch *s);

/* A thread pool and a scratch for each of its workers: what a stage that
 * encodes on the pool needs (worker w uses scratch[w]). */
typedef struct ts_tok_workers {
    ts_pool *pool;
    ts_tok_scratch **scratch;
    int n; /* workers */
} ts_tok_workers;

/* threads as for ts_pool_new (<= 0: all CPUs). On failure nothing is left to free. */
ts_status ts_tok_workers_new(const ts_tokenizer *tok, int threads, ts_tok_workers *out, ts_error *err);
/* A zeroed or half-made set is fine. */
void ts_tok_workers_free(ts_tok_workers *w);

#endif
