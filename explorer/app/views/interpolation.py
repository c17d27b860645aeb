"""Interpolation tab: ends A and B, a path of N steps between them, play a step, make one current."""

from __future__ import annotations

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views.common import Ctx, guard
from explorer.app.views.neighbourhood import play_handler


def tab(ctx: Ctx) -> None:
    with gr.Tab("Interpolation", id="tab-interp"):
        with gr.Row():
            set_a = gr.Button("Set A = current sound")
            set_b = gr.Button("Set B = current sound")
            steps = gr.Slider(2, A.MAX_STEPS, value=6, step=1, label="steps")
            interp_btn = gr.Button("Interpolate", elem_id="interp-btn")
        ends_md = gr.Markdown("**A**: (not set) | **B**: (not set)")
        interp_strip = gr.Plot(show_label=False)
        traj_plot = gr.Plot(show_label=False)
        with gr.Row():
            step_dd = gr.Dropdown([], label="Play step", elem_id="step-choice", allow_custom_value=True)
            step_go = gr.Button("Make it the current sound")
        with gr.Row():
            step_audio = gr.Audio(label="Step", type="numpy", interactive=False)
            step_mel = gr.Plot(show_label=False)

    @guard(4, 3)
    def on_end(st, which):
        st, text = A.set_end(ctx.engine, ctx.ensure(st), which)
        return st, text, plots.overlay_json(A.overlay(ctx.engine, st)), f"{which} = {st['label']}"

    end_outs = [ctx.state, ends_md, ctx.overlay, ctx.status]
    set_a.click(lambda st: on_end(st, "A"), [ctx.state], end_outs, api_name="set_a")
    set_b.click(lambda st: on_end(st, "B"), [ctx.state], end_outs, api_name="set_b")

    @guard(6, 5)
    def on_interp(st, steps):
        st, out = A.interpolate(ctx.engine, ctx.ensure(st), steps)
        return (st, plots.to_plot(out["strip"]), plots.to_plot(out["trajectories"]),
                gr.update(choices=out["choices"], value=None), out["overlay"], out["status"])

    interp_btn.click(on_interp, [ctx.state, steps],
                     [ctx.state, interp_strip, traj_plot, step_dd, ctx.overlay, ctx.status], api_name="interpolate")
    step_dd.change(play_handler(ctx, "steps", "step"), [ctx.state, step_dd], [step_audio, step_mel, ctx.status],
                   api_name="play_step")
    step_go.click(ctx.view_of(A.step_to_current), [ctx.state, step_dd], ctx.main, api_name="step_to_current")
