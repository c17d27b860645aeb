"""Live controls of the main panel: audition at any note (note, velocity, an on-screen keyboard, computer
keys via `static/keys.js`), and the sliders' live preview while dragging (wired on the macro tab's sliders).

Drag previews use `trigger_mode="always_last"` (while one is computed, only the newest move waits: no pile
up). Previews and the sliders' releases of one session take turns (`explorer.app.session_order`), so a
preview never lands after the release's full render: a preview that finds a release committed since its
state was read, or its values committed already, changes nothing. Other sessions' run meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from explorer.app import actions as A
from explorer.app.tabs.live import NOTE_RANGE, note_name
from explorer.app.views.common import Ctx, guard, named

KEYBOARD = (48, 72)  # C3..C5 on screen
SLIDER_SLOT = "sliders"  # the concurrency id of drag previews and releases (the app's --concurrency)
CSS = """
#fs-keyboard {position: relative; height: 74px; user-select: none; margin: 2px 0 4px 0}
#fs-keyboard .wk, #fs-keyboard .bk {position: absolute; top: 0; border: 1px solid #555; cursor: pointer;
  border-radius: 0 0 4px 4px; font-size: 9px; display: flex; align-items: flex-end; justify-content: center}
#fs-keyboard .wk {height: 72px; background: #fff; color: #666; z-index: 1}
#fs-keyboard .bk {height: 44px; background: #222; color: #ddd; z-index: 2}
#fs-keyboard .down {background: #f6b26b !important}
#fs-octave {font-size: 11px; color: #666}
"""


def keyboard_html(lo: int = KEYBOARD[0], hi: int = KEYBOARD[1]) -> str:
    """Piano keys `lo..hi` as absolutely placed divs carrying `data-note` (keys.js plays them)."""
    whites = [n for n in range(lo, hi + 1) if n % 12 not in (1, 3, 6, 8, 10)]
    w = 100.0 / len(whites)
    parts, k = [], 0
    for n in range(lo, hi + 1):
        if n % 12 in (1, 3, 6, 8, 10):
            parts.append(f'<div class="bk" data-note="{n}" title="{note_name(n)}" '
                         f'style="left:{k * w - w * 0.3:.3f}%;width:{w * 0.6:.3f}%"></div>')
        else:
            label = note_name(n) if n % 12 == 0 else ""
            parts.append(f'<div class="wk" data-note="{n}" title="{note_name(n)}" '
                         f'style="left:{k * w:.3f}%;width:{w:.3f}%">{label}</div>')
            k += 1
    return f'<div id="fs-keyboard">{"".join(parts)}</div>'


@dataclass
class Panel:
    note: Any
    velocity: Any
    key_box: Any
    render_drag: Any
    drag_view: Any


def panel() -> Panel:
    """The play controls under the current sound's player (call inside the panel's column)."""
    with gr.Row():
        note = gr.Slider(NOTE_RANGE[0], NOTE_RANGE[1], value=60, step=1, label="Play at note (MIDI; models: 60)",
                         elem_id="note", min_width=160)
        velocity = gr.Slider(1, 127, value=100, step=1, label="Velocity", elem_id="velocity", min_width=120)
    gr.HTML(keyboard_html(), js_on_load=None, elem_id="fs-keyboard-box")
    gr.HTML('<span id="fs-octave">computer keys: C4</span> (a w s e d f t g y h u j k; z / x: octave)',
            js_on_load=None)
    render_drag = gr.Checkbox(False, label="Render while dragging (real synth and audio during a slider drag; "
                              "slower)", elem_id="render-drag")
    key_box = gr.Textbox(visible="hidden", elem_id="audition-key", label="key")
    drag_view = gr.Textbox(visible="hidden", elem_id="drag-view", label="drag preview")  # applied by live.js
    return Panel(note, velocity, key_box, render_drag, drag_view)


def wire(ctx: Ctx, p: Panel) -> None:
    """Audition events and the sliders' drag previews (after the macro tab has made the sliders)."""
    engine = ctx.engine
    outs = [ctx.state, ctx.audio, ctx.info, ctx.status, p.note]

    @guard(len(outs), 3)
    def on_note(st, note, velocity):
        st, out = A.audition(engine, ctx.ensure(st), note, velocity)
        return st, out["audio"], out["info"], out["status"], gr.skip()

    @guard(len(outs), 3)
    def on_key(st, payload, velocity):
        import json

        try:
            note = json.loads(payload)["note"] if payload else None
        except (ValueError, TypeError, KeyError):
            note = payload
        if note is None:
            return [gr.skip()] * len(outs)
        st, out = A.audition(engine, ctx.ensure(st), note, velocity)
        return st, out["audio"], out["info"], out["status"], st["note"]

    p.note.release(on_note, [ctx.state, p.note, p.velocity], outs, api_name="audition", show_progress="hidden")
    p.velocity.release(on_note, [ctx.state, p.note, p.velocity], outs, api_name=False, show_progress="hidden")
    p.key_box.change(on_key, [ctx.state, p.key_box, p.velocity], outs, api_name="play_key",
                     trigger_mode="always_last", show_progress="hidden")

    # few outputs: the browser's cost per update grows with them (the log-mel's title names the sound)
    drag_outs = [p.drag_view, ctx.audio, ctx.status]

    def drag_handler(kind: str):
        n, prefix = (A.MAX_DIMS, "z") if kind == "latent" else (A.MAX_SEMANTIC, "s")

        @guard(len(drag_outs), 2)
        @named(["render", *(f"{prefix}{i}" for i in range(n))])
        def on_drag(st, render, *values):
            st = ctx.ensure(st)
            with ctx.order.turn(st) as current:
                view = A.preview(engine, st, kind, list(values), bool(render)) if current else None
            if view is None:  # a release has committed since this state was read, or these values already
                return [gr.skip()] * len(drag_outs)
            return view["drag"], view["audio"] if render else gr.skip(), gr.skip()
        on_drag.__name__ = f"on_drag_{kind}"
        return on_drag

    for kind, sliders in (("latent", ctx.lat), ("semantic", ctx.sem)):
        gr.on([s.input for s in sliders], drag_handler(kind), [ctx.state, p.render_drag, *sliders], drag_outs,
              api_name=f"drag_{kind}", trigger_mode="always_last", show_progress="hidden",
              concurrency_id=SLIDER_SLOT)
    p.drag_view.change(None, [p.drag_view], None, api_name=False,
                       js="(v) => { window.fsApplyDrag && window.fsApplyDrag(v); }")
    gr.on([s.release for s in (*ctx.lat, *ctx.sem)], None, None, None, api_name=False,
          js="() => { window.fsDropDrag && window.fsDropDrag(); }")
