#!/usr/bin/env bash
# Component benchmark: the tiler's geometry work on one core (resize to the
# grid, crop tiles, thumbnail, normalize to float32 CHW) with tessera vs
# Pillow 9.4 + numpy doing the same (InternVL dynamic_preprocess + ToTensor +
# Normalize arithmetic). Decoding is excluded on both sides: both start from
# the same RGB pixels. Prints per-image times and the speed ratio.
#   usage: bench/tiler_resize.sh [ITERS]     (default 20)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ITERS=${1:-20}
make -s "$BUILD/tools/tiler_tool" >/dev/null
TMP=$(mktemp -d /tmp/tiler_resize_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
exec taskset -c 0 /usr/bin/python3 - "$BUILD/tools/tiler_tool" "$TMP" "$ITERS" <<'PY'
import os, subprocess, sys, time
import numpy as np
from PIL import Image
sys.path.insert(0, "tests/reference")
from internvl_ref import MEAN, STD, candidates, closest_grid, normalize

tool, tmp, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
DATA = "/usr/lib/python3/dist-packages/skimage/data"
photo = Image.open(os.path.join(DATA, "astronaut.png")).convert("RGB")
chelsea = Image.open(os.path.join(DATA, "chelsea.png")).convert("RGB")
cases = [("chelsea 451x300", chelsea), ("photo 640x480", photo.resize((640, 480))),
         ("photo 1024x768", photo.resize((1024, 768))), ("photo 1920x1080", photo.resize((1920, 1080))),
         ("photo 4032x3024", photo.resize((4032, 3024)))]
TILE = 448

def pillow_resize(im, cols, rows):
    im.resize((TILE * cols, TILE * rows), Image.BICUBIC)
    im.resize((TILE, TILE), Image.BICUBIC)

def pillow_pipeline(im, cols, rows, out):
    """InternVL tiling with Pillow, then ToTensor + Normalize arithmetic in
    numpy (in place, into a preallocated batch like a DataLoader's)."""
    big = im.resize((TILE * cols, TILE * rows), Image.BICUBIC)
    tiles = [big.crop(((k % cols) * TILE, (k // cols) * TILE, (k % cols + 1) * TILE, (k // cols + 1) * TILE))
             for k in range(cols * rows)]
    tiles.append(im.resize((TILE, TILE), Image.BICUBIC))
    for k, t in enumerate(tiles):
        x = out[k]
        np.copyto(x, np.asarray(t).transpose(2, 0, 1), casting="unsafe")
        x /= np.float32(255)
        x -= MEAN[:, None, None]
        x /= STD[:, None, None]

def timed(fn, *args):
    fn(*args)
    t0 = time.process_time()
    for _ in range(iters):
        fn(*args)
    return (time.process_time() - t0) / iters

def tessera(mode, raw, im, cols, rows):
    out = subprocess.run([tool, "bench", mode, raw, str(im.width), str(im.height), str(TILE * cols),
                          str(TILE * rows), str(TILE), str(iters)], capture_output=True, text=True, check=True)
    return float(out.stdout) / iters

print("CPU ms per image (process CPU time, robust to a busy machine), one core; 'resize' = grid resize + thumbnail, 'full' = + crop + normalize f32")
print(f"{'image':18} {'grid':5} {'pillow resize':>13} {'tessera':>8} {'ratio':>6} "
      f"{'pillow+numpy full':>17} {'tessera':>8} {'ratio':>6}")
ratios, rratios = [], []
for name, im in cases:
    cols, rows = closest_grid(im.width, im.height, candidates(1, 6), TILE)
    raw = os.path.join(tmp, "src.rgb")
    with open(raw, "wb") as f:
        f.write(im.tobytes())
    r_ref, r_ts = timed(pillow_resize, im, cols, rows), tessera("resize", raw, im, cols, rows)
    batch = np.empty((cols * rows + 1, 3, TILE, TILE), dtype=np.float32)
    f_ref, f_ts = timed(pillow_pipeline, im, cols, rows, batch), tessera("full", raw, im, cols, rows)
    check = normalize(np.asarray(im.resize((TILE, TILE), Image.BICUBIC)))
    assert np.array_equal(batch[-1], check), "bench reference drifted from the tested reference"
    rratios.append(r_ref / r_ts)
    ratios.append(f_ref / f_ts)
    print(f"{name:18} {cols}x{rows:<3} {r_ref * 1e3:13.2f} {r_ts * 1e3:8.2f} {r_ref / r_ts:5.1f}x "
          f"{f_ref * 1e3:17.2f} {f_ts * 1e3:8.2f} {f_ref / f_ts:5.1f}x")
gm = lambda v: float(np.exp(np.mean(np.log(v))))
print(f"geometric mean speedup, one core: resize {gm(rratios):.1f}x, "
      f"resize+tiles+thumbnail+normalize f32 {gm(ratios):.1f}x")
PY
