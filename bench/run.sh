#!/usr/bin/env bash
# Runs every stage benchmark (bench/<stage>.sh); each prints its own table
# with tessera's figures beside the reference tool's and their ratio.
set -u
cd "$(dirname "$0")/.."
status=0
for b in bench/*.sh; do
    case "$b" in bench/run.sh | bench/lib_*.sh) continue ;; esac
    case "$b" in bench/gpu_*.sh)
        nvidia-smi -L >/dev/null 2>&1 || { echo "== $b: skipped (no GPU here)"; continue; } ;;
    esac
    echo "== $b"
    bash "$b" || { echo "benchmark $b failed"; status=1; }
done
exit $status
