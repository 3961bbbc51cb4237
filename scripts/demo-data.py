#!/usr/bin/python3
"""Demo data for `tessera build` (scripts/demo.sh, tests/reference/check_build.sh).

    demo-data.py DATA_DIR BASE_URL     data under DATA_DIR/www (served at BASE_URL),
                                       manifests + recipe under DATA_DIR/manifests/{sources,recipes}
    demo-data.py --manifests DIR BASE_URL
                                       only the manifests + recipe, into DIR/{sources,recipes}
                                       (the committed copies: manifests/demo, base http://127.0.0.1:8080)

Five sources, one per shape of the NVLM blends that Megatron-Energon carries, from material every Debian 12
machine with python3-skimage has:
  demo_captions   real photos (skimage's sample data, cropped and scaled) + captions   pretrain/caption
  demo_docs       pages of real text (the licenses in /usr/share/common-licenses)
                  rendered to PNG + their transcription                                pretrain/ocr
  demo_vqa        photos + a question answered from the pixels (orientation, colour)  sft/vqa
  demo_chat       LLaVA-style multi-turn conversations about the photos                sft/multi_turn
  demo_text_sft   ShareGPT-style arithmetic word problems with worked answers          text/text
(Plain pretraining text is left out: Megatron's TaskEncoder cannot train on
it, so the Energon writer drops it; the Megatron .bin/.idx export of the
build covers the text-only SFT source.) A few records are faulty on purpose (a missing image, a duplicate photo, a
non-image URL) so the build's drop counts are exercised. Images are fetched by
URL, so the download path runs. Output bytes depend only on the inputs: the
same machine always writes the same files.
"""
import io
import json
import os
import sys

from PIL import Image, ImageDraw, ImageFont

SK = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = [  # file, what it shows
    ("astronaut.png", "an astronaut in a white spacesuit in front of an American flag"),
    ("chelsea.png", "a tabby cat looking to the side"),
    ("coffee.png", "a cup of coffee on a saucer with a spoon"),
    ("hubble_deep_field.jpg", "a deep field of distant galaxies seen by the Hubble telescope"),
    ("motorcycle_left.png", "a motorcycle parked in a workshop"),
    ("rocket.jpg", "a rocket on its launch pad"),
    ("retina.jpg", "a photograph of a human retina"),
    ("immunohistochemistry.png", "a stained tissue sample under a microscope"),
    ("camera.png", "a man with a camera on a tripod, in black and white"),
    ("coins.png", "old coins laid out on a table, in black and white"),
    ("moon.png", "the surface of the moon, in black and white"),
    ("page.png", "a scanned page of printed text"),
]
CROPS = [  # name, box as fractions of the photo, output width
    ("full", (0.0, 0.0, 1.0, 1.0), 640),
    ("left", (0.0, 0.0, 0.6, 1.0), 480),
    ("top", (0.0, 0.0, 1.0, 0.55), 800),
    ("center", (0.2, 0.2, 0.8, 0.8), 360),
]
LICENSES = ["Apache-2.0", "GPL-3", "MPL-2.0", "Artistic", "BSD", "LGPL-2.1", "CC0-1.0", "GFDL-1.3"]


def photo_variants():
    """(name, description, crop name, PIL image) for every usable photo crop."""
    out = []
    for fname, what in PHOTOS:
        path = os.path.join(SK, fname)
        if not os.path.exists(path):
            continue
        img = Image.open(path).convert("RGB")
        w, h = img.size
        for cname, (x0, y0, x1, y1), width in CROPS:
            crop = img.crop((int(x0 * w), int(y0 * h), int(x1 * w), int(y1 * h)))
            height = max(16, round(crop.height * width / crop.width))
            out.append((os.path.splitext(fname)[0], what, cname, crop.resize((width, height), Image.BICUBIC)))
    return out


def paragraphs():
    """Paragraphs of real prose: the license texts Debian ships."""
    paras = []
    for name in LICENSES:
        path = os.path.join("/usr/share/common-licenses", name)
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        for p in text.split("\n\n"):
            p = " ".join(p.split())
            if 200 <= len(p) <= 1500:
                paras.append((name, p))
    return paras


def font(size):
    for f in ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        if os.path.exists(f):
            return ImageFont.truetype(f, size)
    return ImageFont.load_default()


