#!/usr/bin/env bash
# Runs every stage benchmark (bench/<stage>.sh); each prints its own table
# with tessera's figures beside the reference tool's and their ratio.
set -u
cd "$(dirname "$0")/.."
status=0
for b in bench/*.sh; do
    [ "$b" = bench/run.sh ] && continue
    echo "== $b"
    bash "$b" || { echo "benchmark $b failed"; status=1; }
done
exit $status
