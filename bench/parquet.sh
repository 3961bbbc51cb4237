#!/usr/bin/env bash
# Parquet read throughput: tessera vs DuckDB (one thread each) on the same
# ~150 MB file, generated here by DuckDB (not committed). Prints MB/s and the
# ratio. Usage: bench/parquet.sh [ROWS] (default 1500000)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -x "$BUILD/tessera" ] || make -j2 "$BUILD/tessera"
[ -d node_modules/@duckdb/node-api ] || { echo "run scripts/install-deps.sh first (npm ci)" >&2; exit 2; }
DIR=${BENCH_TMP:-$(mktemp -d /tmp/tessera-bench-parquet.XXXXXX)}
trap '[ -z "${BENCH_TMP:-}" ] && rm -rf "$DIR"' EXIT
TESSERA=$PWD/$BUILD/tessera node bench/parquet_bench.mjs "$DIR" "${1:-1500000}"
