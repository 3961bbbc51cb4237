#!/usr/bin/env bash
# ts_tiler_grid and ts_tiler_candidates against an independent Python
# implementation of InternVL's rule (tests/reference/internvl_ref.py) over
# >100k (W, H) pairs: dense small sizes, random sizes, 1-pixel and extreme
# aspects, exact midpoint ties and equal-ratio ties straddling the area rule.
set -u
cd "$(dirname "$0")/../.."
TOOL=${BUILD:-build}/tools/tiler_tool
[ -x "$TOOL" ] || { echo "missing $TOOL"; echo "0 passed, 1 failed"; exit 1; }
exec /usr/bin/python3 - "$TOOL" <<'PY'
import random, subprocess, sys
from fractions import Fraction
sys.path.insert(0, "tests/reference")
from internvl_ref import candidates, closest_grid

tool = sys.argv[1]
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")

# 1. Candidate order for every 1 <= min <= max <= 64.
combos = [(a, b) for b in range(1, 65) for a in range(1, b + 1)]
out = subprocess.run([tool, "candidates"], input="".join(f"{a} {b}\n" for a, b in combos),
                     capture_output=True, text=True, check=True).stdout.splitlines()
bad = [(a, b) for (a, b), line in zip(combos, out)
       if line.split() != [str(v) for c in candidates(a, b) for v in c]]
check(f"candidate order, {len(combos)} (min,max) combos", len(out) == len(combos) and not bad, bad[:5])

# 2. Grid choice.
rng = random.Random(20261128)
pairs = set()
for w in range(1, 121):
    for h in range(1, 121):
        pairs.add((w, h))
while len(pairs) < 80000:
    pairs.add((rng.randint(1, 5000), rng.randint(1, 5000)))
for n in list(range(1, 400)) + [rng.randint(400, 200000) for _ in range(2000)]:
    pairs.add((1, n)); pairs.add((n, 1)); pairs.add((2, n)); pairs.add((n, 3))
for w in range(560, 760):          # around the 2x2-over-1x1 area threshold
    pairs.add((w, w)); pairs.add((w, w + 1)); pairs.add((w + 1, w))
ratios = sorted({Fraction(c, r) for c, r in candidates(1, 12)})
for i, a in enumerate(ratios):     # exact midpoints and exact ratios, many scales
    for b in ratios[i + 1:i + 4]:
        for q in (a, b, (a + b) / 2):
            for k in list(range(1, 60)) + [rng.randint(60, 3000) for _ in range(30)]:
                w, h = q.numerator * k, q.denominator * k
                if w <= 10**6 and h <= 10**6:
                    pairs.add((w, h))
same = [(a, b) for a in candidates(1, 12) for b in candidates(1, 12)
        if a < b and a[0] * a[1] == b[0] * b[1]]
for a, b in same:                  # midpoints of equal-product grids (ties when min > 1)
    q = (Fraction(*a) + Fraction(*b)) / 2
    for k in list(range(1, 40)) + [rng.randint(40, 3000) for _ in range(40)]:
        pairs.add((q.numerator * k, q.denominator * k))
pairs = sorted(pairs)
print(f"{len(pairs)} (W, H) pairs")

def run_grids(name, pairs, mn, mx, tile):
    cands = candidates(mn, mx)
    res = subprocess.run([tool, "grid"], input="".join(f"{w} {h} {mn} {mx} {tile}\n" for w, h in pairs),
                         capture_output=True, text=True, check=True).stdout.splitlines()
    bad = []
    for (w, h), line in zip(pairs, res):
        want = closest_grid(w, h, cands, tile)
        if tuple(map(int, line.split())) != want:
            bad.append((w, h, line, want))
    check(f"{name}: {len(pairs)} pairs, min {mn} max {mx} tile {tile}",
          len(res) == len(pairs) and not bad, bad[:5])

run_grids("NVLM default", pairs, 1, 6, 448)
run_grids("InternVL max 12", pairs, 1, 12, 448)
sub = pairs[::7]
for mn, mx, tile in [(1, 1, 448), (1, 2, 448), (1, 4, 448), (2, 6, 448), (4, 4, 448),
                     (3, 12, 448), (6, 6, 448), (1, 6, 224), (1, 6, 1), (2, 9, 336)]:
    run_grids("subset", sub, mn, mx, tile)
run_grids("subset", pairs[::40], 1, 64, 448)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
