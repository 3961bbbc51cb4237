#!/usr/bin/python3
"""Independent mapping of the local test copies of manifests/sources, written
from docs/MANIFESTS.md and the datasets' documented layouts (not from
tessera's code): Python's json/zipfile, DuckDB (parquet_rows.mjs) and Pillow
read the raw files. Prints one JSON line per raw record, in ordinal order:
{"drop": reason} or {"key", "turns", "text", "answers", "image_urls", "images"}.

    sources_ref.py SOURCE_NAME FIXTURE_DIR"""
import io
import json
import os
import re
import subprocess
import sys
import zipfile

from PIL import Image

ROUTING = ("llava", "docvqa", "pdfa", "multi")
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def image(data):
    try:
        im = Image.open(io.BytesIO(data))
        return {"media_type": MIME[im.format], "width": im.width, "height": im.height, "size": len(data)}
    except Exception:
        return None


def parquet_rows(path):
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(["node", os.path.join(here, "parquet_rows.mjs"), path], check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def ordinal_key(i):
    return "%010d" % i


def sample(key, turns=(), text=None, answers=(), urls=(), images=()):
    return {"key": key, "turns": [{"role": r, "content": c} for r, c in turns], "text": text,
            "answers": [{"text": t, "weight": w} for t, w in answers], "image_urls": list(urls),
            "images": list(images)}


def check_key(key):
    if not KEY_RE.match(key):
        return {"drop": "bad_key"}
    if any(s in key for s in ROUTING):
        return {"drop": "routing_key"}
    return None


def gsm8k(d):
    for i, r in enumerate(parquet_rows(os.path.join(d, "gsm8k/train-00000-of-00001.parquet"))):
        if not r["question"] or not r["answer"]:
            yield {"drop": "empty_text"}
        else:
            yield sample(ordinal_key(i), [("user", r["question"]), ("assistant", r["answer"])])


def slimorca(d):
    roles = {"system": "system", "human": "user", "gpt": "assistant"}
    with open(os.path.join(d, "slimorca/oo-labeled_correct.gpt4.sharegpt.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            try:
                conv = json.loads(line)["conversations"]
            except ValueError:
                yield {"drop": "bad_record"}
                continue
            if any(t["from"] not in roles for t in conv):
                yield {"drop": "bad_role"}
            elif any(t["value"] == "" for t in conv):
                yield {"drop": "empty_text"}
            else:
                yield sample(ordinal_key(i), [(roles[t["from"]], t["value"]) for t in conv])


def laion_relaion2b(d):
    path = os.path.join(d, "laion_relaion2b/part-00000-339dc23d-0869-4dc0-9390-b4036fcc80c2-c000.snappy.parquet")
    for i, r in enumerate(parquet_rows(path)):
        if r["url"] is None or r["caption"] is None:
            yield {"drop": "missing_field"}
        else:
            yield sample(ordinal_key(i), text=r["caption"], urls=[r["url"]])


def chartqa(d):
    import base64
    for i, r in enumerate(parquet_rows(os.path.join(d, "chartqa/0000.parquet"))):
        im = image(base64.b64decode(r["image"]["bytes"]))
        if im is None:
            yield {"drop": "bad_image"}
        elif not r["label"]:
            yield {"drop": "missing_field"}
        else:
            yield sample(ordinal_key(i), [("user", r["query"])], answers=[(a, 1) for a in r["label"]], images=[im])


def docmatix(d):
    """HF images (list of {bytes, path}) and texts (list of {user, assistant,
    source}): every image in order, one user/assistant pair per text."""
    import base64
    path = os.path.join(d, "docmatix/train-00000-of-01106-8ce5201aa40b0141.parquet")
    for i, r in enumerate(parquet_rows(path)):
        blobs = [im["bytes"] for im in r["images"] or [] if im is not None and im["bytes"] is not None]
        images = [image(base64.b64decode(b)) for b in blobs]
        turns = [(role, t[role]) for t in r["texts"] or [] for role in ("user", "assistant")]
        if not images:
            yield {"drop": "missing_field"}
        elif None in images:
            yield {"drop": "bad_image"}
        elif not turns or any(text is None for _, text in turns):
            yield {"drop": "missing_field"}
        elif any(text == "" for _, text in turns):
            yield {"drop": "empty_text"}
        else:
            yield sample(ordinal_key(i), turns, images=images)


def ocr_vqa(d):
    with open(os.path.join(d, "ocr_vqa/dataset.json"), encoding="utf-8") as f:
        books = json.load(f)
    for book_id, b in books.items():  # file order
        if "imageURL" not in b:
            yield {"drop": "missing_field"}
        elif len(b["questions"]) != len(b["answers"]):
            yield {"drop": "bad_record"}
        else:
            turns = []
            for q, a in zip(b["questions"], b["answers"]):
                turns += [("user", q), ("assistant", a)]
            yield sample(book_id, turns, urls=[b["imageURL"]])


def zip_member(path, name):
    with zipfile.ZipFile(path) as z:
        try:
            return z.read(name)
        except KeyError:
            return None


def coco_captions_2017(d):
    base = os.path.join(d, "coco_captions_2017")
    with zipfile.ZipFile(os.path.join(base, "annotations_trainval2017.zip")) as z:
        doc = json.loads(z.read("annotations/captions_train2017.json"))
    for img in doc["images"]:
        caps = [a["caption"] for a in doc["annotations"] if a["image_id"] == img["id"]]
        data = zip_member(os.path.join(base, "train2017.zip"), "train2017/" + img["file_name"])
        if not caps:
            yield {"drop": "missing_join"}
        elif data is None:
            yield {"drop": "bad_image_ref"}
        else:
            yield sample("%012d" % img["id"], text=caps[0], images=[image(data)])


def vqav2(d):
    base = os.path.join(d, "vqav2")
    with zipfile.ZipFile(os.path.join(base, "v2_Questions_Train_mscoco.zip")) as z:
        questions = json.loads(z.read("v2_OpenEnded_mscoco_train2014_questions.json"))["questions"]
    with zipfile.ZipFile(os.path.join(base, "v2_Annotations_Train_mscoco.zip")) as z:
        anns = {a["question_id"]: a for a in json.loads(z.read("v2_mscoco_train2014_annotations.json"))["annotations"]}
    for q in questions:
        ann = anns.get(q["question_id"])
        data = zip_member(os.path.join(base, "train2014.zip"), "train2014/COCO_train2014_%012d.jpg" % q["image_id"])
        if ann is None:
            yield {"drop": "missing_join"}
        elif data is None:
            yield {"drop": "bad_image_ref"}
        else:
            words = [a["answer"] for a in ann["answers"]]
            unique = list(dict.fromkeys(words))
            yield sample("q%d" % q["question_id"], [("user", q["question"])],
                         answers=[(w, words.count(w) / len(words)) for w in unique], images=[image(data)])


def coco_instruct_150k(d):
    roles = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}
    with open(os.path.join(d, "coco_instruct_150k/llava_instruct_150k.json"), encoding="utf-8") as f:
        records = json.load(f)
    for r in records:
        bad = check_key(r["id"])
        if bad:
            yield bad
            continue
        images = []
        if "image" in r:
            data = zip_member(os.path.join(d, "coco_captions_2017/train2017.zip"), "train2017/" + r["image"])
            if data is None:
                yield {"drop": "bad_image_ref"}
                continue
            images.append(image(data))
        yield sample(r["id"], [(roles[t["from"]], t["value"]) for t in r["conversations"]], images=images)


if __name__ == "__main__":
    name, fixtures = sys.argv[1], sys.argv[2]
    for rec in globals()[name](fixtures):
        print(json.dumps(rec, ensure_ascii=False))
