#!/usr/bin/env bash
# `tessera ingest` end to end against real servers on loopback: nginx serving
# real JPEG/PNG photos (Pillow-made) and tests/reference/fault_server.py for
# every download fault. Checks each record's recorded reason, that the
# summaries reconcile, that the dataset passes energon_check.py (an
# independent reader), byte-identical output for --jobs 1 and 3 and for tiny
# batches (many in flight through the pipeline's stages), kill -9 at
# random points then re-run == a clean run, a retry pass that recovers a
# record, the cross-run dedup index, and what --image-check structure lets
# through that the default decode check drops.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=$(make_tmp ingest)
# ingest NAME MANIFEST [options]: tessera -q ingest (never more than 60 s) into $T/NAME
ingest() {
    local name=$1 manifest=$2; shift 2
    timeout -s KILL 60 "$TESSERA" -q ingest "$manifest" -o "$T/$name" "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
# same_dataset A B: shards, idx, metadata and drop log byte-identical
same_dataset() {
    $PY - "$T/$1" "$T/$2" <<'PY'
import os, sys
a, b = sys.argv[1:]
names = lambda d: sorted(f for f in os.listdir(d) if f.endswith((".tar", ".tar.idx")))
if names(a) != names(b):
    print("  shard lists differ"); sys.exit(1)
for f in names(a) + [".nv-meta/.info.yaml", ".nv-meta/split.yaml", ".nv-meta/dataset.yaml", "stats/drops.jsonl"]:
    if open(os.path.join(a, f), "rb").read() != open(os.path.join(b, f), "rb").read():
        print("  differs:", f); sys.exit(1)
PY
}
# ---- fixtures: 300 distinct photo crops (JPEG, some PNG), a truncated JPEG
mkdir -p "$T/www"
$PY - "$T/www" <<'PY'
import sys
from PIL import Image
out = sys.argv[1]
photos = [Image.open(f"/usr/lib/python3/dist-packages/skimage/data/{n}").convert("RGB")
          for n in ("chelsea.png", "coffee.png", "astronaut.png")]
for i in range(300):
    p = photos[i % 3]
    x, y = (i * 7) % 150, (i * 5) % 100
    im = p.crop((x, y, x + 96 + i % 40, y + 80 + i % 30))
    if i % 10 == 3:
        im.save(f"{out}/p{i}.png")
    else:
        im.save(f"{out}/p{i}.jpg", quality=70 + i % 25)
photos[0].save(f"{out}/fault.jpg", quality=90)
data = open(f"{out}/p0.jpg", "rb").read()
open(f"{out}/corrupt.jpg", "wb").write(data[: len(data) * 2 // 3])
# the scan header names Huffman tables 3 that no DHT segment defines
sos = data.index(b"\xff\xda")
open(f"{out}/no_table.jpg", "wb").write(data[: sos + 6] + b"\x33" + data[sos + 7:])
PY

# ---- servers
NPORT=$(free_port)
NGINX_CONNECTIONS=512 nginx_run "    server {
        listen 127.0.0.1:$NPORT; root $T/www; access_log off;
        location /slow/ { alias $T/www/; limit_rate 40k; }
    }"
start_fault_server "$T/www/fault.jpg"
wait_url "http://127.0.0.1:$NPORT/p0.jpg"
FPORT=$FAULT_PORT
N=http://127.0.0.1:$NPORT F=http://127.0.0.1:$FPORT
echo "nginx on $NPORT, fault server on $FPORT"

# ---- 1. every fault, each record's reason
# records.jsonl (url, caption) + expect.tsv (ordinal, reason or "kept")
$PY - "$T" "$N" "$F" <<'PY'
import json, sys
T, N, F = sys.argv[1:]
rows = []
def add(url, caption, expect):
    r = {"caption": caption}
    if url is not None:
        r["url"] = url
    rows.append((r, expect))
for i in range(12):
    ext = "png" if i % 10 == 3 else "jpg"
    add(f"{N}/p{i}.{ext}", f"photo number {i}", "kept")
add(f"{N}/missing.jpg", "a missing file", "http_4xx")
add(f"{F}/status/404", "fault 404", "http_4xx")
add(f"{F}/status/500", "fault 500", "http_5xx")
add(f"{F}/always429/k429/3600", "429 with a long Retry-After", "http_429")
add(f"{F}/retry-after/kra/1/1", "429 then the image", "kept")
add(f"{F}/slow", "slow drip", "timeout")
add(f"{F}/truncated", "truncated body", "network")
add(f"{F}/reset", "connection reset", "network")
add(f"{F}/loop/0", "redirect loop", "redirect")
add(f"{F}/tofile", "redirect to file", "redirect")
add(f"{F}/html", "html page", "not_image")
add(f"{F}/wrongtype", "text labelled jpeg", "not_image")
add(f"{F}/huge-cl", "huge body", "too_large")
add(f"{F}/robots/noai", "opted out", "opt_out")
add(f"{N}/corrupt.jpg", "corrupt jpeg", "decode")
add(f"{N}/p0.jpg", "same photo, other caption", "dup_image")
add(f"{N}/p20.jpg", "Photo   NUMBER 1", "dup_text")
add(None, "no url at all", "missing_field")
add(f"{F}/redirect/http:||127.0.0.1:{N.rsplit(':', 1)[1]}|p21.jpg", "redirected to nginx", "kept")
for i in range(22, 40):
    add(f"{N}/p{i}.jpg" if i % 10 != 3 else f"{N}/p{i}.png", f"more photos {i}", "kept")
with open(f"{T}/records.jsonl", "w") as f:
    for r, _ in rows:
        f.write(json.dumps(r) + "\n")
with open(f"{T}/expect.tsv", "w") as f:
    for i, (_, e) in enumerate(rows):
        f.write(f"{i}\t{e}\n")
json.dump({"name": "faults", "stage": "pretrain", "task": "caption", "inputs": [{"path": "records.jsonl"}],
           "mapping": {"images": [{"url": "url"}], "text": "caption"}}, open(f"{T}/faults.json", "w"))
PY
DL=(--attempts 2 --backoff 50 --low-speed 200 --low-speed-time 1 --timeout 6000 --retry-after-max 3000
    --max-size 4000000 --shard-size 60000)
start=$SECONDS
ingest f1 "$T/faults.json" --jobs 1 "${DL[@]}"
elapsed=$((SECONDS - start))
check "fault run exits 0 (took ${elapsed}s)" "[ \$(cat $T/f1.rc) = 0 ]"
[ "$(cat "$T/f1.rc")" = 0 ] || sed -n 1,20p "$T/f1.err"
$PY - "$T/expect.tsv" "$T/f1/stats/drops.jsonl" >"$T/reasons.txt" <<'PY'
import json, sys
want = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]))
got = {}
for l in open(sys.argv[2]):
    d = json.loads(l)
    got[str(d["ordinal"])] = d["reason"]
