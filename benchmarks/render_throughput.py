"""Rendering throughput: 1 worker vs every core, beside the plugin's own time for one render.

    .venv/bin/python benchmarks/render_throughput.py [--n 200]

Prints sounds/second and the ratio to the floor (cores / plugin render time). Uses human presets so
every render is a real, audible sound.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.synth.host import Synth
from explorer.synth.presets import ParamMap, read_all_banks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with Synth(workers=cores) as synth:
        pmap = ParamMap.from_synth(synth)
        presets = read_all_banks()
        rows = np.stack([pmap.to_normalised(presets[i % len(presets)].raw) for i in range(args.n)])
        floor = float(np.median([synth.plugin_render_time(rows[i]) for i in range(20)]))
        synth.render(rows[: 2 * cores])  # warm up
        t = time.perf_counter()
        synth.render(rows)
        all_rate = args.n / (time.perf_counter() - t)
    with Synth(workers=1) as one:
        one.render(rows[:2])
        t = time.perf_counter()
        one.render(rows[: args.n // 2])
        one_rate = (args.n // 2) / (time.perf_counter() - t)
    ideal = cores / floor
    print(f"cores                         {cores}")
    print(f"plugin render time (floor)    {floor * 1000:.1f} ms  -> {1 / floor:.1f} sounds/s per core")
    print(f"1 worker                      {one_rate:.1f} sounds/s  ({one_rate * floor:.0%} of 1/floor)")
    print(f"{cores} workers                     {all_rate:.1f} sounds/s  ({all_rate / ideal:.0%} of cores/floor = {ideal:.1f})")
    print(f"speed-up {cores} workers vs 1      {all_rate / one_rate:.2f}x")


if __name__ == "__main__":
    main()
