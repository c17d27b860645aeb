"""Audio-in tab: upload or record a sound, match it, refine the match with CMA-ES."""

from __future__ import annotations

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views.common import STATUS_AT, Ctx, guard
from explorer.data import audio_input


def tab(ctx: Ctx) -> None:
    with gr.Tab("Audio in", id="tab-audio"):
        gr.Markdown(audio_input.LIMITS_TEXT + " The sound is pitch-shifted to the synth's note 60, "
                    "trimmed/padded to 4 s, encoded, placed on the map and rendered.")
        with gr.Row():
            audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", format=None,
                                label="Upload or record", elem_id="audio-in")
            with gr.Column():
                shift_cb = gr.Checkbox(True, label="Shift to note 60 (detected pitch)")
                detected_cb = gr.Checkbox(False, label="Play the result back at the detected pitch")
                match_btn = gr.Button("Match this sound", variant="primary", elem_id="match-btn")
                refine_budget = gr.Slider(20, 500, value=100, step=10, label="Refine budget (renders)")
                refine_btn = gr.Button("Refine (CMA-ES)", elem_id="refine-btn")
        sc_md = gr.Markdown(elem_id="sc-text")
        with gr.Row():
            input_audio = gr.Audio(label="Input as the model hears it", type="numpy", interactive=False)
        compare_plot = gr.Plot(show_label=False, elem_id="compare-plot")
    outs = [*ctx.main, input_audio, compare_plot, sc_md]

    def unpack(st, view):
        return [*ctx.pack(st, view, view["sc_text"]), view["input_audio"], plots.to_plot(view["compare"]),
                view["sc_text"]]

    @guard(len(outs), STATUS_AT)
    def on_audio(st, audio, shift_to_note_60, play_at_detected_pitch):
        return unpack(*A.audio_in(ctx.engine, ctx.ensure(st), audio, shift_to_note_60, play_at_detected_pitch))

    ins = [ctx.state, audio_in, shift_cb, detected_cb]
    match_btn.click(on_audio, ins, outs, api_name="audio_in")
    audio_in.upload(on_audio, ins, outs, api_name=False)
    audio_in.stop_recording(on_audio, ins, outs, api_name=False)

    @guard(len(outs), STATUS_AT)
    def on_refine(st, budget, progress=gr.Progress()):  # noqa: B008 - Gradio's progress idiom
        return unpack(*A.refine_current(ctx.engine, ctx.ensure(st), budget, progress))

    refine_btn.click(on_refine, [ctx.state, refine_budget], outs, api_name="refine")
