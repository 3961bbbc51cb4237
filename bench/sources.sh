#!/usr/bin/env bash
# Mapping throughput of source manifests: `tessera source` against a plain
# Python mapping (json module, one process) of the same records, per shape:
# LAION-style URL + caption (JSON lines), ShareGPT conversations (JSON
# lines), GSM8K-style question/answer pairs (Parquet, read by DuckDB for the
# Python side) and VQAv2-style questions joined to annotations (JSON
# documents, with VQAv2's fields, joined also to a COCO image list: N
# questions and annotations, N/5 images). Inputs are generated here. Prints
# records/s and peak RSS (MB) of each side.
# Usage: [SHAPES="urls conv pairs vqa"] bench/sources.sh [N] (200000)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -x "$BUILD/tessera" ] || make -j2 "$BUILD/tessera"
N=${1:-200000}
SHAPES=${SHAPES:-urls conv pairs vqa}
export SHAPES
DIR=${BENCH_TMP:-$(mktemp -d /tmp/tessera-bench-sources.XXXXXX)}
trap '[ -z "${BENCH_TMP:-}" ] && rm -rf "$DIR"' EXIT
/usr/bin/python3 - "$DIR" "$N" <<'PY'
import json, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
words = "the a cat dog photo of red blue on in with and small large house tree car street".split()
def text(k): return " ".join(rnd.choice(words) for _ in range(k))
shapes = os.environ["SHAPES"].split()
if "urls" in shapes:
    with open(os.path.join(d, "urls.jsonl"), "w") as f:
        for i in range(n): f.write(json.dumps({"url": "https://img.example/%d.jpg" % i, "caption": text(12), "similarity": 0.3}) + "\n")
if "conv" in shapes:
    with open(os.path.join(d, "conv.jsonl"), "w") as f:
        for i in range(n):
            f.write(json.dumps({"conversations": [{"from": "system", "value": text(8)}, {"from": "human", "value": text(40)},
                                                  {"from": "gpt", "value": text(80)}]}) + "\n")
if "pairs" in shapes:
    with open(os.path.join(d, "pairs.jsonl"), "w") as f:
        for i in range(n): f.write(json.dumps({"question": text(30), "answer": text(60)}) + "\n")
