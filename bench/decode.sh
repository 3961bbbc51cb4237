#!/usr/bin/env bash
# Decode throughput: Pillow 9.4 `Image.open(f).convert('RGB')` vs tessera's
# ts_decode_image (tests/tools/decode_dump --repeat), same files, same run.
# Prints megapixels per second for both and the ratio tessera / Pillow.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make -s "$BUILD/tools/decode_dump"
TMP=$(mktemp -d /tmp/tessera-bench-decode.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$TMP" "$PWD/$BUILD/tools/decode_dump" <<'PY'
import io, json, os, subprocess, sys, time
from PIL import Image
tmp, tool = sys.argv[1], sys.argv[2]
data = "/usr/lib/python3/dist-packages/skimage/data"
photo = Image.open(os.path.join(data, "retina.jpg")).convert("RGB")  # 1411 x 1411
files = {"jpeg q90 4:2:0": ("a.jpg", dict(quality=90)),
         "jpeg progressive": ("p.jpg", dict(quality=90, progressive=True)),
         "png rgb": ("a.png", {}),
         "webp lossy": ("a.webp", dict(quality=80)),
         "webp lossless": ("l.webp", dict(lossless=True)),
         "gif": ("a.gif", {})}
print("%-18s %12s %12s %8s" % ("input", "Pillow MP/s", "tessera MP/s", "ratio"))
for name, (fn, kw) in files.items():
    path = os.path.join(tmp, fn)
    (photo.quantize(256) if fn.endswith(".gif") else photo).save(path, **kw)
    raw = open(path, "rb").read()
    mp = photo.size[0] * photo.size[1] / 1e6
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        Image.open(io.BytesIO(raw)).convert("RGB")
    pil = (time.perf_counter() - t) / reps
    r = subprocess.run([tool, "--repeat", str(reps), path, os.path.join(tmp, "o.rgb")],
                       capture_output=True, text=True, check=True)
    ts = json.loads(r.stdout)["seconds_per_decode"]
    print("%-18s %12.1f %12.1f %7.2fx" % (name, mp / pil, mp / ts, pil / ts))
PY
