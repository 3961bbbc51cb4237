"""Reference writer for bench/energon.sh: the same captioning shards written
with Python's tarfile, the module WebDataset's ShardWriter builds on (one
.jpg + one .txt member per record, shards rotated by size, a .tar.idx from
TarInfo offsets). Prints records/s as JSON."""
import json
import os
import struct
import sys
import tarfile
import time

src, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = os.path.dirname(os.path.abspath(src))
os.makedirs(out, exist_ok=True)
start = time.time()
shard, tf, offsets, n = 0, None, [], 0


def close():
    global tf
    if tf:
        offsets.append(tf.offset)
        tf.close()
        with open(tf.name + ".idx", "wb") as f:
            f.write(struct.pack("<%dQ" % len(offsets), *offsets))
        tf = None


for line in open(src, encoding="utf-8"):
    rec = json.loads(line)
    img = open(os.path.join(base, rec["images"][0]["path"]), "rb").read()
    txt = rec["text"].encode("utf-8")
    if tf and tf.offset + len(img) + len(txt) + 2048 > limit:
        close()
        shard += 1
    if not tf:
        tf = tarfile.open(os.path.join(out, "shard-%06d.tar" % shard), "w", format=tarfile.USTAR_FORMAT)
        offsets = []
    offsets.append(tf.offset)
    for name, data in ((rec["key"] + ".jpg", img), (rec["key"] + ".txt", txt)):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, __import__("io").BytesIO(data))
    n += 1
close()
print(json.dumps({"records": n, "seconds": time.time() - start}))
