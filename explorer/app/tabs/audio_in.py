"""Audio-in tab: match an upload or a recording with the matching pipeline, list the ranked candidates,
refine with real renders (`explorer.evaluate.pipeline`, the same pipeline as `python -m explorer.match`)."""

from __future__ import annotations

import os

import numpy as np
import torch

from explorer.app import plots
from explorer.app.engine import Engine, UserError
from explorer.app.state import current_model, render_view, set_current_params, to_int16
from explorer.data import audio_input
from explorer.data.features import LOG_EPS, log_mel, mel
from explorer.evaluate.metrics import spectral_convergence
from explorer.evaluate.pipeline import FAST, Budget

CANDIDATE_COLUMNS = ["#", "kind", "from", "log-mel L1", "SC", "SC (loudness-normalised)"]


def pipeline(engine: Engine, st: dict):
    """The model's `MatchPipeline` (with the candidate index next to its checkpoint), built once per model."""
    e = engine.entry(st["model"])
    if getattr(e, "pipeline", None) is None:
        from explorer.evaluate import candidates
        from explorer.evaluate.pipeline import MatchPipeline

        e.pipeline = MatchPipeline(e.model, engine.synth, candidates.load(e.path))
    return e.pipeline


def _latent(m, full: np.ndarray, z, audio: np.ndarray) -> np.ndarray:
    """Where a candidate sits in the latent space: its index code, else the inverse flow, else its encoding."""
    if z is not None:
        return np.asarray(z, np.float32)
    try:
        return m.params_to_latent(torch.as_tensor(full[None, m.param_indices], dtype=torch.float32))[0].numpy()
    except ValueError:  # no invertible regressor
        return m.encode(log_mel(audio)).numpy()[0]


def _store(engine: Engine, st: dict, res) -> dict:
    """Keep the ranked candidates (playable, on the map) in the state."""
    m = current_model(engine, st)
    items = []
    for c in res.candidates:
        items.append({"kind": c.kind, "name": c.name, "full": c.full.astype(np.float32), "scores": c.scores,
                      "z": _latent(m, c.full, c.z, c.audio), "audio": c.audio, "logmel": log_mel(c.audio)[0].numpy()})
    return dict(st, candidates=items)


def candidate_rows(st: dict) -> list[list]:
    """The candidate table: rank, kind, source, log-mel L1, SC, loudness-normalised SC."""
    return [[f"c{i}", c["kind"], c["name"], round(c["scores"]["logmel_l1"], 3), round(c["scores"]["sc"], 3),
             round(c["scores"]["sc_ln"], 3) if np.isfinite(c["scores"]["sc_ln"]) else None]
            for i, c in enumerate(st.get("candidates") or [])]


def _make_current(engine: Engine, st: dict, k: int, label: str) -> dict:
    c = st["candidates"][k]
    m = current_model(engine, st)
    return set_current_params(engine, st, c["full"][m.param_indices], label, full=c["full"])


def audio_in(engine: Engine, st: dict, path: str, shift: bool = True, at_detected: bool = False
             ) -> tuple[dict, dict]:
    """Upload/recording -> conditioning -> the pipeline's candidates (no refinement: ~0.3 s) -> the best
    one becomes the current sound. `shift`: track the pitch (render at the input's note, encode it moved
    to note 60); `at_detected`: the main player plays the current sound at the input's note."""
    if not path:
        raise UserError("no audio: upload a file or record first. " + audio_input.LIMITS_TEXT)
    from explorer.data.conditioning import condition

    engine.ready_for_audio()
    pipe = pipeline(engine, st)
    name = os.path.basename(path)
    try:
        raw, sr = audio_input.read_audio(path)
        msgs: list[str] = []
        x = audio_input.resample(audio_input.fix_range(raw, name, msgs), sr, engine.sample_rate)
        cond = condition(x, engine.sample_rate, engine.n_samples, pipe.loudness_ref,
                         engine.synth.settings.note, bool(shift), name, msgs)
    except audio_input.AudioInputError as exc:
        raise UserError(str(exc)) from None
    res = pipe.match_audio(cond.audio, engine.sample_rate, FAST, conditioned=cond)
    st = _store(engine, dict(st, target=cond.audio, encoder_target=cond.encoder_audio, input_note=cond.note,
                             ratio=float(2.0 ** (cond.shift / 12.0)), at_detected=bool(at_detected),
                             cond_text=cond.describe(), cond_f0=cond.f0, messages=cond.messages), res)
    pitch = f"{cond.f0:.1f} Hz" if cond.f0 else "no pitch found"
    best = st["candidates"][0]
    st = _make_current(engine, st, 0, f"audio: {name} ({pitch}) -> {best['kind']}: {best['name']}")
    st = dict(st, audio_label=st["label"], origin={"kind": "audio"})  # A/B: the input beside the result
    return st, _compare(engine, st, render_view(engine, st))


