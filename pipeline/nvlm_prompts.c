/* The prompt lists of Megatron-LM's NVLM recipe
 * (examples/multimodal/nvlm/nvlm_prompts.json), as data: the sets the
 * TaskEncoder draws from for the sample types tessera writes. Their order is
 * the file's, so index i means the same prompt as there. */
#include "pipeline/sample_chat.h"

static const char *const CAPTIONING_PRETRAINING[] = {
    "Give a brief description of image.",
    "Give a brief description of the image.",
    "Provide a brief description of the given image.",
    "Provide a one-sentence caption for the provided image.",
    "Write a terse but informative summary of the picture.",
    "Describe the image concisely.",
    "Generate a clear and concise summary of the photo.",
};

/* "{}" is the question. */
static const char *const VQA_SFT[] = {
    "{}",
    "{}\nAnswer the question using a single word or phrase.",
};

static const char *const DOC_PRETRAINING[] = {
    "Retrieve the text from the given pdf image.",
    "Extract the text from the provided document.",
    "Transcribe the text displayed in the image.",
};

#define LIST(a) {a, sizeof a / sizeof a[0]}
static const struct {
    const char *const *items;
    size_t n;
} SETS[TS_PROMPTS_COUNT] = {
    [TS_PROMPTS_CAPTIONING_PRETRAINING] = LIST(CAPTIONING_PRETRAINING),
    [TS_PROMPTS_VQA_SFT] = LIST(VQA_SFT),
    [TS_PROMPTS_DOC_PRETRAINING] = LIST(DOC_PRETRAINING),
};

size_t ts_nvlm_prompt_count(ts_nvlm_prompt_set set) {
    return (unsigned)set < TS_PROMPTS_COUNT ? SETS[set].n : 0;
}

const char *ts_nvlm_prompt(ts_nvlm_prompt_set set, size_t i) {
    return i < ts_nvlm_prompt_count(set) ? SETS[set].items[i] : NULL;
}
