#!/usr/bin/env bash
# Installs tessera's build and test dependencies (Debian 12). Idempotent,
# non-interactive.
set -euo pipefail
PKGS=(
    build-essential pkg-config clang
    libcurl4-openssl-dev libarchive-dev libjpeg62-turbo-dev libwebp-dev libzstd-dev
    libcjson-dev libxxhash-dev libspng-dev libpng-dev libgif-dev libutf8proc-dev zlib1g-dev
    libsnappy-dev
    python3-pil python3-numpy python3-skimage nginx-light
    libjpeg-turbo-progs # djpeg: reference for DCT-scaled JPEG decodes (tests/reference/check_decode.sh)
)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
