"""Local process pool vs Ray actors on this machine: render throughput and a dataset build.

    .venv/bin/python benchmarks/ray_render.py [--n 400] [--build-size 1000] [--workers 2] [--ray local]

Renders the same `--n` human presets through `Synth(workers=W)` and through `Synth(workers=W,
backend=RayBackend(ADDRESS))` (after a warm-up each, alternating local / Ray / local / Ray), then runs
`python -m explorer.data build --params 16 --size S --limit S/2` both ways and checks that the arrays are
byte-identical. Prints sounds/second and the load average (the cores may be shared).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from explorer.data.dataset import ARRAYS, build
from explorer.synth.host import Synth
from explorer.synth.presets import ParamMap, read_all_banks
from explorer.synth.ray_pool import RayBackend


def rate(synth: Synth, rows: np.ndarray) -> float:
    t = time.perf_counter()
    synth.render(rows)
    return len(rows) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--build-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ray", default="local", help="Ray address (default: a new local instance)")
    args = ap.parse_args()
    if args.ray == "local":
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
    owner = RayBackend(args.ray)  # owns the Ray instance for the whole run; the synths below reuse it
    t = time.perf_counter()
    owner.connect()
    t_init = time.perf_counter() - t
    t = time.perf_counter()
    local = Synth(workers=args.workers)
    t_local = time.perf_counter() - t
    t = time.perf_counter()
    remote = Synth(workers=args.workers, backend=RayBackend(args.ray))
    t_ray = time.perf_counter() - t
    print(f"start: local pool {t_local:.1f} s; Ray init {t_init:.1f} s, then {args.workers} actors {t_ray:.1f} s")
    with local, remote:
        pmap = ParamMap.from_synth(local)
        presets = read_all_banks()
        rows = np.stack([pmap.to_normalised(presets[i % len(presets)].raw) for i in range(args.n)])
        for s in (local, remote):
            s.render(rows[: 4 * args.workers])  # warm up
        rates = {"local": [], "ray": []}
        for _ in range(2):
            rates["local"].append(rate(local, rows))
            rates["ray"].append(rate(remote, rows))
        same = np.array_equal(local.render(rows[:32]), remote.render(rows[:32]))
    print(f"render {args.n} sounds, {args.workers} workers, load {os.getloadavg()[0]:.1f}")
    for k, v in rates.items():
        print(f"  {k:5s} {' / '.join(f'{r:.1f}' for r in v)} sounds/s")
    print(f"  identical audio: {same}")
    with tempfile.TemporaryDirectory() as tmp:  # the render actors above are gone: the build starts its own
        times = {}
        for name, ray in (("local", None), ("ray", args.ray)):
            t = time.perf_counter()
            build("16", os.path.join(tmp, name), size=args.build_size, seed=0, limit=args.build_size // 2,
                  workers=args.workers, ray=ray)
            times[name] = time.perf_counter() - t
        same = all(filecmp.cmp(os.path.join(tmp, "local", f"{k}.npy"), os.path.join(tmp, "ray", f"{k}.npy"),
                               shallow=False) for k in ARRAYS)
    print(f"build --size {args.build_size} (incl. starting the workers / actors), load {os.getloadavg()[0]:.1f}")
    for k, v in times.items():
        print(f"  {k:5s} {v:.1f} s = {args.build_size / v:.1f} sounds/s")
    print(f"  identical arrays: {same}")
    owner.close()

if __name__ == "__main__":
    main()
