"""Neighbourhood tab: sample codes around the current point, decode and render them."""

from __future__ import annotations

import numpy as np

from explorer.app import plots
from explorer.app.engine import MAX_NEIGHBOURS, Engine, UserError
from explorer.app.state import overlay, pick, render_batch, set_current_z


def neighbourhood(engine: Engine, st: dict, sigma: float, count: int, seed: int | None = None) -> tuple[dict, dict]:
    """Sample `count` codes z + N(0, sigma^2) around the current point, decode and render them."""
    count, sigma = int(count), float(sigma)
    if not 1 <= count <= MAX_NEIGHBOURS:
        raise UserError(f"neighbour count must be 1..{MAX_NEIGHBOURS}")
    if not 0 < sigma <= 5:
        raise UserError("sigma must be in (0, 5]")
    rng = np.random.default_rng(None if seed is None or seed < 0 else int(seed))
    zs = st["z"][None] + sigma * rng.standard_normal((count, len(st["z"]))).astype(np.float32)
    items = render_batch(engine, st, zs)
    st = dict(st, neighbours=items)
    fig = plots.mel_strip_figure([it["logmel"] for it in items], [f"n{i}" for i in range(count)],
                                 f"{count} neighbours, sigma {sigma:g}")
    return st, {"strip": fig, "choices": [f"n{i}" for i in range(count)],
                "overlay": plots.overlay_json(overlay(engine, st)),
                "status": f"{count} neighbours sampled around {st['label']} (sigma {sigma:g})"}


def neighbour_to_current(engine: Engine, st: dict, neighbour) -> dict:
    it = pick(st["neighbours"], neighbour, "neighbour")
    return set_current_z(engine, st, it["z"], f"neighbour {neighbour} of {st['label']}")
