#!/usr/bin/python3
"""Reference pipeline for bench/prepare.sh: what `tessera prepare` does, in
Python: read the Energon dataset (tarfile), render each sample's ChatML turns
(tests/reference/prepare_ref.py, Megatron's rules), tile every image with
Pillow's InternVL tiling (tests/reference/internvl_ref.py), and write the
turns as JSON lines for Hugging Face tokenizers (run separately, timed by the
caller). Tiles are materialized as arrays and, by default, neither compressed
nor written. With `--write-tiles PATH LEVEL` each image's tiles (u8 HWC, back
to back, as in tessera's tile shard) are compressed into one zstd frame with
a content checksum at that level and appended to PATH, which is fsynced at
the end: the same work `tessera prepare` does for its shard.
Prints the seconds spent."""
import io
import json
import os
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import internvl_ref  # noqa: E402
import prepare_ref  # noqa: E402

dataset, turns_path = sys.argv[1:3]
tiles_out = None
if len(sys.argv) == 6 and sys.argv[3] == "--write-tiles":
    import zstandard
    tiles_out = open(sys.argv[4], "wb")
    zc = zstandard.ZstdCompressor(level=int(sys.argv[5]), write_checksum=True)
t0 = time.time()
cls, samples = prepare_ref.read_dataset(dataset)
n_tiles = 0
with open(turns_path, "w", encoding="utf-8") as out:
    for key, parts in samples:
        convs, images, _ = prepare_ref.conversations(cls, key, parts)
        tiles = []
        for b in images:
            img = Image.open(io.BytesIO(b)).convert("RGB")
            _, ts = internvl_ref.tiles(img, 448, 1, 6)
            arrays = [np.asarray(t) for t in ts]
            n_tiles += sum(a.size > 0 for a in arrays)
            tiles.append(len(ts))
            if tiles_out:
                tiles_out.write(zc.compress(b"".join(a.tobytes() for a in arrays)))
        for s in prepare_ref.expand(convs[0], tiles, "d", "megatron"):
            out.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")
if tiles_out:
    tiles_out.flush()
    os.fsync(tiles_out.fileno())
    tiles_out.close()
print(json.dumps({"seconds": time.time() - t0, "samples": len(samples), "tiles": int(n_tiles)}))
