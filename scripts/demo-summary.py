#!/usr/bin/python3
"""Print the summary table of a `tessera build` from its run manifest.

    demo-summary.py DIR/manifest.json

Per source: raw records in, kept and dropped (with reasons) by ingest and
prepare, tokens and images of the kept samples, the samples the mix plan
takes (and epochs); then the packed sequences, fill ratio and the time of
every stage (this run, and the run that made the outputs when skipped).
"""
import json
import sys


def reasons(d):
    return ", ".join("%s %d" % (k, v) for k, v in sorted((d or {}).items()) if v) or "-"


def main():
    m = json.load(open(sys.argv[1]))
    print("\n%-15s %6s %6s %7s  %-40s %7s %7s %6s %7s %6s" % (
        "source", "in", "kept", "dropped", "drop reasons (ingest + prepare)", "tokens", "length", "images", "in mix", "epochs"))
    for s in m["sources"]:
        ing, pre, mix = s["ingest"], s["prepare"], s["mix"]
        drops = dict(ing.get("dropped_by_reason", {}))
        for k, v in pre.get("dropped_by_reason", {}).items():
            drops[k] = drops.get(k, 0) + v
        print("%-15s %6d %6d %7d  %-40s %7d %7d %6d %7d %6d" % (
            s["name"], ing["records_in"], pre["kept"], ing["records_in"] - pre["kept"], reasons(drops)[:40],
            pre["tokens"], pre["length"], pre["images"], mix["target"], mix["epochs"]))
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
