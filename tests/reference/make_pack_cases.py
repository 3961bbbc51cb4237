#!/usr/bin/python3
"""Conversations and documents for check_pack.sh: a deterministic mix of
text-only SFT, image SFT (1-2 images, hashes of real image files for some,
random hashes for others), pretraining documents, and samples long enough to
exceed small max_len values.

Usage: make_pack_cases.py OUT.jsonl N TILES_JSONL   (TILES_JSONL: `tessera tile` output lines)
"""
import json
import random
import sys

out_path, n, tiles_jsonl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
real = [json.loads(l) for l in open(tiles_jsonl)]
rng = random.Random(7)
words = ("the a cat dog image chart shows value of total sales in 2019 what is color red blue green "
         "answer question number ünïcödé 数字 emoji 🙂").split()


def text(k):
    return " ".join(rng.choice(words) for _ in range(k))


with open(out_path, "w", encoding="utf-8") as out:
    for i in range(n):
        r = rng.random()
        if r < 0.15:
            out.write(json.dumps({"text": text(rng.randint(1, 2500))}) + "\n")
            continue
        n_img = 0 if r < 0.3 else (1 if r < 0.9 else 2)
        turns = []
        for t in range(rng.randint(1, 4)):
            q = text(rng.randint(1, 60))
            if t == 0 and n_img:
                q = "<image>\n" * n_img + q
            turns += [{"from": "human", "value": q}, {"from": "gpt", "value": text(rng.randint(1, 300))}]
        rec = {"conversations": turns}
        if n_img:
            imgs = []
            for _ in range(n_img):
                if rng.random() < 0.5:
                    im = rng.choice(real)
                    imgs.append({"tiles": im["tiles"], "xxh3_128": im["xxh3_128"]})
                else:
                    imgs.append({"tiles": rng.choice([1, 3, 4, 5, 6, 7]), "xxh3_128": "%032x" % rng.getrandbits(128)})
            rec["images"] = imgs
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
