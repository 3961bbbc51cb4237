#!/usr/bin/env bash
# ts_resize_bicubic / ts_tile_image / ts_normalize_tile against Pillow's
# Image.resize(BICUBIC), InternVL's dynamic_preprocess and torchvision-style
# float32 normalization in numpy, on real photos (Debian python3-skimage data).
# Images are decoded by Pillow and handed over as raw RGB, isolating resize
# from decoding. Reports % identical bytes and the max abs difference; the
# bar is >= 99.9% identical and never off by more than 1, and the goal (also
# asserted) is 100% identical.
set -u
cd "$(dirname "$0")/../.."
TOOL=${BUILD:-build}/tools/tiler_tool
[ -x "$TOOL" ] || { echo "missing $TOOL"; echo "0 passed, 1 failed"; exit 1; }
TMP=${TS_TEST_TMP:-/tmp}/check_resize.$$
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
exec /usr/bin/python3 - "$TOOL" "$TMP" <<'PY'
import os, random, subprocess, sys
import numpy as np
from PIL import Image
sys.path.insert(0, "tests/reference")
from internvl_ref import normalize, tiles, to_bf16_bits, to_f16_bits

tool, tmp = sys.argv[1], sys.argv[2]
DATA = "/usr/lib/python3/dist-packages/skimage/data"
passed = failed = 0
total_vals = total_same = 0
worst = 0

def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name} {detail}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")

def compare(name, want, got):
    """Pillow bytes vs ours: the bar and the exact goal."""
    global total_vals, total_same, worst
    want = np.asarray(want, dtype=np.int16)
    got = np.asarray(got, dtype=np.int16).reshape(want.shape)
    d = np.abs(want - got)
    same = int((d == 0).sum())
    total_vals += d.size
    total_same += same
    worst = max(worst, int(d.max()))
    pct = 100.0 * same / d.size
    return pct >= 99.9 and d.max() <= 1, pct == 100.0, f"{pct:.4f}% identical, max diff {int(d.max())}"

def save_raw(img, name):
    path = os.path.join(tmp, name + ".rgb")
    with open(path, "wb") as f:
        f.write(img.tobytes())
    return path

rng = random.Random(7)
images = {}
for fn in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
           "camera.png", "color.png", "motorcycle_left.png"]:
    p = os.path.join(DATA, fn)
    if os.path.exists(p):
        images[fn] = Image.open(p).convert("RGB")
check("found skimage photos", len(images) >= 5, f"({len(images)})")
noise = np.random.default_rng(1).integers(0, 256, size=(97, 131, 3), dtype=np.uint8)
images["noise"] = Image.fromarray(noise)        # worst case for overshoot and clipping
checker = ((np.indices((64, 80)).sum(axis=0) % 2) * 255).astype(np.uint8)
images["checker"] = Image.fromarray(np.stack([checker, 255 - checker, checker], -1))
tall = np.random.default_rng(2).integers(0, 256, size=(40000, 2, 3), dtype=np.uint8)
images["tall 2x40000"] = Image.fromarray(tall)  # streams through the row window
base = images["astronaut.png"] if "astronaut.png" in images else images["noise"]
images["column 1x300"] = base.crop((100, 0, 101, 300))
images["row 300x1"] = base.crop((0, 100, 300, 101))
images["tiny 2x3"] = base.crop((200, 200, 202, 203))
images["pixel 1x1"] = base.crop((10, 10, 11, 11))
images["strip 3x512"] = base.crop((0, 0, 3, 512))

