"""Live controls: slider previews while dragging, and auditioning the current sound at any MIDI note.

`preview` answers a slider's every move during a drag without committing it: the star, the log-mel and the
parameter plot follow, and the synth is left alone (the log-mel is the auto-encoder's own reconstruction
of the code, `LoadedModel.reconstruct`) unless the user asks to render while dragging. The release commits
the move (`explorer.app.tabs.macro`) and renders it. `audition` renders the current sound at another note
and velocity; the models, the log-mel and every comparison keep the synth's note (60).
"""

from __future__ import annotations

import json
import time

import numpy as np

from explorer.app import plots
from explorer.app.engine import Engine, UserError
from explorer.app.state import current_model, info_text, overlay, render_view, to_int16
from explorer.app.tabs.macro import set_latent, set_semantic

NOTE_RANGE = (24, 108)  # C1..C8: what the on-screen keyboard and the note slider offer
NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def note_name(note: int) -> str:
    return f"{NOTE_NAMES[note % 12]}{note // 12 - 1}"


def preview(engine: Engine, st: dict, kind: str, values: list[float], render: bool = False) -> dict | None:
    """A slider move during a drag -> what the panel shows for the moved code, the state left as it is.

    `kind`: "latent" or "semantic" (which slider group moved; `values` as the group's sliders show them).
    -> {"drag": JSON the page script applies to the plots already drawn (`Plotly.update` of the log-mel's
    z, the parameter bars, the star: far cheaper in the browser than new figures), "info", "audio" (None
    unless `render`), "timings"}; None when the sliders show the current code already (the drag's release
    has been committed since)."""
    t0 = time.perf_counter()
    if kind == "latent":
        moved = set_latent(engine, st, values)
    elif kind == "semantic":
        moved = set_semantic(engine, st, values)  # renders only the first time a path is needed
    else:
        raise UserError(f"unknown slider group {kind!r} (latent or semantic)")
    if np.array_equal(moved["z"], np.asarray(st["z"], np.float32)):
        return None
    moved = dict(moved, label=moved["label"].replace(" (moved)", " (dragging)"))
    audio = None
    if render:  # the real synth: its log-mel, real units, and the audio
        view = render_view(engine, moved)
        lm, texts, audio = view["logmel"], view["texts"], view["audio"]
        title = f"log-mel: {moved['label']} (rendered while dragging)"
    else:  # the auto-encoder's own log-mel of the code: no render
        lm = current_model(engine, moved).reconstruct(moved["z"][None])[0].numpy()
        texts = ["(release for real units)"] * len(engine.plugin_names)
        title = f"model's log-mel (drag preview; release renders): {moved['label']}"
    ov = overlay(engine, moved)
    drag = {"mel": np.round(np.asarray(lm, np.float64), 1).tolist(),
            "zmax": max(2.0, float(np.max(lm))), "title": title,
            "params": np.round(np.asarray(moved["full"], np.float64), 4).tolist(), "texts": texts,
            "overlay": json.loads(plots.overlay_json(ov))}
    return {"drag": json.dumps(drag, separators=(",", ":")), "info": info_text(engine, moved, ov), "audio": audio,
            "z": moved["z"], "timings": {"total": time.perf_counter() - t0}}


def check_note(note, velocity) -> tuple[int, int]:
    try:
        n, v = round(float(note)), round(float(velocity))
    except (TypeError, ValueError):
        raise UserError(f"note and velocity must be numbers (got {note!r}, {velocity!r})") from None
    lo, hi = NOTE_RANGE
    if not lo <= n <= hi:
        raise UserError(f"note must be a MIDI note {lo}..{hi} ({note_name(lo)}..{note_name(hi)}), got {n}")
    if not 1 <= v <= 127:
        raise UserError(f"velocity must be 1..127, got {v}")
    return n, v


def audition(engine: Engine, st: dict, note, velocity) -> tuple[dict, dict]:
    """Play the current sound at MIDI `note`, `velocity` (and keep them for the next sounds) ->
    (state, {"audio", "info", "status", "seconds"}). One render: the models' view is unchanged."""
    t = time.perf_counter()
    n, v = check_note(note, velocity)
    audio = engine.synth.render_one(st["full"], n, v)
    st = dict(st, note=n, velocity=v)
    return st, {"audio": (engine.sample_rate, to_int16(audio)), "info": info_text(engine, st),
                "status": f"{st['label']} at note {n} ({note_name(n)}), velocity {v}",
                "seconds": time.perf_counter() - t}
