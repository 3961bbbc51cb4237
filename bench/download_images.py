"""Benchmark inputs for bench/download.sh: distinct real JPEGs of 20-200 KB
from Debian's python3-skimage photos (crops, sizes, qualities).

usage: download_images.py OUT_DIR COUNT"""
import os
import sys

from PIL import Image

SRC = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "motorcycle_left.png",
          "rocket.jpg", "immunohistochemistry.png", "brick.png", "grass.png", "gravel.png", "color.png"]

out, count = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
sources = [Image.open(os.path.join(SRC, p)).convert("RGB") for p in PHOTOS if os.path.exists(os.path.join(SRC, p))]
n = attempt = 0
while n < count:
    src = sources[attempt % len(sources)]
    k = attempt // len(sources)
    attempt += 1
    scale = 0.45 + (k % 9) * 0.12
    quality = 60 + (k * 7) % 36
    w, h = max(64, int(src.width * scale)), max(64, int(src.height * scale))
    img = src.resize((w, h), Image.BICUBIC)
    if k % 2:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    path = os.path.join(out, f"src{n:04d}.jpg")
    img.save(path, quality=quality)
    size = os.path.getsize(path)
    if 20_000 <= size <= 200_000:
        n += 1
    else:
        os.remove(path)
    if attempt > count * 20:
        sys.exit("could not make enough 20-200 KB JPEGs")
