"""The app's actions: plain functions of (engine, state, inputs) -> (state, outputs), no Gradio in here.

`Engine` holds what every user shares (the synth host, the loaded models and their latent maps); the
per-user `state` is a plain dict kept in `gr.State` (see `new_state`). `app.py` wires these functions to
components; tests call them directly.

A "view" (`render_view`) is everything the main panel shows for the current point: audio, mel spectrogram,
parameter plot, map overlay (as JSON for the browser script), an info line, and the slider values.
"""

from __future__ import annotations

import glob
import json
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.app import plots
from explorer.app.latent_map import LatentMap, is_stale, load_map
from explorer.data import audio_input as audio_io
from explorer.data.features import log_mel, mel

MAX_DIMS = 32  # latent sliders built in the UI (models have 16 or 30 dims)
MAX_SEMANTIC = 8  # semantic sliders built in the UI
SLIDER_RANGE = 4.0
SLIDER_DECIMALS = 2  # the sliders' step is 0.01
MAX_NEIGHBOURS = 24
MAX_STEPS = 16
DEFAULT_CHECKPOINT = "checkpoints/flow_dis_16/model.pt"


class UserError(ValueError):
    """A problem with the user's input: shown as is, never a crash."""


def find_checkpoints(root: str = "checkpoints") -> dict[str, str]:
    """{name: path} of every `root/*/model.pt` (name = its directory), sorted."""
    out = {}
    for path in sorted(glob.glob(os.path.join(root, "*", "model.pt"))):
        out[os.path.basename(os.path.dirname(path))] = path
    return out


@dataclass
class ModelEntry:
    name: str
    path: str
    model: object = None  # explorer.models.checkpoint.LoadedModel
    lmap: LatentMap | None = None
    map_error: str | None = None
    base_figures: dict = field(default_factory=dict)  # colour -> map figure without overlay


class Engine:
    """Shared resources: synth host, models (loaded once, on first use), latent maps, preset mapping."""

    def __init__(self, checkpoints: dict[str, str], default: str | None = None, synth=None,
                 synth_workers: int = 2, device: str | None = None):
        if not checkpoints:
            raise UserError("no checkpoints given")
        self.checkpoints = dict(checkpoints)
        self.default = default if default in self.checkpoints else next(iter(self.checkpoints))
        self.device = device
        if synth is None:
            from explorer.synth.host import Synth

            synth = Synth(workers=synth_workers)
        self.synth = synth
        self.sample_rate = synth.settings.sample_rate
        self.n_samples = synth.settings.n_samples
        self.param_spec = synth.params
        self.plugin_names = [p.name for p in self.param_spec]
        self._entries: dict[str, ModelEntry] = {}
        self._lock = threading.Lock()
        self._pmap = None
        self.tmpdir = tempfile.mkdtemp(prefix="flowsynth-app-")
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="engine")

    # -- resources ---------------------------------------------------------------------------
    def entry(self, name: str | None = None) -> ModelEntry:
        name = name or self.default
        if name not in self.checkpoints:
            raise UserError(f"unknown model {name!r}; available: {', '.join(self.checkpoints)}")
        with self._lock:
            if name not in self._entries:
                from explorer.models.checkpoint import load_model

                path = self.checkpoints[name]
                model = load_model(path, device=self.device)
                if not getattr(model.model, "has_latent", True):
                    raise UserError(f"model {name!r} ({model.name}) has no latent space to explore; "
                                    "choose an auto-encoder model (e.g. flow_dis, flow_reg, vae)")
                e = ModelEntry(name, path, model)
                try:
                    e.lmap = load_map(path)
                    if e.lmap.latent_dim != e.model.latent_dim:
                        raise ValueError(f"map has {e.lmap.latent_dim} dims, model {e.model.latent_dim}")
                    if is_stale(e.lmap, path):  # still shown, but say so, and decode every click
                        e.lmap.v = None
                        e.map_error = (f"the latent map next to {path} was exported for another model file; "
                                       f"re-run `python -m explorer.latent_map export --checkpoint {path} "
                                       "--data DATASET_DIR`")
                except (FileNotFoundError, ValueError, KeyError) as exc:
                    e.lmap, e.map_error = None, str(exc)
                self._entries[name] = e
            return self._entries[name]

    @property
    def pmap(self):
        if self._pmap is None:
            from explorer.synth.presets import ParamMap

            self._pmap = ParamMap.from_synth(self.synth)
        return self._pmap

    def warm(self, name: str | None = None) -> dict:
        """Load the model and touch every stage once so the first click is as fast as the rest."""
        t = time.perf_counter()
        st = new_state(self, name)
        render_view(self, st)
        _ = self.pmap
        return {"seconds": time.perf_counter() - t}

    def map_figure(self, name: str, colour: str, overlay: dict) -> dict:
        e = self.entry(name)
        if colour not in e.base_figures:
            e.base_figures[colour] = plots.map_figure(e.lmap, colour, None)
        base = e.base_figures[colour]
        if not base["data"]:
            return base
        kind = base["data"][-1]["type"]  # the overlay is drawn like the dots (SVG or WebGL)
        data = base["data"][: -len(plots.OVERLAY_UIDS)] + plots.overlay_traces(overlay, kind)
        return {"data": data, "layout": base["layout"]}


