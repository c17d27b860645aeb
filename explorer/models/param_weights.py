"""Per-parameter loss weights from the synth's own sensitivity: how much the sound moves per unit of each
parameter.

    python -m explorer.models.param_weights --data data/ds30_30k --n 200 --out runs/w30.json

Why: the regression losses weight every parameter's squared error alike, but the synth does not. With one
note at one velocity, `portamento_time` or `amp_vel_sens` barely change the sound, while `master_vol` or
`filter_cutoff` change it a lot; the audio metrics (SC, log-mel L1) only see the second kind. For `n` sounds
of the training split (drawn at random, seeded), each parameter is moved by `delta` (up, or down when the
value is above 0.5), the sound is rendered with the real synth, and the log-mel L1 to the unmoved render is
divided by `delta`: a finite-difference slope. A parameter's weight is its mean slope over the sounds,
divided by the mean over parameters (so the weights average 1 and `mse_weight` keeps its scale), and
clipped to [`floor`, `ceil`]. Pass them to training with `--set param_weights=[...]` (Flow_reg, Flow_dis:
`explorer.models.flows`), or `--set param_weights=@FILE` with this command's output.

Output JSON: `{"param_names", "weights", "slope_mean", "slope_median", "n", "delta", "data", "command"}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from explorer import cli
from explorer.data.features import MelConfig, log_mel

FLOOR, CEIL = 0.1, 10.0


def slopes(synth, full: np.ndarray, indices: list[int], delta: float, cfg: MelConfig, chunk: int = 8) -> np.ndarray:
    """`full[N, n_plugin]` start presets -> `[N, P]` log-mel L1 per unit change of each parameter in
    `indices` (the set's plugin indices), every render with `synth`, `chunk` sounds at a time (each
    needs P + 1 renders of audio in memory)."""
    return np.concatenate([_slopes(synth, full[a : a + chunk], indices, delta, cfg)
                           for a in range(0, len(full), chunk)])


def _slopes(synth, full: np.ndarray, indices: list[int], delta: float, cfg: MelConfig) -> np.ndarray:
    n, p = len(full), len(indices)
    moved = np.repeat(full[:, None, :], p, axis=1).copy()  # [N, P, n_plugin]
    for j, k in enumerate(indices):
        v = moved[:, j, k]
        moved[:, j, k] = np.where(v > 0.5, v - delta, v + delta)
    audio = synth.render(np.concatenate([full, moved.reshape(n * p, -1)]).astype(np.float32))
    lm = log_mel(audio, cfg)  # the evaluation's log-mel L1 is the mean |difference| of these
    base, rest = lm[:n, None], lm[n:].reshape(n, p, *lm.shape[1:])
    return (rest - base).abs().flatten(2).mean(-1).numpy() / delta


def weights_from_slopes(s: np.ndarray, floor: float = FLOOR, ceil: float = CEIL) -> np.ndarray:
    """Mean slope per parameter `s[N, P]` -> weights averaging 1 before clipping to [floor, ceil]."""
    m = np.nanmean(s, axis=0)
    if not np.isfinite(m).all() or m.mean() <= 0:
        raise ValueError("slopes are not finite or all zero: the synth did not react to any parameter")
    return np.clip(m / m.mean(), floor, ceil)


def select_key(cfg) -> str:
    """The validation metric that picks a training's best epoch (`explorer.models.train`): the surrogate's
    log-mel L1 of the prediction when the config has a spectral term (plus that of the adaptation set's
    held-out sounds when it has one), else the parameter MSE, weighted
    when the config has `param_weights`."""
    if getattr(cfg, "adapt_weight", 0.0) > 0:
        return "spec_adapt"  # in-domain spec + the adaptation set's held-out spec (explorer.models.adapt)
    if getattr(cfg, "spectral_weight", 0.0) > 0:
        return "spec"
    return "param_wmse" if getattr(cfg, "param_weights", ()) else "param_mse"


def read_value_file(path: str, expect_names: list[str] | None = None):
    """A `--set KEY=@FILE` value: the JSON in FILE, or its "weights" when it is this command's output, whose
    "param_names" must then equal `expect_names` (the data set's, in order). Raises ValueError."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from e
    if isinstance(data, dict) and "weights" in data:
        names = data.get("param_names")
        if names is not None and expect_names is not None and list(names) != list(expect_names):
            raise ValueError(f"the weights are for parameters {', '.join(names[:3])}, ... but the data set has "
                             f"{', '.join(expect_names[:3])}, ...")
        data = data["weights"]
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="dataset folder (its training split is sampled)")
    ap.add_argument("--n", type=int, default=200, help="sounds to probe (renders: n x (P + 1))")
    ap.add_argument("--delta", type=float, default=0.1, help="parameter step in [0, 1] units")
    ap.add_argument("--seed", type=int, default=0)
    cli.add_workers(ap)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if not 0 < args.delta <= 0.5:
        raise SystemExit("--delta must be in (0, 0.5]")
    from explorer.data.dataset import load_dataset
    from explorer.synth.host import RenderSettings, Synth

    t0 = time.time()
    ds = load_dataset(args.data)
    train = ds.indices("train")
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(train, size=min(args.n, len(train)), replace=False))
    settings = RenderSettings(**ds.meta["settings"])
    with Synth(ds.meta["plugin"], settings=settings, workers=args.workers) as synth:
        s = slopes(synth, np.asarray(ds.full_params[pick]), list(ds.meta["param_indices"]), args.delta,
                   MelConfig(**ds.meta["mel"]))
    w = weights_from_slopes(s)
    names = list(ds.meta["param_names"])
    out = {"param_names": names, "weights": [round(float(x), 4) for x in w],
           "slope_mean": [float(x) for x in np.nanmean(s, 0)], "slope_median": [float(x) for x in np.nanmedian(s, 0)],
           "n": len(pick), "delta": args.delta, "data": args.data,
           "command": "python -m explorer.models.param_weights " + " ".join(sys.argv[1:] if argv is None else argv)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    for name, x in sorted(zip(names, w, strict=True), key=lambda t: -t[1]):
        print(f"{name:>20s} {x:.3f}", file=sys.stderr)
    print(f"wrote {args.out} ({time.time() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
