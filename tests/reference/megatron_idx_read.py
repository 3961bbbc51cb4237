#!/usr/bin/python3
"""Independent reader of a Megatron-LM indexed dataset (PREFIX.idx + PREFIX.bin),
written from the format description (shared/reference/megatron-nvlm-formats.md
section 6, i.e. megatron/core/datasets/indexed_dataset.py), with numpy, the way
Megatron's _IndexReader does: np.frombuffer views at fixed offsets.

Usage: megatron_idx_read.py PREFIX [IDS_OUT]
Checks the header and the consistency of the arrays, then writes one line per
document to IDS_OUT (default stdout): the ids of its sequences concatenated,
space-separated (an empty line for a document with no sequence). The last line
on stderr is a JSON summary. Exit status 1 with a message on any violation.
"""
import json
import os
import sys

import numpy as np

DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}


def fail(msg):
    print("megatron_idx_read: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    prefix = sys.argv[1]
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    idx = open(prefix + ".idx", "rb").read()
    if idx[:9] != b"MMIDIDX\x00\x00":
        fail("bad magic")
    version = int(np.frombuffer(idx, np.uint64, 1, 9)[0])
    if version != 1:
        fail(f"version {version}")
    code = idx[17]
    if code not in DTYPES:
        fail(f"dtype code {code}")
    dtype = np.dtype(DTYPES[code])
    seq_count = int(np.frombuffer(idx, np.uint64, 1, 18)[0])
    doc_count = int(np.frombuffer(idx, np.uint64, 1, 26)[0])
    off = 34
    expected = off + 12 * seq_count + 8 * doc_count
    if len(idx) != expected:  # text only: no sequence_modes after the document indices
        fail(f".idx is {len(idx)} bytes, header implies {expected}")
    lengths = np.frombuffer(idx, np.int32, seq_count, off)
    pointers = np.frombuffer(idx, np.int64, seq_count, off + 4 * seq_count)
    doc_idx = np.frombuffer(idx, np.int64, doc_count, off + 12 * seq_count)
    bin_size = os.path.getsize(prefix + ".bin")
    # pointer_0 = 0, pointer_{i+1} = pointer_i + length_i * itemsize
    want = np.zeros(seq_count, np.int64)
    if seq_count:
        want[1:] = np.cumsum(lengths.astype(np.int64) * dtype.itemsize)[:-1]
    if not np.array_equal(pointers, want):
        fail("sequence pointers are not the running byte offsets of the lengths")
    total = int(lengths.astype(np.int64).sum()) * dtype.itemsize
    if total != bin_size:
        fail(f".bin is {bin_size} bytes, lengths imply {total}")
    if (lengths < 0).any():
        fail("negative sequence length")
    if doc_count < 1 or doc_idx[0] != 0 or doc_idx[-1] != seq_count or (np.diff(doc_idx) < 0).any():
        fail("document indices are not 0 ... sequence_count, non-decreasing")
    data = np.memmap(prefix + ".bin", dtype=dtype, mode="r") if bin_size else np.zeros(0, dtype)
    for d in range(doc_count - 1):
        parts = []
        for s in range(int(doc_idx[d]), int(doc_idx[d + 1])):
            start = int(pointers[s]) // dtype.itemsize
            parts.append(data[start : start + int(lengths[s])])
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype)
        out.write(" ".join(map(str, ids.tolist())) + "\n")
    out.flush()
    print(json.dumps({"dtype": dtype.name, "dtype_code": code, "sequences": seq_count, "documents": doc_count - 1,
                      "tokens": int(lengths.astype(np.int64).sum())}), file=sys.stderr)


main()