# VQAv2's layout: questions and annotations documents (10 human answers per
# question) and a COCO-style image list, 5 questions per image.
if "vqa" in shapes:
    types = ["what is the", "is this", "how many", "what color is the", "none of the above"]
    qs = [{"image_id": 9 + (i // 5) * 7, "question": text(7) + "?", "question_id": (9 + (i // 5) * 7) * 1000 + i % 5} for i in range(n)]
    json.dump({"info": {"description": "questions"}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "train2014",
               "questions": qs}, open(os.path.join(d, "questions.json"), "w"))
    def answers():
        return [{"answer": rnd.choice(words[:8]), "answer_confidence": rnd.choice(["yes", "maybe", "no"]), "answer_id": k + 1} for k in range(10)]
    anns = [{"question_type": rnd.choice(types), "multiple_choice_answer": rnd.choice(words), "answers": answers(), "image_id": q["image_id"],
             "answer_type": "other", "question_id": q["question_id"]} for q in qs]
    json.dump({"info": {"description": "annotations"}, "license": {"name": "CC BY 4.0"}, "data_subtype": "train2014",
               "annotations": anns}, open(os.path.join(d, "annotations.json"), "w"))
    imgs = [{"license": 3, "file_name": "COCO_train2014_%012d.jpg" % (9 + k * 7), "coco_url": "http://images.cocodataset.org/train2014/COCO_train2014_%012d.jpg" % (9 + k * 7),
             "height": 480, "width": 640, "date_captured": "2013-11-14 16:28:13", "flickr_url": "http://farm4.staticflickr.com/%d.jpg" % k, "id": 9 + k * 7}
            for k in range((n + 4) // 5)]
    json.dump({"info": {"description": "images"}, "images": imgs, "annotations": []}, open(os.path.join(d, "images.json"), "w"))
def manifest(name, stage, task, inputs, mapping):
    json.dump({"name": name, "stage": stage, "task": task, "inputs": inputs, "mapping": mapping}, open(os.path.join(d, name + ".json"), "w"))
manifest("urls", "pretrain", "caption", [{"path": "urls.jsonl"}], {"images": [{"url": "url"}], "text": "caption"})
manifest("conv", "text", "text", [{"path": "conv.jsonl"}], {"turns": {"list": "conversations"}})
manifest("pairs", "text", "text", [{"path": "pairs.parquet"}], {"turns": {"user": "question", "assistant": "answer"}})
manifest("vqa", "pretrain", "vqa", [{"path": "questions.json", "select": "questions"},
         {"name": "a", "role": "table", "path": "annotations.json", "select": "annotations"},
         {"name": "img", "role": "table", "path": "images.json", "select": "images"}],
         {"key": "q{question_id}", "joins": [{"table": "a", "key": "question_id", "on": "question_id", "as": "ann"},
                                             {"table": "img", "key": "id", "on": "image_id", "as": "image"}],
          "images": [{"url": "image.coco_url"}], "question": "question", "answers": "ann.answers[*].answer", "answers_rule": "count"})
PY
case " $SHAPES " in *" pairs "*)
node -e "
const { DuckDBInstance } = await import('@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:', { threads: '1' }); const c = await db.connect();
await c.run(\"COPY (SELECT * FROM read_json('$DIR/pairs.jsonl', format='newline_delimited')) TO '$DIR/pairs.parquet' (FORMAT parquet)\");
" --input-type=module
node tests/reference/parquet_rows.mjs "$DIR/pairs.parquet" >"$DIR/pairs.duckdb.jsonl" ;;
esac
ref() { # shape -> seconds of the Python mapping (its peak RSS into rss.python)
    /usr/bin/time -f %M -o "$DIR/rss.python" /usr/bin/python3 - "$DIR" "$1" <<'PY'
import json, sys, time
d, shape = sys.argv[1], sys.argv[2]
t = time.time(); out = []
if shape == "urls":
    for i, l in enumerate(open(d + "/urls.jsonl")):
        r = json.loads(l); out.append({"key": "%010d" % i, "text": r["caption"], "image_urls": [r["url"]]})
elif shape == "conv":
    roles = {"system": "system", "human": "user", "gpt": "assistant"}
    for i, l in enumerate(open(d + "/conv.jsonl")):
        r = json.loads(l); out.append({"key": "%010d" % i, "turns": [{"role": roles[c["from"]], "content": c["value"]} for c in r["conversations"]]})
elif shape == "pairs":
    for i, l in enumerate(open(d + "/pairs.duckdb.jsonl")):
        r = json.loads(l); out.append({"key": "%010d" % i, "turns": [{"role": "user", "content": r["question"]}, {"role": "assistant", "content": r["answer"]}]})
else:
    qs = json.load(open(d + "/questions.json"))["questions"]
    anns = {a["question_id"]: a for a in json.load(open(d + "/annotations.json"))["annotations"]}
    imgs = {m["id"]: m for m in json.load(open(d + "/images.json"))["images"]}
    for q in qs:
        a = [x["answer"] for x in anns[q["question_id"]]["answers"]]
        w = {}
        for x in a: w[x] = w.get(x, 0) + 1
        out.append({"key": "q%d" % q["question_id"], "turns": [{"role": "user", "content": q["question"]}],
                    "answers": [{"text": x, "weight": c / len(a)} for x, c in w.items()],
                    "image_urls": [imgs[q["image_id"]]["coco_url"]]})
for o in out: sys.stdout.write(json.dumps(o) + "\n")
print("%.3f" % (time.time() - t), file=sys.stderr)
PY
}
# The CLI's start (dynamic loading; seconds where CUDA libraries are linked)
# is measured alone and taken off: the figure is the mapping's.
s=$(date +%s.%N); "$BUILD/tessera" help >/dev/null 2>&1; start=$(echo "$(date +%s.%N) - $s" | bc)
echo "CLI start: ${start}s (subtracted)"
printf '%-6s %9s %12s %12s %7s %11s %11s\n' shape records tessera/s python/s ratio tessera_MB python_MB
for shape in $SHAPES; do
    s=$(date +%s.%N)
    n=$(/usr/bin/time -f %M -o "$DIR/rss.tessera" "$BUILD/tessera" source "$DIR/$shape.json" 2>/dev/null | wc -l)
    t=$(echo "$(date +%s.%N) - $s - $start" | bc)
    p=$(ref $shape 2>&1 >/dev/null | tail -n 1)
    awk -v s=$shape -v n=$n -v t=$t -v p=$p -v tm=$(tail -n 1 "$DIR/rss.tessera") -v pm=$(tail -n 1 "$DIR/rss.python") \
        'BEGIN { printf "%-6s %9d %12.0f %12.0f %6.2fx %11.0f %11.0f\n", s, n, n / t, n / p, p / t, tm / 1024, pm / 1024 }'
done
