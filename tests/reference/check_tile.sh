#!/usr/bin/env bash
# `tessera tile` end to end against Pillow (tiles, thumbnails, grids, tags),
# normalized shard payloads against float32 torchvision arithmetic, and
# thread-count independence of the shard bytes.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
exec /usr/bin/python3 tests/reference/tile_pillow.py --tessera "$PWD/$BUILD/tessera" --tmp "${TS_TEST_TMP:-/tmp}"
