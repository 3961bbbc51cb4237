"""Benchmark inputs: real photos from Debian's python3-skimage, saved as JPEG
(baseline, quality 90) and PNG at dataset-like sizes (about 0.3 to 2.5 MP)."""
import os
import sys

from PIL import Image

SRC = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "motorcycle_left.png",
          "rocket.jpg", "immunohistochemistry.png", "ihc.png", "page.png", "logo.png", "brick.png", "grass.png"]
SCALES = [1.0, 1.6, 2.5]

out, count = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
sources = [Image.open(os.path.join(SRC, p)).convert("RGB") for p in PHOTOS if os.path.exists(os.path.join(SRC, p))]
n = 0
while n < count:
    for src in sources:
        for s in SCALES:
            if n == count:
                break
            img = src.resize((max(1, int(src.width * s)), max(1, int(src.height * s))), Image.BICUBIC)
            ext = "png" if n % 5 == 4 else "jpg"
            img.save(os.path.join(out, f"img{n:05d}.{ext}"), quality=90)
            n += 1
