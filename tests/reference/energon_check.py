#!/usr/bin/python3
"""Independent checker for Megatron-Energon datasets and metadataset YAMLs.

Written from the format description (docs/ENERGON.md, the Megatron/Energon
brief), not from tessera's C code. It reads datasets the way Energon does:

* every shard with Python's tarfile (names, sizes, bytes, offsets);
* every shard a second time by walking raw 512-byte ustar headers itself;
* <shard>.tar.idx: count+1 little-endian u64, entry i = offset of the first
  header block of sample i, last = end of the last member's padded data;
* .nv-meta/{dataset.yaml, split.yaml, .info.yaml, .info.json} with PyYAML;
* samples decoded as WebDataset/Energon would: images with Pillow converted
  to RGB, .json with json.loads, .txt as UTF-8; then mapped to the sample
  type with the field_map (part[key][idx] access) or by calling the
  dataset's own sample_loader.py; then the fields checked against what
  Megatron's NVLM TaskEncoder needs.

Usage:
  energon_check.py dataset DIR [--expect IN.jsonl] [--expect-drop REASON=N ...]
  energon_check.py blend FILE.yaml PATH=WEIGHT ...
Prints one line per check and "N passed, N failed" last.
"""
import importlib.util
import io
import json
import os
import re
import struct
import sys
import tarfile

import yaml
from PIL import Image

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL", what)
    return cond


# Energon's member-name split: key = up to the first dot of the last component.
NAME_RE = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")
SKIP_RE = re.compile(r"__[^/]*__($|/)")
IMAGE_EXTS = {"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "ppm"}
PIL_FORMAT = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}

# Sample type fields (Energon's dataclasses), required ones first.
SAMPLE_FIELDS = {
    "CaptioningSample": ({"image", "caption"}, set()),
    "VQASample": ({"image", "context"}, {"answers", "answer_weights"}),
    "OCRSample": ({"image", "text"}, {"block_boxes", "block_classes", "block_text", "lines_boxes",
                                     "lines_text", "words_boxes", "words_text", "chars_boxes", "chars_text"}),
    "SimilarityInterleavedSample": ({"images", "texts"}, {"similarity_matrix", "matched_text_indices",
                                                          "audio", "video"}),
}


# ---------------------------------------------------------------- raw ustar

def octal(field):
    text = field.split(b"\0", 1)[0].strip(b" ")
    return int(text, 8) if text else 0


def raw_members(data):
    """Walk raw ustar headers: yields (header offset, name, size, data offset)."""
    pos = 0
    out = []
    while pos + 512 <= len(data):
        block = data[pos:pos + 512]
        if block == b"\0" * 512:
            return out, pos
        stored = octal(block[148:156])
        summed = sum(block[:148]) + 8 * 32 + sum(block[156:])
        if stored != summed:
            raise ValueError("bad header checksum at %d" % pos)
        if block[257:263] != b"ustar\0" or block[263:265] != b"00":
            raise ValueError("not a POSIX ustar header at %d" % pos)
        name = block[0:100].split(b"\0", 1)[0]
        prefix = block[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
        size = octal(block[124:136])
        typeflag = block[156:157]
        out.append((pos, name.decode("utf-8"), size, pos + 512, typeflag))
        pos += 512 + (size + 511) // 512 * 512
    raise ValueError("no end-of-archive block")


# ---------------------------------------------------------------- decoding

def decode_part(part, data):
    ext = part.rsplit(".", 1)[-1]
    if ext in IMAGE_EXTS:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img.convert("RGB"), img.format
    if ext == "json":
        return json.loads(data), None
    if ext == "txt":
        return data.decode("utf-8"), None
    return data, None


def field_access(raw, spec):
    """Energon field_map spec: alternatives split by ',', each part[key][idx]..."""
    last = None
    for option in spec.split(","):
        m = re.match(r"^([^[\]]+)((?:\[[^[\]]+\])*)$", option)
        steps = [m.group(1)] + re.findall(r"\[([^[\]]+)\]", m.group(2))
        try:
            value = raw
            for s in steps:
                value = value[int(s)] if isinstance(value, list) else value[s]
            return value
        except (KeyError, IndexError, ValueError) as e:
            last = e
    raise KeyError("field %r not found (%s)" % (spec, last))


def load_loader(meta_dir, ref):
    fname, func = ref.split(":")
    spec = importlib.util.spec_from_file_location("sample_loader_under_test", os.path.join(meta_dir, fname))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, func)


