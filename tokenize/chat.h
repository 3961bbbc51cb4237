/* Conversations and documents to training ids for NVLM (Qwen2 ChatML),
 * following ../shared/NVLM-DATA.md.
 *
 * Rendering: each turn is <|im_start|>{role}\n{content}<|im_end|>\n, no BOS,
 * no EOS. SFT/VQA/OCR samples get the system turn "Answer the questions."
 * unless the conversation has its own system turn or options override it;
 * captioning samples get none. A text-only document is its text followed by
 * <|endoftext|>.
 *
 * Control tokens are placed by id, never parsed from data: roles, contents
 * and documents are encoded with TS_TOK_PLAIN_TEXT, so "<|im_end|>" typed
 * inside a user message is plain text. Text runs between two control tokens
 * are encoded as one piece, exactly as HF encodes the rendered string
 * (e.g. "assistant\nThe answer" is one piece).
 *
 * Loss mask (1 = a training target): system and user turns 0; in assistant
 * turns the first 3 tokens (<|im_start|> "assistant" "\n") 0 and the rest,
 * <|im_end|> and the trailing "\n" included, 1; every position of an image
 * markup (<Image> ... </Image>, tags, image tokens) 0. Documents: all 1.
 *
 * Images: each "<image>" in a turn's content expands, for an image of n
 * tiles (n-1 grid tiles then the thumbnail; tags <tile_1>..<tile_{n-1}>,
 * <tile_global_thumbnail>):
 *   Megatron form, layout D: <Image> IMG </Image>, one image token id that
 *     the model splices into n*(5+256) positions (tags + features);
 *   HF/vLLM form, layout D:  <Image> then per tile its tag as text and 256
 *     <|vision_pad|>, then </Image>;
 *   layout X (both forms):   <Image> then every tag as text, then </Image>;
 *     all tiles reach the model through cross-attention;
 *   layout H: <Image>, the grid tiles' tags as text (cross-attention), then
 *     the thumbnail inline: Megatron IMG standing for 5+256 positions, HF
 *     its tag as text + 256 <|vision_pad|>; then </Image>.
 * The newline that usually follows "<image>" in data is the data's own.
 * Text and markup between two control tokens form one piece, as in HF's
 * encoding of the rendered string, except that in assistant turns the
 * trained text before an image is encoded on its own (so it stays trained).
 * "length" is the sequence length the model sees (each IMG counted as its
 * expansion). When length > max_len, every image is re-tiled with at most
 * 4, then 2, then 1 grid tiles (the NVLM recipe), as far as the record gives
 * tile counts for those caps; the result records the original count. */
#ifndef TS_TOKENIZE_CHAT_H
#define TS_TOKENIZE_CHAT_H

#include <stdio.h>

#include "core/hash.h"
#include "core/json.h"
#include "tokenize/tokenizer.h"

typedef enum ts_chat_layout { TS_LAYOUT_D = 0, TS_LAYOUT_X, TS_LAYOUT_H } ts_chat_layout;
typedef enum ts_chat_form { TS_FORM_MEGATRON = 0, TS_FORM_HF } ts_chat_form;
typedef enum ts_chat_task { TS_CHAT_SFT = 0, TS_CHAT_CAPTION, TS_CHAT_PRETRAIN } ts_chat_task;

#define TS_CHAT_MAX_CAP 6       /* most grid tiles of one image */
#define TS_CHAT_MAX_TILES 7     /* + thumbnail */
#define TS_CHAT_TILE_TOKENS 256 /* features per tile after pixel shuffle */
#define TS_CHAT_TAG_TOKENS 5    /* a tile tag as Qwen2 text */
#define TS_CHAT_DEFAULT_SYSTEM "Answer the questions."

typedef struct ts_chat_options {
    ts_chat_layout layout;
    ts_chat_form form;
    ts_chat_task task;          /* default for records that do not say */
    const char *system_prompt;  /* NULL: by task; "": no system turn */
    int32_t image_token_id;     /* Megatron <image> id; default 151646 */
    int max_len;                /* 0: no budget */
} ts_chat_options;