# -- state --------------------------------------------------------------------------------------

def new_state(engine: Engine, model_name: str | None = None) -> dict:
    """A fresh per-user state at the latent origin of the chosen model."""
    e = engine.entry(model_name)
    st = {"model": e.name, "colour": "category", "neighbours": [], "steps": [], "ends": {}, "presets": {},
          "target": None, "ratio": 1.0}
    return set_current_z(engine, st, np.zeros(e.model.latent_dim, np.float32), "latent origin (z = 0)")


def _model(engine: Engine, st: dict):
    return engine.entry(st["model"]).model


def set_current_z(engine: Engine, st: dict, z: np.ndarray, label: str, xy=None, v=None) -> dict:
    """Make latent code `z[D]` the current point: decode it to parameters. `xy`: where it was clicked on
    the map (the marker goes there); otherwise the marker goes where the map projects `z`."""
    m = _model(engine, st)
    z = np.asarray(z, np.float32).reshape(-1)
    if z.shape[0] != m.latent_dim or not np.all(np.isfinite(z)):
        raise UserError(f"latent code must be {m.latent_dim} finite numbers")
    t = time.perf_counter()
    if v is None or len(v) != len(m.param_names):
        v = m.decode(torch.as_tensor(z[None]))[0].numpy()
    v = np.asarray(v, np.float32)
    st = dict(st, z=z, v=v, full=m.full_params(v[None])[0], label=label, xy=None if xy is None else
              [float(xy[0]), float(xy[1])], _decode_s=time.perf_counter() - t)
    return st


def set_current_params(engine: Engine, st: dict, v: np.ndarray, label: str, full: np.ndarray | None = None) -> dict:
    """Make parameters `v[P]` the current point; its latent code comes from the inverse flow (or encoding)."""
    m = _model(engine, st)
    v = np.clip(np.asarray(v, np.float32).reshape(-1), 0.0, 1.0)
    t = time.perf_counter()
    try:
        z = m.params_to_latent(torch.as_tensor(v[None]))[0].numpy()
    except ValueError:  # no invertible regressor: place it by encoding its render
        audio = engine.synth.render_one(m.full_params(v[None])[0])
        z = m.encode(log_mel(audio)).numpy()[0]
    full = m.full_params(v[None])[0] if full is None else np.asarray(full, np.float32)
    return dict(st, z=z.astype(np.float32), v=v, full=full, label=label, xy=None,
                _decode_s=time.perf_counter() - t)


def map_xy(engine: Engine, st: dict, z: np.ndarray) -> np.ndarray | None:
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        return None
    return lmap.project(np.atleast_2d(z))


def overlay(engine: Engine, st: dict) -> dict:
    ov = plots.empty_overlay()
    xy = map_xy(engine, st, st["z"])
    if xy is not None:
        ov["current"] = st["xy"] if st.get("xy") is not None else xy[0].tolist()
        if st["neighbours"]:
            ov["neighbours"] = map_xy(engine, st, np.stack([n["z"] for n in st["neighbours"]])).tolist()
        if st["steps"]:
            ov["path"] = map_xy(engine, st, np.stack([s["z"] for s in st["steps"]])).tolist()
        ends = [st["ends"][k]["z"] for k in ("A", "B") if k in st["ends"]]
        if ends:
            ov["ends"] = map_xy(engine, st, np.stack(ends)).tolist()
    return ov


