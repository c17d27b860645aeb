"""Neighbourhood tab: sample sounds around the current one, play them, make one current."""

from __future__ import annotations

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views.common import Ctx, guard, named


def play_handler(ctx: Ctx, key: str, what: str):
    """Handler: play item `k` of the state's `key` list (neighbours / steps) in the tab's own player."""
    @guard(3, 2)
    @named([what])
    def on_play(st, k):
        if not k and k != 0:
            return gr.skip(), gr.skip(), gr.skip()
        out = A.play_item(ctx.engine, ctx.ensure(st)[key], k, what)
        return out["audio"], plots.to_plot(out["mel"]), f"{what} {k}"
    on_play.__name__ = f"on_play_{what}"
    return on_play


def tab(ctx: Ctx) -> None:
    with gr.Tab("Neighbourhood", id="tab-neigh"):
        with gr.Row():
            sigma = gr.Slider(0.05, 2.0, value=0.3, step=0.05, label="sigma")
            count = gr.Slider(1, A.MAX_NEIGHBOURS, value=8, step=1, label="count")
            seed = gr.Number(-1, label="seed (-1: random)", precision=0)
            neigh_btn = gr.Button("Sample neighbours", elem_id="neigh-btn")
        neigh_strip = gr.Plot(show_label=False, elem_id="neigh-strip")
        with gr.Row():
            neigh_dd = gr.Dropdown([], label="Play neighbour", elem_id="neigh-choice", allow_custom_value=True)
            neigh_go = gr.Button("Make it the current sound")
        with gr.Row():
            neigh_audio = gr.Audio(label="Neighbour", type="numpy", interactive=False)
            neigh_mel = gr.Plot(show_label=False)

    @guard(5, 4)
    def on_neigh(st, sigma, count, seed):
        st, out = A.neighbourhood(ctx.engine, ctx.ensure(st), sigma, count, None if seed is None else int(seed))
        return st, plots.to_plot(out["strip"]), gr.update(choices=out["choices"], value=None), \
            out["overlay"], out["status"]

    neigh_btn.click(on_neigh, [ctx.state, sigma, count, seed],
                    [ctx.state, neigh_strip, neigh_dd, ctx.overlay, ctx.status], api_name="neighbourhood")
    neigh_dd.change(play_handler(ctx, "neighbours", "neighbour"), [ctx.state, neigh_dd],
                    [neigh_audio, neigh_mel, ctx.status], api_name="play_neighbour")
    neigh_go.click(ctx.view_of(A.neighbour_to_current), [ctx.state, neigh_dd], ctx.main,
                   api_name="neighbour_to_current")
