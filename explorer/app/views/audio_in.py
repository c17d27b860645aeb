"""Audio-in tab: upload or record a sound, match it (ranked candidates: model, nearest sounds, refined), play
any candidate or make it current, refine with real renders (progress bar, best so far, cancellable)."""

from __future__ import annotations

import threading
import time
import uuid

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views.common import STATUS_AT, Ctx, guard
from explorer.app.views.neighbourhood import play_handler
from explorer.data import audio_input

_STOPS: dict[str, threading.Event] = {}  # refine id -> its stop flag (the Cancel button sets it)


def tab(ctx: Ctx) -> None:
    with gr.Tab("Audio in", id="tab-audio"):
        gr.Markdown(audio_input.LIMITS_TEXT + " The sound is brought to the dataset's loudness, its pitch "
                    "detected; candidates (the model's prediction, the nearest sounds of the model's dataset, "
                    "refined ones) are rendered at the input's own note and ranked by log-mel L1 + SC.")
        with gr.Row():
            audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", format=None,
                                label="Upload or record", elem_id="audio-in")
            with gr.Column():
                shift_cb = gr.Checkbox(True, label="Track the pitch (render at the input's note; the encoder "
                                       "hears it moved to note 60)")
                detected_cb = gr.Checkbox(False, label="Play the current sound at the input's note")
                match_btn = gr.Button("Match this sound", variant="primary", elem_id="match-btn")
                refine_budget = gr.Slider(20, 500, value=100, step=10, label="Refine budget (renders)",
                                          elem_id="refine-budget")
                with gr.Row():
                    refine_btn = gr.Button("Refine", elem_id="refine-btn")
                    cancel_btn = gr.Button("Cancel refine", elem_id="refine-cancel", variant="stop")
        sc_md = gr.Markdown(elem_id="sc-text")
        cand_table = gr.Dataframe(headers=A.CANDIDATE_COLUMNS, interactive=False, elem_id="candidate-table",
                                  label="Candidates (best first; green triangles on the map)")
        with gr.Row():
            cand_dd = gr.Dropdown([], label="Play candidate", elem_id="candidate-choice", allow_custom_value=True)
            cand_go = gr.Button("Make it the current sound", elem_id="candidate-go")
        with gr.Row():
            cand_audio = gr.Audio(label="Candidate (at the input's note)", type="numpy", interactive=False,
                                  elem_id="candidate-audio")
            cand_mel = gr.Plot(show_label=False)
        with gr.Row():
            input_audio = gr.Audio(label="Input as matched (loudness-normalised)", type="numpy", interactive=False)
        compare_plot = gr.Plot(show_label=False, elem_id="compare-plot")
    outs = [*ctx.main, input_audio, compare_plot, cand_table, cand_dd, sc_md]

    def unpack(st, view):
        rows = view["candidates"]
        return [*ctx.pack(st, view, view["sc_text"]), view["input_audio"], plots.to_plot(view["compare"]),
                rows, gr.update(choices=[r[0] for r in rows], value=None), view["sc_text"]]

    @guard(len(outs), STATUS_AT)
    def on_audio(st, audio, track_pitch, play_at_input_note):
        return unpack(*A.audio_in(ctx.engine, ctx.ensure(st), audio, track_pitch, play_at_input_note))

    ins = [ctx.state, audio_in, shift_cb, detected_cb]
    match_btn.click(on_audio, ins, outs, api_name="audio_in")
    audio_in.upload(on_audio, ins, outs, api_name=False)
    audio_in.stop_recording(on_audio, ins, outs, api_name=False)

    def on_refine(st, budget, progress=gr.Progress()):  # noqa: B008 - Gradio's progress idiom
        """Runs the refinement in a thread; yields the best so far every 0.3 s (the page stays live)."""
        st = ctx.ensure(st)
        rid = uuid.uuid4().hex
        stop = _STOPS[rid] = threading.Event()
        box: dict = {"frac": 0.0, "text": "refine: starting", "done": False}

        def on_best(frac, text):
            box["frac"], box["text"] = frac, text

        def work():
            try:
                box["result"] = A.refine_current(ctx.engine, st, budget, None, stop.is_set, on_best)
            except Exception as exc:  # noqa: BLE001 - reported below, the session goes on
                box["error"] = exc
            finally:
                box["done"] = True

        threading.Thread(target=work, daemon=True, name=f"refine-{rid[:6]}").start()
        skip = [gr.skip()] * (len(outs) - 1)
        try:
            yield [dict(st, refine_id=rid)] + skip[1:] + [box["text"]]  # the Cancel button finds it there
            while not box["done"]:
                progress(box["frac"], desc=box["text"])
                time.sleep(0.3)
                yield skip + [box["text"]]
            if "error" in box:
                msg = str(box["error"]) if isinstance(box["error"], A.UserError) else \
                    f"internal error: {type(box['error']).__name__}: {box['error']}"
                gr.Warning(msg)
                out = skip + [f"Error: {msg}"]
                out[STATUS_AT] = f"Error: {msg}"
                yield out
                return
            yield unpack(*box["result"])
        finally:
            stop.set()  # a closed generator (page left, event cancelled) stops the refinement too
            _STOPS.pop(rid, None)

    refine_btn.click(on_refine, [ctx.state, refine_budget], outs, api_name="refine")

    def on_cancel(st):
        ev = _STOPS.get((st or {}).get("refine_id", ""))
        if ev is not None:
            ev.set()
            return "cancelling: the refinement stops after its current generation"
        return "nothing to cancel"

    cancel_btn.click(on_cancel, [ctx.state], [ctx.status], api_name="refine_cancel")
    cand_dd.change(play_handler(ctx, "candidates", "candidate"), [ctx.state, cand_dd],
                   [cand_audio, cand_mel, ctx.status], api_name="play_candidate")
    cand_go.click(ctx.view_of(A.candidate_to_current), [ctx.state, cand_dd], ctx.main,
                  api_name="candidate_to_current")
