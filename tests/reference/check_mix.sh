#!/usr/bin/env bash
# `tessera mix` against an independent reader (tests/reference/mix_check.py:
# the .tsmix layout, the planning rules and the keyed permutation re-derived
# from docs/MIXING.md in Python/numpy, the metadataset YAML read by PyYAML):
# plan validity (every item once, per-source counts, epochs, stable partial
# epochs, the documented order, even spread), byte-determinism across thread
# counts, --dump, --check, the Energon blend with and without counts, token
# targets, the NVLM recipes, and negative controls.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
CHECK="/usr/bin/python3 $PWD/tests/reference/mix_check.py"
T=${TS_TEST_TMP:-/tmp}/mix
rm -rf "$T" && mkdir -p "$T"
checker() { run_checker 20 "checker $*" $CHECK "$@"; }
R=manifests/recipes/demo.json
cat >"$T/counts.json" <<'J'
{"coco_captions_2017": {"samples": 2000, "tokens": 61000}, "vqav2": 7001, "ocr_vqa": {"samples": 100003},
 "gsm8k": 7473, "not_in_recipe": 3}
J

# Plan, twice on 1 and 2 threads: same bytes; the checker verifies everything.
$TESSERA mix $R --counts "$T/counts.json" -o "$T/a.tsmix" --threads 1 >"$T/a.jsonl" 2>"$T/err" &&
    $TESSERA mix $R --counts "$T/counts.json" -o "$T/b.tsmix" --threads 2 >/dev/null 2>>"$T/err" &&
    ok "plans written" || { bad "tessera mix failed: $(cat "$T/err")"; }
cmp -s "$T/a.tsmix" "$T/b.tsmix" && ok "byte-identical plan on 1 and 2 threads" || bad "plans differ across threads"
checker plan "$T/a.tsmix" $R "$T/counts.json"
tail -n 1 "$T/a.jsonl" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["items"]==10000 and d["target_kind"]=="samples" else 1)' &&
    ok "summary line" || bad "summary line: $(tail -n 1 "$T/a.jsonl")"

# Another seed: another order, same counts; the same seed again: same bytes.
$TESSERA mix $R --counts "$T/counts.json" -o "$T/s.tsmix" --seed 7 >/dev/null 2>&1
cmp -s "$T/a.tsmix" "$T/s.tsmix" && bad "--seed did not change the plan" || ok "--seed changes the order"
checker plan "$T/s.tsmix" $R "$T/counts.json" --seed 7

# --dump against the binary.
$TESSERA mix --dump "$T/a.tsmix" --limit 3000 >"$T/dump.jsonl" && ok "--dump" || bad "--dump failed"
checker dump "$T/a.tsmix" "$T/dump.jsonl"

# Growing a target adds records: gsm8k 500 -> 900 keeps the first 500's records.
sed 's/"samples": 500/"samples": 900/' $R >"$T/demo_big.json"
sed -i 's#"\.\./sources/#"../../manifests/sources/#g' "$T/demo_big.json"
$TESSERA mix "$T/demo_big.json" --counts "$T/counts.json" -o "$T/big.tsmix" >/dev/null 2>&1
$TESSERA mix --dump "$T/big.tsmix" >"$T/big.jsonl"
$TESSERA mix --dump "$T/a.tsmix" >"$T/a_all.jsonl"
/usr/bin/python3 - "$T/a_all.jsonl" "$T/big.jsonl" <<'P' && ok "growing a target keeps the selected records" || bad "selection not stable"
import json, sys
def recs(p):
    return {(d["epoch"], d["record"]) for d in map(json.loads, open(p)) if d.get("source_id") == 3 and "i" in d}
a, b = recs(sys.argv[1]), recs(sys.argv[2])
sys.exit(0 if len(a) == 500 and len(b) == 900 and a <= b else 1)
P

# Token targets.
cat >"$T/tok.json" <<'J'
{"name": "tok", "stage": "pretrain", "seed": 5, "target": {"tokens": 2000000},
 "sources": [{"name": "a", "manifest": "a.json", "weight": 2},
             {"name": "b", "manifest": "b.json", "weight": 1, "max_epochs": 1},
             {"name": "c", "manifest": "c.json", "tokens": 100000}]}
J
cat >"$T/tokc.json" <<'J'
{"a": {"samples": 9000, "tokens": 900000}, "b": {"samples": 1000, "tokens": 500000}, "c": {"samples": 50, "tokens": 25000}}
J
$TESSERA mix "$T/tok.json" --counts "$T/tokc.json" -o "$T/tok.tsmix" >/dev/null 2>&1 && ok "token-target plan" || bad "token plan failed"
checker plan "$T/tok.tsmix" "$T/tok.json" "$T/tokc.json"