# 1. Plain resizes, up and down, extreme factors, 1-pixel targets.
jobs = []
for name, im in images.items():
    if name.startswith("tall"):
        continue  # tiles only (below): Pillow needs seconds for its plain resizes
    w, h = im.size
    raw = save_raw(im, f"src{len(jobs)}")
    up = 2 if w * h < 100000 else 1  # keep the suite fast: big images grow less
    targets = {(1, 1), (1, h), (w, 1), (max(1, w // 2), max(1, h // 2)), (w * up + 1, h * up),
               (w * up + 7, max(1, h // 3)), (max(1, w // 7), h * up + 13), (448, 448),
               (max(1, w // 37), max(1, h // 41)), (1000, 7), (7, 1000), (w + 1, h), (w, h + 1),
               (w - 1 if w > 1 else 2, h)}
    for _ in range(4):
        targets.add((rng.randint(1, 1000), rng.randint(1, 1000)))
    for tw, th in sorted(targets):
        jobs.append((name, im, raw, tw, th, os.path.join(tmp, f"out{len(jobs)}.rgb")))
# The SIMD kernels (default) and the portable ones (TS_TILER_NO_SIMD) must both match.
portable_env = dict(os.environ, TS_TILER_NO_SIMD="1")
variants = (("", "", None), (" (portable kernels)", ".portable", portable_env))
variants_env = (("", None), (" (portable kernels)", portable_env))
for _, suffix, env in variants:
    subprocess.run([tool, "resize"], check=True, env=env,
                   input="".join(f"{raw} {im.width} {im.height} {tw} {th} {out}{suffix}\n"
                                 for _, im, raw, tw, th, out in jobs).encode())
results = {suffix: [True, True, []] for _, suffix, _ in variants}
for name, im, raw, tw, th, out in jobs:
    want = np.asarray(im.resize((tw, th), Image.BICUBIC))
    for _, suffix, _ in variants:
        b, e, msg = compare(f"{name} -> {tw}x{th}", want, np.fromfile(out + suffix, dtype=np.uint8))
        r = results[suffix]
        r[0] &= b
        r[1] &= e
        if not e:
            r[2].append(f"{name} {im.size}->{tw}x{th}: {msg}")
for label, suffix, _ in variants:
    bar_ok, exact_ok, bad = results[suffix]
    check(f"plain resizes{label}: {len(jobs)} cases within the bar (>= 99.9%, max diff 1)", bar_ok, "; ".join(bad[:5]))
    check(f"plain resizes{label}: {len(jobs)} cases bit-identical to Pillow", exact_ok, "; ".join(bad[:5]))

# 2. Tiles and thumbnails vs InternVL's dynamic_preprocess.
norm_inputs = []
for name, im in images.items():
    raw = save_raw(im, "tile_src")
    for tile, mx in ((448, 6), (448, 12), (224, 6), (64, 6)):
        out = os.path.join(tmp, "tiles.rgb")
        res = subprocess.run([tool, "tile", raw, str(im.width), str(im.height), str(tile), str(mx), out],
                             capture_output=True, text=True, check=True).stdout.split()
        grid, ref = tiles(im, image_size=tile, max_num=mx)
        got = np.fromfile(out, dtype=np.uint8).reshape(-1, tile, tile, 3)
        want = np.stack([np.asarray(t) for t in ref])
        same_grid = (int(res[0]), int(res[1]), int(res[2])) == (grid[0], grid[1], len(ref))
        b, e, msg = compare(name, want, got) if got.shape == want.shape else (False, False, "shape")
        check(f"tiles {name} {im.size} tile {tile} max {mx}: grid {grid[0]}x{grid[1]}, {len(ref)} tiles",
              same_grid and b and e, msg)
        if tile == 448 and mx == 6:
            norm_inputs.append((name, got[0], got[-1]))

# 3. Normalization: float32 bit-identical to the torchvision arithmetic;
#    f16 / bf16 equal after round-to-nearest-even.
every = np.zeros((16, 16, 3), dtype=np.uint8)
every[..., 0] = np.arange(256).reshape(16, 16)
every[..., 1] = np.arange(255, -1, -1).reshape(16, 16)
every[..., 2] = np.random.default_rng(3).permutation(256).reshape(16, 16)
odd = np.random.default_rng(4).integers(0, 256, size=(13, 13, 3), dtype=np.uint8)  # 169: a scalar tail
cases = [("every byte value", every), ("odd 13x13", odd)] + [(f"{n} tile", t) for n, t, _ in norm_inputs[:3]] + \
        [(f"{n} thumbnail", t) for n, _, t in norm_inputs[:2]]
for name, t in cases:
    size = t.shape[0]
    src = os.path.join(tmp, "norm.rgb")
    t.tofile(src)
    want32 = normalize(t)
    for dt, want, dtype in (("f32", want32.view(np.uint32), np.uint32),
                            ("f16", to_f16_bits(want32), np.uint16),
                            ("bf16", to_bf16_bits(want32), np.uint16)):
        for label, env in variants_env:
            out = os.path.join(tmp, "norm.bin")
            subprocess.run([tool, "normalize", src, str(size), dt, out], check=True, env=env)
            got = np.fromfile(out, dtype=dtype).reshape(want.shape)
            check(f"normalize {dt} {name}{label}", np.array_equal(got, want),
                  f"{int((got != want).sum())} of {want.size} differ")

print(f"overall: {total_same}/{total_vals} bytes identical "
      f"({100.0 * total_same / max(total_vals, 1):.4f}%), max abs diff {worst}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
