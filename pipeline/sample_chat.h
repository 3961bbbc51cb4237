/* From a sample record to the conversation the tokenizer renders, following
 * the rules of Megatron-LM's NVLM TaskEncoder (../shared/reference/
 * megatron-nvlm-formats.md 1.2 and 2.2), so that offline tokenization gives
 * the training sequence Megatron would build online:
 *
 *   caption     no system turn; user "<image>\n" + a CaptioningPretraining
 *               prompt + "\n"; assistant: the caption, stripped
 *   vqa         system "Answer the questions."; user: the question ("<image>\n"
 *               prepended when it holds no marker), optionally in a VQASFT
 *               template; assistant: one answer, drawn by weight when the
 *               record has several (Megatron draws with np.random.choice at
 *               each visit; here the draw is seeded by (seed, key))
 *   ocr         system turn; user "<image>\n" + a DocPretraining prompt;
 *               assistant: the transcription (plain-transcription form),
 *               "<image>" removed from it as Megatron's OCR encoder does
 *   multi_turn  system turn unless the record has one; "<image-N>" markers
 *               become "<image>"; missing markers are prepended to the first
 *               user turn as "<image>" lines, as encode_llava_sft does
 *   text        turns as for multi_turn; plain text is a pretraining document
 *
 * Prompt and answer choices are a pure function of (seed, key), so the same
 * record always gives the same sequence, in any order and on any thread.
 * Tile counts per image come from the NVLM grid rule on the image's size
 * (no decode needed): tiles[c] for every grid-tile cap c, thumbnail included
 * when a grid has more than one tile, so the tokenizer can re-tile 6->4->2->1;
 * each image also carries its content hash (xxh3-128 of the encoded bytes).
 */
#ifndef TS_PIPELINE_SAMPLE_CHAT_H
#define TS_PIPELINE_SAMPLE_CHAT_H

#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "ingest/sample.h"
#include "tokenize/chat.h"

typedef struct ts_sample_chat_options {
    uint64_t seed;
    int max_tiles;       /* grid tiles per image, 1..6 (1: NVLM pretraining, no tiling) */
    int tile_size;       /* 448 */
    int vqa_sft_prompts; /* VQASFT subflavor: template drawn from VQASFT.raw */
} ts_sample_chat_options;

void ts_sample_chat_options_default(ts_sample_chat_options *o);

/* A converted sample: `chat` points into the storage the struct owns. */
typedef struct ts_sample_chat {
    ts_chat_sample chat;
    ts_chat_turn *turns;
    ts_buf *contents;
    size_t cap_turns;
    ts_chat_image *images;
    size_t cap_images;
} ts_sample_chat;

void ts_sample_chat_init(ts_sample_chat *c);
/* Convert `s` (which must pass ts_sample_check) into `out`, reusing its
 * storage. TS_EFORMAT when the record cannot be trained on as Megatron would
 * refuse it (an assistant turn holding "<image>", more markers than images,
 * an empty turn, an image of size 0); the message names the key. */
ts_status ts_sample_to_chat(const ts_sample *s, const ts_sample_chat_options *o, ts_sample_chat *out,
                            ts_error *err);
void ts_sample_chat_free(ts_sample_chat *c);

/* The NVLM prompt lists (examples/multimodal/nvlm/nvlm_prompts.json). */
typedef enum ts_nvlm_prompt_set {
    TS_PROMPTS_CAPTIONING_PRETRAINING = 0,
    TS_PROMPTS_VQA_SFT,
    TS_PROMPTS_DOC_PRETRAINING,
    TS_PROMPTS_COUNT
} ts_nvlm_prompt_set;
size_t ts_nvlm_prompt_count(ts_nvlm_prompt_set set);
const char *ts_nvlm_prompt(ts_nvlm_prompt_set set, size_t i);

#endif
