"""Visible updates per second while a slider is dragged, in real headless Chromium against `python app.py`.

    .venv/bin/python benchmarks/drag_rate.py [--checkpoint checkpoints/flow_dis_16/model.pt] [--seconds 5]
                                             [--render-drag] [--slider sem-0]

Holds the mouse down on a semantic slider and sweeps it back and forth for --seconds, then releases.
Counted in the page, from the mouse press to the release: drag previews applied (`fsApplyDrag`), log-mel
redraws (a new heatmap image in #current-mel), parameter-bar redraws, and moves of the dragged sound's
marker on the map ("star", live.js's element over the map). Also
the time from the release to the release's own render reaching the page. Without a checkpoint (and none
at checkpoints/flow_dis_16/model.pt) it uses a debug model with a tiny map of real renders.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "app"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

COUNTERS = """() => {
  const c = window.fsCount = {mel: [], params: [], star: []};
  const last = {mel: null, params: null};
  const sig = (sel) => { const el = document.querySelector(sel); return el ? (el.getAttribute('href') ||
      el.getAttribute('xlink:href') || el.getAttribute('d') || '') : null; };
  new MutationObserver(() => {
    const now = performance.now();
    const m = sig('#current-mel image'), p = sig('#current-params .bars path');
    if (m !== null && m !== last.mel) { last.mel = m; c.mel.push(now); }
    if (p !== null && p !== last.params) { last.params = p; c.params.push(now); }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['href', 'xlink:href', 'd']});
  let lastStar = null;
  new MutationObserver(() => {
    const m = document.getElementById('fs-drag-marker');
    const s = m && m.style.display === 'block' ? `${m.style.left},${m.style.top}` : null;
    if (s !== null && s !== lastStar) { lastStar = s; c.star.push(performance.now()); }
  }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['style']});
  c.drag = [];
  const drag = window.fsApplyDrag;
  window.fsApplyDrag = (text) => { const r = drag(text); c.drag.push(performance.now()); return r; };
}"""


def run(url: str, seconds: float, render_drag: bool, slider: str) -> dict:
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = b.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(90000)
        pg.goto(url)
        pg.wait_for_selector("html[data-fs-click='1'] #latent-map .nsewdrag")
        pg.wait_for_function("() => document.querySelector('#current-info').innerText.includes('origin')")
        if render_drag:
            pg.locator("#render-drag input").check()
        pg.evaluate(COUNTERS)
        if slider.startswith("lat-"):  # the latent sliders sit in a closed accordion
            pg.get_by_text("Every latent dimension").click()
        box = pg.locator(f"#{slider} input[type=range]")
        box.scroll_into_view_if_needed()
        bb = box.bounding_box()
        y = bb["y"] + bb["height"] / 2
        x_of = lambda f: bb["x"] + bb["width"] * f
        pg.mouse.move(x_of(0.5), y)
        t_down = pg.evaluate("() => performance.now()")
        pg.mouse.down()
        t0, moves = time.perf_counter(), 0
        while (t := time.perf_counter() - t0) < seconds:  # a sweep 0.5 -> 0.9 -> 0.1 -> 0.5 per 2.5 s
            phase = (t / 2.5) % 1.0
            f = 0.5 + 0.4 * (4 * phase if phase < 0.25 else 2 - 4 * phase if phase < 0.75 else 4 * phase - 4)
            pg.mouse.move(x_of(f), y)
            moves += 1
        t_up = pg.evaluate("() => performance.now()")
        pg.mouse.up()
        pg.wait_for_function("() => document.querySelector('#current-info').innerText.includes('(moved)')")
        t_done = pg.evaluate("() => performance.now()")
        c = pg.evaluate("() => window.fsCount")
        b.close()
    span = (t_up - t_down) / 1000

    def during(ts):
        return [t for t in ts if t_down <= t <= t_up]

    out = {"drag seconds": round(span, 2), "mouse moves": moves, "render while dragging": render_drag}
    for k in ("drag", "mel", "params", "star"):
        out[f"{k} updates/s"] = round(len(during(c[k])) / span, 2)
    out["release -> rendered view (ms)"] = round(t_done - t_up, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--render-drag", action="store_true", help="tick 'Render while dragging' first")
    ap.add_argument("--slider", default="sem-0", help="elem_id of the slider (sem-0, lat-3, ...)")
    ap.add_argument("--debug", action="store_true", help="a debug model with a tiny map (40 dots, SVG)")
    args = ap.parse_args(argv)
    from test_app_api import app_server, make_models

    tmp = Path(tempfile.mkdtemp(prefix="drag-rate-"))
    ckpt = args.checkpoint or ("checkpoints/flow_dis_16/model.pt"
                               if os.path.isfile("checkpoints/flow_dis_16/model.pt") else None)
    if args.debug:
        ckpt = None
    if ckpt is None:
        from explorer.synth.host import Synth

        with Synth(workers=2) as s:
            make_models(tmp, s, sizes=(16,))
        root, first = tmp, tmp / "debug_16" / "model.pt"
    else:
        first = Path(os.path.abspath(ckpt))
        root = first.parent.parent
    with app_server(root, tmp / "app.log", first=first) as url:
        res = run(url, args.seconds, args.render_drag, args.slider)
    res.update(checkpoint=str(first), cpus=os.cpu_count(), load=round(os.getloadavg()[0], 1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
