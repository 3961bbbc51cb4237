#!/usr/bin/env bash
# Tiler benchmark: the same images through a Pillow reference pipeline
# (decode, convert('RGB'), NVLM tiling, normalize to float32) and through
# `tessera tile --dtype float32` (exact and --fast), one thread each, then all
# cores. Prints images/s and ratios, and the PSNR of fast mode vs exact.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
N=${TILER_BENCH_IMAGES:-150}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/tessera-bench-tiler.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$PY bench/make_images.py "$tmp/img" "$N"
cores=$(nproc)

seconds() { # command... -> wall seconds; CPU seconds (user + sys) go to $tmp/cpu
    local s e
    s=$(date +%s.%N)
    /usr/bin/time -f "%U + %S" -o "$tmp/cpu" "$@" >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
}
cpu_rate() { echo "scale=1; $N / ($(cat "$tmp/cpu"))" | bc -l; }
rate() { echo "scale=1; $N / $1" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

pillow=$($PY bench/tiler_pillow.py "$tmp"/img/*)
p1=$(echo "$pillow" | $PY -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["one"])')
p1c=$(echo "$pillow" | $PY -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["one_cpu"])')
pn=$(echo "$pillow" | $PY -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["all"])')

t_exact1=$(seconds "$T" -q tile -j1 --dtype float32 "$tmp/img")
e1c=$(cpu_rate)
t_exactn=$(seconds "$T" -q tile -j"$cores" --dtype float32 "$tmp/img")
t_fast1=$(seconds "$T" -q tile -j1 --fast --dtype float32 "$tmp/img")
f1c=$(cpu_rate)
t_fastn=$(seconds "$T" -q tile -j"$cores" --fast --dtype float32 "$tmp/img")
e1=$(rate "$t_exact1"); en=$(rate "$t_exactn"); f1=$(rate "$t_fast1"); fn=$(rate "$t_fastn")

# Fast mode's fidelity: PSNR of its tiles against the exact tiles (JPEG inputs).
"$T" -q tile --png "$tmp/exact" "$tmp"/img/*.jpg >/dev/null
"$T" -q tile --fast --png "$tmp/fast" "$tmp"/img/*.jpg >/dev/null
psnr=$($PY - "$tmp/exact" "$tmp/fast" <<'PYEOF'
import os, sys
import numpy as np
from PIL import Image
a, b = sys.argv[1], sys.argv[2]
se, n, worst = 0.0, 0, 99.0
for name in sorted(os.listdir(a)):
    x = np.asarray(Image.open(os.path.join(a, name)), dtype=np.float64)
    y = np.asarray(Image.open(os.path.join(b, name)), dtype=np.float64)
    mse = ((x - y) ** 2).mean()
    se += ((x - y) ** 2).sum(); n += x.size
    if mse > 0:
        worst = min(worst, 10 * np.log10(255 ** 2 / mse))
mse = se / n
print("%.1f dB (worst tile %.1f dB)" % (10 * np.log10(255 ** 2 / mse) if mse else float("inf"), worst))
PYEOF
)

printf '\ntiler benchmark: %d images (%d JPEG, %d PNG), %d cores\n' "$N" "$(ls "$tmp"/img/*.jpg | wc -l)" \
    "$(ls "$tmp"/img/*.png | wc -l)" "$cores"
printf '%-20s %14s %14s %14s   %s\n' "images/s" "1 thread wall" "1 thread CPU" "all cores" "ratio to Pillow (wall 1 / CPU 1 / all)"
printf '%-20s %14s %14s %14s\n' "Pillow reference" "$p1" "$p1c" "$pn"
printf '%-20s %14s %14s %14s   %sx / %sx / %sx\n' "tessera exact" "$e1" "$e1c" "$en" "$(ratio "$e1" "$p1")" \
    "$(ratio "$e1c" "$p1c")" "$(ratio "$en" "$pn")"
printf '%-20s %14s %14s %14s   %sx / %sx / %sx\n' "tessera --fast" "$f1" "$f1c" "$fn" "$(ratio "$f1" "$p1")" \
    "$(ratio "$f1c" "$p1c")" "$(ratio "$fn" "$pn")"
printf 'fast mode vs exact (JPEG tiles): PSNR %s\n' "$psnr"
