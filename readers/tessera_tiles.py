"""Read tessera tile shards (.tiles, format version 1) from Python.

Single file, numpy only, memory-mapped: written from docs/FORMATS.md for
trainers and for tests that must not trust tessera's own C reader.

    shard = TileShard("train.tiles")
    for key in shard.keys():
        tiles = shard.tiles(key)   # (n, 448, 448, 3) uint8, or (n, 3, 448, 448) floats
Needs numpy and zstandard (Debian: python3-zstandard); with xxhash
(python3-xxhash) every checksum is verified too.
"""
import mmap
import struct

import numpy as np
import zstandard

try:  # xxhash is optional; checks are skipped without it
    import xxhash
except ImportError:  # pragma: no cover
    xxhash = None

DTYPES = {0: np.uint8, 1: np.float32, 2: np.float16, 3: None}  # 3: bf16, returned as uint16 bits


def _decompress(frame, size):
    out = zstandard.ZstdDecompressor().decompress(frame, max_output_size=size)
    if len(out) != size:
        raise ValueError("zstd frame decompressed to %d bytes, expected %d" % (len(out), size))
    return out


class TileShard:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        m = self._map
        if len(m) < 104 or m[0:8] != b"TSTILES1" or m[-8:] != b"TSTIDX01":
            raise ValueError("%s: not a tessera tile shard" % path)
        version, self.tile_size, self.max_tiles, self.dtype_code = struct.unpack_from("<4I", m, 8)
        if version != 1:
            raise ValueError("%s: tile shard version %d not supported" % (path, version))
        index_offset, index_len, count, index_hash = struct.unpack_from("<4Q", m, len(m) - 40)
        if xxhash is not None:
            h = xxhash.xxh3_64()
            h.update(m[index_offset:index_offset + index_len])
            h.update(m[len(m) - 40:len(m) - 16])
            if h.intdigest() != index_hash:
                raise ValueError("%s: index checksum mismatch" % path)
        self.count = count
        entries = np.frombuffer(m, dtype=np.uint8, count=count * 80, offset=index_offset)
        self._entries = entries.reshape(count, 80)
        keys_offset = index_offset + count * 88
        self._keys_blob = bytes(m[keys_offset:index_offset + index_len])
        self._records = []
        self._by_key = {}
        for i in range(count):
            off, zlen, payload, hhi, hlo, pxxh, koff = struct.unpack_from("<7Q", m, index_offset + i * 80)
            klen, tiles, width, height, cols, rows = struct.unpack_from("<6I", m, index_offset + i * 80 + 56)
            key = self._keys_blob[koff:koff + klen].decode("utf-8")
            self._records.append(dict(key=key, offset=off, zlen=zlen, payload=payload,
                                      content_hash="%016x%016x" % (hhi, hlo), payload_xxh3=pxxh,
                                      tiles=tiles, width=width, height=height, grid=(cols, rows)))
            self._by_key[key] = i

    def keys(self):
        return [r["key"] for r in self._records]

    def record(self, key_or_index):
        i = self._by_key[key_or_index] if isinstance(key_or_index, str) else key_or_index
        return self._records[i]

    def tiles(self, key_or_index):
        r = self.record(key_or_index)
        m = self._map
        klen = len(r["key"].encode("utf-8"))
        start = r["offset"] + 96 + klen
        raw = _decompress(bytes(m[start:start + r["zlen"]]), r["payload"])
        if xxhash is not None and xxhash.xxh3_64_intdigest(raw) != r["payload_xxh3"]:
            raise ValueError("%s: %s: payload checksum mismatch" % (self.path, r["key"]))
        t, n = self.tile_size, r["tiles"]
        if self.dtype_code == 0:
            return np.frombuffer(raw, dtype=np.uint8).reshape(n, t, t, 3)
        dtype = DTYPES[self.dtype_code] or np.uint16
        return np.frombuffer(raw, dtype=dtype).reshape(n, 3, t, t)