def semantic_values(engine: Engine, st: dict) -> list[float]:
    m = _model(engine, st)
    return [round(float(st["z"][d]), SLIDER_DECIMALS) for d, _, _ in m.semantic][:MAX_SEMANTIC]


def to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * 32767).astype(np.int16)


def render_view(engine: Engine, st: dict, title: str | None = None) -> dict:
    """Render the current point with the real synth and build everything the main panel shows."""
    times = {"decode": st.get("_decode_s", 0.0)}
    t = time.perf_counter()
    # the parameter texts come from another synth worker while this one renders
    texts_job = engine.pool.submit(engine.synth.texts, st["full"])
    audio = engine.synth.render_one(st["full"])
    times["render"] = time.perf_counter() - t
    t = time.perf_counter()
    lm = log_mel(audio)[0].numpy()
    texts = texts_job.result()
    times["features"] = time.perf_counter() - t
    t = time.perf_counter()
    m = _model(engine, st)
    ov = overlay(engine, st)
    view = {
        "audio": (engine.sample_rate, to_int16(audio)),
        "mel": plots.mel_figure(lm, title or f"log-mel: {st['label']}"),
        "params": plots.params_figure(st["full"], engine.plugin_names, texts, set(m.param_indices),
                                      "parameters (blue: the model's set; hover for real units)"),
        "overlay": plots.overlay_json(ov),
        "info": info_text(engine, st, ov),
        "latent": [round(float(x), SLIDER_DECIMALS) for x in st["z"]],
        "semantic": semantic_values(engine, st),
        "audio_raw": audio,
        "logmel": lm,
        "texts": texts,
    }
    times["figures"] = time.perf_counter() - t
    view["timings"] = times
    return view


def info_text(engine: Engine, st: dict, ov: dict | None = None) -> str:
    ov = ov or overlay(engine, st)
    where = ""
    if ov.get("current") is not None:
        where = f" | map ({ov['current'][0]:.2f}, {ov['current'][1]:.2f})"
    return f"**{st['label']}** | model `{st['model']}`{where}"


def summary(engine: Engine, st: dict) -> dict:
    """JSON-able description of the current point (for API clients)."""
    m = _model(engine, st)
    texts = engine.synth.texts(st["full"])
    ov = overlay(engine, st)
    return {"model": st["model"], "label": st["label"], "z": [float(x) for x in st["z"]],
            "params": {n: float(x) for n, x in zip(m.param_names, st["v"])},
            "texts": dict(zip(engine.plugin_names, texts)), "xy": ov["current"],
            "semantic": {f"{neg} <-> {pos}": float(st["z"][d]) for d, neg, pos in m.semantic}}


# -- map ----------------------------------------------------------------------------------------

def select_point(engine: Engine, st: dict, index: int) -> dict:
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        raise UserError("this model has no latent map")
    i = int(index)
    if not 0 <= i < len(lmap):
        raise UserError(f"no dataset point {i} (the map has {len(lmap)})")
    v = None if lmap.v is None else lmap.v[i]  # decoded at export
    return set_current_z(engine, st, lmap.z[i], f"{lmap.names[i]} ({lmap.banks[i]})", lmap.xy[i], v)


def decode_xy(engine: Engine, st: dict, x: float, y: float) -> dict:
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        raise UserError("this model has no latent map")
    if not (np.isfinite(x) and np.isfinite(y)):
        raise UserError("map position must be finite")
    z = lmap.unproject(np.array([[x, y]], np.float32))[0]
    return set_current_z(engine, st, z, f"map point ({x:.2f}, {y:.2f})", (x, y))


