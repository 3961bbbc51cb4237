#!/usr/bin/env python3
"""InternViT-6B-448px forward in PyTorch (eager, bf16, scaled_dot_product_attention)
with random weights on the GPU: the baseline tessera's CUDA forward is compared
with. The module follows the HF InternVisionModel structure (RMSNorm in fp32
cast back to bf16, QK-norm over the full width, exact GELU, layer scales,
pixel shuffle 0.5).

  vit_torch_bench.py [--batch 8,16,32] [--iters 5] [--layers 45]
Prints one JSON line per batch size.
"""
import argparse
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


class Block(nn.Module):
    def __init__(self, D, H, Fd):
        super().__init__()
        self.H = H
        self.norm1, self.norm2 = RMSNorm(D), RMSNorm(D)
        self.qkv = nn.Linear(D, 3 * D, bias=False)
        self.q_norm, self.k_norm = RMSNorm(D), RMSNorm(D)
        self.proj = nn.Linear(D, D)
        self.fc1, self.fc2 = nn.Linear(D, Fd), nn.Linear(Fd, D)
        self.ls1 = nn.Parameter(0.1 * torch.ones(D))
        self.ls2 = nn.Parameter(0.1 * torch.ones(D))

    def attn(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).chunk(3, -1)
        q, k = self.q_norm(q), self.k_norm(k)
        sh = lambda t: t.view(B, T, self.H, D // self.H).transpose(1, 2)
        o = F.scaled_dot_product_attention(sh(q), sh(k), sh(v))
        return self.proj(o.transpose(1, 2).reshape(B, T, D))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class InternViT(nn.Module):
    def __init__(self, D=3200, H=25, Fd=12800, L=45, image=448, patch=14):
        super().__init__()
        self.patch = nn.Conv2d(3, D, patch, patch)
        g = image // patch
        self.g = g
        self.cls = nn.Parameter(torch.randn(1, 1, D))
        self.pos = nn.Parameter(torch.randn(1, g * g + 1, D))
        self.blocks = nn.ModuleList(Block(D, H, Fd) for _ in range(L))

    def forward(self, px):
        x = self.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for b in self.blocks:
            x = b(x)
        x = x[:, 1:]
        n, _, D = x.shape
        g = self.g
        x = x.reshape(n, g, g // 2, 2 * D).permute(0, 2, 1, 3)
        x = x.reshape(n, g // 2, g // 2, 4 * D).permute(0, 2, 1, 3)
        return x.reshape(n, -1, 4 * D)


def flops_per_tile(D=3200, H=25, Fd=12800, L=45, g=32, patch=14):
    T = g * g + 1
    return 2 * g * g * D * 3 * patch * patch + L * (
        2 * T * D * 3 * D + 4 * T * T * D + 2 * T * D * D + 4 * T * D * Fd)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", default="8,16,32")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--layers", type=int, default=45)
    a = p.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    with torch.device(dev):
        m = InternViT(L=a.layers)
    m = m.to(torch.bfloat16).eval()
    with torch.no_grad():
        for prm in m.parameters():  # random weights of a sane scale
            if prm.dim() >= 2:
                prm.normal_(0, prm.shape[-1] ** -0.5 if prm.dim() == 2 else 0.05)
    fl = flops_per_tile(L=a.layers)
    for b in [int(x) for x in a.batch.split(",")]:
        px = torch.randn(b, 3, 448, 448, device=dev, dtype=torch.bfloat16)
        with torch.inference_mode():
            m(px)
            torch.cuda.synchronize()
            ts = []
            for _ in range(a.iters):
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                m(px)
                e1.record()
                e1.synchronize()
                ts.append(e0.elapsed_time(e1))
        ts.sort()
        ms = ts[len(ts) // 2]
        print(json.dumps({"impl": "torch-eager-sdpa", "torch": torch.__version__, "batch": b,
                          "ms_per_batch": ms, "tiles_per_s": b / (ms / 1e3),
                          "tflops": fl * b / (ms / 1e3) / 1e12}), flush=True)
        del px
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
