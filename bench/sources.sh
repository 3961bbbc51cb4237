#!/usr/bin/env bash
# Mapping throughput of source manifests: `tessera source` against a plain
# Python mapping (json module, one process) of the same records, per shape:
# LAION-style URL + caption (JSON lines), ShareGPT conversations (JSON
# lines), GSM8K-style question/answer pairs (Parquet, read by DuckDB for the
# Python side) and VQAv2-style questions joined to annotations (JSON
# documents). Inputs are generated here. Usage: bench/sources.sh [N] (200000)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -x "$BUILD/tessera" ] || make -j2 "$BUILD/tessera"
N=${1:-200000}
DIR=${BENCH_TMP:-$(mktemp -d /tmp/tessera-bench-sources.XXXXXX)}
trap '[ -z "${BENCH_TMP:-}" ] && rm -rf "$DIR"' EXIT
/usr/bin/python3 - "$DIR" "$N" <<'PY'
import json, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
words = "the a cat dog photo of red blue on in with and small large house tree car street".split()
def text(k): return " ".join(rnd.choice(words) for _ in range(k))
with open(os.path.join(d, "urls.jsonl"), "w") as f:
    for i in range(n): f.write(json.dumps({"url": "https://img.example/%d.jpg" % i, "caption": text(12), "similarity": 0.3}) + "\n")
with open(os.path.join(d, "conv.jsonl"), "w") as f:
    for i in range(n):
        f.write(json.dumps({"conversations": [{"from": "system", "value": text(8)}, {"from": "human", "value": text(40)},
                                              {"from": "gpt", "value": text(80)}]}) + "\n")
with open(os.path.join(d, "pairs.jsonl"), "w") as f:
    for i in range(n): f.write(json.dumps({"question": text(30), "answer": text(60)}) + "\n")
qs = [{"image_id": i // 5, "question": text(7) + "?", "question_id": i} for i in range(n)]
json.dump({"questions": qs}, open(os.path.join(d, "questions.json"), "w"))
anns = [{"question_id": i, "image_id": i // 5, "answers": [{"answer": rnd.choice(words), "answer_confidence": "yes", "answer_id": k + 1} for k in range(10)]} for i in range(n)]
json.dump({"annotations": anns}, open(os.path.join(d, "annotations.json"), "w"))
def manifest(name, stage, task, inputs, mapping):
    json.dump({"name": name, "stage": stage, "task": task, "inputs": inputs, "mapping": mapping}, open(os.path.join(d, name + ".json"), "w"))
manifest("urls", "pretrain", "caption", [{"path": "urls.jsonl"}], {"images": [{"url": "url"}], "text": "caption"})
manifest("conv", "text", "text", [{"path": "conv.jsonl"}], {"turns": {"list": "conversations"}})
manifest("pairs", "text", "text", [{"path": "pairs.parquet"}], {"turns": {"user": "question", "assistant": "answer"}})
manifest("vqa", "pretrain", "multi_turn", [{"path": "questions.json", "select": "questions"},
         {"name": "a", "role": "table", "path": "annotations.json", "select": "annotations"}],
         {"joins": [{"table": "a", "key": "question_id", "on": "question_id", "as": "ann"}],
          "turns": {"user": "question", "assistant": "ann.answers[0].answer"}})
PY
node -e "
const { DuckDBInstance } = await import('@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:', { threads: '1' }); const c = await db.connect();
await c.run(\"COPY (SELECT * FROM read_json('$DIR/pairs.jsonl', format='newline_delimited')) TO '$DIR/pairs.parquet' (FORMAT parquet)\");
" --input-type=module
node tests/reference/parquet_rows.mjs "$DIR/pairs.parquet" >"$DIR/pairs.duckdb.jsonl"
ref() { # shape -> seconds of the Python mapping
    /usr/bin/python3 - "$DIR" "$1" <<'PY'
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
    for i, q in enumerate(qs):
        a = anns[q["question_id"]]
        out.append({"key": "%010d" % i, "turns": [{"role": "user", "content": q["question"]}, {"role": "assistant", "content": a["answers"][0]["answer"]}]})
for o in out: sys.stdout.write(json.dumps(o) + "\n")
print("%.3f" % (time.time() - t), file=sys.stderr)
PY
}
# The CLI's start (dynamic loading; seconds where CUDA libraries are linked)
# is measured alone and taken off: the figure is the mapping's.
s=$(date +%s.%N); "$BUILD/tessera" help >/dev/null 2>&1; start=$(echo "$(date +%s.%N) - $s" | bc)
echo "CLI start: ${start}s (subtracted)"
printf '%-6s %9s %12s %12s %7s\n' shape records tessera/s python/s ratio
for shape in urls conv pairs vqa; do
    s=$(date +%s.%N)
    n=$("$BUILD/tessera" source "$DIR/$shape.json" 2>/dev/null | wc -l)
    t=$(echo "$(date +%s.%N) - $s - $start" | bc)
    p=$(ref $shape 2>&1 >/dev/null | tail -n 1)
    awk -v s=$shape -v n=$n -v t=$t -v p=$p 'BEGIN { printf "%-6s %9d %12.0f %12.0f %6.2fx\n", s, n, n / t, n / p, p / t }'
done
