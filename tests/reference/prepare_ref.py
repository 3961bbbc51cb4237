#!/usr/bin/python3
"""Independent reference for `tessera prepare`, written from
/work/shared/reference/megatron-nvlm-formats.md (1.2: what Megatron's NVLM
TaskEncoder builds per sample type; 2: ChatML, image markup, tile tags, loss
mask, sequence length, re-tiling), tokfile.h's layout comment, and the
InternVL tiling rule (internvl_ref.py). It never calls tessera.

  prepare_ref.py fixtures T          photos + records JSONL per case under T
  prepare_ref.py cases               one line per case: name and prepare flags
  prepare_ref.py render T            read each dataset (tarfile + PyYAML) and
                                     write T/turns.jsonl: every turn string of
                                     every candidate rendering, for HF tokenizers
  prepare_ref.py compare T IDS IMG   compare T/out/<case>.tok and .tiles with the
                                     HF ids of those turns (IDS, one line per
                                     turn); IMG: the <image> token id
Prompt choice: tessera draws one prompt per sample; a record passes when it
equals the rendering with one of the listed prompts (all are rendered).
VQA answers likewise: any answer with a positive weight.
"""
import io
import itertools
import json
import os
import shutil
import struct
import sys
import tarfile

import numpy as np
import xxhash
import yaml
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "readers"))
import internvl_ref  # noqa: E402
import tessera_tiles  # noqa: E402

# Megatron-LM examples/multimodal/nvlm/nvlm_prompts.json, the lists named in the reference (2.2, 1.2).
CAPTIONING_PRETRAINING = [
    "Give a brief description of image.",
    "Give a brief description of the image.",
    "Provide a brief description of the given image.",
    "Provide a one-sentence caption for the provided image.",
    "Write a terse but informative summary of the picture.",
    "Describe the image concisely.",
    "Generate a clear and concise summary of the photo.",
]
VQASFT_RAW = ["{}", "{}\nAnswer the question using a single word or phrase."]
DOC_PRETRAINING = [
    "Retrieve the text from the given pdf image.",
    "Extract the text from the provided document.",
    "Transcribe the text displayed in the image.",
]
SYSTEM = "Answer the questions."
TILE = 448

# name, energon type, layout, form, max tiles, max_len, extra flags
CASES = [
    ("caption", "caption", "d", "megatron", 6, 1500, []),
    ("vqa", "vqa", "d", "hf", 6, 0, ["--vqa-sft-prompts"]),
    ("ocr", "ocr", "x", "megatron", 4, 0, []),
    ("sft", "interleaved", "h", "hf", 6, 0, []),
    ("sft_hm", "interleaved", "h", "megatron", 2, 0, []),
]

passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok  ", msg)


def bad(msg):
    global failed
    failed += 1
    print("FAIL", msg)


# ---------------------------------------------------------------- fixtures