def map_click(engine: Engine, st: dict, payload: str) -> dict:
    """Browser click: JSON `{"kind": "point", "index": i}` | `{"kind": "xy", "x", "y"}` |
    `{"kind": "neighbour" | "step", "index": k}`."""
    try:
        p = json.loads(payload) if isinstance(payload, str) else dict(payload)
        kind = p.get("kind", "xy")
    except (ValueError, TypeError, AttributeError):
        raise UserError(f"bad map click payload {str(payload)[:80]!r}") from None
    if kind == "point":
        return select_point(engine, st, int(p["index"]))
    if kind == "xy" and p.get("tol"):  # a click within a few pixels of a dot selects the dot
        lmap = engine.entry(st["model"]).lmap
        if lmap is not None and len(lmap):
            tx, ty = (max(float(t), 1e-12) for t in p["tol"])
            d = ((lmap.xy[:, 0] - float(p["x"])) / tx) ** 2 + ((lmap.xy[:, 1] - float(p["y"])) / ty) ** 2
            i = int(np.argmin(d))
            if d[i] <= 1.0:
                return select_point(engine, st, i)
    if kind == "neighbour":
        return neighbour_to_current(engine, st, int(p["index"]))
    if kind == "step":
        return step_to_current(engine, st, int(p["index"]))
    return decode_xy(engine, st, float(p["x"]), float(p["y"]))


# -- macro-controls -----------------------------------------------------------------------------

def set_latent(engine: Engine, st: dict, values: list[float]) -> dict:
    d = _model(engine, st).latent_dim
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
    m = _model(engine, st)
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
    semantic = [f"{neg.capitalize()} <-> {pos.capitalize()} (z{d})" for d, neg, pos in m.semantic]
    return latent[:MAX_DIMS], semantic[:MAX_SEMANTIC]


# -- neighbourhood and interpolation -------------------------------------------------------------

def _render_batch(engine: Engine, st: dict, zs: np.ndarray) -> list[dict]:
    m = _model(engine, st)
    v = m.decode(torch.as_tensor(np.asarray(zs, np.float32))).numpy()
    full = m.full_params(v)
    audio = engine.synth.render(full)
    lms = log_mel(audio).numpy()
    return [{"z": zs[i], "v": v[i], "full": full[i], "audio": audio[i], "logmel": lms[i]} for i in range(len(zs))]


def neighbourhood(engine: Engine, st: dict, sigma: float, count: int, seed: int | None = None) -> tuple[dict, dict]:
    """Sample `count` codes z + N(0, sigma^2) around the current point, decode and render them."""
    count, sigma = int(count), float(sigma)
    if not 1 <= count <= MAX_NEIGHBOURS:
        raise UserError(f"neighbour count must be 1..{MAX_NEIGHBOURS}")
    if not 0 < sigma <= 5:
        raise UserError("sigma must be in (0, 5]")
    rng = np.random.default_rng(None if seed is None or seed < 0 else int(seed))
    zs = st["z"][None] + sigma * rng.standard_normal((count, len(st["z"]))).astype(np.float32)
    items = _render_batch(engine, st, zs)
    st = dict(st, neighbours=items)
    fig = plots.mel_strip_figure([it["logmel"] for it in items], [f"n{i}" for i in range(count)],
                                 f"{count} neighbours, sigma {sigma:g}")
    return st, {"strip": fig, "choices": [f"n{i}" for i in range(count)],
                "overlay": plots.overlay_json(overlay(engine, st)),
                "status": f"{count} neighbours sampled around {st['label']} (sigma {sigma:g})"}


def _pick(items: list[dict], k, what: str) -> dict:
    if isinstance(k, str):
        k = int(re.sub(r"\D", "", k) or -1)
    k = int(k)
    if not 0 <= k < len(items):
        raise UserError(f"no {what} {k}: there are {len(items)}")
    return items[k]


def play_item(engine: Engine, items: list[dict], k, what: str) -> dict:
    it = _pick(items, k, what)
    return {"audio": (engine.sample_rate, to_int16(it["audio"])),
            "mel": plots.mel_figure(it["logmel"], f"log-mel: {what} {k}")}


def neighbour_to_current(engine: Engine, st: dict, k) -> dict:
    it = _pick(st["neighbours"], k, "neighbour")
    return set_current_z(engine, st, it["z"], f"neighbour {k} of {st['label']}")


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
    items = _render_batch(engine, st, (1 - ts) * za[None] + ts * zb[None])
    st = dict(st, steps=items)
    m = _model(engine, st)
    v = np.stack([it["v"] for it in items])
    names = [engine.plugin_names[i] for i in m.param_indices]
    texts = [[t[i] for i in m.param_indices] for t in (engine.synth.texts(it["full"]) for it in items)]
    return st, {"strip": plots.mel_strip_figure([it["logmel"] for it in items], [f"s{i}" for i in range(steps)],
                                                f"A -> B in {steps} steps"),
                "trajectories": plots.trajectories_figure(v, names, texts),
                "choices": [f"s{i}" for i in range(steps)],
                "overlay": plots.overlay_json(overlay(engine, st)),
                "status": f"interpolated {st['ends']['A']['label']} -> {st['ends']['B']['label']} in {steps} steps"}


