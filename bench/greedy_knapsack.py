#!/usr/bin/python3
"""Megatron-LM's sequence packing (examples/multimodal/dataset_helpers.py:
greedy_knapsack), re-implemented from its description in
shared/reference/megatron-nvlm-formats.md §4 for the packing benchmark:
per buffer of B samples, sort lengths ascending (stable); open a knapsack of
capacity C and repeatedly pop the largest length <= the room left (bisect
right - 1); close it when nothing fits; repeat until the buffer is empty.

Usage: greedy_knapsack.py LENGTHS_FILE MAX_LEN BUFFER
Lengths over MAX_LEN are left out and counted (Megatron raises ValueError).
Prints one JSON line: items, sequences, positions, fill, over_max_len, seconds (best of 3).
"""
import bisect
import json
import sys
import time


def greedy_knapsack(lengths, capacity):
    items = sorted(lengths)
    bins = 0
    while items:
        room = capacity
        while True:
            i = bisect.bisect_right(items, room) - 1
            if i < 0:
                break
            room -= items.pop(i)
        bins += 1
    return bins


def main():
    path, capacity, buffer = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lengths = [int(l) for l in open(path) if l.strip()]
    fit = [x for x in lengths if 0 < x <= capacity]
    dt = float("inf")
    for _ in range(3):  # best of 3: the machine is shared
        t0 = time.perf_counter()
        bins = sum(greedy_knapsack(fit[i:i + buffer], capacity) for i in range(0, len(fit), buffer))
        dt = min(dt, time.perf_counter() - t0)
    total = sum(fit)
    print(json.dumps({"items": len(lengths), "sequences": bins, "positions": total,
                      "fill": total / (bins * capacity) if bins else 0.0,
                      "over_max_len": len(lengths) - len(fit), "seconds": round(dt, 6)}))


main()
