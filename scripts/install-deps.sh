#!/usr/bin/env bash
# Installs what tessera needs to build and test (Debian 12, as root), idempotent
# and non-interactive: C libraries, the reference tools the cross-checks
# compare against, and the npm packages pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
APT_PKGS=(build-essential pkg-config clang
    libcurl4-openssl-dev libarchive-dev libjpeg62-turbo-dev libwebp-dev libzstd-dev libcjson-dev
    libxxhash-dev libspng-dev libpng-dev libgif-dev libutf8proc-dev zlib1g-dev libsnappy-dev
    python3-pil python3-numpy python3-skimage nginx-light)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi
# Reference tools for tests/reference and bench/ (DuckDB, parquet-wasm, apache-arrow).
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