def _compare(engine: Engine, st: dict, view: dict) -> dict:
    """Score the current sound against the target at the target's note; the input player, the comparison."""
    target, note = st["target"], int(st.get("input_note", engine.synth.settings.note))
    out = view["audio_raw"] if note == engine.synth.settings.note else engine.synth.render_one(st["full"], note)
    sc = float(spectral_convergence(mel(target), mel(out))[0])
    view["compare"] = plots.mel_pair_figure(log_mel(target)[0].numpy(), log_mel(out)[0].numpy(),
                                            f"input (note {note})", f"output at note {note} (SC {sc:.3f})")
    view["input_audio"] = (engine.sample_rate, to_int16(target))
    view["sc"] = sc
    if st.get("at_detected"):
        view["audio"] = (engine.sample_rate, to_int16(out))
    notes = "".join(f" Note: {m}." for m in st.get("messages") or [])
    view["sc_text"] = (f"{st.get('cond_text', '')}. SC = {sc:.3f} (||Y - X||_F / ||X||_F on linear mel "
                       f"magnitude; 1.0 = silence), {len(st.get('candidates') or [])} candidates ranked by "
                       f"log-mel L1 + SC.{notes}")
    view["candidates"] = candidate_rows(st)
    return view


def refine_current(engine: Engine, st: dict, budget: int, progress=None, stop=None, on_best=None
                   ) -> tuple[dict, dict]:
    """Re-run the pipeline on the last input with `budget` refine renders from its best candidate.

    `progress(fraction, desc=...)` (Gradio's), `stop()` -> True cancels (the candidates found so far are
    kept), `on_best(fraction done, text)` gets the best so far as the refinement goes."""
    if st.get("target") is None:
        raise UserError("refine needs a target: match an uploaded or recorded sound first")
    budget = int(budget)
    if not 10 <= budget <= 2000:
        raise UserError("refine budget must be 10..2000 renders")
    pipe = pipeline(engine, st)
    target = torch.log(mel(st["target"])[0] + LOG_EPS)
    enc = torch.log(mel(st["encoder_target"])[0] + LOG_EPS)

    def cb(stage, done, total, best):
        text = (f"refine: {done}/{total} renders ({stage}); best so far: {best.kind} {best.name}, log-mel L1 "
                f"{best.scores['logmel_l1']:.3f}, SC {best.scores['sc']:.3f}")
        if progress is not None:
            progress(min(1.0, done / max(1, total)), desc=text)
        if on_best is not None:
            on_best(min(1.0, done / max(1, total)), text)
        return not (stop is not None and stop())

    res = pipe.match_target(target, enc, st["input_note"], Budget(renders=budget, seconds=None), cb)
    h0 = st["candidates"][0]["scores"] if st.get("candidates") else None
    st = _store(engine, st, res)
    base = st.get("audio_label", st["label"]).split(" [refined")[0]
    tag = f" [refined {budget}{', cancelled' if res.cancelled else ''}]"
    st = dict(_make_current(engine, st, 0, base + tag), origin={"kind": "audio"})
    view = _compare(engine, st, render_view(engine, st))
    b = st["candidates"][0]["scores"]
    before = f"log-mel L1 {h0['logmel_l1']:.3f} -> {b['logmel_l1']:.3f}, SC {h0['sc']:.3f} -> {b['sc']:.3f}; " if h0 else ""
    view["sc_text"] = (f"{'cancelled after' if res.cancelled else 'refined with'} {budget} renders "
                       f"({res.renders} in all, {res.seconds:.1f} s): {before}" + view["sc_text"])
    return st, view


def play_candidate(engine: Engine, st: dict, k) -> dict:
    from explorer.app.state import play_item

    return play_item(engine, st.get("candidates") or [], k, "candidate")


def candidate_to_current(engine: Engine, st: dict, k) -> dict:
    from explorer.app.state import pick

    c = pick(st.get("candidates") or [], k, "candidate")
    i = next(j for j, x in enumerate(st["candidates"]) if x is c)
    return _make_current(engine, st, i, f"candidate c{i}: {c['kind']}: {c['name']}")
