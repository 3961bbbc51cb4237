"""The NVLM / InternVL dynamic high-resolution tiling, written in Python from
the published description (NVLM-DATA.md), on top of Pillow: the reference that
tessera's tiler is checked and benchmarked against. Not used by tessera itself.
"""
import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def candidate_grids(min_tiles, max_tiles):
    grids = set(
        (i, j)
        for n in range(min_tiles, max_tiles + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_tiles <= i * j <= max_tiles
    )
    return sorted(grids, key=lambda g: g[0] * g[1])


def closest_grid(width, height, min_tiles=1, max_tiles=6, tile=448):
    aspect = width / height
    best_diff = float("inf")
    best = (1, 1)
    area = width * height
    for cols, rows in candidate_grids(min_tiles, max_tiles):
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best_diff = diff
            best = (cols, rows)
        elif diff == best_diff and area > 0.5 * tile * tile * cols * rows:
            best = (cols, rows)
    return best


def tile_image(img, max_tiles=6, tile=448, thumbnail=True):
    """img: a PIL RGB image. Returns (grid, list of PIL tiles)."""
    cols, rows = closest_grid(img.width, img.height, 1, max_tiles, tile)
    resized = img.resize((tile * cols, tile * rows), Image.BICUBIC)
    tiles = []
    for r in range(rows):
        for c in range(cols):
            tiles.append(resized.crop((c * tile, r * tile, (c + 1) * tile, (r + 1) * tile)))
    if thumbnail and len(tiles) > 1:
        tiles.append(img.resize((tile, tile), Image.BICUBIC))
    return (cols, rows), tiles


def normalize(tile_img):
    """torchvision ToTensor + Normalize, in float32, CHW."""
    x = np.asarray(tile_img, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))
