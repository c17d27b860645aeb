"""Per-user state and the current point: a plain dict kept in `gr.State`, no Gradio in here.

`new_state` starts at the latent origin; `set_current_z` / `set_current_params` move the current point.
A "view" (`render_view`) is everything the main panel shows for the current point: audio, mel spectrogram,
parameter plot, map overlay (as JSON for the browser script), an info line, and the slider values.
Also the helpers every tab shares (rendering a batch of codes, picking one of them) and the model choice.
"""

from __future__ import annotations

import re
import time

import numpy as np
import torch

from explorer.app import plots
from explorer.app.engine import (
    MAX_SEMANTIC,
    SEMANTIC_RANGE,
    SLIDER_DECIMALS,
    Engine,
    UserError,
)
from explorer.app.session_order import new_session_key
from explorer.data import tags as tagging
from explorer.data.features import LOG_EPS, log_mel, mel


def new_state(engine: Engine, model_name: str | None = None) -> dict:
    """A fresh per-user state at the latent origin of the chosen model."""
    e = engine.entry(model_name)
    st = {"model": e.name, "colour": "category", "neighbours": [], "steps": [], "ends": {}, "presets": {},
          "target": None, "ratio": 1.0, "note": engine.synth.settings.note,
          "velocity": engine.synth.settings.velocity, "session": new_session_key()}
    return set_current_z(engine, st, np.zeros(e.model.latent_dim, np.float32), "latent origin (z = 0)")


def current_model(engine: Engine, st: dict):
    return engine.entry(st["model"]).model


def set_current_z(engine: Engine, st: dict, z: np.ndarray, label: str, xy=None, v=None,
                  origin: dict | None = None) -> dict:
    """Make latent code `z[D]` the current point: decode it to parameters. `xy`: where it was clicked on
    the map (the marker goes there); otherwise the marker goes where the map projects `z`. `origin`: what
    the sound reconstructs, for A/B (`{"kind": "dataset", "index": i}`, `{"kind": "preset", "full": v}`,
    `{"kind": "audio"}`); None for a sound made in the latent space."""
    m = current_model(engine, st)
    z = np.asarray(z, np.float32).reshape(-1)
    if z.shape[0] != m.latent_dim or not np.all(np.isfinite(z)):
        raise UserError(f"latent code must be {m.latent_dim} finite numbers")
    t = time.perf_counter()
    if v is None or len(v) != len(m.param_names):
        v = m.decode(torch.as_tensor(z[None]))[0].numpy()
    v = np.asarray(v, np.float32)
    st = dict(st, z=z, v=v, full=m.full_params(v[None])[0], label=label, xy=None if xy is None else
              [float(xy[0]), float(xy[1])], origin=origin, _decode_s=time.perf_counter() - t)
    return st


def set_current_params(engine: Engine, st: dict, v: np.ndarray, label: str, full: np.ndarray | None = None,
                       origin: dict | None = None) -> dict:
    """Make parameters `v[P]` the current point; its latent code comes from the inverse flow (or encoding)."""
    m = current_model(engine, st)
    v = np.clip(np.asarray(v, np.float32).reshape(-1), 0.0, 1.0)
    t = time.perf_counter()
    try:
        z = m.params_to_latent(torch.as_tensor(v[None]))[0].numpy()
    except ValueError:  # no invertible regressor: place it by encoding its render
        audio = engine.synth.render_one(m.full_params(v[None])[0])
        z = m.encode(log_mel(audio)).numpy()[0]
    full = m.full_params(v[None])[0] if full is None else np.asarray(full, np.float32)
    return dict(st, z=z.astype(np.float32), v=v, full=full, label=label, xy=None, origin=origin,
                _decode_s=time.perf_counter() - t)


def map_xy(engine: Engine, st: dict, z: np.ndarray) -> np.ndarray | None:
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        return None
    return lmap.project(np.atleast_2d(z))


