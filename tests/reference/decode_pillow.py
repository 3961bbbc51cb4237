#!/usr/bin/python3
"""Cross-check tessera's image decoder (tests/tools/decode_dump) against
Pillow: fixtures in every mode are written with Pillow (or by hand where
Pillow cannot write the mode), decoded by both, and compared value by value.

  decode_pillow.py --tool build/tools/decode_dump --tmp DIR

Reference for each case:
  plain      Image.open(f).convert('RGB')
  exif       ImageOps.exif_transpose(Image.open(f)).convert('RGB')
  white      Image.alpha_composite(white, Image.open(f).convert('RGBA')).convert('RGB')
  scaled     djpeg -scale N/8 (libjpeg-turbo's own DCT-scaled output), N the
             smallest eighth whose output covers the requested size
  error      both must fail (truncated files: Pillow raises unless
             LOAD_TRUNCATED_IMAGES, tessera returns TS_EFORMAT)
  same       both fail, or both decode to the same pixels

Prints one line per case (percent of identical values, max abs diff) and
ends with "N passed, N failed".
"""
import argparse
import io
import json
import os
import struct
import subprocess
import sys
import zlib

import warnings

import numpy as np
from PIL import Image, ImageOps

DATA = "/usr/lib/python3/dist-packages/skimage/data"
WHITE_BG = (255, 255, 255, 255)


def photo(name, size=None, box=None):
    im = Image.open(os.path.join(DATA, name))
    im.load()
    if box:
        im = im.crop(box)
    if size:
        im = im.resize(size, Image.BICUBIC)
    return im


def exif_bytes(orientation, big_endian=False):
    ex = Image.Exif()
    if big_endian:
        ex.endian = ">"
    ex[0x0112] = orientation
    return ex.tobytes()


