#!/usr/bin/env bash
# Download throughput: `tessera fetch` (download + magic-byte sniff + write
# each file) against `curl --parallel --parallel-max 64` (download + write),
# both fetching the same N JPEGs of 20-200 KB from nginx on loopback.
#   DL_BENCH_N=2000 bench/download.sh      (default 20000)
set -eu
cd "$(dirname "$0")/.."
. tests/reference/lib.sh # BUILD, TESSERA, PY, nginx_run, free_port, wait_url
N=${DL_BENCH_N:-20000}
DISTINCT=300
W=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-download.XXXXXX")
T=$W # nginx_run keeps nginx in $T/nginx
if [ -n "${DL_BENCH_KEEP:-}" ]; then
    trap '[ -n "${pids[*]}" ] && echo "kept $W, nginx pid ${pids[*]}"' EXIT
else
    trap 'cleanup; rm -rf "$W"' EXIT
fi
[ -x "$TESSERA" ] || make -j2 "$TESSERA" >/dev/null

echo "making $DISTINCT distinct JPEGs, linked to $N names"
$PY bench/download_images.py "$W/src" "$DISTINCT"
mkdir -p "$W/www/img"
$PY -c 'import os, sys
src, dst, n, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    os.link("%s/src%04d.jpg" % (src, i % k), "%s/%06d.jpg" % (dst, i))' "$W/src" "$W/www/img" "$N" "$DISTINCT"
bytes=$(du -sbL "$W/src" | cut -f1)
echo "mean size $((bytes / DISTINCT / 1024)) KB"

PORT=$(free_port)
NGINX_CONNECTIONS=1024 nginx_run "    server {
        listen 127.0.0.1:$PORT backlog=1024; root $W/www;
        access_log off; sendfile on; keepalive_requests 100000;
    }"
wait_url "http://127.0.0.1:$PORT/img/000000.jpg" -f || true

for ((i = 0; i < N; i++)); do printf 'http://127.0.0.1:%s/img/%06d.jpg\n' "$PORT" "$i"; done >"$W/urls.txt"
now() { date +%s.%N; }
# Each tool runs twice, in the order curl, tessera, tessera, curl, into fresh
# directories that stay until the end (deleting 20,000 inodes just before a run
# slows its file creation); the faster run of each counts.
run_curl() { # round
    awk -v d="$W/curl$1" '{ printf "url = \"%s\"\noutput = \"%s/%06d.jpg\"\n", $0, d, NR - 1 }' "$W/urls.txt" >"$W/curl.cfg"
    mkdir -p "$W/curl$1"
    local t0 t1
    t0=$(now)
    curl --parallel --parallel-max 64 -s --no-progress-meter -K "$W/curl.cfg" 2>/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc >"$W/curl$1.time"
}
run_tessera() { # round
    local t0 t1
    t0=$(now)
    "$TESSERA" fetch -j 64 --per-host 64 "$W/urls.txt" -o "$W/tessera$1" >"$W/tessera$1.jsonl"
    t1=$(now)
    echo "$t1 - $t0" | bc >"$W/tessera$1.time"
}
run_curl 1; run_tessera 1; run_tessera 2; run_curl 2
best() { sort -n "$W/$1"1.time "$W/$1"2.time | head -n1; }
curl_s=$(best curl) tess_s=$(best tessera)
curl_files=$(ls "$W/curl1" | wc -l)
ok=$(grep -c '"outcome":"ok"' "$W/tessera1.jsonl" || true)
cmp -s "$W/tessera1/000000123.jpg" "$W/www/img/000123.jpg" || { echo "tessera's file differs from the served one"; exit 1; }

awk -v n="$N" -v c="$curl_files" -v ok="$ok" -v cs="$curl_s" -v ts="$tess_s" 'BEGIN {
    printf "%-34s %8s %10s %9s\n", "download " n " JPEGs (nginx, loopback)", "files", "seconds", "images/s"
    printf "%-34s %8d %10.2f %9.0f\n", "curl --parallel --parallel-max 64", c, cs, n / cs
    printf "%-34s %8d %10.2f %9.0f\n", "tessera fetch -j 64 (+sniff)", ok, ts, n / ts
    printf "ratio tessera/curl: %.2fx (goal >= 0.8x)\n", cs / ts
}'
[ "$ok" -eq "$N" ] && [ "$curl_files" -eq "$N" ]
