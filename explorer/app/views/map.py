"""The map and the main panel's own events: page load, map clicks, colouring, model choice, summary."""

from __future__ import annotations

import gradio as gr

from explorer.app import actions as A
from explorer.app import plots
from explorer.app.views.common import STATUS_AT, Ctx, guard


def wire(ctx: Ctx, demo: gr.Blocks, model_dd, colour_dd, map_click) -> None:
    """Events of the shared panel; call once the tabs have made every main output."""
    engine, main = ctx.engine, ctx.main
    n_main = len(main)

    @guard(n_main + 1, STATUS_AT)
    def on_load(st):
        st = ctx.ensure(st)
        fig = engine.map_plot(st["model"], st["colour"], A.overlay(engine, st))
        return [*ctx.pack(st, A.render_view(engine, st), A.status_line(engine, st)), fig]

    demo.load(on_load, [ctx.state], [*main, ctx.map_plot], api_name="init")

    map_click.change(ctx.view_of(A.map_click), [ctx.state, map_click], main, api_name="map_click",
                     show_progress="hidden")
    ctx.overlay.change(None, [ctx.overlay], None, api_name=False,
                       js="(v) => { window.fsApplyOverlay && window.fsApplyOverlay(v); }")

    @guard(2, 1)
    def on_colour(st, colour):
        st = dict(ctx.ensure(st), colour=colour)
        return st, engine.map_plot(st["model"], colour, A.overlay(engine, st))

    colour_dd.change(on_colour, [ctx.state, colour_dd], [ctx.state, ctx.map_plot], api_name="colour_map")

    @guard(n_main + 2, STATUS_AT)
    def on_model(st, model):
        st = A.choose_model(engine, ctx.ensure(st), model)
        e = engine.entry(st["model"])
        lat_l, sem_l = A.slider_labels(engine, e.name)
        view = A.render_view(engine, st)
        out = ctx.pack(st, view, A.status_line(engine, st))
        n_lat, base = len(view["latent"]), STATUS_AT + 1
        out[base:base + A.MAX_DIMS] = [
            gr.update(value=v, visible=i < n_lat, label=lat_l[i] if i < n_lat else f"z{i}")
            for i, v in enumerate(out[base:base + A.MAX_DIMS])]
        base += A.MAX_DIMS
        out[base:] = [gr.update(value=v, visible=i < len(sem_l), label=sem_l[i] if i < len(sem_l) else f"s{i}")
                      for i, v in enumerate(out[base:])]
        fig = engine.map_plot(e.name, "category", A.overlay(engine, st))
        return [*out, fig, gr.update(choices=plots.colour_options(e.lmap), value="category")]

    model_dd.change(on_model, [ctx.state, model_dd], [*main, ctx.map_plot, colour_dd], api_name="choose_model")

    with gr.Row(visible=False):  # API-only inputs: the same actions without a browser
        api_index = gr.Number(0, precision=0)
        api_x, api_y = gr.Number(0.0), gr.Number(0.0)
        api_btns = [gr.Button(f"api{i}") for i in range(3)]
        api_summary = gr.JSON()
    api_btns[0].click(ctx.view_of(A.select_point), [ctx.state, api_index], main, api_name="select_point")
    api_btns[1].click(ctx.view_of(A.decode_xy), [ctx.state, api_x, api_y], main, api_name="decode_xy")
    @guard(1, 0)
    def current(st):
        return A.summary(engine, ctx.ensure(st))

    api_btns[2].click(current, [ctx.state], [api_summary], api_name="current")
