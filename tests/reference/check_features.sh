#!/usr/bin/env bash
# tessera features end to end: images -> tessera tile -> tessera features
# (CPU reference) -> feature cache, checked against an independent pipeline
# (Python tile reader, InternVL normalization, PyTorch InternViT, Python
# cache reader): bf16 within 1e-2, fp8 e4m3 within 6e-2 relative L2. Also:
# resuming skips what is cached, a new input adds only a new shard, and the
# Python reader rejects a corrupted payload.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=${TS_TEST_TMP:-/tmp}/check_features
rm -rf "$T"; mkdir -p "$T/img1" "$T/img2"
expect() { # name, condition (python expression over j = the JSON summary), json
    if $PY -c "import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if ($2) else 1)" "$3"; then ok "$1"; else bad "$1: $3"; fi
}

$PY - "$T" <<'PYEOF'
import sys, numpy as np
from PIL import Image
t = sys.argv[1]
rng = np.random.default_rng(7)
for d, sizes in (("img1", [(120, 60), (50, 50), (200, 90)]), ("img2", [(60, 130), (50, 50)])):
    for i, (w, h) in enumerate(sizes):
        seed = 50 if (w, h) == (50, 50) else i + len(d)
        a = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(a).save(f"{t}/{d}/im{i}.png")
PYEOF
# img2/im1.png has the same content as img1/im1.png: one cache entry serves both.
$PY tests/reference/make_tiny_vit.py "$T/model" --image 56 --seed 11 >/dev/null
"$TESSERA" -q tile --tile-size 56 --max-tiles 4 -o "$T/a.tiles" "$T/img1" >/dev/null || bad "tessera tile img1"
"$TESSERA" -q tile --tile-size 56 --max-tiles 4 -o "$T/b.tiles" "$T/img2" >/dev/null || bad "tessera tile img2"

j=$("$TESSERA" -q features --model "$T/model" -i "$T/a.tiles" -o "$T/cache" --device cpu --batch 3 -j 2)
expect "first run encodes 3 images" 'j["images"] == 3 and j["skipped"] == 0 and j["shards_written"] == 1 and j["device"] == "cpu"' "$j"
if $PY tests/reference/features_torch.py "$T/model" "$T/cache" 1e-2 "$T/a.tiles" >"$T/cmp1.log" 2>&1; then
    ok "bf16 cache vs torch ($(grep -c '^ok' "$T/cmp1.log") images)"; else bad "bf16 cache vs torch"; cat "$T/cmp1.log"; fi

j=$("$TESSERA" -q features --model "$T/model" -i "$T/a.tiles" -o "$T/cache" --device cpu)
expect "rerun resumes: all skipped, nothing written" 'j["images"] == 0 and j["skipped"] == 3 and j["shards_written"] == 0' "$j"
j=$("$TESSERA" -q features --model "$T/model" -i "$T/a.tiles" -i "$T/b.tiles" -o "$T/cache" --device cpu --batch 2)
expect "new input: only the new image, one new shard" 'j["images"] == 1 and j["skipped"] == 4 and j["shards_written"] == 1' "$j"
if $PY tests/reference/features_torch.py "$T/model" "$T/cache" 1e-2 "$T/a.tiles" "$T/b.tiles" >"$T/cmp2.log" 2>&1; then
    ok "two-shard cache vs torch"; else bad "two-shard cache vs torch"; cat "$T/cmp2.log"; fi
[ "$(ls "$T/cache" | grep -c 'idx.json$')" -eq 2 ] && ok "two shards" || bad "expected two shards: $(ls "$T/cache")"

j=$("$TESSERA" -q features --model "$T/model" -i "$T/a.tiles" -o "$T/cache8" --device cpu --dtype fp8 --shard-size 1)
expect "fp8 run" 'j["images"] == 3' "$j"
if $PY tests/reference/features_torch.py "$T/model" "$T/cache8" 6e-2 "$T/a.tiles" >"$T/cmp3.log" 2>&1; then
    ok "fp8 cache vs torch: $(grep -o 'rel err.*' "$T/cmp3.log" | tr '\n' ' ')"; else bad "fp8 cache vs torch"; cat "$T/cmp3.log"; fi

# A flipped byte in a payload is caught by the Python reader.
$PY - "$T/cache" <<'PYEOF' && ok "corrupted payload detected" || bad "corrupted payload not detected"
import sys, os
sys.path.insert(0, "readers")
import tessera_features as tf
c = tf.FeatureCache(sys.argv[1]); e = c.entries()[0]
p = os.path.join(sys.argv[1], "feat-%06d.bin" % e["shard"])
with open(p, "r+b") as f:
    f.seek(e["offset"] + 5); b = f.read(1); f.seek(e["offset"] + 5); f.write(bytes([b[0] ^ 1]))
try:
    tf.FeatureCache(sys.argv[1]).features(e)
except tf.ChecksumError:
    sys.exit(0)
sys.exit(1)
PYEOF

# Bad input: a model whose tile size differs from the shard's.
$PY tests/reference/make_tiny_vit.py "$T/model28" --image 28 >/dev/null
if "$TESSERA" -q features --model "$T/model28" -i "$T/a.tiles" -o "$T/cachex" --device cpu 2>"$T/err.txt"; then
    bad "mismatched tile size accepted"; else grep -q "56 px tiles" "$T/err.txt" && ok "mismatched tile size: $(cat "$T/err.txt")" || bad "message: $(cat "$T/err.txt")"; fi

finish