# ---- hand-written PNG (modes Pillow cannot write: 16-bit RGB/RGBA/LA,
# ---- interlaced, palettes shorter than the indices used)

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_rows(arr, depth):
    """(h, w, c) unsigned samples -> list of packed row bytes."""
    h = arr.shape[0]
    if depth == 16:
        return [arr[y].astype(">u2").tobytes() for y in range(h)]
    if depth == 8:
        return [arr[y].astype(np.uint8).tobytes() for y in range(h)]
    rows = []
    per = 8 // depth
    for y in range(h):
        flat = arr[y].reshape(-1).astype(np.uint8)
        pad = (-len(flat)) % per
        flat = np.concatenate([flat, np.zeros(pad, np.uint8)]).reshape(-1, per)
        shifts = np.array([8 - depth * (i + 1) for i in range(per)], np.uint8)
        rows.append((flat << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


def filter_rows(rows, bpp):
    """Alternate filter types None and Sub so the decoder's unfiltering runs."""
    out = b""
    for i, r in enumerate(rows):
        if i % 2 == 0:
            out += b"\0" + r
        else:
            a = np.frombuffer(r, np.uint8).astype(np.int16)
            prev = np.concatenate([np.zeros(bpp, np.int16), a[:-bpp]]) if len(a) > bpp else np.zeros_like(a)
            if len(a) <= bpp:
                prev = np.zeros_like(a)
            out += b"\1" + ((a - prev) & 0xFF).astype(np.uint8).tobytes()
    return out


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, arr, depth, color_type, interlace=False, plte=None, trns=None, exif=None):
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, c = arr.shape
    bpp = max(1, c * depth // 8)
    if interlace:
        raw = b""
        for xs, ys, dx, dy in ADAM7:
            sub = arr[ys::dy, xs::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += filter_rows(pack_rows(sub, depth), bpp)
    else:
        raw = filter_rows(pack_rows(arr, depth), bpp)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    if exif is not None:
        out += png_chunk(b"eXIf", exif)
    out += png_chunk(b"IDAT", zlib.compress(raw, 6)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


# ---- hand-written GIF: literal-only LZW (a clear code before the table
# ---- would widen the code size), so any canvas/frame layout can be written.

def lzw_literal(indices, min_code_size):
    clear, eoi = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    limit = (1 << width) - (1 << min_code_size) - 2  # literals before a reset
    codes = [clear]
    since = 0
    for v in indices:
        if since == limit:
            codes.append(clear)
            since = 0
        codes.append(int(v))
        since += 1
    codes.append(eoi)
    bits = 0
    nbits = 0
    out = bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = b"".join(bytes([len(out[i:i + 255])]) + bytes(out[i:i + 255]) for i in range(0, len(out), 255))
    return bytes([min_code_size]) + blocks + b"\0"


def write_gif(path, canvas, frame_box, indices, palette_bits, palette, transparent=None,
              interlace=False):
    cw, ch = canvas
    x0, y0, fw, fh = frame_box
    out = b"GIF89a" + struct.pack("<HHBBB", cw, ch, 0x80 | (palette_bits - 1), 0, 0)
    pal = bytes(palette) + bytes(3 * (1 << palette_bits) - len(palette))
    out += pal
    if transparent is not None:
        out += b"\x21\xf9\x04" + bytes([1]) + b"\0\0" + bytes([transparent]) + b"\0"
    if interlace:  # (indices may be short of fw * fh only without interlace)
        order = list(range(0, fh, 8)) + list(range(4, fh, 8)) + list(range(2, fh, 4)) + list(range(1, fh, 2))
        indices = indices.reshape(fh, fw)[order].reshape(-1)
    out += b"\x2c" + struct.pack("<HHHHB", x0, y0, fw, fh, 0x40 if interlace else 0)
    out += lzw_literal(indices, max(2, palette_bits)) + b"\x3b"
    with open(path, "wb") as f:
        f.write(out)


# ---- fixtures

def make_fixtures(d, tools=None):
    """Returns a list of (name, path, flags, kind, tolerance) cases. `tools`
    is the folder of the test tools; without it the YCCK case (written by
    tools/make_ycck) is left out."""
    cases = []

    def add(name, path, flags=(), kind="plain", tol=0):
        cases.append((name, path, list(flags), kind, tol))

    def p(name):
        return os.path.join(d, name)

    rgb = photo("chelsea.png", box=(0, 0, 451, 299))         # odd height: partial MCU rows
    rgb2 = photo("astronaut.png", size=(253, 197))
    gray = photo("camera.png", size=(211, 157))
    rng = np.random.default_rng(7)
    a = np.asarray(rgb2)
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    alpha = ((xx * 255) // (a.shape[1] - 1)).astype(np.uint8)
    alpha[:20, :20] = 0                                       # fully transparent corner
    rgba = Image.fromarray(np.dstack([a, alpha]), "RGBA")

    # JPEG
    rgb.save(p("baseline.jpg"), quality=90)
    add("jpeg baseline 4:2:0", p("baseline.jpg"))
    rgb.save(p("s444.jpg"), quality=95, subsampling=0)
    add("jpeg 4:4:4", p("s444.jpg"))
    rgb.save(p("s422.jpg"), quality=85, subsampling=1)
    add("jpeg 4:2:2", p("s422.jpg"))
    rgb.save(p("progressive.jpg"), quality=85, progressive=True)
    add("jpeg progressive", p("progressive.jpg"))
    gray.save(p("gray.jpg"), quality=90)
    add("jpeg grayscale", p("gray.jpg"))
    rgb2.convert("CMYK").save(p("cmyk.jpg"), quality=90)
    add("jpeg CMYK (Adobe)", p("cmyk.jpg"))
    cm = np.asarray(rgb2.convert("CMYK")).copy()
    cm[..., 3] = rng.integers(0, 256, cm.shape[:2], dtype=np.uint8)  # real K values
    Image.fromarray(cm, "CMYK").save(p("cmyk_k.jpg"), quality=95)
    add("jpeg CMYK with K", p("cmyk_k.jpg"))
    if tools:  # variants Pillow cannot write, encoded by tests/tools/make_jpeg
        variants = (("ycck", cm, "jpeg YCCK (Adobe transform 2)"),
                    ("rgb", np.asarray(rgb), "jpeg RGB, no transform (Adobe 0)"),
                    ("restart", np.asarray(rgb), "jpeg with restart markers"),
                    ("arith", np.asarray(rgb), "jpeg arithmetic coding"))
        for mode, arr, label in variants:
            raw = p(mode + ".raw")
            np.ascontiguousarray(arr).tofile(raw)
            subprocess.run([os.path.join(tools, "make_jpeg"), mode, str(arr.shape[1]), str(arr.shape[0]),
                            raw, p(mode + ".jpg")], check=True)
            add(label, p(mode + ".jpg"))
        with open(p("restart.jpg"), "rb") as f:
            rb = f.read()
        with open(p("trunc_restart.jpg"), "wb") as f:
            f.write(rb[: len(rb) // 2])
        add("jpeg with restart markers truncated", p("trunc_restart.jpg"), kind="error")
    add("jpeg rocket.jpg (camera file)", os.path.join(DATA, "rocket.jpg"))
    add("jpeg hubble_deep_field.jpg", os.path.join(DATA, "hubble_deep_field.jpg"))
    with open(p("baseline.jpg"), "rb") as f:
        jb = f.read()
    with open(p("no_eoi.jpg"), "wb") as f:
        f.write(jb[:-2])
    add("jpeg without EOI marker", p("no_eoi.jpg"), kind="same")
    for frac in (0.3, 0.7, 0.98):
        with open(p("trunc%d.jpg" % int(frac * 100)), "wb") as f:
            f.write(jb[: int(len(jb) * frac)])
        add("jpeg truncated at %d%%" % int(frac * 100), p("trunc%d.jpg" % int(frac * 100)), kind="error")
    with open(p("progressive.jpg"), "rb") as f:
        jp = f.read()
    with open(p("trunc_prog.jpg"), "wb") as f:
        f.write(jp[: int(len(jp) * 0.8)])
    add("jpeg progressive truncated", p("trunc_prog.jpg"), kind="error")
    add("jpeg truncated.jpg (skimage)", os.path.join(DATA, "truncated.jpg"), kind="error")
    for o in range(1, 9):
        rgb2.save(p("exif%d.jpg" % o), quality=90, exif=exif_bytes(o, big_endian=(o % 2 == 0)))
        add("jpeg EXIF orientation %d" % o, p("exif%d.jpg" % o), ["--exif"], kind="exif")
    add("jpeg EXIF 6, option off", p("exif6.jpg"))
    for mw, mh, src in ((100, 60, "baseline.jpg"), (200, 150, "baseline.jpg"), (57, 57, "progressive.jpg"),
                        (40, 30, "gray.jpg"), (300, 200, "s444.jpg"), (451, 299, "baseline.jpg"),
                        ):
        add("jpeg fast %dx%d %s" % (mw, mh, src), p(src), ["--min", "%dx%d" % (mw, mh)], kind="scaled")
    add("jpeg fast 60x100 + EXIF 6", p("exif6.jpg"), ["--exif", "--min", "60x100"], kind="scaled")

    # PNG written by Pillow
    rgb.save(p("rgb.png"))
    add("png RGB", p("rgb.png"))
    rgba.save(p("rgba.png"))
    add("png RGBA", p("rgba.png"))
    add("png RGBA over white", p("rgba.png"), ["--white"], kind="white")
    pal = rgb.quantize(200)
    pal.save(p("palette.png"))
    add("png palette 8-bit", p("palette.png"))
    pal.save(p("palette_trns.png"), transparency=bytes(range(0, 200)))
    add("png palette + tRNS", p("palette_trns.png"))
    add("png palette + tRNS over white", p("palette_trns.png"), ["--white"], kind="white")
    rgb.quantize(16).save(p("palette4.png"), bits=4)
    add("png palette 4-bit", p("palette4.png"))
    rgb.quantize(4).save(p("palette2.png"), bits=2)
    add("png palette 2-bit", p("palette2.png"))
    gray.save(p("gray.png"))
    add("png L", p("gray.png"))
    gray.save(p("gray_trns.png"), transparency=128)
    add("png L + tRNS over white", p("gray_trns.png"), ["--white"], kind="white")
    Image.merge("LA", [gray, gray.point(lambda v: 255 - v)]).save(p("la.png"))
    add("png LA", p("la.png"))
    add("png LA over white", p("la.png"), ["--white"], kind="white")
    gray.convert("1").save(p("bilevel.png"))
    add("png 1-bit", p("bilevel.png"))
    rgb.save(p("rgb_trns.png"), transparency=tuple(int(v) for v in np.asarray(rgb)[5, 5]))
    add("png RGB + tRNS over white", p("rgb_trns.png"), ["--white"], kind="white")
    g16 = (np.asarray(gray).astype(np.uint32) * 3).astype(np.uint16)  # values 0..765: Pillow clips
    Image.fromarray(g16, "I;16").save(p("gray16.png"))
    add("png 16-bit gray (Pillow I;16)", p("gray16.png"))
    rgb2.save(p("exif6.png"), exif=exif_bytes(6))
    add("png eXIf orientation 6", p("exif6.png"), ["--exif"], kind="exif")
    rgb2.save(p("exif3.png"), exif=exif_bytes(3, big_endian=True))
    add("png eXIf orientation 3 (MM)", p("exif3.png"), ["--exif"], kind="exif")
    # Orientation from PNG text chunks (Pillow's getexif fallbacks)
    from PIL import PngImagePlugin

    def png_with_text(name, chunks, exif=None):
        info = PngImagePlugin.PngInfo()
        for key, value, kind in chunks:
            if kind == "itxt":
                info.add_itxt(key, value, zip=True)
            else:
                info.add_text(key, value, zip=(kind == "ztxt"))
        kw = {"pnginfo": info}
        if exif is not None:
            kw["exif"] = exif
        rgb2.save(p(name), **kw)
        return p(name)

    hexed = exif_bytes(6).hex()
    raw_profile = "\nexif\n%8d\n" % (len(hexed) // 2) + "\n".join(
        hexed[i:i + 72] for i in range(0, len(hexed), 72)) + "\n"
    add("png Raw profile type exif (zTXt) 6",
        png_with_text("raw_profile.png", [("Raw profile type exif", raw_profile, "ztxt")]), ["--exif"], kind="exif")
    add("png XMP element (iTXt) 8",
        png_with_text("xmp_elem.png", [("XML:com.adobe.xmp",
                                        "<x><tiff:Orientation>8</tiff:Orientation></x>", "itxt")]),
        ["--exif"], kind="exif")
    add("png XMP attribute (tEXt) 3",
        png_with_text("xmp_attr.png", [("XML:com.adobe.xmp", '<x tiff:Orientation="3"/>', "text")]),
        ["--exif"], kind="exif")
    other = Image.Exif()
    other[0x010F] = "maker"
    add("png eXIf without 0x0112 + XMP 7",
        png_with_text("xmp_fallback.png", [("XML:com.adobe.xmp", '<x tiff:Orientation="7"/>', "text")],
                      exif=other.tobytes()), ["--exif"], kind="exif")
    add("png eXIf 1 wins over XMP 6",
        png_with_text("xmp_ignored.png", [("XML:com.adobe.xmp", '<x tiff:Orientation="6"/>', "text")],
                      exif=exif_bytes(1)), ["--exif"], kind="exif")
    for f in ("palette_color.png", "green_palette.png", "foo3x5x4indexed.png", "logo.png",
              "horse.png", "checker_bilevel.png", "palette_gray.png", "coins.png"):
        add("png %s (skimage)" % f, os.path.join(DATA, f))
    add("png logo.png over white", os.path.join(DATA, "logo.png"), ["--white"], kind="white")

    # PNG written by hand
    a16 = (np.asarray(rgb2).astype(np.uint16) * 257 + rng.integers(0, 257, np.asarray(rgb2).shape)).astype(np.uint16)
    write_png(p("rgb16.png"), a16, 16, 2)
    add("png 16-bit RGB", p("rgb16.png"))
    al16 = (alpha.astype(np.uint16) * 257)[:, :, None]
    write_png(p("rgba16.png"), np.concatenate([a16, al16], axis=2), 16, 6)
    add("png 16-bit RGBA", p("rgba16.png"))
    add("png 16-bit RGBA over white", p("rgba16.png"), ["--white"], kind="white")
    write_png(p("la16.png"), np.dstack([a16[..., 0], al16[..., 0]]), 16, 4)
    add("png 16-bit LA", p("la16.png"))
    write_png(p("rgb_interlaced.png"), np.asarray(rgb2), 8, 2, interlace=True)
    add("png interlaced RGB", p("rgb_interlaced.png"))
    write_png(p("rgba_interlaced.png"), np.asarray(rgba), 8, 6, interlace=True)
    add("png interlaced RGBA", p("rgba_interlaced.png"))
    write_png(p("rgb16_interlaced.png"), a16, 16, 2, interlace=True)
    add("png interlaced 16-bit RGB", p("rgb16_interlaced.png"))
    g2 = (np.asarray(gray) >> 6).astype(np.uint8)
    write_png(p("gray2_interlaced.png"), g2, 2, 0, interlace=True)
    add("png interlaced 2-bit gray", p("gray2_interlaced.png"))
    write_png(p("gray4.png"), (np.asarray(gray) >> 4).astype(np.uint8), 4, 0)
    add("png 4-bit gray", p("gray4.png"))
    idx = np.asarray(pal)
    write_png(p("palette1_interlaced.png"), (idx & 1).astype(np.uint8), 1, 3, interlace=True,
              plte=[255, 0, 0, 0, 0, 255])
    add("png interlaced 1-bit palette", p("palette1_interlaced.png"))
    write_png(p("short_plte.png"), idx, 8, 3, plte=list(range(30)), trns=bytes([0, 128, 255, 7]))
    add("png indices past a 10-entry PLTE", p("short_plte.png"))
    add("png indices past PLTE over white", p("short_plte.png"), ["--white"], kind="white")
    write_png(p("rgb16_trns.png"), a16, 16, 2, trns=struct.pack(">3H", *[int(v) for v in a16[3, 3]]))
    add("png 16-bit RGB + tRNS over white", p("rgb16_trns.png"), ["--white"], kind="white")
    with open(p("rgb.png"), "rb") as f:
        pb = f.read()
    for cut, what in ((12, "IEND"), (14, "IEND and half the last CRC")):
        name = p("cut%d.png" % cut)
        with open(name, "wb") as f:
            f.write(pb[:-cut])
        add("png without %s" % what, name, kind="same")
    for frac in (0.2, 0.6, 0.99):
        name = p("trunc%d.png" % int(frac * 100))
        with open(name, "wb") as f:
            f.write(pb[: int(len(pb) * frac)])
        add("png truncated at %d%%" % int(frac * 100), name, kind="error")

    # WebP (same libwebp as Pillow, so exact)
    rgb.save(p("lossy.webp"), quality=80)
    add("webp lossy", p("lossy.webp"))
    coffee = photo("coffee.png", box=(0, 0, 399, 301))
    coffee.save(p("lossy_q50.webp"), quality=50, method=6)
    add("webp lossy q50 odd size", p("lossy_q50.webp"))
    ca = np.asarray(coffee)
    cy, cx = np.mgrid[0:ca.shape[0], 0:ca.shape[1]]
    Image.fromarray(np.dstack([ca, ((cx + cy) % 256).astype(np.uint8)]), "RGBA").save(
        p("lossy_alpha_q95.webp"), quality=95, exact=True)
    add("webp lossy + alpha q95 exact", p("lossy_alpha_q95.webp"))
    rgb.save(p("lossless.webp"), lossless=True)
    add("webp lossless", p("lossless.webp"))
    rgba.save(p("lossy_alpha.webp"), quality=80)
    add("webp lossy + alpha", p("lossy_alpha.webp"))
    add("webp lossy + alpha over white", p("lossy_alpha.webp"), ["--white"], kind="white")
    rgba.save(p("lossless_alpha.webp"), lossless=True)
    add("webp lossless + alpha", p("lossless_alpha.webp"))
    frames = [rgb2, rgb2.transpose(Image.FLIP_LEFT_RIGHT), rgb2.rotate(180)]
    frames[0].save(p("anim.webp"), save_all=True, append_images=frames[1:], duration=100, quality=80)
    add("webp animated (first frame)", p("anim.webp"))
    rgba.save(p("anim_alpha.webp"), save_all=True, append_images=[rgba.rotate(90)], lossless=True)
    add("webp animated alpha over white", p("anim_alpha.webp"), ["--white"], kind="white")
    rgb2.save(p("exif6.webp"), quality=80, exif=exif_bytes(6))
    add("webp EXIF orientation 6", p("exif6.webp"), ["--exif"], kind="exif")
    rgb2.save(p("exif8.webp"), lossless=True, exif=exif_bytes(8, big_endian=True))
    add("webp EXIF orientation 8 (MM)", p("exif8.webp"), ["--exif"], kind="exif")
    with open(p("lossy.webp"), "rb") as f:
        wb = f.read()
    with open(p("trunc.webp"), "wb") as f:
        f.write(wb[: len(wb) // 2])
    add("webp truncated at 50%", p("trunc.webp"), kind="error")

    # GIF
    q = rgb.quantize(256)
    q.save(p("interlaced.gif"))  # Pillow interlaces by default
    add("gif 256 colors interlaced", p("interlaced.gif"))
    q.save(p("plain.gif"), interlace=False)
    add("gif 256 colors", p("plain.gif"))
    q.save(p("trns.gif"), transparency=int(np.asarray(q)[10, 10]))
    add("gif transparency index", p("trns.gif"))
    add("gif transparency over white", p("trns.gif"), ["--white"], kind="white")
    rgb.quantize(16).save(p("small_palette.gif"))
    add("gif 16-color palette", p("small_palette.gif"))
    gframes = [f.quantize(64) for f in frames]
    gframes[0].save(p("anim.gif"), save_all=True, append_images=gframes[1:], duration=80, loop=0)
    add("gif animated (first frame)", p("anim.gif"))
    add("gif no_time_for_that_tiny.gif (skimage)", os.path.join(DATA, "no_time_for_that_tiny.gif"))
    fi = rng.integers(0, 4, 20 * 11).astype(np.uint8)
    write_gif(p("offset.gif"), (40, 30), (5, 7, 20, 11), fi, 1, [200, 10, 10, 10, 200, 10], transparent=1)
    add("gif frame inside canvas, 2-color palette", p("offset.gif"))
    add("gif frame inside canvas over white", p("offset.gif"), ["--white"], kind="white")
    write_gif(p("grown.gif"), (10, 10), (4, 3, 12, 9), fi[:108], 2, [1, 2, 3, 90, 80, 70, 9, 9, 9, 250, 0, 0],
              interlace=True)
    add("gif frame larger than screen, interlaced", p("grown.gif"))
    with open(p("plain.gif"), "rb") as f:
        gb = f.read()
    with open(p("no_trailer.gif"), "wb") as f:
        f.write(gb[:-1])
    add("gif without trailer", p("no_trailer.gif"), kind="same")
    write_gif(p("short_lzw.gif"), (20, 10), (0, 0, 20, 10), fi[:150], 2, [10, 20, 30, 200, 100, 50])
    add("gif LZW data ends before the frame", p("short_lzw.gif"), kind="error")
    with open(p("trunc.gif"), "wb") as f:
        f.write(gb[: len(gb) // 2])
    add("gif truncated at 50%", p("trunc.gif"), kind="error")
    return cases


def pillow_ref(path, flags, kind):
    im = Image.open(path)
    if kind == "exif":
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    if kind == "white":
        im = im.convert("RGBA")
        return np.asarray(Image.alpha_composite(Image.new("RGBA", im.size, WHITE_BG), im).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def djpeg_scaled(path, flags, tmp):
    """libjpeg-turbo's own N/8 output for the smallest N covering --min."""
    mw, mh = (int(v) for v in flags[flags.index("--min") + 1].split("x"))
    im = Image.open(path)
    w, h = im.size
    orient = im.getexif().get(0x0112) if "--exif" in flags else None
    if orient in (5, 6, 7, 8):
        mw, mh = mh, mw
    n = next((n for n in range(1, 9) if -(-w * n // 8) >= mw and -(-h * n // 8) >= mh), 8)
    out = os.path.join(tmp, "djpeg.pnm")
    subprocess.run(["djpeg", "-scale", "%d/8" % n, "-pnm", "-outfile", out, path], check=True)
    ref = Image.open(out).convert("RGB")
    if orient:
        tr = {2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM, 5: Image.TRANSPOSE,
              6: Image.ROTATE_270, 7: Image.TRANSVERSE, 8: Image.ROTATE_90}.get(orient)
        if tr is not None:
            ref = ref.transpose(tr)
    return np.asarray(ref), n


def run_tool(tool, cases, d):
    """Decodes every case, one decode_dump process per set of flags.
    Returns {case index: (info, array | None) or (None, problem)}."""
    groups = {}
    for k, (name, path, flags, kind, tol) in enumerate(cases):
        groups.setdefault(tuple(flags), []).append((k, path))
    results = {}
    for flags, members in groups.items():
        args = [tool] + list(flags)
        for k, path in members:
            args += [path, os.path.join(d, "out%d.rgb" % k)]
        r = subprocess.run(args, capture_output=True, text=True, timeout=300)
        lines = r.stdout.strip().splitlines()
        if r.returncode not in (0, 1) or len(lines) != len(members):
            for k, _ in members:
                results[k] = (None, "tool crashed or misused (exit %d): %s" % (r.returncode, r.stderr.strip()))
            continue
        for (k, _), line in zip(members, lines):
            info = json.loads(line)
            if "error" in info:
                results[k] = (info, None)
            else:
                arr = np.fromfile(os.path.join(d, "out%d.rgb" % k), np.uint8)
                results[k] = (info, arr.reshape(info["out_height"], info["out_width"], 3))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # Pillow's notes on palette transparency
    d = os.path.join(args.tmp, "decode-fixtures")
    os.makedirs(d, exist_ok=True)
    cases = make_fixtures(d, os.path.dirname(os.path.abspath(args.tool)))
    passed = failed = 0
    print("%-44s %10s %8s  %s" % ("case", "identical", "maxdiff", "result"))
    results = run_tool(args.tool, cases, d)
    for k, (name, path, flags, kind, tol) in enumerate(cases):
        info, got = results[k]
        ok, detail = False, ""
        try:
            if kind == "error":
                pillow_fails = False
                try:
                    pillow_ref(path, flags, "plain")
                    pil = "Pillow decodes it"
                except Exception as e:  # noqa: BLE001 - any Pillow failure counts
                    pil = "Pillow raises %s" % type(e).__name__
                    pillow_fails = True
                ok = pillow_fails and info is not None and "error" in info
                detail = "tessera: %s; %s" % (info.get("message") if info and "error" in info else "decoded", pil)
                print("%-44s %10s %8s  %s (%s)" % (name, "-", "-", "ok" if ok else "FAIL", detail))
            else:
                if kind == "scaled":
                    ref, n = djpeg_scaled(path, flags, d)
                    mw, mh = (int(v) for v in flags[flags.index("--min") + 1].split("x"))
                    extra = " scale %d/8 -> %dx%d" % (n, ref.shape[1], ref.shape[0])
                elif kind == "same":
                    try:
                        ref = pillow_ref(path, flags, "plain")
                        extra = " (both decode)"
                    except Exception as e:  # noqa: BLE001
                        ref = None
                        extra = " (Pillow raises %s)" % type(e).__name__
                else:
                    ref = pillow_ref(path, flags, kind)
                    extra = ""
                if got is None or isinstance(got, str):
                    if kind == "same" and ref is None and info and "error" in info:
                        print("%-44s %10s %8s  ok (both fail)" % (name, "-", "-"))
                        passed += 1
                        continue
                    msg = got if isinstance(got, str) else (info or {}).get("message")
                    print("%-44s %10s %8s  FAIL (tessera: %s)%s" % (name, "-", "-", msg, extra))
                    failed += 1
                    continue
                if ref is None or ref.shape != got.shape:
                    print("%-44s %10s %8s  FAIL shape %s vs Pillow %s%s" % (
                        name, "-", "-", got.shape, None if ref is None else ref.shape, extra))
                    failed += 1
                    continue
                diff = np.abs(ref.astype(np.int16) - got.astype(np.int16))
                same = 100.0 * np.count_nonzero(diff == 0) / diff.size
                ok = int(diff.max()) <= tol
                if kind == "scaled":  # the decoded size must cover the request
                    ok = ok and got.shape[1] >= mw and got.shape[0] >= mh
                print("%-44s %9.4f%% %8d  %s%s" % (name, same, int(diff.max()), "ok" if ok else "FAIL", extra))
        except Exception as e:  # noqa: BLE001 - a broken case is a failure, not a crash
            print("%-44s FAIL (%s: %s)" % (name, type(e).__name__, e))
            ok = False
        if ok:
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
