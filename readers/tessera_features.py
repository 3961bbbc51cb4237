"""Read a tessera feature cache (docs/FEATURES.md, version 1) from Python.

Single file, numpy only (xxhash optional: with python3-xxhash every payload
checksum is verified). Written from the documented layout, not from the C code.

    cache = FeatureCache("cache/")
    for e in cache.entries():            # dicts from the shard indexes
        x = cache.features(e)            # (tiles, tokens, dim) float32
    e = cache.find(image_hash_hex, tiling="t448-m6-uint8", model=model_hex)
"""
import glob
import json
import os

import numpy as np

try:
    import xxhash
except ImportError:  # pragma: no cover
    xxhash = None


def e4m3_table():
    """float32 value of each OCP fp8 e4m3fn code (0x7f/0xff are NaN)."""
    t = np.zeros(256, np.float32)
    for v in range(256):
        s, e, m = v >> 7, (v >> 3) & 15, v & 7
        if e == 15 and m == 7:
            x = np.nan
        elif e == 0:
            x = m * 2.0 ** -9
        else:
            x = (1 + m / 8) * 2.0 ** (e - 7)
        t[v] = -x if s else x
    return t


_E4M3 = e4m3_table()


class ChecksumError(Exception):
    pass


class FeatureCache:
    def __init__(self, path):
        self.path = path
        self._entries = []
        self._maps = {}
        for idx in sorted(glob.glob(os.path.join(path, "feat-*.idx.json"))):
            with open(idx) as f:
                meta = json.load(f)
            if meta.get("format") != "tessera-features" or meta.get("version") != 1:
                raise ValueError(f"{idx}: not a version 1 tessera feature index")
            data = os.path.join(path, meta["data"])
            if os.path.getsize(data) != meta["data_bytes"]:
                raise ValueError(f"{data}: size differs from its index (truncated?)")
            self._maps[meta["shard"]] = np.memmap(data, np.uint8, "r")
            for e in meta["entries"]:
                self._entries.append(dict(e, shard=meta["shard"]))

    def entries(self):
        return list(self._entries)

    def find(self, image, tiling=None, model=None):
        for e in self._entries:
            if e["image"] == image and tiling in (None, e["tiling"]) and model in (None, e["model"]):
                return e
        raise KeyError(image)

    def raw(self, e):
        """The payload bytes of entry e, checksum-verified when xxhash is there."""
        buf = self._maps[e["shard"]][e["offset"]:e["offset"] + e["bytes"]]
        if xxhash is not None and "%016x" % xxhash.xxh3_64_intdigest(buf.tobytes()) != e["xxh3"]:
            raise ChecksumError(f"entry {e['source']}: checksum mismatch")
        return buf

    def features(self, e):
        """(tiles, tokens, dim) float32."""
        n, t, d = e["tiles"], e["tokens"], e["dim"]
        buf = self.raw(e)
        if e["dtype"] == "bf16":
            u = np.frombuffer(buf.tobytes(), "<u2").astype(np.uint32) << 16
            return u.view(np.float32).reshape(n, t, d)
        if e["dtype"] == "fp8_e4m3":
            codes = np.frombuffer(buf[: n * t * d].tobytes(), np.uint8)
            scales = np.frombuffer(buf[n * t * d:].tobytes(), "<f4")
            return (_E4M3[codes].reshape(n * t, d) * scales[:, None]).reshape(n, t, d)
        raise ValueError(f"unknown dtype {e['dtype']}")
