"""Pillow reference pipeline for the tiler benchmark: decode, convert('RGB'),
NVLM tiling, normalize to float32 CHW. Prints images/s for one process and for
all cores (multiprocessing), as JSON."""
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "reference"))
from PIL import Image  # noqa: E402

import internvl_ref  # noqa: E402
import numpy as np  # noqa: E402


def process(path):
    with Image.open(path) as im:
        img = im.convert("RGB")
    _, tiles = internvl_ref.tiles(img)
    return sum(internvl_ref.normalize(np.asarray(t)).size for t in tiles)


def run(paths, procs):
    """Images per second of wall time, and (one process) per second of CPU time."""
    start, cpu = time.perf_counter(), time.process_time()
    if procs == 1:
        for p in paths:
            process(p)
    else:
        with mp.Pool(procs) as pool:
            pool.map(process, paths, chunksize=4)
    return len(paths) / (time.perf_counter() - start), len(paths) / (time.process_time() - cpu)


if __name__ == "__main__":
    paths = sys.argv[1:]
    cores = os.cpu_count() or 1
    one, one_cpu = run(paths, 1)
    print(json.dumps({"one": one, "one_cpu": one_cpu, "all": run(paths, cores)[0], "cores": cores}))
