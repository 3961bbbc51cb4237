#!/usr/bin/env bash
# `tessera energon` against readers we did not write: Python's tarfile, an
# independent ustar/.tar.idx/.nv-meta checker (energon_check.py, from the
# format description), Pillow and json. Datasets are built from real photos
# (scikit-image's sample data) as captioning (mixed formats: sample_loader
# path; JPEG only: field_map path, also from a binary records file), VQA, OCR
# and multi-turn/text SFT, with several shards and drop accounting; plus a
# metadataset blend, byte-determinism, and negative controls that the checker
# must reject.
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
TOOL=$PWD/$BUILD/tools/sample_tool
CHECK="/usr/bin/python3 $PWD/tests/reference/energon_check.py"
T=${TS_TEST_TMP:-/tmp}/energon
rm -rf "$T" && mkdir -p "$T/photos"
# Run the checker; fold its counts into ours.
checker() { run_checker 40 "checker $*" $CHECK "$@"; }

# Fixtures: photos as shipped, plus Pillow re-encodings to WebP, JPEG and GIF.
/usr/bin/python3 - "$T" <<'EOF' || { echo "0 passed, 1 failed"; exit 1; }
import json, os, shutil, sys
from PIL import Image
import skimage
t = sys.argv[1]
src = os.path.join(os.path.dirname(skimage.__file__), "data")
p = lambda n: os.path.join(t, "photos", n)
for n in ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg", "page.png",
          "text.png", "camera.png", "no_time_for_that_tiny.gif", "motorcycle_left.png"]:
    shutil.copy(os.path.join(src, n), p(n))
Image.open(p("chelsea.png")).convert("RGB").save(p("chelsea.webp"), quality=80)
Image.open(p("coffee.png")).convert("RGB").save(p("coffee.jpg"), quality=90)
Image.open(p("astronaut.png")).convert("RGB").save(p("astronaut.jpg"), quality=85)
Image.open(p("camera.png")).convert("P").save(p("camera.gif"))

def rec(key, task, images, stage="pretrain", **kw):
    r = {"key": key, "source": "skimage", "stage": stage, "task": task,
         "images": [{"path": "photos/" + i} for i in images]}
    r.update(kw)
    return json.dumps(r, ensure_ascii=False)

