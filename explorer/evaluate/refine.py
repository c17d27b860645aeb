"""Refine a parameter estimate against a target sound, rendering with the real synth.

API (used by `explorer.evaluate --refine N`, the matching pipeline and the app's Refine button):

    v_best, history = refine(synth, target, v0_full, free_indices, budget=200, progress_callback=None)

- `synth`: an `explorer.synth.Synth`; each batch of candidates is rendered spread over all of its workers
  (so all cores render in parallel).
- `target`: the target sound, either a log-mel `Tensor/ndarray[64, 80]` (`log(mel + 1e-3)`, not
  normalised, as in a dataset's `mels.npy`) or audio `ndarray[T]` at the synth's sample rate (trimmed or
  padded to the synth's duration).
- `v0_full`: `ndarray[n_plugin]` full normalised start vector (e.g. `LoadedModel.full_params(v)[0]`);
  parameters outside `free_indices` stay at these values.
- `free_indices`: plugin indices the search may move (e.g. the checkpoint's `param_indices`).
- `budget`: total number of renders, the start point's render included. The start point is always
  evaluated, so the result is never worse than it (on the objective).
- `method`: "lm" (default): Levenberg-Marquardt on the log-mel with forward-difference Jacobians
  (`explorer.evaluate.lm`), and CMA-ES for whatever budget a stalled LM leaves; "cma": CMA-ES only.
- `progress_callback(done, budget, best_loss)`: called after each batch of renders; return `False` to stop
  early (any other return value continues). Fits Gradio's `gr.Progress` with a small lambda.
- returns `v_best ndarray[n_plugin]` and `history`: a list of dicts, one per batch
  `{"renders", "best" (objective), "generation_best", "logmel_l1", "sc" (of the best so far), "seconds"}`,
  the first for the start point.

Objective (`loss=`, what decides the best; LM's model fits the log-mel in any case): `"logmel_l1"`,
`mean |log(mel_Y + 1e-3) - log(mel_X + 1e-3)|`
(`explorer.evaluate.metrics.log_mel_l1`); `"sc"`, spectral convergence on linear mel magnitude; `"mix"` (default),
the sum of both, each relative to the start point's value. Why mix: log-mel L1 alone halves the log-mel
distance but barely moves SC, which is dominated by the loud bins (10 test sounds of ds16, Flow_reg start,
200 renders: SC -6 %); SC alone makes the log-mel distance worse on some sounds; the relative sum improves
both (SC -34 % on the mean, log-mel L1 -52 %). `history[i]["logmel_l1"]` / `["sc"]` give the plain metrics
of the best candidate so far whatever the objective. Values stay in [0, 1] through cma's bounds.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from explorer import cli
from explorer.data.features import LOG_EPS, MelConfig, fit_length, mel
from explorer.evaluate import metrics

with warnings.catch_warnings():  # cma warns at import when matplotlib is missing (plots are not used)
    warnings.simplefilter("ignore")
    import cma

ProgressCallback = Callable[[int, int, float], object]


def _target_log_mel(target: np.ndarray | torch.Tensor, n_samples: int, cfg: MelConfig) -> torch.Tensor:
    """Log-mel `[64, 80]` or audio `[T]` -> log-mel Tensor `[64, 80]` float32."""
    t = torch.as_tensor(np.asarray(target) if not torch.is_tensor(target) else target).float()
    if t.ndim == 2 and tuple(t.shape) == (cfg.n_mels, cfg.frames):
        return t
    if t.ndim == 1:
        audio = fit_length(t.numpy(), n_samples)
        return torch.log(mel(audio[None], cfg)[0] + LOG_EPS)
    raise ValueError(f"target must be a log-mel [{cfg.n_mels}, {cfg.frames}] or audio [T], got {list(t.shape)}")


def components(target_logmel: torch.Tensor, audio: np.ndarray, cfg: MelConfig | None = None
               ) -> dict[str, np.ndarray]:
    """Log-mel L1 and SC of each rendered candidate (`explorer.evaluate.metrics`): `target_logmel[64, 80]`,
    `audio[N, T]` -> {name: `[N]`}."""
    return power_components(target_logmel, mel(audio, cfg or MelConfig()))


def power_components(target_logmel: torch.Tensor, out_power: torch.Tensor) -> dict[str, np.ndarray]:
    """`components` from the candidates' mel power `[N, 64, 80]` (already computed)."""
    target_power = metrics.mel_from_log_mel(target_logmel)  # [64, 80], broadcast over the candidates
    return {"logmel_l1": metrics.log_mel_l1(target_power, out_power),
            "sc": metrics.spectral_convergence(target_power, out_power)}


