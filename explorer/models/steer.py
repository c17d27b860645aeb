"""Semantic macros that steer the synth's parameters along a descriptor (Dark <-> Bright, ...), from any point.

    python -m explorer.models.steer fit --data data/ds16 --out checkpoints/flow_dis_16/steer.pt

Why not a latent dim: a Flow_dis dim is pushed towards its tag by the encoder's loss only; nothing makes
the decoder turn a move along that dim into a monotone change of the descriptor, and away from the data it
does not (issue 12: Spearman 0.04 for Constant <-> Moving, -0.52 for Soft <-> Aggressive from prior starts).
Here a small MLP `f: v[P] -> g[K]` predicts each pair's descriptor from the parameters, as a level `g` on
N(0, 1) (the descriptor's rank among the training sounds, `explorer.data.tags.descriptor_targets`). Steering
pair k to level `t` moves the parameters by least-norm steps `dv = pinv(J) e` (J = df/dv), with
`e_k = t - f_k(v)` and `e_j = f_j(v0) - f_j(v)` for the other pairs, so the other descriptors hold while
this one moves; steps stay inside [0, 1]. The predictor alone is not enough (from test starts, steering
straight to each level and correcting once against a render reached Spearman 0.80-0.95 per pair), so the
app uses a *calibrated path* (`calibrate`): from the current sound, the pair is steered up and down in steps
of `PATH_STEP` levels, each point from its neighbour; every point is rendered with the real synth and its
descriptor measured; the points whose measured levels rise strictly (a longest such run through the start)
are kept, and a slider at level t plays the kept point measured nearest t. It works from any parameters:
dataset sounds, decoded latent points, uploads. The pairs it steers and their descriptors:
`explorer.data.tags.STEER_PAIRS`; whether each reaches the bar is measured on rendered audio by
`python -m explorer.evaluate.semantic`.
A file holds: `format`, `pairs`, `param_names`, `hidden`, `state_dict`, `reference` (sorted descriptor
values of the training sounds, for real units), `r2_test` (per pair, on the test split), `data`, `command`,
and `shown` (pair indices that reached the bar; written by the evaluation, None before).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.special import ndtr, ndtri
from torch import nn

FORMAT = 1
FILE_NAME = "steer.pt"  # next to a checkpoint's model.pt; `load_model` attaches it as `LoadedModel.steer`
LEVEL_RANGE = 2.5  # slider range in levels (standard deviations of the training sounds' ranks)
PATH_STEP = 0.25  # levels between the points of a calibrated path (`Steerer.path`)


def _net(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, n_out))


def dataset_descriptors(ds) -> np.ndarray:
    """`[N, len(STEER_PAIRS)]` descriptors of a dataset's sounds: the stored four, then duration and spread
    from the stored log-mels."""
    from explorer.data.features import LOG_EPS
    from explorer.data.tags import envelope_descriptors

    extra = [envelope_descriptors(np.maximum(np.exp(np.asarray(ds.mels[i:i + 1024], np.float64)) - LOG_EPS, 0))
             for i in range(0, len(ds), 1024)]
    return np.concatenate([np.asarray(ds.descriptors, np.float64), np.concatenate(extra)], axis=1)


def fit(data: str, epochs: int = 300, hidden: int = 256, seed: int = 0) -> dict:
    """Train the predictor on the train split of a dataset; -> the dict `Steerer` loads."""
    from explorer.data.dataset import load_dataset
    from explorer.data.tags import STEER_PAIRS, descriptor_targets

    ds = load_dataset(data)
    desc = dataset_descriptors(ds)
    ok = np.isfinite(desc).all(1)
    tr, te = (np.intersect1d(ds.indices(s), np.flatnonzero(ok)) for s in ("train", "test"))
    levels = descriptor_targets(desc[ok], desc[tr])
    g = np.zeros(desc.shape, np.float32)
    g[ok] = levels
    v = torch.from_numpy(np.array(ds.params, np.float32))
    y = torch.from_numpy(g)
    torch.manual_seed(seed)
    net = _net(v.shape[1], g.shape[1], hidden)
    opt = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=1e-5)
    x_tr, y_tr = v[tr], y[tr]
    for _ in range(epochs):
        for b in torch.randperm(len(x_tr)).split(256):
            loss = (net(x_tr[b]) - y_tr[b]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        err = (net(v[te]) - y[te]).pow(2).mean(0)
    r2 = (1 - err / y[te].var(0)).tolist()
    ref = np.sort(desc[tr], axis=0)[np.linspace(0, len(tr) - 1, 513).astype(int)]  # 513 quantiles
    return {"format": FORMAT, "pairs": [list(p) for p in STEER_PAIRS], "param_names": list(ds.meta["param_names"]),
            "hidden": hidden, "state_dict": net.state_dict(), "reference": torch.from_numpy(ref.astype(np.float32)),
            "r2_test": [round(float(x), 4) for x in r2], "data": data}


class Steerer:
    """A fitted predictor: levels of the current parameters, steering towards a level, real units."""

    def __init__(self, d: dict) -> None:
        if d.get("format") != FORMAT:
            raise ValueError(f"steer file format {d.get('format')} (expected {FORMAT})")
        self.pairs: list[tuple[str, str, str]] = [tuple(p) for p in d["pairs"]]
        self.param_names: list[str] = list(d["param_names"])
        self.net = _net(len(self.param_names), len(self.pairs), int(d["hidden"]))
        self.net.load_state_dict(d["state_dict"])
        self.net.eval()
        self.reference = np.asarray(d["reference"], np.float64)  # [Q, K] sorted
        self.r2_test: list[float] = list(d.get("r2_test", []))
        # pairs the app shows: those that reached the bar in `explorer.evaluate.semantic --update-steer`
        # (every pair until that evaluation has run)
        self.shown: list[int] = list(d["shown"]) if d.get("shown") is not None else list(range(len(self.pairs)))
        self.meta = {k: v for k, v in d.items() if k not in ("state_dict", "reference")}

    @classmethod
    def load(cls, path: str | Path) -> Steerer:
        return cls(torch.load(path, map_location="cpu", weights_only=True))

    @torch.no_grad()
    def levels(self, v: np.ndarray) -> np.ndarray:
        """`v[B, P]` (or `[P]`) in [0, 1] -> predicted levels `[B, K]` (or `[K]`)."""
        x = torch.as_tensor(np.asarray(v, np.float32))
        return self.net(x).numpy()

    @torch.no_grad()
    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Levels `[K]` at parameters `x[P]` and their Jacobian `[K, P]`, written out for `_net`'s three
        layers (one forward pass and three matrix products instead of K backward passes: every steering
        iteration needs it, and the app steers on each semantic slider move)."""
        l1, _, l2, _, l3 = self.net
        a1 = l1(x)
        h1 = nn.functional.silu(a1)
        a2 = l2(h1)
        f = l3(nn.functional.silu(a2))
        s1, s2 = torch.sigmoid(a1), torch.sigmoid(a2)
        d1, d2 = s1 * (1 + a1 * (1 - s1)), s2 * (1 + a2 * (1 - s2))  # silu'(a)
        return f, ((l3.weight * d2) @ l2.weight * d1) @ l1.weight

    def steer(self, v: np.ndarray, k: int, target: float, iters: int = 60, max_step: float = 0.05,
              hold: np.ndarray | None = None) -> np.ndarray:
        """Parameters `v[P]` moved until pair k's level is `target`, the other pairs held (see module doc) at
        their levels `hold[K]` (default: `v`'s own)."""
        target = float(np.clip(target, -LEVEL_RANGE, LEVEL_RANGE))
        x = torch.as_tensor(np.asarray(v, np.float32)).clone()
        held = None if hold is None else torch.as_tensor(np.asarray(hold, np.float32))
        for _ in range(iters):
            f, jac = self.value_and_jacobian(x)  # [K], [K, P]
            hold = f if held is None else held
            held = hold
            if abs(float(target - f[k])) < 0.02:
                break
            e = hold - f
            e[k] = target - f[k]
            dv = torch.linalg.pinv(jac, rtol=1e-3) @ e
            x = torch.clamp(x + torch.clamp(dv, -max_step, max_step), 0.0, 1.0)
        return x.numpy()

    def path(self, v: np.ndarray, k: int, step: float = PATH_STEP) -> tuple[np.ndarray, np.ndarray, int]:
        """Pair k's path through `v[P]`: `v` steered in steps of `step` levels up to +LEVEL_RANGE and down to
        -LEVEL_RANGE, each point steered on from its neighbour (so the path is continuous) with the other
        pairs held at `v`'s levels. -> (aimed levels `[n]` increasing, parameters `[n, P]`, index of `v`)."""
        v = np.asarray(v, np.float32)
        hold = self.levels(v)
        f0 = float(hold[k])
        sides = []
        for sign in (-1.0, 1.0):
            aims = f0 + sign * step * np.arange(1, int(np.floor((LEVEL_RANGE - sign * f0) / step + 1e-6)) + 1)
            x, pts = v, []
            for t in aims:
                x = self.steer(x, k, float(t), hold=hold)
                pts.append(x)
            sides.append((aims, pts))
        (lo_aims, lo_pts), (hi_aims, hi_pts) = sides
        aims = np.concatenate([lo_aims[::-1], [f0], hi_aims])
        params = np.stack([*lo_pts[::-1], v, *hi_pts]).astype(np.float32)
        return aims, params, len(lo_pts)

    def level_of(self, k: int, value: float) -> float:
        """A measured descriptor value of pair k -> its level (rank among the training sounds, on N(0, 1))."""
        ref = self.reference[:, k]
        q = (np.searchsorted(ref, value, "left") + np.searchsorted(ref, value, "right")) / (2.0 * len(ref))
        return float(np.clip(ndtri(np.clip(q, 0.5 / len(ref), 1 - 0.5 / len(ref))), -LEVEL_RANGE - 1, LEVEL_RANGE + 1))

    def to_units(self, k: int, level: float) -> float:
        """A level of pair k -> the descriptor's value in its own units (quantile of the training sounds)."""
        q = float(ndtr(level)) * (len(self.reference) - 1)
        lo = int(np.floor(q))
        hi = min(lo + 1, len(self.reference) - 1)
        return float(self.reference[lo, k] + (q - lo) * (self.reference[hi, k] - self.reference[lo, k]))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m explorer.models.steer", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit the descriptor predictor on a dataset's train split")
    f.add_argument("--data", required=True)
    f.add_argument("--out", required=True, help="e.g. checkpoints/flow_dis_16/steer.pt")
    f.add_argument("--epochs", type=int, default=300)
    f.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # a tiny MLP: one thread is fastest and spares a shared machine
    t0 = time.time()
    try:
        d = fit(args.data, args.epochs, seed=args.seed)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    d["command"] = "python -m explorer.models.steer " + " ".join(shlex.quote(a) for a in argv)
    torch.save(d, args.out)
    names = [p[2] for p in d["pairs"]]
    print(f"wrote {args.out} in {time.time() - t0:.0f} s; test R2 " +
          ", ".join(f"{n} {r:.2f}" for n, r in zip(names, d["r2_test"], strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())


@dataclass
class SteerPath:
    """Pair k's calibrated path from one sound: the points of `Steerer.path` whose rendered sounds measure
    strictly increasing levels of the pair's descriptor, through the start. A slider at level t plays the
    point whose measured level is nearest t, so the descriptor of what is heard never goes down while the
    slider goes up."""

    k: int
    params: np.ndarray  # [m, P]
    measured: np.ndarray  # [m] levels measured on the rendered audio, increasing
    start: int  # index of the starting sound among the kept points

    def pick(self, level: float) -> int:
        return int(np.argmin(np.abs(self.measured - float(level))))

    def holds(self, v: np.ndarray) -> bool:
        """True when `v` is one of the path's points (the user has only moved this pair since)."""
        return bool((np.abs(self.params - np.asarray(v, np.float32)[None]).max(1) == 0).any())


def increasing_through(levels: np.ndarray, start: int) -> list[int]:
    """Indices of a longest strictly increasing subsequence of `levels` (in index order) that contains
    `start`; NaN entries never belong to it (a NaN start counts as -inf: nothing below it is kept)."""
    x = np.where(np.isfinite(levels), levels, np.nan)
    n = len(x)
    s0 = x[start] if np.isfinite(x[start]) else -np.inf

    def longest(idx: list[int]) -> list[int]:  # longest increasing run over idx (in order), O(n^2)
        best: list[list[int]] = []
        for a, i in enumerate(idx):
            prev = [best[b] for b in range(a) if x[idx[b]] < x[i]]
            best.append(max(prev, key=len, default=[]) + [i])
        return max(best, key=len, default=[])

    below = [i for i in range(start) if np.isfinite(x[i]) and x[i] < s0]
    above = [i for i in range(start + 1, n) if np.isfinite(x[i]) and x[i] > s0]
    return longest(below) + [start] + longest(above)


def calibrate(steerer: Steerer, v: np.ndarray, k: int, render, step: float = PATH_STEP) -> SteerPath:
    """Render pair k's path through `v` (`render`: parameters `[n, P]` -> audio `[n, T]`, the real synth
    at the models' note), measure the pair's descriptor on each sound and keep the increasing points."""
    from explorer.data.tags import steer_descriptors

    _, params, start = steerer.path(v, k, step)
    desc = steer_descriptors(render(params))[:, k]
    levels = np.array([steerer.level_of(k, float(d)) if np.isfinite(d) else np.nan for d in desc])
    keep = increasing_through(levels, start)
    measured = levels[keep].copy()
    if not np.isfinite(measured[0]):  # a silent start (first: nothing is kept below it), placed below the rest
        predicted = float(steerer.levels(np.asarray(v, np.float32))[k])
        measured[0] = min(predicted, measured[1] - step) if len(measured) > 1 else predicted
    return SteerPath(k, params[keep], measured, keep.index(start))
