#!/usr/bin/python3
"""Conversations for the chat parity check, and their rendered ChatML strings.

Usage: make_chat_cases.py CORPUS.jsonl OUT_CHAT.jsonl OUT_PREFIX
Writes OUT_CHAT.jsonl (records for `tessera tokenize --chat`) and, per layout
d/x/h, OUT_PREFIX.<layout>.jsonl with {"text": the rendered conversation in the
HF/vLLM image form} for Hugging Face to tokenize; megatron_d / megatron_h hold
the Megatron form with a literal "<image>" for HF to split as a special token. Texts never contain an added
token's string (tessera neutralizes those on purpose; HF would not).
"""
import json
import random
import sys

corpus, out_chat, prefix = sys.argv[1:4]
rng = random.Random(11)
docs = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8")]


def snippet():
    while True:
        d = docs[rng.randrange(len(docs))]
        a = rng.randrange(max(1, len(d)))
        s = d[a:a + rng.randint(1, 400)]
        if "<|" not in s and "<t" not in s and "</t" not in s and "<image>" not in s and s.strip():
            return s


def tags(n):
    return [f"<tile_{k + 1}>" for k in range(n - 1)] + ["<tile_global_thumbnail>"]


def markup(n, layout):
    pads = "<|vision_pad|>" * 256
    t = tags(n)
    if layout == "megatron_d":  # one <image> token (an added special token on the HF side)
        return "<Image><image></Image>"
    if layout == "megatron_h":
        return "<Image>" + "".join(t[:-1]) + "<image></Image>"
    if layout == "d":
        body = "".join(tag + pads for tag in t)
    elif layout == "x":
        body = "".join(t)
    else:
        body = "".join(t[:-1]) + t[-1] + pads
    return "<Image>" + body + "</Image>"


records, rendered = [], {"d": [], "x": [], "h": [], "megatron_d": [], "megatron_h": []}
for i in range(400):
    llava = i % 2 == 0
    task = "caption" if i % 5 == 0 else "sft"
    turns = []
    if i % 7 == 0:
        turns.append(("system", snippet()))
    tiles = []
    for t in range(rng.randint(1, 3)):
        q = snippet()
        if t == 0 and i % 3:
            n = rng.choice([1, 3, 4, 5, 6, 7])
            tiles.append(n)
            q = "<image>\n" + q if rng.random() < 0.8 else q + " <image>" + snippet()
        turns.append(("user", q))
        turns.append(("assistant", snippet()))
    if llava:
        conv = [{"from": {"user": "human", "assistant": "gpt"}.get(r, r), "value": c} for r, c in turns]
        rec = {"conversations": conv}
    else:
        rec = {"messages": [{"role": r, "content": c} for r, c in turns]}
    rec["task"] = task
    if tiles:
        rec["tiles"] = tiles
    records.append(rec)
    for layout in rendered:
        parts = []
        if task == "sft" and turns[0][0] != "system":
            parts.append("<|im_start|>system\nAnswer the questions.<|im_end|>\n")
        k = 0
        for r, c in turns:
            pieces = c.split("<image>")
            c = pieces[0]
            for p in pieces[1:]:
                c += markup(tiles[k], layout) + p
                k += 1
            parts.append(f"<|im_start|>{r}\n{c}<|im_end|>\n")
        rendered[layout].append("".join(parts))

with open(out_chat, "w", encoding="utf-8") as f:
    for r in records:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
for layout, texts in rendered.items():
    with open(f"{prefix}.{layout}.jsonl", "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
