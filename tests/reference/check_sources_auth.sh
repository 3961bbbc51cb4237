#!/usr/bin/env bash
# Gated sources ("auth" in a manifest, docs/MANIFESTS.md) against the real
# loopback fault server (tests/reference/fault_server.py), which accepts one
# bearer token on /auth and records every Authorization header that reaches
# /auth, /authredirect and /open:
#  - the token from the named environment variable is sent and accepted;
#  - absent or empty variable: an error naming it, and no request at all;
#  - a wrong token or no "auth": 401 -> http_4xx error;
#  - a redirect to another host name or port (a CDN) gets no token, the same
#    host and port keeps it (libcurl's own rule, CURLOPT_UNRESTRICTED_AUTH off);
#  - the records' image URLs never carry it, even on the source's own host;
#  - the token appears in no output, cache, dataset file or stderr.
# KEEP=1 leaves the scratch folder for a look.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=$(make_tmp sources_auth)
OUT=$T/out # everything tessera writes; searched for the token at the end
mkdir -p "$T/files" "$OUT"
TOKEN="hf_tsAuthCheck$$x${RANDOM}Q"
LAION=part-00000-339dc23d-0869-4dc0-9390-b4036fcc80c2-c000.snappy.parquet
cp "tests/fixtures/sources/laion_relaion2b/$LAION" "$T/files/"
$PY - "$T/files" <<'PY'
import sys
from PIL import Image
Image.new("RGB", (24, 16), (200, 40, 10)).save(sys.argv[1] + "/img.jpg", quality=90)
PY

FAULT_BEARER=$TOKEN FAULT_FILES=$T/files start_fault_server "$T/files/img.jpg"
P1=$FAULT_PORT
FAULT_BEARER=$TOKEN FAULT_FILES=$T/files start_fault_server "$T/files/img.jpg"
P2=$FAULT_PORT
F=http://127.0.0.1:$P1
# seen PORT KEY: the Authorization headers that server recorded for KEY, as a
# JSON list with the token replaced by TOKEN (so nothing below holds it)
seen() {
    curl -s "http://127.0.0.1:$1/stats" |
        $PY -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["auth"].get(sys.argv[1])).replace(sys.argv[2], "TOKEN"))' "$2" "$TOKEN"
}

# manifest NAME URL [auth hosts JSON]: a LAION-shaped manifest at $T/NAME.json
manifest() {
    $PY - "$T/$1.json" "$2" "${3:-}" <<'PY'
import json, sys
path, url, hosts = sys.argv[1:4]
m = {"name": "gated", "stage": "pretrain", "task": "caption",
     "inputs": [{"url": url, "format": "parquet"}],
     "mapping": {"images": [{"url": "url"}], "text": "caption"}}
if hosts:
    m["auth"] = {"bearer_env": "HF_TOKEN", "hosts": json.loads(hosts)}
json.dump(m, open(path, "w"))
PY
}
# src NAME [env assignments]: tessera source on $T/NAME.json into $OUT/NAME.*
src() {
    local name=$1; shift
    env -u HF_TOKEN "$@" timeout 60 "$TESSERA" source "$T/$name.json" --cache "$OUT/cache_$name" \
        >"$OUT/$name.out" 2>"$OUT/$name.err"
    echo $? >"$OUT/$name.rc"
}
# The records a run printed: drop reason, or key, text and image URLs.
records() {
    $PY -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l); s = r.get("sample", {})
    print(json.dumps([r.get("drop"), s.get("key"), s.get("text"), r.get("image_urls")]))' "$1"
}
"$TESSERA" source manifests/sources/laion_relaion2b.json --local >"$OUT/local.out" 2>"$OUT/local.err"
records "$OUT/local.out" >"$T/want"
same_as_local() { [ "$(cat "$OUT/$1.rc")" = 0 ] && records "$OUT/$1.out" | cmp -s - "$T/want"; }

# ---- 1. the token is sent and accepted
manifest ok "$F/auth/ok/$LAION" '["127.0.0.1"]'
src ok HF_TOKEN="$TOKEN"
check "token from HF_TOKEN accepted: the records equal the local copy's" "same_as_local ok"
check "the server got 'Bearer <token>' once" "[ '$(seen "$P1" ok)' = '[\"Bearer TOKEN\"]' ]"
src ok # cached now: no token needed, no request
check "a cached input needs no token and makes no request" \
    "same_as_local ok && [ '$(seen "$P1" ok)' = '[\"Bearer TOKEN\"]' ]"

# ---- 2. missing or empty variable: a clear error, no unauthenticated fetch
manifest missing "$F/auth/missing/$LAION" '["127.0.0.1"]'
src missing
check "unset HF_TOKEN: fails naming the variable" \
    "[ \$(cat $OUT/missing.rc) != 0 ] && grep -q 'set the environment variable HF_TOKEN' $OUT/missing.err"
src missing HF_TOKEN=
check "empty HF_TOKEN: fails saying it is empty" \
    "[ \$(cat $OUT/missing.rc) != 0 ] && grep -q 'HF_TOKEN.*it is empty' $OUT/missing.err"
