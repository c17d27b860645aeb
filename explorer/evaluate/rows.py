"""Evaluate parameter inference by rendering: `python -m explorer.evaluate ...`.

    python -m explorer.evaluate --checkpoint C --data DIR --split test [--limit N] [--out results/NAME.json]
    python -m explorer.evaluate --checkpoint C --audio FOLDER [--data DIR] [--pitch-shift]   # out of domain
    python -m explorer.evaluate --data DIR --split test --baseline nearest,mean,silence      # reference rows
    python -m explorer.evaluate --checkpoint C --data DIR --split test --limit 50 --refine 200
    python -m explorer.evaluate --checkpoint C --data DIR --split test --match fast,50,200 --baseline nearest

For every target sound the model infers the parameters from its log-mel, the real synth renders them (all
cores), and the same mel is computed on the result. Reported per row (means and medians over sounds, see
`explorer.evaluate.metrics`): MSE_n (dataset targets only), SC and MSE on linear mel magnitude, log-spectral
distance, MFCC distance, log-mel L1. Rows: the model (`--checkpoint`), each `--baseline` (nearest / mean
preset need `--data`: the training split is their library), and `--refine N` (the model's prediction
refined with N renders per sound), and `--match B,...` (the matching pipeline at each budget,
`explorer.evaluate.match_rows`). All rows of one command use the same sounds.

Targets (`explorer.evaluate.targets`): the stored log-mels of a dataset split (their linear mels are
recovered exactly enough as `exp(x) - 1e-3`), or with `--audio` every audio file of a folder (mono,
resampled to 22,050 Hz, trimmed or padded to 4 s; `--pitch-shift` moves a detected pitch to note 60 first).
`--limit N` takes N sounds spread evenly over the split (same N, same sounds).

Output JSON (`--out`, default `results/<rows>_<params>_<split>.json`): `{"command", "created", "elapsed",
"dataset", "split", "audio_folder", "checkpoint", "n_params", "n", "sounds": [names], "rows": [{"name",
"kind" (model/baseline/refine), "model", "checkpoint", "metrics": {metric: {mean, median, std, n}},
"per_sound": {metric: [N]}, "seconds"}]}` -- read by `scripts/results_table.py`.
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
from explorer.data.features import MelConfig, mel
from explorer.evaluate import baselines, match_rows, metrics
from explorer.evaluate.refine import add_refine_arguments
from explorer.evaluate.targets import EvalError, Targets, audio_targets, dataset_targets


def score(t: Targets, out_audio: np.ndarray | None, v_hat: np.ndarray | None, cfg: MelConfig,
          out_power: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-sound metrics of one row: rendered `out_audio[N, T]` (or `out_power`) and inferred `v_hat[N, P]`."""
    power = out_power if out_power is not None else mel(out_audio, cfg)
    m = metrics.audio_metrics(t.power, power)
    if t.params is not None and v_hat is not None:
        m["mse_n"] = metrics.mse_n(v_hat, t.params)
    else:
        m["mse_n"] = np.full(len(t.names), np.nan)
    return {k: m[k] for k in metrics.METRICS}


def _row(name: str, kind: str, values: dict[str, np.ndarray], seconds: float, **extra) -> dict:
    return {"name": name, "kind": kind, **extra, "metrics": metrics.summarise(values),
            "per_sound": {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in values.items()},
            "seconds": round(seconds, 2)}


def train_info(model) -> dict:
    """The training budget recorded in a checkpoint (epochs, seconds, device, stop reason, command, and each
    session's command and seconds when it was resumed: then `seconds` is their sum)."""
    t = model.meta.get("train") or {}
    info = {k: t.get(k) for k in ("epochs", "best_epoch", "seconds", "device", "stopped", "command", "time")}
    if "sessions" in t:
        info["sessions"] = t["sessions"]
    return info


def infer_params(model, logmel: torch.Tensor, batch: int = 256) -> np.ndarray:
    """`logmel[N, 64, 80]` -> `v[N, P]` with a `LoadedModel`, in batches."""
    return np.concatenate([model.infer(logmel[a : a + batch]).numpy() for a in range(0, len(logmel), batch)])


