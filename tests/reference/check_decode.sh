#!/usr/bin/env bash
# tessera's image decoder vs Pillow 9.4 (Debian python3-pil) on fixtures in
# every supported mode; DCT-scaled JPEG decodes vs djpeg -scale.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
TOOL=$PWD/$BUILD/tools/decode_dump
TMP=${TS_TEST_TMP:-/tmp}
if [ ! -x "$TOOL" ]; then echo "missing $TOOL (make $BUILD/tools/decode_dump)"; echo "0 passed, 1 failed"; exit 1; fi
for need in djpeg /usr/bin/python3; do
    command -v "$need" >/dev/null || { echo "missing $need (scripts/install-deps.sh)"; echo "0 passed, 1 failed"; exit 1; }
done
exec /usr/bin/python3 tests/reference/decode_pillow.py --tool "$TOOL" --tmp "$TMP"