def render_page(text, width=612, height=792):
    """A page of `text` as a scanner would see it: black on off-white, wrapped."""
    img = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(img)
    f = font(15)
    x, y, line = 48, 56, ""
    lines = []
    for word in text.split():
        trial = (line + " " + word).strip()
        if draw.textlength(trial, font=f) > width - 96:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    for ln in lines:
        if y > height - 60:
            break
        draw.text((x, y), ln, fill=(20, 20, 20), font=f)
        y += 22
    return img, "\n".join(lines)


def encode(img, fmt):
    buf = io.BytesIO()
    if fmt == "jpg":
        img.save(buf, "JPEG", quality=88)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=85)
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def colour_name(img):
    r, g, b = [sum(c) / len(c) for c in zip(*img.resize((32, 32)).getdata())]
    if max(r, g, b) - min(r, g, b) < 12:
        return "gray"
    return ["red", "green", "blue"][[r, g, b].index(max(r, g, b))]


def make_data(data_dir, base):
    www = os.path.join(data_dir, "www", "demo")
    os.makedirs(os.path.join(www, "images"), exist_ok=True)
    url = lambda rel: "%s/demo/%s" % (base, rel)
    photos = photo_variants()
    fmts = ["jpg", "png", "webp", "jpg"]
    captions, vqa, chat = [], [], []
    for i, (stem, what, cname, img) in enumerate(photos):
        fmt = fmts[i % len(fmts)]
        rel = "images/%s-%s.%s" % (stem, cname, fmt)
        with open(os.path.join(www, rel), "wb") as f:
            f.write(encode(img, fmt))
        w, h = img.size
        part = "the whole photo" if cname == "full" else "the %s part of the photo" % cname
        captions.append({"url": url(rel), "caption": "%s: %s." % (part.capitalize(), what)})
        shape = "wider than it is tall" if w > h else "taller than it is wide" if h > w else "square"
        # One question per image: VQA records are deduplicated by their image.
        if i % 2 == 0:
            vqa.append({"image": url(rel), "question": "Is this image wider or taller?",
                        "answers": ["wider" if w > h else "taller" if h > w else "square"] * 3 + ["neither"]})
        else:
            vqa.append({"image": url(rel), "question": "Which colour dominates the image?",
                        "answers": [colour_name(img)] * 4})
        chat.append({"id": "chat%04d" % i, "image": url(rel), "conversations": [
            {"from": "human", "value": "<image>\nWhat does this picture show?"},
            {"from": "gpt", "value": "It shows %s (%s)." % (what, part)},
            {"from": "human", "value": "How large is it, and what is its shape?"},
            {"from": "gpt", "value": "It is %d by %d pixels, %s." % (w, h, shape)}]})
    # Faulty on purpose: a photo listed twice (exact duplicate image), an
    # image that is not there (404) and a URL that serves text, placed
    # near the start, so a build of the first few records meets them too.
    with open(os.path.join(www, "images", "not-an-image.jpg"), "w") as f:
        f.write("this is text, not a JPEG\n")
    captions.insert(2, dict(captions[0], caption="The same photo once more."))
    captions.insert(4, {"url": url("images/missing.jpg"), "caption": "This image does not exist."})
    captions.insert(6, {"url": url("images/not-an-image.jpg"), "caption": "A file that only claims to be a JPEG."})

    paras = paragraphs()
    docs = []
    for i in range(0, min(len(paras), 48), 3):
        name, _ = paras[i]
        text = " ".join(p for _, p in paras[i:i + 3])
        img, shown = render_page(text)
        rel = "images/page-%03d.png" % (i // 3)
        with open(os.path.join(www, rel), "wb") as f:
            f.write(encode(img, "png"))
        docs.append({"url": url(rel), "text": shown, "source": name})

    sft = []
    items = [("apples", 3, 7), ("books", 12, 5), ("coins", 25, 17), ("pencils", 8, 9), ("stamps", 40, 13),
             ("marbles", 6, 6), ("cards", 52, 4), ("shells", 19, 23), ("tickets", 100, 37), ("eggs", 12, 12)]
    for i, (thing, a, b) in enumerate(items * 4):
        k = i // len(items) + 1
        q = "Ana has %d %s. She buys %d packs of %d more. How many %s does she have now?" % (a, thing, k, b, thing)
        ans = "She buys %d x %d = %d %s, so she has %d + %d = %d %s." % (k, b, k * b, thing, a, k * b, a + k * b, thing)
        sft.append({"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": ans + "\n#### %d" % (a + k * b)}]})

    write_jsonl(os.path.join(www, "captions.jsonl"), captions)
    write_jsonl(os.path.join(www, "vqa.jsonl"), vqa)
    write_jsonl(os.path.join(www, "chat.jsonl"), chat)
    write_jsonl(os.path.join(www, "docs.jsonl"), docs)
    write_jsonl(os.path.join(www, "text_sft.jsonl"), sft)
    return {"captions": len(captions), "vqa": len(vqa), "chat": len(chat), "docs": len(docs),
            "text_sft": len(sft)}