for o, w in want.items():
    g = got.get(o, "kept")
    print(("ok  " if g == w else "BAD ") + f"record {o}: {w} (got {g})")
extra = set(got) - set(want)
print(("ok  " if not extra else "BAD ") + f"no drops for unknown ordinals {sorted(extra)}")
PY
while read -r status line; do
    if [ "$status" = ok ]; then ok "$line"; else bad "$line"; fi
done <"$T/reasons.txt"
$PY - "$T/f1" "$T/expect.tsv" >"$T/reconcile.txt" <<'PY'
import json, sys, collections
d = sys.argv[1]
s = json.load(open(f"{d}/stats/summary.json"))
g = json.load(open(f"{d}/stats/ingest.json"))
n = sum(1 for _ in open(sys.argv[2]))
want = collections.Counter(l.split("\t")[1].strip() for l in open(sys.argv[2]))
logged = collections.Counter(json.loads(l)["reason"] for l in open(f"{d}/stats/drops.jsonl"))
ok = (s["records_in"] == n == g["records_in"] and s["written"] + sum(s["dropped_by_reason"].values()) == n
      and s["written"] == want["kept"] and dict(logged) == s["dropped_by_reason"] == g["dropped_by_reason"])
print("ok" if ok else "bad", s["records_in"], s["written"], s["dropped_by_reason"], dict(logged))
PY
check "summary reconciles: records in = written + dropped by reason = drop log ($(cat "$T/reconcile.txt"))" \
    "grep -q '^ok' $T/reconcile.txt"
check "drop log lines name the URL and a message" \
    "$PY -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(not all(l[\"message\"] and (l[\"reason\"]==\"missing_field\" or l[\"urls\"]) for l in L))' $T/f1/stats/drops.jsonl"
