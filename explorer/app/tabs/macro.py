"""Macro-controls tab: the latent and the semantic sliders."""

from __future__ import annotations

import numpy as np

from explorer.app.engine import (
    MAX_DIMS,
    MAX_SEMANTIC,
    SLIDER_DECIMALS,
    Engine,
    UserError,
)
from explorer.app.state import (
    current_model,
    semantic_values,
    set_current_params,
    set_current_z,
)


def set_latent(engine: Engine, st: dict, values: list[float]) -> dict:
    d = current_model(engine, st).latent_dim
    values = [float(v) for v in values]
    if len(values) < d:
        raise UserError(f"need {d} latent values, got {len(values)}")
    z = _changed(st["z"], np.asarray(values[:d], np.float64))
    return set_current_z(engine, st, z, _moved_label(st))


def set_dim(engine: Engine, st: dict, dim: int, value: float) -> dict:
    z = np.array(st["z"], np.float32)
    if not 0 <= int(dim) < len(z):
        raise UserError(f"latent dim must be in 0..{len(z) - 1}")
    z[int(dim)] = float(value)
    return set_current_z(engine, st, z, _moved_label(st))


def set_semantic(engine: Engine, st: dict, values: list[float]) -> dict:
    """Semantic sliders. With steering macros (a steer.pt): a moved slider plays the point of its pair's
    calibrated path (`explorer.models.steer_path.calibrate_towards`: rendered and measured as far as a move
    needs, then cached in `engine.steer_paths`) whose measured level is nearest the slider's; else the Flow_dis
    semantic dims are set."""
    m = current_model(engine, st)
    if m.steer is not None:
        shown = m.steer.shown[:MAX_SEMANTIC]
        if len(values) < len(shown):
            raise UserError(f"need {len(shown)} semantic values, got {len(values)}")
        now = semantic_values(engine, st)
        v = np.asarray(st["v"], np.float32)
        for i, k in enumerate(shown):
            if abs(float(values[i]) - now[i]) > 0.5 * 10.0**-SLIDER_DECIMALS:
                v = engine.steer_paths.move(st["model"], m.steer, k, v, float(values[i]),
                                            lambda p: engine.synth.render(m.full_params(p)))
        return set_current_params(engine, st, v, _moved_label(st))
    dims = [d for d, _, _ in m.semantic][: len(values)]
    new = np.asarray(st["z"], np.float64).copy()
    new[dims] = np.asarray(values[: len(dims)], np.float64)
    return set_current_z(engine, st, _changed(st["z"], new), _moved_label(st))


def _changed(z: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Sliders show values rounded to SLIDER_DECIMALS: take only the dims whose slider really moved, so
    moving one slider does not snap every other dim to its rounded display."""
    z = np.asarray(z, np.float32).copy()
    moved = np.abs(shown - np.round(z.astype(np.float64), SLIDER_DECIMALS)) > 0.5 * 10.0**-SLIDER_DECIMALS
    z[moved] = shown[moved]
    return z


def _moved_label(st: dict) -> str:
    base = st["label"].split(" (moved)")[0]
    return base + " (moved)"


def slider_labels(engine: Engine, name: str) -> tuple[list[str], list[str]]:
    """Labels of the latent sliders (semantic dims named by their pair) and of the semantic sliders."""
    m = engine.entry(name).model
    sem = {d: f"{neg} <-> {pos}" for d, neg, pos in m.semantic}
    latent = [f"z{i}" + (f" ({sem[i]})" if i in sem else "") for i in range(m.latent_dim)]
    if m.steer is not None:
        semantic = [f"{m.steer.pairs[k][0].capitalize()} <-> {m.steer.pairs[k][1].capitalize()}"
                    for k in m.steer.shown]
    else:
        semantic = [f"{neg.capitalize()} <-> {pos.capitalize()} (z{d})" for d, neg, pos in m.semantic]
    return latent[:MAX_DIMS], semantic[:MAX_SEMANTIC]