SOURCES = [
    ("demo-captions", "demo_captions", "pretrain", "caption", "captions.jsonl",
     {"images": [{"url": "url"}], "text": "caption"}, "Photos from scikit-image's sample data, cropped and scaled, with captions."),
    ("demo-docs", "demo_docs", "pretrain", "ocr", "docs.jsonl",
     {"images": [{"url": "url"}], "text": "text"}, "Rendered pages of the license texts in /usr/share/common-licenses, with their transcription."),
    ("demo-vqa", "demo_vqa", "sft", "vqa", "vqa.jsonl",
     {"images": [{"url": "image"}], "question": "question", "answers": "answers", "answers_rule": "count"},
     "Questions about the demo photos answered from their pixels; VQAv2-style answer lists, weights by count."),
    ("demo-chat", "demo_chat", "sft", "multi_turn", "chat.jsonl",
     {"key": "id", "images": [{"url": "image"}], "turns": {"list": "conversations"}},
     "LLaVA-style conversations about the demo photos."),
    ("demo-text-sft", "demo_text_sft", "text", "text", "text_sft.jsonl",
     {"turns": {"list": "conversations"}}, "ShareGPT-style arithmetic word problems with worked answers (GSM8K shape)."),
]

RECIPE_SOURCES = [  # name, amount
    ("demo_captions", {"weight": 0.35}),
    ("demo_docs", {"weight": 0.15}),
    ("demo_vqa", {"weight": 0.3}),
    ("demo_chat", {"weight": 0.2, "max_epochs": 3}),
    ("demo_text_sft", {"samples": 60}),
]


def make_manifests(out_dir, base):
    src_dir = os.path.join(out_dir, "sources")
    rec_dir = os.path.join(out_dir, "recipes")
    os.makedirs(src_dir, exist_ok=True)
    os.makedirs(rec_dir, exist_ok=True)
    for fname, name, stage, task, records, mapping, desc in SOURCES:
        m = {"name": name, "stage": stage, "task": task, "license": "demo data (see scripts/demo-data.py)",
             "description": desc + " Generated by scripts/demo-data.py and served on loopback by scripts/demo.sh;"
                                   " the base URL is rewritten to the server's port.",
             "inputs": [{"url": "%s/demo/%s" % (base, records), "format": "jsonl"}],
             "mapping": mapping}
        with open(os.path.join(src_dir, fname + ".json"), "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
    recipe = {"name": "demo", "description": "The build demo: five small sources of every NVLM shape (scripts/demo-data.py),"
                                             " mixed to 400 samples and packed into 4096-token sequences.",
              "stage": "sft", "seed": 1234,
              "output": {"max_len": 4096, "layout": "D", "form": "megatron", "tokenizer": "qwen3"},
              "target": {"samples": 400},
              "sources": [dict({"name": n, "manifest": "../sources/%s.json" % n.replace("_", "-")}, **a)
                          for n, a in RECIPE_SOURCES]}
    with open(os.path.join(rec_dir, "demo-build.json"), "w") as f:
        json.dump(recipe, f, indent=2)
        f.write("\n")


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--manifests":
        make_manifests(args[1], args[2].rstrip("/"))
        return
    if len(args) != 2:
        sys.exit(__doc__)
    data_dir, base = args[0], args[1].rstrip("/")
    counts = make_data(data_dir, base)
    make_manifests(os.path.join(data_dir, "manifests"), base)
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