def render_scores(synth, target_logmel: torch.Tensor, full: np.ndarray, note: int | None = None,
                  cfg: MelConfig | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render full plugin vectors `full[N, n_plugin]` at `note`, spread over every worker, and score them
    against `target_logmel[64, 80]` -> (audio `[N, T]`, {logmel_l1, sc, sc_ln: `[N]`}): the matching
    pipeline's candidates and the switch head's labels are scored this one way. A vector the plugin crashes
    on (`Synth.render`'s `failed`) scores inf on every metric: it can never be picked."""
    chunk, failed = max(1, math.ceil(len(full) / max(1, synth.workers))), []
    audio = synth.render(full, chunk=chunk, note=note, failed=failed)
    power = mel(audio, cfg or MelConfig(sample_rate=synth.settings.sample_rate))
    target = metrics.mel_from_log_mel(target_logmel)
    scores = {**power_components(target_logmel, power), "sc_ln": metrics.spectral_convergence_gain(target, power)}
    for v in scores.values():
        v[failed] = np.inf
    return audio, scores


def objective(comp: dict[str, np.ndarray], loss: str, ref: dict[str, float] | None = None) -> np.ndarray:
    """Combine `components` into the loss CMA-ES minimises.

    `logmel_l1` or `sc` alone, or `mix`: `l1 / l1_start + sc / sc_start`, each term relative to the start
    point's value (`ref`), so neither scale dominates and both must improve together.
    """
    if loss in ("logmel_l1", "sc"):
        return comp[loss]
    if loss == "mix":
        ref = ref or {"logmel_l1": 1.0, "sc": 1.0}
        return comp["logmel_l1"] / max(ref["logmel_l1"], 1e-6) + comp["sc"] / max(ref["sc"], 1e-6)
    raise ValueError(f"unknown loss {loss!r} (logmel_l1, sc, mix)")


def losses(target_logmel: torch.Tensor, audio: np.ndarray, loss: str = "logmel_l1",
           cfg: MelConfig | None = None, ref: dict[str, float] | None = None) -> np.ndarray:
    """Objective of each rendered candidate: `target_logmel[64, 80]`, `audio[N, T]` -> `[N]` (lower is better)."""
    return objective(components(target_logmel, audio, cfg), loss, ref)


def add_refine_arguments(ap: argparse.ArgumentParser, refine_help: str) -> None:
    """`--refine N`, `--refine-method`, `--refine-loss` and `--seed`: the refine options of `explorer.evaluate`."""
    ap.add_argument("--refine", type=int, default=0, help=refine_help)
    ap.add_argument("--refine-loss", default="mix", choices=("mix", "logmel_l1", "sc"),
                    help="refine objective: log-mel L1 + SC relative to the start (default), or one of them")
    ap.add_argument("--refine-method", default="lm", choices=METHODS,
                    help="Levenberg-Marquardt then CMA-ES when it stalls (default), or CMA-ES only")
    ap.add_argument("--seed", type=int, default=0, help="CMA-ES seed")


def _render(synth, full: np.ndarray, note: int | None = None) -> np.ndarray:
    """Render `full[N, n_plugin]` (at `note`, default the synth's) with the batch spread over every worker.
    A vector the plugin crashes on plays silence: the search scores it as such and moves on."""
    chunk = max(1, math.ceil(len(full) / max(1, synth.workers)))
    return synth.render(full, chunk=chunk, note=note, failed=[])


def refine(synth, target: np.ndarray | torch.Tensor, v0_full: np.ndarray, free_indices: Sequence[int],
           budget: int = 200, progress_callback: ProgressCallback | None = None, *, method: str = "lm",
           sigma0: float = 0.15, popsize: int | None = None, seed: int = 0, loss: str = "mix",
           cfg: MelConfig | None = None, note: int | None = None,
           on_improve: Callable[[np.ndarray, dict], object] | None = None,
           l1_steps: bool = True) -> tuple[np.ndarray, list[dict]]:
    """Search over `free_indices` from `v0_full[n_plugin]` -> (`v_best[n_plugin]`, history). See module doc.

    `method`: "lm" (Levenberg-Marquardt, then CMA-ES for what a stalled LM leaves) or "cma" (CMA-ES only).
    `note`: the MIDI note every candidate is rendered at (default the synth's; a matched input's own pitch).
    `on_improve(v_full, {"logmel_l1", "sc"})`: called with each new best (the app shows the best so far).
    `l1_steps`: Levenberg-Marquardt's steps weighted for the log-mel L1 objective (`explorer.evaluate.lm`);
    False: plain least squares."""
    if method not in METHODS:
        raise ValueError(f"unknown refine method {method!r} ({', '.join(METHODS)})")
    if loss not in ("mix", "logmel_l1", "sc"):
        raise ValueError(f"unknown loss {loss!r} (logmel_l1, sc, mix)")
    # the small per-batch mels on one torch thread: the render workers already use every core, and on a
    # shared machine extra torch threads mostly spin (measured: ~15 % less CPU per refine)
    with cli.torch_threads(1):
        s = Search(synth, target, v0_full, free_indices, budget, loss, cfg, note, progress_callback, on_improve,
                   l1_steps)
        if budget <= 1 or len(s.free) == 0:
            s.evaluate(s.x0[None], with_start=True)
        elif method == "lm":
            from explorer.evaluate.lm import levenberg_marquardt

            levenberg_marquardt(s)
            if s.left() > 1 and not s.stopped:  # LM stalled (or too few renders left for a step): CMA-ES on
                cma_search(s, s.best_x, min(sigma0, 0.05), popsize, seed)
        else:
            cma_search(s, s.x0, sigma0, popsize, seed)
        return s.result()


METHODS = ("lm", "cma")


class Search:
    """One refinement's bookkeeping: renders done, the best so far, history, callbacks. `evaluate` renders a
    batch of free-parameter vectors, scores it, and keeps the best; strategies call it until `left()` is 0
    or `stopped` (the progress callback returned False)."""

    def __init__(self, synth, target, v0_full, free_indices, budget, loss, cfg, note, progress_callback,
                 on_improve, l1_steps: bool = True):
        self.t0 = time.perf_counter()
        self.synth, self.loss, self.note, self.budget = synth, loss, note, int(budget)
        self.cfg = cfg or MelConfig()
        self.free = np.asarray(free_indices, dtype=int)
        self.v0 = np.clip(np.asarray(v0_full, dtype=np.float64).copy(), 0.0, 1.0)
        self.x0 = self.v0[self.free].copy()
        self.tgt = _target_log_mel(target, synth.settings.n_samples, self.cfg)
        self.progress_callback, self.on_improve = progress_callback, on_improve
        self.done, self.best, self.best_x, self.best_c = 0, math.inf, self.x0.copy(), {}
        self.ref: dict[str, float] | None = None
        self.history: list[dict] = []
        self.stopped = False
        self.l1_steps = l1_steps  # Levenberg-Marquardt: steps weighted for the L1 objective (see `refine`)

    def left(self) -> int:
        return max(0, self.budget - self.done)

    def full(self, xs: np.ndarray) -> np.ndarray:
        full = np.repeat(self.v0[None], len(xs), axis=0)
        full[:, self.free] = np.clip(xs, 0.0, 1.0)
        return full

    def evaluate(self, xs: np.ndarray, with_start: bool = False) -> tuple[np.ndarray, torch.Tensor]:
        """Render and score `xs[N, free]` (at most what the budget allows) -> (objective [n], log-mel
        [n, 64, 80]). `with_start`: `xs[0]` is the start point (its scores become the `mix` reference, and
        the history gets its own first entry)."""
        xs = np.asarray(xs, np.float64)[: max(self.left(), 1 if not self.done else 0)]
        if not len(xs):
            return np.zeros(0), torch.zeros(0, self.cfg.n_mels, self.cfg.frames)
        power = mel(_render(self.synth, self.full(xs), self.note), self.cfg)
        comp = power_components(self.tgt, power)
        if self.ref is None:
            self.ref = {k: float(v[0]) for k, v in comp.items()}
        f = objective(comp, self.loss, self.ref)
        self.done += len(xs)
        off = 0
        if with_start:
            self._take(xs, f, comp, 0)
            self.history.append(self._entry(1, float(f[0])))
            self.history[-1]["seconds"] = 0.0
            off = 1
        if len(xs) > off:
            i = off + int(np.argmin(f[off:]))
            self._take(xs, f, comp, i)
            self.history.append(self._entry(self.done, float(f[i])))
        if self.progress_callback is not None and self.progress_callback(self.done, self.budget, self.best) is False:
            self.stopped = True
        return f, torch.log(power + LOG_EPS)

    def _take(self, xs, f, comp, i) -> None:
        if f[i] < self.best:
            self.best, self.best_x = float(f[i]), np.clip(xs[i], 0.0, 1.0)
            self.best_c = {k: float(v[i]) for k, v in comp.items()}
            if self.on_improve is not None and self.history:
                self.on_improve(self.full(self.best_x[None])[0], dict(self.best_c))

    def _entry(self, renders: int, gen_best: float) -> dict:
        return {"renders": renders, "best": self.best, "generation_best": gen_best,
                "logmel_l1": self.best_c["logmel_l1"], "sc": self.best_c["sc"],
                "seconds": time.perf_counter() - self.t0}

    def result(self) -> tuple[np.ndarray, list[dict]]:
        return self.full(self.best_x[None])[0], self.history


def cma_search(s: Search, x_start: np.ndarray, sigma0: float, popsize: int | None, seed: int) -> None:
    """CMA-ES from `x_start` until the budget is spent; the start point is evaluated with the first
    generation unless it already was (a search handed on from LM)."""
    opts = {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9}
    if popsize:
        opts["popsize"] = popsize
    # keep the start strictly inside the box: cma's boundary transform is flat on the bounds
    es = cma.CMAEvolutionStrategy(np.clip(x_start, 1e-3, 1.0 - 1e-3), sigma0, opts)
    first = s.done == 0
    while s.left() > 0 and not s.stopped and not es.stop():
        xs = np.asarray(es.ask())
        partial = len(xs) > s.left() - first  # last, incomplete generation: evaluate it, no update
        f, _ = s.evaluate(np.concatenate([x_start[None], xs]) if first else xs, with_start=first)
        if not partial:
            es.tell(list(xs), (f[1:] if first else f).tolist())
        first = False
