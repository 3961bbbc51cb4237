"""Independent reference for the tiler's geometry, written from the InternVL /
NVLM description (docs: /work/shared/NVLM-DATA.md), using Pillow and numpy.

- candidates(): InternVL's dynamic_preprocess candidate list: a Python set of
  (i, j), sorted by i*j (stable, so equal products keep set order).
- closest_grid(): find_closest_aspect_ratio, including the tie rule.
- tiles(): dynamic_preprocess with use_thumbnail=True on a PIL image.
- normalize(): torchvision ToTensor + Normalize in numpy float32.
"""
import numpy as np


def candidates(min_num, max_num):
    ratios = set(
        (i, j)
        for n in range(min_num, max_num + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_num <= i * j <= max_num
    )
    return sorted(ratios, key=lambda x: x[0] * x[1])


def closest_grid(width, height, cands, image_size):
    aspect_ratio = width / height
    best_diff = float("inf")
    best = (1, 1)
    area = width * height
    for ratio in cands:
        diff = abs(aspect_ratio - ratio[0] / ratio[1])
        if diff < best_diff:
            best_diff = diff
            best = ratio
        elif diff == best_diff:
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best = ratio
    return best


def tiles(img, image_size=448, min_num=1, max_num=6, use_thumbnail=True):
    from PIL import Image

    w, h = img.size
    cols, rows = closest_grid(w, h, candidates(min_num, max_num), image_size)
    big = img.resize((image_size * cols, image_size * rows), Image.BICUBIC)
    out = []
    for k in range(cols * rows):
        c, r = k % cols, k // cols
        out.append(big.crop((c * image_size, r * image_size, (c + 1) * image_size, (r + 1) * image_size)))
    if use_thumbnail and len(out) != 1:
        out.append(img.resize((image_size, image_size), Image.BICUBIC))
    return (cols, rows), out


MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def normalize(hwc_u8):
    """ToTensor (u8 -> float32 / 255, CHW) then Normalize ((x - mean) / std), all float32.
    In place, like torchvision's sub_/div_ (and much faster than temporaries)."""
    x = np.ascontiguousarray(hwc_u8.transpose(2, 0, 1)).astype(np.float32)
    x /= np.float32(255)
    x -= MEAN[:, None, None]
    x /= STD[:, None, None]
    return x


def to_bf16_bits(f32):
    """Round float32 to bfloat16, nearest-even (as torch's .bfloat16()); finite inputs."""
    u = f32.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def to_f16_bits(f32):
    return f32.astype(np.float16).view(np.uint16)
