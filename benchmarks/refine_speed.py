"""Refine speed and gain: `python benchmarks/refine_speed.py [--checkpoint C --data DIR] [--n 5 --budget 200]`.

Targets: test-split sounds of `--data` with the model's prediction as the start (the real use), or, without
a checkpoint, human amsynth presets projected on the 16-parameter set with a start perturbed by Gaussian
noise (sigma `--noise`) on the free parameters (a stand-in for a model's error). Prints per sound the wall
time of `explorer.evaluate.refine.refine`, renders per second, log-mel L1 and SC before -> after, then the medians.
Targets: 200 renders < 5 s per sound on the 2-core CPU; SC improved by >= 30 %.

The machine is shared, so beside the wall time it prints the CPU seconds a refine consumed (this process
plus the render workers and their forked children, from /proc) and `cpu / cores`: the wall time the same
work takes on an otherwise idle machine with that many cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.data.features import mel
from explorer.evaluate import metrics
from explorer.evaluate.refine import refine
from explorer.synth.host import Synth

_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(synth) -> float:
    """CPU seconds used so far by this process and the synth's workers (their reaped render children too)."""
    total = time.process_time()
    for w in synth._workers:  # private, but this is benchmark bookkeeping only
        with open(f"/proc/{w.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / _TCK  # utime, stime, cutime, cstime
    return total


def problems(args, synth) -> tuple[list[str], np.ndarray, np.ndarray, list[int]]:
    """-> names, target full vectors or None [N, n_plugin], start full vectors [N, n_plugin], free indices."""
    if args.checkpoint:
        from explorer.data.dataset import load_dataset
        from explorer.evaluate.targets import spread
        from explorer.models.checkpoint import load_model

        model = load_model(args.checkpoint)
        ds = load_dataset(args.data)
        idx = spread(ds.indices("test"), args.n)
        start = model.full_params(model.infer(np.asarray(ds.mels[idx]))).astype(np.float64)
        return ([ds.index[i]["name"] for i in idx], np.asarray(ds.full_params[idx], np.float64), start,
                model.param_indices)
    from explorer.synth.param_sets import load_param_set
    from explorer.synth.presets import ParamMap, read_all_banks

    pmap = ParamMap.from_synth(synth)
    free = [synth.param_index(n) for n in load_param_set("16")["params"]]
    presets = read_all_banks()
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(presets), args.n, replace=False)
    default = pmap.to_normalised({})
    target = np.repeat(default[None], args.n, 0)
    for k, i in enumerate(pick):
        target[k, free] = pmap.to_normalised(presets[i].raw)[free]
    start = target.copy()
    start[:, free] = np.clip(target[:, free] + rng.normal(0, args.noise, (args.n, len(free))), 0, 1)
    return [presets[i].name for i in pick], target, start, free


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--data", help="dataset (with --checkpoint): test-split targets")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.15)
    ap.add_argument("--loss", default="mix", choices=("mix", "logmel_l1", "sc"))
    ap.add_argument("--sigma", type=float, default=0.15, help="CMA-ES initial step size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int)
    args = ap.parse_args()
    with Synth(workers=args.workers) as synth:
        names, target, start, free = problems(args, synth)
        t_audio = synth.render(target)
        t_power = mel(t_audio)
        s_power = mel(synth.render(start))
        refine(synth, t_audio[0], start[0], free, budget=20)  # warm-up (first mel, first cma import)
        times, cpus, gains, sc0s, sc1s = [], [], [], [], []
        cores = min(os.cpu_count() or 1, synth.workers)
        print(f"{synth.workers} render workers, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
              f"budget {args.budget}, loss {args.loss}, sigma0 {args.sigma}")
        for k, name in enumerate(names):
            c0, t0 = cpu_seconds(synth), time.perf_counter()
            v, hist = refine(synth, t_audio[k], start[k], free, budget=args.budget,
                             loss=args.loss, seed=args.seed, sigma0=args.sigma)
            dt, cpu = time.perf_counter() - t0, cpu_seconds(synth) - c0
            cpus.append(cpu)
            r_power = mel(synth.render(v[None]))
            l0 = float(metrics.log_mel_l1(t_power[k : k + 1], s_power[k : k + 1])[0])
            l1 = float(metrics.log_mel_l1(t_power[k : k + 1], r_power)[0])
            sc0 = float(metrics.spectral_convergence(t_power[k : k + 1], s_power[k : k + 1])[0])
            sc1 = float(metrics.spectral_convergence(t_power[k : k + 1], r_power)[0])
            times.append(dt)
            sc0s.append(sc0)
            sc1s.append(sc1)
            gains.append(1 - sc1 / sc0 if sc0 > 0 else 0.0)
            print(f"{name[:24]:>24}: {dt:5.2f} s, {hist[-1]['renders'] / dt:5.1f} renders/s, CPU {cpu:5.2f} s "
                  f"(idle {cores} cores: {cpu / cores:4.2f} s), log-mel L1 "
                  f"{l0:.3f} -> {l1:.3f}, SC {sc0:.3f} -> {sc1:.3f} ({gains[-1]:+.0%})")
        print(f"median {np.median(times):.2f} s per sound wall (max {max(times):.2f}), CPU {np.median(cpus):.2f} s "
              f"= {np.median(cpus) / cores:.2f} s on {cores} idle cores (target < 5 s for 200 renders); "
              f"SC mean {np.mean(sc0s):.3f} -> {np.mean(sc1s):.3f} ({1 - np.mean(sc1s) / np.mean(sc0s):+.0%} on "
              f"the mean), median per-sound improvement {np.median(gains):.0%} (target >= 30 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
