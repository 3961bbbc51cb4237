#!/usr/bin/env bash
# The C fp32 reference forward (tessera vit --device cpu) against an
# independent PyTorch implementation (tests/reference/vit_torch.py, float64)
# on small random InternViT models written to safetensors by
# make_tiny_vit.py: relative L2 error <= 1e-4. Also: padded heads, the
# vision_model. prefix and sharded checkpoints give bit-identical output, and
# so does any thread count.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=${TS_TEST_TMP:-/tmp}/check_vit
rm -rf "$T"; mkdir -p "$T"

if ! $PY -c 'import torch, numpy' 2>/dev/null; then
    echo "FAIL python3-torch is not installed (scripts/install-deps.sh)"; echo "0 passed, 1 failed"; exit 1
fi

relerr() { # a.f32 b.f32 -> prints the relative L2 error
    $PY -c 'import sys, numpy as np
a = np.fromfile(sys.argv[1], np.float32); b = np.fromfile(sys.argv[2], np.float32)
print("inf" if a.shape != b.shape or not np.isfinite(a).all() else np.linalg.norm(a - b) / np.linalg.norm(b))' "$1" "$2"
}

# name, make_tiny_vit options...
against_torch() {
    local name=$1; shift
    local d=$T/$name
    $PY tests/reference/make_tiny_vit.py "$d" "$@" || { bad "$name: make model"; return; }
    $PY tests/reference/vit_torch.py "$d" "$d/tiles.f32" "$d/torch.f32" || { bad "$name: torch"; return; }
    "$TESSERA" -q vit --model "$d" -i "$d/tiles.f32" -o "$d/c.f32" --batch 2 || { bad "$name: tessera vit"; return; }
    local e; e=$(relerr "$d/c.f32" "$d/torch.f32")
    if $PY -c "import sys; sys.exit(0 if float('$e') <= 1e-4 else 1)"; then ok "$name vs torch: rel err $e"
    else bad "$name vs torch: rel err $e > 1e-4"; fi
}

against_torch f32 --dtype f32
against_torch bf16 --dtype bf16 --seed 2
against_torch f16 --dtype f16 --seed 3 --hidden 96 --heads 3 --mlp 384 --layers 3
against_torch img28 --image 28 --tiles 2 --seed 4
against_torch padded_prefix_sharded --dtype bf16 --seed 2 --pad-heads 7 --prefix --shards 3

# Stripping the zero heads, the prefix and the shards must not change a bit.
if cmp -s "$T/bf16/c.f32" "$T/padded_prefix_sharded/c.f32"; then ok "padded+prefix+sharded == plain"
else bad "padded+prefix+sharded output differs from the plain model"; fi

# Thread count does not change the output.
"$TESSERA" -q vit --model "$T/f32" -i "$T/f32/tiles.f32" -o "$T/f32/t1.f32" --threads 1 --batch 3
"$TESSERA" -q vit --model "$T/f32" -i "$T/f32/tiles.f32" -o "$T/f32/t3.f32" --threads 3 --batch 1
if cmp -s "$T/f32/t1.f32" "$T/f32/t3.f32" && cmp -s "$T/f32/t1.f32" "$T/f32/c.f32"; then ok "thread count invariant"
else bad "output depends on the thread count or batch"; fi

# Without a GPU (or without CUDA) --device cuda fails cleanly.
out=$("$TESSERA" -q vit --model "$T/f32" -i "$T/f32/tiles.f32" -o "$T/f32/g.f32" --device cuda 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "CUDA"; then ok "cuda without a GPU: clean error ($out)"
elif [ $rc -eq 0 ]; then
    e=$(relerr "$T/f32/g.f32" "$T/f32/c.f32")
    if $PY -c "import sys; sys.exit(0 if float('$e') <= 1e-2 else 1)"; then ok "cuda vs cpu: rel err $e"
    else bad "cuda vs cpu: rel err $e > 1e-2"; fi
else bad "cuda without a GPU: rc $rc, message: $out"; fi

finish
