"""Find: a search box over preset names, banks and categories above the map; a result selects the sound
and centres the map on it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from explorer.app import actions as A
from explorer.app.views.common import STATUS_AT, Ctx, guard


@dataclass
class Panel:
    query: Any
    results: Any


def panel() -> Panel:
    with gr.Row():
        query = gr.Textbox(label="Find a preset (name, bank or category)", placeholder="e.g. pianola, bass, "
                           "BriansBank01", elem_id="find-query", scale=2, max_lines=1)
        results = gr.Dropdown([], label="Results (choose one to select it)", elem_id="find-results", scale=3,
                              allow_custom_value=True)
    return Panel(query, results)


def centred(overlay: str, xy) -> str:
    """The overlay JSON plus a request to centre the map on `xy` (map.js keeps the zoom)."""
    ov = json.loads(overlay)
    ov["centre"] = [float(xy[0]), float(xy[1])]
    ov["t"] = time.time()  # the same result twice still re-centres
    return json.dumps(ov, separators=(",", ":"))


def wire(ctx: Ctx, p: Panel) -> None:
    engine = ctx.engine

    @guard(2, 1)
    def on_search(st, query):
        choices, msg = A.search(engine, ctx.ensure(st), query)
        return gr.update(choices=choices, value=None), msg

    ins, outs = [ctx.state, p.query], [p.results, ctx.status]
    p.query.submit(on_search, ins, outs, api_name="search", trigger_mode="always_last", show_progress="hidden")
    p.query.input(on_search, ins, outs, api_name=False, trigger_mode="always_last", show_progress="hidden")

    @guard(len(ctx.main), STATUS_AT)
    def on_pick(st, choice):
        if not choice:
            return [gr.skip()] * len(ctx.main)
        st = A.pick_result(engine, ctx.ensure(st), choice)
        out = ctx.pack(st, A.render_view(engine, st))
        out[4] = centred(out[4], st["xy"])  # the overlay: the star's move plus the centring
        return out

    p.results.input(on_pick, [ctx.state, p.results], ctx.main, api_name="find_pick", show_progress="hidden")
