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
app uses a *calibrated path* (`explorer.models.steer_path`): from the current sound, the pair is
steered towards one side (up or down, each side when a slider move first needs it, as far as the move
needs) in steps of `PATH_STEP` levels, each point from its neighbour; the start and every point are
rendered with the real synth and the descriptor measured; on each side a run of points whose measured
level moves strictly away from the start's is kept, and a slider at level t plays the kept point measured
nearest t. It works from any parameters:
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
from pathlib import Path

import numpy as np
import torch
from scipy.special import ndtr, ndtri
from torch import nn

FORMAT = 1
FILE_NAME = "steer.pt"  # next to a checkpoint's model.pt; `load_model` attaches it as `LoadedModel.steer`
LEVEL_RANGE = 2.5  # slider range in levels (standard deviations of the training sounds' ranks)
PATH_STEP = 0.25  # levels between the points of a calibrated path (`Steerer.path`)
PATH_MARGIN = 2  # a slider move calibrates this many points past its level (and extends by as many at least)


def path_length(level: float, side: int, step: float = PATH_STEP) -> int:
    """Points of one side of a path from a sound predicted at `level` to the end of the slider's range."""
    return max(int(np.floor((LEVEL_RANGE - side * level) / step + 1e-6)), 0)


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
        self._w = [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
                   for m in self.net if isinstance(m, nn.Linear)]  # steering runs in NumPy (float64)
        self.reference = np.asarray(d["reference"], np.float64)  # [Q, K] sorted
        self.r2_test: list[float] = list(d.get("r2_test", []))
        # pairs the app shows: those that reached the bar in `explorer.evaluate.semantic --update-steer`
        # (every pair until that evaluation has run)
        self.shown: list[int] = list(d["shown"]) if d.get("shown") is not None else list(range(len(self.pairs)))
        self.meta = {k: v for k, v in d.items() if k not in ("state_dict", "reference")}

    @classmethod
    def load(cls, path: str | Path) -> Steerer:
        return cls(torch.load(path, map_location="cpu", weights_only=True))

    def levels(self, v: np.ndarray) -> np.ndarray:
        """`v[B, P]` (or `[P]`) in [0, 1] -> predicted levels `[B, K]` (or `[K]`)."""
        h = np.asarray(v, np.float64)
        for i, (w, b) in enumerate(self._w):
            h = h @ w.T + b
            if i < len(self._w) - 1:
                h = h / (1 + np.exp(-h))  # SiLU
        return h

    def value_and_jacobian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Levels `[K]` at parameters `x[P]` and their Jacobian `[K, P]`, written out for `_net`'s three
        layers in NumPy (float64): every steering iteration needs both, and at this size NumPy is several
        times faster than torch's per-call overhead, let alone K backward passes."""
        (w1, b1), (w2, b2), (w3, b3) = self._w
        a1 = w1 @ x + b1
        s1 = 1 / (1 + np.exp(-a1))
        a2 = w2 @ (a1 * s1) + b2
        s2 = 1 / (1 + np.exp(-a2))
        f = w3 @ (a2 * s2) + b3
        d1, d2 = s1 * (1 + a1 * (1 - s1)), s2 * (1 + a2 * (1 - s2))  # silu'(a)
        return f, ((w3 * d2) @ w2 * d1) @ w1

    def steer(self, v: np.ndarray, k: int, target: float, iters: int = 60, max_step: float = 0.05,
              hold: np.ndarray | None = None) -> np.ndarray:
        """Parameters `v[P]` moved until pair k's level is `target`, the other pairs held (see module doc) at
        their levels `hold[K]` (default: `v`'s own). -> `[P]` float32 in [0, 1]."""
        target = float(np.clip(target, -LEVEL_RANGE, LEVEL_RANGE))
        x = np.asarray(v, np.float64).copy()
        for _ in range(iters):
            f, jac = self.value_and_jacobian(x)  # [K], [K, P]
            if hold is None:
                hold = f
            if abs(target - f[k]) < 0.02:
                break
            e = hold - f
            e[k] = target - f[k]
            dv = np.linalg.pinv(jac, rcond=1e-3) @ e
            x = np.clip(x + np.clip(dv, -max_step, max_step), 0.0, 1.0)
        return x.astype(np.float32)

    def path(self, v: np.ndarray, k: int, side: int, step: float = PATH_STEP, done: int = 0,
             until: int | None = None, last: np.ndarray | None = None) -> np.ndarray:
        """One side of pair k's path from `v[P]`: `v` steered in steps of `step` levels (up for side +1, down
        for -1) towards the end of the slider's range, point i aiming at `v`'s predicted level + side * step
        * i and steered on from point i - 1 (so the path is continuous), the other pairs held at `v`'s
        levels. Points `done + 1 .. until` (default: to the end of the range; `last` = point `done`, needed
        when `done > 0`), so a path computed in pieces is the path computed at once. -> parameters `[n, P]`,
        in order away from `v` (`v` itself not included)."""
        v = np.asarray(v, np.float32)
        hold = self.levels(v)
        f0 = float(hold[k])
        n = path_length(f0, side, step)
        until = n if until is None else min(until, n)
        x, pts = (v if done == 0 else np.asarray(last, np.float32)), []
        for i in range(done + 1, until + 1):
            x = self.steer(x, k, f0 + side * step * i, hold=hold)
            pts.append(x)
        return np.stack(pts) if pts else np.zeros((0, len(v)), np.float32)

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
