#!/usr/bin/env bash
# Mix planning benchmark: a plan of N items (default 100M) over four weighted
# sources written by `tessera mix` (keyed Feistel order, O(sources) memory)
# against numpy doing the same job in memory (np.random.permutation of N,
# mapped to the same 16-byte (source, epoch, record) entries, written with
# tofile), and numpy's permutation alone for scale. Prints items/s, peak RSS
# and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
N=${MIX_BENCH_ITEMS:-100000000}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/tessera-bench-mix.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/recipe.json" <<J
{"name": "bench", "stage": "pretrain", "seed": 1, "target": {"samples": $N},
 "sources": [{"name": "laion", "manifest": "laion.json", "weight": 0.579},
             {"name": "cc3m", "manifest": "cc3m.json", "weight": 0.2},
             {"name": "coco", "manifest": "coco.json", "weight": 0.02},
             {"name": "vqav2", "manifest": "vqav2.json", "weight": 0.01}]}
J
echo '{"laion": 115000000, "cc3m": 3300000, "coco": 591753, "vqav2": 443757}' >"$tmp/counts.json"

# "seconds peak_kb" of a command.
measure() { /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >/dev/null && cat "$tmp/time"; }

read -r _ base_kb < <(measure "$T" help)
read -r ts_sec ts_kb < <(measure "$T" -q mix "$tmp/recipe.json" --counts "$tmp/counts.json" -o "$tmp/plan.tsmix")
plan_mb=$(( $(stat -c %s "$tmp/plan.tsmix") / 1000000 ))
rm -f "$tmp/plan.tsmix"
cat >"$tmp/ref.py" <<'P'
import sys
import numpy as np
n, out, only_perm = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
w = np.array([0.579, 0.2, 0.02, 0.01]); avail = np.array([115000000, 3300000, 591753, 443757], dtype=np.int64)
t = np.floor(n * w / w.sum()).astype(np.int64); t[0] += n - t.sum()
off = np.concatenate([[0], np.cumsum(t)])
perm = np.random.default_rng(1).permutation(n)
if only_perm:
    sys.exit(0)
src = np.searchsorted(off, perm, side="right") - 1
j = perm - off[src]
e = np.empty(n, dtype=[("source", "<u4"), ("epoch", "<u4"), ("record", "<u8")])
e["source"] = src
e["epoch"] = j // avail[src]
e["record"] = j % avail[src]
e.tofile(out)
P
read -r np_sec np_kb < <(measure $PY "$tmp/ref.py" "$N" "$tmp/np.bin" 0)
rm -f "$tmp/np.bin"
read -r perm_sec perm_kb < <(measure $PY "$tmp/ref.py" "$N" - 1)

rate() { echo "$1 / $2" | bc -l | xargs printf "%.0f"; }
printf "mix plan, %d items over 4 sources (%d MB plan file), %d threads available\n" "$N" "$plan_mb" "$(nproc)"
printf "%-44s %8s %14s %12s\n" "" "seconds" "items/s" "peak RSS MB"
printf "%-44s %8.2f %14s %12d\n" "tessera mix -o plan.tsmix" "$ts_sec" "$(rate "$N" "$ts_sec")" $((ts_kb / 1024))
printf "%-44s %8s %14s %12d\n" "  of which the tessera binary at rest (help)" "" "" $((base_kb / 1024))
printf "%-44s %8.2f %14s %12d\n" "numpy: permutation + entries + tofile" "$np_sec" "$(rate "$N" "$np_sec")" $((np_kb / 1024))
printf "%-44s %8.2f %14s %12d\n" "numpy: np.random permutation alone" "$perm_sec" "$(rate "$N" "$perm_sec")" $((perm_kb / 1024))
printf "ratio (tessera items/s over numpy same job): %.2fx; over permutation alone: %.2fx; memory above the binary at rest: %d MB vs numpy %d MB\n" \
    "$(echo "$np_sec / $ts_sec" | bc -l)" "$(echo "$perm_sec / $ts_sec" | bc -l)" $(((ts_kb - base_kb) / 1024)) $((np_kb / 1024))
