#!/usr/bin/python3
"""Independent check of a packed shard against the tokfiles it was packed from.

Usage: pack_check.py SHARD MAX_LEN TOKFILE... [--tiles TILES --images DIR]
Reads the tokfiles with its own parser (docs/TOKENIZER.md §6) and the shard
with readers/tessera_packed.py (docs/PACKING.md), then derives every expected
id, label and position from the docs' rules and compares. With --tiles, each
image's tile reference must name the tile shard record whose content hash is
the xxh3-128 of the image file (computed here from the file bytes) and whose
tile count is the slot's: the image's first record, or for an image re-tiled
to fit the budget the record keyed "<hash>-<tiles>" (docs/PREPARE.md).
Prints "N passed, M failed".
"""
import os
import struct
import sys

import numpy as np
import xxhash

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "readers"))
from tessera_packed import PackedShard  # noqa: E402
from tessera_tiles import TileShard  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)


def expected_tiles(ts, tile_by_hash, h, tiles):
    first = tile_by_hash.get(h)
    if first is None:
        return None
    if ts.record(first)["tiles"] == tiles:
        return first
    i = ts.keys().index("%s-%d" % (h, tiles)) if "%s-%d" % (h, tiles) in ts.keys() else None
    r = ts.record(i) if i is not None else None
    return i if r and r["tiles"] == tiles and r["content_hash"] == h else None


def read_tokfile(path):
    d = open(path, "rb").read()
    assert d[:8] in (b"TSTOKv1\0", b"TSTOKv2\0") and d[-8:] == b"TSTOKEND", path
    n, index_off, checksum, version = struct.unpack_from("<3QI", d, len(d) - 40)
    assert xxhash.xxh3_64_intdigest(d[:len(d) - 40]) == checksum, path
    img_bytes = 160 if version == 2 else 144
    recs = []
    for i in range(n):
        off = struct.unpack_from("<Q", d, index_off + 8 * i)[0]
        src, n_ids, n_img, length = struct.unpack_from("<QIIq", d, off)
        o = off + 24
        ids = np.frombuffer(d, "<i4", n_ids, o).astype(np.int64)
        o += 4 * n_ids
        mask = np.frombuffer(d, "u1", n_ids, o).astype(np.int64)
        o += n_ids + (4 - n_ids % 4) % 4
        images = []
        for k in range(n_img):
            tiles, cap, retiled, layout, form, flags = struct.unpack_from("<3i3B", d, o)
            token_pos = struct.unpack_from("<q", d, o + 16)[0]
            tag = struct.unpack_from("<7q", d, o + 24)
            feat = struct.unpack_from("<7q", d, o + 80)
            inl = list(d[o + 136:o + 143])
            hi, lo = struct.unpack_from("<2Q", d, o + 144) if version == 2 else (0, 0)
            images.append(dict(tiles=tiles, layout=layout, form=form, has_hash=flags & 1, token_pos=token_pos,
                               tag=tag, feat=feat, inline=inl[:tiles], hash="%016x%016x" % (hi, lo)))
            o += img_bytes
        recs.append(dict(src=src, ids=ids, mask=mask, length=length, images=images))
    return recs


def expected(rec, n_tokens):
    """positions, labels and the start token of each image, by docs/PACKING.md §2."""
    ids, mask = rec["ids"][:n_tokens], rec["mask"][:n_tokens]
    width = np.ones(n_tokens, dtype=np.int64)
    starts, anchors = [], []  # first markup token; where the features go
    for im in rec["images"]:
        tags, feats = [p for p in im["tag"] if p >= 0], [p for p in im["feat"] if p >= 0]
        if im["form"] == 0 and im["token_pos"] >= 0 and im["token_pos"] < n_tokens:
            width[im["token_pos"]] = sum(im["inline"]) * 261
        starts.append(min(tags + feats + ([im["token_pos"]] if im["token_pos"] >= 0 else [])))
        anchors.append(im["token_pos"] if im["token_pos"] >= 0 else min(feats) if feats else min(tags))
    pos = np.concatenate([[0], np.cumsum(width)[:-1]])
    labels = np.full(n_tokens, -100, dtype=np.int64)
    nxt = mask[1:] == 1
    labels[:-1][nxt] = ids[1:][nxt]
    return pos, labels, int(width.sum()), starts, anchors


