#!/usr/bin/env bash
# Every manifest in manifests/sources, read from its local test copy by
# `tessera source --local`, against an independent Python mapping of the same
# raw files (sources_ref.py: json, zipfile, DuckDB, Pillow); then a zip64
# archive of 70,000 members written by Python's zipfile, read by member name.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
TMP=${TS_TEST_TMP:-/tmp}/check_sources.$$
mkdir -p "$TMP"

# tessera's lines reduced to the fields the reference states
reduce='import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if "drop" in r:
        print(json.dumps({"drop": r["drop"]}, ensure_ascii=False)); continue
    s = r["sample"]
    print(json.dumps({"key": s["key"], "turns": s["turns"], "text": s.get("text"), "answers": s["answers"],
                      "image_urls": r["image_urls"],
                      "images": [{k: i[k] for k in ("media_type", "width", "height", "size")} for i in s["images"]]},
                     ensure_ascii=False))'
compare='import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
if len(a) != len(b): sys.exit("%d records, reference %d" % (len(a), len(b)))
for i, (x, y) in enumerate(zip(a, b)):
    for r in (x, y):
        for ans in r.get("answers", []): ans["weight"] = round(ans["weight"], 12)
    if x != y: sys.exit("record %d:\n  tessera   %s\n  reference %s" % (i, x, y))'

for m in manifests/sources/*.json; do
    name=$(basename "$m" .json)
    if ! "$TESSERA" source "$m" --local >"$TMP/$name.out" 2>"$TMP/$name.err"; then
        bad "$name: tessera source failed: $(tail -n 3 "$TMP/$name.err")"; continue
    fi
    /usr/bin/python3 -c "$reduce" <"$TMP/$name.out" >"$TMP/$name.got"
    if ! /usr/bin/python3 tests/reference/sources_ref.py "$name" tests/fixtures/sources >"$TMP/$name.want" 2>"$TMP/$name.referr"; then
        bad "$name: reference failed: $(tail -n 3 "$TMP/$name.referr")"; continue
    fi
    ordinals=$(/usr/bin/python3 -c 'import json,sys; print(all(json.loads(l)["ordinal"] == i for i, l in enumerate(open(sys.argv[1]))))' "$TMP/$name.out")
    if [ "$ordinals" != True ]; then bad "$name: ordinals are not 0, 1, 2, ..."; continue; fi
    if msg=$(/usr/bin/python3 -c "$compare" "$TMP/$name.got" "$TMP/$name.want" 2>&1); then
        ok "$name: $(wc -l <"$TMP/$name.got") records ($(grep -c '"drop"' "$TMP/$name.got") dropped) match the reference"
    else
        bad "$name: $msg"
    fi
done

# Public inputs over HTTP (Python's http.server on the fixtures): download
# into the cache, extract zip members, map; the same samples as --local. A
# second run finds everything cached (the server is gone by then).
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory tests/fixtures/sources >"$TMP/http.log" 2>&1 &
server=$!
for _ in $(seq 50); do /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
/usr/bin/python3 - "$TMP" "$port" <<'PY'
import json, sys
tmp, port = sys.argv[1], sys.argv[2]
for name in ("vqav2", "coco_captions_2017"):
    m = json.load(open("manifests/sources/%s.json" % name))
    for pub, loc in zip(m["inputs"], m["local"]):
        pub["url"] = "http://127.0.0.1:%s/%s" % (port, loc["path"].split("tests/fixtures/sources/")[1])
    m.pop("local")
    json.dump(m, open("%s/http_%s.json" % (tmp, name), "w"))
PY
for name in vqav2 coco_captions_2017; do
    if "$TESSERA" source "$TMP/http_$name.json" --cache "$TMP/cache" >"$TMP/http_$name.out" 2>"$TMP/http_$name.err" &&
        cmp -s "$TMP/http_$name.out" "$TMP/$name.out"; then
        ok "$name: public inputs downloaded over HTTP into the cache map as the local copy does"
    else
        bad "$name over HTTP: $(tail -n 3 "$TMP/http_$name.err")"
    fi
done
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
if "$TESSERA" source "$TMP/http_vqav2.json" --cache "$TMP/cache" >"$TMP/http_again.out" 2>"$TMP/http_again.err" &&
    cmp -s "$TMP/http_again.out" "$TMP/vqav2.out"; then
    ok "vqav2: a second run reads the cache without the server"
else
    bad "vqav2 from the cache: $(tail -n 3 "$TMP/http_again.err")"
fi

# zip64: more than 65535 members makes zipfile write the zip64 end records
/usr/bin/python3 - "$TMP" <<'PY'
import io, json, os, sys, zipfile
from PIL import Image
tmp = sys.argv[1]
def gif(i):
    b = io.BytesIO(); Image.new("P", (1 + i % 7, 1 + i % 5)).save(b, "GIF"); return b.getvalue()
pick = [0, 1, 65535, 65536, 69999]
with zipfile.ZipFile(os.path.join(tmp, "big.zip"), "w", zipfile.ZIP_STORED) as z:
    small = gif(0)
    for i in range(70000):
        data = gif(i) if i in pick else small
        z.writestr("d/%05d.gif" % i, data, zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
with open(os.path.join(tmp, "big.jsonl"), "w") as f:
    for i in pick: f.write(json.dumps({"m": "d/%05d.gif" % i, "c": "member %d" % i}) + "\n")
    f.write(json.dumps({"m": "d/70000.gif", "c": "absent"}) + "\n")
with open(os.path.join(tmp, "big.want"), "w") as f:
    with zipfile.ZipFile(os.path.join(tmp, "big.zip")) as z:
        for i in pick:
            im = Image.open(io.BytesIO(z.read("d/%05d.gif" % i)))
            f.write(json.dumps([im.width, im.height, len(z.read("d/%05d.gif" % i))]) + "\n")
    f.write("\"bad_image_ref\"\n")
json.dump({"name": "zip64", "stage": "pretrain", "task": "caption",
           "inputs": [{"path": "big.jsonl"}, {"name": "big", "role": "images", "path": "big.zip"}],
           "mapping": {"images": [{"member": "m", "archive": "big"}], "text": "c"}},
          open(os.path.join(tmp, "big.json"), "w"))
PY
if "$TESSERA" source "$TMP/big.json" >"$TMP/big.out" 2>"$TMP/big.err"; then
    /usr/bin/python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if "drop" in r: print(json.dumps(r["drop"])); continue
    i = r["sample"]["images"][0]; print(json.dumps([i["width"], i["height"], i["size"]]))' <"$TMP/big.out" >"$TMP/big.got"
    if cmp -s "$TMP/big.got" "$TMP/big.want"; then ok "zip64 archive of 70000 members (zipfile): members read by name"
    else bad "zip64: $(diff "$TMP/big.got" "$TMP/big.want" | head -5)"; fi
else
    bad "zip64: $(tail -n 3 "$TMP/big.err")"
fi
rm -rf "$TMP"
finish
