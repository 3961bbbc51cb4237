#!/usr/bin/env bash
# The demo job: real photos (Debian's python3-skimage data) in several formats
# and aspect ratios, loose and packed as a WebDataset tar, tiled with the NVLM
# rule into a tile shard plus PNG tiles; prints where the outputs are and a
# summary. Run through `make demo`, which installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
OUT=${DEMO_OUT:-$PWD/demo-out}
rm -rf "$OUT"
mkdir -p "$OUT/images" "$OUT/wds"

/usr/bin/python3 - "$OUT" <<'PY'
import io, os, sys, tarfile
from PIL import Image
out = sys.argv[1]
data = "/usr/lib/python3/dist-packages/skimage/data"
shots = [("astronaut.png", (512, 512), "jpg"), ("coffee.png", (1200, 800), "jpg"), ("chelsea.png", (451, 300), "png"),
         ("hubble_deep_field.jpg", (1000, 872), "webp"), ("motorcycle_left.png", (1480, 400), "jpg"),
         ("rocket.jpg", (427, 640), "png"), ("page.png", (384, 191), "png"), ("immunohistochemistry.png", (300, 1200), "jpg")]
tar = tarfile.open(os.path.join(out, "wds", "demo-000000.tar"), "w")
for i, (name, size, ext) in enumerate(shots):
    path = os.path.join(data, name)
    if not os.path.exists(path):
        continue
    img = Image.open(path).convert("RGB").resize(size, Image.BICUBIC)
    img.save(os.path.join(out, "images", "%s.%s" % (os.path.splitext(name)[0], ext)), quality=90)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    for member, payload in (("%06d.jpg" % i, buf.getvalue()), ("%06d.txt" % i, ("a photo: %s" % name).encode())):
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
tar.close()
PY

echo "demo: tiling $(ls "$OUT/images" | wc -l) images and $(tar tf "$OUT/wds/demo-000000.tar" | grep -c jpg) WebDataset samples"
"$T" tile -o "$OUT/demo.tiles" --png "$OUT/tiles" "$OUT/images" "$OUT/wds/demo-000000.tar" > "$OUT/tile-report.jsonl"

/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "tile-report.jsonl"))]
print("\n%-44s %11s %6s %5s" % ("input", "size", "grid", "tiles"))
for r in rows:
    name = os.path.relpath(r["input"], out)
    if "error" in r:
        print("%-44s error: %s" % (name, r["error"]))
    else:
        print("%-44s %11s %6s %5d" % (name, "%dx%d" % (r["width"], r["height"]), "%dx%d" % tuple(r["grid"]), r["tiles"]))
print("\n%d images, %d tiles" % (len(rows), sum(r.get("tiles", 0) for r in rows)))
PY
echo
echo "outputs:"
echo "  tile shard     $OUT/demo.tiles ($(stat -c %s "$OUT/demo.tiles") bytes; format: docs/FORMATS.md)"
echo "  PNG tiles      $OUT/tiles/"
echo "  JSON report    $OUT/tile-report.jsonl"