def step_to_current(engine: Engine, st: dict, k) -> dict:
    it = _pick(st["steps"], k, "step")
    return set_current_z(engine, st, it["z"], f"interpolation step {k}")


# -- audio in -----------------------------------------------------------------------------------

def audio_in(engine: Engine, st: dict, path: str, shift: bool = True, at_detected: bool = False) -> tuple[dict, dict]:
    """Upload/recording -> (pitch-shifted) target -> encode -> params -> render; compare with SC."""
    if not path:
        raise UserError("no audio: upload a file or record first. " + audio_io.LIMITS_TEXT)
    try:
        prep = audio_io.prepare(path, engine.sample_rate, engine.n_samples / engine.sample_rate,
                                engine.synth.settings.note, bool(shift))
    except audio_io.AudioInputError as exc:
        raise UserError(str(exc)) from None
    m = _model(engine, st)
    target_lm = log_mel(prep.audio)
    name = os.path.basename(path)
    pitch = f"{prep.f0:.1f} Hz" if prep.f0 else "no pitch found"
    label = f"audio: {name} ({pitch})"
    if m.model.has_latent:
        z = m.encode(target_lm).numpy()[0]
        st = set_current_z(engine, st, z, label)
    else:
        st = set_current_params(engine, st, m.infer(target_lm).numpy()[0], label)
    st = dict(st, target=prep.audio, ratio=prep.ratio if prep.shifted else 1.0, at_detected=bool(at_detected))
    view = render_view(engine, st)
    return st, _compare(engine, st, view, prep, at_detected)


def _compare(engine: Engine, st: dict, view: dict, prep=None, at_detected: bool = False) -> dict:
    target = st["target"]
    sc = _sc(target, view["audio_raw"])
    lm_in = log_mel(target)[0].numpy()
    view["compare"] = plots.mel_pair_figure(lm_in, view["logmel"], "input (at note 60)" if st["ratio"] != 1
                                            else "input", f"output (SC {sc:.3f})")
    view["input_audio"] = (engine.sample_rate, to_int16(target))
    view["sc"] = sc
    if at_detected and st["ratio"] != 1.0:  # play the result back at the pitch of the upload
        back = audio_io.fit_length(audio_io.pitch_shift(view["audio_raw"], 1.0 / st["ratio"]), engine.n_samples)
        view["audio"] = (engine.sample_rate, to_int16(back))
    details = ""
    if prep is not None:
        f0 = f"detected f0 {prep.f0:.1f} Hz" if prep.f0 else "no pitch detected (not shifted)"
        details = f"{f0}; shifted x{prep.ratio:.3f}; " if prep.shifted else f"{f0}; "
    view["sc_text"] = (f"{details}SC = {sc:.3f} (||Y - X||_F / ||X||_F on linear mel magnitude; "
                       f"1.0 = silence)")
    return view


def _sc(target: np.ndarray, output: np.ndarray) -> float:
    x = mel(target)[0].double().sqrt()
    y = mel(output)[0].double().sqrt()
    den = float(x.norm())
    return float((y - x).norm()) / den if den > 0 else float("inf")


def refine_current(engine: Engine, st: dict, budget: int, progress=None) -> tuple[dict, dict]:
    """CMA-ES refinement of the current parameters against the last audio input (explorer.refine)."""
    if st.get("target") is None:
        raise UserError("refine needs a target: match an uploaded or recorded sound first")
    budget = int(budget)
    if not 10 <= budget <= 2000:
        raise UserError("refine budget must be 10..2000 renders")
    from explorer.evaluate.refine import refine

    m = _model(engine, st)
    cb = None
    if progress is not None:
        def cb(done, total, best):
            progress(done / total, desc=f"refine: {done}/{total} renders, objective {best:.3f}")
    v_best, history = refine(engine.synth, st["target"], np.asarray(st["full"]), m.param_indices,
                             budget=budget, progress_callback=cb)
    v = np.asarray(v_best)[m.param_indices]
    st = set_current_params(engine, st, v, st["label"].split(" [refined")[0] + f" [refined {budget}]",
                            full=np.asarray(v_best, np.float32))
    view = render_view(engine, st)
    view = _compare(engine, st, view, None, st.get("at_detected", False))
    h0, h1 = history[0], history[-1]
    view["sc_text"] = (f"refined with {budget} renders: log-mel L1 {h0['logmel_l1']:.3f} -> "
                       f"{h1['logmel_l1']:.3f}, SC {h0['sc']:.3f} -> {h1['sc']:.3f}; " + view["sc_text"])
    return st, view


