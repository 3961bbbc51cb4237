#!/usr/bin/env bash
# Tokenizer benchmark: the same corpus through Hugging Face `tokenizers` (npm),
# `tiktoken` (npm, the Qwen vocabulary loaded as ranks, the Qwen regex) and
# tessera, single thread and all cores. Prints MB/s, ratios, whether the ids
# agree, load times and the memory of a loaded tokenizer.
#   bench/tokenize.sh [MB]    (default 11 MB of real text from this machine)
set -eu
cd "$(dirname "$0")/.."
MB=${1:-11}
. bench/lib_tok_corpus.sh
cp "$QWEN" "$TMP/qwen.json"

node bench/tokenize_ref.js "$TMP/qwen.json" "$TMP/corpus.jsonl" "$TMP" >"$TMP/ref.jsonl"

/usr/bin/time -f "%M" -o "$TMP/rss" "$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --info >"$TMP/info.json"
# tessera times itself (--timing): wall and CPU seconds of the run after loading
"$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --jsonl "$TMP/corpus.jsonl" --field text -j 1 --timing \
    >"$TMP/tessera.ids" 2>"$TMP/tessera1.json"
"$TESSERA" tokenize --tokenizer "$TMP/qwen.json" --jsonl "$TMP/corpus.jsonl" --field text -j "$cores" --timing \
    >"$TMP/tessera_all.ids" 2>"$TMP/tesseran.json"

/usr/bin/python3 - "$TMP" "$bytes" "$cores" <<'PY'
import json, sys
tmp, nbytes, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mb = nbytes / 1e6
ref = {}
for line in open(f"{tmp}/ref.jsonl"):
    r = json.loads(line)
    ref[r["tool"] + ("_load" if "load_seconds" in r else "")] = r
t1 = json.loads(open(f"{tmp}/tessera1.json").read().strip().splitlines()[-1])
tn = json.loads(open(f"{tmp}/tesseran.json").read().strip().splitlines()[-1])
def ids(name):
    return open(f"{tmp}/{name}.ids").read().split("\n")
hf = ids("hf")
def agree(name):
    other = ids(name)
    diff = sum(a != b for a, b in zip(hf, other)) + abs(len(hf) - len(other))
    return "identical ids" if diff == 0 else f"{diff} of {len(hf) - 1} documents differ from HF"
rows = [
    ("HF tokenizers", 1, ref["hf"]["seconds"], ref["hf"]["cpu_seconds"], agree("hf")),
    ("HF tokenizers", cores, ref["hf_all_cores"]["seconds"], ref["hf_all_cores"]["cpu_seconds"], agree("hf_all_cores")),
    ("tiktoken (Qwen ranks)", 1, ref["tiktoken"]["seconds"], ref["tiktoken"]["cpu_seconds"],
     agree("tiktoken") + " (input: HF's NFC, untimed)"),
    ("tessera", 1, t1["run_seconds"], t1["run_cpu_seconds"], agree("tessera")),
    ("tessera", cores, tn["run_seconds"], tn["run_cpu_seconds"], agree("tessera_all")),
    ("tessera encode only", 1, float("nan"), t1["encode_cpu_seconds"], "CPU time inside ts_tokenizer_encode"),
]
print(f"{'tool':24} {'threads':>7} {'wall s':>8} {'MB/s':>8} {'cpu s':>8} {'MB/cpu-s':>9}  ids")
for name, th, s, c, a in rows:
    print(f"{name:24} {th:>7} {s:>8.3f} {mb / s:>8.2f} {c:>8.3f} {mb / c:>9.2f}  {a}")
print("(tessera's run times include reading and parsing the JSON lines and writing the ids; HF's and")
print(" tiktoken's get parsed strings and return arrays: compare them with \"encode only\")")
for label, key, ours in [("HF, 1 thread", "hf", t1), ("tiktoken, 1 thread", "tiktoken", t1), (f"HF, {cores} threads", "hf_all_cores", tn)]:
    print(f"ratio tessera / {label:20} wall {ref[key]['seconds'] / ours['run_seconds']:6.1f}x   per cpu-second {ref[key]['cpu_seconds'] / ours['run_cpu_seconds']:6.1f}x"
          f"   encode only per cpu-second {ref[key]['cpu_seconds'] / ours['encode_cpu_seconds']:6.1f}x")
info = json.load(open(f"{tmp}/info.json"))
rss = int(open(f"{tmp}/rss").read().split()[-1])
print(f"load: tessera {t1['load_seconds']:.3f}s (parse + build from the 11 MB json), HF {ref['hf_load']['load_seconds']:.3f}s, tiktoken {ref['tiktoken_load']['load_seconds']:.3f}s")
print(f"memory: loaded tokenizer tables {info['memory_bytes'] / 2**20:.1f} MiB; process peak RSS while loading {rss / 1024:.1f} MiB (cJSON tree of the file included)")
PY
