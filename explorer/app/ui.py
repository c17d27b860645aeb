"""Gradio Blocks for the app: the shared panel (status, map, current sound) and one tab per module of
`explorer.app.views`, whose events call `explorer.app.actions`.

Every event has an `api_name` (see docs/APP.md); per-user state is one `gr.State` dict. Handlers accept a
missing state (API clients that start with any endpoint) and build a fresh one. User errors become a
`gr.Warning` toast plus a message in the status box; nothing else changes, and the next action works.
"""

from __future__ import annotations

import os

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views import (
    ab,
    audio_in,
    find,
    interpolation,
    keep,
    live,
    macro,
    neighbourhood,
    presets,
)
from explorer.app.views import map as map_view
from explorer.app.views.common import Ctx

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CSS = """
#latent-map {min-height: 540px}
.fs-status textarea {font-size: 12px}
"""


def _load_js() -> str:
    """boxes.js, map.js, keys.js and live.js (each a function run once on page load, in this order) as the
    one function for `js=`."""
    parts = []
    for name in ("boxes.js", "map.js", "keys.js", "live.js"):
        with open(os.path.join(STATIC, name), encoding="utf-8") as f:
            parts.append(f"({f.read().strip()})();")
    return "() => {\n" + "\n".join(parts) + "\n}"


def build(engine: A.Engine) -> tuple[gr.Blocks, dict]:
    """-> (Blocks, keyword arguments for `launch`: js, css)."""
    first = engine.entry()
    lat_labels, sem_labels = A.slider_labels(engine, first.name)

    with gr.Blocks(title="FlowSynth Explorer") as demo:
        state = gr.State(None)
        gr.Markdown("## FlowSynth Explorer\nClick the map (a dot: that preset; empty space: decode that "
                    "point), move the macro-controls, explore neighbourhoods and interpolations, match a "
                    "sound, export presets.")
        status = gr.Textbox(label="Status", interactive=False, elem_id="status", elem_classes="fs-status",
                            lines=1, max_lines=3)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    model_dd = gr.Dropdown(list(engine.checkpoints), value=first.name, label="Model",
                                           elem_id="model-choice")
                    colour_dd = gr.Dropdown(plots.colour_options(first.lmap), value="category",
                                            label="Colour by", elem_id="colour-by")
                find_panel = find.panel()
                map_plot = gr.Plot(show_label=False, elem_id="latent-map")
                info = gr.Markdown(elem_id="current-info")
                keep_bar = keep.bar()
                map_click = gr.Textbox(visible="hidden", elem_id="map-click", label="map click")
                overlay = gr.Textbox(visible="hidden", elem_id="map-overlay", label="map overlay")
            with gr.Column(scale=2):
                audio = gr.Audio(label="Current sound", type="numpy", interactive=False, autoplay=True,
                                 elem_id="current-audio")
                play_panel = live.panel()
                mel_plot = gr.Plot(show_label=False, elem_id="current-mel")
                params_plot = gr.Plot(show_label=False, elem_id="current-params")
        ctx = Ctx(engine, state, status, audio, mel_plot, params_plot, overlay, info, map_plot)
        with gr.Tabs():
            macro.tab(ctx, lat_labels, sem_labels)  # first: makes the sliders every main output includes
            neighbourhood.tab(ctx)
            interpolation.tab(ctx)
            audio_in.tab(ctx)
            presets.tab(ctx)
            ab.tab(ctx)
            keep.tab(ctx, keep_bar)
        map_view.wire(ctx, demo, model_dd, colour_dd, map_click)
        live.wire(ctx, play_panel)
        find.wire(ctx, find_panel)
    return demo, {"js": _load_js(), "css": CSS + live.CSS}