$PY tests/reference/energon_check.py dataset "$T/f1" >"$T/f1.check" 2>&1
check "fault dataset passes energon_check.py ($(tail -n1 "$T/f1.check"))" "tail -n1 $T/f1.check | grep -q ' 0 failed'"
check "several shards were written" "[ \$(ls $T/f1/*.tar | wc -l) -ge 3 ]"

# ---- 2. --jobs 1 and --jobs 3 give byte-identical datasets
ingest f3 "$T/faults.json" --jobs 3 "${DL[@]}"
check "--jobs 3 run exits 0" "[ \$(cat $T/f3.rc) = 0 ]"
check "--jobs 1 and --jobs 3: identical shards, idx, metadata, drop log" "same_dataset f1 f3"
# Batches of 2 URLs: about twenty batches pass through the download, check
# and write stages, three in flight at a time; the bytes must not change.
ingest fb "$T/faults.json" --jobs 2 --batch-urls 2 "${DL[@]}"
check "--batch-urls 2 (many batches in flight): identical to the one-batch run" \
    "[ \$(cat $T/fb.rc) = 0 ] && same_dataset f1 fb"

# ---- 3. a re-run retries retryable drops: /flaky serves 503 twice, then the image
curl -s "$F/reset-stats" >/dev/null
printf '{"url": "%s/p50.jpg", "caption": "fifty"}\n{"url": "%s/flaky/kflaky/2/503", "caption": "flaky"}\n{"url": "%s/flaky/k404/1000/404", "caption": "gone"}\n' \
    "$N" "$F" "$F" >"$T/retry.jsonl"
$PY -c 'import json,sys; json.dump({"name": "retry", "stage": "pretrain", "task": "caption", "inputs": [{"path": "retry.jsonl"}], "mapping": {"images": [{"url": "url"}], "text": "caption"}}, open(sys.argv[1], "w"))' "$T/retry.json"
ingest r1 "$T/retry.json" --attempts 2 --backoff 10
r1=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["written"], s["dropped_by_reason"])' "$T/r1/stats/summary.json")
check "first run: the flaky URL is http_5xx ($r1)" "[ \"$r1\" = \"1 {'http_4xx': 1, 'http_5xx': 1}\" ]"
ingest r1 "$T/retry.json" --attempts 2 --backoff 10
r1=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); g=json.load(open(sys.argv[2])); print(s["records_in"], s["written"], s["dropped_by_reason"], g["pass"], g["this_run"]["retried"], g["this_run"]["recovered"])' "$T/r1/stats/summary.json" "$T/r1/stats/ingest.json")
check "re-run: the 503 record recovered, the 404 not retried ($r1)" "[ \"$r1\" = \"3 2 {'http_4xx': 1} 2 1 1\" ]"
check "re-run: the 404 URL was not requested again" \
    "[ \"\$(curl -s $F/stats | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"requests\"].get(\"k404\", 0))')\" = 1 ]"
check "re-run: drop log has a kept line for the recovered record" \
    "tail -n1 $T/r1/stats/drops.jsonl | grep -q '\"ordinal\":1,\"pass\":2,\"kept\":true'"
$PY tests/reference/energon_check.py dataset "$T/r1" >"$T/r1.check" 2>&1
check "re-run dataset passes energon_check.py" "tail -n1 $T/r1.check | grep -q ' 0 failed'"

# ---- 4. cross-run dedup index: a second dataset from the same photos keeps nothing
ingest d1 "$T/retry.json" --dedup-index "$T/index.bin" --attempts 1
ingest d2 "$T/retry.json" --dedup-index "$T/index.bin" --attempts 1
d2=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["written"], s["dropped_by_reason"].get("dup_image", 0))' "$T/d2/stats/summary.json")
check "second dataset with the saved index: every photo is dup_image ($d2)" "[ \"\${d2%% *}\" = 0 ] && [ \"\${d2##* }\" -ge 1 ]"

# ---- 5. kill -9 at random points, re-run: the same dataset as a clean run
$PY - "$T" "$N" <<'PY'
import json, sys
T, N = sys.argv[1:]
with open(f"{T}/many.jsonl", "w") as f:
    for i in range(300):
        ext = "png" if i % 10 == 3 else "jpg"
        f.write(json.dumps({"url": f"{N}/slow/p{i}.{ext}", "caption": f"caption {i % 280}"}) + "\n")
        if i % 37 == 0:
            f.write(json.dumps({"url": f"{N}/slow/nothing{i}.jpg", "caption": f"missing {i}"}) + "\n")
