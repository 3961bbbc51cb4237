#!/usr/bin/env bash
# Install tessera's build and test dependencies (Debian 12). Idempotent.
set -euo pipefail
pkgs=(
    python3-torch # tests/reference/vit_torch.py: the InternViT cross-check
)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