def write(name, lines):
    with open(os.path.join(t, name), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

meta = {"url": "https://example.org/a.png", "row": 3, "license": "CC0"}
write("caption.jsonl", [
    rec("cap-000", "caption", ["astronaut.png"], text="Eileen Collins in her flight suit.", meta=meta),
    '{"dropped": "http_404", "url": "https://example.org/gone.jpg"}',
    rec("cap-001", "caption", ["coffee.png"], text="A cup of coffee on a saucer."),
    rec("cap-002", "caption", ["chelsea.webp"], text="Chelsea the cat, über-relaxed."),
    rec("cap-003", "caption", ["rocket.jpg"], text="A rocket on the launch pad."),
    rec("cap-001", "caption", ["camera.png"], text="duplicate key"),
    rec("cap-004", "caption", ["no_time_for_that_tiny.gif"], text="An animated GIF."),
    rec("cap-005", "caption", ["missing.png"], text="image file absent"),
    rec("cap-006", "vqa", ["coffee.png"], turns=[{"role": "user", "content": "What?"}], answers=["coffee"]),
    '{"dropped": "not_image"}',
    rec("llava_007", "caption", ["coffee.png"], text="routing key"),
    "{this is not json",
    rec("cap-008", "caption", ["hubble_deep_field.jpg"], text="The Hubble deep field."),
    rec("cap-009", "caption", ["camera.gif"], text="A cameraman, palette GIF."),
    rec("cap-010", "caption", ["motorcycle_left.png"], text="A motorcycle."),
    '{"dropped": "http_404"}',
])
write("caption_jpg.jsonl", [
    rec("j%d" % i, "caption", [n], text="Photo %d <not a marker>" % i)
    for i, n in enumerate(["rocket.jpg", "hubble_deep_field.jpg", "coffee.jpg", "astronaut.jpg"] * 2)])
write("vqa.jsonl", [
    rec("q0", "vqa", ["coffee.png"], stage="sft", turns=[{"role": "user", "content": "What drink is this?"}],
        answers=[{"text": "coffee", "weight": 0.75}, {"text": "espresso", "weight": 0.25}]),
    rec("q1", "vqa", ["chelsea.webp"], stage="sft", turns=[{"role": "user", "content": "<image>\nWhat animal?"}],
        answers=["cat", "kitten", "cat"]),
    rec("q2", "vqa", ["rocket.jpg"], stage="sft",
        turns=[{"role": "user", "content": "What is it?"}, {"role": "assistant", "content": "A rocket."}]),
    rec("q3", "vqa", ["astronaut.png"], stage="sft", turns=[{"role": "user", "content": "Who?"}],
        answers=[{"text": "an astronaut", "weight": 0}]),
])
write("ocr.jsonl", [
    rec("o0", "ocr", ["page.png"], text="Region-based segmentation\nLet us first determine markers"),
    rec("o1", "ocr", ["text.png"], text="scikit-image text sample"),
])
u, a = "user", "assistant"
write("sft.jsonl", [
    rec("s0", "multi_turn", ["astronaut.png"], stage="sft", turns=[
        {"role": u, "content": "<image>\nDescribe the photo."}, {"role": a, "content": "An astronaut portrait."},
        {"role": u, "content": "What colour is the flag?"}, {"role": a, "content": "Red, white and blue."}]),
    rec("s1", "text", [], stage="text", turns=[
        {"role": u, "content": "What is 2+2?"}, {"role": a, "content": "4"}]),
    rec("s2", "multi_turn", ["coffee.png"], stage="sft", turns=[
        {"role": u, "content": "What is in the cup?"}, {"role": a, "content": "Coffee."}]),
    rec("s3", "multi_turn", ["coffee.png", "chelsea.webp"], stage="sft", turns=[
        {"role": u, "content": "<image-1> <image-2> Compare."}, {"role": a, "content": "Cup vs cat."}]),
    rec("s4", "multi_turn", ["rocket.jpg"], stage="sft", turns=[
        {"role": u, "content": "Draw it"}, {"role": a, "content": "<image>"}]),
    rec("s5", "text", [], stage="text", turns=[
        {"role": "system", "content": "Be brief."}, {"role": u, "content": "Hi"}, {"role": a, "content": "Hello"}]),
    rec("s6", "text", [], stage="text", text="plain pretraining text has no Megatron encoder"),
])
EOF

run() { # name, expected exit, args...
    local name=$1 want=$2; shift 2
    "$TESSERA" energon "$@" >"$T/$name.out" 2>"$T/$name.err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "tessera energon $name (exit $rc)"; else bad "tessera energon $name: exit $rc, want $want"; cat "$T/$name.err"; fi
}

# Captioning, mixed formats, 600 kB shards, every 3rd shard to val, drops.
run caption 1 "$T/caption.jsonl" -o "$T/ds/caption" --shard-size 600000 --val-every 3
checker dataset "$T/ds/caption" --expect "$T/caption.jsonl" --expect-drop duplicate_key=1 \
    --expect-drop bad_record=2 --expect-drop type_mismatch=1 --expect-drop routing_key=1
n=$(ls "$T/ds/caption"/*.tar | wc -l)
[ "$n" -ge 4 ] && ok "caption: $n shards" || bad "caption: only $n shards"
grep -q '^sample_loader: sample_loader.py:sample_loader' "$T/ds/caption/.nv-meta/dataset.yaml" &&
    ok "mixed image formats use the sample_loader form" || bad "mixed formats: no sample_loader"
grep -A2 '^  val:' "$T/ds/caption/.nv-meta/split.yaml" | grep -q 'shard-000002.tar' &&
    ok "split: third shard in val" || bad "split: third shard not in val"
[ "$(grep -c '"shard"' "$T/caption.out")" -eq "$n" ] && grep -q '"summary":"energon"' "$T/caption.out" &&
    ok "stdout: a JSON line per shard and a summary" || bad "stdout report lines"

# Same input again: byte-identical shards.
run caption-again 1 "$T/caption.jsonl" -o "$T/ds/caption2" --shard-size 600000 --val-every 3
same=1
for f in "$T/ds/caption"/*.tar "$T/ds/caption"/*.idx "$T/ds/caption"/.nv-meta/*; do
    cmp -s "$f" "$T/ds/caption2/${f#"$T/ds/caption/"}" || same=0
done
[ "$same" -eq 1 ] && ok "two runs give byte-identical shards and metadata" || bad "runs differ"
run existing 3 "$T/caption.jsonl" -o "$T/ds/caption"

# JPEG-only captions through a binary records file: field_map form, and the
# same bytes as from JSON lines.
"$TOOL" to-binary "$T/caption_jpg.jsonl" "$T/caption_jpg.records" && ok "JSONL -> binary records" || bad "to-binary"
run caption-jpg 0 "$T/caption_jpg.jsonl" -o "$T/ds/jpg" --shard-size 800000
run caption-jpg-bin 0 "$T/caption_jpg.records" -o "$T/ds/jpgbin" --shard-size 800000 --type caption
checker dataset "$T/ds/jpg" --expect "$T/caption_jpg.jsonl"
checker dataset "$T/ds/jpgbin" --expect "$T/caption_jpg.jsonl"
grep -q '^  image: jpg$' "$T/ds/jpg/.nv-meta/dataset.yaml" && ok "JPEG only: field_map image: jpg" || bad "no field_map"
same=1
for f in "$T/ds/jpg"/*.tar "$T/ds/jpg"/*.idx; do cmp -s "$f" "$T/ds/jpgbin/${f#"$T/ds/jpg/"}" || same=0; done
[ "$same" -eq 1 ] && ok "binary records and JSON lines give the same shards" || bad "binary vs JSONL shards differ"
"$TOOL" to-json "$T/caption_jpg.records" >"$T/roundtrip.jsonl" && [ "$(wc -l <"$T/roundtrip.jsonl")" -eq 8 ] &&
    ok "binary records -> JSON lines" || bad "to-json"

# A damaged last frame: the seven intact records are written, the eighth is
# counted as bad_record.
cp "$T/caption_jpg.records" "$T/damaged.records"
/usr/bin/python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-100]^=0x10; open(p,'wb').write(b)" "$T/damaged.records"
run caption-damaged 1 "$T/damaged.records" -o "$T/ds/damaged" --type caption
checker dataset "$T/ds/damaged" --expect "$T/caption_jpg.jsonl" --expect-drop bad_record=1
grep -q 'checksum' "$T/caption-damaged.err" && ok "damaged frame reported as a checksum error" || bad "no checksum error logged"

run vqa 1 "$T/vqa.jsonl" -o "$T/ds/vqa" --type vqa
checker dataset "$T/ds/vqa" --expect "$T/vqa.jsonl" --expect-drop megatron_rule=1
run ocr 0 "$T/ocr.jsonl" -o "$T/ds/ocr"
checker dataset "$T/ds/ocr" --expect "$T/ocr.jsonl"
run sft 1 "$T/sft.jsonl" -o "$T/ds/sft" --type interleaved --shard-size 300000
checker dataset "$T/ds/sft" --expect "$T/sft.jsonl" --expect-drop too_many_images=1 --expect-drop megatron_rule=3
run sft2 1 "$T/sft.jsonl" -o "$T/ds/sft2" --type interleaved --max-images 2
checker dataset "$T/ds/sft2" --expect "$T/sft.jsonl" --expect-drop megatron_rule=3

# Blend metadataset over the datasets, paths relative to the YAML.
"$TOOL" blend "$T/ds/blend.yaml" caption 0.579 vqa 0.01 sft2 0.02 jpg 1e-05 && ok "blend written" || bad "blend"
checker blend "$T/ds/blend.yaml" caption=0.579 vqa=0.01 sft2=0.02 jpg=1e-05

# Negative controls: the checker must reject a damaged index and a damaged tar.
cp -r "$T/ds/jpg" "$T/ds/bad-idx"
/usr/bin/python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[8]^=2; open(p,'wb').write(b)" "$T/ds/bad-idx/shard-000000.tar.idx"
$CHECK dataset "$T/ds/bad-idx" >/dev/null 2>&1 && bad "checker accepted a shifted .tar.idx offset" || ok "checker rejects a shifted .tar.idx offset"
cp -r "$T/ds/jpg" "$T/ds/bad-tar"
/usr/bin/python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[600]^=1; b[148]^=1; open(p,'wb').write(b)" "$T/ds/bad-tar/shard-000000.tar"
$CHECK dataset "$T/ds/bad-tar" >/dev/null 2>&1 && bad "checker accepted a damaged tar header" || ok "checker rejects a damaged tar header"

finish
