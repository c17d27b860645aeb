"""What every tab's wiring shares: the per-user state, the main panel's outputs, error handling."""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.session_order import SessionOrder
from explorer.synth.host import SynthError

log = logging.getLogger("flowsynth.app")
STATUS_AT = 6  # index of the status box in `Ctx.main`


@dataclass
class Ctx:
    """Components shared by the tabs. `main` = [state, audio, mel, params, overlay, info, status,
    *latent sliders, *semantic sliders]: what every action that moves the current sound updates."""

    engine: A.Engine
    state: Any
    status: Any
    audio: Any
    mel_plot: Any
    params_plot: Any
    overlay: Any
    info: Any
    map_plot: Any = None
    lat: list = field(default_factory=list)
    sem: list = field(default_factory=list)
    order: SessionOrder = field(default_factory=SessionOrder)  # each session's slider events in turn

    @property
    def main(self) -> list:
        return [self.state, self.audio, self.mel_plot, self.params_plot, self.overlay, self.info, self.status,
                *self.lat, *self.sem]

    def ensure(self, st: dict | None) -> dict:
        """API clients may start with any endpoint: build the state they lack."""
        return st if st is not None else A.new_state(self.engine)

    def pack(self, st: dict, view: dict, msg: str | None = None) -> list:
        st = A.remember(st)  # every sound the panel shows goes into the history (back / forward)
        lat_vals = view["latent"] + [0.0] * (A.MAX_DIMS - len(view["latent"]))
        sem_vals = view["semantic"] + [0.0] * (A.MAX_SEMANTIC - len(view["semantic"]))
        # beside each steering slider: its descriptor measured on the sound just rendered
        notes = view.get("semantic_info") or []
        sem_vals = [gr.update(value=x, info=f"this sound: {notes[i]}") if i < len(notes) else x
                    for i, x in enumerate(sem_vals)]
        return [st, view["audio"], plots.to_plot(view["mel"]), plots.to_plot(view["params"]),
                view["overlay"], view["info"], msg if msg is not None else f"{st['label']}",
                *lat_vals, *sem_vals]

    def view_of(self, fn):
        """Handler for an action (engine, state, *inputs) -> state: render the new current sound and pack."""
        def handler(st, *inputs):
            st = fn(self.engine, self.ensure(st), *inputs)
            return self.pack(st, A.render_view(self.engine, st))
        handler.__name__ = fn.__name__
        # the API's parameter names are the action's (after engine, state)
        return guard(len(self.main), STATUS_AT)(named(list(inspect.signature(fn).parameters)[2:])(handler))


def named(names: list[str]):
    """Decorator: give `fn(st, *inputs)` the signature `(st, name1, name2, ...)`. Gradio takes an endpoint's
    parameter names from its handler's signature (`*inputs` would be `param_1`, ... in `view_api`)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD

    def deco(fn):
        fn.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in ["st", *names]])
        return fn
    return deco


def guard(n_out: int, status_at: int):
    """Wrap a handler: user errors -> warning toast + status message, other outputs unchanged; any other
    exception is logged and reported the same way, so the session goes on."""
    def deco(fn):
        @functools.wraps(fn)  # keeps the handler's signature: the API's parameter names
        def wrapped(*args, **kw):
            try:
                return fn(*args, **kw)
            except A.UserError as exc:
                msg = str(exc)
            except SynthError as exc:  # e.g. the plugin crashed on these values: nothing changed, say so
                log.warning("synth error: %s", exc)
                msg = f"the synth could not play this, nothing was changed: {exc}"
            except Exception as exc:  # noqa: BLE001 - never crash the session
                log.error("action failed: %s", traceback.format_exc())
                msg = f"internal error: {type(exc).__name__}: {exc}"
            gr.Warning(msg)
            out = [gr.skip()] * n_out
            out[status_at] = f"Error: {msg}"
            return out if n_out > 1 else out[0]
        return wrapped
    return deco
