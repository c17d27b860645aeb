"""Refine a parameter estimate against a target sound with CMA-ES, rendering with the real synth.

API (used by `explorer.evaluate --refine N`, `explorer.match --refine N` and the app's Refine button):

    v_best, history = refine(synth, target, v0_full, free_indices, budget=200, progress_callback=None)

- `synth`: an `explorer.synth.Synth`; each CMA-ES generation is rendered as one batch spread over all of
  its workers (so all cores render in parallel).
- `target`: the target sound, either a log-mel `Tensor/ndarray[64, 80]` (`log(mel + 1e-3)`, not
  normalised, as in a dataset's `mels.npy`) or audio `ndarray[T]` at the synth's sample rate (trimmed or
  padded to the synth's duration).
- `v0_full`: `ndarray[n_plugin]` full normalised start vector (e.g. `LoadedModel.full_params(v)[0]`);
  parameters outside `free_indices` stay at these values.
- `free_indices`: plugin indices CMA-ES may move (e.g. the checkpoint's `param_indices`).
- `budget`: total number of renders, the start point's render included. The start point is always
  evaluated, so the result is never worse than it (on the objective).
- `progress_callback(done, budget, best_loss)`: called after each generation; return `False` to stop
  early (any other return value continues). Fits Gradio's `gr.Progress` with a small lambda.
- returns `v_best ndarray[n_plugin]` and `history`: a list of dicts, one per generation
  `{"renders", "best" (objective), "generation_best", "logmel_l1", "sc" (of the best so far), "seconds"}`,
  the first for the start point.

Objective (`loss=`): `"logmel_l1"`, `mean |log(mel_Y + 1e-3) - log(mel_X + 1e-3)|`
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
    out_power = mel(audio, cfg or MelConfig())  # [N, 64, 80]
    target_power = metrics.mel_from_log_mel(target_logmel)  # [64, 80], broadcast over the candidates
    return {"logmel_l1": metrics.log_mel_l1(target_power, out_power),
            "sc": metrics.spectral_convergence(target_power, out_power)}


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
    """`--refine N`, `--refine-loss` and `--seed`: the refine options of `explorer.evaluate` and `explorer.match`."""
    ap.add_argument("--refine", type=int, default=0, help=refine_help)
    ap.add_argument("--refine-loss", default="mix", choices=("mix", "logmel_l1", "sc"),
                    help="refine objective: log-mel L1 + SC relative to the start (default), or one of them")
    ap.add_argument("--seed", type=int, default=0, help="CMA-ES seed")


def _render(synth, full: np.ndarray, note: int | None = None) -> np.ndarray:
    """Render `full[N, n_plugin]` (at `note`, default the synth's) with the batch spread over every worker."""
    chunk = max(1, math.ceil(len(full) / max(1, synth.workers)))
    return synth.render(full, chunk=chunk, note=note)


def refine(synth, target: np.ndarray | torch.Tensor, v0_full: np.ndarray, free_indices: Sequence[int],
           budget: int = 200, progress_callback: ProgressCallback | None = None, *, sigma0: float = 0.15,
           popsize: int | None = None, seed: int = 0, loss: str = "mix",
           cfg: MelConfig | None = None, note: int | None = None,
           on_improve: Callable[[np.ndarray, dict], object] | None = None) -> tuple[np.ndarray, list[dict]]:
    """CMA-ES over `free_indices` from `v0_full[n_plugin]` -> (`v_best[n_plugin]`, history). See module doc.

    `note`: the MIDI note every candidate is rendered at (default the synth's; a matched input's own pitch).
    `on_improve(v_full, {"logmel_l1", "sc"})`: called with each new best (the app shows the best so far)."""
    # the small per-generation mels on one torch thread: the render workers already use every core, and on a
    # shared machine extra torch threads mostly spin (measured: ~15 % less CPU per refine)
    with cli.torch_threads(1):
        return _refine(synth, target, v0_full, free_indices, budget, progress_callback, sigma0, popsize, seed,
                       loss, cfg, note, on_improve)


def _refine(synth, target, v0_full, free_indices, budget, progress_callback, sigma0, popsize, seed, loss, cfg,
            note, on_improve) -> tuple[np.ndarray, list[dict]]:
    t0 = time.perf_counter()
    cfg = cfg or MelConfig()
    free = np.asarray(free_indices, dtype=int)
    v0 = np.clip(np.asarray(v0_full, dtype=np.float64).copy(), 0.0, 1.0)
    tgt = _target_log_mel(target, synth.settings.n_samples, cfg)

    def evaluate(xs: np.ndarray) -> dict[str, np.ndarray]:
        full = np.repeat(v0[None], len(xs), axis=0)
        full[:, free] = np.clip(xs, 0.0, 1.0)
        return components(tgt, _render(synth, full, note), cfg)

    def entry(renders: int, best: float, gen_best: float, comp_best: dict[str, float]) -> dict:
        return {"renders": renders, "best": best, "generation_best": gen_best,
                "logmel_l1": comp_best["logmel_l1"], "sc": comp_best["sc"], "seconds": time.perf_counter() - t0}

    best_x = v0[free].copy()
    if budget <= 1 or len(free) == 0:
        c = {k: float(v[0]) for k, v in evaluate(best_x[None]).items()}
        best = float(objective({k: np.array([v]) for k, v in c.items()}, loss, c)[0])
        history = [entry(1, best, best, c)]
        if progress_callback is not None:
            progress_callback(1, budget, best)
        return v0, history

    opts = {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9}
    if popsize:
        opts["popsize"] = popsize
    # keep the start strictly inside the box: cma's boundary transform is flat on the bounds
    es = cma.CMAEvolutionStrategy(np.clip(best_x, 1e-3, 1.0 - 1e-3), sigma0, opts)
    best, done, history = math.inf, 0, []
    ref: dict[str, float] = {}
    best_c: dict[str, float] = {}
    first = True
    while done < budget and not es.stop():
        xs = np.asarray(es.ask())
        if first:  # the start point rides along with the first generation (one batch, all workers busy)
            xs = np.concatenate([best_x[None], xs])
        remaining = budget - done
        partial = len(xs) > remaining
        if partial:  # last, incomplete generation: evaluate what the budget allows, no update
            xs = xs[:remaining]
        comp = evaluate(xs)
        if first:
            ref = {k: float(v[0]) for k, v in comp.items()}
        f = objective(comp, loss, ref)
        done += len(xs)
        if first:
            best, best_c = float(f[0]), dict(ref)
            history.append(entry(1, best, best, best_c))
            history[-1]["seconds"] = 0.0
            xs_pop, f_pop, off = xs[1:], f[1:], 1
        else:
            xs_pop, f_pop, off = xs, f, 0
        if not partial:
            es.tell(list(xs_pop), f_pop.tolist())
        first = False
        if len(f_pop):
            i = int(np.argmin(f_pop))
            if f_pop[i] < best:
                best, best_x = float(f_pop[i]), np.clip(xs_pop[i], 0.0, 1.0)
                best_c = {k: float(v[i + off]) for k, v in comp.items()}
                if on_improve is not None:
                    v_new = v0.copy()
                    v_new[free] = best_x
                    on_improve(v_new, dict(best_c))
            history.append(entry(done, best, float(f_pop[i]), best_c))
        if progress_callback is not None and progress_callback(done, budget, best) is False:
            break
    v = v0.copy()
    v[free] = best_x
    return v, history
