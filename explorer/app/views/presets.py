"""Presets tab: export the current sound as an amsynth bank and JSON; load a bank or JSON and place it."""

from __future__ import annotations

import os

import gradio as gr

from explorer.app import actions as A
from explorer.app.views.common import Ctx, guard


def tab(ctx: Ctx) -> None:
    with gr.Tab("Presets", id="tab-presets"), gr.Row():
        with gr.Column():
            preset_name = gr.Textbox(label="Preset name", placeholder="(the current label)")
            export_btn = gr.Button("Export current sound", elem_id="export-btn")
            export_files = gr.File(label="amsynth .bank and JSON", file_count="multiple", interactive=False,
                                   elem_id="export-files")
        with gr.Column():
            preset_file = gr.File(label="Upload a .bank or JSON preset (max 2 MB)",
                                  file_types=[".bank", ".json", ".txt"], type="filepath", elem_id="preset-upload")
            preset_dd = gr.Dropdown([], label="Preset", elem_id="preset-choice", allow_custom_value=True)
            place_btn = gr.Button("Place on the map", elem_id="place-btn")

    @guard(2, 1)
    def on_export(st, name):
        bank, js = A.export_preset(ctx.engine, ctx.ensure(st), name)
        return [bank, js], f"exported {os.path.basename(bank)} and {os.path.basename(js)}"

    export_btn.click(on_export, [ctx.state, preset_name], [export_files, ctx.status], api_name="export_preset")

    @guard(3, 2)
    def on_preset_file(st, file):
        if file is None:
            return gr.skip(), gr.skip(), gr.skip()
        st, choices, msg = A.load_presets(ctx.engine, ctx.ensure(st), file)
        return st, gr.update(choices=choices, value=choices[0]), msg

    preset_file.upload(on_preset_file, [ctx.state, preset_file], [ctx.state, preset_dd, ctx.status],
                       api_name="load_presets")
    place_btn.click(ctx.view_of(A.place_preset), [ctx.state, preset_dd], ctx.main, api_name="place_preset")
