"""A/B tab: the original (dataset preset, placed preset or audio input) beside the model's sound, with SC."""

from __future__ import annotations

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views.common import Ctx, guard


def tab(ctx: Ctx) -> None:
    with gr.Tab("A/B", id="tab-ab"):
        gr.Markdown("**A** = what the current sound reconstructs: a dataset dot's own preset, a placed preset, or "
                    "your audio input. **B** = the model's sound (the current one).")
        ab_btn = gr.Button("Compare A / B", elem_id="ab-btn", variant="primary")
        ab_md = gr.Markdown(elem_id="ab-text")
        with gr.Row():
            a_audio = gr.Audio(label="A: original", type="numpy", interactive=False, elem_id="ab-a")
            b_audio = gr.Audio(label="B: the model's sound", type="numpy", interactive=False, elem_id="ab-b")
        ab_plot = gr.Plot(show_label=False, elem_id="ab-plot")

    @guard(5, 4)
    def on_ab(st):
        out = A.compare_ab(ctx.engine, ctx.ensure(st))
        return out["a"], out["b"], plots.to_plot(out["figure"]), out["text"], f"A/B: SC {out['sc']:.3f}"

    ab_btn.click(on_ab, [ctx.state], [a_audio, b_audio, ab_plot, ab_md, ctx.status], api_name="ab")
