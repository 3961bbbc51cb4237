#!/usr/bin/env bash
# Ingest throughput: `tessera ingest` (download, decode check, dedup, Energon
# shards) against `curl --parallel --parallel-max 64` (download to files) on
# the same N distinct JPEGs of 20-200 KB served by nginx on loopback (and
# tessera once more with the opt-in --image-check structure); then
# JSONL text records/s, and peak RSS at 1k, 10k and 100k text records.
#   INGEST_BENCH_N=2000 bench/ingest.sh     (default 20000 images)
# Images: 300 distinct Pillow encodes of skimage photos (bench/download_images.py,
# cached in /tmp/tessera-bench-ingest-cache), each written under N/300 names
# with a different JPEG comment segment (COM, after SOI) so that every file
# is distinct by bytes and survives exact dedup; decode work is unchanged.
set -eu
cd "$(dirname "$0")/.."
. tests/reference/lib.sh # BUILD, TESSERA, PY, nginx_run, free_port, wait_url
N=${INGEST_BENCH_N:-20000}
TEXT_N=${INGEST_BENCH_TEXT_N:-100000}
CACHE=/tmp/tessera-bench-ingest-cache
W=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-ingest.XXXXXX")
T=$W # nginx_run keeps nginx in $T/nginx
trap 'cleanup; rm -rf "$W"' EXIT
[ -x "$TESSERA" ] || make -j2 "$TESSERA" >/dev/null

[ -f "$CACHE/src/src0299.jpg" ] || $PY bench/download_images.py "$CACHE/src" 300
if [ ! -f "$CACHE/www$N/done" ]; then
    echo "writing $N distinct JPEGs to $CACHE/www$N"
    $PY - "$CACHE/src" "$CACHE/www$N" "$N" <<'PY'
import os, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
bases = [open(f"{src}/src{i:04d}.jpg", "rb").read() for i in range(300)]
for i in range(n):
    b = bases[i % 300]
    note = b"tessera bench image %d" % i
    com = b"\xff\xfe" + struct.pack(">H", len(note) + 2) + note
    open(f"{dst}/{i:06d}.jpg", "wb").write(b[:2] + com + b[2:])
open(f"{dst}/done", "w").write("ok")
PY
fi
bytes=$(du -sb "$CACHE/www$N" | cut -f1)
echo "$N JPEGs, mean size $((bytes / N / 1024)) KB"

PORT=$(free_port)
NGINX_CONNECTIONS=1024 nginx_run "    server {
        listen 127.0.0.1:$PORT backlog=1024; root $CACHE/www$N;
        access_log off; sendfile on; keepalive_requests 100000;
    }"
wait_url "http://127.0.0.1:$PORT/000000.jpg" -f || true

$PY - "$W" "$PORT" "$N" "$TEXT_N" <<'PY'
import json, sys
W, port, n, text_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(f"{W}/urls.txt", "w") as u, open(f"{W}/images.jsonl", "w") as r:
    for i in range(n):
        url = f"http://127.0.0.1:{port}/{i:06d}.jpg"
        u.write(url + "\n")
        r.write(json.dumps({"url": url, "caption": f"benchmark photo {i}, a crop of a sample picture"}) + "\n")
json.dump({"name": "bench_images", "stage": "pretrain", "task": "caption", "inputs": [{"path": "images.jsonl"}],
           "mapping": {"images": [{"url": "url"}], "text": "caption"}}, open(f"{W}/images.json", "w"))
words = "the of and to in is was for on that with as by at from his her an which or were be this".split()
with open(f"{W}/text.jsonl", "w") as f:
    for i in range(text_n):
        body = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(60))
        f.write(json.dumps({"text": f"document {i}: {body}"}) + "\n")
for k in (1000, 10000, 100000):
    with open(f"{W}/text.jsonl") as f, open(f"{W}/text{k}.jsonl", "w") as g:
        for _, line in zip(range(k), f):
            g.write(line)
    json.dump({"name": f"bench_text{k}", "stage": "text", "task": "text", "inputs": [{"path": f"text{k}.jsonl"}],
               "mapping": {"text": "text"}}, open(f"{W}/text{k}.json", "w"))
