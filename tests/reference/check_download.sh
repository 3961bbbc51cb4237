#!/usr/bin/env bash
# `tessera fetch` against real servers on loopback: nginx (fixtures, Range)
# and tests/reference/fault_server.py (404, 500, 429 + Retry-After, 503 then
# success, slow drip, truncated body, reset, redirect loop, redirect to
# file://, non-images, huge bodies, X-Robots-Tag, concurrency limits).
# Bodies are compared with the served files and with what curl fetches.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=$(make_tmp download)
# fetch NAME [options] URLS: runs tessera fetch (never more than 40 s) into
# $T/NAME.jsonl, flattened to $T/NAME.tsv (index, key, value) for `field`
fetch() {
    local name=$1; shift
    timeout 40 "$TESSERA" fetch "$@" >"$T/$name.jsonl" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
    $PY -c 'import json,sys
with open(sys.argv[2], "w") as out:
    for l in open(sys.argv[1]):
        r = json.loads(l)
        for k, v in r.items():
            out.write("%s\t%s\t%s\n" % (r.get("index", 0), k, str(v).replace("\t", " ").replace("\n", " ")))' "$T/$name.jsonl" "$T/$name.tsv"
}
# field NAME INDEX KEY: one field of the JSON line with that index
field() { awk -F'\t' -v i="$2" -v k="$3" '$1 == i && $2 == k { print $3; exit }' "$T/$1.tsv"; }
# ---- fixtures: real photos as JPEG/PNG/WebP/GIF, a truncated JPEG, a 6 MB file
mkdir -p "$T/www"
$PY - "$T/www" <<'PY'
import os, sys
from PIL import Image
out = sys.argv[1]
src = Image.open("/usr/lib/python3/dist-packages/skimage/data/chelsea.png").convert("RGB")
src.save(f"{out}/cat.jpg", quality=85)
src.resize((200, 150)).save(f"{out}/small.png")
src.resize((300, 200)).save(f"{out}/cat.webp", quality=80)
src.resize((120, 80)).convert("P").save(f"{out}/cat.gif")
open(f"{out}/broken.jpg", "wb").write(open(f"{out}/cat.jpg", "rb").read()[:3000])
open(f"{out}/big.bin", "wb").write(os.urandom(6 << 20))
PY

