#!/usr/bin/python3
"""Print the summary table of a `tessera build` from its run manifest.

    demo-summary.py DIR/manifest.json

Per source: raw records in, kept and dropped (with reasons) by ingest and
prepare, tokens and images of the kept samples, the samples the mix plan
takes (and epochs), and from the packed shards (read with
readers/tessera_packed.py) the sequences holding its samples and its share of
the packed positions; then the totals, fill ratio and the time of every stage
(this run, and the run that made the outputs when skipped).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "readers"))
from tessera_packed import PackedShard  # noqa: E402


def reasons(d):
    return ", ".join("%s %d" % (k, v) for k, v in sorted((d or {}).items()) if v) or "-"


def packed_by_source(build_dir, outputs):
    """Per source index: (sequences holding its samples, positions)."""
    seqs, positions = {}, {}
    for o in outputs:
        if not o["path"].endswith(".tspack"):
            continue
        shard = PackedShard(os.path.join(build_dir, o["path"]))
        for i in range(len(shard)):
            seq = shard[i]
            cu = seq["cu_seqlens"]
            seen = set()
            for k, rec in enumerate(seq["samples"]["source_record"]):
                src = int(rec) >> 48  # docs/BUILD.md: source index << 48 | ordinal
                positions[src] = positions.get(src, 0) + int(cu[k + 1] - cu[k])
                seen.add(src)
            for src in seen:
                seqs[src] = seqs.get(src, 0) + 1
    return seqs, positions


def main():
    m = json.load(open(sys.argv[1]))
    seqs, positions = packed_by_source(os.path.dirname(sys.argv[1]), m["outputs"])
    total_pos = sum(positions.values()) or 1
    print("\n%-15s %6s %6s %7s  %-40s %7s %7s %6s %7s %6s %5s %6s" % (
        "source", "in", "kept", "dropped", "drop reasons (ingest + prepare)", "tokens", "length", "images", "in mix",
        "epochs", "seqs", "share"))
    for i, s in enumerate(m["sources"]):
        ing, pre, mix = s["ingest"], s["prepare"], s["mix"]
        drops = dict(ing.get("dropped_by_reason", {}))
        for k, v in pre.get("dropped_by_reason", {}).items():
            drops[k] = drops.get(k, 0) + v
        print("%-15s %6d %6d %7d  %-40s %7d %7d %6d %7d %6d %5d %5.1f%%" % (
            s["name"], ing["records_in"], pre["kept"], ing["records_in"] - pre["kept"], reasons(drops)[:40],
            pre["tokens"], pre["length"], pre["images"], mix["target"], mix["epochs"], seqs.get(i, 0),
            100.0 * positions.get(i, 0) / total_pos))
    p = m["pack"]
    print("\npacked: %d samples -> %d sequences of <= %d positions, %d tokens stored, %d positions, fill %.2f%%" % (
        p["samples"], p["sequences"], p["max_len"], p["tokens"], p["positions"], 100 * p["fill"]))
    for s in m["sources"]:
        if s.get("megatron"):
            g = s["megatron"]
            print("megatron: %s: %d documents, %d tokens (%s)" % (s["name"], g["documents"], g["tokens"], g["dtype"]))
    print("reconciles: %s" % ("yes" if m["reconcile"]["ok"] else "NO: " + "; ".join(m["reconcile"]["problems"])))
    print("\n%-34s %8s %10s" % ("stage", "status", "seconds"))
    for st in m["stages"]:
        secs = st["seconds"] if st["status"] == "ran" else st["stamped_seconds"]
        print("%-34s %8s %10.2f%s" % (st["name"], st["status"], secs, "" if st["status"] == "ran" else " (when made)"))
    print("%-34s %8s %10.2f" % ("total", "", m["seconds"]))


if __name__ == "__main__":
    main()
