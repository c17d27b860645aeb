"""Renders a semantic slider's first move costs: calibrating as far as the move needs against the whole side.

    .venv/bin/python benchmarks/steer_renders.py [--checkpoint checkpoints/flow_dis_16/model.pt]
        [--data data/ds16] [--moves 30]

Moves like `benchmarks/app_load.py`'s: from a random dataset sound, one random shown pair's slider to a
level drawn uniformly in -2..+2. For each it runs `explorer.models.steer.calibrate_towards` (what the app
does) with the real synth, counts the sounds rendered, and prints the mean beside what calibrating the whole
side costs (the start and every point to the end of the slider's range: the app's behaviour before), with
the mean seconds of a move.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.data.dataset import load_dataset
from explorer.models.checkpoint import load_model
from explorer.models.steer import path_length
from explorer.models.steer_path import calibrate_towards
from explorer.synth.host import Synth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default="checkpoints/flow_dis_16/model.pt")
    ap.add_argument("--data", default="data/ds16")
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = load_model(args.checkpoint)
    if model.steer is None:
        print(f"error: {args.checkpoint} has no steer.pt beside it", file=sys.stderr)
        return 2
    st, ds, rng = model.steer, load_dataset(args.data), random.Random(args.seed)
    now, whole, seconds = [], [], []
    with Synth(workers=2) as synth:
        for _ in range(args.moves):
            v = np.asarray(ds.params[rng.randrange(len(ds))], np.float32)
            k, level = rng.choice(st.shown), rng.uniform(-2, 2)
            count = [0]

            def render(p, count=count):
                count[0] += len(p)
                return synth.render(model.full_params(p))

            t = time.perf_counter()
            calibrate_towards(st, v, k, level, render)
            seconds.append(time.perf_counter() - t)
            now.append(count[0])
            f0 = float(st.levels(v)[k])
            whole.append(1 + path_length(f0, -1 if level < f0 else 1))
    print(f"{args.moves} first moves: {np.mean(now):.1f} sounds rendered on average (whole side: "
          f"{np.mean(whole):.1f}); {1000 * np.mean(seconds):.0f} ms per move (mean)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
