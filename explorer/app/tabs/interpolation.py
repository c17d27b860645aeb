"""Interpolation tab: end points A and B, the latent path between them, decoded and rendered."""

from __future__ import annotations

import numpy as np

from explorer.app import plots
from explorer.app.engine import MAX_STEPS, Engine, UserError
from explorer.app.state import current_model, overlay, pick, render_batch, set_current_z


def set_end(engine: Engine, st: dict, which: str) -> tuple[dict, str]:
    if which not in ("A", "B"):
        raise UserError("end point must be A or B")
    ends = dict(st["ends"])
    ends[which] = {"z": np.array(st["z"]), "label": st["label"]}
    st = dict(st, ends=ends)
    return st, ends_text(st)


def ends_text(st: dict) -> str:
    return " | ".join(f"**{k}**: {st['ends'][k]['label']}" if k in st["ends"] else f"**{k}**: (not set)"
                      for k in ("A", "B"))


def interpolate(engine: Engine, st: dict, steps: int) -> tuple[dict, dict]:
    """Linear path in latent space from A to B in `steps` points (ends included), decoded and rendered."""
    steps = int(steps)
    if not 2 <= steps <= MAX_STEPS:
        raise UserError(f"steps must be 2..{MAX_STEPS}")
    if "A" not in st["ends"] or "B" not in st["ends"]:
        raise UserError("set both end points first: select a sound, then 'Set A' / 'Set B'")
    za, zb = st["ends"]["A"]["z"], st["ends"]["B"]["z"]
    ts = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    items = render_batch(engine, st, (1 - ts) * za[None] + ts * zb[None])
    st = dict(st, steps=items)
    m = current_model(engine, st)
    v = np.stack([it["v"] for it in items])
    names = [engine.plugin_names[i] for i in m.param_indices]
    texts = [[t[i] for i in m.param_indices] for t in (engine.synth.texts(it["full"]) for it in items)]
    return st, {"strip": plots.mel_strip_figure([it["logmel"] for it in items], [f"s{i}" for i in range(steps)],
                                                f"A -> B in {steps} steps"),
                "trajectories": plots.trajectories_figure(v, names, texts),
                "choices": [f"s{i}" for i in range(steps)],
                "overlay": plots.overlay_json(overlay(engine, st)),
                "status": f"interpolated {st['ends']['A']['label']} -> {st['ends']['B']['label']} in {steps} steps"}


def step_to_current(engine: Engine, st: dict, step) -> dict:
    it = pick(st["steps"], step, "step")
    return set_current_z(engine, st, it["z"], f"interpolation step {step}")