def fixtures(t):
    import skimage
    src = os.path.join(os.path.dirname(skimage.__file__), "data")
    os.makedirs(os.path.join(t, "photos"), exist_ok=True)
    p = lambda n: os.path.join(t, "photos", n)
    for n in ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg", "page.png",
              "text.png", "camera.png", "motorcycle_left.png"]:
        shutil.copy(os.path.join(src, n), p(n))
    Image.open(p("chelsea.png")).convert("RGB").save(p("chelsea.webp"), quality=80)
    Image.open(p("coffee.png")).convert("RGB").save(p("coffee.jpg"), quality=90)
    Image.open(p("camera.png")).convert("P").save(p("camera.gif"))

    def rec(key, task, images, stage="sft", **kw):
        r = {"key": key, "source": "skimage", "stage": stage, "task": task,
             "images": [{"path": "photos/" + i} for i in images]}
        r.update(kw)
        return json.dumps(r, ensure_ascii=False)

    def turns(*pairs):
        return [{"role": r, "content": c} for r, c in pairs]

    files = {
        "caption": [
            rec("c0", "caption", ["astronaut.png"], "pretrain", text="Eileen Collins in her flight suit."),
            rec("c1", "caption", ["coffee.png"], "pretrain", text="  A cup of coffee on a saucer.\n"),
            rec("c2", "caption", ["chelsea.webp"], "pretrain", text="Chelsea the cat, über-relaxed."),
            rec("c3", "caption", ["rocket.jpg"], "pretrain", text="A rocket on the launch pad."),
            rec("c4", "caption", ["hubble_deep_field.jpg"], "pretrain", text="The Hubble deep field."),
            rec("c5", "caption", ["coffee.png"], "pretrain", text="The same coffee again."),
            rec("c6", "caption", ["camera.gif"], "pretrain", text="A cameraman.\n\nIn black and white."),
            rec("c7", "caption", ["motorcycle_left.png"], "pretrain", text="A motorcycle, seen from the left."),
        ],
        "vqa": [
            rec("v0", "vqa", ["rocket.jpg"], turns=turns(("user", "What is on the pad?")),
                answers=[{"text": "a rocket", "weight": 0.7}, {"text": "rocket", "weight": 0.3}]),
            rec("v1", "vqa", ["coffee.jpg"], turns=turns(("user", "<image>\nWhat drink is this?"), ("assistant", "Coffee."))),
            rec("v2", "vqa", ["page.png"], turns=turns(("user", "Is this a page?")),
                answers=[{"text": "no", "weight": 0}, {"text": "yes", "weight": 2}]),
            rec("v3", "vqa", ["astronaut.png"], turns=turns(("user", "Who is this?")), answers=["Eileen Collins"]),
        ],
        "ocr": [
            rec("o0", "ocr", ["page.png"], text="Region-based segmentation\nLet us first determine markers"),
            rec("o1", "ocr", ["text.png"], text="scikit-image text sample"),
            rec("o2", "ocr", ["motorcycle_left.png"], text="a plate <image> reading 123"),
        ],
        "sft": [
            rec("m0", "multi_turn", ["astronaut.png"],
                turns=turns(("user", "<image-1>\nWhat is she wearing?"), ("assistant", "A flight suit."),
                            ("user", "Where is she?"), ("assistant", "In a studio."))),
            rec("m1", "multi_turn", ["chelsea.png"], turns=turns(("user", "Describe the animal."), ("assistant", "A cat."))),
            rec("t2", "text", [], "text", turns=turns(("user", "Say hi."), ("assistant", "Hi! 👋"))),
            rec("m3", "multi_turn", ["hubble_deep_field.jpg"],
                turns=turns(("user", "What do you see in <image>?"), ("assistant", "Galaxies."))),
        ],
    }
    files["sft_hm"] = files["sft"]
    for name, lines in files.items():
        with open(os.path.join(t, name + ".jsonl"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- dataset reading (tarfile + PyYAML)

def read_dataset(d):
    meta = yaml.safe_load(open(os.path.join(d, ".nv-meta", "dataset.yaml")))
    cls = meta["sample_type"]["__class__"]
    split = yaml.safe_load(open(os.path.join(d, ".nv-meta", "split.yaml")))
    samples = []
    for shard in split["split_parts"]["train"]:
        with tarfile.open(os.path.join(d, shard)) as tf:
            cur, parts = None, {}
            for m in tf.getmembers():
                key, part = m.name.split(".", 1)
                if key != cur and cur is not None:
                    samples.append((cur, parts))
                    parts = {}
                cur = key
                parts[part] = tf.extractfile(m).read()
            if cur is not None:
                samples.append((cur, parts))
    return cls, samples


IMAGE_EXTS = ("jpg", "png", "webp", "gif")


def single_image(parts):
    return next(v for k, v in parts.items() if k in IMAGE_EXTS)


# ---------------------------------------------------------------- rendering (reference 1.2, 2.1, 2.2)

def tags(n):
    return ["<tile_%d>" % (k + 1) for k in range(n - 1)] + ["<tile_global_thumbnail>"]


def markup(n, layout, form):
    t = tags(n)
    pads = "<|vision_pad|>" * 256
    if layout == "x":
        return "<Image>" + "".join(t) + "</Image>"
    if form == "megatron":
        if layout == "d":
            return "<Image><image></Image>"
        return "<Image>" + "".join(t[:-1]) + "<image></Image>"
    if layout == "d":
        return "<Image>" + "".join(tag + pads for tag in t) + "</Image>"
    return "<Image>" + "".join(t[:-1]) + t[-1] + pads + "</Image>"


def grid_tiles(size, max_num):
    cols, rows = internvl_ref.closest_grid(size[0], size[1], internvl_ref.candidates(1, max_num), TILE)
    return cols * rows + (1 if cols * rows > 1 else 0)


def conversations(cls, key, parts):
    """Candidate conversations [(role, content)] and the images in marker order."""
    if cls == "CaptioningSample":
        cap = parts["txt"].decode("utf-8").strip()
        return [[("user", "<image>\n" + p + "\n"), ("assistant", cap)] for p in CAPTIONING_PRETRAINING], \
            [single_image(parts)], True
    if cls == "OCRSample":
        text = parts["txt"].decode("utf-8").replace("<image>", "")
        return [[("system", SYSTEM), ("user", "<image>\n" + p), ("assistant", text)] for p in DOC_PRETRAINING], \
            [single_image(parts)], False
    if cls == "VQASample":
        j = json.loads(parts["json"])
        answers = j["answers"] if isinstance(j["answers"], list) else [j["answers"]]
        weights = j.get("answer_weights") or [1.0] * len(answers)
        out = []
        for tpl, (a, w) in itertools.product(VQASFT_RAW, zip(answers, weights)):
            if w <= 0:
                continue
            q = tpl.format(j["question"])
            if "<image>" not in q:
                q = "<image>\n" + q
            out.append([("system", SYSTEM), ("user", q), ("assistant", a)])
        return out, [single_image(parts)], False
    # SimilarityInterleavedSample: encode_llava_sft
    j = json.loads(parts["json"])
    images = [parts[n] for n in j["images"]]
    conv = [("user" if t["from"] == "human" else "assistant", t["value"]) for t in j["conversations"]]
    order = []
    import re
    for i, (role, c) in enumerate(conv):
        for m in re.finditer(r"<image-(\d+)>", c):
            order.append(int(m.group(1)) - 1)
        conv[i] = (role, re.sub(r"<image-\d+>", "<image>", c))
    plain = sum(c.count("<image>") for _, c in conv) - len(order)
    if plain:
        order = list(range(plain))  # plain markers take the images in order
    missing = len(images) - len(order) if len(images) > len(order) else 0
    if missing:
        k = next(i for i, (r, _) in enumerate(conv) if r == "user")
        conv[k] = ("user", "<image>" * missing + "\n" + conv[k][1])
        order = list(range(missing)) + order
    return [[("system", SYSTEM)] + conv], [images[i] for i in order], False


def expand(conv, tiles, layout, form):
    out, k = [], 0
    for role, c in conv:
        pieces = c.split("<image>")
        s = pieces[0]
        for p in pieces[1:]:
            s += markup(tiles[k], layout, form) + p
            k += 1
        out.append("<|im_start|>" + role + "\n" + s + "<|im_end|>\n")
    return out


def seq_length(n_ids, tiles, layout, form):
    """Reference 2.4: Megatron's <image> token stands for its tiles x 261 (H: the thumbnail's 261)."""
    if form != "megatron" or layout == "x":
        return n_ids
    return n_ids - len(tiles) + sum(t * 261 if layout == "d" else 261 for t in tiles)


def plan(t):
    """Every candidate rendering of every sample, at every re-tiling cap."""
    plans, turns = {}, []
    for name, _, layout, form, max_tiles, max_len, _ in CASES:
        cls, samples = read_dataset(os.path.join(t, "ds", name))
        entries = []
        for key, parts in samples:
            convs, images, _ = conversations(cls, key, parts)
            sizes = [Image.open(io.BytesIO(b)).size for b in images]
            caps = []
            for cap in (6, 4, 2, 1):
                tiles = [grid_tiles(s, min(cap, max_tiles)) for s in sizes]
                if caps and tiles == caps[-1][1]:
                    continue
                cands = []
                for conv in convs:
                    strs = expand(conv, tiles, layout, form)
                    cands.append({"roles": [r for r, _ in conv], "first": len(turns), "n": len(strs)})
                    turns.extend(strs)
                caps.append((cap, tiles, cands))
            entries.append({"key": key, "images": [xxhash.xxh3_128_hexdigest(b) for b in images],
                            "sizes": sizes, "caps": caps})
        plans[name] = entries
    return plans, turns


# ---------------------------------------------------------------- tokfile (tokfile.h layout comment)

def read_tokfile(path):
    data = open(path, "rb").read()
    magic = data[:8]
    assert magic in (b"TSTOKv2\0", b"TSTOKv1\0"), magic
    v2 = magic == b"TSTOKv2\0"
    footer = data[-40:]
    n, index_off, checksum, version = struct.unpack_from("<QQQI", footer, 0)
    assert footer[32:40] == b"TSTOKEND"
    assert xxhash.xxh3_64_intdigest(data[:-40]) == checksum, "checksum"
    recs = []
    for i in range(n):
        off = struct.unpack_from("<Q", data, index_off + 8 * i)[0]
        src, n_ids, n_img, length = struct.unpack_from("<QIIq", data, off)
        p = off + 24
        ids = list(struct.unpack_from("<%di" % n_ids, data, p))
        p += 4 * n_ids
        mask = list(data[p:p + n_ids])
        p += n_ids
        p += (-p) % 4
        images = []
        for _ in range(n_img):
            tiles, cap, retiled = struct.unpack_from("<3i", data, p)
            h = None
            if v2:
                flags = data[p + 14]
                hi, lo = struct.unpack_from("<QQ", data, p + 144)
                h = "%016x%016x" % (hi, lo) if flags & 1 else None
                p += 160
            else:
                p += 144
            images.append({"tiles": tiles, "cap": cap, "retiled_from": retiled, "hash": h})
        recs.append({"source": src, "ids": ids, "mask": mask, "length": length, "images": images})
    return recs


def mask_of(roles, turn_ids):
    """Reference 2.3: system/user turns 0; assistant turns 0 for the first 3 tokens, then 1."""
    m = []
    for role, ids in zip(roles, turn_ids):
        if role == "assistant":
            m += [0] * 3 + [1] * (len(ids) - 3)
        else:
            m += [0] * len(ids)
    return m


def compare(t, ids_path, image_id):
    plans, _ = plan(t)
    hf = [list(map(int, l.split())) for l in open(ids_path)]
    for name, _, layout, form, max_tiles, max_len, _ in CASES:
        entries = plans[name]
        recs = read_tokfile(os.path.join(t, "out", name + ".tok"))
        by_source = {r["source"]: r for r in recs}
        n_ok, expect_dropped = 0, set()
        for i, e in enumerate(entries):
            # the first cap whose sequence fits (6 -> 4 -> 2 -> 1), per candidate
            choice = None
            for cap, tiles, cands in e["caps"]:
                matches = []
                for c in cands:
                    tids = hf[c["first"]:c["first"] + c["n"]]
                    ids = [x for l in tids for x in l]
                    matches.append((ids, mask_of(c["roles"], tids), seq_length(len(ids), tiles, layout, form)))
                choice = (cap, tiles, matches)
                if not max_len or all(m[2] <= max_len for m in matches):
                    break
            cap, tiles, matches = choice
            if max_len and all(m[2] > max_len for m in matches):
                expect_dropped.add(i)
                continue
            r = by_source.get(i)
            if r is None:
                bad("%s/%s: missing from the tokfile" % (name, e["key"]))
                continue
            hit = [m for m in matches if m[0] == r["ids"]]
            if not hit:
                bad("%s/%s: ids match no rendering (%d ids; first candidate %d)" %
                    (name, e["key"], len(r["ids"]), len(matches[0][0])))
                continue
            ids, mask, length = hit[0]
            errs = []
            if r["mask"] != mask:
                errs.append("loss mask")
            if r["length"] != length:
                errs.append("length %d != %d" % (r["length"], length))
            if [im["tiles"] for im in r["images"]] != tiles:
                errs.append("tiles %s != %s" % ([im["tiles"] for im in r["images"]], tiles))
            full = [grid_tiles(s, max_tiles) for s in e["sizes"]]
            if tiles != full and [im["retiled_from"] for im in r["images"]] != full:
                errs.append("retiled_from")
            if [im["hash"] for im in r["images"]] != e["images"]:
                errs.append("image hashes")
            if form == "megatron" and layout != "x" and r["ids"].count(image_id) != len(tiles):
                errs.append("<image> tokens")
            if errs:
                bad("%s/%s: %s" % (name, e["key"], ", ".join(errs)))
            else:
                n_ok += 1
        ok("%s: %d samples equal HF's tokens of the reference rendering" % (name, n_ok)) if n_ok else None
        dropped = set(range(len(entries))) - set(by_source)
        if dropped == expect_dropped and len(recs) == len(by_source):
            ok("%s: kept %d, dropped %s as predicted" % (name, len(recs), sorted(dropped)))
        else:
            bad("%s: dropped %s, expected %s" % (name, sorted(dropped), sorted(expect_dropped)))
        stats = json.load(open(os.path.join(t, "out", name + ".stats.json")))
        if stats["in"] == len(entries) and stats["kept"] == len(recs) and \
                stats["in"] == stats["kept"] + stats["dropped"] == stats["kept"] + sum(stats["dropped_by_reason"].values()):
            ok("%s: stats reconcile (in %d = kept + dropped)" % (name, stats["in"]))
        else:
            bad("%s: stats %s" % (name, stats))
        check_tiles(t, name, max_tiles, entries, recs)


def check_tiles(t, name, max_tiles, entries, recs):
    path = os.path.join(t, "out", name + ".tiles")
    if not os.path.exists(path):
        bad("%s: no tile shard" % name)
        return
    shard = tessera_tiles.TileShard(path)
    images = {}
    cls, samples = read_dataset(os.path.join(t, "ds", name))
    for key, parts in samples:
        for k, v in parts.items():
            if k.split(".")[-1] in IMAGE_EXTS:
                images[xxhash.xxh3_128_hexdigest(v)] = v
    want = set()
    for r in recs:
        for im in r["images"]:
            want.add(im["hash"])
            size = Image.open(io.BytesIO(images[im["hash"]])).size
            if im["tiles"] != grid_tiles(size, max_tiles):
                want.add("%s-%d" % (im["hash"], im["tiles"]))
    keys = set(shard.keys())
    if keys == want:
        ok("%s: %d tile records, one per distinct image (+ re-tiled variants)" % (name, len(keys)))
    else:
        bad("%s: tile keys %s, expected %s" % (name, sorted(keys), sorted(want)))
    n_px = 0
    for key in sorted(keys & want):
        h, _, variant = key.partition("-")
        img = Image.open(io.BytesIO(images[h])).convert("RGB")
        cap = max_tiles
        if variant:
            cap = next(c for c in (4, 2, 1) if grid_tiles(img.size, min(c, max_tiles)) == int(variant))
            cap = min(cap, max_tiles)
        grid, ref = internvl_ref.tiles(img, TILE, 1, cap)
        got = shard.tiles(key)
        rec = shard.record(key)
        if rec["content_hash"] != h or tuple(rec["grid"]) != tuple(grid) or len(got) != len(ref):
            bad("%s: %s: record %s, expected grid %s and %d tiles" % (name, key, rec, grid, len(ref)))
            continue
        diff = max(int(np.abs(np.asarray(a, dtype=np.int16) - b.astype(np.int16)).max()) for a, b in zip(ref, got))
        if diff:
            bad("%s: %s: tiles differ from Pillow by up to %d" % (name, key, diff))
        else:
            n_px += 1
    if n_px:
        ok("%s: %d images' tiles equal Pillow's InternVL tiling pixel for pixel" % (name, n_px))


def main():
    cmd = sys.argv[1]
    if cmd == "fixtures":
        fixtures(sys.argv[2])
    elif cmd == "cases":
        for name, typ, layout, form, max_tiles, max_len, extra in CASES:
            print(name, typ, "--layout", layout, "--form", form, "--max-tiles", max_tiles, "--max-len", max_len, *extra)
    elif cmd == "render":
        t = sys.argv[2]
        _, turns = plan(t)
        with open(os.path.join(t, "turns.jsonl"), "w", encoding="utf-8") as f:
            for s in turns:
                f.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        print("%d passed, %d failed" % (passed, failed))
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
