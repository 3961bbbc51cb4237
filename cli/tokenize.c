/* tessera tokenize: text or JSON lines to token ids (and back), conversations
 * to ids + loss masks + image slots. Flags only; the work is in tokenize/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/command.h"
#include "cli/options.h"
#include "core/log.h"
#include "tokenize/batch.h"
#include "tokenize/chat.h"
#include "tokenize/tokenizer.h"

static const char USAGE[] =
    "usage: tessera tokenize --tokenizer TOKENIZER.json MODE [options]\n"
    "modes:\n"
    "  --text-file F          ids of the whole file F as one line of space-separated integers\n"
    "                         (repeat the flag for several files: one line each)\n"
    "  --jsonl F --field NAME one line of ids per JSON-lines record (member NAME)\n"
    "  --decode F             each line of ids in F -> {\"text\": ...} (with --raw: the text itself)\n"
    "  --chat F --layout d|x|h  conversations (JSON lines) -> JSON lines with ids, loss mask, image slots\n"
    "  --info                 one JSON line about the loaded tokenizer (vocab, memory, load time)\n"
    "  --timing               print load, run (wall, CPU) and, for --jsonl, encode-only CPU seconds on stderr\n"
    "options:\n"
    "  -j N                   threads (default: all CPUs); output order never depends on it\n"
    "  --skip-special         with --decode: drop special tokens\n"
    "  --form megatron|hf     image expansion for --chat (default megatron)\n"
    "  --task sft|caption|pretrain  system prompt choice for --chat (default sft)\n"
    "  --system TEXT          override the system prompt (empty string: none)\n"
    "  --image-token-id N     Megatron <image> id (default: vocab size of the base vocab, 151646 for Qwen2)\n"
    "  --max-len N            sequence budget; images re-tile 6->4->2->1 to fit (default 0: no budget)\n"
    "  --out F                with --chat: also write the packed binary file F (docs/TOKENIZER.md)\n"
    "F may be - for stdin. Output: stdout; messages: stderr.\n";

static int run_tokenize(int argc, char **argv);

TS_COMMAND(tokenize, "tokenize", "Qwen2/ChatML tokenization with NVLM image-token layouts", USAGE,
           run_tokenize)

static double seconds(struct timespec a, struct timespec b) {
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static int run_tokenize(int argc, char **argv) {
    const char *text_files[64];
    int n_text_files = 0;
    const char *tok_path = NULL, *jsonl = NULL, *field = NULL, *decode = NULL,
               *chat = NULL, *out_path = NULL;
    int threads = 0, raw = 0, skip_special = 0, info = 0, timing = 0;
    ts_chat_options co;
    ts_chat_options_default(&co);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (TAKE("--tokenizer")) tok_path = v;
        else if (strcmp(a, "--text-file") == 0 && v && n_text_files < 64) text_files[n_text_files++] = argv[++i];
        else if (TAKE("--jsonl")) jsonl = v;
        else if (TAKE("--field")) field = v;
        else if (TAKE("--decode")) decode = v;
        else if (TAKE("--chat")) chat = v;
        else if (TAKE("--out")) out_path = v;
        else if (TAKE("-j") || TAKE("--threads")) {
            long x;
            if (!ts_parse_long(v, 0, 4096, &x)) return ts_command_usage_error(&ts_command_tokenize, "bad -j %s", v);
            threads = (int)x;
        }
        else if (TAKE("--system")) co.system_prompt = v;
        else if (TAKE("--image-token-id") || TAKE("--max-len")) {
            long x;
            if (!ts_parse_long(v, 0, INT32_MAX, &x))
                return ts_command_usage_error(&ts_command_tokenize, "bad %s %s", a, v);
            if (strcmp(a, "--max-len") == 0) co.max_len = (int)x;
            else co.image_token_id = (int32_t)x;
        }
        else if (strcmp(a, "--raw") == 0) raw = 1;
        else if (strcmp(a, "--info") == 0) info = 1;
        else if (strcmp(a, "--timing") == 0) timing = 1;
        else if (strcmp(a, "--skip-special") == 0) skip_special = 1;
        else if (TAKE("--layout")) {
            if (ts_chat_layout_parse(v, &co.layout))
                return ts_command_usage_error(&ts_command_tokenize, "--layout must be d, x or h, not %s", v);
        } else if (TAKE("--form")) {
            if (ts_chat_form_parse(v, &co.form))
                return ts_command_usage_error(&ts_command_tokenize, "--form must be megatron or hf, not %s", v);
        } else if (TAKE("--task")) {
            if (ts_chat_task_parse(v, &co.task))
                return ts_command_usage_error(&ts_command_tokenize, "--task must be sft, caption or pretrain, not %s", v);
        } else {
            return ts_command_usage_error(&ts_command_tokenize, "unknown or incomplete option %s", a);
        }
#undef TAKE
    }
    int modes = !!n_text_files + !!jsonl + !!decode + !!chat + info;
    if (!tok_path || modes != 1)
        return ts_command_usage_error(&ts_command_tokenize, "need --tokenizer and exactly one of --text-file, --jsonl, --decode, --chat, --info");
    if (jsonl && !field) return ts_command_usage_error(&ts_command_tokenize, "--jsonl needs --field NAME");
    ts_error err = {0};
    ts_tokenizer *tok = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ts_tokenizer_load(tok_path, &tok, &err)) {
        ts_error_log("tokenize: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct timespec c0, c1, t2;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    ts_status st = TS_OK;
    size_t failed = 0;
    ts_tok_stats stats = {0};
    if (info) {
        printf("{\"vocab_size\":%zu,\"pretokenizer\":\"%s\",\"memory_bytes\":%zu,\"load_seconds\":%.3f}\n",
               ts_tokenizer_vocab_size(tok), ts_tokenizer_pretok_name(tok), ts_tokenizer_memory(tok),
               seconds(t0, t1));
    } else if (n_text_files) {
        st = TS_OK;
        for (int f = 0; f < n_text_files && !st; f++) st = ts_tokenize_text_file(tok, text_files[f], stdout, &err);
    }
    else if (jsonl) st = ts_tokenize_jsonl(tok, jsonl, field, threads, stdout, &failed, &stats, &err);
    else if (decode) st = ts_detokenize_lines(tok, decode, raw, skip_special, stdout, &err);
    else st = ts_chat_jsonl(tok, &co, chat, threads, stdout, out_path, &failed, &err);
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    if (timing)
        fprintf(stderr,
                "{\"load_seconds\":%.4f,\"run_seconds\":%.4f,\"run_cpu_seconds\":%.4f,\"encode_cpu_seconds\":%.4f,"
                "\"records\":%llu,\"bytes\":%llu,\"ids\":%llu}\n",
                seconds(t0, t1), seconds(t1, t2), seconds(c0, c1), stats.encode_cpu_seconds,
                (unsigned long long)stats.records, (unsigned long long)stats.bytes, (unsigned long long)stats.ids);
    ts_tokenizer_free(tok);
    if (fflush(stdout) && !st) {
        ts_error_log("tokenize: writing stdout failed");
        return TS_EXIT_FATAL;
    }
    if (st) {
        ts_error_log("tokenize: %s", err.msg);
        return TS_EXIT_FATAL;
    }
    if (failed) {
        ts_warn("tokenize: %zu records failed", failed);
        return TS_EXIT_PARTIAL;
    }
    return TS_EXIT_OK;
}