# ---- nginx (Range on, its default for static files) and the fault server
start_nginx "$T/www"
start_fault_server "$T/www/cat.jpg"
NPORT=$NGINX_PORT FPORT=$FAULT_PORT
N=http://127.0.0.1:$NPORT F=http://127.0.0.1:$FPORT
stats() { curl -s "$F/stats" | $PY -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
echo "nginx on $NPORT, fault server on $FPORT"

# ---- 1. normal files over http and file://: identical to the files and to curl
printf '%s\n' "$N/cat.jpg" "$N/small.png" "$N/cat.webp" "$N/cat.gif" \
    "file://$T/www/cat.jpg" "file://$T/www/small.png" "$N/missing.jpg" >"$T/plain.txt"
fetch plain -o "$T/plain" "$T/plain.txt"
i=0
for f in cat.jpg small.png cat.webp cat.gif cat.jpg small.png; do
    ext=${f##*.}; [ "$ext" = jpg ] || true
    got=$(ls "$T/plain/$(printf %09d $i)".* 2>/dev/null | head -n1)
    check "http/file fetch $i ($f) equals the served file" "[ -n '$got' ] && cmp -s '$got' '$T/www/$f'"
    i=$((i + 1))
done
curl -s -o "$T/curl_cat.webp" -w '%{content_type}' "$N/cat.webp" >"$T/curl_ct"
check "webp body equals curl's" "cmp -s '$T/plain/000000002.webp' '$T/curl_cat.webp'"
check "content type equals curl's" "[ \"\$(field plain 2 content_type)\" = \"\$(cat $T/curl_ct)\" ]"
check "nginx 404 -> http_4xx, 1 attempt" "[ \"\$(field plain 6 outcome)/\$(field plain 6 attempts)\" = http_4xx/1 ]"
check "exit status 1 when some URL failed" "[ \$(cat $T/plain.rc) = 1 ]"

# ---- 2. every fault in one run (ordered output, retries with short backoff)
cat >"$T/faults.txt" <<URLS
$F/status/404
$F/status/500
$F/flaky/k503/2/503
$F/retry-after/kra/1/1
$F/always429/k429/1
$F/always429/kcap/3600
$F/slow
$F/truncated
$F/reset
$F/loop/0
$F/tofile
$F/html
$F/wrongtype
$F/huge-cl
$F/robots/noai
$F/robots/otherbot
$F/robots/noarchive
$F/robots/none
$F/redirect/http:||127.0.0.1:$NPORT|cat.jpg
$N/broken.jpg
$F/img/ok
URLS
start=$SECONDS
fetch faults --attempts 3 --backoff 100 --low-speed 200 --low-speed-time 2 --timeout 8000 \
    --retry-after-max 5000 --decode "$T/faults.txt"
elapsed=$((SECONDS - start))
mapfile -t FAULT_URLS <"$T/faults.txt"
expect() { # index outcome [attempts]
    local got want=$2${3:+/$3}
    got=$(awk -F'\t' -v i="$1" -v a="${3:+1}" '$1 == i && $2 == "outcome" { o = $3 }
        $1 == i && $2 == "attempts" { n = $3 } END { print a ? o "/" n : o }' "$T/faults.tsv")
    local label=${FAULT_URLS[$1]#"$F"}
    check "${label#"$N"} -> $want (got $got)" "[ '$got' = '$want' ]"
}
expect 0 http_4xx 1
expect 1 http_5xx 3
expect 2 ok 3
expect 3 ok 2
expect 4 http_429 3
expect 5 http_429 1
expect 6 timeout
expect 7 network 3
expect 8 network 3
expect 9 redirect 1
expect 10 redirect 1
expect 11 not_image
expect 12 not_image
expect 13 too_large
expect 14 opt_out
expect 15 opt_out
expect 16 ok
expect 17 opt_out
expect 18 ok
expect 19 decode
expect 20 ok
check "Retry-After 1 s was waited for" "[ \"\$(stats 'round(s[\"times\"][\"kra\"][1] - s[\"times\"][\"kra\"][0], 2)' | $PY -c 'import sys; print(float(sys.stdin.read()) >= 0.95)')\" = True ]"
check "Retry-After above the cap: no retry" "[ \"\$(stats 's[\"requests\"][\"kcap\"]')\" = 1 ]"
check "slow drip ended by the low-speed limit, not the 40 s cap" "[ \"\$(field faults 6 seconds | cut -d. -f1)\" -lt 30 ]"
check "redirect followed to the final URL" "[ \"\$(field faults 18 final_url)\" = '$N/cat.jpg' ]"
check "redirect to file:// refused, message names the protocol" "field faults 10 message | grep -qi protocol"
check "one line per URL, in input order" "[ \"\$($PY -c 'import json,sys; print([json.loads(l)[\"index\"] for l in open(sys.argv[1])] == list(range(21)))' $T/faults.jsonl)\" = True ]"
check "the fault run finished in under 30 s (took ${elapsed}s)" "[ $elapsed -lt 30 ]"

# ---- 3. huge streamed body: aborted early, and the server saw the disconnect
curl -s "$F/reset-stats" >/dev/null
echo "$F/huge" >"$T/huge.txt"
fetch huge --max-size 1000000 "$T/huge.txt"
check "endless body -> too_large" "[ \"\$(field huge 0 outcome)\" = too_large ]"
for _ in $(seq 100); do [ "$(stats 's["huge_disconnected"]')" = True ] && break; sleep 0.1; done
check "server saw the disconnect after < 8 MB" "[ \"\$(stats 's[\"huge_disconnected\"] and s[\"huge_sent\"] < 8000000')\" = True ]"

# ---- 4. robots configurable
printf '%s\n' "$F/robots/noai" "$F/robots/otherbot" "$F/robots/tessera" >"$T/robots.txt"
fetch robots_off --no-robots "$T/robots.txt"
check "--no-robots keeps opted-out images" "[ \"\$(field robots_off 0 outcome)\" = ok ]"
fetch robots_tok --robots-token tessera "$T/robots.txt"
check "--robots-token: other bots' directives ignored, ours honoured" \
    "[ \"\$(field robots_tok 1 outcome)/\$(field robots_tok 2 outcome)/\$(field robots_tok 0 outcome)\" = ok/opt_out/opt_out ]"

# ---- 5. concurrency limits, counted by the server
for i in $(seq 24); do echo "$F/conc/$i"; done >"$T/conc.txt"
curl -s "$F/reset-stats" >/dev/null
fetch perhost -j 32 --per-host 3 --unordered "$T/conc.txt"
mx=$(stats 's["max_inflight"]')
check "per-host limit 3: server saw $mx at once" "[ $mx -le 3 ] && [ $mx -ge 2 ]"
check "unordered: 24 lines, each index once" "[ \"\$($PY -c 'import json,sys; print(sorted(json.loads(l)[\"index\"] for l in open(sys.argv[1])) == list(range(24)))' $T/perhost.jsonl)\" = True ]"
curl -s "$F/reset-stats" >/dev/null
fetch total -j 5 --per-host 100 "$T/conc.txt"
mx=$(stats 's["max_inflight"]')
check "total limit 5: server saw $mx at once" "[ $mx -le 5 ] && [ $mx -ge 3 ]"

# ---- 6. resumable large file with Range, checked against size and sha256
SHA=$(sha256sum "$T/www/big.bin" | cut -d' ' -f1)
SIZE=$(stat -c %s "$T/www/big.bin")
head -c 2000000 "$T/www/big.bin" >"$T/big.out.part"
fetch big --file "$N/big.bin" -o "$T/big.out" --size "$SIZE" --sha256 "$SHA"
check "resumed file equals the original" "[ \$(cat $T/big.rc) = 0 ] && cmp -s '$T/big.out' '$T/www/big.bin' && [ ! -e '$T/big.out.part' ]"
check "nginx served a 206 Partial Content" "grep -q '\"GET /big.bin HTTP/1.1\" 206' '$T/nginx/logs/access.log'"
head -c 3000000 /dev/urandom >"$T/big2.part"
fetch big2 --file "$N/big.bin" -o "$T/big2" --size "$SIZE" --sha256 "$SHA"
check "stale .part: restarted from zero, then correct" "[ \$(cat $T/big2.rc) = 0 ] && cmp -s '$T/big2' '$T/www/big.bin'"
fetch big3 --file "$N/big.bin" -o "$T/big3" --sha256 "$(printf '0%.0s' $(seq 64))"
check "wrong sha256 -> checksum, no file left" "[ \$(cat $T/big3.rc) = 1 ] && grep -q checksum '$T/big3.jsonl' && [ ! -e '$T/big3' ] && [ ! -e '$T/big3.part' ]"

# ---- 7. journal: a re-run skips what is settled and retries only retryable failures
printf '%s\n' "$N/cat.jpg" "$F/status/404" "$F/status/503" "$F/html" >"$T/journal.txt"
fetch j1 --attempts 1 --journal "$T/journal.jsonl" "$T/journal.txt"
fetch j2 --attempts 1 --journal "$T/journal.jsonl" "$T/journal.txt"
check "first run: 4 lines" "[ \$(wc -l <'$T/j1.jsonl') = 4 ]"
check "re-run fetched only the 503" "[ \$(wc -l <'$T/j2.jsonl') = 1 ] && [ \"\$(field j2 2 outcome)\" = http_5xx ]"
check "journal holds 5 entries" "[ \$(wc -l <'$T/journal.jsonl') = 5 ]"

# ---- 8. no input crashes it: garbage URLs and an empty list
printf '%s\n' "" "# comment" "not a url" "http://" "ftp://127.0.0.1/x" "http://[::1" "file:///nonexistent/x.jpg" \
    "http://127.0.0.1:1/refused" "$F/$(head -c 3000 /dev/zero | tr '\0' a)" >"$T/garbage.txt"
fetch garbage "$T/garbage.txt"
check "garbage list: one line per URL, exit 1" "[ \$(wc -l <'$T/garbage.jsonl') = 7 ] && [ \$(cat $T/garbage.rc) = 1 ]"
: >"$T/empty.txt"
fetch empty "$T/empty.txt"
check "empty list: no lines, exit 0" "[ ! -s '$T/empty.jsonl' ] && [ \$(cat $T/empty.rc) = 0 ]"

# ---- 9. kill -9 mid-run, then a re-run with the journal: every URL settled, no partial file
for i in $(seq 40); do echo "$F/conc/k$i"; done >"$T/kill.txt"
# Killed once the journal holds a line (each URL takes 0.3 s, 4 at a time: the
# run needs 3 s), not after a fixed delay that a loaded machine may not reach.
"$TESSERA" fetch -j 4 --journal "$T/kill.journal" -o "$T/kill" "$T/kill.txt" >/dev/null 2>&1 &
kill_pid=$!
for _ in $(seq 300); do
    [ -s "$T/kill.journal" ] && break
    sleep 0.1
done
kill -9 "$kill_pid" 2>/dev/null
wait "$kill_pid" 2>/dev/null
n1=$(wc -l <"$T/kill.journal")
fetch kill2 -j 8 --journal "$T/kill.journal" -o "$T/kill" "$T/kill.txt"
n2=$(wc -l <"$T/kill2.jsonl")
check "killed run journaled $n1 of 40, the re-run fetched the other $n2" "[ $n1 -lt 40 ] && [ $((n1 + n2)) = 40 ] && [ \$(cat $T/kill2.rc) = 0 ]"
check "40 whole files, no temporary left" "[ \$(ls '$T/kill' | grep -c '\.jpg\$') = 40 ] && ! ls '$T/kill' | grep -q tmp && for f in '$T'/kill/*.jpg; do cmp -s \"\$f\" '$T/www/cat.jpg' || exit 1; done"
check "journal: 40 lines, each URL once" "[ \$(wc -l <'$T/kill.journal') = 40 ] && [ \$(cut -d, -f1 '$T/kill.journal' | sort -u | wc -l) = 40 ]"

finish
