#!/usr/bin/env python3
"""Independent checks of tessera's mix outputs, written from docs/MIXING.md
(plan file layout, planning rules, keyed permutation) and from the Energon
metadataset description in the Megatron/NVLM formats reference (section 1.6),
not from tessera's C code.

  mix_check.py plan PLAN RECIPE COUNTS [--seed N]   parse + verify a .tsmix plan
  mix_check.py dump PLAN DUMP                       `tessera mix --dump` == the binary
  mix_check.py yaml YAML RECIPE [PLAN]              metadataset YAML via PyYAML
  mix_check.py reject PLAN                          must fail to verify (negative control)

Prints "ok ..." / "FAIL ..." lines and ends with "N passed, N failed".
"""
import json
import math
import os
import struct
import sys

import numpy as np
import xxhash
import yaml

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok  ", what)
    else:
        failed += 1
        print("FAIL", what)
    return cond


M64 = (1 << 64) - 1
G = 0x9E3779B97F4A7C15


def mix64(z):
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & M64
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & M64
    return z ^ (z >> 31)


class Perm:
    """The keyed permutation of [0, n) as docs/MIXING.md describes it."""

    def __init__(self, n, key):
        self.n = n
        b = 2
        while 2 ** b < n:
            b += 1
        self.lo = b - b // 2
        self.lo_mask, self.hi_mask = (1 << self.lo) - 1, (1 << (b // 2)) - 1
        self.keys, k = [], key
        for _ in range(6):
            k = mix64((k + G) & M64)
            self.keys.append(k)

    def __call__(self, x):
        if self.n <= 1:
            return x
        while True:
            hi, lo = x >> self.lo, x & self.lo_mask
            for r in range(0, 6, 2):
                hi ^= mix64(lo ^ self.keys[r]) & self.hi_mask
                lo ^= mix64(hi ^ self.keys[r + 1]) & self.lo_mask
            x = (hi << self.lo) | lo
            if x < self.n:
                return x


def parse_plan(path):
    data = open(path, "rb").read()
    assert data[:8] == b"TSMIXPL1", "magic"
    version, S, seed, hh, hl, N, target, kind, esize = struct.unpack_from("<IIQQQQQII", data, 8)
    assert version == 1 and esize == 16, "version/entry size"
    assert len(data) == 64 + 96 * S + 16 * N + 16, "file size"
    assert data[-8:] == b"TSMIXEND", "footer magic"
    assert struct.unpack_from("<Q", data, len(data) - 16)[0] == xxhash.xxh3_64_intdigest(data[:-16]), "checksum"
    sources = []
    for i in range(S):
        off = 64 + 96 * i
        name = data[off:off + 64].rstrip(b"\0").decode()
        a, k, t, ep, flags = struct.unpack_from("<QQQII", data, off + 64)
        sources.append(dict(name=name, available=a, tokens=k, target=t, epochs=ep, capped=bool(flags & 1)))
    entries = np.frombuffer(data, dtype=np.dtype([("source", "<u4"), ("epoch", "<u4"), ("record", "<u8")]),
                            count=N, offset=64 + 96 * S)
    return dict(seed=seed, hash=(hh << 64) | hl, items=N, target=target, kind=kind, sources=sources,
                entries=entries)


def apportion(total, units):
    U = sum(units)
    q = [total * u // U for u in units]
    rem = [(total * u % U, -i) for i, u in enumerate(units)]
    order = sorted((r for r in rem if units[-r[1]]), reverse=True)
    for r in order[: total - sum(q)]:
        q[-r[1]] += 1
    return q


def rnd(a, b, c):
    return (a * b + c // 2) // c


def expected_targets(recipe, counts):
    """The planning rules of docs/MIXING.md, re-derived."""
    srcs = recipe["sources"]
    tgt = recipe.get("target", {})
    unit = "tokens" if "tokens" in tgt else "samples"
    budget = tgt.get(unit, 0)
    out, capped = {}, {}
    for s in srcs:
        c = counts[s["name"]]
        a, k = (c, 0) if isinstance(c, int) else (c["samples"], c.get("tokens", 0))
        s["_a"], s["_k"] = a, k
    for s in srcs:
        if "weight" in s:
            continue
        n = s["samples"] if "samples" in s else rnd(s["tokens"], s["_a"], s["_k"])
        out[s["name"]] = n
        budget -= rnd(n, s["_k"], s["_a"]) if unit == "tokens" else n
    active = [s for s in srcs if "weight" in s]
    while active:
        shares = apportion(budget, [round(s["weight"] * 1e9) for s in active])
        over = [(s, sh) for s, sh in zip(active, shares)
                if "max_epochs" in s and sh > s["max_epochs"] * (s["_k"] if unit == "tokens" else s["_a"])]
        if not over:
            for s, sh in zip(active, shares):
                out[s["name"]] = rnd(sh, s["_a"], s["_k"]) if unit == "tokens" else sh
            break
        for s, _ in over:
            cap = s["max_epochs"] * (s["_k"] if unit == "tokens" else s["_a"])
            budget -= cap
            out[s["name"]] = s["max_epochs"] * s["_a"]
            capped[s["name"]] = True
            active.remove(s)
    return out, capped


def cmd_plan(plan_path, recipe_path, counts_path, seed=None):
    p = parse_plan(plan_path)
    check(True, f"{plan_path}: parses (size, magic, version, xxh3 footer)")
    recipe = json.load(open(recipe_path))
    counts = json.load(open(counts_path))
    seed = recipe["seed"] if seed is None else seed
    check(p["seed"] == seed, f"seed {p['seed']} == {seed}")
    want, capped = expected_targets(recipe, counts)
    srcs = p["sources"]
    check([s["name"] for s in srcs] == [s["name"] for s in recipe["sources"]], "sources in recipe order")
    check(all(s["target"] == want[s["name"]] for s in srcs),
          f"per-source targets follow the rules: {[s['target'] for s in srcs]} == {[want[s['name']] for s in srcs]}")
    check(all(s["capped"] == capped.get(s["name"], False) for s in srcs), "capped flags")
    check(p["items"] == sum(want.values()), f"items {p['items']}")
    check(all(s["epochs"] == -(-s["target"] // s["available"]) for s in srcs), "epochs = ceil(target / available)")
    e = p["entries"]
    # Per-source counts, and the multiset: every (source, epoch, record) at most once.
    per = np.bincount(e["source"], minlength=len(srcs))
    check(all(per[i] == s["target"] for i, s in enumerate(srcs)), f"per-source item counts {per.tolist()}")
    ok_range = all(((e["source"] == i) <= ((e["epoch"] < s["epochs"]) & (e["record"] < s["available"]))).all()
                   for i, s in enumerate(srcs))
    check(ok_range, "every entry in range")
    key = (e["source"].astype(np.uint64) << np.uint64(40)) | (e["epoch"].astype(np.uint64) << np.uint64(32)) | e["record"]
    check(len(np.unique(key)) == len(key), "no (source, epoch, record) twice: a permutation of the multiset")
    full_ok = partial_ok = True
    for i, s in enumerate(srcs):
        sel = e[e["source"] == i]
        full, part = divmod(s["target"], s["available"])
        for ep in range(s["epochs"]):
            n = int((sel["epoch"] == ep).sum())
            full_ok &= n == (s["available"] if ep < full else part)
        if part:
            pi = Perm(s["available"], xxhash.xxh3_64_intdigest(s["name"].encode()) ^ (seed * G & M64))
            got = set(sel["record"][sel["epoch"] == full].tolist())
            partial_ok &= got == {pi(j) for j in range(part)}
    check(full_ok, "full epochs cover every record, the last holds target % available")
    check(partial_ok, "the partial epoch is the prefix of the source's keyed permutation")
    # The order itself, from the documented permutation (all of it when small).
    P = Perm(p["items"], seed ^ 0x6A09E667F3BCC909)
    offs = np.cumsum([0] + [s["target"] for s in srcs])
    pis = [Perm(s["available"], xxhash.xxh3_64_intdigest(s["name"].encode()) ^ (seed * G & M64)) for s in srcs]
    n_check = min(p["items"], 10000)
    same = True
    for pos in range(n_check):
        g = P(pos)
        i = int(np.searchsorted(offs, g, side="right") - 1)
        s = srcs[i]
        j = g - int(offs[i])
        want_e = (i, j // s["available"], pis[i](j % s["available"]))
        if tuple(int(x) for x in e[pos]) != want_e:
            same = False
            print(f"  position {pos}: {tuple(e[pos])} != {want_e}")
            break
    check(same, f"first {n_check} positions match the documented permutation")
    # Uniformity: positions of each source over 10 bins, chi-square (df 9*(S-1)).
    nz = [i for i, s in enumerate(srcs) if s["target"]]
    if len(nz) > 1 and p["items"] >= 1000:
        bins = 10
        edges = np.linspace(0, p["items"], bins + 1).astype(np.int64)
        chi = 0.0
        for b in range(bins):
            seg = e["source"][edges[b]:edges[b + 1]]
            cnt = np.bincount(seg, minlength=len(srcs))
            for i in nz:
                exp = (edges[b + 1] - edges[b]) * srcs[i]["target"] / p["items"]
                chi += (cnt[i] - exp) ** 2 / exp
        df = (bins - 1) * (len(nz) - 1)
        bound = df + 4 * math.sqrt(2 * df)  # mean + 4 sd of chi-square(df)
        check(chi < bound, f"positions spread evenly: chi-square {chi:.1f} < {bound:.1f} (df {df})")
    return p


def cmd_dump(plan_path, dump_path):
    p = parse_plan(plan_path)
    lines = [json.loads(l) for l in open(dump_path)]
    head, srcs, items = lines[0], lines[1:1 + len(p["sources"])], lines[1 + len(p["sources"]):]
    check(head["items"] == p["items"] and head["seed"] == p["seed"] and int(head["recipe_hash"], 16) == p["hash"],
          "dump header matches the binary header")
    check([s["source"] for s in srcs] == [s["name"] for s in p["sources"]] and
          [s["target"] for s in srcs] == [s["target"] for s in p["sources"]], "dump sources match")
    e = p["entries"]
    check(len(items) == min(len(e), len(items)) and all(
        (it["i"], it["source_id"], it["epoch"], it["record"]) == (k, int(e[k][0]), int(e[k][1]), int(e[k][2]))
        for k, it in enumerate(items)), f"{len(items)} dumped items match the binary entries")


def cmd_yaml(yaml_path, recipe_path, plan_path=None):
    doc = yaml.safe_load(open(yaml_path))
    recipe = json.load(open(recipe_path))
    check(doc.get("__module__") == "megatron.energon" and doc.get("__class__") == "Metadataset",
          "v1 Metadataset header")
    ds = doc["splits"]["train"]["datasets"]
    check(isinstance(ds, list) and ds, "splits.train.datasets is a non-empty list")
    check(all(isinstance(d["weight"], float) and d["weight"] > 0 for d in ds), "weights are floats > 0")
    check(all(isinstance(d["path"], str) for d in ds), "paths are strings")
    check(all(d["subflavors"].get("augmentation") is False for d in ds), "subflavors.augmentation is False")
    by = {s["name"]: s for s in recipe["sources"]}
    names = [os.path.basename(d["path"]) for d in ds]
    if plan_path:
        p = parse_plan(plan_path)
        want = {s["name"]: s["target"] / p["items"] for s in p["sources"] if s["target"]}
    else:
        tot = sum(s["weight"] for s in recipe["sources"])
        want = {s["name"]: s["weight"] / tot for s in recipe["sources"]}
    tot = sum(d["weight"] for d in ds)
    check(sorted(names) == sorted(by[n].get("energon", n).split("/")[-1] for n in want), "one dataset per source")
    check(all(abs(d["weight"] / tot - want[n]) < 1e-12 for d, n in zip(ds, names)),
          "normalized weights equal the planned shares" if plan_path else "normalized weights equal the recipe's")
    check(all({k: v for k, v in d["subflavors"].items() if k != "augmentation"} ==
              {k: v for k, v in by[n].get("subflavors", {}).items() if k != "augmentation"} for d, n in zip(ds, names)),
          "subflavors carried over")
    check(all(d.get("split_part", "train") == by[n].get("split", "train") for d, n in zip(ds, names)),
          "split parts carried over")
    base = os.path.dirname(os.path.abspath(yaml_path))
    resolved = [os.path.normpath(os.path.join(base, d["path"])) for d in ds]
    check(all(os.path.isfile(os.path.join(r, ".nv-meta", ".info.yaml")) for r in resolved) or
          not any(os.path.isdir(r) for r in resolved),
          "paths resolve (relative to the YAML) to the Energon datasets where they exist")


def cmd_reject(plan_path):
    try:
        parse_plan(plan_path)
        check(False, f"{plan_path}: corrupt plan rejected")
    except AssertionError as e:
        check(True, f"{plan_path}: corrupt plan rejected ({e})")


def main():
    a = sys.argv[1:]
    try:
        if a[0] == "plan":
            cmd_plan(a[1], a[2], a[3], int(a[5]) if len(a) > 5 and a[4] == "--seed" else None)
        elif a[0] == "dump":
            cmd_dump(a[1], a[2])
        elif a[0] == "yaml":
            cmd_yaml(a[1], a[2], a[3] if len(a) > 3 else None)
        elif a[0] == "reject":
            cmd_reject(a[1])
    except Exception as e:  # a crash is a failure with its reason
        check(False, f"{' '.join(a)}: {type(e).__name__}: {e}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
