#!/usr/bin/env bash
# Megatron .bin/.idx export: tessera against a reference writer in numpy
# (bench/megatron_ref.py, Megatron's builder pattern) on the same input, two jobs:
#   text:      JSON lines -> tokenize (Qwen3) -> .bin/.idx. Reference: HF `tokenizers`
#              (npm, all cores) piped into the numpy writer; tessera with -j 1 and all cores
#   tokenized: a tokenized-sample file (made untimed by tessera tokenize --chat) -> .bin/.idx
# Outputs are compared byte for byte. Prints docs/s, MB/s (text: input text; tokenized:
# .bin written) and the ratios.
#   bench/megatron.sh [MB]    (default 10 MB of real text from this machine; REPEAT=N env:
#                             the tokenized job's input is the corpus N times, default 6)
set -eu
cd "$(dirname "$0")/.."
MB=${1:-10}
. bench/lib_tok_corpus.sh
eod=$($PY -c 'import json,sys; print(next(t["id"] for t in json.load(open(sys.argv[1]))["added_tokens"] if t["content"]=="<|endoftext|>"))' "$QWEN")

now() { date +%s.%N; }
timed() { # name, command...: seconds into $TMP/NAME.s
    local name=$1; shift
    local t0; t0=$(now)
    "$@"
    echo "$(now) - $t0" | bc >"$TMP/$name.s"
}
ref_text() { node tests/reference/hf_tokenize.js "$QWEN" jsonl "$TMP/corpus.jsonl" text | $PY bench/megatron_ref.py ids "$TMP/ref_text" "$eod"; }
timed ref_text ref_text
timed ts_text_1 "$TESSERA" export megatron "$TMP/corpus.jsonl" -o "$TMP/ts_text_1" --tokenizer "$QWEN" -j 1 >/dev/null
timed ts_text_n "$TESSERA" export megatron "$TMP/corpus.jsonl" -o "$TMP/ts_text_n" --tokenizer "$QWEN" -j "$cores" >/dev/null

# the tokenized job reads the corpus REPEAT times over (default 6), so that process start-up
# (tessera's ~2 s with the CUDA libraries, numpy's import) does not dominate
$PY -c 'import json,sys
lines = open(sys.argv[1], encoding="utf-8", errors="surrogateescape", newline="").read().split("\n")[:-1]
for _ in range(int(sys.argv[2])):
    for l in lines: print(json.dumps({"text": json.loads(l)["text"]}))' "$TMP/corpus.jsonl" "${REPEAT:-6}" >"$TMP/docs.jsonl"
"$TESSERA" tokenize --tokenizer "$QWEN" --chat "$TMP/docs.jsonl" --layout d --out "$TMP/docs.tstok" -j "$cores" >/dev/null
timed ts_start "$TESSERA" help >/dev/null 2>&1
timed ref_tok $PY bench/megatron_ref.py tokfile "$TMP/docs.tstok" "$TMP/ref_tok"
timed ts_tok "$TESSERA" export megatron "$TMP/docs.tstok" -o "$TMP/ts_tok" >/dev/null

same() { cmp -s "$TMP/$1.bin" "$TMP/$2.bin" && cmp -s "$TMP/$1.idx" "$TMP/$2.idx" && echo identical || echo DIFFERENT; }
echo "text job outputs: tessera -j1 vs reference $(same ts_text_1 ref_text), -j$cores vs reference $(same ts_text_n ref_text)"
echo "tokenized job outputs: tessera vs reference $(same ts_tok ref_tok)"
$PY - "$TMP" "$bytes" "$docs" "$cores" "${REPEAT:-6}" <<'PY'
import os, sys
tmp, nbytes, docs, cores, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
s = lambda n: float(open(f"{tmp}/{n}.s").read())
binmb = os.path.getsize(f"{tmp}/ts_tok.bin") / 1e6
print(f"{'job':10} {'tool':34} {'s':>8} {'docs/s':>10} {'MB/s':>8}")
rows = [("text", f"HF tokenizers ({cores} cores) + numpy", "ref_text", nbytes / 1e6),
        ("text", "tessera -j 1", "ts_text_1", nbytes / 1e6),
        ("text", f"tessera -j {cores}", "ts_text_n", nbytes / 1e6),
        ("tokenized", "numpy reference", "ref_tok", binmb),
        ("tokenized", "tessera", "ts_tok", binmb)]
for job, tool, n, mb in rows:
    d = docs * (repeat if job == "tokenized" else 1)
    print(f"{job:10} {tool:34} {s(n):8.3f} {d / s(n):10.0f} {mb / s(n):8.2f}")
print(f"ratio text: tessera -j {cores} / reference {s('ref_text') / s('ts_text_n'):.1f}x, tessera -j 1 / reference {s('ref_text') / s('ts_text_1'):.1f}x")
print(f"ratio tokenized: tessera / reference {s('ref_tok') / s('ts_tok'):.1f}x"
      f" (tessera's process start alone, `tessera help`: {s('ts_start'):.3f} s, CUDA libraries linked where present)")
PY