def overlay(engine: Engine, st: dict) -> dict:
    """The map's markers: the current sound, its neighbours, the path, match candidates and the A / B ends
    (all projected in one pass over the map's codes)."""
    ov = plots.empty_overlay()
    groups = [("current", [st["z"]]), ("neighbours", [n["z"] for n in st["neighbours"]]),
              ("path", [s["z"] for s in st["steps"]]), ("candidates", [c["z"] for c in st.get("candidates") or []]),
              ("ends", [st["ends"][k]["z"] for k in ("A", "B") if k in st["ends"]])]
    xy = map_xy(engine, st, np.stack([z for _, zs in groups for z in zs]))
    if xy is None:
        return ov
    xy, at = xy.tolist(), 0
    for name, zs in groups:
        if zs:
            ov[name] = xy[at: at + len(zs)]
        at += len(zs)
    ov["current"] = st["xy"] if st.get("xy") is not None else ov["current"][0]
    return ov


def semantic_values(engine: Engine, st: dict) -> list[float]:
    """The semantic sliders: levels of the steering macros for the current parameters (a model with a
    steer.pt), else the values of the Flow_dis semantic latent dims."""
    m = current_model(engine, st)
    if m.steer is not None:
        lv = m.steer.levels(st["v"])
        for k in m.steer.shown:  # a sound on a calibrated path: its measured level, where its slider put it
            hit = engine.steer_paths.find(st["model"], k, st["v"])
            if hit is not None:
                lv[k] = hit[1]
        lv = np.clip(lv, -SEMANTIC_RANGE, SEMANTIC_RANGE)  # the sliders' range
        return [round(float(lv[k]), SLIDER_DECIMALS) for k in m.steer.shown][:MAX_SEMANTIC]
    z = np.clip(np.asarray(st["z"], np.float64), -SEMANTIC_RANGE, SEMANTIC_RANGE)
    return [round(float(z[d]), SLIDER_DECIMALS) for d, _, _ in m.semantic][:MAX_SEMANTIC]


def measured_descriptors(m, audio: np.ndarray, power: np.ndarray | None = None) -> list[str]:
    """What each shown steering pair's descriptor measures on the rendered sound, with its unit (`power`: its
    linear mel `[1, 64, 80]`, when already computed)."""
    if m.steer is None:
        return []
    d = tagging.steer_descriptors(audio[None], power=power)[0]
    out = []
    for k in m.steer.shown[:MAX_SEMANTIC]:
        name = m.steer.pairs[k][2]
        out.append(f"{name} {d[k]:.3g} {tagging.UNITS.get(name, '')}".rstrip() if np.isfinite(d[k]) else f"{name}: silent")
    return out


def to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * 32767).astype(np.int16)


def render_view(engine: Engine, st: dict, title: str | None = None) -> dict:
    """Render the current point with the real synth and build everything the main panel shows."""
    times = {"decode": st.get("_decode_s", 0.0)}
    t = time.perf_counter()
    played = None
    if played_elsewhere(engine, st):  # heard at the user's note / velocity; analysed at the models' note
        played = engine.pool.submit(engine.synth.render_one, st["full"], st["note"], st["velocity"])
    audio, texts = engine.synth.render_with_texts(st["full"])  # the texts from the same render child
    heard = audio if played is None else played.result()
    times["render"] = time.perf_counter() - t
    t = time.perf_counter()
    power = mel(audio)  # [1, 64, 80]: the log-mel and the shown descriptors from one spectrogram
    lm = torch.log(power + LOG_EPS)[0].numpy()
    times["features"] = time.perf_counter() - t
    t = time.perf_counter()
    m = current_model(engine, st)
    ov = overlay(engine, st)
    view = {
        "audio": (engine.sample_rate, to_int16(heard)),
        "mel": plots.mel_figure(lm, title or f"log-mel: {st['label']}"),
        "params": plots.params_figure(st["full"], engine.plugin_names, texts, set(m.param_indices),
                                      "parameters (blue: the model's set; hover for real units)"),
        "overlay": plots.overlay_json(ov),
        "info": info_text(engine, st, ov),
        "latent": [round(float(x), SLIDER_DECIMALS) for x in st["z"]],
        "semantic": semantic_values(engine, st),
        "semantic_info": measured_descriptors(m, audio, power.numpy()),
        "audio_raw": audio,
        "logmel": lm,
        "texts": texts,
    }
    times["figures"] = time.perf_counter() - t
    view["timings"] = times
    return view