# ---------------------------------------------------------------- per-type rules

def is_image(v):
    return isinstance(v, Image.Image) and v.mode == "RGB"


def count_markers(text):
    return len(re.findall(r"<image(?:-\d+)?>", text))


def check_fields(cls, key, f):
    required, optional = SAMPLE_FIELDS[cls]
    ok = check(required <= set(f) and set(f) <= required | optional, "%s: fields %s for %s" % (key, sorted(f), cls))
    if not ok:
        return
    if cls == "CaptioningSample":
        check(is_image(f["image"]) and isinstance(f["caption"], str) and f["caption"].strip(), "%s: caption sample" % key)
    elif cls == "OCRSample":
        check(is_image(f["image"]) and isinstance(f["text"], str) and f["text"], "%s: ocr sample" % key)
    elif cls == "VQASample":
        a, w = f.get("answers"), f.get("answer_weights")
        good = is_image(f["image"]) and isinstance(f["context"], str) and f["context"]
        # Megatron: list answers need weights of the same length, normalized (sum > 0).
        if isinstance(a, list):
            good = good and isinstance(w, list) and len(w) == len(a) and all(isinstance(x, str) for x in a)
            good = good and all(isinstance(x, (int, float)) and x >= 0 for x in w) and sum(w) > 0
        else:
            good = good and isinstance(a, str)
        check(good, "%s: vqa sample" % key)
    elif cls == "SimilarityInterleavedSample":
        imgs, texts = f["images"], f["texts"]
        good = isinstance(imgs, list) and all(is_image(i) for i in imgs) and isinstance(texts, list) and texts
        markers = 0
        for i, t in enumerate(texts if good else []):
            want = "human" if i % 2 == 0 else "gpt"
            good = good and isinstance(t, dict) and t.get("from") == want and isinstance(t.get("value"), str)
            good = good and len(t["value"]) > 0
            if good and want == "gpt":
                good = count_markers(t["value"]) == 0
            if good:
                markers += count_markers(t["value"])
        good = good and markers <= len(imgs) and len(texts) % 2 == 0
        check(good, "%s: conversation sample" % key)


# ---------------------------------------------------------------- dataset

