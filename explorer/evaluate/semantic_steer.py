"""Do the steering macros (`explorer.models.steer`) do what their names say, from wherever a user stands?

For each pair of `Steerer.pairs`, from three kinds of starting points -- `test` (the model's
reconstruction of test-split sounds, what a click on a dataset dot plays), `prior` (decoded z ~ N(0, I))
and `mix` (decoded random convex mixes of three test sounds' latent codes: points between the dots, as a
click on empty map space gives) -- move the slider to `steps` levels from -2 to +2 in turn, the pair's path
calibrated against the real synth as far as each move needs, as the app does
(`explorer.models.steer_path.calibrate_towards`), render what the app plays at each, compute the pair's descriptor on the audio (`explorer.data.tags.steer_descriptors`) and take
the Spearman correlation between level and descriptor per start. A pair is *shown* in the app when its mean Spearman
reaches `BAR` from test and from prior starts (issue 12).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from scipy.stats import spearmanr

from explorer.data import tags as tagging
from explorer.models.steer_path import calibrate_towards

BAR = 0.9
LEVELS = (-2.0, 2.0)


def spearman_rows(levels: np.ndarray, desc: np.ndarray) -> list[float]:
    """Spearman of each row of `desc[S, L]` against `levels[L]` (NaN where undefined)."""
    out = []
    for row in desc:
        ok = np.isfinite(row)
        if ok.sum() >= 3 and np.ptp(row[ok]) > 0:
            out.append(float(spearmanr(levels[ok], row[ok]).statistic))
        else:
            out.append(float("nan"))
    return out


def starts(model, latent_test: torch.Tensor | None, n: int, seed: int) -> dict[str, np.ndarray]:
    """Parameter vectors `[n, P]` per kind of starting point (prior only without test codes)."""
    rng = np.random.default_rng(seed)
    out = {}
    if latent_test is not None:
        pick = rng.choice(len(latent_test), size=min(n, len(latent_test)), replace=False)
        out["test"] = model.decode(latent_test[pick]).numpy()
    if model.model.has_latent:
        z = torch.from_numpy(rng.standard_normal((n, model.latent_dim)).astype(np.float32))
        out["prior"] = model.decode(z).numpy()
    if model.model.has_latent and latent_test is not None:
        w = torch.from_numpy(rng.dirichlet(np.ones(3), size=n).astype(np.float32))
        trio = latent_test[torch.from_numpy(rng.integers(0, len(latent_test), size=(n, 3)))]
        out["mix"] = model.decode((w[:, :, None] * trio).sum(1)).numpy()
    return out


def steer_rendered(st, model, synth, v0: np.ndarray, k: int, targets: np.ndarray) -> np.ndarray:
    """From every start `v0[S, P]`, move pair k's slider to every level of `targets[L]` in turn, as the app
    does (`steer_path.calibrate_towards`: the path calibrated against the real synth as far as each move needs),
    render what the app plays at each and measure the pair's descriptor on it; -> descriptors `[S, L]`."""
    def render(p: np.ndarray) -> np.ndarray:
        return synth.render(model.full_params(p))

    played = []
    for x in v0:
        path = None
        for t in targets:
            path = calibrate_towards(st, x, k, float(t), render, path)
            played.append(path.pick(float(t))[0])
    return tagging.steer_descriptors(render(np.stack(played)))[:, k].reshape(len(v0), len(targets))


def evaluate_steering(model, latent_test: torch.Tensor, synth, n_starts: int, steps: int, seed: int) -> list[dict]:
    levels = np.linspace(*LEVELS, steps)
    st = model.steer
    kinds = starts(model, latent_test, n_starts, seed)
    pairs = []
    for k, (neg, pos, name) in enumerate(st.pairs):
        entry = {"pair": k, "negative": neg, "positive": pos, "descriptor": name,
                 "unit": tagging.UNITS.get(name, ""), "r2_test": st.r2_test[k] if k < len(st.r2_test) else None}
        for kind, v0 in kinds.items():
            desc = steer_rendered(st, model, synth, v0, k, levels)
            rho = np.array(spearman_rows(levels, desc))
            ok = rho[np.isfinite(rho)]
            lv = np.array([[st.level_of(k, d) if np.isfinite(d) else np.nan for d in row] for row in desc])
            span = lv[:, -1] - lv[:, 0]  # levels the played sound moves while the slider goes -2 -> +2
            entry[kind] = {"spearman_mean": float(ok.mean()) if len(ok) else None,
                           "span_mean": float(np.nanmean(span)) if np.isfinite(span).any() else None,
                           "spearman_min": float(ok.min()) if len(ok) else None,
                           "fraction_above_bar": float((ok >= BAR).mean()) if len(ok) else None,
                           "n_valid": len(ok), "per_start": [None if not np.isfinite(x) else x for x in rho],
                           "descriptor_values": desc.tolist()}
        means = [entry[kind]["spearman_mean"] if kind in entry else None for kind in ("test", "prior")]
        entry["shown"] = all(m is not None and m >= BAR for m in means)
        pairs.append(entry)
        scores = ", ".join(f"{kind} {entry[kind]['spearman_mean']:.3f}" if entry[kind]["spearman_mean"] is not None
                           else f"{kind} -" for kind in kinds)
        print(f"{neg}<->{pos} ({name}): {scores}" + (" shown" if entry["shown"] else ""), file=sys.stderr)
    return pairs