def played_elsewhere(engine: Engine, st: dict) -> bool:
    """True when the user listens at another MIDI note or velocity than the one the models use."""
    s = engine.synth.settings
    return (st.get("note", s.note), st.get("velocity", s.velocity)) != (s.note, s.velocity)


def info_text(engine: Engine, st: dict, ov: dict | None = None) -> str:
    ov = ov or overlay(engine, st)
    where = ""
    if ov.get("current") is not None:
        where = f" | map ({ov['current'][0]:.2f}, {ov['current'][1]:.2f})"
    note = f" | note {st['note']}, velocity {st['velocity']}" if played_elsewhere(engine, st) else ""
    return f"**{st['label']}** | model `{st['model']}`{where}{note}"


def summary(engine: Engine, st: dict) -> dict:
    """JSON-able description of the current point (for API clients)."""
    m = current_model(engine, st)
    texts = engine.synth.texts(st["full"])
    ov = overlay(engine, st)
    return {"model": st["model"], "label": st["label"], "z": [float(x) for x in st["z"]],
            "params": {n: float(x) for n, x in zip(m.param_names, st["v"])},
            "texts": dict(zip(engine.plugin_names, texts)), "xy": ov["current"],
            "semantic": dict(zip(semantic_names(m), semantic_values(engine, st), strict=True))}


def semantic_names(m) -> list[str]:
    """The pairs the semantic sliders show: the shown steering pairs (a steer.pt), else the Flow_dis dims."""
    if m.steer is not None:
        return [f"{m.steer.pairs[k][0]} <-> {m.steer.pairs[k][1]}" for k in m.steer.shown][:MAX_SEMANTIC]
    return [f"{neg} <-> {pos}" for _, neg, pos in m.semantic][:MAX_SEMANTIC]


def render_batch(engine: Engine, st: dict, zs: np.ndarray) -> list[dict]:
    m = current_model(engine, st)
    v = m.decode(torch.as_tensor(np.asarray(zs, np.float32))).numpy()
    full = m.full_params(v)
    audio = engine.synth.render(full)
    lms = log_mel(audio).numpy()
    return [{"z": zs[i], "v": v[i], "full": full[i], "audio": audio[i], "logmel": lms[i]} for i in range(len(zs))]


def pick(items: list[dict], k, what: str) -> dict:
    if isinstance(k, str):
        k = int(re.sub(r"\D", "", k) or -1)
    k = int(k)
    if not 0 <= k < len(items):
        raise UserError(f"no {what} {k}: there are {len(items)}")
    return items[k]


def play_item(engine: Engine, items: list[dict], k, what: str) -> dict:
    it = pick(items, k, what)
    return {"audio": (engine.sample_rate, to_int16(it["audio"])),
            "mel": plots.mel_figure(it["logmel"], f"log-mel: {what} {k}")}


def choose_model(engine: Engine, st: dict, name: str) -> dict:
    e = engine.entry(name)
    # what the user keeps across models: history, favourites (full plugin vectors), the note they play at
    kept = {k: st[k] for k in ("history", "cursor", "favourites", "note", "velocity") if k in st}
    return dict(new_state(engine, e.name), colour="category", **kept)


def status_line(engine: Engine, st: dict) -> str:
    e = engine.entry(st["model"])
    m = e.model
    n = len(e.lmap) if e.lmap is not None else 0
    msg = (f"model {e.name}: {m.name}, {len(m.param_names)} parameters, {m.latent_dim} latent dims, "
           f"device {getattr(m, 'device', 'cpu')}; map: {n} sounds")
    if e.map_error:
        msg += f" -- {e.map_error}"
    return msg