def check_dataset(root, expect_path, expect_drops):
    meta = os.path.join(root, ".nv-meta")
    ds = yaml.safe_load(open(os.path.join(meta, "dataset.yaml")))
    split = yaml.safe_load(open(os.path.join(meta, "split.yaml")))
    info_yaml = yaml.safe_load(open(os.path.join(meta, ".info.yaml")))
    info_json = json.load(open(os.path.join(meta, ".info.json")))

    st = ds.get("sample_type", {})
    cls = st.get("__class__")
    check(st.get("__module__") == "megatron.energon", "dataset.yaml: sample_type.__module__")
    check(cls in SAMPLE_FIELDS, "dataset.yaml: sample_type.__class__ %r" % cls)
    has_map, has_loader = "field_map" in ds, "sample_loader" in ds
    check(has_map != has_loader, "dataset.yaml: exactly one of field_map / sample_loader")
    if has_loader:
        check("part_filter" in ds, "dataset.yaml: part_filter with sample_loader")
        loader = load_loader(meta, ds["sample_loader"])
        part_filter = load_loader(meta, ds["part_filter"])
    else:
        fm = ds["field_map"]
        check(set(fm) <= SAMPLE_FIELDS[cls][0] | SAMPLE_FIELDS[cls][1] and SAMPLE_FIELDS[cls][0] <= set(fm),
              "dataset.yaml: field_map keys %s fit %s" % (sorted(fm), cls))
        parts = {opt.split("[")[0] for spec in fm.values() for opt in spec.split(",")}
        part_filter = lambda p: p in parts  # noqa: E731
        loader = lambda raw: {k: field_access(raw, v) for k, v in fm.items()}  # noqa: E731
    check(set(info_yaml) == {"shard_counts"}, ".info.yaml holds only shard_counts")
    check(info_yaml == info_json, ".info.json equals .info.yaml")
    counts = info_yaml["shard_counts"]

    parts_map = split.get("split_parts")
    check(set(split) <= {"split_parts", "exclude"} and isinstance(parts_map, dict), "split.yaml keys")
    check(set(parts_map) == {"train", "val", "test"}, "split.yaml: train/val/test parts")
    listed = [s for v in parts_map.values() for s in (v or [])]
    tars = sorted(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                  for d, _, fs in os.walk(root) for f in fs if f.endswith(".tar"))
    check(sorted(listed) == tars and len(set(listed)) == len(listed), "split.yaml lists every shard once")
    check(sorted(counts) == tars, ".info.yaml counts every shard")
    check(not any(SKIP_RE.search(t) for t in tars), "no __x__ path components")

    samples = {}  # key -> decoded fields, for --expect
    raw_parts = {}  # key -> {part: bytes}
    for tname in tars:
        path = os.path.join(root, tname)
        data = open(path, "rb").read()
        # (a) Python's tarfile.
        with tarfile.open(path, "r:") as tf:
            members = tf.getmembers()
            tf_bytes = {m.name: tf.extractfile(m).read() for m in members}
            end = tf.offset
        check(all(m.isreg() for m in members), "%s: regular files only" % tname)
        # (b) our own raw header walk must agree with tarfile.
        try:
            raw, raw_end = raw_members(data)
        except ValueError as e:
            check(False, "%s: raw ustar walk: %s" % (tname, e))
            continue
        check([r[1] for r in raw] == [m.name for m in members], "%s: raw names == tarfile names" % tname)
        check([r[0] for r in raw] == [m.offset for m in members], "%s: raw offsets == tarfile offsets" % tname)
        check(all(data[r[3]:r[3] + r[2]] == tf_bytes[r[1]] for r in raw), "%s: raw bytes == tarfile bytes" % tname)
        check(raw_end == end, "%s: end of data %d == tarfile %d" % (tname, raw_end, end))
        check(data[raw_end:] == b"\0" * (len(data) - raw_end) and len(data) - raw_end >= 1024,
              "%s: two or more zero blocks at the end" % tname)

        # Group contiguous members by key.
        groups = []
        for off, name, size, doff, _ in raw:
            m = NAME_RE.match(name)
            if not check(m is not None, "%s: member %r splits into key.part" % (tname, name)):
                continue
            key, part = m.group(1), m.group(2)
            if not groups or groups[-1][0] != key:
                groups.append((key, off, {}))
            check(part not in groups[-1][2], "%s: %s part %s once" % (tname, key, part))
            groups[-1][2][part] = data[doff:doff + size]
        keys = [g[0] for g in groups]
        check(len(set(keys)) == len(keys), "%s: members of a sample are contiguous" % tname)
        check(counts[tname] == len(groups), "%s: shard_counts %d == %d samples" % (tname, counts[tname], len(groups)))

        # .tar.idx
        idx = open(path + ".idx", "rb").read()
        check(len(idx) == 8 * (len(groups) + 1), "%s.idx: count+1 entries" % tname)
        offs = list(struct.unpack("<%dQ" % (len(idx) // 8), idx))
        check(offs == [g[1] for g in groups] + [raw_end], "%s.idx: offsets == first header of each sample, end" % tname)
        for i, (key, _, _) in enumerate(groups):
            o = offs[i] if i < len(offs) else 0
            name = data[o:o + 100].split(b"\0", 1)[0].decode("utf-8", "replace")
            m = NAME_RE.match(name)
            check(m is not None and m.group(1) == key, "%s.idx[%d] points at a header of %s" % (tname, i, key))
            if i > 0:  # the member before belongs to the previous sample
                check(raw[[r[0] for r in raw].index(o) - 1][1].split(".")[0] == groups[i - 1][0],
                      "%s.idx[%d] is the sample's first header" % (tname, i))

        for key, _, parts in groups:
            check(key not in samples, "key %s unique across the dataset" % key)
            check("." not in key and not any(s in key for s in ("llava", "docvqa", "pdfa", "multi")),
                  "key %s is dot-free and routes nowhere" % key)
            raw_sample = {"__key__": key}
            for part, b in parts.items():
                if not part_filter(part):
                    continue
                value, fmt = decode_part(part, b)
                ext = part.rsplit(".", 1)[-1]
                if ext in PIL_FORMAT:
                    check(fmt == PIL_FORMAT[ext], "%s.%s: Pillow reads %s" % (key, part, fmt))
                raw_sample[part] = value
            try:
                fields = loader(raw_sample)
            except Exception as e:  # noqa: BLE001
                check(False, "%s: loading with the dataset's mapping: %r" % (key, e))
                continue
            fields.pop("__key__", None)
            check_fields(cls, key, fields)
            samples[key] = fields
            raw_parts[key] = parts

    if expect_path:
        check_expected(root, expect_path, expect_drops, cls, samples, raw_parts)
    return cls


def check_expected(root, expect_path, expect_drops, cls, samples, raw_parts):
    """Compare the dataset with the JSONL it was written from."""
    base = os.path.dirname(os.path.abspath(expect_path))
    upstream = {}
    lines = [ln for ln in open(expect_path, encoding="utf-8") if ln.strip()]
    records = {}
    for ln in lines:
        try:
            rec = json.loads(ln)
        except ValueError:
            continue
        if "dropped" in rec:
            upstream[rec["dropped"]] = upstream.get(rec["dropped"], 0) + 1
        elif isinstance(rec, dict) and rec.get("key") in samples and rec["key"] not in records:
            records[rec["key"]] = rec
    summary = json.load(open(os.path.join(root, "stats", "summary.json")))
    drops = summary["dropped_by_reason"]
    check(summary["records_in"] == len(lines), "summary: records_in %d == %d input lines" % (summary["records_in"], len(lines)))
    check(summary["records_in"] == summary["written"] + sum(drops.values()) and summary["dropped"] == sum(drops.values()),
          "summary: records_in == written + dropped by reason")
    check(summary["written"] == len(samples), "summary: written == samples in the shards")
    want = dict(upstream)
    for k, v in expect_drops.items():
        want[k] = want.get(k, 0) + v
    check(drops == want, "summary: drops %s == expected %s" % (drops, want))
    shard_stats = [json.load(open(os.path.join(root, "stats", f))) for f in sorted(os.listdir(os.path.join(root, "stats")))
                   if f.endswith(".tar.json")]
    check(sum(s["samples"] for s in shard_stats) == summary["written"], "shard stats add up to written")
    check(sum(s["bytes"] for s in shard_stats) == summary["bytes"], "shard stats bytes add up")
    per_shard_drops = {}
    for s in shard_stats:
        check(os.path.getsize(os.path.join(root, s["shard"])) == s["bytes"], "%s: stats bytes == file size" % s["shard"])
        for k, v in s["dropped"].items():
            per_shard_drops[k] = per_shard_drops.get(k, 0) + v
    check(all(per_shard_drops.get(k, 0) <= v for k, v in drops.items()), "shard drop counts within the totals")
    check(set(records) == set(samples), "every written key comes from the input (%d vs %d)" % (len(records), len(samples)))

    for key, rec in records.items():
        parts = raw_parts[key]
        images = []
        for im in rec.get("images") or []:
            p = im["path"] if os.path.isabs(im["path"]) else os.path.join(base, im["path"])
            images.append(open(p, "rb").read())
        stored = [parts[p] for p in sorted(parts) if p.rsplit(".", 1)[-1] in IMAGE_EXTS]
        if cls == "SimilarityInterleavedSample":
            names = json.loads(parts["json"])["images"]
            stored = [parts[n] for n in names]
        check(stored == images, "%s: image bytes equal the source files" % key)
        f = samples[key]
        turns = rec.get("turns") or []
        if cls == "CaptioningSample":
            check(f["caption"] == rec["text"], "%s: caption text" % key)
        elif cls == "OCRSample":
            check(f["text"] == rec["text"], "%s: ocr text" % key)
        elif cls == "VQASample":
            q = next(t["content"] for t in turns if t["role"] == "user")
            ans = rec.get("answers") or []
            if ans:
                want_a = [a if isinstance(a, str) else a["text"] for a in ans]
                want_w = [1.0 if isinstance(a, str) else a.get("weight", 1.0) for a in ans]
            else:
                want_a = [next(t["content"] for t in turns if t["role"] == "assistant")]
                want_w = [1.0]
            check(f["context"] == q and f["answers"] == want_a and f["answer_weights"] == want_w,
                  "%s: question/answers/weights" % key)
        else:
            conv = [{"from": "human" if t["role"] == "user" else "gpt", "value": t["content"]} for t in turns]
            check(f["texts"] == conv, "%s: conversation turns" % key)
            check(len(f["images"]) == len(images), "%s: image count" % key)
        for img, b in zip(f.get("images") or ([f["image"]] if "image" in f else []), images):
            ref = Image.open(io.BytesIO(b)).convert("RGB")
            check(img.size == ref.size and img.tobytes() == ref.tobytes(), "%s: decoded pixels" % key)


# ---------------------------------------------------------------- blend

def check_blend(path, expected):
    doc = yaml.safe_load(open(path))
    check(doc.get("__module__") == "megatron.energon", "blend: __module__")
    check(doc.get("__class__") == "Metadataset", "blend: __class__ Metadataset")
    splits = doc.get("splits", {})
    check(isinstance(splits, dict) and "train" in splits and set(splits) <= {"train", "val", "test"}, "blend: splits")
    seen = {}
    for name, sp in splits.items():
        check(set(sp) == {"datasets"} and isinstance(sp["datasets"], list) and sp["datasets"], "blend: %s.datasets" % name)
        for e in sp["datasets"]:
            check(set(e) == {"weight", "path", "subflavors"}, "blend: entry keys %s" % sorted(e))
            check(isinstance(e["weight"], float) and e["weight"] > 0, "blend: weight %r is a float > 0" % e["weight"])
            check(isinstance(e["subflavors"], dict) and e["subflavors"].get("augmentation") is False,
                  "blend: subflavors.augmentation is false")
            target = e["path"] if os.path.isabs(e["path"]) else os.path.join(os.path.dirname(path), e["path"])
            check(os.path.isfile(os.path.join(target, ".nv-meta", ".info.yaml")) or target.endswith(".yaml"),
                  "blend: %s resolves to an Energon dataset" % e["path"])
            if name == "train":
                seen[e["path"]] = e["weight"]
    check(seen == expected, "blend: train weights %s == %s" % (seen, expected))


def main(argv):
    if len(argv) >= 2 and argv[0] == "dataset":
        expect, drops = None, {}
        rest = argv[2:]
        while rest:
            if rest[0] == "--expect":
                expect, rest = rest[1], rest[2:]
            elif rest[0] == "--expect-drop":
                k, v = rest[1].split("=")
                drops[k] = drops.get(k, 0) + int(v)
                rest = rest[2:]
            else:
                raise SystemExit("unknown argument %s" % rest[0])
        cls = check_dataset(argv[1], expect, drops)
        print("checked %s (%s)" % (argv[1], cls))
    elif len(argv) >= 2 and argv[0] == "blend":
        expected = {}
        for a in argv[2:]:
            p, w = a.rsplit("=", 1)
            expected[p] = float(w)
        check_blend(argv[1], expected)
    else:
        raise SystemExit(__doc__)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