void ts_chat_options_default(ts_chat_options *o);
int ts_chat_layout_parse(const char *s, ts_chat_layout *out); /* "d" "x" "h"; 0 ok, -1 bad */
int ts_chat_form_parse(const char *s, ts_chat_form *out);     /* "megatron" "hf" */
int ts_chat_task_parse(const char *s, ts_chat_task *out);     /* "sft" "vqa" "ocr" "caption" "pretrain" */

typedef struct ts_chat_turn {
    const char *role; /* "system" "user" "assistant" */
    const char *content;
} ts_chat_turn;

typedef struct ts_chat_image {
    /* tiles[c]: tile count with at most c grid tiles (c = 1..6), 0 unknown;
     * tiles[1] is always 1. tiles[0] unused. */
    int tiles[TS_CHAT_MAX_CAP + 1];
    int has_hash;           /* 1: content_hash is known */
    ts_hash128 content_hash; /* xxh3-128 of the encoded image (the feature cache key) */
} ts_chat_image;

typedef struct ts_chat_sample {
    ts_chat_task task;
    const char *text; /* a document (task pretrain) */
    const ts_chat_turn *turns;
    size_t n_turns;
    const ts_chat_image *images; /* in order of "<image>" occurrence */
    size_t n_images;
} ts_chat_sample;

typedef struct ts_chat_slot {
    int tiles;        /* tiles used */
    int cap;          /* grid-tile cap they were chosen with */
    int retiled_from; /* tiles before re-tiling, 0 when not re-tiled */
    int64_t token_pos;                    /* Megatron IMG position, -1 if none */
    int64_t tag_pos[TS_CHAT_MAX_TILES];   /* token holding the tag's first byte, -1 if not in text */
    int64_t feat_pos[TS_CHAT_MAX_TILES];  /* first <|vision_pad|> of the tile (HF form), -1 otherwise */
    uint8_t inline_tile[TS_CHAT_MAX_TILES]; /* 1: features in the decoder; 0: cross-attention */
    ts_chat_layout layout;   /* the options it was rendered with */
    ts_chat_form form;
    int has_hash;            /* copied from the sample's image */
    ts_hash128 content_hash;
} ts_chat_slot;

typedef struct ts_chat_result {
    ts_ids ids;
    uint8_t *mask; /* ids.len entries */
    size_t mask_cap;
    ts_chat_slot *images;
    size_t n_images;
    int64_t length; /* sequence length with image tokens expanded */
} ts_chat_result;

ts_status ts_chat_tokenize(const ts_tokenizer *tok, ts_tok_scratch *sc, const ts_chat_options *o,
                           const ts_chat_sample *s, ts_chat_result *out, ts_error *err);
void ts_chat_result_free(ts_chat_result *r);

/* Parse one JSON record: {"conversations": [{"from": "human"|"gpt"|"system",
 * "value": ...}]} (LLaVA) or {"messages": [{"role", "content"}]}, with
 * "tiles": [per image: an integer (tiles at cap 6) or {"6": 7, "4": 5, ...}]
 * or, instead, "images": [per image: {"tiles": <as above>, "xxh3_128":
 * "<32 hex digits>"}] (the hash, optional, keys the feature cache and the
 * tile shard), and optional "task"; or {"text": ...} for a document. Strings stay owned
 * by `rec`; free the arrays with ts_chat_sample_free. */
ts_status ts_chat_sample_from_json(const cJSON *rec, ts_chat_task default_task, ts_chat_sample *out,
                                   ts_error *err);
void ts_chat_sample_free(ts_chat_sample *s);

/* The result as one JSON object: {"ids", "loss_mask", "length", "images"}. */
cJSON *ts_chat_result_json(const ts_chat_result *r);

/* JSON lines in, one JSON line per record out (a failed record: {"error":
 * "..."} and *failed++). With bin_path, also the binary file of
 * docs/TOKENIZER.md, written atomically. */
ts_status ts_chat_jsonl(const ts_tokenizer *tok, const ts_chat_options *o, const char *path, int threads,
                        FILE *out, const char *bin_path, size_t *failed, ts_error *err);

#endif
