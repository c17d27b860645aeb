"""A/B: the current sound beside what it reconstructs, with their spectral convergence.

A is the original: a dataset sound's own preset (its parameters in the dataset, rendered), a placed
preset as loaded, or an uploaded / recorded input as matched (loudness-normalised, at its own note). B is the model's
reconstruction, the current sound. Sounds made in the latent space (map points, slider moves,
neighbours, steps) have no original.
"""

from __future__ import annotations

import numpy as np

from explorer.app import plots
from explorer.app.engine import Engine, UserError
from explorer.app.state import current_model, played_elsewhere, to_int16
from explorer.data.features import log_mel, mel
from explorer.evaluate.metrics import spectral_convergence

NO_ORIGIN = ("{label} was made in the latent space (a map point, a slider move, a neighbour or a step): it "
             "has no original to compare with. Select a dataset dot, place a preset, or match an audio file.")


def original(engine: Engine, st: dict) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """-> (what A is, A's full plugin vector or None, A's audio when it is an input, else None)."""
    o = st.get("origin") or {}
    if o.get("kind") == "dataset":
        lmap = engine.entry(st["model"]).lmap
        if lmap is None or lmap.params is None:
            raise UserError("this map holds no original presets (exported before A/B existed): re-export it "
                            "with `python -m explorer.app.map_export export --checkpoint CKPT --data DIR`")
        i = int(o["index"])
        return (f"original preset {lmap.names[i]}", current_model(engine, st).full_params(lmap.params[i][None])[0],
                None)
    if o.get("kind") == "preset":
        return "the preset as loaded", np.asarray(o["full"], np.float32), None
    if o.get("kind") == "audio" and st.get("target") is not None:
        return "the input (as matched)", None, np.asarray(st["target"], np.float32)
    raise UserError(NO_ORIGIN.format(label=st["label"]))


def compare(engine: Engine, st: dict) -> dict:
    """A (original) and B (the model's sound) rendered side by side -> {"a", "b", "figure", "text", "sc"}.

    Presets are rendered at the user's note and velocity (both on the two synth workers at once); an
    input is compared with the current sound played at the input's own note, as matched."""
    what, full_a, audio_a = original(engine, st)
    note, vel = (st.get("note"), st.get("velocity")) if audio_a is None else (None, None)
    if audio_a is None:
        audio_a, audio_b = engine.synth.render(np.stack([full_a, st["full"]]), chunk=1, note=note, velocity=vel)
    else:
        audio_b = engine.synth.render_one(st["full"], note=st.get("input_note"))
    sc = float(spectral_convergence(mel(audio_a), mel(audio_b))[0])
    lms = log_mel(np.stack([audio_a, audio_b])).numpy()
    where = f" at note {note}, velocity {vel}" if note is not None and played_elsewhere(engine, st) else ""
    text = (f"**A**: {what} | **B**: the model's sound ({st['label']}){where} | SC(A, B) = {sc:.3f} "
            "(||B - A||_F / ||A||_F on linear mel magnitude; 0 = identical, 1.0 = as far as silence)")
    return {"a": (engine.sample_rate, to_int16(audio_a)), "b": (engine.sample_rate, to_int16(audio_b)),
            "figure": plots.mel_pair_figure(lms[0], lms[1], f"A: {what}", f"B: model (SC {sc:.3f})"),
            "text": text, "sc": sc}
