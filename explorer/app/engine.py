"""Shared resources of the app: the synth host, the models (loaded once) and their latent maps.

`Engine` holds what every user shares; the per-user state is a plain dict (`explorer.app.state`). Also the
UI's limits (sliders, neighbours, steps), `UserError` (a user's mistake, shown as is) and the checkpoint menu.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from explorer.app import plots
from explorer.app.latent_map import LatentMap, is_stale, load_map
from explorer.app.steering import PathCache
from explorer.models.steer import LEVEL_RANGE

MAX_DIMS = 32  # latent sliders built in the UI (models have 16 or 30 dims)
MAX_SEMANTIC = 8  # semantic sliders built in the UI
SLIDER_RANGE = 4.0  # latent sliders
SEMANTIC_RANGE = LEVEL_RANGE  # semantic sliders: the steering macros' levels
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
    base_json: dict = field(default_factory=dict)  # colour -> its JSON around the overlay traces (`map_plot`)


def _warm_conditioning(sample_rate: int) -> None:
    from explorer.data.conditioning import warm_up

    warm_up(sample_rate)


class Engine:
    """Shared resources: synth host, models (loaded once, on first use), latent maps, preset mapping."""

    def __init__(self, checkpoints: dict[str, str], default: str | None = None, synth=None,
                 synth_workers: int = 2, device: str | None = None, tmpdir: str | None = None):
        """`tmpdir`: where exports are written (the app passes Gradio's cache folder, which ages them out);
        default: a new temp folder, removed by `close()`."""
        if not checkpoints:
            raise UserError("no checkpoints given")
        self.checkpoints = dict(checkpoints)
        self.default = default if default in self.checkpoints else next(iter(self.checkpoints))
        self.device = device
        self._own_synth = synth is None
        if synth is None:
            from explorer.synth.host import Synth

            synth = Synth(workers=synth_workers)
        self.synth = synth
        self.sample_rate = synth.settings.sample_rate
        self.n_samples = synth.settings.n_samples
        self.param_spec = synth.params
        self.plugin_names = [p.name for p in self.param_spec]
        self._entries: dict[str, ModelEntry] = {}
        self.steer_paths = PathCache()  # semantic sliders' calibrated paths, shared by every session
        self._lock = threading.Lock()
        self._pmap = None
        self._own_tmpdir = tmpdir is None
        self.tmpdir = tempfile.mkdtemp(prefix="flowsynth-app-") if tmpdir is None else tmpdir
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="engine")
        # CREPE + librosa cost ~10 s on their first call: `warm` starts loading them in the background (the
        # page is served meanwhile); the first audio input joins this thread (`ready_for_audio`)
        self.conditioning_warm = threading.Thread(target=_warm_conditioning, args=(self.sample_rate,),
                                                  daemon=True, name="warm-conditioning")

    def ready_for_audio(self) -> None:
        if self.conditioning_warm.is_alive():
            self.conditioning_warm.join()

    def close(self) -> None:
        """Stop the thread pool, and the synth workers and the exports folder if the engine made them."""
        self.pool.shutdown(wait=False)
        if self._own_synth:
            self.synth.close()
        if self._own_tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def write_file(self, name: str, data: bytes) -> str:
        """Write an output file (e.g. an export) under `tmpdir`, named by its content and written atomically:
        whole for any number of concurrent readers, and one copy however often it is asked for."""
        from explorer.app.serving import write_cached

        return write_cached(self.tmpdir, name, data)

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
                                       f"re-run `python -m explorer.app.map_export export --checkpoint {path} "
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
        from explorer.app.state import (  # the state module builds on this one
            new_state,
            render_view,
        )

        t = time.perf_counter()
        st = new_state(self, name)
        render_view(self, st)
        _ = self.pmap
        self.conditioning_warm.start()
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
        return {**base, "data": data}  # the layout and the plotly config as drawn first

    def map_plot(self, name: str, colour: str, overlay: dict):
        """`map_figure` as a `gr.Plot` value. The dots' JSON (0.9 MB for 3,482 presets, most of a page
        load's work) is written once per colouring; only the overlay's is written each time."""
        e = self.entry(name)
        fig = self.map_figure(name, colour, overlay)
        if not fig["data"]:
            return plots.to_plot(fig)
        if colour not in e.base_json:
            base = e.base_figures[colour]
            dots = plots.dumps(base["data"][: -len(plots.OVERLAY_UIDS)])  # '[...]'
            rest = plots.dumps({k: v for k, v in base.items() if k != "data"})  # '{"layout": ...}'
            e.base_json[colour] = ('{"data":' + dots[:-1] + ("," if len(dots) > 2 else ""),
                                   "]" + ("," + rest[1:] if len(rest) > 2 else "}"))
        head, tail = e.base_json[colour]
        return plots.to_plot(head + plots.dumps(fig["data"][-len(plots.OVERLAY_UIDS):])[1:-1] + tail)
