#!/usr/bin/python3
"""Reference side of bench/build.sh: the prepare work of a build done the
Python way, over the same Energon datasets the build ingested.

    build_ref.py BUILD_DIR CORPUS_OUT

For every sample of every DIR/energon/<source>/ dataset (tar files read with
Python's tarfile): each image decoded with Pillow and tiled with the NVLM rule
(tests/reference/internvl_ref.py: dynamic tiles + thumbnail, 448 px, normalized
to float32); its text parts (caption, VQA question/answers, conversation turns)
rendered as ChatML into CORPUS_OUT (JSON lines {"text"}) for HF tokenizers
(bench/tokenize_ref.js) to tokenize. Prints {"samples", "images", "tiles",
"seconds", "cpu_seconds"} for the Python part (one process).
"""
import io
import json
import os
import sys
import tarfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "reference"))
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import internvl_ref  # noqa: E402

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def chatml(role, text):
    return "<|im_start|>%s\n%s<|im_end|>\n" % (role, text)


def render(name, payload):
    if name.endswith(".txt"):
        return chatml("user", "<image>\nDescribe the image.") + chatml("assistant", payload.decode())
    d = json.loads(payload)
    if "conversations" in d:
        return "".join(chatml("user" if t["from"] == "human" else "assistant", t["value"]) for t in d["conversations"])
    return chatml("user", d.get("question", "")) + chatml("assistant", (d.get("answers") or [""])[0])


def main():
    root, corpus = sys.argv[1], sys.argv[2]
    samples = images = tiles = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with open(corpus, "w") as out:
        energon = os.path.join(root, "energon")
        for src in sorted(os.listdir(energon)):
            d = os.path.join(energon, src)
            if not os.path.isdir(d):
                continue
            for shard in sorted(f for f in os.listdir(d) if f.endswith(".tar")):
                with tarfile.open(os.path.join(d, shard)) as tar:
                    for m in tar:
                        data = tar.extractfile(m).read()
                        if m.name.lower().endswith(IMAGE_EXT):
                            with Image.open(io.BytesIO(data)) as im:
                                img = im.convert("RGB")
                            _, ts = internvl_ref.tiles(img)
                            for t in ts:
                                internvl_ref.normalize(np.asarray(t))
                            images += 1
                            tiles += len(ts)
                        elif m.name.endswith((".txt", ".json")):
                            out.write(json.dumps({"text": render(m.name, data)}) + "\n")
                            samples += 1
    print(json.dumps({"samples": samples, "images": images, "tiles": tiles,
                      "seconds": round(time.perf_counter() - t0, 3), "cpu_seconds": round(time.process_time() - c0, 3)}))


if __name__ == "__main__":
    main()
