"""Match latency: `python benchmarks/match_speed.py [--checkpoint C] [--file F.wav] [--repeats 10]`.

Times `explorer.match.Matcher.match_file` on one 4 s file after the model, synth, candidate index and
parameter map are loaded (what a user waits for per file), with `--fast` (the candidates only: read,
conditioning with CREPE, inference, ~15 renders, scores, writing .bank / .json / .wav; target 0.5 s) and
with the default budget (200 refine renders, capped at 4.5 s; target 5 s). Also prints the old
single-render stages alone. Without `--checkpoint` a debug model of the same
architecture family (Flow_dis, tiny) is used, so model time is a lower bound there; without `--file` a 4 s
fluidsynth piano note is made.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.data.audio_input import read_clip
from explorer.data.features import LOG_EPS, mel
from explorer.evaluate import metrics
from explorer.evaluate.pipeline import FAST
from explorer.match.matcher import Matcher


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--file")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--workers", type=int)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="match-speed-")
    ckpt = args.checkpoint
    if ckpt is None:
        from explorer.models.checkpoint import make_debug_checkpoint

        ckpt = str(make_debug_checkpoint(os.path.join(tmp, "debug.pt"), n_params=16))
    path = args.file
    if path is None:
        from explorer.evaluate.ood import render_gm

        path = os.path.join(tmp, "piano.wav")
        render_gm(0, path)
    t0 = time.perf_counter()
    with Matcher(ckpt, args.workers) as m:
        print(f"setup (model + synth + parameter map): {time.perf_counter() - t0:.2f} s; model {m.model.name}, "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        m.match_file(path, tmp, budget=FAST)  # warm-up: first inference, first mel, CREPE, first render
        totals = [m.match_file(path, tmp, budget=FAST).seconds for _ in range(args.repeats)]
        full = [m.match_file(path, tmp).seconds for _ in range(max(1, args.repeats // 3))]
        stages: dict[str, list[float]] = {k: [] for k in ("read", "mel", "infer", "render", "sc")}
        s = m.synth.settings
        for _ in range(args.repeats):
            t = time.perf_counter()
            audio = read_clip(path, s.sample_rate, s.n_samples)
            stages["read"].append(time.perf_counter() - t)
            t = time.perf_counter()
            power = mel(audio[None], m.cfg)
            logmel = (power + LOG_EPS).log()
            stages["mel"].append(time.perf_counter() - t)
            t = time.perf_counter()
            v = m.model.full_params(m.model.infer(logmel))[0]
            stages["infer"].append(time.perf_counter() - t)
            t = time.perf_counter()
            out = m.synth.render_one(v)
            stages["render"].append(time.perf_counter() - t)
            t = time.perf_counter()
            metrics.spectral_convergence(power, mel(out[None], m.cfg))
            stages["sc"].append(time.perf_counter() - t)
    print(f"match_file --fast on {os.path.basename(path)}: median {np.median(totals):.3f} s, max "
          f"{max(totals):.3f} s over {args.repeats} (target < 0.5 s)")
    print(f"match_file default budget: median {np.median(full):.3f} s, max {max(full):.3f} s over {len(full)} "
          f"(target < 5 s); load average now {os.getloadavg()[0]:.1f}")
    print("stages (median ms): " + ", ".join(f"{k} {np.median(v) * 1000:.1f}" for k, v in stages.items())
          + "; the rest is writing .bank/.json/.wav and the display texts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