def main():
    args = sys.argv[1:]
    tiles = images_dir = None
    if "--tiles" in args:
        k = args.index("--tiles")
        tiles, images_dir = args[k + 1], args[k + 3]
        del args[k:k + 4]
    shard_path, max_len, tokfiles = args[0], int(args[1]), args[2:]
    inputs = [read_tokfile(p) for p in tokfiles]
    shard = PackedShard(shard_path)
    check(shard.max_len == max_len, "header max_len")
    tile_by_hash = {}
    if tiles:
        ts = TileShard(tiles)
        for i in range(ts.count):
            r = ts.record(i)
            tile_by_hash.setdefault(r["content_hash"], i)
        file_hash = {xxhash.xxh3_128_hexdigest(open(os.path.join(images_dir, f), "rb").read())
                     for f in os.listdir(images_dir)}
    seen = {}
    positions = tokens = 0
    ok = dict(ids=True, labels=True, pos=True, cu=True, images=True, tiles=True, maxlen=True)
    for i in range(len(shard)):
        s = shard[i]
        cu, cut = s["cu_seqlens"].astype(np.int64), s["cu_tokens"].astype(np.int64)
        ok["maxlen"] &= 0 < cu[-1] <= max_len and cu[0] == 0 and cut[0] == 0 and cut[-1] == len(s["input_ids"])
        positions += int(cu[-1])
        tokens += len(s["input_ids"])
        imgs = s["images"]
        for j, sub in enumerate(s["samples"]):
            key = (int(sub["input"]), int(sub["tok_record"]))
            seen[key] = seen.get(key, 0) + 1
            rec = inputs[key[0]][key[1]]
            a, b = int(cut[j]), int(cut[j + 1])
            n = b - a
            truncated = bool(sub["flags"] & 1)
            ok["ids"] &= int(sub["source_record"]) == rec["src"] and (n == len(rec["ids"]) or (truncated and n < len(rec["ids"])))
            pos, labels, length, starts, anchors = expected(rec, n)
            ok["ids"] &= np.array_equal(s["input_ids"][a:b].astype(np.int64), rec["ids"][:n])
            ok["labels"] &= np.array_equal(s["labels"][a:b].astype(np.int64), labels)
            ok["pos"] &= np.array_equal(s["position_ids"][a:b].astype(np.int64), pos)
            ok["cu"] &= int(cu[j + 1] - cu[j]) == (rec["length"] if not truncated else length)
            mine = imgs[imgs["sub"] == j]
            kept = [k for k, st in enumerate(starts) if st < n] if truncated else list(range(len(starts)))
            ok["images"] &= len(mine) == len(kept)
            for im, k in zip(mine, kept):
                src = rec["images"][k]
                ok["images"] &= (int(im["tiles"]) == src["tiles"] and int(im["token_pos"]) == a + anchors[k] and
                                 int(im["layout"]) == src["layout"] and int(im["form"]) == src["form"] and
                                 int(im["position"]) == int(pos[anchors[k]]) and
                                 PackedShard.image_hash(im) == (src["hash"] if src["has_hash"] else None))
                if tiles:
                    h = src["hash"]
                    want = expected_tiles(ts, tile_by_hash, h, src["tiles"]) if h in file_hash else None
                    got = int(im["tile_record"]) if im["tile_shard"] == 0 else None
                    ok["tiles"] &= want == got
    for k, v in ok.items():
        check(v, "every sequence: " + k)
    st = shard.meta["stats"]
    dropped = sum(st["dropped"].values())
    total = sum(len(r) for r in inputs)
    check(all(v == 1 for v in seen.values()), "every packed sample appears exactly once")
    check(len(seen) + dropped == total == st["samples_in"], "packed + dropped == input samples")
    check(st["positions"] == positions and st["tokens"] == tokens and st["sequences"] == len(shard), "meta stats")
    check(abs(st["fill"] - positions / (len(shard) * max_len)) < 1e-9 if len(shard) else st["fill"] == 0, "fill")
    if tiles:
        check(st["images_with_tiles"] > 0, "some images resolved to tiles")
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
