#!/usr/bin/env bash
# Energon writer benchmark: the same captioning records (real photos as JPEG,
# one caption each) written as Energon shards by `tessera energon` and by a
# Python tarfile writer (bench/energon_tarfile.py, what WebDataset's
# ShardWriter does). Prints records/s, MB/s and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
N=${ENERGON_BENCH_RECORDS:-1500}
SHARD=${ENERGON_BENCH_SHARD_BYTES:-50000000}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/tessera-bench-energon.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$PY - "$tmp" "$N" <<'PYEOF'
import json, os, sys
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
src = "/usr/lib/python3/dist-packages/skimage/data"
photos = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "motorcycle_left.png", "rocket.jpg"]
os.makedirs(os.path.join(out, "img"))
names = []
for i, p in enumerate(photos):
    im = Image.open(os.path.join(src, p)).convert("RGB")
    for s, scale in enumerate((0.5, 0.8, 1.0)):
        name = "img/%d_%d.jpg" % (i, s)
        im.resize((int(im.width * scale), int(im.height * scale))).save(os.path.join(out, name), quality=90)
        names.append(name)
with open(os.path.join(out, "in.jsonl"), "w") as f:
    for k in range(n):
        f.write(json.dumps({"key": "r%07d" % k, "source": "bench", "stage": "pretrain", "task": "caption",
                            "images": [{"path": names[k % len(names)]}], "text": "Photo number %d." % k}) + "\n")
PYEOF
s=$(date +%s.%N)
"$T" -q energon "$tmp/in.jsonl" -o "$tmp/ts" --shard-size "$SHARD" >/dev/null
e=$(date +%s.%N)
ts_sec=$(echo "$e - $s" | bc -l)
ref_sec=$($PY bench/energon_tarfile.py "$tmp/in.jsonl" "$tmp/ref" "$SHARD" | $PY -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
mb=$(du -sm "$tmp/ts" | cut -f1)
printf "energon writer, %d records, %d MB of shards\n" "$N" "$mb"
printf "  tessera energon : %8.1f records/s %7.1f MB/s (includes fsync of every shard)\n" \
    "$(echo "$N / $ts_sec" | bc -l)" "$(echo "$mb / $ts_sec" | bc -l)"
printf "  python tarfile  : %8.1f records/s %7.1f MB/s (no fsync)\n" \
    "$(echo "$N / $ref_sec" | bc -l)" "$(echo "$mb / $ref_sec" | bc -l)"
printf "  ratio tessera/python: %.2f\n" "$(echo "$ref_sec / $ts_sec" | bc -l)"