def evaluate(args: argparse.Namespace) -> dict:
    """Run every requested row; returns the results dict (see module docstring)."""
    from explorer.synth.host import RenderSettings, Synth

    t_start = time.time()
    ds = None
    if args.data:
        from explorer.data.dataset import load_dataset

        ds = load_dataset(args.data)
    if args.audio is None and ds is None:
        raise EvalError("give --data DIR (dataset split) or --audio FOLDER (out of domain)")
    baseline_names = [b for b in (args.baseline or "").split(",") if b]
    for b in baseline_names:
        if b not in baselines.NAMES:
            raise EvalError(f"unknown baseline {b!r} (choose from {', '.join(baselines.NAMES)})")
        if b in ("nearest", "mean") and ds is None:
            raise EvalError(f"--baseline {b} needs --data DIR (its training split is the library)")
    if args.checkpoint is None and (args.refine or not baseline_names):
        raise EvalError("give --checkpoint C (model and refine rows) or --baseline ... (reference rows)")

    model = None
    if args.checkpoint:
        from explorer.models.checkpoint import load_model

        model = load_model(args.checkpoint, device=args.device)
        if ds is not None and list(model.param_names) != list(ds.meta["param_names"]):
            raise EvalError(f"{args.checkpoint} predicts {len(model.param_names)} parameters "
                            f"({', '.join(model.param_names[:3])}, ...) but {args.data} holds the set "
                            f"{ds.meta['param_set']!r} ({', '.join(ds.meta['param_names'][:3])}, ...)")

    settings = RenderSettings(**ds.meta["settings"]) if ds is not None else RenderSettings()
    cfg = MelConfig(**ds.meta["mel"]) if ds is not None else MelConfig(sample_rate=settings.sample_rate)
    plugin = ds.meta["plugin"] if ds is not None else None
    if args.audio:
        targets = audio_targets(args.audio, cfg, settings.n_samples, args.limit, args.pitch_shift)
        split = "ood"
    else:
        targets = dataset_targets(ds, args.split, args.limit)
        split = args.split
    budgets = match_rows.parse_budgets(args.match)
    index = match_rows.load_index(args.checkpoint) if budgets and args.checkpoint else None
    if budgets and index is None:
        raise EvalError("--match needs --checkpoint")
    if index is not None and args.audio:  # every row is scored on the conditioned (loudness-normalised) target
        targets = match_rows.condition_targets(targets, index, settings, cfg)
    n = len(targets.names)
    print(f"{n} target sounds ({split})", file=sys.stderr)

    rows: list[dict] = []
    synth_kw = {"settings": settings, "workers": args.workers}
    synth = Synth(plugin, **synth_kw) if plugin else Synth(**synth_kw)
    with synth:
        if model is not None:
            t0 = time.time()
            v = infer_params(model, targets.logmel)
            full = model.full_params(v)
            crashed: list[int] = []  # predictions the plugin crashes on play (and score as) silence, said here
            audio = synth.render(full, progress=not args.quiet, failed=crashed)
            if crashed:
                print(f"warning: the synth plugin crashed on {len(crashed)} of {n} predictions (rows {crashed[:8]}); "
                      "they are scored as the silence they play", file=sys.stderr)
            rows.append(_row(args.name or model.name, "model", score(targets, audio, v, cfg), time.time() - t0,
                             model=model.name, checkpoint=args.checkpoint, train=train_info(model),
                             **({"crashed": crashed} if crashed else {})))
            if args.refine:
                from explorer.evaluate.refine import refine

                t0 = time.time()
                refined, starts, ends = [], [], []
                for i in range(n):
                    vb, hist = refine(synth, targets.logmel[i], full[i], model.param_indices, args.refine,
                                      seed=args.seed, loss=args.refine_loss, method=args.refine_method)
                    refined.append(vb)
                    starts.append(hist[0]["best"])
                    ends.append(hist[-1]["best"])
                    if not args.quiet:
                        print(f"refine {i + 1}/{n}: log-mel L1 {starts[-1]:.3f} -> {ends[-1]:.3f} "
                              f"({hist[-1]['seconds']:.1f} s)", file=sys.stderr)
                refined = np.stack(refined)
                audio_r = synth.render(refined, failed=[])  # silent where the start was and stayed
                v_r = refined[:, model.param_indices]
                suffix = ("" if args.refine_loss == "mix" else f"-{args.refine_loss}") + (
                    "" if args.refine_method == "lm" else f"-{args.refine_method}")
                rows.append(_row(f"{model.name}+refine{args.refine}{suffix}", "refine", score(targets, audio_r, v_r, cfg),
                                 time.time() - t0, model=model.name, checkpoint=args.checkpoint,
                                 train=train_info(model),
                                 budget=args.refine, refine_loss=args.refine_loss, refine_method=args.refine_method,
                                 seconds_per_sound=round((time.time() - t0) / n, 2)))
        if index is not None:
            rows += match_rows.match_rows(model, synth, index, targets, budgets, cfg, args.quiet)
        for b in baseline_names:
            t0 = time.time()
            if b == "silence":
                values = score(targets, baselines.silence(n, settings.n_samples), None, cfg)
            elif b == "mean":
                train = ds.indices("train")
                v = baselines.mean_preset(ds.params[train], ds.meta["param_steps"])
                full = np.asarray(ds.meta["default_values"], np.float64).copy()
                full[ds.meta["param_indices"]] = v
                one = synth.render(full[None])
                values = score(targets, np.repeat(one, n, axis=0), np.repeat(v[None], n, axis=0), cfg)
            else:  # nearest
                train = ds.indices("train")
                j, _ = baselines.nearest_indices(targets.logmel, ds.mels[train])  # loads the train mels
                rows_idx = train[j]
                audio = synth.render(np.asarray(ds.full_params[rows_idx]), progress=not args.quiet)
                values = score(targets, audio, np.asarray(ds.params[rows_idx], np.float64), cfg)
            rows.append(_row(f"baseline:{b}", "baseline", values, time.time() - t0, model=b))

    for r in rows:
        m = r["metrics"]
        print(f"{r['name']:>24}: " + "  ".join(
            f"{k} {m[k]['mean']:.4g} (med {m[k]['median']:.4g})" for k in metrics.METRICS if m[k]["mean"] is not None))
    return {
        "command": "python -m explorer.evaluate " + " ".join(shlex.quote(a) for a in args.argv),
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "elapsed": round(time.time() - t_start, 1), "load": round(os.getloadavg()[0], 1),
        "dataset": args.data, "param_set": ds.meta["param_set"] if ds is not None else None,
        "dataset_info": ({k: ds.meta.get(k) for k in ("n", "n_human", "split_counts", "size", "seed")}
                         if ds is not None else None),
        "split": split, "audio_folder": args.audio, "pitch_shift": bool(args.pitch_shift),
        "checkpoint": args.checkpoint,
        "n_params": len(model.param_names) if model is not None else len(ds.meta["param_names"]),
        "n": n, "sounds": targets.names, "rows": rows,
        "conditioning": ({k: targets.extra[k] for k in ("notes", "gain_db", "f0", "condition_seconds")}
                         if "notes" in targets.extra else None),
    }


