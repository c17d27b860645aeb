"""Audio-in tab: match an upload or a recording, compare it with the result, refine with CMA-ES."""

from __future__ import annotations

import os

import numpy as np

from explorer.app import plots
from explorer.app.engine import Engine, UserError
from explorer.app.state import (
    current_model,
    render_view,
    set_current_params,
    set_current_z,
    to_int16,
)
from explorer.data import audio_input
from explorer.data.features import fit_length, log_mel, mel
from explorer.evaluate.metrics import spectral_convergence


def audio_in(engine: Engine, st: dict, path: str, shift: bool = True, at_detected: bool = False) -> tuple[dict, dict]:
    """Upload/recording -> (pitch-shifted) target -> encode -> params -> render; compare with SC."""
    if not path:
        raise UserError("no audio: upload a file or record first. " + audio_input.LIMITS_TEXT)
    try:
        prep = audio_input.prepare(path, engine.sample_rate, engine.n_samples / engine.sample_rate,
                                engine.synth.settings.note, bool(shift))
    except audio_input.AudioInputError as exc:
        raise UserError(str(exc)) from None
    m = current_model(engine, st)
    target_lm = log_mel(prep.audio)
    name = os.path.basename(path)
    pitch = f"{prep.f0:.1f} Hz" if prep.f0 else "no pitch found"
    label = f"audio: {name} ({pitch})"
    if m.model.has_latent:
        z = m.encode(target_lm).numpy()[0]
        st = set_current_z(engine, st, z, label)
    else:
        st = set_current_params(engine, st, m.infer(target_lm).numpy()[0], label)
    st = dict(st, target=prep.audio, ratio=prep.ratio if prep.shifted else 1.0, at_detected=bool(at_detected),
              origin={"kind": "audio"})
    view = render_view(engine, st)
    return st, _compare(engine, st, view, prep, at_detected)


def _compare(engine: Engine, st: dict, view: dict, prep=None, at_detected: bool = False) -> dict:
    target = st["target"]
    sc = float(spectral_convergence(mel(target), mel(view["audio_raw"]))[0])
    lm_in = log_mel(target)[0].numpy()
    view["compare"] = plots.mel_pair_figure(lm_in, view["logmel"], "input (at note 60)" if st["ratio"] != 1
                                            else "input", f"output (SC {sc:.3f})")
    view["input_audio"] = (engine.sample_rate, to_int16(target))
    view["sc"] = sc
    if at_detected and st["ratio"] != 1.0:  # play the result back at the pitch of the upload
        back = fit_length(audio_input.pitch_shift(view["audio_raw"], 1.0 / st["ratio"]), engine.n_samples)
        view["audio"] = (engine.sample_rate, to_int16(back))
    details = ""
    if prep is not None:
        f0 = f"detected f0 {prep.f0:.1f} Hz" if prep.f0 else "no pitch detected (not shifted)"
        details = f"{f0}; shifted x{prep.ratio:.3f}; " if prep.shifted else f"{f0}; "
    view["sc_text"] = (f"{details}SC = {sc:.3f} (||Y - X||_F / ||X||_F on linear mel magnitude; "
                       f"1.0 = silence)")
    return view


def refine_current(engine: Engine, st: dict, budget: int, progress=None) -> tuple[dict, dict]:
    """CMA-ES refinement of the current parameters against the last audio input (explorer.evaluate.refine)."""
    if st.get("target") is None:
        raise UserError("refine needs a target: match an uploaded or recorded sound first")
    budget = int(budget)
    if not 10 <= budget <= 2000:
        raise UserError("refine budget must be 10..2000 renders")
    from explorer.evaluate.refine import refine

    m = current_model(engine, st)
    cb = None
    if progress is not None:
        def cb(done, total, best):
            progress(done / total, desc=f"refine: {done}/{total} renders, objective {best:.3f}")
    v_best, history = refine(engine.synth, st["target"], np.asarray(st["full"]), m.param_indices,
                             budget=budget, progress_callback=cb)
    v = np.asarray(v_best)[m.param_indices]
    st = set_current_params(engine, st, v, st["label"].split(" [refined")[0] + f" [refined {budget}]",
                            full=np.asarray(v_best, np.float32), origin=st.get("origin"))
    view = render_view(engine, st)
    view = _compare(engine, st, view, None, st.get("at_detected", False))
    h0, h1 = history[0], history[-1]
    view["sc_text"] = (f"refined with {budget} renders: log-mel L1 {h0['logmel_l1']:.3f} -> "
                       f"{h1['logmel_l1']:.3f}, SC {h0['sc']:.3f} -> {h1['sc']:.3f}; " + view["sc_text"])
    return st, view