# -- presets ------------------------------------------------------------------------------------

def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "preset"


def export_preset(engine: Engine, st: dict, name: str = "") -> tuple[str, str]:
    """Write the current sound as an amsynth `.bank` and a JSON preset -> (bank path, json path)."""
    from explorer.synth.presets import bank_text, preset_json

    name = (name or "").strip() or st["label"][:40]
    full = np.asarray(st["full"], np.float64)
    pmap = engine.pmap
    d = tempfile.mkdtemp(dir=engine.tmpdir)
    bank = os.path.join(d, _safe_name(name) + ".bank")
    with open(bank, "w", encoding="utf-8") as f:
        f.write(bank_text([(name, pmap.to_raw(full))]))
    js = os.path.join(d, _safe_name(name) + ".json")
    with open(js, "w", encoding="utf-8") as f:
        json.dump(preset_json(name, full, pmap, engine.synth.texts(full)), f, indent=1)
    return bank, js


MAX_PRESET_BYTES = 2 * 1024 * 1024


def load_presets(engine: Engine, st: dict, path: str) -> tuple[dict, list[str], str]:
    """Read an uploaded `.bank` or JSON preset -> (state, preset choices, status)."""
    from explorer.synth.presets import BankError, parse_bank_text, values_from_json

    if not path or not os.path.isfile(path):
        raise UserError("no preset file received")
    name = os.path.basename(path)
    size = os.path.getsize(path)
    if size > MAX_PRESET_BYTES:
        raise UserError(f"{name} is {size / 2**20:.1f} MB: preset files may be at most "
                        f"{MAX_PRESET_BYTES // 2**20} MB (.bank or .json)")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name}: not a text file; expected an amsynth .bank or a JSON preset") from None
    pmap = engine.pmap
    presets: dict[str, np.ndarray] = {}
    try:
        if text.lstrip().startswith("{"):
            pname, full = values_from_json(text, pmap)
            presets[pname] = full
        else:
            for i, p in enumerate(parse_bank_text(text, name)):
                presets[f"{i:03d} {p.name}"] = pmap.to_normalised(p.raw)
    except BankError as exc:
        msg = re.sub(r"^(\S*?):(\d+):", r"\1, line \2:", str(exc))  # "file:3:" -> "file, line 3:"
        raise UserError(msg if msg.startswith(name) else f"{name}: {msg}") from None
    st = dict(st, presets=presets)
    return st, list(presets), f"{name}: {len(presets)} preset(s) loaded; choose one and place it on the map"


def place_preset(engine: Engine, st: dict, choice: str) -> dict:
    """Put a loaded preset on the map through the inverse regression flow (params -> latent)."""
    if not st["presets"]:
        raise UserError("load a .bank or JSON preset first")
    if choice not in st["presets"]:
        raise UserError(f"unknown preset {choice!r}")
    m = _model(engine, st)
    full = np.asarray(st["presets"][choice], np.float32)
    v = full[m.param_indices]
    return set_current_params(engine, st, v, f"preset: {choice}")


# -- model choice -------------------------------------------------------------------------------

def choose_model(engine: Engine, st: dict, name: str) -> dict:
    e = engine.entry(name)
    return dict(new_state(engine, e.name), colour="category")


def status_line(engine: Engine, st: dict) -> str:
    e = engine.entry(st["model"])
    m = e.model
    n = len(e.lmap) if e.lmap is not None else 0
    msg = (f"model {e.name}: {m.name}, {len(m.param_names)} parameters, {m.latent_dim} latent dims, "
           f"device {getattr(m, 'device', 'cpu')}; map: {n} sounds")
    if e.map_error:
        msg += f" -- {e.map_error}"
    return msg
