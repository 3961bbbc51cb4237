#!/usr/bin/python3
"""Independent reader of tessera's tokenized-sample file (docs/TOKENIZER.md
section 6; versions 1 and 2), for the Megatron export check: verifies the footer, the checksum
(python3-xxhash) and the index, then writes one line per record without images:
its ids, space-separated. Records with images are counted, not written.

Usage: tokfile_read.py FILE.tstok IDS_OUT   (stderr: {"records", "with_images"})
"""
import json
import struct
import sys

import numpy as np
import xxhash

data = open(sys.argv[1], "rb").read()
assert data[:8] in (b"TSTOKv1\x00", b"TSTOKv2\x00") and data[-8:] == b"TSTOKEND", "magic"
n, index_off, checksum, version = struct.unpack_from("<QQQI", data, len(data) - 40)
assert version == data[6] - ord("0"), "version"  # records are laid out alike in v1 and v2
assert xxhash.xxh3_64_intdigest(data[: len(data) - 40]) == checksum, "checksum"
offsets = np.frombuffer(data, "<u8", n, index_off)
with_images = 0
with open(sys.argv[2], "w") as out:
    for off in offsets.tolist():
        _, n_ids, n_images, _ = struct.unpack_from("<QIIq", data, off)
        if n_images:
            with_images += 1
            continue
        ids = np.frombuffer(data, "<i4", n_ids, off + 24)
        out.write(" ".join(map(str, ids.tolist())) + "\n")
print(json.dumps({"records": n, "with_images": with_images}), file=sys.stderr)
