"""Read tessera packed training shards (.tspack, format version 1) from Python.

Single file, numpy only (plus zstandard; xxhash to verify checksums), written
from docs/PACKING.md for trainers and for tests that must not trust tessera's
own C reader. Debian: python3-numpy python3-zstandard python3-xxhash.

    shard = PackedShard("train.tspack")
    seq = shard[17]
    seq["input_ids"]     # (n,) uint32, stored tokens (Megatron form: one IMG per image)
    seq["labels"]        # (n,) int32, next-token targets, -100 where not trained
    seq["position_ids"]  # (n,) int32, expanded positions, restarting at 0 per sample
    seq["cu_seqlens"]    # (samples+1,) int32, Megatron's cu_lengths (expanded)
    seq["cu_tokens"]     # (samples+1,) uint32, the same boundaries over stored tokens
    seq["max_seqlen"]    # int, the longest sample (expanded)
    seq["samples"]       # structured: input, flags, source_record, tok_record
    seq["images"]        # structured: sub, tiles, layout, form, flags, n_inline, token_pos,
                         #   position, tile_shard, tile_record, retiled_from, hash_hi, hash_lo
                         #   (flags: 1 hash, 2 tile reference, 4 features in meta["feature_cache"])
    shard.tile_shard_paths  # the tile shards images[...]["tile_shard"] indexes, as paths to open
    shard.input_paths       # the input tokfiles samples[...]["input"] indexes
The file is memory-mapped; a block is decompressed when first touched. The meta
stores those paths relative to the shard's own folder ("path_base": "shard_dir");
the properties resolve them (shards without path_base: as stored).
"""
import json
import mmap
import os
import struct

import numpy as np
import zstandard

try:  # checksums are verified when xxhash is available
    import xxhash
except ImportError:  # pragma: no cover
    xxhash = None

MAGIC, END = b"TSPACKv1", b"TSPKEND1"
IGNORE = -100
SUB_DTYPE = np.dtype([("input", "<u4"), ("flags", "<u4"), ("source_record", "<u8"), ("tok_record", "<u8")])
IMAGE_DTYPE = np.dtype([("sub", "<u4"), ("tiles", "<u4"), ("layout", "u1"), ("form", "u1"), ("flags", "u1"),
                        ("n_inline", "u1"), ("token_pos", "<u4"), ("position", "<u4"), ("tile_shard", "<i4"),
                        ("tile_record", "<u4"), ("retiled_from", "<u4"), ("hash_hi", "<u8"), ("hash_lo", "<u8")])
LAYOUTS, FORMS = "DXH", ("megatron", "hf")


class FormatError(ValueError):
    pass


def _xxh3(data):
    return xxhash.xxh3_64_intdigest(bytes(data))


class PackedShard:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        m = self._map
        if len(m) < 128 or m[0:8] != MAGIC or m[-8:] != END:
            raise FormatError("%s: not a tessera packed shard" % path)
        (version, flags, self.max_len, self.seqs_per_block, self.tokenizer_hash, self.params_hash,
         self.zstd_level, self.window, self.recipe_hash) = struct.unpack_from("<4I2Q2IQ", m, 8)
        if version != 1:
            raise FormatError("%s: packed shard version %d not supported" % (path, version))
        foot = len(m) - 64
        self.count, self.n_blocks, meta_off, meta_len, index_off, _, footer_sum = struct.unpack_from("<7Q", m, foot)
        if xxhash is not None:
            if _xxh3(m[0:56]) != struct.unpack_from("<Q", m, 56)[0]:
                raise FormatError("%s: header checksum mismatch" % path)
            h = xxhash.xxh3_64()
            h.update(m[0:64])
            h.update(m[meta_off:foot])
            h.update(m[foot:foot + 48])
            if h.intdigest() != footer_sum:
                raise FormatError("%s: footer checksum mismatch" % path)
        if index_off != meta_off + meta_len or foot - index_off != 32 * self.n_blocks or \
                self.n_blocks != -(-self.count // self.seqs_per_block):
            raise FormatError("%s: bad footer offsets" % path)
        self.meta = json.loads(bytes(m[meta_off:meta_off + meta_len]))
        self._index = np.frombuffer(m, dtype=np.dtype([("offset", "<u8"), ("zlen", "<u4"), ("raw", "<u4"),
                                                       ("zsum", "<u8"), ("rawsum", "<u8")]),
                                    count=self.n_blocks, offset=index_off)
        self._cached = (None, None)

    def __len__(self):
        return self.count

    def _resolve(self, stored):
        if self.meta.get("path_base") != "shard_dir" or os.path.isabs(stored):
            return stored
        return os.path.join(os.path.dirname(os.path.realpath(self.path)), stored)

    @property
    def tile_shard_paths(self):
        return [self._resolve(p) for p in self.meta.get("tile_shards", [])]

    @property
    def input_paths(self):
        return [self._resolve(e["path"]) for e in self.meta.get("inputs", [])]

    def _block(self, b):
        if self._cached[0] == b:
            return self._cached[1]
        e = self._index[b]
        frame = self._map[int(e["offset"]):int(e["offset"]) + int(e["zlen"])]
        if xxhash is not None and _xxh3(frame) != int(e["zsum"]):
            raise FormatError("%s: block %d: checksum mismatch" % (self.path, b))
        raw = zstandard.ZstdDecompressor().decompress(frame, max_output_size=int(e["raw"]))
        if len(raw) != int(e["raw"]) or (xxhash is not None and _xxh3(raw) != int(e["rawsum"])):
            raise FormatError("%s: block %d: raw size or checksum mismatch" % (self.path, b))
        self._cached = (b, raw)
        return raw

    def __getitem__(self, i):
        if not 0 <= i < self.count:
            raise IndexError(i)
        raw = self._block(i // self.seqs_per_block)
        k = i % self.seqs_per_block
        n = struct.unpack_from("<I", raw, 0)[0]
        start = struct.unpack_from("<I", raw, 4 + 4 * k)[0]
        end = struct.unpack_from("<I", raw, 8 + 4 * k)[0] if k + 1 < n else len(raw)
        nt, ns, ni, zero = struct.unpack_from("<4I", raw, start)
        if zero or 16 + 8 * (ns + 1) + 12 * nt + 24 * ns + 48 * ni != end - start:
            raise FormatError("%s: sequence %d: size does not match its counts" % (self.path, i))
        o = start + 16

        def take(dtype, count):
            nonlocal o
            a = np.frombuffer(raw, dtype=dtype, count=count, offset=o)
            o += a.nbytes
            return a
        cu = take("<i4", ns + 1)
        seq = {"cu_seqlens": cu, "cu_tokens": take("<u4", ns + 1), "input_ids": take("<u4", nt),
               "labels": take("<i4", nt), "position_ids": take("<i4", nt), "samples": take(SUB_DTYPE, ns),
               "images": take(IMAGE_DTYPE, ni)}
        seq["max_seqlen"] = int(np.diff(cu).max()) if ns else 0
        return seq

    def __iter__(self):
        for i in range(self.count):
            yield self[i]

    @staticmethod
    def image_hash(image):
        """The image's xxh3-128 as 32 hex digits (the feature cache key), or None."""
        return "%016x%016x" % (int(image["hash_hi"]), int(image["hash_lo"])) if image["flags"] & 1 else None
