#!/usr/bin/python3
"""An independent PyTorch InternViT forward (float64 on the CPU), written from
the model description (NVLM-DATA.md), to check tessera's C reference.

  vit_torch.py MODEL_DIR TILES.f32 OUT.f32

Loads config.json and the safetensors (single file or sharded index, with or
without the vision_model. prefix, zero-padded heads) with its own parser,
runs the tiles (N x 3 x S x S float32) and writes N x (g/2)^2 x 4D float32.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

DT = {"F32": np.float32, "F16": np.float16, "BF16": "bf16"}


def read_safetensors(path):
    out = {}
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    hdr = json.loads(buf[8:8 + n])
    base = 8 + n
    for name, meta in hdr.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        raw = buf[base + b:base + e]
        if meta["dtype"] == "BF16":
            u = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, DT[meta["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(meta["shape"]).copy()).double()
    return out


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg = cfg.get("vision_config", cfg)
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    w = {}
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        for fn in files:
            w.update(read_safetensors(os.path.join(model_dir, fn)))
    else:
        w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    w = {k[len("vision_model."):] if k.startswith("vision_model.") else k: v for k, v in w.items()}
    return cfg, w


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * weight


def forward(cfg, w, pixels):
    D = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    hd = D // H
    eps = cfg.get("layer_norm_eps", 1e-6)
    ps = cfg["patch_size"]
    n = pixels.shape[0]
    # patch embedding: a strided convolution
    x = F.conv2d(pixels, w["embeddings.patch_embedding.weight"], w["embeddings.patch_embedding.bias"], stride=ps)
    g = x.shape[-1]
    x = x.flatten(2).transpose(1, 2)  # n, g*g, D
    cls = w["embeddings.class_embedding"].reshape(1, 1, D).expand(n, 1, D)
    x = torch.cat([cls, x], 1) + w["embeddings.position_embedding"].reshape(1, -1, D)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layers.{l}."
        stored = w[p + "attn.qkv.weight"].shape[0] // 3  # padded width (>= D)
        h = rms_norm(x, w[p + "norm1.weight"], eps)
        qkv = h @ w[p + "attn.qkv.weight"].T  # n, T, 3*stored
        q, k, v = qkv.split(stored, -1)
        # padded heads are zero: keep the real D channels (variance over D)
        q, k, v = q[..., :D], k[..., :D], v[..., :D]
        if cfg.get("qk_normalization", False):
            q = rms_norm(q, w[p + "attn.q_norm.weight"][:D], eps)
            k = rms_norm(k, w[p + "attn.k_norm.weight"][:D], eps)
        T = x.shape[1]
        q = q.reshape(n, T, H, hd).transpose(1, 2)
        k = k.reshape(n, T, H, hd).transpose(1, 2)
        v = v.reshape(n, T, H, hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v
        att = att.transpose(1, 2).reshape(n, T, D)
        att = att @ w[p + "attn.proj.weight"][:, :D].T + w[p + "attn.proj.bias"]
        x = x + w[p + "ls1"] * att
        h = rms_norm(x, w[p + "norm2.weight"], eps)
        h = F.gelu(h @ w[p + "mlp.fc1.weight"].T + w[p + "mlp.fc1.bias"])
        h = h @ w[p + "mlp.fc2.weight"].T + w[p + "mlp.fc2.bias"]
        x = x + w[p + "ls2"] * h
    x = x[:, 1:, :]
    # pixel shuffle 0.5, the Megatron/HF "v2" view/permute sequence
    x = x.reshape(n, g, g, D)
    x = x.reshape(n, g, g // 2, 2 * D).permute(0, 2, 1, 3).contiguous()
    x = x.reshape(n, g // 2, g // 2, 4 * D).permute(0, 2, 1, 3).contiguous()
    return x.reshape(n, (g // 2) ** 2, 4 * D)


def main():
    model_dir, tiles_path, out_path = sys.argv[1:4]
    cfg, w = load(model_dir)
    S = cfg["image_size"]
    pix = np.fromfile(tiles_path, np.float32).reshape(-1, 3, S, S)
    with torch.no_grad():
        out = forward(cfg, w, torch.from_numpy(pix).double())
    out.float().numpy().tofile(out_path)


if __name__ == "__main__":
    main()
