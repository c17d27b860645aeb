"""Macro-controls tab: a slider per semantic dimension and per latent dimension."""

from __future__ import annotations

import gradio as gr

from explorer.app import actions as A
from explorer.app.views.common import STATUS_AT, Ctx, guard, named
from explorer.app.views.live import SLIDER_SLOT


def _sliders(prefix: str, labels: list[str], n: int, short: str, span: float, width: int) -> list:
    return [gr.Slider(-span, span, value=0, step=0.01,
                      label=labels[i] if i < len(labels) else f"{short}{i}", visible=i < len(labels),
                      elem_id=f"{prefix}-{i}", min_width=width) for i in range(n)]


def tab(ctx: Ctx, lat_labels: list[str], sem_labels: list[str]) -> None:
    """Creates the sliders (`ctx.sem`, `ctx.lat`: part of every main output) and wires them."""
    with gr.Tab("Macro-controls", id="tab-macro"):
        gr.Markdown("Semantic controls: each slider moves the sound along its pair (in levels: the descriptor's "
                    "rank among the training sounds, 0 = median); beside it, the descriptor measured on the sound "
                    "playing.")
        with gr.Row():
            # wide enough for a pair's name and its measured descriptor on one line: three to a row
            ctx.sem = _sliders("sem", sem_labels, A.MAX_SEMANTIC, "s", A.SEMANTIC_RANGE, 320)
        with gr.Accordion("Every latent dimension", open=False), gr.Row():
            ctx.lat = _sliders("lat", lat_labels, A.MAX_DIMS, "z", A.SLIDER_RANGE, 160)
        with gr.Row(visible=False):  # API-only inputs: one dimension at a time
            api_dim, api_value = gr.Number(0, precision=0), gr.Number(0.0)
            api_btn = gr.Button("set_dim")
    main = ctx.main

    @guard(len(main), STATUS_AT)
    @named([f"z{i}" for i in range(A.MAX_DIMS)])
    def on_latent(st, *values):
        st = ctx.ensure(st)
        with ctx.order.turn(st):  # after this session's drag previews; theirs never lands after this
            st = ctx.order.commit(A.set_latent(ctx.engine, st, list(values)))
            return ctx.pack(st, A.render_view(ctx.engine, st))

    gr.on([s.release for s in ctx.lat], on_latent, [ctx.state, *ctx.lat], main, api_name="set_latent",
          show_progress="hidden", concurrency_id=SLIDER_SLOT)

    @guard(len(main), STATUS_AT)
    @named([f"s{i}" for i in range(A.MAX_SEMANTIC)])
    def on_semantic(st, *values):
        st = ctx.ensure(st)
        with ctx.order.turn(st):
            st = ctx.order.commit(A.set_semantic(ctx.engine, st, list(values)))
            return ctx.pack(st, A.render_view(ctx.engine, st))

    gr.on([s.release for s in ctx.sem], on_semantic, [ctx.state, *ctx.sem], main, api_name="set_semantic",
          show_progress="hidden", concurrency_id=SLIDER_SLOT)
    api_btn.click(ctx.view_of(A.set_dim), [ctx.state, api_dim, api_value], main, api_name="set_dim")