# --check: one manifest present, one naming another source, the rest missing.
mkdir -p "$T/rec/recipes" "$T/rec/sources"
cp $R "$T/rec/recipes/demo.json"
echo '{"name": "vqav2"}' >"$T/rec/sources/vqav2.json"
echo '{"name": "other"}' >"$T/rec/sources/gsm8k.json"
$TESSERA mix --check "$T/rec/recipes/demo.json" >"$T/check.jsonl" 2>/dev/null; rc=$?
[ $rc -eq 1 ] && grep -q '"source":"vqav2".*"status":"ok"' "$T/check.jsonl" &&
    grep -q '"source":"gsm8k".*"status":"invalid"' "$T/check.jsonl" &&
    grep -q '"source":"ocr_vqa".*"status":"missing"' "$T/check.jsonl" &&
    tail -n 1 "$T/check.jsonl" | grep -q '"ok":1,"missing":2,"invalid":1' && ok "--check reports ok/missing/invalid" ||
    bad "--check (rc $rc): $(cat "$T/check.jsonl")"

# Energon blend YAML, with the planned shares, over real Energon dataset folders.
mkdir -p "$T/blend" && for n in coco_captions_2017 vqav2 ocr_vqa gsm8k; do
    mkdir -p "$T/energon/$n/.nv-meta" && printf 'shard_counts:\n  shard-000000.tar: 1\n' >"$T/energon/$n/.nv-meta/.info.yaml"
done
$TESSERA mix $R --counts "$T/counts.json" -o "$T/a2.tsmix" --metadataset "$T/blend/blend.yaml" --energon-root ../energon \
    >/dev/null 2>&1 && ok "blend with counts" || bad "blend with counts failed"
checker yaml "$T/blend/blend.yaml" $R "$T/a2.tsmix"
# Without counts: the recipe's weights (every source needs one).
$TESSERA mix $R --metadataset "$T/blend/w.yaml" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q "gsm8k has a sample target" "$T/err" && ok "weights-only blend refuses a fixed-count source" ||
    bad "weights-only blend (rc $rc): $(cat "$T/err")"
for r in nvlm-pretrain nvlm-sft; do
    $TESSERA mix manifests/recipes/$r.json --metadataset "$T/blend/$r.yaml" --energon-root /data/energon >/dev/null 2>&1 &&
        ok "$r: blend YAML from the recipe weights" || bad "$r: blend failed"
    checker yaml "$T/blend/$r.yaml" manifests/recipes/$r.json
done

# The NVLM recipes plan over their estimated sizes (counts only, no plan file).
for r in nvlm-pretrain nvlm-sft; do
    /usr/bin/python3 - manifests/recipes/$r.json >"$T/$r.counts" <<'P'
import json, re, sys
rec = json.load(open(sys.argv[1]))
out = {}
for s in rec["sources"]:
    m = re.search(r"est\. ~?([0-9][0-9,.]*)(k|M)?", s["note"])
    n = float(m.group(1).replace(",", "")) * {"k": 1e3, "M": 1e6, None: 1}[m.group(2)] if m else 100000
    out[s["name"]] = int(n)
print(json.dumps(out))
P
    $TESSERA mix manifests/recipes/$r.json --counts "$T/$r.counts" >"$T/$r.plan.jsonl" 2>/dev/null
    /usr/bin/python3 - "$T/$r.plan.jsonl" manifests/recipes/$r.json <<'P' && ok "$r: plans to its target with the released weights" || bad "$r: plan"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
rec = json.load(open(sys.argv[2]))
summ, srcs = lines[-1], {l["source"]: l for l in lines[:-1]}
assert summ["items"] == rec["target"]["samples"], summ
assert len(srcs) == len(rec["sources"])
for s in rec["sources"]:
    if s["note"].startswith("released"):
        share = srcs[s["name"]]["target"] / summ["items"]
        assert abs(share - s["weight"] / sum(x["weight"] for x in rec["sources"])) < 1e-6, (s["name"], share)
P
    $TESSERA mix --check manifests/recipes/$r.json >/dev/null 2>&1
    [ $? -le 1 ] && ok "$r: --check runs" || bad "$r: --check"
done

# Negative controls: the checker and the C reader reject corrupt plans.
cp "$T/a.tsmix" "$T/bad.tsmix" && chmod u+w "$T/bad.tsmix"
printf '\x07' | dd of="$T/bad.tsmix" bs=1 seek=$((64 + 4 * 96 + 16 * 100 + 9)) conv=notrunc 2>/dev/null
checker reject "$T/bad.tsmix"
$TESSERA mix --dump "$T/bad.tsmix" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q checksum "$T/err" && ok "--dump refuses a corrupt plan" || bad "--dump on corrupt plan: rc $rc"
head -c 1000 "$T/a.tsmix" >"$T/short.tsmix"
checker reject "$T/short.tsmix"
echo '{"name": "x", "stage": "sft", "seed": 1, "sources": [{"name": "a", "manifest": "a.json", "weight": -1}]}' >"$T/badr.json"
$TESSERA mix "$T/badr.json" --counts "$T/counts.json" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q 'badr.json: $.sources\[0\].weight' "$T/err" && ok "bad recipe: error names file and JSON path" ||
    bad "bad recipe (rc $rc): $(cat "$T/err")"
finish
