"""Keep what you find: back / forward / favourite buttons under the map, and the "Keep" tab (the history,
the favourites, their export as one amsynth bank and JSON)."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

from explorer.app import actions as A
from explorer.app.views.common import STATUS_AT, Ctx, guard, named


@dataclass
class Bar:
    back: Any
    forward: Any
    fav: Any


def bar() -> Bar:
    """Back, forward and keep buttons (call under the map)."""
    with gr.Row():
        back = gr.Button("< Back", elem_id="hist-back", size="sm", min_width=80)
        forward = gr.Button("Forward >", elem_id="hist-forward", size="sm", min_width=80)
        fav = gr.Button("+ Favourite", elem_id="fav-add", size="sm", min_width=80)
    return Bar(back, forward, fav)


def tab(ctx: Ctx, b: Bar) -> None:
    engine = ctx.engine
    with gr.Tab("Keep", id="tab-keep") as keep_tab, gr.Row():
        with gr.Column():
            hist_dd = gr.Dropdown([], label="History (newest first; > = where you are)", elem_id="hist-choice",
                                  allow_custom_value=True)
            hist_go = gr.Button("Go to this sound", elem_id="hist-go")
        with gr.Column():
            fav_name = gr.Textbox(label="Favourite's name", placeholder="(the current label)", max_lines=1)
            fav_dd = gr.Dropdown([], label="Favourites", elem_id="fav-choice", allow_custom_value=True)
            with gr.Row():
                fav_go = gr.Button("Go to it", elem_id="fav-go")
                fav_rm = gr.Button("Remove", elem_id="fav-remove")
            fav_export = gr.Button("Export all favourites (.bank + JSON)", elem_id="fav-export")
            fav_files = gr.File(label="favourites: amsynth .bank and JSON", file_count="multiple",
                                interactive=False, elem_id="fav-files")

    def lists(st):
        return (gr.update(choices=A.history_choices(st), value=None),
                gr.update(choices=A.favourite_choices(st), value=None))

    keep_tab.select(guard(2, 0)(lambda st: lists(ctx.ensure(st))), [ctx.state], [hist_dd, fav_dd],
                    api_name=False)

    def moved(fn):
        """Main outputs plus both lists, for an action that moves the current sound."""
        @guard(len(ctx.main) + 2, STATUS_AT)
        def handler(st, *inputs):
            st = fn(engine, ctx.ensure(st), *inputs)
            out = ctx.pack(st, A.render_view(engine, st))
            return [*out, *lists(out[0])]
        handler.__name__ = fn.__name__
        return named(list(inspect.signature(fn).parameters)[2:])(handler)  # API names: the action's own

    outs = [*ctx.main, hist_dd, fav_dd]
    b.back.click(moved(lambda e, st: A.go_history(e, st, -1)), [ctx.state], outs, api_name="back")
    b.forward.click(moved(lambda e, st: A.go_history(e, st, 1)), [ctx.state], outs, api_name="forward")
    hist_go.click(moved(A.jump_history), [ctx.state, hist_dd], outs, api_name="history_go")
    fav_go.click(moved(A.goto_favourite), [ctx.state, fav_dd], outs, api_name="favourite_go")

    @guard(3, 2)
    def on_add(st, name):
        st, msg = A.add_favourite(engine, ctx.ensure(st), name)
        return st, gr.update(choices=A.favourite_choices(st), value=None), msg

    b.fav.click(on_add, [ctx.state, fav_name], [ctx.state, fav_dd, ctx.status], api_name="favourite_add")

    @guard(3, 2)
    def on_remove(st, choice):
        st, msg = A.remove_favourite(ctx.ensure(st), choice)
        return st, gr.update(choices=A.favourite_choices(st), value=None), msg

    fav_rm.click(on_remove, [ctx.state, fav_dd], [ctx.state, fav_dd, ctx.status], api_name="favourite_remove")

    @guard(2, 1)
    def on_export(st, name):
        st = ctx.ensure(st)
        bank, js = A.export_favourites(engine, st, name)
        return [bank, js], (f"exported {len(st.get('favourites') or [])} favourite(s): {os.path.basename(bank)} "
                            f"and {os.path.basename(js)}")

    fav_export.click(on_export, [ctx.state, fav_name], [fav_files, ctx.status], api_name="favourites_export")