def default_out(res: dict) -> str:
    names = "+".join(r["name"].replace("baseline:", "") for r in res["rows"])
    return os.path.join("results", f"{names}_{res['n_params']}_{res['split']}.json")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m explorer.evaluate", description=__doc__.split("\n")[0])
    cli.add_checkpoint(ap, "model checkpoint (model row; needed for --refine)")
    ap.add_argument("--data", help="dataset directory (targets from --split; library for baselines)")
    ap.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ap.add_argument("--audio", help="folder of audio files to use as targets instead (out of domain)")
    ap.add_argument("--pitch-shift", action="store_true", help="--audio: shift a detected pitch to note 60")
    ap.add_argument("--limit", type=int, help="at most N sounds, spread evenly over the split")
    ap.add_argument("--baseline", help="comma-separated reference rows: nearest, mean, silence")
    add_refine_arguments(ap, "add a row refined with N renders per sound (see --refine-method)")
    ap.add_argument("--match", help="rows of the matching pipeline at these budgets: model (its prediction "
                    "alone), fast, default, or a number of refine renders (e.g. model,fast,50,200,default)")
    cli.add_workers(ap)
    cli.add_device(ap)
    ap.add_argument("--name", help="name of the model row (default: the model family), e.g. a variant")
    ap.add_argument("--out", help="results JSON (default results/<rows>_<params>_<split>.json)")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv
    cli.one_blas_thread()
    return cli.run_and_write(evaluate, args, default_out, (EvalError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