src missing HF_TOKEN="$TOKEN
X-Injected: 1"
check "a token with a line break is refused before any request" \
    "[ \$(cat $OUT/missing.rc) != 0 ] && grep -q 'does not hold a bearer token' $OUT/missing.err"
check "no request reached the server without a token" "[ '$(seen "$P1" missing)' = null ]"

# ---- 3. wrong token, or no "auth": 401 -> http_4xx
manifest wrong "$F/auth/wrong/$LAION" '["127.0.0.1"]'
src wrong HF_TOKEN=hf_not_the_token
check "wrong token: http_4xx, HTTP 401, the token refused" \
    "[ \$(cat $OUT/wrong.rc) != 0 ] && grep -q 'http_4xx: HTTP 401: the server refused the bearer token' $OUT/wrong.err"
check "wrong token: sent once (4xx is not retried)" "[ '$(seen "$P1" wrong)' = '[\"Bearer hf_not_the_token\"]' ]"
check "wrong token: the error names the variable" "grep -q 'bearer token from \$HF_TOKEN' $OUT/wrong.err"
manifest noauth "$F/auth/noauth/$LAION"
src noauth HF_TOKEN="$TOKEN"
check "no \"auth\" in the manifest: no token sent, even with HF_TOKEN set" "[ '$(seen "$P1" noauth)' = '[null]' ]"
check "no \"auth\": http_4xx, the server wants authorization" \
    "[ \$(cat $OUT/noauth.rc) != 0 ] && grep -q 'http_4xx: HTTP 401: the server wants authorization' $OUT/noauth.err"

# ---- 4. redirects: another host name or port gets no token; the same keeps it
manifest cdn_name "$F/authredirect/r1/http:||localhost:$P1|open|cdn1|$LAION" '["127.0.0.1"]'
src cdn_name HF_TOKEN="$TOKEN"
check "redirect to localhost (same port, other name): download works" "same_as_local cdn_name"
check "the source host got the token" "[ '$(seen "$P1" r1)' = '[\"Bearer TOKEN\"]' ]"
check "the other host name got no Authorization" "[ '$(seen "$P1" cdn1)' = '[null]' ]"
manifest cdn_port "$F/authredirect/r2/http:||127.0.0.1:$P2|open|cdn2|$LAION" '["127.0.0.1"]'
src cdn_port HF_TOKEN="$TOKEN"
check "redirect to 127.0.0.1:other port: download works, no Authorization there" \
    "same_as_local cdn_port && [ '$(seen "$P2" cdn2)' = '[null]' ]"
manifest same "$F/authredirect/r3/http:||127.0.0.1:$P1|auth|r3b|$LAION" '["127.0.0.1"]'
src same HF_TOKEN="$TOKEN"
check "control: a redirect on the same host and port keeps the token (the recorder sees it)" \
    "same_as_local same && [ '$(seen "$P1" r3b)' = '[\"Bearer TOKEN\"]' ]"

# ---- 5. ingest: image URLs on the source's own host get no token
$PY - "$T/files/images.jsonl" "$F" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"url": sys.argv[2] + "/open/img1/img", "caption": "an open image"}) + "\n")
    f.write(json.dumps({"url": sys.argv[2] + "/auth/img2/img", "caption": "an image behind the token"}) + "\n")
PY
$PY - "$T/ing.json" "$F/auth/ing/images.jsonl" <<'PY'
import json, sys
json.dump({"name": "gated_ingest", "stage": "pretrain", "task": "caption",
           "inputs": [{"url": sys.argv[2], "format": "jsonl"}],
           "auth": {"bearer_env": "HF_TOKEN", "hosts": ["127.0.0.1"]},
           "mapping": {"images": [{"url": "url"}], "text": "caption"}}, open(sys.argv[1], "w"))
PY
env HF_TOKEN="$TOKEN" timeout 120 "$TESSERA" ingest "$T/ing.json" -o "$OUT/ds" --jobs 1 --attempts 1 \
    >"$OUT/ing.out" 2>"$OUT/ing.err"
echo $? >"$OUT/ing.rc"
check "ingest of the gated source finishes" "[ \$(cat $OUT/ing.rc) = 0 ]"
check "ingest: the records input went with the token" "[ '$(seen "$P1" ing)' = '[\"Bearer TOKEN\"]' ]"
check "ingest: image URLs on the same host got no Authorization" \
    "[ '$(seen "$P1" img1)' = '[null]' ] && [ '$(seen "$P1" img2)' = '[null]' ]"
check "ingest: the image behind the token is an http_4xx drop" \
    "grep -q 'http_4xx' $OUT/ds/stats/drops.jsonl && [ \$(wc -l <$OUT/ds/stats/drops.jsonl) = 1 ]"

# ---- 6. the token is nowhere: outputs, stderr, caches, journal, drops, dataset
check "the token appears in no file tessera wrote ($(find "$OUT" -type f | wc -l) files)" \
    "! grep -rqF -- '$TOKEN' '$OUT'"
[ -n "${KEEP:-}" ] || rm -rf "$T"
finish
