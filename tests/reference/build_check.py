#!/usr/bin/python3
"""Independent checks of a `tessera build` folder (tests/reference/check_build.sh).

    build_check.py DIR

Reads only the files, with readers written from the format descriptions, never
tessera's C code: the run manifest (json), every output's size and xxh3-64
(python3-xxhash), the packed shards (readers/tessera_packed.py, numpy), the
Energon blend metadataset (PyYAML), the Megatron .bin/.idx (numpy, via
tests/reference/megatron_idx_read.py) against the tokenized samples (parsed
here from docs/TOKENIZER.md). Prints one "ok"/"FAIL" line per check and ends
with "N passed, N failed".
"""
import json
import os
import struct
import subprocess
import sys

import xxhash
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "readers"))
from tessera_packed import PackedShard  # noqa: E402

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + str(detail) if detail else ""))


def file_xxh3(path):
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tokfile_records(path):
    """Token ids of every record of a tokenized-sample file (v1 or v2)."""
    data = open(path, "rb").read()
    magic = data[:8]
    header = {b"TSTOKv1\0": 16, b"TSTOKv2\0": 32}.get(magic)
    if header is None or data[-8:] != b"TSTOKEND":
        raise ValueError("%s: not a tokfile" % path)
    n, index_off, digest, version = struct.unpack_from("<QQQI", data, len(data) - 40)
    if xxhash.xxh3_64_intdigest(data[:len(data) - 40]) != digest:
        raise ValueError("%s: checksum" % path)
    out = []
    for i in range(n):
        off = struct.unpack_from("<Q", data, index_off + 8 * i)[0]
        src, n_ids, n_images, length = struct.unpack_from("<QIIq", data, off)
        out.append(list(struct.unpack_from("<%di" % n_ids, data, off + 24)))
    return out


def main():
    d = sys.argv[1]
    m = json.load(open(os.path.join(d, "manifest.json")))
    check("manifest says it reconciles", m["reconcile"]["ok"], m["reconcile"]["problems"])

    # Counts reconcile, recomputed here from the per-stage counts.
    planned = 0
    for s in m["sources"]:
        ing, pre, mix = s["ingest"], s["prepare"], s["mix"]
        check("%s ingest: in = written + dropped by reason" % s["name"],
              ing["records_in"] == ing["written"] + sum(ing["dropped_by_reason"].values()), ing)
        check("%s prepare: in = ingest written = kept + dropped" % s["name"],
              pre["in"] == ing["written"] == pre["kept"] + sum(pre["dropped_by_reason"].values()), pre)
        check("%s mix: available = prepare kept" % s["name"], mix["available"] == pre["kept"])
        summary = json.load(open(os.path.join(d, s["energon"], "stats", "summary.json")))
        check("%s Energon summary agrees" % s["name"], summary.get("written") == ing["written"], summary)
        planned += mix["target"]
    p = m["pack"]
    check("mix samples = planned targets = pack samples in", m["mix"]["samples"] == planned == p["samples"])
    check("pack: in = packed + dropped", p["samples"] == p["samples_packed"] + sum(p["dropped_by_reason"].values()))
    check("every stage accounted for", len(m["stages"]) == 3 + sum(2 + (1 if s.get("megatron") else 0)
                                                                    for s in m["sources"]))

    # Every output listed with its true size and xxh3; nothing torn left behind.
    bad = []
    for o in m["outputs"]:
        path = os.path.join(d, o["path"])
        if not os.path.isfile(path) or os.path.getsize(path) != o["bytes"] or file_xxh3(path) != o["xxh3"]:
            bad.append(o["path"])
    check("%d outputs: sizes and xxh3 match the files" % len(m["outputs"]), not bad, bad[:5])
    temps = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if ".tmp-" in f]
    check("no writer temporaries left", not temps, temps[:5])

    # Packed shards: read back with the numpy reader.
    shards = [o["path"] for o in m["outputs"] if o["path"].endswith(".tspack")]
    n_seq = n_samples = tokens = 0
    per_source = {}
    longest = 0
    recipe_hashes = set()
    for rel in shards:
        sh = PackedShard(os.path.join(d, rel))
        recipe_hashes.add("%016x" % sh.recipe_hash)
        for i in range(len(sh)):
            seq = sh[i]
            n_seq += 1
            tokens += len(seq["input_ids"])
            cu = seq["cu_seqlens"]
            longest = max(longest, int(cu[-1]))
            n_samples += len(seq["samples"])
            for rec in seq["samples"]["source_record"]:
                src = int(rec) >> 48
                per_source[src] = per_source.get(src, 0) + 1
    check("packed: %d shards, as the manifest says" % len(shards), len(shards) == p["shards"] >= 1)
    check("packed: %d sequences read back" % n_seq, n_seq == p["sequences"], (n_seq, p["sequences"]))
    check("packed: samples and tokens as counted", n_samples == p["samples_packed"] and tokens == p["tokens"],
          (n_samples, tokens))
    check("packed: headers carry the recipe's hash", recipe_hashes == {m["recipe"]["canonical_xxh3_128"][:16]},
          (recipe_hashes, m["recipe"]["canonical_xxh3_128"]))
    check("packed: no sequence over max_len", longest <= p["max_len"], longest)
    want = {i: s["mix"]["target"] for i, s in enumerate(m["sources"]) if s["mix"]["target"]}
    check("packed: samples per source = the mix plan's targets", per_source == want, (per_source, want))
    check("packed: fill ratio as reported", abs(p["positions"] / (p["sequences"] * p["max_len"]) - p["fill"]) < 1e-9)

    # The Energon blend metadataset, with PyYAML.
    ypath = os.path.join(d, "energon", "metadataset.yaml")
    y = yaml.safe_load(open(ypath))
    ds = y["splits"]["train"]["datasets"]
    check("metadataset: v1 Metadataset", y.get("__module__") == "megatron.energon" and y.get("__class__") == "Metadataset")
    total = m["mix"]["samples"]
    weights = {os.path.basename(e["path"]): e["weight"] for e in ds}
    want_w = {s["energon"].split("/")[-1]: s["mix"]["target"] / total for s in m["sources"] if s["mix"]["target"]}
    check("metadataset: weights = planned shares", weights.keys() == want_w.keys() and
          all(abs(weights[k] - want_w[k]) < 1e-12 for k in want_w), (weights, want_w))
    check("metadataset: every path is a complete Energon dataset",
          all(os.path.isfile(os.path.join(os.path.dirname(ypath), e["path"], ".nv-meta", ".info.yaml")) for e in ds))

    # Megatron .bin/.idx of the text-only sources = their tokenized samples.
    for s in m["sources"]:
        if not s.get("megatron"):
            continue
        prefix = os.path.join(d, "megatron", s["name"])
        r = subprocess.run([sys.executable, os.path.join(HERE, "megatron_idx_read.py"), prefix],
                           capture_output=True, text=True)
        docs = [[int(x) for x in line.split()] for line in r.stdout.splitlines()]
        want_docs = tokfile_records(os.path.join(d, "prepared", s["name"], "samples.tok"))
        check("megatron %s: read back, documents = tokenized samples" % s["name"], r.returncode == 0 and docs == want_docs,
              r.stderr[-300:])
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
