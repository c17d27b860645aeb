"""Do the semantic latent dims do what their names say? `python -m explorer.evaluate.semantic ...`.

    python -m explorer.evaluate.semantic --checkpoint checkpoints/flow_dis16/model.pt [--data data/ds16]
        [--starts 20 --steps 9 --pairs 20 --out results/semantic_flow_dis_16.json]

1. Sweeps: for each semantic dim of a Flow_dis checkpoint (`LoadedModel.semantic`: dim, negative word,
   positive word; the descriptor behind the pair from the checkpoint's `tag_pairs`), from `--starts` random
   starting points (latent codes of test-split sounds with `--data`, else z ~ N(0, I)), set that dim to
   `--steps` values from -3 to +3, decode, render, compute the pair's descriptor with
   `explorer.data.tags.descriptors`, and take the Spearman correlation between the dim's value and the
   descriptor. A dim that works correlates positively (the positive word is the high descriptor value).
   With a `steer.pt` beside the checkpoint, first the steering macros: `explorer.evaluate.semantic_steer`.
2. Smoothness: for `--pairs` random pairs of starting points, walk from one to the other in `--steps`
   steps (a) linearly in the latent space (decoded) and (b) linearly in parameter space between the same
   two decoded end points; for each rendered path of log-mels L[k]: mean_k ||L[k+1] - 2 L[k] + L[k-1]||^2
   / ||L[-1] - L[0]||^2 (mean squared second difference, normalised by the end points' distance; lower is
   smoother; scale-free, so both paths compare).
Output JSON (`kind: "semantic_eval"`) is read by `scripts/results_table.py`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time

import numpy as np
import torch

from explorer import cli
from explorer.data import tags as tagging
from explorer.data.features import MelConfig, log_mel
from explorer.evaluate.semantic_steer import evaluate_steering, spearman_rows


def descriptor_index(name: str) -> int:
    """Column of `explorer.data.tags.descriptors` output for a descriptor name (centroid, flux, attack, flatness)."""
    names = [p[2] for p in tagging.TAG_PAIRS]
    if name not in names:
        raise ValueError(f"unknown descriptor {name!r}; explorer.data.tags computes {', '.join(names)}")
    return names.index(name)


def path_smoothness(logmels: torch.Tensor) -> float:
    """`logmels[K, 64, 80]` along a path -> mean squared second difference / squared end-point distance."""
    x = logmels.double().flatten(1)
    if len(x) < 3:
        raise ValueError("a path needs at least 3 points")
    d2 = (x[2:] - 2 * x[1:-1] + x[:-2]).pow(2).sum(1).mean()
    ends = (x[-1] - x[0]).pow(2).sum()
    return float(d2 / ends) if ends > 0 else float("nan")


def starting_points(model, n: int, seed: int, data: str | None) -> torch.Tensor:
    """`z[n, D]`: latent codes of test-split sounds (with a dataset) or standard normal draws."""
    rng = np.random.default_rng(seed)
    if data:
        from explorer.data.dataset import load_dataset

        ds = load_dataset(data)
        idx = ds.indices("test")
        if len(idx) == 0:
            idx = np.arange(len(ds))
        pick = np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False))
        return model.encode(np.asarray(ds.mels[pick]))
    return torch.from_numpy(rng.standard_normal((n, model.latent_dim)).astype(np.float32))


def record_shown(checkpoint: str, shown: list[int]) -> None:
    from explorer.models.steer import FILE_NAME

    path = os.path.join(os.path.dirname(checkpoint), FILE_NAME)
    d = torch.load(path, map_location="cpu", weights_only=True)
    d["shown"] = shown
    torch.save(d, path)
    print(f"{path}: the app shows pairs {shown}", file=sys.stderr)


def run(args: argparse.Namespace) -> dict:
    from explorer.models.checkpoint import load_model
    from explorer.synth.host import Synth

    t_start = time.time()
    model = load_model(args.checkpoint, device=args.device)
    if not model.semantic and model.steer is None:
        raise ValueError(f"{args.checkpoint}: model {model.name!r} has neither semantic dims (flow_dis) nor a "
                         "steer.pt beside it (python -m explorer.models.steer fit)")
    pairs = model.meta.get("tag_pairs", [])
    cfg = MelConfig()
    starts = starting_points(model, args.starts, args.seed, args.data)
    values = np.linspace(-3.0, 3.0, args.steps)
    dims = []
    steering = None
    with Synth(workers=args.workers) as synth:
        if model.steer is not None:
            if args.update_steer and not args.data:
                raise ValueError("--update-steer needs --data: the bar is judged from test-split and prior starts")
            test_z = starting_points(model, 10**9, args.seed, args.data) if args.data else None  # every test code
            steering = evaluate_steering(model, test_z, synth, args.starts, args.steps, args.seed)
            if args.update_steer:
                record_shown(args.checkpoint, [p["pair"] for p in steering if p["shown"]])
        for k, (dim, neg, pos) in enumerate(model.semantic):
            descriptor = pairs[k][2] if k < len(pairs) and len(pairs[k]) > 2 else "centroid"
            col = descriptor_index(descriptor)
            z = starts.repeat_interleave(len(values), 0).clone()  # [S * steps, D]
            z[:, dim] = torch.from_numpy(np.tile(values, len(starts)).astype(np.float32))
            audio = synth.render(model.full_params(model.decode(z)))
            desc = tagging.descriptors(audio, cfg)[:, col].reshape(len(starts), len(values))
            rhos = spearman_rows(values, desc)
            r = np.array(rhos)
            valid = r[np.isfinite(r)]
            dims.append({
                "dim": int(dim), "negative": neg, "positive": pos, "descriptor": descriptor,
                "spearman_mean": float(valid.mean()) if len(valid) else None,
                "spearman_std": float(valid.std()) if len(valid) else None,
                "fraction_positive": float((valid > 0).mean()) if len(valid) else None,
                "n_valid": len(valid), "per_start": [None if not np.isfinite(x) else x for x in rhos],
                "descriptor_values": desc.tolist(),
            })
            print(f"dim {dim} {neg}<->{pos} ({descriptor}): Spearman {dims[-1]['spearman_mean']}", file=sys.stderr)

        rng = np.random.default_rng(args.seed + 1)
        t = torch.linspace(0, 1, args.steps)[:, None]
        lat, par = [], []
        for _ in range(args.pairs):
            a, b = rng.choice(len(starts), size=2, replace=len(starts) < 2)
            za, zb = starts[a], starts[b]
            zpath = (1 - t) * za[None] + t * zb[None]  # [steps, D]
            v_lat = model.decode(zpath)
            v_par = (1 - t) * v_lat[:1] + t * v_lat[-1:]
            audio = synth.render(model.full_params(torch.cat([v_lat, v_par])))
            lm = log_mel(audio, cfg)
            lat.append(path_smoothness(lm[: args.steps]))
            par.append(path_smoothness(lm[args.steps :]))
    lat_a, par_a = np.array(lat), np.array(par)

    def summ(x: np.ndarray) -> dict:
        x = x[np.isfinite(x)]
        return {"mean": float(x.mean()) if len(x) else None, "median": float(np.median(x)) if len(x) else None}

    smooth = {"latent": summ(lat_a), "params": summ(par_a),
              "per_pair": {"latent": [float(x) for x in lat_a], "params": [float(x) for x in par_a]}}
    print(f"smoothness latent {smooth['latent']} vs params {smooth['params']}", file=sys.stderr)
    return {"kind": "semantic_eval",
            "command": "python -m explorer.evaluate.semantic " + " ".join(shlex.quote(a) for a in args.argv),
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "elapsed": round(time.time() - t_start, 1), "checkpoint": args.checkpoint, "model": model.name,
            "n_params": len(model.param_names), "data": args.data, "n_starts": len(starts), "n_steps": args.steps,
            "values": values.tolist(), "dims": dims, "smoothness": smooth, "steering": steering,
            "steering_method": "calibrated path, as far as each move needs (explorer.models.steer_path.calibrate_towards)" if steering else None}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m explorer.evaluate.semantic", description=__doc__.split("\n")[0])
    cli.add_checkpoint(ap, "a flow_dis checkpoint", required=True)
    ap.add_argument("--data", help="dataset: start from latent codes of test-split sounds")
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--steps", type=int, default=9)
    ap.add_argument("--pairs", type=int, default=20, help="interpolation paths for the smoothness measure")
    ap.add_argument("--seed", type=int, default=0)
    cli.add_workers(ap)
    cli.add_device(ap)
    ap.add_argument("--out", help="default results/semantic_<model>_<params>.json")
    ap.add_argument("--update-steer", action="store_true",
                    help="record in the checkpoint's steer.pt which pairs reached the bar (the app shows those)")
    args = ap.parse_args(argv)
    args.argv = argv
    return cli.run_and_write(run, args, lambda res: os.path.join("results", f"semantic_{res['model']}_"
                                                                   f"{res['n_params']}.json"),
                             (ValueError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
