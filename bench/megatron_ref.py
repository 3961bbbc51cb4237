#!/usr/bin/python3
"""Reference Megatron indexed-dataset writer for bench/megatron.sh, written
from the format description (megatron-nvlm-formats.md section 6) the way
Megatron's IndexedDatasetBuilder works: each document's ids go to the .bin as
np.array(ids, dtype).tofile(), the lengths are kept in lists, the .idx is
written at the end with numpy.

  megatron_ref.py ids PREFIX EOD     id lines on stdin (one document each, e.g. HF's
                                     output); EOD appended to non-empty documents
  megatron_ref.py tokfile FILE PREFIX   records of a tessera tokenized-sample file
One document = one sequence; an empty document has none. dtype int32 (code 4).
"""
import struct
import sys

import numpy as np


def documents_from_ids(stream, eod):
    for line in stream:
        ids = [int(x) for x in line.split()]
        yield ids + [eod] if ids else ids


def documents_from_tokfile(path):
    data = open(path, "rb").read()
    n, index_off = struct.unpack_from("<QQ", data, len(data) - 40)
    for off in np.frombuffer(data, "<u8", n, index_off).tolist():
        n_ids, n_images = struct.unpack_from("<II", data, off + 8)
        if not n_images:
            yield np.frombuffer(data, "<i4", n_ids, off + 24)


def write(prefix, docs):
    lengths, doc_idx = [], [0]
    with open(prefix + ".bin", "wb") as out:
        for ids in docs:
            if len(ids):
                np.array(ids, dtype=np.int32).tofile(out)
                lengths.append(len(ids))
            doc_idx.append(len(lengths))
    lengths = np.array(lengths, dtype=np.int32)
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        pointers[1:] = np.cumsum(lengths.astype(np.int64) * 4)[:-1]
    with open(prefix + ".idx", "wb") as idx:
        idx.write(b"MMIDIDX\x00\x00")
        idx.write(struct.pack("<Q", 1))
        idx.write(struct.pack("<B", 4))
        idx.write(struct.pack("<Q", len(lengths)))
        idx.write(struct.pack("<Q", len(doc_idx)))
        idx.write(lengths.tobytes(order="C"))
        idx.write(pointers.tobytes(order="C"))
        idx.write(np.array(doc_idx, dtype=np.int64).tobytes(order="C"))


if sys.argv[1] == "ids":
    write(sys.argv[2], documents_from_ids(sys.stdin, int(sys.argv[3])))
else:
    write(sys.argv[3], documents_from_tokfile(sys.argv[2]))
