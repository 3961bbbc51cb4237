#!/usr/bin/python3
"""Write a small random-weight InternViT (same architecture, smaller sizes) as
config.json + safetensors, written by hand with numpy, plus random normalized
tiles. Used by the CPU/torch cross-check and the GPU check.

  make_tiny_vit.py OUTDIR [--hidden 64 --heads 4 --mlp 256 --layers 2
                           --image 56 --patch 14 --tiles 3 --seed 1
                           --pad-heads 0 --prefix --dtype f32|bf16|f16
                           --shards 1]
OUTDIR gets config.json, model.safetensors (or an index + shards) and
tiles.f32 (tiles x 3 x image x image float32, CHW).
"""
import argparse
import json
import os
import struct

import numpy as np


def to_bytes(a, dtype):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "f32":
        return "F32", a.tobytes()
    if dtype == "f16":
        return "F16", a.astype(np.float16).tobytes()
    u = a.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even
    return "BF16", u.astype(np.uint16).tobytes()


def write_safetensors(path, tensors, dtype):
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        code, b = to_bytes(arr, dtype)
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--image", type=int, default=56)
    p.add_argument("--patch", type=int, default=14)
    p.add_argument("--tiles", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pad-heads", type=int, default=0, help="store this many heads (zero-padded)")
    p.add_argument("--prefix", action="store_true", help="prefix names with vision_model.")
    p.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    p.add_argument("--shards", type=int, default=1)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    D, H, F, L = a.hidden, a.heads, a.mlp, a.layers
    hd = D // H
    g = a.image // a.patch
    T = g * g + 1
    n = lambda *s, std=1.0: (rng.standard_normal(s) * std).astype(np.float32)
    pre = "vision_model." if a.prefix else ""
    P = a.pad_heads or H
    pad = (P - H) * hd

    t = [
        (pre + "embeddings.class_embedding", n(1, 1, D, std=0.5)),
        (pre + "embeddings.patch_embedding.weight", n(D, 3, a.patch, a.patch, std=0.05)),
        (pre + "embeddings.patch_embedding.bias", n(D, std=0.1)),
        (pre + "embeddings.position_embedding", n(1, T, D, std=0.3)),
    ]
    for l in range(L):
        b = f"{pre}encoder.layers.{l}."
        qkv = n(3 * D, D, std=D ** -0.5)
        qn, kn = 1 + n(D, std=0.2), 1 + n(D, std=0.2)
        proj = n(D, D, std=D ** -0.5)
        if pad:  # q|k|v each padded with zero heads; proj gets zero columns
            z = np.zeros((pad, D), np.float32)
            qkv = np.concatenate([qkv[:D], z, qkv[D:2 * D], z, qkv[2 * D:], z])
            qn = np.concatenate([qn, np.zeros(pad, np.float32)])
            kn = np.concatenate([kn, np.zeros(pad, np.float32)])
            proj = np.concatenate([proj, np.zeros((D, pad), np.float32)], axis=1)
        t += [
            (b + "attn.qkv.weight", qkv),
            (b + "attn.q_norm.weight", qn),
            (b + "attn.k_norm.weight", kn),
            (b + "attn.proj.weight", proj),
            (b + "attn.proj.bias", n(D, std=0.1)),
            (b + "mlp.fc1.weight", n(F, D, std=D ** -0.5)),
            (b + "mlp.fc1.bias", n(F, std=0.1)),
            (b + "mlp.fc2.weight", n(D, F, std=F ** -0.5)),
            (b + "mlp.fc2.bias", n(D, std=0.1)),
            (b + "norm1.weight", 1 + n(D, std=0.2)),
            (b + "norm2.weight", 1 + n(D, std=0.2)),
            (b + "ls1", 0.5 + n(D, std=0.2)),
            (b + "ls2", 0.5 + n(D, std=0.2)),
        ]
    os.makedirs(a.out, exist_ok=True)
    cfg = {
        "architectures": ["InternVisionModel"], "hidden_size": D, "num_attention_heads": H,
        "intermediate_size": F, "num_hidden_layers": L, "image_size": a.image,
        "patch_size": a.patch, "layer_norm_eps": 1e-6, "qk_normalization": True,
        "norm_type": "rms_norm", "hidden_act": "gelu", "qkv_bias": False, "num_channels": 3,
    }
    if a.prefix:  # the multimodal layout: vision settings nested
        cfg = {"architectures": ["NVLM_D"], "vision_config": cfg, "select_layer": -1}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if a.shards == 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), t, a.dtype)
    else:
        per = (len(t) + a.shards - 1) // a.shards
        wmap = {}
        for s in range(a.shards):
            part = t[s * per:(s + 1) * per]
            fn = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
            write_safetensors(os.path.join(a.out, fn), part, a.dtype)
            wmap.update({name: fn for name, _ in part})
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wmap}, f, indent=1)
    tiles = n(a.tiles, 3, a.image, a.image)
    tiles.tofile(os.path.join(a.out, "tiles.f32"))


if __name__ == "__main__":
    main()