json.dump({"name": "many", "stage": "pretrain", "task": "caption", "inputs": [{"path": "many.jsonl"}],
           "mapping": {"images": [{"url": "url"}], "text": "caption"}}, open(f"{T}/many.json", "w"))
PY
KOPT=(--jobs 2 --shard-size 40000 --batch-urls 24 -j 8)
start=$SECONDS
ingest clean "$T/many.json" "${KOPT[@]}"
clean_s=$((SECONDS - start))
check "clean run exits 0 (${clean_s}s, $(ls "$T/clean"/*.tar | wc -l) shards)" "[ \$(cat $T/clean.rc) = 0 ]"
for k in 1 2 3; do
    rm -rf "$T/k$k"
    kills=""
    rounds="1"; [ $k = 1 ] && rounds="1 2"
    for round in $rounds; do
        # kill somewhere in the first ~90% of a clean run's time
        delay=$($PY -c "import random; print(round(random.uniform(0.05, max(0.2, $clean_s * 0.9)), 2))")
        # no `timeout` wrapper here: $! must be tessera itself for kill -9 to hit it
        "$TESSERA" -q ingest "$T/many.json" -o "$T/k$k" "${KOPT[@]}" >/dev/null 2>&1 &
        p=$!
        sleep "$delay"
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        kills="$kills ${delay}s"
    done
    ingest "k$k" "$T/many.json" "${KOPT[@]}"
    check "kill -9 at$kills, re-run exits 0" "[ \$(cat $T/k$k.rc) = 0 ]"
    check "kill -9 at$kills, re-run: identical to the clean run" "same_dataset clean k$k"
done
$PY tests/reference/energon_check.py dataset "$T/k1" >"$T/k1.check" 2>&1
check "resumed dataset passes energon_check.py" "tail -n1 $T/k1.check | grep -q ' 0 failed'"
s1=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["records_in"], s["written"], s["dropped_by_reason"])' "$T/clean/stats/summary.json")
s2=$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["records_in"], s["written"], s["dropped_by_reason"])' "$T/k1/stats/summary.json")
check "resumed summary counts equal the clean run's ($s2)" "[ \"$s1\" = \"$s2\" ]"

# ---- 6. --image-check structure: JPEGs get a marker walk, not a decode
printf '{"url": "%s/p1.jpg", "caption": "one"}\n{"url": "%s/corrupt.jpg", "caption": "cut"}\n{"url": "%s/no_table.jpg", "caption": "tables"}\n{"url": "%s/p3.png", "caption": "png"}\n' \
    "$N" "$N" "$N" "$N" >"$T/modes.jsonl"
$PY -c 'import json,sys; json.dump({"name": "modes", "stage": "pretrain", "task": "caption", "inputs": [{"path": "modes.jsonl"}], "mapping": {"images": [{"url": "url"}], "text": "caption"}}, open(sys.argv[1], "w"))' "$T/modes.json"
reasons() { $PY -c 'import json,sys; d={json.loads(l)["ordinal"]: json.loads(l)["reason"] for l in open(sys.argv[1])}; print(" ".join(d.get(i, "kept") for i in range(4)))' "$T/$1/stats/drops.jsonl"; }
ingest md "$T/modes.json"
ingest ms "$T/modes.json" --image-check structure
check "default check (decode): truncated JPEG and one with an undefined table dropped ($(reasons md))" \
    "[ \"\$(reasons md)\" = 'kept decode decode kept' ]"
check "--image-check structure: the truncated JPEG dropped, the undefined table not seen ($(reasons ms))" \
    "[ \"\$(reasons ms)\" = 'kept decode kept kept' ]"
ingest mx "$T/modes.json" --image-check pixels
check "--image-check with an unknown mode: exit 2" "[ \$(cat $T/mx.rc) = 2 ]"

# ---- 7. a manifest the pipeline cannot use fails cleanly, and another manifest is refused on DIR
echo '{"name": "x"}' >"$T/bad.json"
ingest bad "$T/bad.json"
check "bad manifest: exit 3 with a message" "[ \$(cat $T/bad.rc) = 3 ] && [ -s $T/bad.err ]"
timeout 60 "$TESSERA" -q ingest "$T/retry.json" -o "$T/clean" >/dev/null 2>"$T/other.err"
other_rc=$?
check "another manifest on an existing dataset: exit 3" "[ $other_rc = 3 ] && grep -q 'another manifest' $T/other.err"

finish
