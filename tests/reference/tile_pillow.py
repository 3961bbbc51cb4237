"""End-to-end check of `tessera tile` against Pillow + the InternVL rule.

For every decoder fixture (all modes of tests/reference/decode_pillow.py) and
for real photos at several aspect ratios: the tiles and thumbnail that
`tessera tile --png` writes must equal Pillow's pipeline
(Image.open().convert('RGB') -> grid -> resize(BICUBIC) -> crop), and so must
the grid and the tags in the JSON report. The f32/bf16 shard payloads are read
with readers/tessera_tiles.py (written from docs/FORMATS.md) and compared with
torchvision-style float32 normalization. Shards written with 1 and 2 threads
must be byte-identical. Prints "N passed, N failed" last.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "readers"))
import decode_pillow  # noqa: E402
import internvl_ref  # noqa: E402
import tessera_tiles  # noqa: E402

passed = failed = 0


def result(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)


def expected_tags(n):
    return ["<tile_%d>" % (k + 1) for k in range(n - 1)] + ["<tile_global_thumbnail>"]


def run_tile(tessera, args):
    out = subprocess.run([tessera, "-q", "tile"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [json.loads(x) for x in out.stdout.decode().splitlines() if x.strip()]
    return out.returncode, lines, out.stderr.decode()


def pillow_rgb(path, kind="plain"):
    """Pillow's decode for a fixture kind (plain convert('RGB'), exif, white)."""
    return Image.fromarray(decode_pillow.pillow_ref(path, [], kind))


TILE_FLAGS = {"plain": [], "exif": ["--exif-orientation"], "white": ["--alpha-white"]}


def compare_group(tessera, tmp, kind, cases):
    """cases: [(name, path, tol)] run through one `tessera tile -o` of that kind."""
    shard_path = os.path.join(tmp, "kind-%s.tiles" % kind)
    rc, lines, err = run_tile(tessera, ["-o", shard_path] + TILE_FLAGS[kind] + [c[1] for c in cases])
    reports = {line["input"]: line for line in lines}
    shard = tessera_tiles.TileShard(shard_path)
    same = total = 0
    for name, path, tol in cases:
        rep = reports.get(path)
        if rep is None or "error" in rep:
            result(False, "%s: tessera failed: %s %s" % (name, rep, err))
            continue
        grid, tiles = internvl_ref.tiles(pillow_rgb(path, kind))
        ok = rep["grid"] == list(grid) and rep["tiles"] == len(tiles) and rep["tags"] == expected_tags(len(tiles))
        d = np.abs(shard.tiles(path).astype(int) - np.stack([np.asarray(t) for t in tiles]).astype(int))
        worst = int(d.max())
        same += int((d == 0).sum())
        total += d.size
        ok = ok and (worst == 0 if tol == 0 else worst <= tol + 1)
        result(ok, "%s (%s): grid %s/%s tiles %d/%d max diff %d" % (name, kind, rep["grid"], list(grid),
                                                                   rep["tiles"], len(tiles), worst))
    return same, total


def check_png_output(tessera, tmp, paths):
    """--png writes the same tiles as the shard, named <basename>.<k>.png."""
    outdir = os.path.join(tmp, "png")
    shard_path = os.path.join(tmp, "png-check.tiles")
    rc, lines, err = run_tile(tessera, ["--png", outdir, "-o", shard_path] + paths)
    shard = tessera_tiles.TileShard(shard_path)
    ok = rc == 0
    for path in paths:
        tiles = shard.tiles(path)
        for k in range(len(tiles)):
            png = np.asarray(Image.open(os.path.join(outdir, "%s.%d.png" % (os.path.basename(path), k + 1))))
            ok = ok and np.array_equal(png, tiles[k])
    result(ok, "--png tiles differ from the shard's tiles")


def photo_cases(tmp):
    """Real photos cut to aspect ratios that exercise every grid."""
    src = decode_pillow.photo("astronaut.png")
    coffee = decode_pillow.photo("coffee.png")
    cases = []
    for i, (w, h, im) in enumerate([(512, 512, src), (600, 400, coffee), (1000, 240, coffee), (240, 1000, src),
                                    (900, 300, coffee), (300, 600, src), (1, 1, src), (3000, 2, coffee),
                                    (2, 3000, src), (1345, 897, coffee), (448, 448, src), (895, 449, coffee)]):
        path = os.path.join(tmp, "photo%02d.jpg" % i)
        im.resize((w, h), Image.BICUBIC).save(path, quality=92)
        cases.append(("photo%02d_%dx%d" % (i, w, h), path))
    return cases


def check_shards(tessera, tmp, paths):
    a, b = os.path.join(tmp, "j1.tiles"), os.path.join(tmp, "j2.tiles")
    run_tile(tessera, ["-j", "1", "-o", a] + paths)
    run_tile(tessera, ["-j", "2", "-o", b] + paths)
    result(open(a, "rb").read() == open(b, "rb").read(), "shards from -j1 and -j2 differ")
    for dtype in ("float32", "bfloat16", "float16"):
        out = os.path.join(tmp, "n-%s.tiles" % dtype)
        rc, lines, err = run_tile(tessera, ["--dtype", dtype, "-o", out] + paths[:3])
        shard = tessera_tiles.TileShard(out)
        ok = shard.count == 3
        for path in paths[:3]:
            arr = shard.tiles(path)
            _, tiles = internvl_ref.tiles(pillow_rgb(path))
            ref = np.stack([internvl_ref.normalize(np.asarray(t)) for t in tiles])
            if dtype == "float32":
                ok = ok and np.array_equal(arr, ref)
            elif dtype == "bfloat16":
                ok = ok and np.array_equal(arr, internvl_ref.to_bf16_bits(ref))
            else:
                ok = ok and np.array_equal(arr.view(np.uint16), internvl_ref.to_f16_bits(ref))
        result(ok, "normalized %s shard payload differs from float32 torchvision arithmetic" % dtype)
    # u8 shard through the independent reader equals the PNG tiles.
    shard = tessera_tiles.TileShard(a)
    ok = shard.count == len(paths)
    for path in paths:
        _, tiles = internvl_ref.tiles(pillow_rgb(path))
        ok = ok and np.array_equal(shard.tiles(path), np.stack([np.asarray(t) for t in tiles]))
    result(ok, "u8 shard read by readers/tessera_tiles.py differs from Pillow's tiles")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    tmp = os.path.join(args.tmp, "tile-e2e")
    fixtures = os.path.join(tmp, "fixtures")
    os.makedirs(fixtures, exist_ok=True)
    groups = {}
    for name, path, flags, kind, tol in decode_pillow.make_fixtures(fixtures):
        if kind in TILE_FLAGS and path not in [c[1] for c in groups.get(kind, [])]:
            groups.setdefault(kind, []).append((name, path, tol))
    photos = photo_cases(tmp)
    groups["plain"] += [(name, path, 0) for name, path in photos]
    same = total = 0
    for kind, cases in groups.items():
        s, t = compare_group(args.tessera, tmp, kind, cases)
        same += s
        total += t
    print("tiles vs Pillow: %.4f%% of %d values identical" % (100.0 * same / max(total, 1), total))
    check_png_output(args.tessera, tmp, [p for _, p in photos[:3]])
    check_shards(args.tessera, tmp, [p for _, p in photos])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
