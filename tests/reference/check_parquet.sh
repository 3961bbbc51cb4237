#!/usr/bin/env bash
# Cross-check `tessera cat` on Parquet files written by DuckDB and by
# parquet-wasm (arrow-rs) against DuckDB reading the same files: every row of
# every file must be equal after normalisation (tests/reference/parquet_check.mjs).
set -u
cd "$(dirname "$0")/../.."
TESSERA=${TESSERA:-$PWD/build/tessera}
TMP=${TS_TEST_TMP:-$(mktemp -d)}/parquet
mkdir -p "$TMP/jpeg"
if [ ! -d node_modules/@duckdb/node-api ] || [ ! -d node_modules/parquet-wasm ]; then
    echo "FAIL node_modules missing: run scripts/install-deps.sh (npm ci)"
    echo "0 passed, 1 failed"
    exit 1
fi
# Real JPEG bytes for the Hugging Face image column.
/usr/bin/python3 - "$TMP/jpeg" <<'PY' || { echo "FAIL cannot make JPEG fixtures (python3-pil)"; echo "0 passed, 1 failed"; exit 1; }
import sys
from PIL import Image
for i, (w, h) in enumerate([(64, 48), (17, 33), (320, 200)]):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 7 + i * 40) % 256, (y * 5) % 256, (x * y) % 256) for y in range(h) for x in range(w)])
    im.save(f"{sys.argv[1]}/img{i}.jpg", quality=85)
PY
TESSERA=$TESSERA exec node tests/reference/parquet_check.mjs "$TMP"
