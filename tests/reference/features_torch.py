#!/usr/bin/python3
"""Check a tessera feature cache against an independent pipeline: tiles read
with readers/tessera_tiles.py, normalized with internvl_ref.normalize, encoded
by vit_torch.py (float64), compared with readers/tessera_features.py.

  features_torch.py MODEL_DIR CACHE_DIR TOL SHARD.tiles...
Prints one line per image and exits non-zero when any relative L2 error
exceeds TOL or an image of the shards is missing from the cache.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "readers"))
import internvl_ref  # noqa: E402
import tessera_features  # noqa: E402
import tessera_tiles  # noqa: E402
import vit_torch  # noqa: E402


def main():
    model, cache_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
    cfg, w = vit_torch.load(model)
    cache = tessera_features.FeatureCache(cache_dir)
    bad = 0
    for shard_path in sys.argv[4:]:
        shard = tessera_tiles.TileShard(shard_path)
        tiling = "t%d-m%d-uint8" % (shard.tile_size, shard.max_tiles)
        for key in shard.keys():
            r = shard.record(key)
            try:
                e = cache.find(r["content_hash"], tiling)
            except KeyError:
                print("FAIL %s: not in the cache" % key)
                bad += 1
                continue
            px = np.stack([internvl_ref.normalize(t) for t in shard.tiles(key)])
            with torch.no_grad():
                ref = vit_torch.forward(cfg, w, torch.from_numpy(px).double()).numpy()
            got = cache.features(e)
            err = np.linalg.norm(got - ref) / np.linalg.norm(ref) if got.shape == ref.shape else np.inf
            ok = err <= tol
            bad += not ok
            print("%s %s: %d tiles, %s, rel err %.2e" % ("ok  " if ok else "FAIL", key, r["tiles"], e["dtype"], err))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