PY

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
# peak RSS (KB) and seconds of a command, from /usr/bin/time -v
timed() { # label command...
    local label=$1; shift
    /usr/bin/time -v "$@" >"$W/$label.out" 2>"$W/$label.time"
    grep -q 'Exit status: 0' "$W/$label.time" || { echo "$label failed"; tail -5 "$W/$label.time"; exit 1; }
}
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$W/$1.time"; }
rss() { awk -F': ' '/Maximum resident/ { print $2 }' "$W/$1.time"; }
wall() { awk -F': ' '/Elapsed \(wall/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$W/$1.time"; }

# Each tool twice, curl first and last; the faster run counts.
run_curl() {
    awk -v d="$W/curl$1" '{ printf "url = \"%s\"\noutput = \"%s/%06d.jpg\"\n", $0, d, NR - 1 }' "$W/urls.txt" >"$W/curl.cfg"
    mkdir -p "$W/curl$1"
    timed "curl$1" curl --parallel --parallel-max 64 -s --no-progress-meter -K "$W/curl.cfg"
}
run_tessera() {
    timed "ingest$1" "$TESSERA" -q ingest "$W/images.json" -o "$W/ds$1" --jobs 2 -j 64 --per-host 64
}
run_curl 1; run_tessera 1; run_tessera 2; run_curl 2
# The opt-in cheaper check (JPEG marker walk instead of a decode), once.
timed structure "$TESSERA" -q ingest "$W/images.json" -o "$W/ds_structure" --jobs 2 -j 64 --per-host 64 \
    --image-check structure
best() { printf '%s\n%s\n' "$(wall "$1"1)" "$(wall "$1"2)" | sort -n | head -n1; }
curl_s=$(best curl) tess_s=$(best ingest)
curl_files=$(ls "$W/curl1" | wc -l)
written=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["written"])' "$W/ds1/stats/summary.json")

timed base "$TESSERA" help
for k in 1000 10000 100000; do timed "text$k" "$TESSERA" -q ingest "$W/text$k.json" -o "$W/text$k" --jobs 2; done
awk -v n="$N" -v c="$curl_files" -v w="$written" -v cs="$curl_s" -v ts="$tess_s" -v rss="$(rss ingest1)" \
    -v cc="$(cpu curl1)" -v tc="$(cpu ingest1)" -v ss="$(wall structure)" -v sc="$(cpu structure)" \
    -v srss="$(rss structure)" 'BEGIN {
    printf "%-44s %7s %8s %9s %8s %9s\n", "ingest " n " JPEGs (nginx, loopback)", "images", "seconds", "images/s", "CPU s", "peak RSS"
    printf "%-44s %7d %8.2f %9.0f %8.2f\n", "curl --parallel --parallel-max 64 (to files)", c, cs, n / cs, cc
    printf "%-44s %7d %8.2f %9.0f %8.2f %6.0f MB\n", "tessera ingest (download+decode+dedup+tar)", w, ts, n / ts, tc, rss / 1024
    printf "%-44s %7d %8.2f %9.0f %8.2f %6.0f MB\n", "  the same, --image-check structure", n, ss, n / ss, sc, srss / 1024
    printf "ratio tessera/curl: %.2fx (goal >= 0.8x); CPU per image: tessera %.2f ms, curl %.2f ms\n", cs / ts, tc * 1000 / n, cc * 1000 / n
    printf "with --image-check structure: %.2fx, CPU per image %.2f ms\n", cs / ss, sc * 1000 / n
}'
echo "peak RSS of \`tessera help\` (the binary's baseline): $(( $(rss base) / 1024 )) MB"
printf "%-44s %7s %8s %9s %8s %9s\n" "ingest JSONL text records" "records" "seconds" "records/s" "CPU s" "peak RSS"
for k in 1000 10000 100000; do
    awk -v k="$k" -v s="$(wall "text$k")" -v r="$(rss "text$k")" -v c="$(cpu "text$k")" \
        'BEGIN { printf "%-44s %7d %8.2f %9.0f %8.2f %6.0f MB\n", "tessera ingest, task text", k, s, k / s, c, r / 1024 }'
done
[ "$written" -eq "$N" ] && [ "$curl_files" -eq "$N" ]
