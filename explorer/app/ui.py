"""Gradio Blocks for the app: components, and the wiring of each event to `explorer.app.actions`.

Every event has an `api_name` (see docs/APP.md); per-user state is one `gr.State` dict. Handlers accept a
missing state (API clients that start with any endpoint) and build a fresh one. User errors become a
`gr.Warning` toast plus a message in the status box; nothing else changes, and the next action works.
"""

from __future__ import annotations

import logging
import os
import traceback

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.data import audio_input as audio_io

log = logging.getLogger("flowsynth.app")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CSS = """
#latent-map {min-height: 540px}
.fs-status textarea {font-size: 12px}
"""


def _load_js() -> str:
    with open(os.path.join(STATIC, "map.js"), encoding="utf-8") as f:
        return f.read()


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
                map_plot = gr.Plot(show_label=False, elem_id="latent-map")
                info = gr.Markdown(elem_id="current-info")
                map_click = gr.Textbox(visible="hidden", elem_id="map-click", label="map click")
                overlay = gr.Textbox(visible="hidden", elem_id="map-overlay", label="map overlay")
            with gr.Column(scale=2):
                audio = gr.Audio(label="Current sound", type="numpy", interactive=False, autoplay=True,
                                 elem_id="current-audio")
                mel_plot = gr.Plot(show_label=False, elem_id="current-mel")
                params_plot = gr.Plot(show_label=False, elem_id="current-params")

        with gr.Tabs():
            with gr.Tab("Macro-controls", id="tab-macro"):
                gr.Markdown("Semantic dimensions (each a latent dim trained to follow a tag pair):")
                with gr.Row():
                    sem = [gr.Slider(-A.SLIDER_RANGE, A.SLIDER_RANGE, value=0, step=0.01,
                                     label=sem_labels[i] if i < len(sem_labels) else f"s{i}",
                                     visible=i < len(sem_labels), elem_id=f"sem-{i}", min_width=160)
                           for i in range(A.MAX_SEMANTIC)]
                with gr.Accordion("Every latent dimension", open=False), gr.Row():
                        lat = [gr.Slider(-A.SLIDER_RANGE, A.SLIDER_RANGE, value=0, step=0.01,
                                         label=lat_labels[i] if i < len(lat_labels) else f"z{i}",
                                         visible=i < len(lat_labels), elem_id=f"lat-{i}", min_width=160)
                               for i in range(A.MAX_DIMS)]
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
            with gr.Tab("Audio in", id="tab-audio"):
                gr.Markdown(audio_io.LIMITS_TEXT + " The sound is pitch-shifted to the synth's note 60, "
                            "trimmed/padded to 4 s, encoded, placed on the map and rendered.")
                with gr.Row():
                    audio_input = gr.Audio(sources=["upload", "microphone"], type="filepath", format=None,
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
            with gr.Tab("Presets", id="tab-presets"), gr.Row():
                    with gr.Column():
                        preset_name = gr.Textbox(label="Preset name", placeholder="(the current label)")
                        export_btn = gr.Button("Export current sound", elem_id="export-btn")
                        export_files = gr.File(label="amsynth .bank and JSON", file_count="multiple",
                                               interactive=False, elem_id="export-files")
                    with gr.Column():
                        preset_file = gr.File(label="Upload a .bank or JSON preset (max 2 MB)",
                                              file_types=[".bank", ".json", ".txt"], type="filepath",
                                              elem_id="preset-upload")
                        preset_dd = gr.Dropdown([], label="Preset", elem_id="preset-choice", allow_custom_value=True)
                        place_btn = gr.Button("Place on the map", elem_id="place-btn")
        # API-only inputs (hidden): the same actions without a browser
        with gr.Row(visible=False):
            api_index = gr.Number(0, precision=0)
            api_x, api_y = gr.Number(0.0), gr.Number(0.0)
            api_dim, api_value = gr.Number(0, precision=0), gr.Number(0.0)
            api_btns = [gr.Button(f"api{i}") for i in range(4)]
            api_summary = gr.JSON()

        main = [state, audio, mel_plot, params_plot, overlay, info, status, *lat, *sem]
        n_main = len(main)

        def pack(st, view, msg=None):
            lat_vals = view["latent"] + [0.0] * (A.MAX_DIMS - len(view["latent"]))
            sem_vals = view["semantic"] + [0.0] * (A.MAX_SEMANTIC - len(view["semantic"]))
            return [st, view["audio"], plots.to_plot(view["mel"]), plots.to_plot(view["params"]),
                    view["overlay"], view["info"], msg if msg is not None else f"{st['label']}",
                    *lat_vals, *sem_vals]

        def guard(n_out, status_at):
            """Wrap a handler: user errors -> warning toast + status message, outputs unchanged."""
            def deco(fn):
                def wrapped(*args, **kw):
                    try:
                        return fn(*args, **kw)
                    except A.UserError as exc:
                        msg = str(exc)
                    except Exception as exc:  # noqa: BLE001 - never crash the session
                        log.error("action failed: %s", traceback.format_exc())
                        msg = f"internal error: {type(exc).__name__}: {exc}"
                    gr.Warning(msg)
                    out = [gr.skip()] * n_out
                    out[status_at] = f"Error: {msg}"
                    return out if n_out > 1 else out[0]
                wrapped.__name__ = fn.__name__
                return wrapped
            return deco

        def ensure(st):
            return st if st is not None else A.new_state(engine)

        def view_of(fn):
            """Handler for actions (engine, state, *inputs) -> state: render and pack."""
            @guard(n_main, 6)
            def handler(st, *inputs):
                st = fn(engine, ensure(st), *inputs)
                return pack(st, A.render_view(engine, st))
            handler.__name__ = fn.__name__
            return handler

        # -- load --------------------------------------------------------------------------
        @guard(n_main + 1, 6)
        def on_load(st):
            st = ensure(st)
            fig = engine.map_figure(st["model"], st["colour"], A.overlay(engine, st))
            out = pack(st, A.render_view(engine, st), A.status_line(engine, st))
            return [*out, plots.to_plot(fig)]

        demo.load(on_load, [state], [*main, map_plot], api_name="init")

        # -- map ---------------------------------------------------------------------------
        map_click.change(view_of(A.map_click), [state, map_click], main, api_name="map_click",
                         show_progress="hidden")
        api_btns[0].click(view_of(A.select_point), [state, api_index], main, api_name="select_point")
        api_btns[1].click(view_of(A.decode_xy), [state, api_x, api_y], main, api_name="decode_xy")
        overlay.change(None, [overlay], None, js="(v) => { window.fsApplyOverlay && window.fsApplyOverlay(v); }",
                       api_name=False)

        @guard(2, 1)
        def on_colour(st, colour):
            st = dict(ensure(st), colour=colour)
            return st, plots.to_plot(engine.map_figure(st["model"], colour, A.overlay(engine, st)))

        colour_dd.change(on_colour, [state, colour_dd], [state, map_plot], api_name="colour_map")

        # -- sliders -----------------------------------------------------------------------
        @guard(n_main, 6)
        def on_latent(st, *values):
            st = A.set_latent(engine, ensure(st), list(values))
            return pack(st, A.render_view(engine, st))

        gr.on([s.release for s in lat], on_latent, [state, *lat], main, api_name="set_latent",
              show_progress="hidden")

        @guard(n_main, 6)
        def on_semantic(st, *values):
            st = A.set_semantic(engine, ensure(st), list(values))
            return pack(st, A.render_view(engine, st))

        gr.on([s.release for s in sem], on_semantic, [state, *sem], main, api_name="set_semantic",
              show_progress="hidden")
        api_btns[2].click(view_of(A.set_dim), [state, api_dim, api_value], main, api_name="set_dim")

        # -- neighbourhood -----------------------------------------------------------------
        @guard(5, 4)
        def on_neigh(st, sg, n, sd):
            st, out = A.neighbourhood(engine, ensure(st), sg, n, None if sd is None else int(sd))
            return st, plots.to_plot(out["strip"]), gr.update(choices=out["choices"], value=None), \
                out["overlay"], out["status"]

        neigh_btn.click(on_neigh, [state, sigma, count, seed], [state, neigh_strip, neigh_dd, overlay, status],
                        api_name="neighbourhood")

        @guard(3, 2)
        def on_play_neigh(st, k):
            if not k and k != 0:
                return gr.skip(), gr.skip(), gr.skip()
            out = A.play_item(engine, ensure(st)["neighbours"], k, "neighbour")
            return out["audio"], plots.to_plot(out["mel"]), f"neighbour {k}"

        neigh_dd.change(on_play_neigh, [state, neigh_dd], [neigh_audio, neigh_mel, status],
                        api_name="play_neighbour")
        neigh_go.click(view_of(A.neighbour_to_current), [state, neigh_dd], main, api_name="neighbour_to_current")

        # -- interpolation -----------------------------------------------------------------
        @guard(4, 3)
        def on_end(st, which):
            st, text = A.set_end(engine, ensure(st), which)
            return st, text, plots.overlay_json(A.overlay(engine, st)), f"{which} = {st['label']}"

        set_a.click(lambda st: on_end(st, "A"), [state], [state, ends_md, overlay, status], api_name="set_a")
        set_b.click(lambda st: on_end(st, "B"), [state], [state, ends_md, overlay, status], api_name="set_b")

        @guard(6, 5)
        def on_interp(st, n):
            st, out = A.interpolate(engine, ensure(st), n)
            return (st, plots.to_plot(out["strip"]), plots.to_plot(out["trajectories"]),
                    gr.update(choices=out["choices"], value=None), out["overlay"], out["status"])

        interp_btn.click(on_interp, [state, steps], [state, interp_strip, traj_plot, step_dd, overlay, status],
                         api_name="interpolate")

        @guard(3, 2)
        def on_play_step(st, k):
            if not k and k != 0:
                return gr.skip(), gr.skip(), gr.skip()
            out = A.play_item(engine, ensure(st)["steps"], k, "step")
            return out["audio"], plots.to_plot(out["mel"]), f"step {k}"

        step_dd.change(on_play_step, [state, step_dd], [step_audio, step_mel, status], api_name="play_step")
        step_go.click(view_of(A.step_to_current), [state, step_dd], main, api_name="step_to_current")

        # -- audio in ----------------------------------------------------------------------
        audio_outs = [*main, input_audio, compare_plot, sc_md]

        @guard(len(audio_outs), 6)
        def on_audio(st, path, shift, at_detected):
            st, view = A.audio_in(engine, ensure(st), path, shift, at_detected)
            return [*pack(st, view, view["sc_text"]), view["input_audio"], plots.to_plot(view["compare"]),
                    view["sc_text"]]

        match_btn.click(on_audio, [state, audio_input, shift_cb, detected_cb], audio_outs, api_name="audio_in")
        audio_input.upload(on_audio, [state, audio_input, shift_cb, detected_cb], audio_outs, api_name=False)
        audio_input.stop_recording(on_audio, [state, audio_input, shift_cb, detected_cb], audio_outs,
                                   api_name=False)

        @guard(len(audio_outs), 6)
        def on_refine(st, budget, progress=gr.Progress()):  # noqa: B008 - Gradio's progress idiom
            st, view = A.refine_current(engine, ensure(st), budget, progress)
            return [*pack(st, view, view["sc_text"]), view["input_audio"], plots.to_plot(view["compare"]),
                    view["sc_text"]]

        refine_btn.click(on_refine, [state, refine_budget], audio_outs, api_name="refine")

        # -- presets -----------------------------------------------------------------------
        @guard(2, 1)
        def on_export(st, name):
            bank, js = A.export_preset(engine, ensure(st), name)
            return [bank, js], f"exported {os.path.basename(bank)} and {os.path.basename(js)}"

        export_btn.click(on_export, [state, preset_name], [export_files, status], api_name="export_preset")

        @guard(3, 2)
        def on_preset_file(st, path):
            if path is None:
                return gr.skip(), gr.skip(), gr.skip()
            st, choices, msg = A.load_presets(engine, ensure(st), path)
            return st, gr.update(choices=choices, value=choices[0]), msg

        preset_file.upload(on_preset_file, [state, preset_file], [state, preset_dd, status], api_name="load_presets")
        place_btn.click(view_of(A.place_preset), [state, preset_dd], main, api_name="place_preset")

        # -- model choice ------------------------------------------------------------------
        @guard(n_main + 2, 6)
        def on_model(st, name):
            st = A.choose_model(engine, ensure(st), name)
            e = engine.entry(st["model"])
            lat_l, sem_l = A.slider_labels(engine, e.name)
            view = A.render_view(engine, st)
            out = pack(st, view, A.status_line(engine, st))
            n_lat = len(view["latent"])
            out[7:7 + A.MAX_DIMS] = [gr.update(value=v, visible=i < n_lat, label=lat_l[i] if i < n_lat else f"z{i}")
                                     for i, v in enumerate(out[7:7 + A.MAX_DIMS])]
            base = 7 + A.MAX_DIMS
            out[base:] = [gr.update(value=v, visible=i < len(sem_l), label=sem_l[i] if i < len(sem_l) else f"s{i}")
                          for i, v in enumerate(out[base:])]
            fig = engine.map_figure(e.name, "category", A.overlay(engine, st))
            return [*out, plots.to_plot(fig), gr.update(choices=plots.colour_options(e.lmap), value="category")]

        model_dd.change(on_model, [state, model_dd], [*main, map_plot, colour_dd], api_name="choose_model")

        # -- read-only summary ---------------------------------------------------------------
        @guard(1, 0)
        def on_summary(st):
            return A.summary(engine, ensure(st))

        api_btns[3].click(on_summary, [state], [api_summary], api_name="current")

    return demo, {"js": _load_js(), "css": CSS}
